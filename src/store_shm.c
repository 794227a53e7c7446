/* store_shm.c - owns the embedded shared-memory session store: the segment
 * layout, the hash index (keyed with SipHash-2-4, siphash.h), the free and LRU lists, expiry and
 * eviction, the consistency checker, and the nsso_store ops table over it.
 *
 * Why a store of our own rather than httpd's socache:shmcb (which the module
 * can use, NomisSSOSessionStore): bench/store_compare.c drives both through
 * this same interface (docs/performance.md has the table). 4 KB sessions,
 * CPU ns per operation, 1k / 10k / 100k live sessions, one process:
 *   get      here 330 / 1,100 / 1,950; shmcb as store_socache.c uses it
 *            (sealed) 46,000 / 46,000 / 42,000; the bare provider 650 /
 *            1,850 / 14,900 (it scans a subcache's index: cost grows with n)
 *   sign-in  here 740 / 1,370 / 1,800; bare shmcb 1,900 / 5,100 / 80,000
 *   memory   here 8.3 KB per live session (NomisSSOSessionCacheEntrySize
 *            8192; it scales with that); sealed shmcb 17 / 20 / 33 KB
 * Through httpd (bench/run --only store-httpd, callgrind) a cookie request
 * costs 59k instructions with this store and 305k with socache:shmcb.
 * Beyond speed, shmcb has no atomic add or replace (a read then a write
 * under a global mutex), evicts each subcache in arrival order whatever
 * the entry is, so spent sign-in markers push out signed-in staff (in the
 * mixed run 28-52 % of gets found their session, here 93-99 %), and when
 * a process dies holding the mutex nothing checks what it was writing.
 *
 * Layout of the segment (every region 8-byte aligned, base included):
 *
 *   pthread_mutex_t lock            in the first NSSO_SHM_LOCK_AREA (64) bytes
 *   shm_hdr                         184 bytes, once
 *   apr_uint32_t bucket[nbuckets]   nbuckets = 2 * entries rounded up to 2^k
 *   apr_int64_t expiry[entries]     per slot; APR_INT64_MAX while free
 *   slot[entries]                   shm_slot (112 bytes) + slot_size value
 *                                   bytes, padded to a multiple of 8
 *
 * Overhead per slot: 112 bytes of slot header (8 of them its generation),
 * 8 bytes of expiry, 8 to 16 bytes of bucket array (2 to 4 buckets of 4
 * bytes) and at most 7 bytes of padding; plus 248 bytes once. At 4 KB values that is about 3% on top of
 * entries * slot_size. Expiries sit apart from the slots so that the expiry
 * sweep reads one dense array instead of one cache line per slot.
 *
 * Nothing inside the segment is a pointer: links are 32-bit slot indices
 * (NIL = none), so the segment works at any address in any process and
 * survives graceful restarts. Slots at or above hdr->fresh were never used
 * and are implicitly free, so formatting touches only the header and the
 * bucket array (pages of unused slots are never faulted in).
 *
 * Generations: every write of a slot (set, add, replace) gives it the next
 * value of a 64-bit counter in the header; freeing it (delete, expiry,
 * eviction) sets 0, which no write gives. A reformat keeps the counter and
 * forgets every slot at or above fresh, so within a segment's life a
 * (slot, generation) pair names one write of one value and never another:
 * get_known answers "still the very value you read?" from the slot alone,
 * without hashing the key or copying the value.
 *
 * Two LRU lists: sessions (keys "s:...", nsso_store_key_precious) on one,
 * everything else (spent states, cached bearer tokens, counters, refresh
 * markers) on the other. A full store evicts the disposable list's tail
 * while that list has any entry, and only then the least recently used
 * session, so no flood of markers or cache entries (which anyone can cause
 * without signing in) ever pushes out a signed-in member of staff. Which
 * list a slot is on follows from its key, so a slot holds no extra state.
 *
 * Cost: get, set and del are O(1) on average (load factor <= 1/2, keyed
 * hash). A set into a full store takes an LRU tail in O(1) unless
 * min_expiry says some entry may have expired; then it first sweeps the
 * expiry array from a rotating cursor, reclaiming up to SWEEP_BATCH expired
 * entries, so one set never unlinks a whole store's worth under the lock
 * (the scan itself is sequential, 8 bytes per slot). Only a sweep that
 * goes all the way round finding fewer makes min_expiry exact again.
 *
 * Every index read back from the segment is bounds-checked and every list
 * walk is bounded by the slot count. An operation that finds the index
 * broken reformats it (all sessions dropped, counters kept) and returns
 * APR_EGENERAL; it never crashes or spins. All access is under the store's
 * lock (a robust process-shared mutex before the header), which is never held
 * on return. A process that dies holding
 * the lock leaves the index checked, and reformatted only if broken. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <errno.h>
#include <pthread.h>

#include "store_shm.h"
#include "siphash.h"

#define SHM_MAGIC   0x4f53534eu        /* "NSSO" read as little-endian */
#define SHM_VERSION 4u             /* 4: generations; 3: two LRU lists; 2: the lock first */
#define NIL         0xffffffffu
#define SHM_CORRUPT APR_EGENERAL       /* internal: the index is broken */
#define SWEEP_BATCH 32                 /* expired entries reclaimed per sweep */

enum { SLOT_FREE = 0x4646, SLOT_LIVE = 0x4c4c };

