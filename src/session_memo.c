/* session_memo.c - this child's parsed session records (see
 * session_memo.h). A session-cookie or cached-bearer request used to spend
 * most of the module's instructions parsing the same record again (and
 * joining its 25 roles again) on every request. The memo keeps the last
 * MEMO_SLOTS records this child parsed with what they gave: an entry is
 * used only for the very same bytes (memcmp), so it can never give a
 * result the parse would not. Entries are immutable and reference-counted:
 * a request holds its entry until its pool goes, so replacing an entry
 * under a request still using it frees nothing that request reads.
 *
 * nsso_session_load_memo finds an entry by its store key instead and asks
 * the store whether the record under that key is still the write the entry
 * parsed (its slot and generation, get_known): then the record is not even
 * copied out of the store or compared. The store's answer can only be yes
 * for the same bytes (store.h), so that path keeps the guarantee above. An
 * entry's key and store identity are set before it is published and never
 * change, so a request reads them without the lock. */
#include "session_memo.h"
#include "identity.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 64
#define MEMO_MAX_RECORD 65536  /* larger records are parsed each time */

typedef struct {
    apr_uint32_t refs;       /* the slot's one, and one per request using it */
    apr_pool_t *pool;        /* unmanaged: everything below lives in it */
    char *record;
    apr_size_t len;
    nsso_session_t *session;
    /* found by key (nsso_session_load_memo) only when key is set */
    const nsso_store *store;
    char *key;
    apr_size_t klen;
    nsso_store_known_t known;  /* the write of key that record is */
} memo_entry;

static struct {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    int ready;
    memo_entry *slot[MEMO_SLOTS];
} memo;

static nsso_session_memo_ext_fn ext_make;

void nsso_session_memo_extend(nsso_session_memo_ext_fn make)
{
    ext_make = make;
}

static void entry_release(memo_entry *e)
{
    if (e && apr_atomic_dec32(&e->refs) == 0)
        apr_pool_destroy(e->pool);
}

static apr_status_t request_done(void *e)
{
    entry_release(e);
    return APR_SUCCESS;
}

static apr_status_t memo_cleanup(void *unused)
{
    int i;

    (void)unused;
    memo.ready = 0;
    for (i = 0; i < MEMO_SLOTS; i++) {
        entry_release(memo.slot[i]);
        memo.slot[i] = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t nsso_session_memo_init(apr_pool_t *pchild)
{
#if APR_HAS_THREADS
    apr_status_t rv = apr_thread_mutex_create(&memo.mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv != APR_SUCCESS)
        return rv;
#endif
    memset(memo.slot, 0, sizeof(memo.slot));
    apr_pool_cleanup_register(pchild, NULL, memo_cleanup, apr_pool_cleanup_null);
    memo.ready = 1;
    return APR_SUCCESS;
}

static void lock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(memo.mutex);
#endif
}

static void unlock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(memo.mutex);
#endif
}

/* FNV-1a of the hint's first HINT_BYTES and the length: session ids and
 * token signatures are random already; a collision only costs a parse. */
#define HINT_BYTES 8

static memo_entry **slot_of(const char *hint, apr_size_t len)
{
    apr_uint32_t h = 2166136261u ^ (apr_uint32_t)len;
    int i;

    for (i = 0; hint && hint[i] && i < HINT_BYTES; i++)
        h = (h ^ (unsigned char)hint[i]) * 16777619u;
    return &memo.slot[h % MEMO_SLOTS];
}

/* The entry for these bytes, with a reference taken, or NULL. */
static memo_entry *lookup(memo_entry **slot, const char *data, apr_size_t len)
{
    memo_entry *e;

    lock();
    e = *slot;
    if (e && e->len == len && !memcmp(e->record, data, len))
        apr_atomic_inc32(&e->refs);
    else
        e = NULL;
    unlock();
    return e;
}

static int clean(apr_pool_t *p, const char *v)
{
    return !v || nsso_header_safe(p, v) == v;
}

/* The identity values the record gives (as expose.c would make them). */
static const nsso_session_derived_t *derive(apr_pool_t *p, const nsso_session_t *s)
{
    nsso_session_derived_t *d = apr_pcalloc(p, sizeof(*d));
    int i, ok;

    d->roles = nsso_roles_join(p, s->roles); /* drops unsafe roles */
    d->caseloads = s->caseloads && s->caseloads->nelts
                   ? nsso_header_safe(p, apr_array_pstrcat(p, s->caseloads, ',')) : NULL;
    d->expires = apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires);
    d->expires_at = s->expires;
    ok = clean(p, s->user) && clean(p, s->name) && clean(p, s->auth_source)
         && clean(p, s->caseload) && clean(p, s->user_id) && clean(p, s->on_behalf_of)
         && clean(p, s->user_uuid);
    for (i = 1; ok && s->claims && i < s->claims->nelts; i += 2)
        ok = clean(p, APR_ARRAY_IDX(s->claims, i, const char *));
    d->clean = ok;
    d->ext = ext_make ? ext_make(p, s, d) : NULL;
    return d;
}

/* A new entry for a record that parses, with references for the slot and
 * the caller, not yet published. */
