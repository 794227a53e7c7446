/* handlers.c - sign-in at request time.
 *
 * check_authn (AuthType nomis-sso): a valid session cookie sets r->user;
 * otherwise the browser is sent to HMPPS Auth's /oauth/authorize with a
 * fresh state and PKCE challenge, the state riding in an encrypted cookie
 * named after it.
 *
 * The callback (NomisSSORedirectURI, served from the quick handler so it
 * needs no <Location> of its own): state checked against its cookie and
 * spent (an error= callback is only checked: it grants nothing), code exchanged
 * for an access token, token verified against the JWKS, a new session
 * stored under a new random id, and the browser sent back to the local URL
 * it first asked for. Each failure is logged once here, where its cause is
 * known, and the member of staff gets a short page with the right status. */
#include "handlers.h"
#include "config.h"
#include "endpoints.h"
#include "expose.h"
#include "identity.h"
#include "lifecycle.h"
#include "respond.h"
#include "bearer.h"
#include "password.h"
#include "runtime.h"
#include "cookie.h"
#include "crypto.h"
#include "oauth.h"
#include "redirect.h"
#include "request.h"
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

/* Sub-requests and internal redirects share the session of the request
 * that authenticated. */
const nsso_session_t *nsso_request_session(const request_rec *r)
{
    for (; r; r = r->main ? r->main : r->prev) {
        const nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);
        if (q && q->session)
            return q->session;
    }
    return NULL;
}

/* ---- helpers ------------------------------------------------------------------ */

static const char *state_cookie_prefix(apr_pool_t *p, const nsso_srv_conf *c)
{
    return apr_pstrcat(p, nsso_conf_cookie_name(c), STATE_COOKIE_INFIX, NULL);
}

const char *nsso_state_cookie_name(apr_pool_t *p, const nsso_srv_conf *c, const char *state)
{
    return apr_pstrcat(p, state_cookie_prefix(p, c), state, NULL);
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
    return apr_pstrcat(r->pool, nsso_request_base(r), path, NULL);
}

#define STORE_DOWN_TITLE "Service temporarily unavailable"
#define STORE_DOWN_TEXT "Signed-in sessions cannot be checked at the moment. " \
                        "Please try again in a minute."

/* The session store cannot be reached, in a handler (sends the page). */
static int store_down_page(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", "30");
    return nsso_error_page(r, HTTP_SERVICE_UNAVAILABLE, STORE_DOWN_TITLE, STORE_DOWN_TEXT);
}

/* The same from check_authn, which answers with a status, not a page. */
static int store_down(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", "30");
    nsso_no_store(r);
    ap_custom_response(r, HTTP_SERVICE_UNAVAILABLE,
                       "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>" STORE_DOWN_TITLE "</title></head>\n<body>\n<h1>"
                       STORE_DOWN_TITLE "</h1>\n<p>" STORE_DOWN_TEXT "</p>\n</body></html>\n");
    return HTTP_SERVICE_UNAVAILABLE;
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
        sc->created = nsso_state_decode(r->pool, c->crypto, c->realm, ck->value, now,
                                        apr_time_from_sec(nsso_conf_state_timeout(c)),
                                        &st, &err) == APR_SUCCESS ? st->created : 0;
    }
    excess = found->nelts - (limit - 1);
    if (excess <= 0)
        return;
    qsort(found->elts, found->nelts, sizeof(state_cookie), by_age);
    for (i = 0; i < excess; i++)
        nsso_clear_cookie(r, c, APR_ARRAY_IDX(found, i, state_cookie).name);
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
    return nsso_bearer_challenge(r, NULL, NULL);
}

/* The part of a request target before its query (and fragment). */
static const char *path_part(apr_pool_t *p, const char *target)
{
    return apr_pstrmemdup(p, target, strcspn(target, "?#"));
}

/* A new sign-in state for return_url sealed into *value, when its cookie
 * fits what a browser keeps (NSSO_COOKIE_MAX_SIZE, name and value): 1; 0 when
 * it would not; -1 (and *rv, *err) when it cannot be made at all. */