/* The two LRU lists, indexed by what a key names. */
enum { LRU_DISPOSABLE = 0, LRU_SESSION = 1, LRU_LISTS = 2 };

/* Counter semantics: gets = get calls with a valid key, hits = those that
 * returned a value; sets = set calls that were accepted (not too large);
 * deletes = del calls that removed a live entry; expired = entries found
 * past their expiry and reclaimed; evicted = live sessions dropped to make
 * room, evicted_disposable = live entries of other kinds dropped to make
 * room. */
typedef struct {
    apr_uint32_t magic;
    apr_uint32_t version;
    apr_uint64_t entries;
    apr_uint64_t slot_size;
    apr_uint64_t nbuckets;
    apr_uint64_t total;             /* nsso_shm_store_size() */
    unsigned char sipkey[16];       /* random per segment */
    apr_uint32_t free_head;         /* reused slots, through shm_slot.next */
    apr_uint32_t fresh;             /* first never-used slot */
    apr_uint32_t lru_head[LRU_LISTS];  /* most recently used */
    apr_uint32_t lru_tail[LRU_LISTS];  /* least recently used: next victim */
    apr_uint32_t live;
    apr_uint32_t sweep_at;          /* where the next expiry sweep starts */
    apr_uint64_t clock;             /* LRU clock: one tick per access */
    apr_int64_t  min_expiry;        /* <= expiry of every live entry */
    apr_uint64_t gets, hits, sets, deletes, expired, evicted, too_large;
    apr_uint64_t lock_recoveries;   /* owners that died holding the lock */
    apr_uint64_t evicted_disposable;
    apr_uint64_t generation;        /* the last one given; never reset */
} shm_hdr;

/* The store's lock, alone in the segment's first cache line: process-shared
 * and robust (a child that dies holding it hands it on), but without
 * priority inheritance. APR's pthread global mutex asks for
 * PTHREAD_PRIO_INHERIT, whose contended path is a kernel rt-mutex; with
 * every request of every thread taking this lock, that cost a third of a
 * cookie request's throughput. */
_Static_assert(sizeof(pthread_mutex_t) <= NSSO_SHM_LOCK_AREA, "lock area");

typedef struct {
    apr_uint64_t tick;              /* LRU clock at last access */
    apr_uint64_t hash;              /* SipHash of the key */
    apr_uint64_t gen;               /* the write it holds (0: free) */
    apr_uint32_t vlen;
    apr_uint32_t next;              /* hash chain (live) or free list (free) */
    apr_uint32_t lru_prev;
    apr_uint32_t lru_next;
    apr_uint16_t klen;
    apr_uint16_t state;
    apr_uint32_t pad;
    char key[NSSO_STORE_MAX_KEY];
    /* slot_size value bytes follow */
} shm_slot;

/* The sizes the overhead figures above are based on. */
_Static_assert(sizeof(shm_hdr) == 184, "shm_hdr layout");
_Static_assert(sizeof(shm_slot) == 112, "shm_slot layout");

typedef struct {
    apr_size_t entries, slot_size, nbuckets, stride;
    apr_size_t off_buckets, off_expiry, off_slots, total;
} shm_geom;

/* Process-private handle: geometry comes from the caller, never from the
 * (possibly corrupted) segment. */
typedef struct {
    nsso_store pub;
    shm_geom g;
    unsigned char *base;
    apr_uint64_t evicted_here;      /* sessions this process evicted (under the lock) */
} shm_store;

/* ---- geometry and addressing ----------------------------------------------- */

static apr_size_t align8(apr_size_t n)
{
    return (n + 7) & ~(apr_size_t)7;
}

/* 0 when the geometry is outside the limits or would overflow. */
static int geom_compute(apr_size_t entries, apr_size_t slot_size, shm_geom *g)
{
    if (entries == 0 || entries > NSSO_SHM_MAX_ENTRIES
        || slot_size == 0 || slot_size > NSSO_SHM_MAX_SLOT_SIZE)
        return 0;
    g->entries = entries;
    g->slot_size = slot_size;
    for (g->nbuckets = 1; g->nbuckets < 2 * entries; g->nbuckets <<= 1)
        ;
    g->stride = align8(sizeof(shm_slot) + slot_size);
    g->off_buckets = NSSO_SHM_LOCK_AREA + align8(sizeof(shm_hdr));
    g->off_expiry = g->off_buckets + align8(g->nbuckets * sizeof(apr_uint32_t));
    g->off_slots = g->off_expiry + entries * sizeof(apr_int64_t);
    if (g->stride > (APR_SIZE_MAX - g->off_slots) / entries)
        return 0;
    g->total = g->off_slots + entries * g->stride;
    return 1;
}

static shm_hdr *hdr(const shm_store *st)
{
    return (shm_hdr *)(void *)(st->base + NSSO_SHM_LOCK_AREA);
}

static pthread_mutex_t *store_mutex_of(const shm_store *st)
{
    return (pthread_mutex_t *)(void *)st->base;
}

static apr_uint32_t *bucket_of(const shm_store *st, apr_uint64_t hash)
{
    apr_uint32_t *b = (apr_uint32_t *)(void *)(st->base + st->g.off_buckets);
    return &b[hash & (st->g.nbuckets - 1)];
}

