/* store_socache.c - sessions in a shared engine through httpd's socache
 * providers (no network client of our own).
 *
 * What the engine sees is useless to its operator (store_seal.c): every key is replaced
 * by base64url(HMAC-SHA256(key)) under a key derived from
 * NomisSSOCryptoPassphrase (so session ids cannot be read back from it),
 * and every value is encrypted and authenticated (JWE, dir + A256GCM)
 * together with the original key, so a value copied under another key is refused
 * rather than handing one user's session to another, and with its absolute
 * expiry, so a value written back by whoever controls the engine after its
 * expiry (which the engine's own TTL alone cannot stop) is refused too.
 *
 * socache has no atomic insert-if-absent: add() is a retrieve followed by
 * a store, atomic only within one host (under the module's mutex). It
 * guards single-use sign-in states and refresh markers, where a race
 * between hosts costs one extra token request, never a security check:
 * HMPPS Auth's codes are single-use by themselves. */
#include "store_socache.h"
#include "store_seal.h"
#include "util.h"

#include <ap_socache.h>
#include <ap_provider.h>
#include <apr_strings.h>

#define KEY_LEN NSSO_SEAL_KEY_LEN

typedef struct {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    server_rec *s;
    const nsso_crypto *crypto;
    apr_size_t max_value;
    apr_global_mutex_t *mutex;  /* for providers that are not MP-safe, and add() */
    int always_lock;
} socache_store;

static const char *engine_key(apr_pool_t *p, const socache_store *st, const char *key)
{
    return nsso_seal_key(p, st->crypto, key);
}

static apr_status_t lock(const socache_store *st, int want)
{
    return want && st->mutex ? apr_global_mutex_lock(st->mutex) : APR_SUCCESS;
}

static void unlock(const socache_store *st, int want)
{
    if (want && st->mutex)
        apr_global_mutex_unlock(st->mutex);
}

/* At most one notice a minute per process: a replaying engine operator
 * could otherwise fill the log. */
static void notice_expired(const socache_store *st)
{
    static apr_time_t last;
    apr_time_t now = apr_time_now();

    if (now - last < apr_time_from_sec(60))
        return;
    last = now;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, NSSO_LOGNO(0900) "shared session store: refused a "
                 "value past the expiry sealed into it (written back after it "
                 "expired: the engine's data was replayed or restored)");
}

/* Sealed with the key and expiry (store_seal.c). */
static apr_status_t seal(apr_pool_t *p, const socache_store *st, const char *key,
                         const void *val, apr_size_t len, apr_time_t expiry, char **out)
{
    return nsso_seal_value(p, st->crypto, key, val, len, expiry, out);
}

/* A value that does not open under key, or has expired, is as good as
 * absent to the caller. */
static apr_status_t unseal(apr_pool_t *p, const socache_store *st, const char *key,
                           const char *sealed, char **val, apr_size_t *len)
{
    apr_status_t rv = nsso_seal_open(p, st->crypto, key, sealed, val, len);

    if (rv == APR_TIMEUP)
        notice_expired(st);
    return rv;
}

/* An engine restart leaves each worker's pooled connection broken: the
 * first call fails and the provider reconnects. So a failed call (not a
 * miss) is tried once more before the engine is reported unreachable. The
 * providers answer "not found" while they consider an engine dead, so a
 * miss on the second try keeps the first error. */
#define ONCE_MORE(rv, call) \
    do { \
        (rv) = (call); \
        if ((rv) != APR_SUCCESS && (rv) != APR_NOTFOUND) { \
            apr_status_t first_ = (rv); \
            (rv) = (call); \
            if ((rv) == APR_NOTFOUND) \
                (rv) = first_; \
        } \
    } while (0)

