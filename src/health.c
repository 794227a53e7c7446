/* health.c - SetHandler nomis-sso-health: the HMPPS health shape
 * ({"status":"UP","components":{"hmppsAuth":{...},"sessionStore":{...}}}),
 * 200 when both parts answer, 503 ("DOWN") when either does not. HMPPS
 * Auth is asked for its /health/ping at the internal URL; the store is
 * asked for a key that never exists (an answer "not found" proves it
 * reachable). Each child keeps one result per server for
 * NSSO_HEALTH_CACHE_SECONDS, behind a mutex held while probing, so a burst
 * of probes costs HMPPS Auth at most one ping per child. */
#include "health.h"
#include "http.h"
#include "runtime.h"
#include "store.h"

#include <http_protocol.h>
#include <http_request.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    apr_time_t at;    /* when probed; 0: never */
    int status;       /* HTTP_OK or HTTP_SERVICE_UNAVAILABLE */
    char *text;       /* the JSON answer (malloc'd, replaced on refresh) */
} health_result;

/* One child's results by server config; the mutex also serialises probes. */
static apr_hash_t *results;
static apr_pool_t *results_pool;
#if APR_HAS_THREADS
static apr_thread_mutex_t *results_mutex;
#endif

static apr_status_t free_results(void *unused)
{
    apr_hash_index_t *hi;

    (void)unused;
    for (hi = apr_hash_first(NULL, results); hi; hi = apr_hash_next(hi))
        free(((health_result *)apr_hash_this_val(hi))->text);
    results = NULL;
    return APR_SUCCESS;
}

void nsso_health_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    results_pool = pchild;
    results = apr_hash_make(pchild);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&results_mutex, APR_THREAD_MUTEX_DEFAULT, pchild)
        != APR_SUCCESS)
        results_mutex = NULL; /* then every probe asks (correct, just dearer) */
#endif
    apr_pool_cleanup_register(pchild, NULL, free_results, apr_pool_cleanup_null);
}

static long ms_since(apr_time_t t0)
{
    return (long)((apr_time_now() - t0) / 1000);
}

static json_t *component(int up, json_t *details)
{
    return json_pack("{s:s,s:o}", "status", up ? "UP" : "DOWN", "details", details);
}

/* HMPPS Auth's GET /health/ping at the internal URL: UP on a 200. */
static json_t *probe_auth(request_rec *r, const nsso_srv_conf *c, int *up)
{
    const char *url = apr_pstrcat(r->pool, nsso_conf_internal_url(c), "/health/ping", NULL);
    nsso_http_opts_t opts;
    nsso_http_response_t resp;
    const char *err = NULL;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    nsso_conf_http_opts(c, &opts);
    rv = nsso_http_get(r->pool, &opts, url, NULL, &resp, &err);
    if (rv != APR_SUCCESS) {
        *up = 0;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(1500) "health: HMPPS Auth "
                      "ping %s failed: %s", url, err ? err : "no answer");
        return component(0, json_pack("{s:s,s:i}", "error", err ? err : "no answer",
                                      "latencyMs", (json_int_t)ms_since(t0)));
    }
    *up = resp.status == HTTP_OK;
    if (!*up)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(1501) "health: HMPPS Auth "
                      "ping %s answered %ld", url, resp.status);
    return component(*up, json_pack("{s:i,s:i}", "httpStatus", (json_int_t)resp.status,
                                    "latencyMs", (json_int_t)ms_since(t0)));
}

/* The session store: a get of a key nobody writes. */
static json_t *probe_store(request_rec *r, const nsso_srv_conf *c, int *up)
{
    nsso_store *st = nsso_runtime_store();
    nsso_store_stats_t stats;
    const char *key = nsso_store_key(r->pool, NSSO_KEY_STATE_USED, c->realm, "health-probe");
    char *val;
    apr_size_t len;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv = nsso_store_get(st, r->pool, key, &val, &len);
    json_t *details;

    *up = rv == APR_SUCCESS || rv == APR_NOTFOUND;
    details = json_pack("{s:s,s:i}", "type", st->ops->name,
                        "latencyMs", (json_int_t)ms_since(t0));
    if (!*up) {
        char buf[120];
        apr_strerror(rv, buf, sizeof(buf));
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, NSSO_LOGNO(1502) "health: the session "
                      "store (%s) cannot be reached", st->ops->name);
        json_object_set_new(details, "error", json_string(buf));
    } else if (nsso_store_stats(st, &stats) == APR_SUCCESS && stats.capacity) {
        /* shm counts its own slots; socache engines keep their statistics */
        json_object_set_new(details, "capacity", json_integer((json_int_t)stats.capacity));
        json_object_set_new(details, "live", json_integer((json_int_t)stats.live));
    }
    return component(*up, details);
}

/* Probes both parts into res (text malloc'd). */
static void probe(request_rec *r, const nsso_srv_conf *c, health_result *res)
{
    int auth_up, store_up;
    json_t *auth = probe_auth(r, c, &auth_up);
    json_t *store = probe_store(r, c, &store_up);
    json_t *doc = json_pack("{s:s,s:{s:o,s:o}}", "status",
                            auth_up && store_up ? "UP" : "DOWN", "components",
                            "hmppsAuth", auth, "sessionStore", store);

    free(res->text);
    res->text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    res->status = auth_up && store_up ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE;
    res->at = apr_time_now();
}

static int fresh(const health_result *res)
{
    return res->text && apr_time_now() - res->at < apr_time_from_sec(NSSO_HEALTH_CACHE_SECONDS)
           && apr_time_now() >= res->at;
}

/* This server's result, probed now unless fresh; copied into r->pool. */
static const char *current(request_rec *r, const nsso_srv_conf *c, int *status)
{
    health_result *res, tmp = { 0, 0, NULL };
    const void *server = c; /* the key: this server's configuration */
    const char *text;

#if APR_HAS_THREADS
    if (results_mutex)
        apr_thread_mutex_lock(results_mutex);
#endif
    res = results ? apr_hash_get(results, &server, sizeof(server)) : NULL;
    if (!res && results) {
        const void **k = apr_palloc(results_pool, sizeof(server));
        *k = server;
        res = apr_pcalloc(results_pool, sizeof(*res));
        apr_hash_set(results, k, sizeof(server), res);
    }
    if (!res)
        res = &tmp; /* no child cache (not initialised): probe, keep nothing */
    if (!fresh(res))
        probe(r, c, res);
    text = res->text ? apr_pstrdup(r->pool, res->text) : NULL;
    *status = res->status;
#if APR_HAS_THREADS
    if (results_mutex)
        apr_thread_mutex_unlock(results_mutex);
#endif
    free(tmp.text);
    return text;
}

int nsso_health_handler(request_rec *r)
{
    const nsso_srv_conf *c;
    const char *text;
    int status;

    if (!r->handler || r->handler[0] != NSSO_HEALTH_HANDLER[0]
        || strcmp(r->handler, NSSO_HEALTH_HANDLER))
        return DECLINED;
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    c = nsso_srv(r->server);
    if (!nsso_runtime_ready(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(1503) "SetHandler "
                      NSSO_HEALTH_HANDLER " is used but this server has no complete NomisSSO "
                      "configuration");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    text = current(r, c, &status);
    if (!text)
        return HTTP_INTERNAL_SERVER_ERROR;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "application/json");
    r->status = status;
    if (!r->header_only)
        ap_rputs(text, r);
    return OK;
}
