/* respond.c - the building blocks of the module's own answers: the
 * request's scheme and base URL as the browser sees them (honouring
 * X-Forwarded-* only with NomisSSOTrustForwardedHeaders On), cookies with
 * the right flags, Cache-Control: no-store, and the short HTML pages staff
 * see when something cannot be done. */
#include "respond.h"

#include <http_core.h>
#include <http_protocol.h>
#include <util_script.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <string.h>

/* First value of a (possibly comma-separated) X-Forwarded-* header, or
 * NULL when absent or holding characters a host/proto/port cannot have. */
static const char *forwarded(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_in, name), *s;
    char *first;

    if (!v)
        return NULL;
    first = apr_pstrndup(r->pool, v, strcspn(v, ","));
    apr_collapse_spaces(first, first);
    for (s = first; *s; s++)
        if (!apr_isalnum(*s) && !strchr(".-:[]", *s))
            return NULL;
    return *first ? first : NULL;
}

static const char *request_scheme(request_rec *r)
{
    if (nsso_conf_trust_forwarded(nsso_srv(r->server))) {
        const char *proto = forwarded(r, "X-Forwarded-Proto");
        if (proto && (!strcasecmp(proto, "https") || !strcasecmp(proto, "http")))
            return apr_pstrdup(r->pool, proto);
    }
    return ap_http_scheme(r);
}

int nsso_is_https(request_rec *r)
{
    return !strcasecmp(request_scheme(r), "https");
}

/* scheme://host[:port] of this request, as the browser sees it. */
const char *nsso_request_base(request_rec *r)
{
    const char *scheme = request_scheme(r), *host = NULL, *port = NULL;

    if (nsso_conf_trust_forwarded(nsso_srv(r->server))) {
        host = forwarded(r, "X-Forwarded-Host");
        port = forwarded(r, "X-Forwarded-Port");
    }
    if (!host) {
        apr_port_t p = ap_get_server_port(r);
        host = ap_get_server_name_for_url(r);
        if (!ap_is_default_port(p, r) || strcasecmp(scheme, ap_http_scheme(r)))
            port = apr_itoa(r->pool, p);
    }
    if (port && !strchr(host, ']') && strchr(host, ':'))
        port = NULL; /* X-Forwarded-Host already carries a port */
    if (port && ((!strcasecmp(scheme, "https") && !strcmp(port, "443"))
                 || (!strcasecmp(scheme, "http") && !strcmp(port, "80"))))
        port = NULL;
    return apr_pstrcat(r->pool, scheme, "://", host, port ? ":" : "", port ? port : "", NULL);
}

void nsso_add_cookie(request_rec *r, const nsso_srv_conf *c, const char *name,
                       const char *value, long max_age, nsso_samesite_t samesite)
{
    nsso_cookie_opts_t o = { "/", NULL, max_age, 0, 1, samesite };
    const char *hdr;

    o.secure = nsso_is_https(r) || samesite == NSSO_SAMESITE_NONE;
    hdr = nsso_cookie_build(r->pool, name, value, &o);
    if (hdr)
        apr_table_addn(r->err_headers_out, "Set-Cookie", hdr);
}

void nsso_clear_cookie(request_rec *r, const nsso_srv_conf *c, const char *name)
{
    nsso_add_cookie(r, c, name, "", 0, NSSO_SAMESITE_LAX);
}

void nsso_no_store(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* A short HTML page with the given status; the handler then returns OK. */
int nsso_error_page(request_rec *r, int status, const char *title,
                      const char *message)
{
    nsso_no_store(r);
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    if (r->header_only)
        return OK;
    ap_rprintf(r,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>%s</title></head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n"
        "<p><a href=\"/\">Return to the service</a></p>\n</body></html>\n",
        ap_escape_html(r->pool, title), ap_escape_html(r->pool, title),
        ap_escape_html(r->pool, message));
    return OK;
}


apr_table_t *nsso_read_form(request_rec *r)
{
    apr_table_t *t = apr_table_make(r->pool, 4);
    apr_array_header_t *pairs = NULL;
    int i;

    if (ap_parse_form_data(r, NULL, &pairs, 16, 16 * 4096) != OK || !pairs)
        return t;
    for (i = 0; i < pairs->nelts; i++) {
        ap_form_pair_t *pair = &APR_ARRAY_IDX(pairs, i, ap_form_pair_t);
        apr_off_t len;
        apr_size_t size;
        char *buf;

        apr_brigade_length(pair->value, 1, &len);
        if (len < 0 || len > 4096 || apr_table_get(t, pair->name))
            continue;
        size = (apr_size_t)len;
        buf = apr_palloc(r->pool, size + 1);
        apr_brigade_flatten(pair->value, buf, &size);
        buf[size] = '\0';
        apr_table_setn(t, pair->name, buf);
    }
    return t;
}
