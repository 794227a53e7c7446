/* handlers.c - sign-in at request time.
 *
 * check_authn (AuthType nomis-sso): a valid session cookie sets r->user;
 * otherwise the browser is sent to HMPPS Auth's /oauth/authorize with a
 * fresh state and PKCE challenge, the state riding in an encrypted cookie
 * named after it.
 *
 * The callback (NomisSSORedirectURI, served from the quick handler so it
 * needs no <Location> of its own): state checked and spent, code exchanged
 * for an access token, token verified against the JWKS, a new session
 * stored under a new random id, and the browser sent back to the local URL
 * it first asked for. Each failure is logged once here, where its cause is
 * known, and the member of staff gets a short page with the right status. */
#include "handlers.h"
#include "config.h"
#include "expose.h"
#include "identity.h"
#include "runtime.h"
#include "cookie.h"
#include "crypto.h"
#include "oauth.h"
#include "redirect.h"
#include "session.h"
#include "state.h"
#include "util.h"

#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <stdlib.h>
#include <jansson.h>

#define STATE_COOKIE_INFIX "_st_"
#define MAX_STATE_LEN 64
#define EVICTION_WARN_INTERVAL apr_time_from_sec(60)

typedef struct {
    const nsso_session_t *session;
    const char *session_id;
} nsso_req_ctx;

/* Sub-requests and internal redirects share the session of the request
 * that authenticated. */
const nsso_session_t *nsso_request_session(const request_rec *r)
{
    for (; r; r = r->main ? r->main : r->prev) {
        const nsso_req_ctx *ctx = ap_get_module_config(r->request_config,
                                                       &nomis_sso_module);
        if (ctx)
            return ctx->session;
    }
    return NULL;
}

/* ---- small helpers -------------------------------------------------------- */

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

static int is_https(request_rec *r)
{
    return !strcasecmp(request_scheme(r), "https");
}

/* scheme://host[:port] of this request, as the browser sees it. */
static const char *request_base(request_rec *r)
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

static void add_cookie(request_rec *r, const nsso_srv_conf *c, const char *name,
                       const char *value, long max_age, nsso_samesite_t samesite)
{
    nsso_cookie_opts_t o = { "/", NULL, max_age, 0, 1, samesite };
    const char *hdr;

    o.secure = is_https(r) || samesite == NSSO_SAMESITE_NONE;
    hdr = nsso_cookie_build(r->pool, name, value, &o);
    if (hdr)
        apr_table_addn(r->err_headers_out, "Set-Cookie", hdr);
}

static void clear_cookie(request_rec *r, const nsso_srv_conf *c, const char *name)
{
    add_cookie(r, c, name, "", 0, NSSO_SAMESITE_LAX);
}

