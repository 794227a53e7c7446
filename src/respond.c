/* respond.c - the building blocks of the module's own answers: the
 * request's scheme and base URL as the browser sees them (honouring
 * X-Forwarded-* only with NomisSSOTrustForwardedHeaders On), Set-Cookie with
 * the right flags (the only writer of cookies; reading is cookie.c's),
 * Cache-Control: no-store, and the one renderer of every HTML page the
 * module writes (error pages, the store-down page, the denial page, the
 * sign-out confirmation, the password form): same headers, same skeleton,
 * an HMPPS service look. A refusal (an error status, no form) gives way to
 * the sysadmin's ErrorDocument for its status, as httpd's own refusals do;
 * the module's own refusal pages show and log a request id for the service
 * desk. */
#include "respond.h"
#include "request.h"
#include "metrics.h"

#include <http_core.h>
#include <http_protocol.h>
#include <util_script.h>
#include <mod_core.h>   /* ap_response_code_string: the ErrorDocument in force */
#include <apr_strings.h>
#include <apr_lib.h>
#include <stdlib.h>
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
    /* an error answer swaps err_headers_out into headers_out: once only
     * (at check_authn nothing has set any yet) */
    if (!apr_is_empty_table(r->headers_out))
        apr_table_unset(r->headers_out, "Cache-Control");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* ---- pages ---------------------------------------------------------------- */

#define PAGE_CSP "default-src 'none'; style-src 'unsafe-inline'"

void nsso_page_headers(request_rec *r, int flags)
{
    const char *csp = PAGE_CSP;

    nsso_no_store(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    if (flags & NSSO_PAGE_FORM) {
        /* a form in a frame can be clicked through by the framing page */
        apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
        csp = (flags & NSSO_PAGE_FORM_SELF) == NSSO_PAGE_FORM_SELF
              ? PAGE_CSP "; form-action 'self'; frame-ancestors 'none'"
              : PAGE_CSP "; frame-ancestors 'none'";
    }
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", csp);
}

/* An HMPPS service page: the black header bar, plain type, GOV.UK blue
 * links; inline, as the CSP allows styles but nothing fetched. Built to
 * WCAG 2.2 AA (tests/integration/test_accessibility.py): contrast of at
 * least 4.5:1, a yellow focus marker on every control, inputs and headings
 * that reflow at 320 CSS px (400 % zoom), nothing that needs JavaScript. */
#define PAGE_STYLE \
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" \
    "<style>body{margin:0;font-family:arial,sans-serif;font-size:19px;line-height:1.4;" \
    "color:#0b0c0c;background:#fff}.nsso-header{background:#0b0c0c;color:#fff;" \
    "border-bottom:10px solid #1d70b8;padding:12px 0;font-weight:700}" \
    ".nsso-w{max-width:960px;margin:0 auto;padding:0 15px}main.nsso-w{padding-top:30px;" \
    "padding-bottom:40px}h1{font-size:36px;line-height:1.15;margin:0 0 25px}" \
    "a{color:#1d70b8;overflow-wrap:break-word}" \
    "a:focus{outline:3px solid #fd0;background:#fd0;color:#0b0c0c;" \
    "box-shadow:0 4px #0b0c0c;text-decoration:none}" \
    "label{font-weight:700}input{font:inherit;box-sizing:border-box;width:100%;" \
    "max-width:20em;margin-top:5px;padding:5px;border:2px solid #0b0c0c;border-radius:0}" \
    "input:focus{outline:3px solid #fd0;outline-offset:0;box-shadow:inset 0 0 0 2px #0b0c0c}" \
    "button{font:inherit;color:#fff;background:#00703c;border:2px solid transparent;" \
    "border-radius:0;box-shadow:0 2px 0 #002d18;padding:8px 12px;cursor:pointer}" \
    "button:hover{background:#005a30}button:focus{outline:3px solid transparent;" \
    "color:#0b0c0c;background:#fd0;border-color:#fd0;box-shadow:0 2px 0 #0b0c0c}" \
    ".nsso-error{border-left:5px solid #d4351c;padding:5px 0 5px 15px}" \
    ".nsso-links a{margin-right:20px;display:inline-block}.nsso-ref{color:#505a5f;" \
    "font-size:16px;margin-top:40px}" \
    "@media (max-width:640px){body{font-size:16px}h1{font-size:27px}}</style>"

const char *nsso_page_html(apr_pool_t *p, const char *title, const char *body)
{
    return apr_pstrcat(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>", ap_escape_html(p, title), "</title>", PAGE_STYLE,
                       "</head>\n<body>\n<header class=\"nsso-header\"><div class=\"nsso-w\">"
                       "HM Prison and Probation Service</div></header>\n"
                       "<main class=\"nsso-w\">\n", body, "</main>\n</body></html>\n", NULL);
}

const char *nsso_sysadmin_page(request_rec *r, int status)
{
    return ap_response_code_string(r, ap_index_of_response(status));
}

const char *nsso_page_reference(request_rec *r)
{
    return apr_pstrcat(r->pool, "<p class=\"nsso-ref\" id=\"nsso-ref\">If you contact the "
                       "service desk, give them this reference: <strong>",
                       ap_escape_html(r->pool, nsso_request_id(r)), "</strong></p>\n", NULL);
}

void nsso_page_log_refusal(request_rec *r, int status, const char *title)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(1520) "refused with %d (%s): "
                  "request id %s", status, title, nsso_request_id(r));
}

