/* store_compare.c - owns the side-by-side micro-benchmark of the two session
 * stores one host can use, both driven through the nsso_store interface
 * (src/store.h) the request code uses, with the module's own code on top:
 *
 *   shm    src/store_shm.c, the default (NomisSSOSessionCacheEntries n,
 *          NomisSSOSessionCacheEntrySize 8192)
 *   shmcb  src/store_socache.c over httpd's mod_socache_shmcb provider
 *          (NomisSSOSessionStore socache:shmcb): keys HMAC'd, values sealed
 *          (JWE), the global mutex around every call (shmcb is not MP-safe),
 *          as in the module. The provider is dlopen()ed from httpd's module
 *          directory; the handful of httpd functions it and store_socache.c
 *          call are stubbed below (this process is not httpd).
 *   raw    the same provider with nothing of ours on top but the mutex and
 *          add/replace as a read then a write under it: what shmcb would
 *          cost if it replaced store_shm.c (no sealing: same host, same
 *          trust as our own segment)
 *
 * For 1k, 10k and 100k live sessions of 4096 bytes (keys as the module
 * builds them, "s:<realm>:<43-char id>"):
 *   get      one lookup of a live session (the cookie request's store cost)
 *   sign-in  add of the spent-state marker + set of a new session (what the
 *            callback writes), into a full store
 *   mixed    90% get, 8% replace (write-back after a refresh), 2% sign-in
 *   B/live   bytes of shared memory per live session when the store is full
 *            (segment size / sessions still readable after filling it twice
 *            over): the memory a session really costs
 * Figures are medians over BATCHES batches of thread CPU time per operation
 * (CLOCK_THREAD_CPUTIME_ID: time the process was preempted does not count,
 * so a busy machine shifts them little). One process, uncontended locks:
 * contention between httpd children is not measured here. Not a test.
 *
 * shmcb is given enough memory to hold every session (its index is sized
 * from the module's hint, 2 x NomisSSOSessionCacheEntrySize per object: see
 * B/live); the shm store exactly n entries.
 *
 * bench/run --only store-compare builds and runs it; by hand (after
 * tools/build, from the top of the tree):
 *   gcc -std=gnu11 -O2 -rdynamic $(apxs -q CPPFLAGS) -I/usr/include/apache2 \
 *     $(apr-1-config --includes) -Isrc -o /tmp/store_compare \
 *     bench/store_compare.c src/store_socache.c .libs/libnsso.a \
 *     -lcjose -ljansson -lcrypto -lcurl $(apr-1-config --link-ld) \
 *     $(apu-1-config --link-ld) -ldl
 *   /tmp/store_compare [max-sessions]   (default 100000: 1k, 10k, 100k) */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>

#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "store.h"
#include "store_shm.h"
#include "store_socache.h"
#include "crypto.h"

#define SHMCB_SO     "/usr/lib/apache2/modules/mod_socache_shmcb.so"
#define VALUE_SIZE   4096
#define ENTRY_SIZE   8192          /* NomisSSOSessionCacheEntrySize default */
#define REALM        "bEnChReAlM0"  /* 11 chars, as realm.c makes them */
#define BATCHES      7
#define BATCH_OPS    4000
#define SESSION_TTL  apr_time_from_sec(8 * 3600)
#define STATE_TTL    apr_time_from_sec(600)

/* ---- the httpd functions the provider and store_socache.c call ---------- */

module AP_MODULE_DECLARE_DATA nomis_sso_module;

static const ap_socache_provider_t *shmcb_provider;

AP_DECLARE(apr_status_t) ap_register_provider(apr_pool_t *pool, const char *group,
                                              const char *name, const char *version,
                                              const void *provider)
{
    (void)pool; (void)version;
    if (!strcmp(group, AP_SOCACHE_PROVIDER_GROUP) && !strcmp(name, "shmcb"))
        shmcb_provider = provider;
    return APR_SUCCESS;
}

AP_DECLARE(void *) ap_lookup_provider(const char *group, const char *name,
                                      const char *version)
{
    (void)version;
    return !strcmp(group, AP_SOCACHE_PROVIDER_GROUP) && !strcmp(name, "shmcb")
           ? (void *)shmcb_provider : NULL;
}