static void no_store(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

static const char *state_cookie_prefix(apr_pool_t *p, const nsso_srv_conf *c)
{
    return apr_pstrcat(p, nsso_conf_cookie_name(c), STATE_COOKIE_INFIX, NULL);
}

static int state_value_ok(const char *s)
{
    apr_size_t n = 0;

    for (; s && s[n]; n++)
        if (!(apr_isalnum(s[n]) || s[n] == '-' || s[n] == '_') || n >= MAX_STATE_LEN)
            return 0;
    return n >= 22;
}

/* The absolute redirect_uri sent to HMPPS Auth. */
static const char *redirect_uri_abs(request_rec *r, const nsso_srv_conf *c)
{
    const char *path = nsso_conf_redirect_path(r->pool, c);

    if (c->redirect_uri && c->redirect_uri[0] != '/')
        return c->redirect_uri;
    return apr_pstrcat(r->pool, request_base(r), path, NULL);
}

/* A short HTML page with the given status; the handler then returns OK. */
static int error_page(request_rec *r, int status, const char *title,
                      const char *message)
{
    no_store(r);
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

/* ---- the session cookie ---------------------------------------------------- */

/* The session named by the request's cookie, or NULL. *stale is set when a
 * cookie was present but names no usable session (so it can be cleared). */
static const nsso_session_t *session_from_cookie(request_rec *r, const nsso_srv_conf *c,
                                                 const apr_array_header_t *cookies,
                                                 const char **id_out, int *stale)
{
    const char *name = nsso_conf_cookie_name(c);
    const char *id = nsso_cookie_get(cookies, name, NULL);
    nsso_store *store = nsso_runtime_store();
    nsso_session_t *s;
    const char *err = NULL;
    char *val;
    apr_size_t len;
    apr_status_t rv;

    *stale = 0;
    if (!id)
        return NULL;
    *stale = 1;
    if (!nsso_session_id_ok(id)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "malformed %s cookie ignored", name);
        return NULL;
    }
    rv = nsso_store_get(store, r->pool, nsso_session_key(r->pool, id), &val, &len);
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "session %s not found (expired, "
                      "evicted or signed out)", nsso_redact(r->pool, id));
        return NULL;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "session store lookup failed");
        return NULL;
    }
    if (nsso_session_parse(r->pool, val, len, &s, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "session %s unreadable: %s",
                      nsso_redact(r->pool, id), err);
        nsso_store_del(store, nsso_session_key(r->pool, id));
        return NULL;
    }
    if (s->expires + nsso_conf_clock_skew(c) <= apr_time_sec(apr_time_now())) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "session %s: access token expired",
                      nsso_redact(r->pool, id));
        nsso_store_del(store, nsso_session_key(r->pool, id));
        return NULL;
    }
    *stale = 0;
    *id_out = id;
    return s;
}

/* ---- starting a sign-in ----------------------------------------------------- */

typedef struct {
    const char *name;
    apr_time_t created; /* 0: unreadable */
} state_cookie;

static int by_age(const void *a, const void *b)
{
    const state_cookie *x = a, *y = b;
    return x->created < y->created ? -1 : x->created > y->created;
}

/* Keep at most limit - 1 earlier sign-in cookies, so that with the new one
 * there are never more than limit: unreadable ones go first, then oldest. */
static void prune_state_cookies(request_rec *r, const nsso_srv_conf *c,
                                const apr_array_header_t *cookies, int limit)
{
    const char *prefix = state_cookie_prefix(r->pool, c);
    apr_size_t plen = strlen(prefix);
    apr_array_header_t *found = apr_array_make(r->pool, 8, sizeof(state_cookie));
    apr_time_t now = apr_time_now();
    int i, excess;

    for (i = 0; i < cookies->nelts; i++) {
        const nsso_cookie_t *ck = &APR_ARRAY_IDX(cookies, i, nsso_cookie_t);
        state_cookie *sc;
        nsso_state_t *st;
        const char *err;

        if (strncmp(ck->name, prefix, plen))
            continue;
        sc = apr_array_push(found);
        sc->name = ck->name;
        sc->created = nsso_state_decode(r->pool, c->crypto, ck->value, now,
                                        apr_time_from_sec(nsso_conf_state_timeout(c)),
                                        &st, &err) == APR_SUCCESS ? st->created : 0;
    }
    excess = found->nelts - (limit - 1);
    if (excess <= 0)
        return;
    qsort(found->elts, found->nelts, sizeof(state_cookie), by_age);
    for (i = 0; i < excess; i++)
        clear_cookie(r, c, APR_ARRAY_IDX(found, i, state_cookie).name);
}

/* Requests that cannot follow a redirect to a sign-in page. */
static int wants_html(request_rec *r)
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

static int challenge(request_rec *r, const nsso_srv_conf *c)
{
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "Bearer realm=\"%s\"",
                                ap_escape_quotes(r->pool, ap_get_server_name(r))));
    no_store(r);
    return HTTP_UNAUTHORIZED;
}

