/* signin.c - a sign-in from start to finish.
 *
 * Start (check_authn found no session): a fresh state and PKCE verifier,
 * sealed into a cookie named after the state (at most
 * NomisSSOMaxStateCookies of them, oldest pruned), and a redirect to HMPPS
 * Auth's /oauth/authorize (or to the password form, password.c).
 *
 * The callback (NomisSSORedirectURI, from the quick handler): state checked
 * against its cookie and spent (an error= callback is only checked: it
 * grants nothing), code exchanged for an access token, token verified
 * against the JWKS, a new session stored under a new random id, and the
 * browser sent back to the local URL it first asked for. The password form
 * finishes through the same nsso_signin_complete. Each failure is logged
 * once here, where its cause is known, and the member of staff gets a short
 * page with the right status. */
#include "signin.h"
#include "endpoints.h"
#include "cookie.h"
#include "crypto.h"
#include "events.h"
#include "identity.h"
#include "lifecycle.h"
#include "oauth.h"
#include "redirect.h"
#include "request.h"
#include "respond.h"
#include "runtime.h"
#include "bearer.h"
#include "user_sessions.h"
#include "util.h"

#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <stdlib.h>

#define STATE_COOKIE_INFIX "_st_"
#define MAX_STATE_LEN 64

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

/* Where the password form (NomisSSOGrantType password) is: carrying the state. */
static const char *password_form_url(request_rec *r, const nsso_srv_conf *c,
                                     const char *state)
{
    return apr_pstrcat(r->pool, nsso_conf_password_uri(c), "?state=",
                       nsso_url_encode(r->pool, state), NULL);
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
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0300) "sign-in: a return URL of %"
                      APR_SIZE_T_FMT " bytes is not kept whole: its query is dropped",
                      strlen(r->unparsed_uri));
        cand[0] = cand[1];
    }
    for (i = 0; i < 3; i++) {
        if (i > 0 && !strcmp(cand[i], cand[i - 1]))
            continue;
        if ((fits = state_fits(r, c, cand[i], st, value, &rv, err)) != 0)
            return fits > 0 ? APR_SUCCESS : rv;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0301) "sign-in: a return URL of %"
                      APR_SIZE_T_FMT " bytes is too long for the state cookie: %s",
                      strlen(cand[i]), i == 0 && strcmp(cand[0], cand[1])
                      ? "its query is dropped" : "returning to / instead");
    }
    *err = "the state cookie does not fit even for /";
    return APR_EGENERAL;
}

int nsso_signin_start(request_rec *r, const nsso_srv_conf *c,
                      const apr_array_header_t *cookies)
{
    nsso_state_t *st;
    char *value;
    const char *err = NULL, *location;
    apr_status_t rv;

    if (!nsso_wants_html(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      NSSO_LOGNO(0302) "no session: answering 401 to a request that cannot follow a redirect");
        return nsso_bearer_challenge(r, NULL, NULL);
    }
    rv = make_state(r, c, &st, &value, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(0303) "cannot create sign-in state: %s",
                      err ? err : "random generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    prune_state_cookies(r, c, cookies, nsso_conf_max_state_cookies(c));
    nsso_add_cookie(r, c, nsso_state_cookie_name(r->pool, c, st->state),
                    value, nsso_conf_state_timeout(c), NSSO_SAMESITE_LAX);
    if (c->password_grant == 1)
        location = password_form_url(r, c, st->state);
    else
        location = nsso_oauth_authorize_url(r->pool, nsso_endpoints_authorize(r->pool, c), c->client_id,
                                            redirect_uri_abs(r, c), st->state,
                                            nsso_pkce_challenge(r->pool, st->pkce_verifier));
    apr_table_setn(r->headers_out, "Location", location);
    nsso_no_store(r);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NSSO_LOGNO(0304) "no session: sending to HMPPS Auth");
    return HTTP_MOVED_TEMPORARILY;
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

    static apr_uint32_t logged;

    if (rv != APR_SUCCESS && rv != APR_EEXIST && nsso_rate_due(&logged, 60))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(0305) "cannot record the sign-in state as "
                      "used (session store unreachable?)");
    return rv;
}

/* A sign-in that ends here, counted and audited once. */
static void signin_failed(request_rec *r, nsso_fail_reason_t why)
{
    nsso_event(r, NSSO_EV_SIGN_IN_FAILED, &(nsso_event_info_t){ .reason = why });
}