/* i must already be known to be < entries. */
static shm_slot *slot(const shm_store *st, apr_uint32_t i)
{
    return (shm_slot *)(void *)(st->base + st->g.off_slots + (apr_size_t)i * st->g.stride);
}

/* i must already be known to be < entries. */
static apr_int64_t *expiry_of(const shm_store *st, apr_uint32_t i)
{
    return (apr_int64_t *)(void *)(st->base + st->g.off_expiry) + i;
}

static unsigned char *slot_value(shm_slot *sl)
{
    return (unsigned char *)(sl + 1);
}

static int idx_ok(const shm_store *st, apr_uint32_t i)
{
    return i < st->g.entries;
}

static int link_ok(const shm_store *st, apr_uint32_t i)
{
    return i == NIL || i < st->g.entries;
}

/* The immutable part of the header: safe to read without the lock. */
static int hdr_geometry_ok(const shm_store *st)
{
    const shm_hdr *h = hdr(st);

    return h->magic == SHM_MAGIC && h->version == SHM_VERSION
        && h->entries == st->g.entries && h->slot_size == st->g.slot_size
        && h->nbuckets == st->g.nbuckets && h->total == st->g.total;
}

/* Checked under the lock at the start of every operation. */
static int hdr_sane(const shm_store *st)
{
    const shm_hdr *h = hdr(st);

    return hdr_geometry_ok(st) && h->fresh <= st->g.entries
        && link_ok(st, h->free_head)
        && link_ok(st, h->lru_head[LRU_DISPOSABLE]) && link_ok(st, h->lru_tail[LRU_DISPOSABLE])
        && link_ok(st, h->lru_head[LRU_SESSION]) && link_ok(st, h->lru_tail[LRU_SESSION])
        && h->live <= st->g.entries;
}

static apr_uint64_t key_hash(const shm_store *st, const char *key, apr_size_t klen)
{
    return nsso_siphash24(hdr(st)->sipkey, key, klen);
}

/* ---- formatting ---------------------------------------------------------- */

/* Drops every entry; keeps the hash key and the counters (the generation
 * too: slots at or above fresh keep their old contents, and get_known must
 * never take one of those for a live write). */
static void index_reset(shm_store *st)
{
    shm_hdr *h = hdr(st);

    h->magic = SHM_MAGIC;
    h->version = SHM_VERSION;
    h->entries = st->g.entries;
    h->slot_size = st->g.slot_size;
    h->nbuckets = st->g.nbuckets;
    h->total = st->g.total;
    h->free_head = NIL;
    h->fresh = 0;
    h->lru_head[LRU_DISPOSABLE] = h->lru_tail[LRU_DISPOSABLE] = NIL;
    h->lru_head[LRU_SESSION] = h->lru_tail[LRU_SESSION] = NIL;
    h->live = 0;
    h->sweep_at = 0;
    h->min_expiry = APR_INT64_MAX;
    memset(st->base + st->g.off_buckets, 0xff, st->g.nbuckets * sizeof(apr_uint32_t));
}

static apr_status_t lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);

    if (rc == 0) {
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        if (rc == 0)
            rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        if (rc == 0)
            rc = pthread_mutex_init(m, &a);
        pthread_mutexattr_destroy(&a);
    }
    return rc == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(rc);
}

static apr_status_t segment_format(shm_store *st)
{
    shm_hdr *h = hdr(st);
    apr_status_t rv;

    memset(h, 0, sizeof(*h));
    rv = apr_generate_random_bytes(h->sipkey, sizeof(h->sipkey));
    if (rv != APR_SUCCESS)
        return rv;
    if ((rv = lock_init(store_mutex_of(st))) != APR_SUCCESS)
        return rv;
    index_reset(st);
    return APR_SUCCESS;
}

/* ---- LRU lists (head = most recent) -------------------------------------- */

/* The list a live slot is on: its key says (klen >= 2 before looking at
 * key[1], which is not NUL-terminated in the slot). */
static int slot_list(const shm_slot *sl)
{
    return sl->klen >= 2 && nsso_store_key_precious(sl->key) ? LRU_SESSION
                                                            : LRU_DISPOSABLE;
}

static apr_status_t lru_unlink(shm_store *st, apr_uint32_t i)
{
    shm_hdr *h = hdr(st);
    shm_slot *sl = slot(st, i);
    int l = slot_list(sl);
    apr_uint32_t p = sl->lru_prev, n = sl->lru_next;

    if (p == NIL ? h->lru_head[l] != i : !idx_ok(st, p) || slot(st, p)->lru_next != i)
        return SHM_CORRUPT;
    if (n == NIL ? h->lru_tail[l] != i : !idx_ok(st, n) || slot(st, n)->lru_prev != i)
        return SHM_CORRUPT;
    if (p == NIL)
        h->lru_head[l] = n;
    else
        slot(st, p)->lru_next = n;
    if (n == NIL)
        h->lru_tail[l] = p;
    else
        slot(st, n)->lru_prev = p;
    sl->lru_prev = sl->lru_next = NIL;
    return APR_SUCCESS;
}

