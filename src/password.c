/* password.c - the password-grant fallback HMPPS named for when NOMIS SSO
 * is unavailable: the module serves its own sign-in form and sends
 * grant_type=password to the token endpoint; after that the session is
 * exactly like an SSO one.
 *
 * The form is only reachable from a sign-in started by the module: it
 * carries that sign-in's state, which must match the encrypted state
 * cookie (a CSRF token an attacker can neither read nor forge). It is
 * POST-only for credentials, refuses plain http unless
 * NomisSSOPasswordAllowHTTP is on, and failed attempts are limited per
 * username and per client address in the shared store. The password is
 * never logged or stored. */
#include "password.h"
#include "handlers.h"
#include "request.h"
#include "respond.h"
#include "runtime.h"
#include "util.h"
#include "identity.h"

#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_lib.h>

#define MAX_FAILS_PER_USER 5
#define MAX_FAILS_PER_ADDRESS 20
#define FAIL_WINDOW 300 /* seconds */
#define MAX_USERNAME 128
#define MAX_PASSWORD 256

const char *nsso_password_form_url(request_rec *r, const nsso_srv_conf *c,
                                   const char *state)
{
    return apr_pstrcat(r->pool, nsso_conf_password_uri(c), "?state=",
                       nsso_url_encode(r->pool, state), NULL);
}

void nsso_password_warn(server_rec *s)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "NomisSSOGrantType password: this server receives staff passwords "
                 "through its own sign-in form (the NOMIS SSO contingency); use it "
                 "only while HMPPS Auth's own sign-in is unavailable");
}

/* ---- rate limiting --------------------------------------------------------------- */

static const char *limit_key(apr_pool_t *p, const char *kind, const char *who)
{
    unsigned char digest[32];
    char *lower = apr_pstrdup(p, who), *q;

    for (q = lower; *q; q++)
        *q = (char)apr_tolower(*q);
    nsso_sha256(lower, strlen(lower), digest);
    return apr_pstrcat(p, kind, nsso_b64url_encode(p, digest, 18), NULL);
}

static int failures(request_rec *r, const char *key)
{
    char *val;
    apr_size_t len;

    apr_int64_t n;
    char *end;

    if (nsso_store_get(nsso_runtime_store(), r->pool, key, &val, &len) != APR_SUCCESS)
        return 0;
    n = apr_strtoi64(val, &end, 10);
    return *end || n < 0 || n > 1000000 ? 0 : (int)n;
}

static void count_failure(request_rec *r, const char *key)
{
    int n = failures(r, key) + 1;
    const char *v = apr_itoa(r->pool, n);

    nsso_store_set(nsso_runtime_store(), key, v, strlen(v),
                   apr_time_now() + apr_time_from_sec(FAIL_WINDOW), NULL);
}

/* ---- the form ------------------------------------------------------------------- */

static int show_form(request_rec *r, const nsso_srv_conf *c, const char *state,
                     const char *username, const char *error, int status)
{
    nsso_no_store(r);
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   "default-src 'none'; form-action 'self'; frame-ancestors 'none'");
    if (r->header_only)
        return OK;
    ap_rprintf(r,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Sign in</title></head>\n<body>\n<h1>Sign in with your NOMIS account</h1>\n"
        "%s%s%s"
        "<form id=\"signin\" method=\"post\" action=\"%s\" autocomplete=\"off\">\n"
        "<input type=\"hidden\" name=\"state\" value=\"%s\">\n"
        "<p><label for=\"username\">Username</label><br>"
        "<input id=\"username\" name=\"username\" value=\"%s\" autocomplete=\"username\" "
        "autocapitalize=\"characters\" spellcheck=\"false\" required></p>\n"
        "<p><label for=\"password\">Password</label><br>"
        "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" "
        "required></p>\n<p><button id=\"submit\" type=\"submit\">Sign in</button></p>\n"
        "</form>\n</body></html>\n",
        error ? "<p id=\"error\" role=\"alert\"><strong>" : "",
        error ? ap_escape_html(r->pool, error) : "", error ? "</strong></p>\n" : "",
        ap_escape_html(r->pool, nsso_conf_password_uri(c)),
        ap_escape_html(r->pool, state), username ? ap_escape_html(r->pool, username) : "");
    return OK;
}