static int start_login(request_rec *r, const nsso_srv_conf *c,
                       const apr_array_header_t *cookies)
{
    nsso_state_t *st;
    char *value;
    const char *err = NULL, *location;
    apr_status_t rv;

    if (!wants_html(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "no session: answering 401 to a request that cannot follow a redirect");
        return challenge(r, c);
    }
    rv = nsso_state_new(r->pool, nsso_redirect_return_url(r->pool, r->unparsed_uri),
                        r->method, apr_time_now(), &st);
    if (rv == APR_SUCCESS)
        rv = nsso_state_encode(r->pool, c->crypto, st, &value, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "cannot create sign-in state: %s",
                      err ? err : "random generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    prune_state_cookies(r, c, cookies, nsso_conf_max_state_cookies(c));
    add_cookie(r, c, apr_pstrcat(r->pool, state_cookie_prefix(r->pool, c), st->state, NULL),
               value, nsso_conf_state_timeout(c), NSSO_SAMESITE_LAX);
    location = nsso_oauth_authorize_url(r->pool, c->auth_url, c->client_id,
                                        redirect_uri_abs(r, c), st->state,
                                        nsso_pkce_challenge(r->pool, st->pkce_verifier));
    apr_table_setn(r->headers_out, "Location", location);
    no_store(r);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "no session: sending to HMPPS Auth");
    return HTTP_MOVED_TEMPORARILY;
}

/* ---- check_authn ------------------------------------------------------------ */

int nsso_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    nsso_srv_conf *c;
    const apr_array_header_t *cookies;
    const nsso_session_t *s;
    const char *id = NULL;
    nsso_req_ctx *ctx;
    int stale;

    if (!type || strcasecmp(type, NSSO_AUTH_TYPE))
        return DECLINED;
    c = nsso_srv(r->server);
    if (!nsso_runtime_ready(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AuthType nomis-sso is used but this server has no complete "
                      "NomisSSO configuration (NomisSSOAuthURL, NomisSSOClientID, "
                      "NomisSSOClientSecret, NomisSSOCryptoPassphrase)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->ap_auth_type = (char *)NSSO_AUTH_TYPE;
    cookies = nsso_cookie_parse(r->pool, apr_table_get(r->headers_in, "Cookie"));
    s = session_from_cookie(r, c, cookies, &id, &stale);
    if (s) {
        ctx = apr_pcalloc(r->pool, sizeof(*ctx));
        ctx->session = s;
        ctx->session_id = id;
        ap_set_module_config(r->request_config, &nomis_sso_module, ctx);
        r->user = apr_pstrdup(r->pool, s->user);
        nsso_expose_session(r, s);
        return OK;
    }
    if (stale)
        clear_cookie(r, c, nsso_conf_cookie_name(c));
    switch (nsso_conf_unauth_action(nsso_dir(r))) {
    case NSSO_UNAUTH_PASS:
        r->user = ""; /* through, anonymous: empty REMOTE_USER, no NOMIS_SSO_* */
        return OK;
    case NSSO_UNAUTH_401:
        return challenge(r, c);
    case NSSO_UNAUTH_AUTH:
        break;
    }
    return start_login(r, c, cookies);
}

int nsso_note_auth_failure(request_rec *r, const char *auth_type)
{
    return strcasecmp(auth_type, NSSO_AUTH_TYPE) ? DECLINED : OK;
}

/* ---- the callback -------------------------------------------------------------- */

/* Single use: the first callback with a state records it until the state
 * would have expired anyway; any later one is refused. */
static int state_spend(request_rec *r, const nsso_srv_conf *c, const nsso_state_t *st)
{
    nsso_store *store = nsso_runtime_store();
    const char *key = apr_pstrcat(r->pool, "u:", st->state, NULL);
    char *val;
    apr_size_t len;

    if (nsso_store_get(store, r->pool, key, &val, &len) == APR_SUCCESS)
        return 0;
    nsso_store_set(store, key, "1", 1,
                   st->created + apr_time_from_sec(nsso_conf_state_timeout(c) + 60), NULL);
    return 1;
}

static int token_failure_page(request_rec *r, nsso_oauth_result_t res,
                              const char *oauth_error, const char *err)
{
    if (res == NSSO_OAUTH_REJECTED && oauth_error && !strcmp(oauth_error, "invalid_grant")) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "code exchange refused: %s", err);
        return error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                          "The sign-in took too long or was already used. "
                          "Please return to the service and sign in again.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "code exchange failed: %s%s", err,
                  res == NSSO_OAUTH_REJECTED
                  ? " (check NomisSSOClientID and NomisSSOClientSecret)" : "");
    return error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                      "The HMPPS sign-in service could not be reached or gave an "
                      "unexpected answer. Please try again in a few minutes.");
}