static apr_status_t lru_push_front(shm_store *st, apr_uint32_t i)
{
    shm_hdr *h = hdr(st);
    shm_slot *sl = slot(st, i);
    int l = slot_list(sl);
    apr_uint32_t n = h->lru_head[l];

    if (n == NIL ? h->lru_tail[l] != NIL : !idx_ok(st, n) || slot(st, n)->lru_prev != NIL)
        return SHM_CORRUPT;
    sl->lru_prev = NIL;
    sl->lru_next = n;
    if (n == NIL)
        h->lru_tail[l] = i;
    else
        slot(st, n)->lru_prev = i;
    h->lru_head[l] = i;
    sl->tick = ++h->clock;
    return APR_SUCCESS;
}

static apr_status_t lru_touch(shm_store *st, apr_uint32_t i)
{
    shm_hdr *h = hdr(st);
    shm_slot *sl = slot(st, i);
    apr_status_t rv;

    /* already the most recent of its list (one user's page and its assets,
     * one after another): only its tick moves */
    if (sl->lru_prev == NIL && h->lru_head[slot_list(sl)] == i) {
        sl->tick = ++h->clock;
        return APR_SUCCESS;
    }
    rv = lru_unlink(st, i);

    return rv != APR_SUCCESS ? rv : lru_push_front(st, i);
}

/* ---- hash chains ------------------------------------------------------------ */

static apr_status_t chain_find(const shm_store *st, const char *key, apr_size_t klen,
                               apr_uint64_t hash, apr_uint32_t *out)
{
    apr_uint32_t i = *bucket_of(st, hash);
    apr_size_t steps;

    for (steps = 0; i != NIL; steps++) {
        shm_slot *sl;

        if (steps >= st->g.entries || !idx_ok(st, i))
            return SHM_CORRUPT;
        sl = slot(st, i);
        if (sl->state != SLOT_LIVE || sl->klen > NSSO_STORE_MAX_KEY)
            return SHM_CORRUPT;
        if (sl->hash == hash && sl->klen == klen && memcmp(sl->key, key, klen) == 0) {
            *out = i;
            return APR_SUCCESS;
        }
        i = sl->next;
    }
    return APR_NOTFOUND;
}

static apr_status_t chain_unlink(shm_store *st, apr_uint32_t i)
{
    apr_uint32_t *link = bucket_of(st, slot(st, i)->hash);
    apr_size_t steps;

    for (steps = 0; *link != NIL; steps++) {
        if (steps >= st->g.entries || !idx_ok(st, *link))
            return SHM_CORRUPT;
        if (*link == i) {
            *link = slot(st, i)->next;
            slot(st, i)->next = NIL;
            return APR_SUCCESS;
        }
        link = &slot(st, *link)->next;
    }
    return SHM_CORRUPT;              /* a live slot missing from its chain */
}

/* ---- slot allocation ------------------------------------------------------ */

/* APR_NOTFOUND when every slot is in use. */
static apr_status_t free_pop(shm_store *st, apr_uint32_t *out)
{
    shm_hdr *h = hdr(st);
    apr_uint32_t i = h->free_head;

    if (i == NIL) {
        if (h->fresh >= st->g.entries)
            return APR_NOTFOUND;
        *out = h->fresh++;
        return APR_SUCCESS;
    }
    if (!idx_ok(st, i) || slot(st, i)->state != SLOT_FREE || !link_ok(st, slot(st, i)->next))
        return SHM_CORRUPT;
    h->free_head = slot(st, i)->next;
    *out = i;
    return APR_SUCCESS;
}

static void free_push(shm_store *st, apr_uint32_t i)
{
    shm_slot *sl = slot(st, i);

    sl->state = SLOT_FREE;
    sl->klen = 0;
    sl->vlen = 0;
    sl->gen = 0;
    sl->next = hdr(st)->free_head;
    hdr(st)->free_head = i;
    *expiry_of(st, i) = APR_INT64_MAX;
}

/* Unlinks live slot i from its chain and the LRU list and frees it. */
static apr_status_t entry_drop(shm_store *st, apr_uint32_t i)
{
    shm_hdr *h = hdr(st);
    apr_status_t rv;

    if (slot(st, i)->state != SLOT_LIVE)
        return SHM_CORRUPT;
    if ((rv = chain_unlink(st, i)) != APR_SUCCESS || (rv = lru_unlink(st, i)) != APR_SUCCESS)
        return rv;
    if (h->live == 0)
        return SHM_CORRUPT;
    h->live--;
    free_push(st, i);
    return APR_SUCCESS;
}

/* Reclaims expired entries, scanning the expiries of the used slots (free
 * ones read APR_INT64_MAX) round from sweep_at. Stops after SWEEP_BATCH
 * reclaims; a full round makes min_expiry exact. Runs only when no slot is
 * free and min_expiry says an entry may have expired. */
static apr_status_t sweep_expired(shm_store *st, apr_time_t now)
{
    shm_hdr *h = hdr(st);
    apr_int64_t min = APR_INT64_MAX;
    apr_uint32_t n = h->fresh, start = h->sweep_at < h->fresh ? h->sweep_at : 0;
    apr_uint32_t k, freed = 0;

    for (k = 0; k < n; k++) {
        apr_uint32_t i = start + k < n ? start + k : start + k - n;
        apr_int64_t e = *expiry_of(st, i);
        apr_status_t rv;

        if (e > now) {
            if (e < min)
                min = e;
            continue;
        }
        if ((rv = entry_drop(st, i)) != APR_SUCCESS)
            return rv;
        h->expired++;
        if (++freed == SWEEP_BATCH) {
            h->sweep_at = i + 1;
            return APR_SUCCESS;
        }
    }
    h->min_expiry = min;
    return APR_SUCCESS;
}

