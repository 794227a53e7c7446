/* request.c - the module's per-request state (see request.h). */
#include "request.h"
#include "cookie.h"
#include "util.h"

#include <http_config.h>
#include <apr_strings.h>

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

const char *nsso_req_cookie(request_rec *r, const char *name)
{
    nsso_req *q = nsso_req_of(r);
    const char *header = apr_table_get(r->headers_in, "Cookie");

    if (q->one_done && q->one_header == header && q->one_name == name)
        return q->one_value;
    q->one_value = q->cookies && q->cookie_header == header
                   ? nsso_cookie_get(q->cookies, name, NULL)
                   : nsso_cookie_find(r->pool, header, name, NULL);
    q->one_header = header;
    q->one_name = name;
    q->one_done = 1;
    return q->one_value;
}

const char *nsso_request_id(request_rec *r)
{
    nsso_req *q = nsso_req_of(r);
    const char *u;
    unsigned char b[6];

    if (q->request_id)
        return q->request_id;
    u = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    if (!u && r->prev) /* an ErrorDocument's request: the original's */
        u = apr_table_get(r->prev->subprocess_env, "UNIQUE_ID");
    if (u && *u)
        q->request_id = apr_pstrndup(r->pool, u, 64);
    else if (apr_generate_random_bytes(b, sizeof(b)) == APR_SUCCESS)
        q->request_id = nsso_b64url_encode(r->pool, b, sizeof(b));
    else /* no randomness: the time still narrows the search */
        q->request_id = apr_psprintf(r->pool, "t%" APR_TIME_T_FMT, r->request_time);
    return q->request_id;
}