static int state_fits(request_rec *r, const nsso_srv_conf *c, const char *return_url,
                      nsso_state_t **st, char **value, apr_status_t *rv, const char **err)
{
    *rv = nsso_state_new(r->pool, return_url, r->method, apr_time_now(), st);
    if (*rv == APR_SUCCESS) {
        (*st)->realm = c->realm; /* only this virtual host's callback takes it */
        *rv = nsso_state_encode(r->pool, c->crypto, *st, value, err);
    }
    if (*rv != APR_SUCCESS)
        return -1;
    return strlen(nsso_state_cookie_name(r->pool, c, (*st)->state)) + strlen(*value)
           <= NSSO_COOKIE_MAX_SIZE;
}

/* The state for this request, its return URL as long as the guard and the
 * cookie allow: the whole local URL, else its path without the query, else
 * "/". Never a redirect to sign in without a state cookie to come back with. */
static apr_status_t make_state(request_rec *r, const nsso_srv_conf *c, nsso_state_t **st,
                               char **value, const char **err)
{
    const char *path = r->unparsed_uri ? path_part(r->pool, r->unparsed_uri) : "/";
    const char *cand[3];
    apr_status_t rv = APR_SUCCESS;
    int i, fits;

    cand[1] = nsso_redirect_path_ok(path) ? path : "/";
    cand[2] = "/";
    /* "/" when refused: too long (a long query, say), or unsafe */
    cand[0] = nsso_redirect_return_url(r->pool, r->unparsed_uri);
    if (!strcmp(cand[0], "/") && strcmp(cand[1], "/")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "sign-in: a return URL of %"
                      APR_SIZE_T_FMT " bytes is not kept whole: its query is dropped",
                      strlen(r->unparsed_uri));
        cand[0] = cand[1];
    }
    for (i = 0; i < 3; i++) {
        if (i > 0 && !strcmp(cand[i], cand[i - 1]))
            continue;
        if ((fits = state_fits(r, c, cand[i], st, value, &rv, err)) != 0)
            return fits > 0 ? APR_SUCCESS : rv;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "sign-in: a return URL of %"
                      APR_SIZE_T_FMT " bytes is too long for the state cookie: %s",
                      strlen(cand[i]), i == 0 && strcmp(cand[0], cand[1])
                      ? "its query is dropped" : "returning to / instead");
    }
    *err = "the state cookie does not fit even for /";
    return APR_EGENERAL;
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
    rv = make_state(r, c, &st, &value, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "cannot create sign-in state: %s",
                      err ? err : "random generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    prune_state_cookies(r, c, cookies, nsso_conf_max_state_cookies(c));
    nsso_add_cookie(r, c, nsso_state_cookie_name(r->pool, c, st->state),
                    value, nsso_conf_state_timeout(c), NSSO_SAMESITE_LAX);
    if (c->password_grant == 1)
        location = nsso_password_form_url(r, c, st->state);
    else
        location = nsso_oauth_authorize_url(r->pool, nsso_endpoints_authorize(r->pool, c),
                                            c->client_id,
                                            redirect_uri_abs(r, c), st->state,
                                            nsso_pkce_challenge(r->pool, st->pkce_verifier));
    apr_table_setn(r->headers_out, "Location", location);
    nsso_no_store(r);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "no session: sending to HMPPS Auth");
    return HTTP_MOVED_TEMPORARILY;
}

/* ---- check_authn ------------------------------------------------------------ */

/* The request is authenticated as s: remember it, set r->user, expose it. */
static int authenticated(request_rec *r, const nsso_session_t *s, const char *auth_type)
{
    nsso_req *q = nsso_req_of(r);

    q->session = s;
    r->user = apr_pstrdup(r->pool, s->user);
    r->ap_auth_type = (char *)auth_type;
    if (nsso_conf_no_store(nsso_dir(r)))
        nsso_no_store(r);
    nsso_expose_session(r, s);
    return OK;
}

static int bearer_authn(request_rec *r, const nsso_srv_conf *c, const char *token,
                        const char *auth_type)
{
    nsso_session_t *s = NULL;
    int rc = nsso_bearer_authenticate(r, c, token, &s);

    if (rc == OK)
        rc = nsso_bearer_client_check(r, s);
    return rc == OK ? authenticated(r, s, auth_type) : rc;
}

