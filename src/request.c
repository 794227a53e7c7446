/* request.c - the module's per-request state (see request.h). */
#include "request.h"
#include "cookie.h"
#include "util.h"

#include <http_config.h>
#include <apr_strings.h>

nsso_req *nsso_req_make(request_rec *r)
{
    nsso_req *q = apr_pcalloc(r->pool, sizeof(*q));

    ap_set_module_config(r->request_config, &nomis_sso_module, q);
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

/* The request's (first) Cookie header, as apr_table_get gives it. The
 * early look and check_authn both ask (and nsso_req_cookies): after the
 * first time, the entry found then, still in its place with the same name
 * and value, is the answer (a module that set, unset or added headers
 * since moves or changes it). */
static const char *cookie_header(request_rec *r, nsso_req *q)
{
    const apr_array_header_t *a = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    int i;

    if (q->cookie_elts == e && q->cookie_at < a->nelts
        && e[q->cookie_at].key == q->cookie_key && e[q->cookie_at].val == q->cookie_val)
        return q->cookie_val;
    for (i = 0; i < a->nelts; i++)
        if (e[i].key && (e[i].key[0] | 0x20) == 'c' && !strcasecmp(e[i].key, "Cookie")) {
            q->cookie_elts = e;
            q->cookie_at = i;
            q->cookie_key = e[i].key;
            q->cookie_val = e[i].val;
            return q->cookie_val;
        }
    q->cookie_elts = NULL;
    return NULL;
}

const apr_array_header_t *nsso_req_cookies(request_rec *r)
{
    nsso_req *q = nsso_req_of(r);
    const char *header = cookie_header(r, q);

    if (!q->cookies || q->cookie_header != header) {
        q->cookies = nsso_cookie_parse(r->pool, header); /* never NULL */
        q->cookie_header = header;
    }
    return q->cookies;
}

const char *nsso_req_cookie(request_rec *r, const char *name, int *b64url)
{
    nsso_req *q = nsso_req_of(r);
    const char *header = cookie_header(r, q);

    if (!q->one_done || q->one_header != header || q->one_name != name) {
        q->one_b64url = 0;
        q->one_value = q->cookies && q->cookie_header == header
                       ? nsso_cookie_get(q->cookies, name, NULL)
                       : nsso_cookie_find(r->pool, header, name, NULL, &q->one_b64url);
        q->one_header = header;
        q->one_name = name;
        q->one_done = 1;
    }
    if (b64url)
        *b64url = q->one_b64url;
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
