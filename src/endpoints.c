/* endpoints.c - owns each server's HMPPS Auth endpoints in this process:
 * the defaults (<AuthURL>/oauth/authorize, <internal>/oauth/token,
 * <internal>/.well-known/jwks.json), and the discovery document that
 * replaces them: read by the parent at start-up (so no child waits for it
 * and HMPPS Auth being down delays start-up by at most NomisSSOHTTPTimeout
 * per distinct HMPPS Auth, never stops it), then again by each child
 * before a JWKS fetch, rate-limited by NomisSSOJWKSRefetchInterval. A
 * request never waits for discovery: it reads the endpoints in use.
 *
 * Explicit directives win: with NomisSSOAuthInternalURL set, the token
 * and JWKS endpoints stay under it (the document names HMPPS Auth's public
 * URLs); NomisSSOJWKSURL is the JWKS endpoint; NomisSSOIssuer is what the
 * document's issuer must be. */
#include "endpoints.h"
#include "discovery.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#define URL_MAX (NSSO_DISCOVERY_MAX_URL + 1)

struct nsso_endpoints {
    apr_thread_mutex_t *mutex;  /* children only; guards all below */
    int known;                  /* the endpoints come from a document */
    int failing;                /* the last attempt failed (logged once) */
    apr_time_t attempted;       /* last attempt; 0: never */
    char authorize[URL_MAX];
    char token[URL_MAX];
    char jwks[URL_MAX];
};

/* A start-up fetch's outcome, shared by servers with the same HMPPS Auth. */
typedef struct {
    int ok;
    nsso_discovery_t doc;
} seen_doc;

static const char *doc_url(apr_pool_t *p, const nsso_srv_conf *c)
{
    return apr_pstrcat(p, nsso_conf_internal_url(c), NSSO_DISCOVERY_PATH, NULL);
}

static void put(char *dst, const char *src)
{
    apr_cpystrn(dst, src, URL_MAX);
}

/* With no NomisSSOAuthURL (a bearer-only server named by issuer and JWKS
 * URL) only the JWKS endpoint is ever used. */
static void set_defaults(apr_pool_t *p, const nsso_srv_conf *c, struct nsso_endpoints *e)
{
    const char *internal = nsso_conf_internal_url(c);

    put(e->authorize, c->auth_url ? apr_pstrcat(p, c->auth_url, "/oauth/authorize", NULL) : "");
    put(e->token, internal ? apr_pstrcat(p, internal, "/oauth/token", NULL) : "");
    put(e->jwks, c->jwks_url ? c->jwks_url
                 : apr_pstrcat(p, internal, "/.well-known/jwks.json", NULL));
}

/* The document's endpoints, where no directive says otherwise. */
static void install(const nsso_srv_conf *c, struct nsso_endpoints *e,
                    const nsso_discovery_t *d)
{
    put(e->authorize, d->authorization_endpoint);
    if (!c->internal_url)
        put(e->token, d->token_endpoint);
    if (!c->internal_url && !c->jwks_url)
        put(e->jwks, d->jwks_uri);
    e->known = 1;
}

/* Fetch and check the document; APR_SUCCESS with *d, else *err says why
 * (naming the URL). */
static apr_status_t fetch(apr_pool_t *p, const nsso_srv_conf *c, nsso_discovery_t *d,
                          const char **err)
{
    const char *url = doc_url(p, c);
    const char *origins[3] = { c->auth_url, nsso_conf_internal_url(c), NULL };
    const char *why = NULL;
    nsso_http_opts_t opts;
    nsso_http_response_t resp;

    nsso_conf_http_opts(c, &opts);
    if (nsso_http_get(p, &opts, url, NULL, &resp, &why) != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot read %s: %s", url, why ? why : "no reason");
        return APR_EGENERAL;
    }
    if (resp.status != 200) {
        *err = apr_psprintf(p, "%s answered HTTP %ld", url, resp.status);
        return APR_EGENERAL;
    }
    if (nsso_discovery_parse(p, resp.body, resp.len, nsso_conf_issuer(p, c), origins,
                             d, &why) != APR_SUCCESS) {
        *err = apr_psprintf(p, "the document at %s is refused: %s", url, why);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static void log_failure(server_rec *s, apr_status_t rv, const char *err, int startup)
{
    /* a wrong document is a configuration problem; an unreachable one may
     * be a passing outage */
    ap_log_error(APLOG_MARK, rv == APR_EINVAL ? APLOG_ERR : APLOG_WARNING, 0, s,
                 NSSO_LOGNO(0020) "HMPPS Auth discovery: %s; %s the documented endpoints and retrying "
                 "with each JWKS fetch", err, startup ? "starting on" : "keeping");
}

void nsso_endpoints_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                         apr_hash_t *seen)
{
    nsso_srv_conf *c = nsso_srv(s);
    struct nsso_endpoints *e = apr_pcalloc(pconf, sizeof(*e));
    const char *key, *err = NULL;
    seen_doc *sd;

    c->endpoints = e;
    set_defaults(ptemp, c, e);
    if (!nsso_conf_discovery(c) || !c->auth_url /* nowhere to look */
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return; /* httpd's first pass only checks the configuration */
    key = apr_pstrcat(ptemp, doc_url(ptemp, c), " ", c->auth_url, " ",
                      nsso_conf_issuer(ptemp, c), NULL);
    sd = apr_hash_get(seen, key, APR_HASH_KEY_STRING);
    if (!sd) {
        apr_status_t rv;

        sd = apr_pcalloc(ptemp, sizeof(*sd));
        rv = fetch(ptemp, c, &sd->doc, &err);
        sd->ok = rv == APR_SUCCESS;
        if (!sd->ok)
            log_failure(s, rv, err, 1);
        else
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NSSO_LOGNO(0021) "HMPPS Auth discovery: %s read: "
                         "token endpoint %s, JWKS %s", doc_url(ptemp, c),
                         sd->doc.token_endpoint, sd->doc.jwks_uri);
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, sd);
    }
    e->attempted = apr_time_now();
    e->failing = !sd->ok;
    if (sd->ok)
        install(c, e, &sd->doc);
}