/* Verify the access token; NULL (page already sent, *rc set) on failure. */
static nsso_claims_t *verify_token(request_rec *r, const nsso_srv_conf *c,
                                   const char *token, int *rc)
{
    nsso_jwt_policy_t pol;
    nsso_claims_t *claims = NULL;
    apr_status_t fetch_rv = APR_SUCCESS;
    const char *err = NULL;
    nsso_jwt_result_t res;

    pol.issuer = nsso_conf_issuer(r->pool, c);
    pol.algs = c->algs;
    pol.skew = nsso_conf_clock_skew(c);
    pol.now = apr_time_sec(apr_time_now());
    res = nsso_jwks_cache_verify(c->jwks, r->pool, token, &pol, &claims, &fetch_rv, &err);
    if (res == NSSO_JWT_OK)
        return claims;
    if (fetch_rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, fetch_rv, r,
                      "cannot fetch HMPPS Auth's signing keys: %s", err ? err : "");
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "access token from the token endpoint refused: %s: %s",
                      nsso_jwt_result_str(res), err ? err : "");
    *rc = error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                     "The HMPPS sign-in service gave an answer that could not be "
                     "verified. Please try again in a few minutes.");
    return NULL;
}

static void warn_eviction(request_rec *r)
{
    static apr_time_t last; /* per process; a lost update only repeats a warning */
    apr_time_t now = apr_time_now();

    if (now - last < EVICTION_WARN_INTERVAL)
        return;
    last = now;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "session store full: a live session was evicted to make room; "
                  "raise NomisSSOSessionCacheEntries");
}

/* Store a new session under a new id and set its cookie. */
static int create_session(request_rec *r, const nsso_srv_conf *c,
                          const nsso_session_t *s, const apr_array_header_t *cookies)
{
    nsso_store *store = nsso_runtime_store();
    const char *old = nsso_cookie_get(cookies, nsso_conf_cookie_name(c), NULL);
    const char *id = nsso_session_id_new(r->pool);
    char *json;
    apr_size_t len;
    int evicted = 0;
    apr_status_t rv;

    if (!id || nsso_session_serialize(r->pool, s, &json, &len) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "cannot create a session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = nsso_store_set(store, nsso_session_key(r->pool, id), json, len,
                        apr_time_from_sec(s->expires + nsso_conf_clock_skew(c)), &evicted);
    if (rv == APR_ENOSPC) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "session for %s is %" APR_SIZE_T_FMT " bytes, more than a "
                      "store slot holds: raise NomisSSOSessionCacheEntrySize",
                      s->user, len);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "cannot store the session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (evicted)
        warn_eviction(r);
    /* no fixation: whatever session the browser had before is ended */
    if (old && nsso_session_id_ok(old))
        nsso_store_del(store, nsso_session_key(r->pool, old));
    add_cookie(r, c, nsso_conf_cookie_name(c), id, -1, nsso_conf_samesite(c));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "signed in %s (auth source %s), session %s",
                  s->user, s->auth_source ? s->auth_source : "-",
                  nsso_redact(r->pool, id));
    return OK;
}

/* The query parameters of the callback; 0 if any is repeated. */
static int callback_params(request_rec *r, const char **state, const char **code,
                           const char **error)
{
    int d1 = 0, d2 = 0, d3 = 0;
    const char *q = r->args ? r->args : "";

    *state = nsso_query_param(r->pool, q, "state", &d1);
    *code = nsso_query_param(r->pool, q, "code", &d2);
    *error = nsso_query_param(r->pool, q, "error", &d3);
    return !(d1 || d2 || d3);
}