/* A slot for a new entry: free, else expired, else the least recently used
 * disposable entry, else (the store holds nothing but sessions) the least
 * recently used session. *evicted_live: a session was evicted. */
static apr_status_t slot_take(shm_store *st, apr_time_t now, apr_uint32_t *out,
                              int *evicted_live)
{
    shm_hdr *h = hdr(st);
    apr_uint32_t victim;
    int session;
    apr_status_t rv = free_pop(st, out);

    if (rv != APR_NOTFOUND)
        return rv;
    if (h->min_expiry <= now) {
        if ((rv = sweep_expired(st, now)) != APR_SUCCESS)
            return rv;
        if ((rv = free_pop(st, out)) != APR_NOTFOUND)
            return rv;
    }
    session = h->lru_tail[LRU_DISPOSABLE] == NIL;
    victim = h->lru_tail[session ? LRU_SESSION : LRU_DISPOSABLE];
    if (!idx_ok(st, victim))         /* no free slot and no live one either */
        return SHM_CORRUPT;
    if ((rv = entry_drop(st, victim)) != APR_SUCCESS)
        return rv;
    if (session) {
        h->evicted++;
        st->evicted_here++;
        *evicted_live = 1;
    }
    else
        h->evicted_disposable++;
    rv = free_pop(st, out);
    return rv == APR_NOTFOUND ? SHM_CORRUPT : rv;
}

/* ---- entries ------------------------------------------------------------------ */

/* Finds the live entry for key; an expired one is reclaimed and reported
 * as absent. */
static apr_status_t lookup(shm_store *st, const char *key, apr_size_t klen,
                           apr_uint64_t hash, apr_time_t now, apr_uint32_t *out)
{
    apr_status_t rv = chain_find(st, key, klen, hash, out);

    if (rv != APR_SUCCESS || *expiry_of(st, *out) > now)
        return rv;
    if ((rv = entry_drop(st, *out)) != APR_SUCCESS)
        return rv;
    hdr(st)->expired++;
    return APR_NOTFOUND;
}

static void value_write(shm_store *st, apr_uint32_t i, const void *val, apr_size_t len,
                        apr_time_t expiry)
{
    shm_slot *sl = slot(st, i);

    if (len > 0)
        memcpy(slot_value(sl), val, len);
    sl->vlen = (apr_uint32_t)len;
    sl->gen = ++hdr(st)->generation;
    *expiry_of(st, i) = expiry;
    if (expiry < hdr(st)->min_expiry)
        hdr(st)->min_expiry = expiry;
}

static apr_status_t entry_insert(shm_store *st, apr_uint32_t i, const char *key,
                                 apr_size_t klen, apr_uint64_t hash, const void *val,
                                 apr_size_t len, apr_time_t expiry)
{
    shm_slot *sl = slot(st, i);
    apr_uint32_t *bucket = bucket_of(st, hash);

    memcpy(sl->key, key, klen);
    sl->klen = (apr_uint16_t)klen;
    sl->hash = hash;
    sl->state = SLOT_LIVE;
    value_write(st, i, val, len, expiry);
    sl->next = *bucket;
    *bucket = i;
    hdr(st)->live++;
    return lru_push_front(st, i);
}

/* ---- locking ---------------------------------------------------------------- */

static apr_status_t locked_check(const shm_store *st, unsigned char *seen);

/* A process died holding the lock, perhaps halfway through a write: walk the
 * index and reformat it only if it does not add up. */
static void owner_died(shm_store *st)
{
    unsigned char *seen = calloc(st->g.entries, 1);

    pthread_mutex_consistent(store_mutex_of(st));
    hdr(st)->lock_recoveries++;
    if (seen == NULL || locked_check(st, seen) != APR_SUCCESS)
        index_reset(st);
    free(seen);
}

/* The lock is held for a lookup and a copy of one value (a microsecond or
 * two): a short spin while another core holds it is much cheaper than
 * sleeping in the kernel and being woken. EBUSY: still held, block. */
#define LOCK_SPINS 100

static int lock_spin(pthread_mutex_t *m)
{
    int i, rc = EBUSY;

    for (i = 0; i < LOCK_SPINS && rc == EBUSY; i++) {
        rc = pthread_mutex_trylock(m);
#if defined(__x86_64__) || defined(__i386__)
        if (rc == EBUSY)
            __builtin_ia32_pause();
#endif
    }
    return rc;
}

static apr_status_t store_lock(shm_store *st)
{
    int rc = lock_spin(store_mutex_of(st));

    if (rc == EBUSY)
        rc = pthread_mutex_lock(store_mutex_of(st));
    if (rc == EOWNERDEAD) {
        owner_died(st);
        rc = 0;
    }
    return rc == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(rc);
}

/* Releases the lock; returns rv unless only the unlock failed. */
static apr_status_t store_unlock(shm_store *st, apr_status_t rv)
{
    int rc = pthread_mutex_unlock(store_mutex_of(st));

    return rv != APR_SUCCESS ? rv : rc == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(rc);
}