static apr_status_t raw_get(const socache_store *st, apr_pool_t *p, const char *ekey,
                            char **sealed)
{
    unsigned int cap = (unsigned int)(st->max_value * 2 + 1024), n = cap;
    unsigned char *buf = apr_palloc(p, cap + 1);
    apr_status_t rv;

    ONCE_MORE(rv, (n = cap, st->provider->retrieve(st->instance, st->s,
                                                   (const unsigned char *)ekey,
                                                   (unsigned int)strlen(ekey), buf, &n, p)));
    if (rv != APR_SUCCESS)
        return rv;
    if (n > cap)
        return APR_EGENERAL;
    buf[n] = '\0';
    *sealed = (char *)buf;
    return APR_SUCCESS;
}

static apr_status_t sc_get(nsso_store *s, apr_pool_t *p, const char *key, char **val,
                           apr_size_t *len)
{
    const socache_store *st = s->impl;
    const char *ekey = engine_key(p, st, key);
    char *sealed;
    apr_status_t rv;

    if ((rv = lock(st, st->always_lock)) != APR_SUCCESS)
        return rv;
    rv = raw_get(st, p, ekey, &sealed);
    unlock(st, st->always_lock);
    if (rv == APR_NOTFOUND)
        return APR_NOTFOUND;
    if (rv != APR_SUCCESS)
        return rv;
    /* a value that does not open, or has expired, is as good as absent */
    return unseal(p, st, key, sealed, val, len) == APR_SUCCESS ? APR_SUCCESS : APR_NOTFOUND;
}

static apr_status_t put(const socache_store *st, apr_pool_t *p, const char *key,
                        const void *val, apr_size_t len, apr_time_t expiry)
{
    const char *ekey = engine_key(p, st, key);
    char *sealed;
    apr_status_t rv;

    if (len > st->max_value)
        return APR_ENOSPC;
    if ((rv = seal(p, st, key, val, len, expiry, &sealed)) != APR_SUCCESS)
        return rv;
    ONCE_MORE(rv, st->provider->store(st->instance, st->s, (const unsigned char *)ekey,
                                      (unsigned int)strlen(ekey), expiry,
                                      (unsigned char *)sealed, (unsigned int)strlen(sealed),
                                      p));
    return rv;
}

static apr_status_t with_pool(apr_pool_t **p)
{
    return apr_pool_create(p, NULL);
}

static apr_status_t sc_set(nsso_store *s, const char *key, const void *val,
                           apr_size_t len, apr_time_t expiry, int *evicted_live)
{
    const socache_store *st = s->impl;
    apr_pool_t *p;
    apr_status_t rv;

    if (evicted_live)
        *evicted_live = 0;
    if (!key || !*key || strlen(key) > NSSO_STORE_MAX_KEY)
        return APR_EINVAL;
    if ((rv = with_pool(&p)) != APR_SUCCESS)
        return rv;
    if ((rv = lock(st, st->always_lock)) == APR_SUCCESS) {
        if (expiry <= apr_time_now())
            st->provider->remove(st->instance, st->s,
                                 (const unsigned char *)engine_key(p, st, key),
                                 KEY_LEN, p);
        else
            rv = put(st, p, key, val, len, expiry);
        unlock(st, st->always_lock);
    }
    apr_pool_destroy(p);
    return rv;
}

/* Write only when absent (only_new) or only when present: a read then a
 * write, atomic on this host under the mutex. Present means live: a value
 * that does not open or has expired counts as absent, as it does for get. */
