/* runtime.c - start-up and per-child state. The session store lives in an
 * anonymous shared memory segment allocated from the *process* pool, not
 * the configuration pool: graceful restarts re-read the configuration but
 * re-attach to the same segment, so signed-in staff stay signed in. The
 * segment is only recreated when its geometry (entries, entry size)
 * changes. */
#include "runtime.h"
#include "store_shm.h"
#include "store_socache.h"
#include "store_redis.h"
#include "realm.h"
#include "session_memo.h"
#include "endpoints.h"
#include "util.h"
#include "metrics.h"

#include <apr_shm.h>
#include <apr_strings.h>
#include <util_mutex.h>
#include <http_core.h>
#include <http_log.h>
#include <apr_atomic.h>

#define SHM_USERDATA_KEY "mod_nomis_sso:shm"
#define HOST_KEY_USERDATA_KEY "mod_nomis_sso:host-key"
#define MISSING_LOG_INTERVAL 60 /* seconds between "directive missing" lines */
#define JWKS_DEFAULT_MAX_AGE apr_time_from_sec(3600)

/* Kept in the process pool's userdata across configuration cycles. */
typedef struct {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    apr_size_t entries, slot_size;
} shm_holder;

static nsso_store *session_store;
static apr_global_mutex_t *store_mutex;
static apr_status_t store_setup(apr_pool_t *pconf, server_rec *s);

nsso_store *nsso_runtime_store(void)
{
    return session_store;
}

int nsso_runtime_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    apr_status_t rv = ap_mutex_register(pconf, NSSO_SHM_MUTEX_TYPE, NULL,
                                        APR_LOCK_DEFAULT, 0);
    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, rv, plog,
                      NSSO_LOGNO(0001) "mod_nomis_sso: cannot register the %s mutex type",
                      NSSO_SHM_MUTEX_TYPE);
        return !OK;
    }
    session_store = NULL;
    return OK;
}

/* Can sign users in (every required directive set). */
static int server_configured(const nsso_srv_conf *c)
{
    return !nsso_conf_missing(c);
}

/* Can check bearer tokens: HMPPS Auth named (or its issuer and keys). */
static int server_bearer_capable(const nsso_srv_conf *c)
{
    return !nsso_conf_bearer_missing(c);
}

static shm_holder *holder_get(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *v = NULL;

    apr_pool_userdata_get(&v, SHM_USERDATA_KEY, pp);
    if (!v) {
        v = apr_pcalloc(pp, sizeof(shm_holder));
        apr_pool_userdata_set(v, SHM_USERDATA_KEY, apr_pool_cleanup_null, pp);
    }
    return v;
}

/* Create (or keep) the segment and mutex, then bind the store to it. */
static apr_status_t store_setup(apr_pool_t *pconf, server_rec *s)
{
    const nsso_global_conf *g = nsso_global();
    shm_holder *h = holder_get(s);
    apr_size_t size = nsso_shm_store_size(g->cache_entries, g->cache_entry_size);
    apr_status_t rv;
    int init = 0;

    if (h->shm && (h->entries != (apr_size_t)g->cache_entries
                   || h->slot_size != (apr_size_t)g->cache_entry_size)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     NSSO_LOGNO(0002) "session store geometry changed (NomisSSOSessionCacheEntries/"
                     "NomisSSOSessionCacheEntrySize): existing sessions are dropped");
        apr_shm_destroy(h->shm);
        h->shm = NULL;
    }
    for (;;) {
        if (!h->shm) {
            rv = apr_shm_create(&h->shm, size, NULL, s->process->pool);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                             NSSO_LOGNO(0003) "cannot create %" APR_SIZE_T_FMT " bytes of shared memory "
                             "for the session store (NomisSSOSessionCacheEntries x "
                             "NomisSSOSessionCacheEntrySize)", size);
                return rv;
            }
            h->entries = g->cache_entries;
            h->slot_size = g->cache_entry_size;
            init = 1;
        }
        rv = nsso_shm_store_attach(pconf, apr_shm_baseaddr_get(h->shm), size,
                                   h->entries, h->slot_size, init, &session_store);
        if (rv != APR_EMISMATCH || init)
            break;
        apr_shm_destroy(h->shm);
        h->shm = NULL;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(0004) "cannot initialise the session store");
        return rv;
    }
    store_mutex = NULL; /* the segment has its own lock */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 NSSO_LOGNO(0005) "session store: %d entries of %d bytes (%" APR_SIZE_T_FMT " bytes), %s",
                 g->cache_entries, g->cache_entry_size, size,
                 init ? "created" : "kept from the previous generation");
    return APR_SUCCESS;
}

/* The mutex alone (socache stores serialise add() and non-MP-safe engines). */
static apr_status_t mutex_setup(server_rec *s)
{
    shm_holder *h = holder_get(s);
    apr_status_t rv = APR_SUCCESS;

    if (!h->mutex)
        rv = ap_global_mutex_create(&h->mutex, NULL, NSSO_SHM_MUTEX_TYPE, NULL,
                                    s, s->process->pool, 0);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(0006) "cannot create the session store mutex");
    store_mutex = h->mutex;
    return rv;
}

