/* scrape.c - SetHandler nomis-sso-metrics: the counters of every child
 * (metrics.c) and the session store's gauges, in the Prometheus text
 * format 0.0.4. Who may scrape is ordinary httpd access control
 * (Require ip ...) on the handler's <Location>. */
#include "scrape.h"
#include "metrics.h"
#include "runtime.h"

#include <http_protocol.h>
#include <http_request.h>

int nsso_scrape_handler(request_rec *r)
{
    nsso_store *store;
    nsso_store_stats_t st;
    const char *text;

    if (!r->handler || r->handler[0] != NSSO_METRICS_HANDLER[0]
        || strcmp(r->handler, NSSO_METRICS_HANDLER))
        return DECLINED;
    store = nsso_runtime_store();
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!nsso_metrics_on()) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(1310) "metrics requested but "
                      "NomisSSOMetrics is Off");
        return HTTP_NOT_FOUND;
    }
    text = nsso_metrics_render(r->pool, store && nsso_store_stats(store, &st) == APR_SUCCESS
                                        ? &st : NULL);
    ap_set_content_type(r, "text/plain; version=0.0.4");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rputs(text, r);
    return OK;
}