static int session_authn(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const nsso_session_t *s;
    const char *id = NULL;
    int stale;

    s = nsso_session_current(r, c, cookies, &id, &stale);
    if (s)
        return authenticated(r, s, NSSO_AUTH_TYPE);
    if (apr_table_get(r->notes, NSSO_STORE_DOWN_NOTE))
        return store_down(r);
    if (stale)
        nsso_clear_cookie(r, c, nsso_conf_cookie_name(c));
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

int nsso_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r), *token;
    nsso_srv_conf *c;
    int bearer_only, malformed, rc;

    if (!type)
        return DECLINED;
    bearer_only = !strcasecmp(type, NSSO_BEARER_AUTH_TYPE);
    if (!bearer_only && strcasecmp(type, NSSO_AUTH_TYPE))
        return DECLINED;
    c = nsso_srv(r->server);
    /* a bearer-only location needs no sign-in settings; with
     * NomisSSOAcceptBearer beside sessions it needs them all */
    rc = nsso_runtime_check_usable(r, c, bearer_only);
    if (rc != OK)
        return rc;
    r->ap_auth_type = (char *)(bearer_only ? NSSO_BEARER_AUTH_TYPE : NSSO_AUTH_TYPE);
    if (bearer_only || nsso_dir(r)->accept_bearer == 1) {
        token = nsso_bearer_token(r, &malformed);
        if (malformed)
            return nsso_bearer_challenge(r, "invalid_request",
                                         "The Authorization header is malformed");
        if (token)
            return bearer_authn(r, c, token, r->ap_auth_type);
        if (bearer_only)
            return nsso_bearer_challenge(r, NULL, NULL);
    }
    return session_authn(r, c);
}

int nsso_note_auth_failure(request_rec *r, const char *auth_type)
{
    if (!strcasecmp(auth_type, NSSO_BEARER_AUTH_TYPE)) {
        nsso_bearer_challenge(r, "insufficient_scope",
                              "The access token does not grant this resource");
        return OK;
    }
    return strcasecmp(auth_type, NSSO_AUTH_TYPE) ? DECLINED : OK;
}

/* ---- the callback -------------------------------------------------------------- */

/* Single use: the first callback with a state records it until the state
 * would have expired anyway; any later one is refused. The marker is keyed
 * on the state's digest, so any state length fits NSSO_STORE_MAX_KEY. */
static apr_status_t state_spend(request_rec *r, const nsso_srv_conf *c,
                                const nsso_state_t *st)
{
    unsigned char digest[32];
    const char *key;
    apr_status_t rv;

    nsso_sha256(st->state, strlen(st->state), digest);
    key = nsso_store_key(r->pool, NSSO_KEY_STATE_USED, c->realm,
                         nsso_b64url_encode(r->pool, digest, sizeof(digest)));
    rv = nsso_store_add(nsso_runtime_store(), key, "1", 1,
                        st->created + apr_time_from_sec(nsso_conf_state_timeout(c) + 60));

    if (rv != APR_SUCCESS && rv != APR_EEXIST) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "cannot record the sign-in state as "
                      "used (session store unreachable?)");
        apr_table_setn(r->notes, NSSO_STORE_DOWN_NOTE, "1");
    }
    return rv;
}

static int token_failure_page(request_rec *r, nsso_oauth_result_t res,
                              const char *oauth_error, const char *err)
{
    if (res == NSSO_OAUTH_REJECTED && oauth_error && !strcmp(oauth_error, "invalid_grant")) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "code exchange refused: %s", err);
        return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                          "The sign-in took too long or was already used. "
                          "Please return to the service and sign in again.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "code exchange failed: %s%s", err,
                  res == NSSO_OAUTH_REJECTED
                  ? " (check NomisSSOClientID and NomisSSOClientSecret)" : "");
    return nsso_error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                      "The HMPPS sign-in service could not be reached or gave an "
                      "unexpected answer. Please try again in a few minutes.");
}

/* Verify the access token; NULL (page already sent, *rc set) on failure. */
static nsso_claims_t *verify_token(request_rec *r, const nsso_srv_conf *c,
                                   const char *token, int *rc)
{
    const char *err = NULL;
    int fetch_failed = 0;
    nsso_claims_t *claims = nsso_token_verify(r, c, token, &fetch_failed, NULL, &err);

    if (claims)
        return claims;
    if (fetch_failed)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "cannot fetch HMPPS Auth's signing keys: %s", err);
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "access token from the token endpoint refused: %s", err);
    *rc = nsso_error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                     "The HMPPS sign-in service gave an answer that could not be "
                     "verified. Please try again in a few minutes.");
    return NULL;
}