static memo_entry *entry_make(const char *data, apr_size_t len)
{
    apr_pool_t *pool;
    memo_entry *e;
    const char *err;

    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS)
        return NULL;
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->record = apr_pmemdup(pool, data, len);
    e->len = len;
    if (nsso_session_parse(pool, e->record, len, &e->session, &err) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return NULL;
    }
    e->session->derived = derive(pool, e->session);
    e->refs = 2; /* the slot's and the caller's */
    return e;
}

/* e in the slot (the entry it replaces goes when its last request does). */
static void publish(memo_entry **slot, memo_entry *e)
{
    memo_entry *old;

    lock();
    old = *slot;
    *slot = e;
    unlock();
    entry_release(old);
}

static memo_entry *insert(memo_entry **slot, const char *data, apr_size_t len)
{
    memo_entry *e = entry_make(data, len);

    if (e)
        publish(slot, e);
    return e;
}

/* The caller's copy of e's session; e is released with p. */
static void hand_out(apr_pool_t *p, memo_entry *e, nsso_session_t **out)
{
    apr_pool_cleanup_register(p, e, request_done, apr_pool_cleanup_null);
    *out = apr_pmemdup(p, e->session, sizeof(*e->session));
}

apr_status_t nsso_session_parse_memo(apr_pool_t *p, const char *hint, const char *data,
                                     apr_size_t len, nsso_session_t **out,
                                     const char **err)
{
    memo_entry **slot, *e;

    if (!memo.ready || !data || len > MEMO_MAX_RECORD)
        return nsso_session_parse(p, data, len, out, err);
    slot = slot_of(hint, len);
    e = lookup(slot, data, len);
    if (!e && !(e = insert(slot, data, len)))
        return nsso_session_parse(p, data, len, out, err); /* the parse says why */
    hand_out(p, e, out);
    return APR_SUCCESS;
}

/* ---- by store key ---------------------------------------------------------- */

/* FNV-1a of the key's last KEY_TAIL bytes and its length: a store key ends
 * in what it names (a random session id, a token digest), while its start
 * ("s:<realm>:") is the same for every session; a collision costs a get. */
#define KEY_TAIL 16

static memo_entry **key_slot_of(const char *key, apr_size_t klen)
{
    apr_uint32_t h = 2166136261u ^ (apr_uint32_t)klen;
    apr_size_t i = klen > KEY_TAIL ? klen - KEY_TAIL : 0;

    for (; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return &memo.slot[h % MEMO_SLOTS];
}

/* The entry of key in store, with a reference taken, or NULL. */
static memo_entry *lookup_key(memo_entry **slot, const nsso_store *store,
                              const char *key, apr_size_t klen)
{
    memo_entry *e;

    lock();
    e = *slot;
    if (e && e->key && e->store == store && e->klen == klen && !memcmp(e->key, key, klen))
        apr_atomic_inc32(&e->refs);
    else
        e = NULL;
    unlock();
    return e;
}

/* *err set whenever the parse failed (the caller tells that from a store
 * status by it). */
static apr_status_t parsed(apr_status_t rv, const char **err)
{
    if (rv != APR_SUCCESS && *err == NULL)
        *err = "session record unreadable";
    return rv;
}

/* Today's path: a copy from the store, compared with the memo's bytes. */
static apr_status_t load_copy(apr_pool_t *p, nsso_store *store, const char *key,
                              const char *hint, nsso_session_t **out, const char **err)
{
    char *val;
    apr_size_t len = 0;
    apr_status_t rv = nsso_store_get(store, p, key, &val, &len);

    if (rv != APR_SUCCESS)
        return rv;
    return parsed(nsso_session_parse_memo(p, hint, val, len, out, err), err);
}

apr_status_t nsso_session_load_memo(apr_pool_t *p, nsso_store *store, const char *key,
                                    const char *hint, nsso_session_t **out,
                                    const char **err)
{
    memo_entry **slot, *e;
    nsso_store_known_t now = { 0, 0 };
    apr_size_t klen, len = 0;
    char *val = NULL;
    apr_status_t rv;

    *err = NULL;
    if (!memo.ready || !nsso_store_has_known(store))
        return load_copy(p, store, key, hint, out, err);
    klen = strlen(key);
    slot = key_slot_of(key, klen);
    e = lookup_key(slot, store, key, klen);
    rv = nsso_store_get_known(store, p, key, e ? &e->known : NULL, &val, &len, &now);
    if (rv == APR_SUCCESS && val == NULL && e) {
        hand_out(p, e, out);            /* the very write e parsed */
        return APR_SUCCESS;
    }
    entry_release(e);
    if (rv != APR_SUCCESS)
        return rv;
    if (val == NULL)                    /* a hit for nothing we asked about */
        return APR_EGENERAL;
    if (len > MEMO_MAX_RECORD || !(e = entry_make(val, len)))
        return parsed(nsso_session_parse(p, val, len, out, err), err);
    /* who it is, before anyone else can find it */
    e->store = store;
    e->key = apr_pmemdup(e->pool, key, klen + 1);
    e->klen = klen;
    e->known = now;
    publish(slot, e);
    hand_out(p, e, out);
    return APR_SUCCESS;
}