/* Ends an operation: a broken index is reformatted before unlocking. */
static apr_status_t store_finish(shm_store *st, apr_status_t rv)
{
    if (rv == SHM_CORRUPT)
        index_reset(st);
    return store_unlock(st, rv);
}

static apr_status_t key_check(const char *key, apr_size_t *klen)
{
    if (key == NULL)
        return APR_EINVAL;
    *klen = strnlen(key, NSSO_STORE_MAX_KEY + 1);
    return *klen == 0 || *klen > NSSO_STORE_MAX_KEY ? APR_EINVAL : APR_SUCCESS;
}

/* ---- operations (called with the lock held) ---------------------------------- */

/* The value is copied into p (its length + 1, NUL-terminated): a request's
 * pool is its own thread's, so the allocation takes no lock of its own. */
static apr_status_t locked_get(shm_store *st, const char *key, apr_size_t klen,
                               apr_uint64_t hash, apr_pool_t *p, char **val,
                               apr_size_t *len, nsso_store_known_t *now)
{
    shm_hdr *h = hdr(st);
    apr_uint32_t i;
    shm_slot *sl;
    char *buf;
    apr_status_t rv;

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    h->gets++;
    rv = lookup(st, key, klen, hash, apr_time_now(), &i);
    if (rv != APR_SUCCESS)
        return rv;
    sl = slot(st, i);
    if (sl->vlen > st->g.slot_size)
        return SHM_CORRUPT;
    if ((rv = lru_touch(st, i)) != APR_SUCCESS)
        return rv;
    h->hits++;
    buf = apr_palloc(p, sl->vlen + 1);
    memcpy(buf, slot_value(sl), sl->vlen);
    buf[sl->vlen] = '\0';
    *val = buf;
    *len = sl->vlen;
    now->slot = i;
    now->gen = sl->gen;
    return APR_SUCCESS;
}

/* APR_SUCCESS when slot k->slot still holds the write k names, under key,
 * unexpired: then it is touched and counted as locked_get counts a hit.
 * APR_NOTFOUND otherwise (a get must say what is there now). A live slot
 * below fresh holds a generation no other write had; the key compare keeps
 * it to this key whatever pair a caller brings. */
static apr_status_t locked_known(shm_store *st, const char *key, apr_size_t klen,
                                 const nsso_store_known_t *k)
{
    shm_hdr *h = hdr(st);
    shm_slot *sl;
    apr_status_t rv;

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    if (k->gen == 0 || k->slot >= h->fresh)
        return APR_NOTFOUND;
    sl = slot(st, k->slot);
    if (sl->state != SLOT_LIVE || sl->gen != k->gen || sl->klen != klen
        || memcmp(sl->key, key, klen) != 0 || *expiry_of(st, k->slot) <= apr_time_now())
        return APR_NOTFOUND;
    if ((rv = lru_touch(st, k->slot)) != APR_SUCCESS)
        return rv;
    h->gets++;
    h->hits++;
    return APR_SUCCESS;
}

typedef enum { WRITE_ANY, WRITE_NEW, WRITE_EXISTING } write_mode;

/* A set whose expiry has already passed stores nothing and forgets any
 * previous value under the key (it still counts as a set). WRITE_NEW
 * leaves a live entry alone (APR_EEXIST); WRITE_EXISTING writes only over
 * a live entry (APR_NOTFOUND otherwise). */
static apr_status_t locked_set(shm_store *st, const char *key, apr_size_t klen,
                               const void *val, apr_size_t len, apr_time_t expiry,
                               write_mode mode, int *evicted_live)
{
    shm_hdr *h = hdr(st);
    apr_time_t now = apr_time_now();
    apr_uint64_t hash;
    apr_uint32_t i;
    apr_status_t rv;

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    if (len > st->g.slot_size) {
        h->too_large++;
        return APR_ENOSPC;
    }
    h->sets++;
    hash = key_hash(st, key, klen);
    rv = lookup(st, key, klen, hash, now, &i);
    if (rv == APR_SUCCESS && mode == WRITE_NEW)
        return APR_EEXIST;
    if (rv == APR_NOTFOUND && mode == WRITE_EXISTING)
        return APR_NOTFOUND;
    if (rv == APR_SUCCESS) {
        if (expiry <= now)
            return entry_drop(st, i);
        value_write(st, i, val, len, expiry);
        return lru_touch(st, i);
    }
    if (rv != APR_NOTFOUND || expiry <= now)
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    if ((rv = slot_take(st, now, &i, evicted_live)) != APR_SUCCESS)
        return rv;
    return entry_insert(st, i, key, klen, hash, val, len, expiry);
}

static apr_status_t locked_del(shm_store *st, const char *key, apr_size_t klen)
{
    apr_uint32_t i;
    apr_status_t rv;

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    rv = lookup(st, key, klen, key_hash(st, key, klen), apr_time_now(), &i);
    if (rv != APR_SUCCESS)
        return rv;
    if ((rv = entry_drop(st, i)) != APR_SUCCESS)
        return rv;
    hdr(st)->deletes++;
    return APR_SUCCESS;
}