/* Store a new session under a new id and set its cookie. */
static int create_session(request_rec *r, const nsso_srv_conf *c,
                          const nsso_session_t *s, const apr_array_header_t *cookies)
{
    const char *old = nsso_cookie_get(cookies, nsso_conf_cookie_name(c), NULL);
    const char *id = nsso_session_id_new(r->pool);

    if (!id) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "cannot create a session id");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (nsso_session_save(r, c, id, s) != APR_SUCCESS)
        return apr_table_get(r->notes, NSSO_STORE_DOWN_NOTE) ? store_down_page(r)
                                                             : HTTP_INTERNAL_SERVER_ERROR;
    /* no fixation: whatever session the browser had before is ended */
    if (old && nsso_session_id_ok(old))
        nsso_session_delete(r, c, old);
    nsso_add_cookie(r, c, nsso_conf_cookie_name(c), id, -1, nsso_conf_samesite(c));
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
    return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                      "This sign-in has expired or was already used. "
                      "Please return to the service and sign in again.");
}

const nsso_state_t *nsso_signin_state(request_rec *r, const nsso_srv_conf *c,
                                      const apr_array_header_t *cookies,
                                      const char *state, const char **why)
{
    const char *value, *err = NULL;
    nsso_state_t *st;

    if (!state || !state_value_ok(state)) {
        *why = "state parameter missing or malformed";
        return NULL;
    }
    value = nsso_cookie_get(cookies, nsso_state_cookie_name(r->pool, c, state), NULL);
    if (!value) {
        *why = "no sign-in cookie for this state (expired, used, or another browser)";
        return NULL;
    }
    if (nsso_state_decode(r->pool, c->crypto, c->realm, value, apr_time_now(),
                          apr_time_from_sec(nsso_conf_state_timeout(c)), &st, &err)
        != APR_SUCCESS) {
        *why = apr_pstrcat(r->pool, "sign-in cookie refused: ", err, NULL);
        return NULL;
    }
    if (!nsso_ct_streq(state, st->state)) {
        *why = "state does not match its cookie";
        return NULL;
    }
    return st;
}

int nsso_signin_spend(request_rec *r, const nsso_srv_conf *c, const nsso_state_t *st)
{
    nsso_clear_cookie(r, c, nsso_state_cookie_name(r->pool, c, st->state));
    return state_spend(r, c, st) == APR_SUCCESS;
}

/* The callback's state, checked against its cookie (which is cleared) and,
 * if spend, recorded as used; NULL (page sent, *rc set). A callback carrying
 * error= is not recorded: it grants nothing, so a replay is harmless, and
 * anyone can make as many as they like without HMPPS Auth, so a marker each
 * would only fill the store. */
