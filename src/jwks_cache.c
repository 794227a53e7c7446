/* jwks_cache.c - owns the per-process JWKS cache: one parsed JWKS
 * "generation" at a time, each in its own sub-pool and reference counted so
 * a generation is destroyed only when it is no longer current and no thread
 * is verifying with it. Fetches go through a callback, one at a time, with
 * the mutex released; stale, empty and unknown-kid refetches are spaced at
 * least min_refetch_interval apart, and a failed fetch keeps the old keys.
 * The cache's clock is policy->now (seconds), so tests can drive it. */
#include "jwt.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#if !APR_HAS_THREADS
#error "mod_nomis_sso needs APR with thread support"
#endif

#define NSSO_JWKS_DEFAULT_MAX_AGE apr_time_from_sec(43200)
#define NSSO_JWT_MAX_NOW          253402300799LL

typedef struct {
    apr_pool_t *pool;           /* holds the nsso_jwks and this struct */
    nsso_jwks *jwks;
    unsigned refs;              /* verifying threads; guarded by the mutex */
} jwks_gen;

struct nsso_jwks_cache {
    apr_pool_t *pool;           /* own allocator; parent of generation pools */
    apr_thread_mutex_t *mutex;  /* guards everything below */
    apr_thread_cond_t *fetched; /* broadcast when a fetch ends */
    nsso_jwks_fetch_fn fetch;
    void *ctx;
    apr_interval_time_t default_max_age;
    apr_interval_time_t min_refetch;
    jwks_gen *current;
    apr_time_t expires;         /* current is stale from then on */
    apr_time_t last_attempt;    /* start of the latest fetch */
    int attempted;
    int fetching;
    char last_err[256];
    apr_uint64_t fetches;
};

/* A pool with its own mutex-protected allocator, safe to create and destroy
 * children of from several threads. */
static apr_status_t private_pool(apr_pool_t *parent, apr_pool_t **out)
{
    apr_allocator_t *alloc;
    apr_thread_mutex_t *amutex;
    apr_status_t rv = apr_allocator_create(&alloc);

    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_pool_create_ex(out, parent, NULL, alloc);
    if (rv != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, *out);
    rv = apr_thread_mutex_create(&amutex, APR_THREAD_MUTEX_DEFAULT, *out);
    if (rv == APR_SUCCESS)
        apr_allocator_mutex_set(alloc, amutex);
    return rv;
}

apr_status_t nsso_jwks_cache_create(apr_pool_t *p, nsso_jwks_fetch_fn fetch,
                                    void *ctx,
                                    apr_interval_time_t default_max_age,
                                    apr_interval_time_t min_refetch_interval,
                                    nsso_jwks_cache **out)
{
    nsso_jwks_cache *c;
    apr_pool_t *cp;
    apr_status_t rv;

    *out = NULL;
    if (p == NULL || fetch == NULL)
        return APR_EINVAL;
    rv = private_pool(p, &cp);
    if (rv != APR_SUCCESS)
        return rv;
    c = apr_pcalloc(cp, sizeof(*c));
    c->pool = cp;
    c->fetch = fetch;
    c->ctx = ctx;
    c->default_max_age = default_max_age > 0 ? default_max_age : NSSO_JWKS_DEFAULT_MAX_AGE;
    c->min_refetch = min_refetch_interval > 0 ? min_refetch_interval : 0;
    rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT, cp);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&c->fetched, cp);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}

static apr_time_t cache_clock(const nsso_jwt_policy_t *pol)
{
    if (pol == NULL || pol->now <= 0)
        return apr_time_now();
    return apr_time_from_sec(pol->now > NSSO_JWT_MAX_NOW ? NSSO_JWT_MAX_NOW : pol->now);
}

/* ---- generations (all with the mutex held) -------------------------------- */

static jwks_gen *gen_acquire_locked(nsso_jwks_cache *c)
{
    if (c->current)
        c->current->refs++;
    return c->current;
}

static void gen_release(nsso_jwks_cache *c, jwks_gen *g)
{
    apr_thread_mutex_lock(c->mutex);
    if (--g->refs == 0 && g != c->current)
        apr_pool_destroy(g->pool);
    apr_thread_mutex_unlock(c->mutex);
}

static void gen_install_locked(nsso_jwks_cache *c, jwks_gen *g, apr_time_t expires)
{
    jwks_gen *old = c->current;

    c->current = g;
    c->expires = expires;
    if (old && old->refs == 0)
        apr_pool_destroy(old->pool);
}

static int may_fetch_locked(const nsso_jwks_cache *c, apr_time_t now)
{
    return !c->fetching
           && (!c->attempted || now - c->last_attempt >= c->min_refetch);
}

/* ---- fetching ------------------------------------------------------------- */

/* Runs the callback and parses into g (no lock held). */
static apr_status_t fetch_parse(nsso_jwks_cache *c, apr_pool_t *p, jwks_gen *g,
                                apr_interval_time_t *max_age, const char **err)
{
    char *body = NULL;
    apr_size_t len = 0;
    const char *perr = NULL;
    apr_status_t rv;

    *max_age = 0;
    *err = NULL;
    rv = c->fetch(c->ctx, p, &body, &len, max_age, err);
    if (rv == APR_SUCCESS && body == NULL) {
        rv = APR_EGENERAL;
        *err = "fetch returned no body";
    }
    if (rv != APR_SUCCESS) {
        *err = apr_pstrcat(p, "JWKS fetch failed: ", *err ? *err : "(no reason)", NULL);
        return rv;
    }
    rv = nsso_jwks_parse(g->pool, body, len, &g->jwks, &perr);
    if (rv != APR_SUCCESS)
        *err = apr_pstrcat(p, "JWKS rejected: ", perr ? perr : "(no reason)", NULL);
    return rv;
}