static apr_status_t locked_stats(shm_store *st, nsso_store_stats_t *out)
{
    const shm_hdr *h = hdr(st);

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    memset(out, 0, sizeof(*out));
    out->capacity = st->g.entries;
    out->slot_size = st->g.slot_size;
    out->live = h->live;
    out->gets = h->gets;
    out->hits = h->hits;
    out->sets = h->sets;
    out->deletes = h->deletes;
    out->expired = h->expired;
    out->evicted = h->evicted;
    out->evicted_disposable = h->evicted_disposable;
    out->evicted_here = st->evicted_here;
    out->too_large = h->too_large;
    out->lock_recoveries = h->lock_recoveries;
    return APR_SUCCESS;
}

/* ---- consistency check ---------------------------------------------------- */

enum { SEEN_NONE = 0, SEEN_FREE, SEEN_LIVE, SEEN_LRU };

static apr_status_t check_free_list(const shm_store *st, unsigned char *seen,
                                    apr_size_t *count)
{
    apr_uint32_t i = hdr(st)->free_head;

    for (*count = 0; i != NIL; (*count)++) {
        if (*count >= st->g.entries || i >= hdr(st)->fresh || seen[i] != SEEN_NONE
            || slot(st, i)->state != SLOT_FREE || *expiry_of(st, i) != APR_INT64_MAX)
            return SHM_CORRUPT;
        seen[i] = SEEN_FREE;
        i = slot(st, i)->next;
    }
    return APR_SUCCESS;
}

/* i < fresh, found in bucket b. */
static int live_slot_ok(const shm_store *st, apr_uint32_t i, apr_size_t b)
{
    const shm_slot *sl = slot(st, i);

    return sl->state == SLOT_LIVE && sl->klen > 0 && sl->klen <= NSSO_STORE_MAX_KEY
        && sl->gen != 0 && sl->gen <= hdr(st)->generation && sl->vlen <= st->g.slot_size && *expiry_of(st, i) >= hdr(st)->min_expiry
        && (sl->hash & (st->g.nbuckets - 1)) == b
        && sl->hash == key_hash(st, sl->key, sl->klen);
}

static apr_status_t check_chains(const shm_store *st, unsigned char *seen,
                                 apr_size_t *count)
{
    apr_size_t b;

    *count = 0;
    for (b = 0; b < st->g.nbuckets; b++) {
        apr_uint32_t i = *bucket_of(st, b);

        while (i != NIL) {
            if (*count >= st->g.entries || i >= hdr(st)->fresh || seen[i] != SEEN_NONE
                || !live_slot_ok(st, i, b))
                return SHM_CORRUPT;
            seen[i] = SEEN_LIVE;
            (*count)++;
            i = slot(st, i)->next;
        }
    }
    return APR_SUCCESS;
}

/* List l head to tail: only live slots of its kind, each once, back links
 * right, ticks falling. *count goes on from the previous list's. */
static apr_status_t check_lru(const shm_store *st, int l, unsigned char *seen,
                              apr_size_t *count)
{
    apr_uint32_t i = hdr(st)->lru_head[l], prev = NIL;
    apr_uint64_t tick = hdr(st)->clock;

    for (; i != NIL; (*count)++) {
        shm_slot *sl;

        if (*count >= st->g.entries || !idx_ok(st, i) || seen[i] != SEEN_LIVE)
            return SHM_CORRUPT;
        sl = slot(st, i);
        if (sl->lru_prev != prev || sl->tick > tick || slot_list(sl) != l)
            return SHM_CORRUPT;
        seen[i] = SEEN_LRU;
        tick = sl->tick;
        prev = i;
        i = sl->lru_next;
    }
    return hdr(st)->lru_tail[l] == prev ? APR_SUCCESS : SHM_CORRUPT;
}

static apr_status_t locked_check(const shm_store *st, unsigned char *seen)
{
    apr_size_t nfree, nlive, nlru = 0;
    apr_status_t rv;

    if (!hdr_sane(st))
        return SHM_CORRUPT;
    if ((rv = check_free_list(st, seen, &nfree)) != APR_SUCCESS
        || (rv = check_chains(st, seen, &nlive)) != APR_SUCCESS
        || (rv = check_lru(st, LRU_DISPOSABLE, seen, &nlru)) != APR_SUCCESS
        || (rv = check_lru(st, LRU_SESSION, seen, &nlru)) != APR_SUCCESS)
        return rv;
    if (nlive != hdr(st)->live || nlru != nlive || nfree + nlive != hdr(st)->fresh)
        return SHM_CORRUPT;
    return APR_SUCCESS;
}

/* ---- ops table -------------------------------------------------------------- */

/* A get that also says which write it read (now may be NULL). */
static apr_status_t shm_get_copy(nsso_store *s, apr_pool_t *p, const char *key,
                                 char **val, apr_size_t *len, nsso_store_known_t *now)
{
    shm_store *st = s->impl;
    apr_size_t klen, vlen = 0;
    apr_uint64_t hash;
    nsso_store_known_t id = { 0, 0 };
    char *buf = NULL;
    apr_status_t rv;

    if (p == NULL || val == NULL || key_check(key, &klen) != APR_SUCCESS)
        return APR_EINVAL;
    hash = key_hash(st, key, klen); /* outside the lock: the key is ours */
    if ((rv = store_lock(st)) != APR_SUCCESS)
        return rv;
    rv = store_finish(st, locked_get(st, key, klen, hash, p, &buf, &vlen, &id));
    if (rv != APR_SUCCESS)
        return rv;
    *val = buf;
    if (len != NULL)
        *len = vlen;
    if (now != NULL)
        *now = id;
    return APR_SUCCESS;
}