void nsso_endpoints_child_init(apr_pool_t *pchild, nsso_srv_conf *c)
{
    if (c->endpoints && !c->endpoints->mutex)
        apr_thread_mutex_create(&c->endpoints->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
}

static void lock(struct nsso_endpoints *e)
{
    if (e->mutex)
        apr_thread_mutex_lock(e->mutex);
}

static void unlock(struct nsso_endpoints *e)
{
    if (e->mutex)
        apr_thread_mutex_unlock(e->mutex);
}

int nsso_endpoints_refresh(apr_pool_t *p, server_rec *s)
{
    nsso_srv_conf *c = nsso_srv(s);
    struct nsso_endpoints *e = c->endpoints;
    apr_time_t now = apr_time_now();
    nsso_discovery_t d;
    const char *err = NULL;
    apr_status_t rv;
    int known;

    if (!e || !nsso_conf_discovery(c) || !c->auth_url)
        return 1;
    lock(e);
    known = e->known;
    if (e->attempted && now - e->attempted < apr_time_from_sec(nsso_conf_jwks_refetch(c))) {
        unlock(e);
        return known;
    }
    e->attempted = now;
    unlock(e);
    rv = fetch(p, c, &d, &err); /* no lock held: readers go on meanwhile */
    lock(e);
    if (rv == APR_SUCCESS) {
        install(c, e, &d);
        if (e->failing)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, NSSO_LOGNO(0022) "HMPPS Auth discovery: %s read "
                         "again: token endpoint %s, JWKS %s", doc_url(p, c),
                         d.token_endpoint, d.jwks_uri);
        e->failing = 0;
    }
    else {
        if (!e->failing)
            log_failure(s, rv, err, 0);
        else
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, NSSO_LOGNO(0023) "HMPPS Auth discovery: %s", err);
        e->failing = 1;
    }
    known = e->known;
    unlock(e);
    return known;
}

/* A copy of the endpoint at offset off, or NULL before post_config. */
static const char *get(apr_pool_t *p, const nsso_srv_conf *c, apr_size_t off)
{
    struct nsso_endpoints *e = c->endpoints;
    const char *v;

    if (!e)
        return NULL;
    lock(e);
    v = apr_pstrdup(p, (const char *)e + off);
    unlock(e);
    return v;
}

#define GET(p, c, field) get((p), (c), APR_OFFSETOF(struct nsso_endpoints, field))

const char *nsso_endpoints_authorize(apr_pool_t *p, const nsso_srv_conf *c)
{
    const char *v = GET(p, c, authorize);

    return v ? v : apr_pstrcat(p, c->auth_url, "/oauth/authorize", NULL);
}

const char *nsso_endpoints_token(apr_pool_t *p, const nsso_srv_conf *c)
{
    const char *v = GET(p, c, token);

    return v ? v : apr_pstrcat(p, nsso_conf_internal_url(c), "/oauth/token", NULL);
}

const char *nsso_endpoints_jwks(apr_pool_t *p, const nsso_srv_conf *c)
{
    const char *v = GET(p, c, jwks);

    if (v)
        return v;
    return c->jwks_url ? c->jwks_url
                       : apr_pstrcat(p, nsso_conf_internal_url(c), "/.well-known/jwks.json", NULL);
}