static int expired_page(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "sign-in form refused: %s", why);
    return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                           "This sign-in has expired or was already used. "
                           "Please return to the service and sign in again.");
}

static int field_ok(const char *v, apr_size_t max)
{
    const char *q;

    if (!v || !*v || strlen(v) > max)
        return 0;
    for (q = v; *q; q++)
        if (apr_iscntrl(*q))
            return 0;
    return 1;
}

static int sign_in(request_rec *r, const nsso_srv_conf *c,
                   const apr_array_header_t *cookies)
{
    apr_table_t *form = nsso_read_form(r);
    const char *state = apr_table_get(form, "state"), *why = NULL;
    const char *username = apr_table_get(form, "username");
    const char *password = apr_table_get(form, "password");
    const nsso_state_t *st = nsso_signin_state(r, c, cookies, state, &why);
    const char *user_key, *addr_key, *body;
    int refused = 0, rc;

    if (!st)
        return expired_page(r, why);
    if (!field_ok(username, MAX_USERNAME) || !field_ok(password, MAX_PASSWORD))
        return show_form(r, c, state, field_ok(username, MAX_USERNAME) ? username : NULL,
                         "Enter your username and password.", HTTP_OK);
    user_key = limit_key(r->pool, "fu:", username);
    addr_key = limit_key(r->pool, "fa:", r->useragent_ip);
    if (failures(r, user_key) >= MAX_FAILS_PER_USER
        || failures(r, addr_key) >= MAX_FAILS_PER_ADDRESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "password sign-in for %s refused: "
                      "too many failed attempts", nsso_header_safe(r->pool, apr_pstrndup(r->pool, username, 64)));
        apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, FAIL_WINDOW));
        return show_form(r, c, state, username, "Too many failed attempts. Wait a few "
                         "minutes, then try again.", HTTP_TOO_MANY_REQUESTS);
    }
    body = apr_pstrcat(r->pool, "grant_type=password&username=",
                       nsso_url_encode(r->pool, username), "&password=",
                       nsso_url_encode(r->pool, password), NULL);
    rc = nsso_signin_complete(r, c, body, st, cookies, &refused);
    if (refused) {
        count_failure(r, user_key);
        count_failure(r, addr_key);
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "password sign-in refused for %s",
                      nsso_header_safe(r->pool, apr_pstrndup(r->pool, username, 64)));
        return show_form(r, c, state, username, "Wrong username or password.", HTTP_OK);
    }
    if (rc == HTTP_MOVED_TEMPORARILY) {
        nsso_store_del(nsso_runtime_store(), user_key);
        if (!nsso_signin_spend(r, c, st))
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "sign-in form state reused");
    }
    return rc;
}

int nsso_password_handle(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const char *state, *why = NULL;
    int dup = 0;

    if (!nsso_is_https(r) && c->password_allow_http != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "password sign-in refused over plain "
                      "http (NomisSSOPasswordAllowHTTP is off)");
        return nsso_error_page(r, HTTP_FORBIDDEN, "Sign-in needs a secure connection",
                               "Passwords are only accepted over https.");
    }
    if (r->method_number == M_POST)
        return sign_in(r, c, cookies);
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    state = r->args ? nsso_query_param(r->pool, r->args, "state", &dup) : NULL;
    if (dup || !nsso_signin_state(r, c, cookies, state, &why))
        return expired_page(r, why ? why : "state parameter repeated");
    return show_form(r, c, state, NULL, NULL, HTTP_OK);
}