static const nsso_state_t *callback_state(request_rec *r, const nsso_srv_conf *c,
                                          const apr_array_header_t *cookies,
                                          const char *state, int spend, int *rc)
{
    const char *why = NULL;
    const nsso_state_t *st = nsso_signin_state(r, c, cookies, state, &why);

    if (state && state_value_ok(state))
        nsso_clear_cookie(r, c, nsso_state_cookie_name(r->pool, c, state));
    if (!st) {
        *rc = bad_state(r, why);
        return NULL;
    }
    if (!spend)
        return st;
    switch (state_spend(r, c, st)) {
    case APR_SUCCESS:
        break;
    case APR_EEXIST:
        *rc = bad_state(r, "state replayed");
        return NULL;
    default:
        *rc = store_down_page(r);
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
        return nsso_error_page(r, HTTP_FORBIDDEN, "Sign-in cancelled",
                          "Sign-in was cancelled or refused. You need to sign in "
                          "with your NOMIS account to use this service.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "HMPPS Auth answered error '%s'", code);
    return nsso_error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
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

int nsso_signin_complete(request_rec *r, const nsso_srv_conf *c, const char *form,
                         const nsso_state_t *st, const apr_array_header_t *cookies,
                         int *refused)
{
    const char *err = NULL, *oauth_error = NULL;
    nsso_http_opts_t opts;
    nsso_token_response_t tok;
    nsso_oauth_result_t res;
    nsso_claims_t *claims;
    nsso_session_t *s;
    int rc = OK;

    nsso_conf_http_opts(c, &opts);
    res = nsso_oauth_token_request(r->pool, &opts, nsso_endpoints_token(r->pool, c),
                                   c->client_id,
                                   c->client_secret, form, &tok, &oauth_error, &err);
    if (refused && res == NSSO_OAUTH_REJECTED && oauth_error
        && !strcmp(oauth_error, "invalid_grant")) {
        *refused = 1;
        return OK;
    }
    if (res != NSSO_OAUTH_OK)
        return token_failure_page(r, res, oauth_error, err);
    claims = verify_token(r, c, tok.access_token, &rc);
    if (!claims)
        return rc;
    s = nsso_session_from_claims(r->pool, claims, tok.access_token, tok.refresh_token,
                                 apr_time_sec(apr_time_now()));
    if (!s || s->client_credentials) {
        /* a client's own token (nsso_claims_client) is never a member of staff */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, s
                      ? "access token is a client's own token (client credentials), "
                        "not a signed-in member of staff's: refused"
                      : "access token names no usable user");
        return nsso_error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                               "The HMPPS sign-in service did not say who you are.");
    }
    s->realm = c->realm;
    fetch_caseload(r, c, s);
    rc = create_session(r, c, s, cookies);
    if (rc != OK)
        return rc;
    apr_table_setn(r->headers_out, "Location",
                   nsso_redirect_path_ok(st->return_url) ? st->return_url : "/");
    nsso_no_store(r);
    return HTTP_MOVED_TEMPORARILY;
}

static int handle_callback(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const char *state, *code, *error, *form;
    const nsso_state_t *st;
    int rc = OK;

    if (!callback_params(r, &state, &code, &error))
        return bad_state(r, "a callback parameter is repeated");
    st = callback_state(r, c, cookies, state, !error, &rc);
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
    return nsso_signin_complete(r, c, form, st, cookies, NULL);
}

/* ---- the session-info endpoint --------------------------------------------- */

static int send_json(request_rec *r, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

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

/* NomisSSOInfoURI: the cookie's own session as JSON for the page's scripts. */
static int handle_info(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const char *id = NULL;
    int stale, i;
    const nsso_session_t *s = nsso_session_current(r, c, cookies, &id, &stale);
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

/* ---- sign-out ----------------------------------------------------------------- */

/* 1 if url (absolute) may be a post-sign-out target: this site, or a URL
 * matching NomisSSORedirectURLsAllowed. */
static int absolute_target_ok(request_rec *r, const nsso_srv_conf *c, const char *url)
{
    const char *base = nsso_request_base(r), *q;
    apr_size_t blen = strlen(base);
    apr_uri_t u;
    int i;

    for (q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '\\')
            return 0;
    if (apr_uri_parse(r->pool, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || u.user || u.password
        || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")))
        return 0;
    if (!strncasecmp(url, base, blen) && (url[blen] == '/' || !url[blen]))
        return 1;
    for (i = 0; c->redirect_allowed && i < c->redirect_allowed->nelts; i++)
        if (!ap_regexec(APR_ARRAY_IDX(c->redirect_allowed, i, ap_regex_t *), url, 0, NULL, 0))
            return 1;
    return 0;
}

/* The absolute URL HMPPS Auth should return to after sign-out, or NULL. */
static const char *post_logout_target(request_rec *r, const nsso_srv_conf *c,
                                      const char *requested)
{
    const char *t = requested ? requested
                              : c->post_logout_url ? c->post_logout_url : "/";

    if (t[0] == '/')
        return nsso_redirect_path_ok(t) ? apr_pstrcat(r->pool, nsso_request_base(r), t, NULL)
                                        : NULL;
    return absolute_target_ok(r, c, t) ? t : NULL;
}

static const char *logout_token(request_rec *r, const nsso_srv_conf *c, const char *id)
{
    unsigned char mac[32];

    nsso_crypto_mac(c->crypto, apr_pstrcat(r->pool, "logout:", id, NULL),
                    strlen(id) + 7, mac);
    return nsso_b64url_encode(r->pool, mac, sizeof(mac));
}

/* A GET the browser does not vouch for must not sign anyone out: ask first. */
static int confirm_logout(request_rec *r, const nsso_srv_conf *c, const char *id,
                          const char *requested)
{
    nsso_no_store(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only)
        return OK;
    ap_rprintf(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>Sign out</title></head>\n<body>\n<h1>Sign out?</h1>\n"
               "<form method=\"post\" action=\"%s\">\n"
               "<input type=\"hidden\" name=\"token\" value=\"%s\">\n%s%s%s"
               "<button type=\"submit\" id=\"sign-out\">Sign out</button>\n</form>\n"
               "<p><a href=\"/\">Stay signed in</a></p>\n</body></html>\n",
               ap_escape_html(r->pool, nsso_conf_logout_uri(c)),
               logout_token(r, c, id),
               requested ? "<input type=\"hidden\" name=\"return\" value=\"" : "",
               requested ? ap_escape_html(r->pool, requested) : "",
               requested ? "\">\n" : "");
    return OK;
}

/* 1 if the browser says a GET came from this origin (the service's own
 * sign-out link) or from the user (typed, bookmark): Sec-Fetch-Site
 * same-origin or none. Missing (an old browser, or not a browser), same-site
 * (an <img> on a sibling *.justice.gov.uk site) and cross-site are not
 * enough: those get the confirmation page, whose form carries a token a
 * page elsewhere cannot read. Repeated headers arrive joined, so match none. */
static int logout_get_trusted(request_rec *r)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");

    return site && (!strcasecmp(site, "same-origin") || !strcasecmp(site, "none"));
}

static int handle_logout(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const char *id = nsso_cookie_get(cookies, nsso_conf_cookie_name(c), NULL);
    const char *requested = NULL, *target;
    int dup = 0;

    if (id && !nsso_session_id_ok(id))
        id = NULL;
    if (r->method_number == M_POST) {
        apr_table_t *form = nsso_read_form(r);
        const char *token = apr_table_get(form, "token");
        requested = apr_table_get(form, "return");
        if (id && (!token || !nsso_ct_streq(token, logout_token(r, c, id)))) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          "sign-out refused: missing or wrong form token");
            return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-out not confirmed",
                                   "Please use the service's own sign-out link.");
        }
    } else {
        requested = r->args ? nsso_query_param(r->pool, r->args, "return", &dup) : NULL;
        if (dup)
            requested = NULL;
        if (id && !logout_get_trusted(r))
            return confirm_logout(r, c, id, requested);
    }
    target = post_logout_target(r, c, requested);
    if (!target) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "sign-out refused: return URL is not on this site nor allowed by "
                      "NomisSSORedirectURLsAllowed");
        return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-out address refused",
                               "The address to return to after signing out is not "
                               "part of this service.");
    }
    if (id) {
        nsso_session_delete(r, c, id);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "signed out session %s",
                      nsso_redact(r->pool, id));
    }
    nsso_clear_cookie(r, c, nsso_conf_cookie_name(c));
    nsso_no_store(r);
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, c->auth_url, nsso_conf_signout_path(c),
                               "?client_id=", nsso_url_encode(r->pool, c->client_id),
                               "&redirect_uri=", nsso_url_encode(r->pool, target), NULL));
    return HTTP_MOVED_TEMPORARILY;
}

int nsso_quick_handler(request_rec *r, int lookup_uri)
{
    nsso_srv_conf *c;

    if (lookup_uri || r->main)
        return DECLINED;
    c = nsso_srv(r->server);
    /* no client id: bearer tokens only, nothing to serve */
    if (!c->auth_url || !c->client_id || !r->parsed_uri.path)
        return DECLINED;
    if (c->info_uri && !strcmp(r->parsed_uri.path, c->info_uri)) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        if (r->method_number != M_GET) {
            ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        return handle_info(r, c);
    }
    if (c->password_grant == 1 && !strcmp(r->parsed_uri.path, nsso_conf_password_uri(c))) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        return nsso_password_handle(r, c);
    }
    if (!strcmp(r->parsed_uri.path, nsso_conf_logout_uri(c))) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        if (r->method_number != M_GET && r->method_number != M_POST) {
            ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        return handle_logout(r, c);
    }
    if (strcmp(r->parsed_uri.path, nsso_conf_redirect_path(r->pool, c)))
        return DECLINED;
    if (!nsso_runtime_ready(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "sign-in callback reached but the NomisSSO configuration is incomplete");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return handle_callback(r, c);
}