static apr_status_t shm_get(nsso_store *s, apr_pool_t *p, const char *key,
                            char **val, apr_size_t *len)
{
    return shm_get_copy(s, p, key, val, len, NULL);
}

/* The value named by known unchanged: *val = NULL, nothing hashed or
 * copied, one short hold of the lock. Otherwise a get (a second hold). */
static apr_status_t shm_get_known(nsso_store *s, apr_pool_t *p, const char *key,
                                  const nsso_store_known_t *known, char **val,
                                  apr_size_t *len, nsso_store_known_t *now)
{
    shm_store *st = s->impl;
    apr_size_t klen;
    apr_status_t rv;

    if (p == NULL || val == NULL || now == NULL || key_check(key, &klen) != APR_SUCCESS)
        return APR_EINVAL;
    if (known != NULL) {
        if ((rv = store_lock(st)) != APR_SUCCESS)
            return rv;
        rv = store_finish(st, locked_known(st, key, klen, known));
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
            return rv;                  /* broken (now reformatted), or the lock */
        if (rv == APR_SUCCESS) {
            *val = NULL;
            if (len != NULL)
                *len = 0;
            *now = *known;
            return APR_SUCCESS;
        }
    }
    return shm_get_copy(s, p, key, val, len, now);
}

static apr_status_t shm_write(nsso_store *s, const char *key, const void *val,
                              apr_size_t len, apr_time_t expiry, write_mode mode,
                              int *evicted_live)
{
    shm_store *st = s->impl;
    apr_size_t klen;
    int evicted = 0;
    apr_status_t rv;

    if (evicted_live != NULL)
        *evicted_live = 0;
    if ((val == NULL && len > 0) || key_check(key, &klen) != APR_SUCCESS)
        return APR_EINVAL;
    if ((rv = store_lock(st)) != APR_SUCCESS)
        return rv;
    rv = store_finish(st, locked_set(st, key, klen, val, len, expiry, mode, &evicted));
    if (evicted_live != NULL)
        *evicted_live = evicted;
    return rv;
}

static apr_status_t shm_set(nsso_store *s, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry, int *evicted_live)
{
    return shm_write(s, key, val, len, expiry, WRITE_ANY, evicted_live);
}

static apr_status_t shm_add(nsso_store *s, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry)
{
    return shm_write(s, key, val, len, expiry, WRITE_NEW, NULL);
}

static apr_status_t shm_replace(nsso_store *s, const char *key, const void *val,
                                apr_size_t len, apr_time_t expiry)
{
    return shm_write(s, key, val, len, expiry, WRITE_EXISTING, NULL);
}

static apr_status_t shm_del(nsso_store *s, const char *key)
{
    shm_store *st = s->impl;
    apr_size_t klen;
    apr_status_t rv;

    if ((rv = key_check(key, &klen)) != APR_SUCCESS)
        return rv;
    if ((rv = store_lock(st)) != APR_SUCCESS)
        return rv;
    return store_finish(st, locked_del(st, key, klen));
}

static apr_status_t shm_stats(nsso_store *s, nsso_store_stats_t *out)
{
    shm_store *st = s->impl;
    apr_status_t rv;

    if (out == NULL)
        return APR_EINVAL;
    if ((rv = store_lock(st)) != APR_SUCCESS)
        return rv;
    return store_finish(st, locked_stats(st, out));
}

static const nsso_store_ops shm_ops = {
    "shm", shm_get, shm_set, shm_add, shm_replace, shm_del, shm_stats, shm_get_known
};

/* ---- public entry points -------------------------------------------------------- */

apr_size_t nsso_shm_store_size(apr_size_t entries, apr_size_t slot_size)
{
    shm_geom g;

    return geom_compute(entries, slot_size, &g) ? g.total : 0;
}

apr_status_t nsso_shm_store_attach(apr_pool_t *p, void *base, apr_size_t size,
                                   apr_size_t entries, apr_size_t slot_size,
                                   int init, nsso_store **out)
{
    shm_geom g;
    shm_store *st;
    apr_status_t rv;

    if (p == NULL || base == NULL || out == NULL || ((apr_uintptr_t)base & 7) != 0
        || !geom_compute(entries, slot_size, &g))
        return APR_EINVAL;
    if (size < g.total)
        return init ? APR_EINVAL : APR_EMISMATCH;
    st = apr_pcalloc(p, sizeof(*st));
    st->g = g;
    st->base = base;
    if (init) {
        if ((rv = segment_format(st)) != APR_SUCCESS)
            return rv;
    }
    else if (!hdr_geometry_ok(st)) {
        return APR_EMISMATCH;
    }
    st->pub.ops = &shm_ops;
    st->pub.impl = st;
    *out = &st->pub;
    return APR_SUCCESS;
}

apr_status_t nsso_shm_store_check(nsso_store *s)
{
    shm_store *st;
    unsigned char *seen;
    apr_status_t rv;

    if (s == NULL || s->ops != &shm_ops)
        return APR_EINVAL;
    st = s->impl;
    if ((seen = calloc(st->g.entries, 1)) == NULL)
        return APR_ENOMEM;
    if ((rv = store_lock(st)) == APR_SUCCESS)
        rv = store_unlock(st, locked_check(st, seen));
    free(seen);
    return rv;
}