/* With only bearer-only servers there is no passphrase: cached tokens in
 * a shared engine are then sealed with a random key of this parent process
 * (kept across graceful restarts). Other hosts cannot read them and check
 * such tokens themselves: a cache, not shared sessions. */
static const nsso_crypto *host_crypto(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *v = NULL;
    const char *pass[1];
    unsigned char raw[32];
    nsso_crypto *crypto = NULL;
    const char *err = NULL;

    apr_pool_userdata_get(&v, HOST_KEY_USERDATA_KEY, pp);
    if (!v) {
        if (nsso_random_bytes(raw, sizeof(raw)) != APR_SUCCESS)
            return NULL;
        v = (void *)nsso_b64url_encode(pp, raw, sizeof(raw));
        apr_pool_userdata_set(v, HOST_KEY_USERDATA_KEY, apr_pool_cleanup_null, pp);
    }
    pass[0] = v;
    if (nsso_crypto_create_cached(pconf, pp, pass, 1, &crypto, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, NSSO_LOGNO(0016) "cannot make this host's "
                     "store key: %s", err ? err : "unknown error");
        return NULL;
    }
    return crypto;
}

/* The keys of what a shared engine holds: the first configured server's
 * passphrase (all hosts sharing the engine need it), else this host's own. */
static const nsso_crypto *engine_crypto(apr_pool_t *pconf, server_rec *main_s)
{
    const nsso_crypto *crypto = NULL;
    server_rec *s;

    for (s = main_s; s && !crypto; s = s->next)
        crypto = nsso_srv(s)->crypto;
    return crypto ? crypto : host_crypto(pconf, main_s);
}

/* Sessions in a shared engine: keys and values sealed (engine_crypto). */
static apr_status_t socache_setup(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *main_s)
{
    const nsso_global_conf *g = nsso_global();
    const nsso_crypto *crypto = engine_crypto(pconf, main_s);
    const char *err = NULL;
    apr_status_t rv;

    if (!crypto)
        return APR_EGENERAL;
    if ((rv = mutex_setup(main_s)) != APR_SUCCESS)
        return rv;
    rv = nsso_socache_store_create(pconf, ptemp, main_s, g->store_spec, crypto,
                                   g->cache_entry_size, store_mutex, &session_store, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, main_s, NSSO_LOGNO(0007) "%s", err);
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_s, NSSO_LOGNO(0008) "session store: socache %s",
                 g->store_spec);
    return APR_SUCCESS;
}

/* Sessions in Redis through our own client (TLS, ACL users), sealed like
 * socache's with the first configured server's passphrase. */
static apr_status_t redis_setup(apr_pool_t *pconf, server_rec *main_s)
{
    const nsso_global_conf *g = nsso_global();
    const nsso_crypto *crypto = engine_crypto(pconf, main_s);
    const char *err = NULL;
    apr_status_t rv;

    if (!crypto)
        return APR_EGENERAL;
    rv = nsso_redis_store_create(pconf, main_s, &g->redis, crypto, g->cache_entry_size,
                                 &session_store, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, main_s, NSSO_LOGNO(0014) "%s", err);
        return rv;
    }
    store_mutex = NULL;
    /* once per start (not in httpd's first, trial pass over the config) */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
        nsso_redis_store_probe(session_store);
    return APR_SUCCESS;
}

/* What decides trust in server c, as its realm id. */
static const char *server_realm(apr_pool_t *p, const nsso_srv_conf *c)
{
    nsso_realm_facts_t f = { 0 };

    f.auth_url = c->auth_url;
    f.internal_url = nsso_conf_internal_url(c);
    f.issuer = nsso_conf_issuer(p, c);
    f.client_id = c->client_id;
    f.algs = c->algs ? apr_array_pstrcat(p, c->algs, ' ') : "RS256";
    f.jwks_source = apr_psprintf(p, "ca=%s verify=%d", c->ca_file ? c->ca_file : "",
                                 c->ssl_verify);
    if (c->jwks_url) /* (appended: realms without it stay as they were) */
        f.jwks_source = apr_pstrcat(p, f.jwks_source, " jwks=", c->jwks_url, NULL);
    return nsso_realm_derive(p, &f);
}

int nsso_runtime_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *main_s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    server_rec *s;
    int any = 0;
    apr_status_t rv;

    for (s = main_s; s; s = s->next) {
        nsso_srv_conf *c = nsso_srv(s);
        const char *err = NULL;

        if (!server_bearer_capable(c))
            continue;
        if (!any && nsso_http_global_init() != APR_SUCCESS) { /* before discovery */
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main_s, NSSO_LOGNO(0011)
                         "libcurl initialisation failed");
            return !OK;
        }
        c->realm = server_realm(pconf, c);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, NSSO_LOGNO(0010) "realm %s", c->realm);
        nsso_endpoints_init(pconf, ptemp, s, seen);
        any = 1;
        if (!server_configured(c))
            continue; /* bearer tokens only: no keys of its own */
        /* the process pool outlives configuration passes: each passphrase
         * is stretched once per parent, not at every (graceful) restart */
        rv = nsso_crypto_create_cached(pconf, s->process->pool, c->passphrases,
                                       c->npassphrases, &c->crypto, &err);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         NSSO_LOGNO(0009) "NomisSSOCryptoPassphrase: cannot derive keys: %s",
                         err ? err : "unknown error");
            return !OK;
        }
    }
    if (!any)
        return OK;
    if (nsso_global()->redis.url)
        return redis_setup(pconf, main_s) == APR_SUCCESS ? OK : !OK;
    if (nsso_global()->store_spec)
        return socache_setup(pconf, ptemp, main_s) == APR_SUCCESS ? OK : !OK;
    return store_setup(pconf, main_s) == APR_SUCCESS ? OK : !OK;
}