/* One fetch, with the mutex released while it runs; called and returns
 * with the mutex held. On failure the current generation stays. */
static void fetch_locked(nsso_jwks_cache *c, apr_pool_t *p, apr_time_t now)
{
    jwks_gen *g = NULL;
    apr_pool_t *gp;
    apr_interval_time_t max_age = 0;
    const char *err = "cannot create pool";
    apr_status_t rv;

    c->fetching = 1;
    c->attempted = 1;
    c->last_attempt = now;
    rv = apr_pool_create(&gp, c->pool);
    if (rv == APR_SUCCESS) {
        g = apr_pcalloc(gp, sizeof(*g));
        g->pool = gp;
        apr_thread_mutex_unlock(c->mutex);
        rv = fetch_parse(c, p, g, &max_age, &err);
        apr_thread_mutex_lock(c->mutex);
    }
    if (rv == APR_SUCCESS) {
        gen_install_locked(c, g, now + (max_age > 0 ? max_age : c->default_max_age));
        c->fetches++;
        c->last_err[0] = '\0';
    }
    else {
        if (g)
            apr_pool_destroy(g->pool);
        apr_cpystrn(c->last_err, err ? err : "JWKS fetch failed", sizeof(c->last_err));
    }
    c->fetching = 0;
    apr_thread_cond_broadcast(c->fetched);
}

/* The generation to verify with (acquired), fetching first when the cache is
 * empty or stale. Stale keys are served while another thread fetches or
 * while refetching is rate-limited; with no keys at all we wait for an
 * in-flight fetch. NULL (with *err) when no JWKS is available. */
static jwks_gen *cache_acquire(nsso_jwks_cache *c, apr_pool_t *p, apr_time_t now,
                               const char **err)
{
    jwks_gen *g;

    apr_thread_mutex_lock(c->mutex);
    for (;;) {
        if (c->current && now < c->expires)
            break;
        if (may_fetch_locked(c, now)) {
            fetch_locked(c, p, now);
            break;
        }
        if (c->current || !c->fetching)
            break;
        apr_thread_cond_wait(c->fetched, c->mutex);
    }
    g = gen_acquire_locked(c);
    if (g == NULL)
        *err = apr_pstrcat(p, "no JWKS available: ",
                           c->last_err[0] ? c->last_err : "not fetched yet", NULL);
    apr_thread_mutex_unlock(c->mutex);
    return g;
}

/* After an unknown kid with generation `used`: a newer generation (acquired)
 * if one appeared or a (rate-limited) refetch produced one, else NULL. */
static jwks_gen *cache_refetch(nsso_jwks_cache *c, apr_pool_t *p, apr_time_t now,
                               const jwks_gen *used)
{
    jwks_gen *g = NULL;

    apr_thread_mutex_lock(c->mutex);
    for (;;) {
        if (c->current != used)
            break;
        if (may_fetch_locked(c, now)) {
            fetch_locked(c, p, now);
            break;
        }
        if (!c->fetching)
            break;
        apr_thread_cond_wait(c->fetched, c->mutex);
    }
    if (c->current != used)
        g = gen_acquire_locked(c);
    apr_thread_mutex_unlock(c->mutex);
    return g;
}

nsso_jwt_result_t nsso_jwks_cache_verify(nsso_jwks_cache *cache, apr_pool_t *p,
                                         const char *compact,
                                         const nsso_jwt_policy_t *policy,
                                         nsso_claims_t **claims,
                                         apr_status_t *fetch_status,
                                         const char **err)
{
    apr_time_t now = cache_clock(policy);
    const char *kid = NULL, *dummy_err = NULL;
    apr_status_t dummy_st = APR_SUCCESS;
    jwks_gen *g, *g2;
    nsso_jwt_result_t r;

    err = err ? err : &dummy_err;
    fetch_status = fetch_status ? fetch_status : &dummy_st;
    *err = NULL;
    *fetch_status = APR_SUCCESS;
    if (claims)
        *claims = NULL;
    if (cache == NULL) {
        *err = "no JWKS cache";
        *fetch_status = APR_EGENERAL;
        return NSSO_JWT_UNKNOWN_KID;
    }
    g = cache_acquire(cache, p, now, err);
    if (g == NULL) {
        *fetch_status = APR_EGENERAL;
        return NSSO_JWT_UNKNOWN_KID;
    }
    r = nsso_jwt_verify(p, compact, g->jwks, policy, claims, &kid, err);
    if (r == NSSO_JWT_UNKNOWN_KID) {
        g2 = cache_refetch(cache, p, now, g);
        if (g2) {
            r = nsso_jwt_verify(p, compact, g2->jwks, policy, claims, &kid, err);
            gen_release(cache, g2);
        }
    }
    gen_release(cache, g);
    return r;
}

apr_uint64_t nsso_jwks_cache_fetches(nsso_jwks_cache *cache)
{
    apr_uint64_t n;

    if (cache == NULL)
        return 0;
    apr_thread_mutex_lock(cache->mutex);
    n = cache->fetches;
    apr_thread_mutex_unlock(cache->mutex);
    return n;
}