static void vlog(int level, const char *fmt, va_list ap)
{
    if ((level & APLOG_LEVELMASK) <= APLOG_WARNING) {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index, int level,
                               apr_status_t status, const server_rec *s,
                               const char *fmt, ...)
{
    va_list ap;

    (void)file; (void)line; (void)module_index; (void)status; (void)s;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

AP_DECLARE(void) ap_log_rerror_(const char *file, int line, int module_index, int level,
                                apr_status_t status, const request_rec *r,
                                const char *fmt, ...)
{
    va_list ap;

    (void)file; (void)line; (void)module_index; (void)status; (void)r;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

AP_DECLARE(char *) ap_runtime_dir_relative(apr_pool_t *p, const char *fname)
{
    return apr_pstrcat(p, "/tmp/", fname, NULL);
}

AP_DECLARE(char *) ap_server_root_relative(apr_pool_t *p, const char *fname)
{
    return apr_pstrcat(p, "/tmp/", fname, NULL);
}

/* status pages only: never called here */
AP_DECLARE_NONSTD(int) ap_rprintf(request_rec *r, const char *fmt, ...)
{
    (void)r; (void)fmt;
    return -1;
}

AP_DECLARE(int) ap_rwrite(const void *buf, int nbyte, request_rec *r)
{
    (void)buf; (void)nbyte; (void)r;
    return -1;
}

/* ---- the provider as a store, nothing on top ------------------------------ */

#define RAW_CAP (ENTRY_SIZE + 1)

typedef struct {
    nsso_store pub;
    ap_socache_instance_t *inst;
    server_rec *s;
    apr_global_mutex_t *mutex;
    apr_pool_t *scratch;        /* the provider's pool argument */
    unsigned char buf[RAW_CAP]; /* add/replace's read (under the mutex) */
} raw_store;

/* shmcb picks the subcache by the id's first byte, and every key of ours
 * starts with its kind: a byte of a hash goes first, or all would share
 * one subcache. id holds 1 + NSSO_STORE_MAX_KEY bytes. */
static unsigned int raw_id(const char *key, unsigned char *id)
{
    apr_size_t len = strlen(key), i;
    apr_uint32_t h = 2166136261u;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    id[0] = (unsigned char)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
    memcpy(id + 1, key, len);
    return (unsigned int)len + 1;
}

static apr_status_t raw_fetch(raw_store *st, const char *key, unsigned char *buf,
                              unsigned int *len)
{
    unsigned char id[1 + NSSO_STORE_MAX_KEY];
    unsigned int idlen = raw_id(key, id);

    *len = RAW_CAP;
    return shmcb_provider->retrieve(st->inst, st->s, id, idlen, buf, len, st->scratch);
}

static apr_status_t raw_put(raw_store *st, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry)
{
    unsigned char id[1 + NSSO_STORE_MAX_KEY];
    unsigned int idlen = raw_id(key, id);

    return shmcb_provider->store(st->inst, st->s, id, idlen, expiry, (unsigned char *)val,
                                 (unsigned int)len, st->scratch);
}

static apr_status_t raw_get(nsso_store *s, apr_pool_t *p, const char *key, char **val,
                            apr_size_t *len)
{
    raw_store *st = s->impl;
    unsigned char *buf = apr_palloc(p, RAW_CAP + 1);
    unsigned int n;
    apr_status_t rv = apr_global_mutex_lock(st->mutex);

    if (rv != APR_SUCCESS)
        return rv;
    rv = raw_fetch(st, key, buf, &n);
    apr_global_mutex_unlock(st->mutex);
    if (rv == APR_SUCCESS) {
        buf[n] = '\0';
        *val = (char *)buf;
        *len = n;
    }
    return rv;
}

static apr_status_t raw_set(nsso_store *s, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry, int *evicted_live)
{
    raw_store *st = s->impl;
    apr_status_t rv = apr_global_mutex_lock(st->mutex);

    if (evicted_live)
        *evicted_live = 0;
    if (rv != APR_SUCCESS)
        return rv;
    rv = raw_put(st, key, val, len, expiry);
    apr_global_mutex_unlock(st->mutex);
    return rv;
}

static apr_status_t raw_cond(nsso_store *s, const char *key, const void *val,
                             apr_size_t len, apr_time_t expiry, int only_new)
{
    raw_store *st = s->impl;
    unsigned int n;
    apr_status_t rv = apr_global_mutex_lock(st->mutex);

    if (rv != APR_SUCCESS)
        return rv;
    rv = raw_fetch(st, key, st->buf, &n);
    if (rv == APR_SUCCESS)
        rv = only_new ? APR_EEXIST : raw_put(st, key, val, len, expiry);
    else if (rv == APR_NOTFOUND)
        rv = only_new ? raw_put(st, key, val, len, expiry) : APR_NOTFOUND;
    apr_global_mutex_unlock(st->mutex);
    return rv;
}

static apr_status_t raw_add(nsso_store *s, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry)
{
    return raw_cond(s, key, val, len, expiry, 1);
}

static apr_status_t raw_replace(nsso_store *s, const char *key, const void *val,
                                apr_size_t len, apr_time_t expiry)
{
    return raw_cond(s, key, val, len, expiry, 0);
}

static apr_status_t raw_del(nsso_store *s, const char *key)
{
    raw_store *st = s->impl;
    unsigned char id[1 + NSSO_STORE_MAX_KEY];
    unsigned int idlen = raw_id(key, id);
    apr_status_t rv = apr_global_mutex_lock(st->mutex);

    if (rv != APR_SUCCESS)
        return rv;
    rv = shmcb_provider->remove(st->inst, st->s, id, idlen, st->scratch);
    apr_global_mutex_unlock(st->mutex);
    return rv;
}

static apr_status_t raw_stats(nsso_store *s, nsso_store_stats_t *out)
{
    (void)s;
    memset(out, 0, sizeof(*out));
    return APR_SUCCESS;
}

static const nsso_store_ops raw_ops = {
    "raw", raw_get, raw_set, raw_add, raw_replace, raw_del, raw_stats, NULL /* no get_known */
};

/* ---- helpers ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    apr_pool_t *pool;
    nsso_store *s;
    apr_size_t shm_bytes;
} backend_t;

static apr_uint32_t rng = 0x2545f491u;
static unsigned char value[VALUE_SIZE];
static unsigned long key_seq;

static apr_uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static double cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void must(const char *what, apr_status_t rv)
{
    char buf[128];

    if (rv == APR_SUCCESS)
        return;
    fprintf(stderr, "store_compare: %s: %s\n", what, apr_strerror(rv, buf, sizeof(buf)));
    exit(1);
}

/* A fresh key of kind, "<kind>:<realm>:<43 chars>", like a session id. */
static const char *new_key(apr_pool_t *p, char kind)
{
    unsigned long n = key_seq++;

    return nsso_store_key(p, kind, REALM,
                          apr_psprintf(p, "%031lx%012lx", n * 0x9e3779b97f4a7c15ul, n));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* ---- the two backends ------------------------------------------------------- */

static void open_shm(backend_t *b, apr_size_t n)
{
    apr_shm_t *shm;

    b->name = "shm";
    must("pool", apr_pool_create(&b->pool, NULL));
    b->shm_bytes = nsso_shm_store_size(n, ENTRY_SIZE);
    must("shm", apr_shm_create(&shm, b->shm_bytes, NULL, b->pool));
    must("attach", nsso_shm_store_attach(b->pool, apr_shm_baseaddr_get(shm), b->shm_bytes,
                                         n, ENTRY_SIZE, 1, &b->s));
}

/* Bytes of shmcb for n sessions: its index is sized from the module's hint
 * (43-byte ids, objects of 2 x ENTRY_SIZE), so that is what one session
 * reserves; a tenth more for the uneven spread over subcaches. */
static apr_size_t shmcb_bytes(apr_size_t n)
{
    apr_size_t b = n * (2 * ENTRY_SIZE + 43) / 10 * 11;
    return b < 65536 ? 65536 : b;
}

static void open_shmcb(backend_t *b, apr_size_t bytes, const nsso_crypto *crypto,
                       apr_global_mutex_t *mutex)
{
    server_rec *s;
    const char *err = NULL;
    apr_pool_t *ptemp;

    b->name = "shmcb";
    must("pool", apr_pool_create(&b->pool, NULL));
    must("pool", apr_pool_create(&ptemp, b->pool));
    s = apr_pcalloc(b->pool, sizeof(*s));
    s->log.level = APLOG_WARNING;
    b->shm_bytes = bytes;
    if (nsso_socache_store_create(b->pool, ptemp, s,
                                  apr_psprintf(b->pool, "shmcb:/tmp/nsso-bench-shmcb(%lu)",
                                               (unsigned long)bytes),
                                  crypto, ENTRY_SIZE, mutex, &b->s, &err) != APR_SUCCESS) {
        fprintf(stderr, "store_compare: %s\n", err ? err : "socache:shmcb failed");
        exit(1);
    }
    apr_pool_destroy(ptemp);
}

static apr_status_t raw_destroy(void *data)
{
    raw_store *st = data;

    shmcb_provider->destroy(st->inst, st->s);
    return APR_SUCCESS;
}

/* Hints as the module would give them for unsealed values: 64-byte keys,
 * objects of NomisSSOSessionCacheEntrySize. */
static apr_size_t raw_bytes(apr_size_t n)
{
    apr_size_t b = n * (ENTRY_SIZE + NSSO_STORE_MAX_KEY) / 10 * 11;
    return b < 65536 ? 65536 : b;
}

static void open_raw(backend_t *b, apr_size_t bytes, apr_global_mutex_t *mutex)
{
    struct ap_socache_hints hints = { NSSO_STORE_MAX_KEY + 1, ENTRY_SIZE, 0 };
    raw_store *st;
    const char *err;

    b->name = "raw";
    must("pool", apr_pool_create(&b->pool, NULL));
    st = apr_pcalloc(b->pool, sizeof(*st));
    st->s = apr_pcalloc(b->pool, sizeof(*st->s));
    st->s->log.level = APLOG_WARNING;
    st->mutex = mutex;
    must("pool", apr_pool_create(&st->scratch, b->pool));
    b->shm_bytes = bytes;
    err = shmcb_provider->create(&st->inst, apr_psprintf(b->pool, "/tmp/nsso-bench-raw(%lu)",
                                                         (unsigned long)bytes),
                                 b->pool, b->pool);
    if (err) {
        fprintf(stderr, "store_compare: shmcb: %s\n", err);
        exit(1);
    }
    must("shmcb init", shmcb_provider->init(st->inst, "bench", &hints, st->s, b->pool));
    apr_pool_cleanup_register(b->pool, st, raw_destroy, apr_pool_cleanup_null);
    st->pub.ops = &raw_ops;
    st->pub.impl = st;
    b->s = &st->pub;
}

static void close_backend(backend_t *b)
{
    apr_pool_destroy(b->pool);  /* the shm segment and the provider instance */
}

/* ---- workloads -------------------------------------------------------------- */

typedef struct {
    const char **keys;          /* live session keys, a ring: oldest at next */
    apr_size_t n, next;
    apr_pool_t *kp;             /* the keys' pool */
    apr_pool_t *tmp;            /* per-operation allocations, cleared often */
    apr_uint64_t gets, hits;
} work_t;

static void load(backend_t *b, work_t *w)
{
    apr_time_t exp = apr_time_now() + SESSION_TTL;
    apr_size_t i;

    for (i = 0; i < w->n; i++) {
        w->keys[i] = new_key(w->kp, NSSO_KEY_SESSION);
        must("set", nsso_store_set(b->s, w->keys[i], value, VALUE_SIZE, exp, NULL));
    }
}

static apr_size_t count_live(backend_t *b, const char **keys, apr_size_t n, apr_pool_t *tmp)
{
    apr_size_t i, live = 0;
    char *val;
    apr_size_t len;

    for (i = 0; i < n; i++) {
        if (nsso_store_get(b->s, tmp, keys[i], &val, &len) == APR_SUCCESS
            && len == VALUE_SIZE)
            live++;
        if (i % 256 == 255)
            apr_pool_clear(tmp);
    }
    apr_pool_clear(tmp);
    return live;
}

static void op_get(backend_t *b, work_t *w)
{
    char *val;
    apr_size_t len;

    w->gets++;
    w->hits += nsso_store_get(b->s, w->tmp, w->keys[rnd() % w->n], &val, &len)
               == APR_SUCCESS;
}

/* The callback's writes: the state marker (single use), then the session.
 * The new session takes the place of the oldest in the ring. */
static void op_signin(backend_t *b, work_t *w)
{
    apr_time_t now = apr_time_now();
    const char *key = new_key(w->kp, NSSO_KEY_SESSION);

    must("add", nsso_store_add(b->s, new_key(w->tmp, NSSO_KEY_STATE_USED), "1", 1,
                               now + STATE_TTL));
    must("set", nsso_store_set(b->s, key, value, VALUE_SIZE, now + SESSION_TTL, NULL));
    w->keys[w->next] = key;
    w->next = (w->next + 1) % w->n;
}

static void op_replace(backend_t *b, work_t *w)
{
    apr_status_t rv = nsso_store_replace(b->s, w->keys[rnd() % w->n], value, VALUE_SIZE,
                                         apr_time_now() + SESSION_TTL);
    if (rv != APR_NOTFOUND)
        must("replace", rv);
}

static void op_mixed(backend_t *b, work_t *w)
{
    apr_uint32_t r = rnd() % 100;

    if (r < 90)
        op_get(b, w);
    else if (r < 98)
        op_replace(b, w);
    else
        op_signin(b, w);
}

/* Median CPU ns per op over BATCHES batches. */
static double measure(backend_t *b, work_t *w, void (*op)(backend_t *, work_t *))
{
    double v[BATCHES];
    int i, k;

    for (i = 0; i < BATCHES; i++) {
        double t0 = cpu_ns();

        for (k = 0; k < BATCH_OPS; k++) {
            op(b, w);
            if (k % 64 == 63)
                apr_pool_clear(w->tmp);
        }
        v[i] = (cpu_ns() - t0) / BATCH_OPS;
        apr_pool_clear(w->tmp);
    }
    return median(v, BATCHES);
}

/* Fills the store twice over with sessions: bytes per session still there. */
static double bytes_per_live(backend_t *b, apr_size_t capacity_guess, apr_pool_t *tmp)
{
    apr_pool_t *kp;
    work_t w;
    apr_size_t live;
    double r;

    must("pool", apr_pool_create(&kp, NULL));
    memset(&w, 0, sizeof(w));
    w.n = 2 * capacity_guess;
    w.kp = kp;
    w.keys = apr_palloc(kp, w.n * sizeof(*w.keys));
    load(b, &w);
    live = count_live(b, w.keys, w.n, tmp);
    r = live ? (double)b->shm_bytes / (double)live : 0;
    apr_pool_destroy(kp);
    return r;
}

static void run(backend_t *b, apr_size_t n, apr_size_t capacity_guess)
{
    work_t w;
    apr_pool_t *kp;
    apr_size_t held;
    double get, signin, mixed, bpl;

    must("pool", apr_pool_create(&kp, NULL));
    memset(&w, 0, sizeof(w));
    w.n = n;
    w.kp = kp;
    w.keys = apr_palloc(kp, n * sizeof(*w.keys));
    must("pool", apr_pool_create(&w.tmp, kp));
    load(b, &w);
    held = count_live(b, w.keys, n, w.tmp);
    get = measure(b, &w, op_get);
    signin = measure(b, &w, op_signin);
    w.gets = w.hits = 0;
    mixed = measure(b, &w, op_mixed);
    bpl = bytes_per_live(b, capacity_guess, w.tmp);
    printf("%-6s %7lu %8lu %9.0f %9.0f %9.0f %7.1f%% %9.0f %10.1f\n", b->name,
           (unsigned long)n, (unsigned long)held, get, signin, mixed,
           w.gets ? 100.0 * (double)w.hits / (double)w.gets : 0.0, bpl,
           (double)b->shm_bytes / 1048576.0);
    fflush(stdout);
    apr_pool_destroy(kp);
}

int main(int argc, char **argv)
{
    static const char *const pass[] = { "store-compare benchmark passphrase, not a secret" };
    apr_pool_t *p;
    apr_global_mutex_t *mutex;
    nsso_crypto *crypto;
    const char *err = NULL;
    void *so;
    module *shmcb;
    unsigned long max = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    apr_size_t n;
    apr_size_t i;

    if (max < 1000 || max > 1000000) {
        fprintf(stderr, "usage: store_compare [max-sessions 1000..1000000]\n");
        return 2;
    }
    apr_initialize();
    must("pool", apr_pool_create(&p, NULL));
    for (i = 0; i < VALUE_SIZE; i++)
        value[i] = (unsigned char)('a' + rnd() % 26);
    if (nsso_crypto_create(p, pass, 1, &crypto, &err) != APR_SUCCESS) {
        fprintf(stderr, "store_compare: crypto: %s\n", err ? err : "?");
        return 1;
    }
    must("mutex", apr_global_mutex_create(&mutex, NULL, APR_LOCK_DEFAULT, p));
    if (!(so = dlopen(SHMCB_SO, RTLD_NOW | RTLD_GLOBAL))
        || !(shmcb = dlsym(so, "socache_shmcb_module"))) {
        fprintf(stderr, "store_compare: %s\n", dlerror());
        return 1;
    }
    shmcb->register_hooks(p);
    if (!shmcb_provider) {
        fprintf(stderr, "store_compare: %s registered no shmcb provider\n", SHMCB_SO);
        return 1;
    }
    printf("%d-byte sessions; CPU ns per operation, median of %d batches of %d;\n"
           "held = sessions readable after loading n; hit = gets that found their session\n"
           "in the mixed run; B/live = shared memory per session when full; MB = segment\n",
           VALUE_SIZE, BATCHES, BATCH_OPS);
    printf("%-6s %7s %8s %9s %9s %9s %8s %9s %10s\n", "store", "n", "held", "get",
           "sign-in", "mixed", "hit", "B/live", "MB");
    for (n = 1000; n <= max; n *= 10) {
        backend_t b;

        open_shm(&b, n);
        run(&b, n, n);
        close_backend(&b);
        open_shmcb(&b, shmcb_bytes(n), crypto, mutex);
        run(&b, n, n / 10 * 11);
        close_backend(&b);
        open_raw(&b, raw_bytes(n), mutex);
        run(&b, n, n / 10 * 11);
        close_backend(&b);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