static apr_status_t conditional_put(nsso_store *s, const char *key, const void *val,
                                    apr_size_t len, apr_time_t expiry, int only_new)
{
    const socache_store *st = s->impl;
    apr_pool_t *p;
    char *sealed, *old;
    apr_size_t old_len;
    apr_status_t rv;

    if (!key || !*key || strlen(key) > NSSO_STORE_MAX_KEY)
        return APR_EINVAL;
    if ((rv = with_pool(&p)) != APR_SUCCESS)
        return rv;
    if ((rv = lock(st, 1)) == APR_SUCCESS) {
        rv = raw_get(st, p, engine_key(p, st, key), &sealed);
        if (rv == APR_SUCCESS && unseal(p, st, key, sealed, &old, &old_len) != APR_SUCCESS)
            rv = APR_NOTFOUND;
        if (rv == APR_SUCCESS)
            rv = only_new ? APR_EEXIST : put(st, p, key, val, len, expiry);
        else if (rv == APR_NOTFOUND)
            rv = only_new ? put(st, p, key, val, len, expiry) : APR_NOTFOUND;
        unlock(st, 1);
    }
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t sc_add(nsso_store *s, const char *key, const void *val,
                           apr_size_t len, apr_time_t expiry)
{
    return conditional_put(s, key, val, len, expiry, 1);
}

static apr_status_t sc_replace(nsso_store *s, const char *key, const void *val,
                               apr_size_t len, apr_time_t expiry)
{
    return conditional_put(s, key, val, len, expiry, 0);
}

static apr_status_t sc_del(nsso_store *s, const char *key)
{
    const socache_store *st = s->impl;
    apr_pool_t *p;
    apr_status_t rv;

    if (!key || !*key || strlen(key) > NSSO_STORE_MAX_KEY)
        return APR_EINVAL;
    if ((rv = with_pool(&p)) != APR_SUCCESS)
        return rv;
    if ((rv = lock(st, st->always_lock)) == APR_SUCCESS) {
        const char *ekey = engine_key(p, st, key);
        ONCE_MORE(rv, st->provider->remove(st->instance, st->s,
                                           (const unsigned char *)ekey, KEY_LEN, p));
        unlock(st, st->always_lock);
    }
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t sc_stats(nsso_store *s, nsso_store_stats_t *out)
{
    memset(out, 0, sizeof(*out)); /* socache engines keep their own statistics */
    return APR_SUCCESS;
}

static const nsso_store_ops socache_ops = {
    "socache", sc_get, sc_set, sc_add, sc_replace, sc_del, sc_stats, NULL /* no get_known */
};

static apr_status_t destroy_instance(void *data)
{
    socache_store *st = data;

    st->provider->destroy(st->instance, st->s);
    return APR_SUCCESS;
}

apr_status_t nsso_socache_store_create(apr_pool_t *pconf, apr_pool_t *ptemp,
                                       server_rec *s, const char *spec,
                                       const nsso_crypto *crypto,
                                       apr_size_t max_value,
                                       apr_global_mutex_t *mutex,
                                       nsso_store **out, const char **err)
{
    socache_store *st = apr_pcalloc(pconf, sizeof(*st));
    const char *colon = strchr(spec, ':'), *name, *args, *cerr;
    struct ap_socache_hints hints = { KEY_LEN, (apr_size_t)max_value * 2, 0 };
    nsso_store *store;
    apr_status_t rv;

    name = colon ? apr_pstrmemdup(ptemp, spec, colon - spec) : spec;
    args = colon ? colon + 1 : NULL;
    st->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                      AP_SOCACHE_PROVIDER_VERSION);
    if (!st->provider) {
        *err = apr_psprintf(pconf, "NomisSSOSessionStore: no socache provider '%s' "
                            "(load mod_socache_%s)", name, name);
        return APR_EINVAL;
    }
    cerr = st->provider->create(&st->instance, args, ptemp, pconf);
    if (cerr) {
        *err = apr_psprintf(pconf, "NomisSSOSessionStore: socache %s: %s", name, cerr);
        return APR_EINVAL;
    }
    rv = st->provider->init(st->instance, "mod_nomis_sso", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(pconf, "NomisSSOSessionStore: socache %s failed to start", name);
        return rv;
    }
    apr_pool_cleanup_register(pconf, st, destroy_instance, apr_pool_cleanup_null);
    st->s = s;
    st->crypto = crypto;
    st->max_value = max_value;
    st->mutex = mutex;
    st->always_lock = (st->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) != 0;
    store = apr_pcalloc(pconf, sizeof(*store));
    store->ops = &socache_ops;
    store->impl = st;
    *out = store;
    return APR_SUCCESS;
}
