/* request.c - the module's per-request state (see request.h). */
#include "request.h"
#include "cookie.h"

#include <http_config.h>

nsso_req *nsso_req_of(request_rec *r)
{
    nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);

    if (!q) {
        q = apr_pcalloc(r->pool, sizeof(*q));
        ap_set_module_config(r->request_config, &nomis_sso_module, q);
    }
    return q;
}

const nsso_session_t *nsso_request_session(const request_rec *r)
{
    for (; r; r = r->main ? r->main : r->prev) {
        const nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);
        if (q && q->session)
            return q->session;
    }
    return NULL;
}

const apr_array_header_t *nsso_req_cookies(request_rec *r)
{
    nsso_req *q = nsso_req_of(r);
    const char *header = apr_table_get(r->headers_in, "Cookie");

    if (!q->cookies || q->cookie_header != header) {
        q->cookies = nsso_cookie_parse(r->pool, header); /* never NULL */
        q->cookie_header = header;
    }
    return q->cookies;
}