int nsso_page_send(request_rec *r, int status, const char *title, const char *body,
                   int flags)
{
    if (status >= HTTP_BAD_REQUEST && !(flags & NSSO_PAGE_FORM)) {
        /* a refusal: the sysadmin's ErrorDocument wins, as for httpd's own */
        nsso_page_log_refusal(r, status, title);
        if (nsso_sysadmin_page(r, status)) {
            nsso_no_store(r);
            return status;
        }
        body = apr_pstrcat(r->pool, body, nsso_page_reference(r), NULL);
    }
    r->status = status;
    nsso_page_headers(r, flags);
    if (!r->header_only)
        ap_rputs(nsso_page_html(r->pool, title, body), r);
    return OK;
}

/* The heading and paragraph of a short page. */
static const char *short_body(apr_pool_t *p, const char *title, const char *message,
                              int back_link)
{
    return apr_pstrcat(p, "<h1>", ap_escape_html(p, title), "</h1>\n<p>",
                       ap_escape_html(p, message), "</p>\n",
                       back_link ? "<p><a href=\"/\">Return to the service</a></p>\n" : "",
                       NULL);
}

int nsso_error_page(request_rec *r, int status, const char *title, const char *message)
{
    return nsso_page_send(r, status, title, short_body(r->pool, title, message, 1), 0);
}

#define STORE_DOWN_TITLE "Service temporarily unavailable"
#define STORE_DOWN_TEXT "Signed-in sessions cannot be checked at the moment. " \
                        "Please try again in a minute."

int nsso_send_json(request_rec *r, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(doc);
    if (!text)
        return HTTP_INTERNAL_SERVER_ERROR;
    nsso_no_store(r);
    r->status = status;
    ap_set_content_type(r, "application/json");
    if (!r->header_only)
        ap_rputs(text, r);
    free(text);
    return OK;
}

int nsso_store_down_page(request_rec *r)
{
    nsso_metrics_count(NSSO_M_STORE_UNAVAILABLE);
    apr_table_setn(r->err_headers_out, "Retry-After", "30");
    return nsso_error_page(r, HTTP_SERVICE_UNAVAILABLE, STORE_DOWN_TITLE, STORE_DOWN_TEXT);
}

int nsso_store_down_status(request_rec *r)
{
    nsso_metrics_count(NSSO_M_STORE_UNAVAILABLE);
    apr_table_setn(r->err_headers_out, "Retry-After", "30");
    nsso_page_log_refusal(r, HTTP_SERVICE_UNAVAILABLE, STORE_DOWN_TITLE);
    if (nsso_sysadmin_page(r, HTTP_SERVICE_UNAVAILABLE)) {
        nsso_no_store(r);
        return HTTP_SERVICE_UNAVAILABLE; /* httpd serves the ErrorDocument */
    }
    nsso_page_headers(r, 0);
    /* httpd labels a custom response iso-8859-1 unless told not to; the
     * page's own <meta charset> then says utf-8 */
    apr_table_setn(r->subprocess_env, "suppress-error-charset", "1");
    ap_custom_response(r, HTTP_SERVICE_UNAVAILABLE,
                       nsso_page_html(r->pool, STORE_DOWN_TITLE,
                                      apr_pstrcat(r->pool,
                                                  short_body(r->pool, STORE_DOWN_TITLE,
                                                             STORE_DOWN_TEXT, 0),
                                                  nsso_page_reference(r), NULL)));
    return HTTP_SERVICE_UNAVAILABLE;
}

/* ---- what the client can follow ------------------------------------------------ */

int nsso_wants_html(request_rec *r)
{
    const char *xrw = apr_table_get(r->headers_in, "X-Requested-With");
    const char *mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
    const char *accept = apr_table_get(r->headers_in, "Accept");

    if (xrw && !strcasecmp(xrw, "XMLHttpRequest"))
        return 0;
    if (mode && strcasecmp(mode, "navigate"))
        return 0;
    if (accept && !ap_strstr_c(accept, "text/html") && !ap_strstr_c(accept, "*/*"))
        return 0;
    return r->method_number == M_GET;
}

/* ---- forms ----------------------------------------------------------------- */

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