/* JWKS fetch callback (ctx: the server): the discovery document first, if
 * due, then GET the JWKS endpoint in use. While discovery has not
 * succeeded the keys are kept only NomisSSOJWKSRefetchInterval, so the
 * next fetch (one thread, others go on with these keys) retries it. */
static apr_status_t fetch_jwks(void *ctx, apr_pool_t *p, char **body,
                               apr_size_t *len, apr_interval_time_t *max_age,
                               const char **err)
{
    server_rec *s = ctx;
    const nsso_srv_conf *c = nsso_srv(s);
    int discovered = nsso_endpoints_refresh(p, s);
    const char *url = nsso_endpoints_jwks(p, c);
    nsso_http_opts_t opts;
    nsso_http_response_t resp;

    nsso_conf_http_opts(c, &opts);
    if (nsso_http_get(p, &opts, url, NULL, &resp, err) != APR_SUCCESS)
        return APR_EGENERAL;
    if (resp.status != 200) {
        *err = apr_psprintf(p, "JWKS at %s answered HTTP %ld", url, resp.status);
        return APR_EGENERAL;
    }
    *body = resp.body;
    *len = resp.len;
    *max_age = resp.max_age;
    if (!discovered) {
        apr_interval_time_t retry = apr_time_from_sec(nsso_conf_jwks_refetch(c));
        if (*max_age <= 0 || *max_age > retry)
            *max_age = retry;
    }
    nsso_metrics_count(NSSO_M_JWKS_REFRESHES);
    return APR_SUCCESS;
}

void nsso_runtime_child_init(apr_pool_t *pchild, server_rec *main_s)
{
    server_rec *s;
    apr_status_t rv;

    if (store_mutex) {
        rv = apr_global_mutex_child_init(&store_mutex,
                                         apr_global_mutex_lockfile(store_mutex),
                                         pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, main_s,
                         NSSO_LOGNO(0012) "cannot attach to the session store mutex in this child");
    }
    if (session_store && (rv = nsso_session_memo_init(pchild)) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, main_s, NSSO_LOGNO(0017) "no memo of parsed "
                     "sessions in this child: each request parses its session record");
    if (session_store && (rv = nsso_http_child_init(pchild)) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, main_s, NSSO_LOGNO(0015) "connections to HMPPS Auth "
                     "will not be reused in this child");
    for (s = main_s; s; s = s->next) {
        nsso_srv_conf *c = nsso_srv(s);
        if (!c->realm)
            continue;
        nsso_endpoints_child_init(pchild, c);
        rv = nsso_jwks_cache_create(pchild, fetch_jwks, s, JWKS_DEFAULT_MAX_AGE,
                                    apr_time_from_sec(nsso_conf_jwks_refetch(c)),
                                    &c->jwks);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(0013) "cannot create the JWKS cache");
    }
}

int nsso_runtime_ready(const nsso_srv_conf *c)
{
    return c->crypto && c->jwks && session_store;
}

int nsso_runtime_bearer_ready(const nsso_srv_conf *c)
{
    return c->realm && c->jwks && session_store;
}

/* At most once a minute per server and process: a .htaccess file can ask
 * for the module on every request. */
static int missing_log_due(nsso_srv_conf *c)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&c->missing_logged);

    if (last && now - last < MISSING_LOG_INTERVAL)
        return 0;
    return apr_atomic_cas32(&c->missing_logged, now, last) == last;
}

int nsso_runtime_check_usable(request_rec *r, nsso_srv_conf *c, int bearer_only)
{
    const char *missing;

    if (bearer_only ? nsso_runtime_bearer_ready(c) : nsso_runtime_ready(c))
        return OK;
    missing = bearer_only ? nsso_conf_bearer_missing(c) : nsso_conf_missing(c);
    if (missing_log_due(c)) {
        if (missing)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0200) "AuthType %s is used "
                          "(for %s) but %s is not set for this server: every such request "
                          "gets 500 (logged at most once a minute)",
                          bearer_only ? NSSO_BEARER_AUTH_TYPE : NSSO_AUTH_TYPE,
                          ap_escape_logitem(r->pool, r->uri), missing);
        else
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0202) "AuthType %s is used "
                          "but the module did not start for this server (see the start-up log)",
                          bearer_only ? NSSO_BEARER_AUTH_TYPE : NSSO_AUTH_TYPE);
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}