static int bad_state(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "sign-in callback refused: %s", why);
    return error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                      "This sign-in has expired or was already used. "
                      "Please return to the service and sign in again.");
}

/* The state cookie for the callback's state, decoded and spent; NULL (page
 * sent, *rc set) on failure. */
static const nsso_state_t *callback_state(request_rec *r, const nsso_srv_conf *c,
                                          const apr_array_header_t *cookies,
                                          const char *state, int *rc)
{
    const char *cname, *value, *err = NULL;
    nsso_state_t *st;

    if (!state || !state_value_ok(state)) {
        *rc = bad_state(r, "state parameter missing or malformed");
        return NULL;
    }
    cname = apr_pstrcat(r->pool, state_cookie_prefix(r->pool, c), state, NULL);
    value = nsso_cookie_get(cookies, cname, NULL);
    if (!value) {
        *rc = bad_state(r, "no sign-in cookie for this state (expired, used, or another browser)");
        return NULL;
    }
    clear_cookie(r, c, cname);
    if (nsso_state_decode(r->pool, c->crypto, value, apr_time_now(),
                          apr_time_from_sec(nsso_conf_state_timeout(c)), &st, &err)
        != APR_SUCCESS) {
        *rc = bad_state(r, apr_pstrcat(r->pool, "sign-in cookie refused: ", err, NULL));
        return NULL;
    }
    if (!nsso_ct_streq(state, st->state)) {
        *rc = bad_state(r, "state does not match its cookie");
        return NULL;
    }
    if (!state_spend(r, c, st)) {
        *rc = bad_state(r, "state replayed");
        return NULL;
    }
    return st;
}

static int auth_server_error(request_rec *r, const char *error)
{
    const char *code = apr_pstrndup(r->pool, error, 64);

    for (char *q = (char *)code; *q; q++)
        if (!apr_isalnum(*q) && *q != '_')
            *q = '?';
    if (!strcmp(code, "access_denied")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "HMPPS Auth: access denied");
        return error_page(r, HTTP_FORBIDDEN, "Sign-in cancelled",
                          "Sign-in was cancelled or refused. You need to sign in "
                          "with your NOMIS account to use this service.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "HMPPS Auth answered error '%s'", code);
    return error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                      "The HMPPS sign-in service could not complete the sign-in. "
                      "Please try again in a few minutes.");
}

/* The active caseload, asked once at sign-in. A failure is logged and the
 * sign-in goes on: Require nomis-caseload then denies. */
static void fetch_caseload(request_rec *r, const nsso_srv_conf *c, nsso_session_t *s)
{
    const char *url = nsso_conf_caseload_url(r->pool, c), *err = NULL;
    nsso_http_opts_t opts;
    nsso_http_response_t resp;

    if (!url)
        return;
    nsso_conf_http_opts(c, &opts);
    if (nsso_http_get(r->pool, &opts, url, s->access_token, &resp, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "caseload lookup for %s failed: %s", s->user, err);
        return;
    }
    if (resp.status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "caseload lookup for %s: %s answered HTTP %ld", s->user, url,
                      resp.status);
        return;
    }
    s->caseload = nsso_caseload_parse(r->pool, resp.body, resp.len, &err);
    if (!s->caseload)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "caseload lookup for %s: %s",
                      s->user, err);
}