static int token_failure_page(request_rec *r, nsso_oauth_result_t res,
                              const char *oauth_error, const char *err)
{
    signin_failed(r, res == NSSO_OAUTH_REJECTED ? NSSO_FAIL_CODE_REFUSED
                                                : NSSO_FAIL_AUTH_UNAVAILABLE);
    if (res == NSSO_OAUTH_REJECTED && oauth_error && !strcmp(oauth_error, "invalid_grant")) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0306) "code exchange refused: %s", err);
        return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                          "The sign-in took too long or was already used. "
                          "Please return to the service and sign in again.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0307) "code exchange failed: %s%s", err,
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
    nsso_claims_t *claims = NULL;
    apr_status_t rv = nsso_token_verify(r, c, token, &claims, NULL, &err);

    if (rv == APR_SUCCESS)
        return claims;
    signin_failed(r, rv == NSSO_UNAVAILABLE ? NSSO_FAIL_AUTH_UNAVAILABLE
                                            : NSSO_FAIL_TOKEN_REFUSED);
    if (rv == NSSO_UNAVAILABLE)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      NSSO_LOGNO(0308) "cannot fetch HMPPS Auth's signing keys: %s", err);
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      NSSO_LOGNO(0309) "access token from the token endpoint refused: %s", err);
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
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0310) "cannot create a session id");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    switch (nsso_session_save(r, c, id, s)) {
    case APR_SUCCESS:
        break;
    case NSSO_UNAVAILABLE:
        signin_failed(r, NSSO_FAIL_STORE);
        return nsso_store_down_page(r);
    default:
        signin_failed(r, NSSO_FAIL_STORE);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* no fixation: whatever session the browser had before is ended */
    if (old && nsso_session_id_ok(old))
        nsso_session_delete(r, c, old);
    nsso_user_sessions_register(r, c, id, s);
    nsso_add_cookie(r, c, nsso_conf_cookie_name(c), id, -1, nsso_conf_samesite(c));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0311) "signed in %s (auth source %s), session %s",
                  s->user, s->auth_source ? s->auth_source : "-",
                  nsso_redact(r->pool, id));
    nsso_event(r, NSSO_EV_SIGN_IN, &(nsso_event_info_t){ .session = s, .session_id = id });
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
    signin_failed(r, NSSO_FAIL_STATE);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0312) "sign-in callback refused: %s", why);
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
        signin_failed(r, NSSO_FAIL_STORE);
        *rc = nsso_store_down_page(r);
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
    signin_failed(r, strcmp(code, "access_denied") ? NSSO_FAIL_AUTH_ERROR : NSSO_FAIL_CANCELLED);
    if (!strcmp(code, "access_denied")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0313) "HMPPS Auth: access denied");
        return nsso_error_page(r, HTTP_FORBIDDEN, "Sign-in cancelled",
                          "Sign-in was cancelled or refused. You need to sign in "
                          "with your NOMIS account to use this service.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0314) "HMPPS Auth answered error '%s'", code);
    return nsso_error_page(r, HTTP_BAD_GATEWAY, "Sign-in service unavailable",
                      "The HMPPS sign-in service could not complete the sign-in. "
                      "Please try again in a few minutes.");
}

/* The caseloads, asked once at sign-in. A failure is logged and the
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
                      NSSO_LOGNO(0315) "caseload lookup for %s failed: %s", s->user, err);
        return;
    }
    if (resp.status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      NSSO_LOGNO(0316) "caseload lookup for %s: %s answered HTTP %ld", s->user, url,
                      resp.status);
        return;
    }
    if (nsso_caseloads_parse(r->pool, resp.body, resp.len, &s->caseload, &s->caseloads,
                             &err) != APR_SUCCESS || !s->caseload)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0317) "caseload lookup for %s: %s",
                      s->user, err ? err : "no active caseload in the answer");
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
    res = nsso_oauth_token_request(r->pool, &opts, nsso_endpoints_token(r->pool, c), c->client_id,
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
        signin_failed(r, NSSO_FAIL_TOKEN_REFUSED);
        if (s)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0318) "access token is a "
                          "client's own token (client credentials), not a signed-in member "
                          "of staff's: refused");
        else
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0319) "access token names "
                          "no usable user");
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

int nsso_signin_callback(request_rec *r, const nsso_srv_conf *c)
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
