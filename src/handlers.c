/* handlers.c - where each request enters the module: check_authn
 * (AuthType nomis-sso / nomis-bearer: a bearer token, else a valid session
 * cookie, sets r->user; otherwise 401, anonymous pass-through or a new
 * sign-in, signin.c) and the quick handler, which sends the module's own
 * URLs to their endpoint: the callback (signin.c), the password form
 * (password.c), sign-out (logout.c) and the session-info endpoint (info.c). */
#include "handlers.h"
#include "authz.h"
#include "bearer.h"
#include "events.h"
#include "expose.h"
#include "info.h"
#include "lifecycle.h"
#include "logout.h"
#include "password.h"
#include "request.h"
#include "respond.h"
#include "runtime.h"
#include "signin.h"

#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>

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
                        apr_size_t n, const char *auth_type)
{
    nsso_session_t *s = NULL;
    int rc = nsso_bearer_authenticate(r, c, token, n, &s);

    if (rc == OK)
        rc = nsso_bearer_client_check(r, s);
    if (rc != OK)
        return rc;
    nsso_event(r, NSSO_EV_BEARER_ACCEPTED, &(nsso_event_info_t){ .session = s });
    return authenticated(r, s, auth_type);
}

static int session_authn(request_rec *r, const nsso_srv_conf *c)
{
    const char *id = NULL;
    nsso_session_t *s = NULL;

    switch (nsso_session_current(r, c, &id, &s)) {
    case APR_SUCCESS:
        nsso_req_of(r)->session_id = id;
        return authenticated(r, s, NSSO_AUTH_TYPE);
    case NSSO_UNAVAILABLE:
        return nsso_store_down_status(r);
    default: /* APR_NOTFOUND, APR_EACCES: a cookie sent goes */
        if (id)
            nsso_clear_cookie(r, c, nsso_conf_cookie_name(c));
        break;
    }
    switch (nsso_conf_unauth_action(nsso_dir(r))) {
    case NSSO_UNAUTH_PASS:
        r->user = ""; /* through, anonymous: empty REMOTE_USER, no NOMIS_SSO_* */
        return OK;
    case NSSO_UNAUTH_401:
        return nsso_bearer_challenge(r, NULL, NULL);
    case NSSO_UNAUTH_AUTH:
        break;
    }
    return nsso_signin_start(r, c, nsso_req_cookies(r));
}

int nsso_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r), *token;
    nsso_srv_conf *c;
    apr_size_t n = 0;
    int bearer_only, malformed, rc;

    if (!type)
        return DECLINED;
    /* the session type first: the commoner */
    bearer_only = strcasecmp(type, NSSO_AUTH_TYPE) != 0;
    if (bearer_only && strcasecmp(type, NSSO_BEARER_AUTH_TYPE))
        return DECLINED;
    c = nsso_srv(r->server);
    /* a bearer-only location needs no sign-in settings; with
     * NomisSSOAcceptBearer beside sessions it needs them all */
    rc = nsso_runtime_check_usable(r, c, bearer_only);
    if (rc != OK)
        return rc;
    r->ap_auth_type = (char *)(bearer_only ? NSSO_BEARER_AUTH_TYPE : NSSO_AUTH_TYPE);
    if (bearer_only || nsso_dir(r)->accept_bearer == 1) {
        token = nsso_bearer_token(r, &malformed, &n);
        if (malformed) {
            nsso_event(r, NSSO_EV_BEARER_REFUSED,
                       &(nsso_event_info_t){ .reason = NSSO_BEARER_INVALID });
            return nsso_bearer_challenge(r, "invalid_request",
                                         "The Authorization header is malformed");
        }
        if (token)
            return bearer_authn(r, c, token, n, r->ap_auth_type);
        if (bearer_only)
            return nsso_bearer_challenge(r, NULL, NULL);
    }
    return session_authn(r, c);
}

int nsso_note_auth_failure(request_rec *r, const char *auth_type)
{
    if (!strcasecmp(auth_type, NSSO_BEARER_AUTH_TYPE)
        || !strcasecmp(auth_type, NSSO_AUTH_TYPE))
        nsso_authz_note_failure(r); /* a signed-in user refused: whose page */
    if (!strcasecmp(auth_type, NSSO_BEARER_AUTH_TYPE)) {
        nsso_bearer_challenge(r, "insufficient_scope",
                              "The access token does not grant this resource");
        return OK;
    }
    return strcasecmp(auth_type, NSSO_AUTH_TYPE) ? DECLINED : OK;
}

/* strcmp, with the second byte compared inline first: every request of the
 * server asks for each of the module's URLs, and most paths differ from
 * them there ("/" and the first letter). */
static int same_path(const char *a, const char *b)
{
    return a[0] == b[0] && (!a[0] || (a[1] == b[1] && !strcmp(a, b)));
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
    if (c->info_uri && same_path(r->parsed_uri.path, c->info_uri)) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        if (r->method_number != M_GET) {
            ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        return nsso_info_handle(r, c);
    }
    if (c->password_grant == 1 && same_path(r->parsed_uri.path, nsso_conf_password_uri(c))) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        return nsso_password_handle(r, c);
    }
    if (same_path(r->parsed_uri.path, nsso_conf_logout_uri(c))) {
        if (!nsso_runtime_ready(c))
            return HTTP_INTERNAL_SERVER_ERROR;
        if (r->method_number != M_GET && r->method_number != M_POST) {
            ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        return nsso_logout_handle(r, c);
    }
    if (!same_path(r->parsed_uri.path, nsso_conf_redirect_path(r->pool, c)))
        return DECLINED;
    if (!nsso_runtime_ready(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      NSSO_LOGNO(0201) "sign-in callback reached but the NomisSSO configuration is incomplete");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return nsso_signin_callback(r, c);
}