static int handle_callback(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_cookie_parse(r->pool, apr_table_get(r->headers_in, "Cookie"));
    const char *state, *code, *error, *err = NULL, *oauth_error = NULL, *form;
    const nsso_state_t *st;
    nsso_http_opts_t opts;
    nsso_token_response_t tok;
    nsso_oauth_result_t res;
    nsso_claims_t *claims;
    nsso_session_t *s;
    int rc = OK;

    if (!callback_params(r, &state, &code, &error))
        return bad_state(r, "a callback parameter is repeated");
    st = callback_state(r, c, cookies, state, &rc);
    if (!st)
        return rc;
    if (error)
        return auth_server_error(r, error);
    if (!code || !*code)
        return bad_state(r, "no code in the callback");

    form = apr_pstrcat(r->pool, "grant_type=authorization_code&code=",
                       nsso_url_encode(r->pool, code),
                       "&redirect_uri=", nsso_url_encode(r->pool, redirect_uri_abs(r, c)),
                       "&code_verifier=", nsso_url_encode(r->pool, st->pkce_verifier), NULL);
    nsso_conf_http_opts(c, &opts);
    res = nsso_oauth_token_request(r->pool, &opts, nsso_conf_internal_url(c), c->client_id,
                                   c->client_secret, form, &tok, &oauth_error, &err);
    if (res != NSSO_OAUTH_OK)
        return token_failure_page(r, res, oauth_error, err);
    claims = verify_token(r, c, tok.access_token, &rc);
    if (!claims)
        return rc;
    s = nsso_session_from_claims(r->pool, claims, tok.access_token, tok.refresh_token,
                                 apr_time_sec(apr_time_now()));
    if (!s) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "access token names no user (no user_name or sub claim)");
        return error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                          "The HMPPS sign-in service did not say who you are.");
    }
    fetch_caseload(r, c, s);
    rc = create_session(r, c, s, cookies);
    if (rc != OK)
        return rc;
    apr_table_setn(r->headers_out, "Location",
                   nsso_redirect_path_ok(st->return_url) ? st->return_url : "/");
    no_store(r);
    return HTTP_MOVED_TEMPORARILY;
}

/* ---- the session-info endpoint --------------------------------------------- */

static int send_json(request_rec *r, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (!text)
        return HTTP_INTERNAL_SERVER_ERROR;
    no_store(r);
    r->status = status;
    ap_set_content_type(r, "application/json");
    if (!r->header_only)
        ap_rputs(text, r);
    free(text);
    return OK;
}

/* NomisSSOInfoURI: the cookie's own session as JSON for the page's scripts. */
static int handle_info(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_cookie_parse(r->pool, apr_table_get(r->headers_in, "Cookie"));
    const char *id = NULL;
    int stale, i;
    const nsso_session_t *s = session_from_cookie(r, c, cookies, &id, &stale);
    json_t *doc, *roles;

    if (!s)
        return send_json(r, HTTP_UNAUTHORIZED, json_pack("{s:s}", "error", "not signed in"));
    roles = json_array();
    for (i = 0; roles && i < s->roles->nelts; i++)
        json_array_append_new(roles, json_string(
            nsso_role_bare(APR_ARRAY_IDX(s->roles, i, const char *))));
    doc = json_pack("{s:s, s:s?, s:s?, s:o, s:s?, s:I}", "user", s->user,
                    "name", s->name, "authSource", s->auth_source, "roles", roles,
                    "caseload", s->caseload, "expiresAt", (json_int_t)s->expires);
    return send_json(r, HTTP_OK, doc);
}

int nsso_quick_handler(request_rec *r, int lookup_uri)
{
    nsso_srv_conf *c;

    if (lookup_uri || r->main)
        return DECLINED;
    c = nsso_srv(r->server);
    if (!c->auth_url || !r->parsed_uri.path)
        return DECLINED;
    if (c->info_uri && !strcmp(r->parsed_uri.path, c->info_uri)) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        if (r->method_number != M_GET) {
            r->allowed = AP_METHOD_BIT << M_GET;
            return HTTP_METHOD_NOT_ALLOWED;
        }
        return handle_info(r, c);
    }
    if (strcmp(r->parsed_uri.path, nsso_conf_redirect_path(r->pool, c)))
        return DECLINED;
    if (!nsso_runtime_ready(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "sign-in callback reached but the NomisSSO configuration is incomplete");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return handle_callback(r, c);
}
