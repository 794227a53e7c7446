/* authz.c - authorization on the claims of the session's access token.
 *
 * A client calling with its own token (client credentials) is never a
 * member of staff: nomis-user and nomis-auth-source never match it (its
 * client chose the user_name and auth_source it carries), nomis-role and
 * nomis-scope match its client's roles and scope, and nomis-client matches
 * only such a caller, by client_id.
 *
 * Each provider takes a list of values on its Require line and grants when
 * the session matches any of them, so providers combine with RequireAll,
 * RequireAny and `Require not`. A denial is remembered in r->notes; when
 * mod_authz_core then answers (401 by default for a known user), the error
 * filter below replaces that answer with NomisSSOUnauthzAction's: a short
 * 403 page naming the user and what was required, a 401, or a redirect. */
#include "authz.h"
#include "config.h"
#include "events.h"
#include "request.h"
#include "respond.h"
#include "identity.h"
#include "bearer.h"

#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <util_filter.h>

#define DENIED_NOTE "nomis-sso-denied"
#define ERROR_FILTER "NOMIS_SSO_DENIED"

typedef enum { MATCH_ROLE, MATCH_USER, MATCH_AUTH_SOURCE, MATCH_SCOPE,
               MATCH_CASELOAD, MATCH_CLIENT } match_kind;

typedef struct {
    match_kind kind;
    const char *provider;
    apr_array_header_t *values;
} require_spec;

static const char *parse_line(cmd_parms *cmd, const char *line, const void **parsed,
                              match_kind kind, const char *provider)
{
    require_spec *spec = apr_pcalloc(cmd->pool, sizeof(*spec));
    const char *w;

    spec->kind = kind;
    spec->provider = provider;
    spec->values = apr_array_make(cmd->pool, 4, sizeof(const char *));
    while (*(w = ap_getword_conf(cmd->pool, &line))) {
        const char *c;
        for (c = w; *c; c++)
            if (apr_iscntrl(*c) || *c == ',')
                return apr_psprintf(cmd->pool, "Require %s: '%s' is not a valid value",
                                    provider, w);
        APR_ARRAY_PUSH(spec->values, const char *) = w;
    }
    if (!spec->values->nelts)
        return apr_psprintf(cmd->pool, "Require %s needs at least one value", provider);
    *parsed = spec;
    return NULL;
}

#define PARSER(fn, kind, name) \
    static const char *fn(cmd_parms *cmd, const char *line, const void **parsed) \
    { return parse_line(cmd, line, parsed, kind, name); }
PARSER(parse_role, MATCH_ROLE, "nomis-role")
PARSER(parse_user, MATCH_USER, "nomis-user")
PARSER(parse_auth_source, MATCH_AUTH_SOURCE, "nomis-auth-source")
PARSER(parse_scope, MATCH_SCOPE, "nomis-scope")
PARSER(parse_caseload, MATCH_CASELOAD, "nomis-caseload")
PARSER(parse_client, MATCH_CLIENT, "nomis-client")

/* Providers that name a member of staff: a client's token may carry any
 * user_name and auth_source its client asked for, so these never match it. */
static int staff_only(match_kind kind)
{
    return kind == MATCH_USER || kind == MATCH_AUTH_SOURCE;
}

static int session_matches(const nsso_session_t *s, const require_spec *spec)
{
    if (staff_only(spec->kind) && s->client_credentials)
        return 0;
    switch (spec->kind) {
    case MATCH_ROLE:
        return nsso_roles_any(s->roles, spec->values);
    case MATCH_USER:
        return nsso_list_has(spec->values, s->user, 1);
    case MATCH_AUTH_SOURCE:
        return nsso_list_has(spec->values, s->auth_source, 1);
    case MATCH_SCOPE: {
        int i;
        for (i = 0; s->scope && i < s->scope->nelts; i++)
            if (nsso_list_has(spec->values, APR_ARRAY_IDX(s->scope, i, const char *), 0))
                return 1;
        return 0;
    }
    case MATCH_CASELOAD:
        return nsso_list_has(spec->values, s->caseload, 1);
    case MATCH_CLIENT: /* the calling client: a staff session's client is ours */
        return s->client_credentials && nsso_list_has(spec->values, s->client_id, 0);
    }
    return 0;
}

static authz_status check(request_rec *r, const char *line, const void *parsed)
{
    const require_spec *spec = parsed;
    const nsso_session_t *s;

    if (!r->user || !*r->user) /* no session (NomisSSOUnauthAction pass) */
        return AUTHZ_DENIED_NO_USER;
    s = nsso_request_session(r);
    if (!s) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0800) "Require %s used without "
                      "AuthType nomis-sso: denied", spec->provider);
        return AUTHZ_DENIED;
    }
    if (session_matches(s, spec))
        return AUTHZ_GRANTED;
    if (staff_only(spec->kind) && s->client_credentials)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0801) "Require %s %s: %s is a client "
                      "calling with its own token (client credentials), not a member of "
                      "staff", spec->provider, line, s->user);
    else if (spec->kind == MATCH_CLIENT && !s->client_credentials)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0802) "Require %s %s: %s is a member of "
                      "staff, not a client calling with its own token", spec->provider,
                      line, s->user);
    else if (spec->kind == MATCH_CASELOAD && !s->caseload)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0803) "Require nomis-caseload: %s has "
                      "no known active caseload (lookup at sign-in failed or none set)",
                      s->user);
    else
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0804) "Require %s %s: %s does not match",
                      spec->provider, line, s->user);
    apr_table_setn(r->notes, DENIED_NOTE,
                   apr_pstrcat(r->pool, "Require ", spec->provider, " ", line, NULL));
    return AUTHZ_DENIED;
}

static const authz_provider role_provider = { check, parse_role };
static const authz_provider user_provider = { check, parse_user };
static const authz_provider auth_source_provider = { check, parse_auth_source };
static const authz_provider scope_provider = { check, parse_scope };
static const authz_provider caseload_provider = { check, parse_caseload };
static const authz_provider client_provider = { check, parse_client };

/* ---- the answer to a denial ------------------------------------------------- */

static apr_status_t denied_page(ap_filter_t *f, const nsso_session_t *s, const char *what)
{
    request_rec *r = f->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    const char *name = s->name ? s->name : s->user;

    apr_brigade_puts(bb, NULL, NULL, nsso_page_html(r->pool, "Access denied",
        apr_pstrcat(r->pool, "<h1>Access denied</h1>\n"
            "<p>You are signed in as <strong>", ap_escape_html(r->pool, name), "</strong> (",
            ap_escape_html(r->pool, s->user), "), but this page needs something your "
            "account does not have: <code>",
            ap_escape_html(r->pool, what ? what : "this page's Require rules"), "</code>.</p>\n"
            "<p>Ask your local system administrator for the role you need.</p>\n", NULL)));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

/* Runs on mod_authz_core's error response for a denied, signed-in user:
 * swallows that response's body and writes NomisSSOUnauthzAction's answer. */
static apr_status_t denied_filter(ap_filter_t *f, apr_bucket_brigade *in)
{
    request_rec *r = f->r;
    const nsso_dir_conf *d = nsso_dir(r);
    const nsso_session_t *s = nsso_request_session(r);

    apr_brigade_cleanup(in);
    if (f->ctx)
        return APR_SUCCESS; /* our page is out: drop the rest */
    f->ctx = f;
    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    apr_table_unset(r->headers_out, "WWW-Authenticate");
    if (r->ap_auth_type && !strcasecmp(r->ap_auth_type, NSSO_BEARER_AUTH_TYPE))
        nsso_bearer_challenge(r, "insufficient_scope",
                              "The access token does not grant this resource");
    apr_table_unset(r->headers_out, "Content-Length");
    r->status_line = NULL;
    if (d->unauthz_status == HTTP_MOVED_TEMPORARILY) {
        r->status = HTTP_MOVED_TEMPORARILY;
        apr_table_setn(r->err_headers_out, "Location", d->unauthz_url);
    } else {
        r->status = d->unauthz_status == HTTP_UNAUTHORIZED ? HTTP_UNAUTHORIZED
                                                           : HTTP_FORBIDDEN;
    }
    nsso_page_headers(r, 0);
    return denied_page(f, s, apr_table_get(r->notes, DENIED_NOTE));
}

/* A signed-in user refused by authorization: mod_authz_core answers 401
 * (403 with AuthzSendForbiddenOnFailure) whichever rule denied, a nomis-*
 * provider, `Require not` or `Require expr`. */
void nsso_authz_insert_error_filter(request_rec *r)
{
    if (r->status != HTTP_UNAUTHORIZED && r->status != HTTP_FORBIDDEN)
        return;
    if (!r->user || !*r->user || !nsso_request_session(r))
        return;
    if (r->status == HTTP_FORBIDDEN && !apr_table_get(r->notes, DENIED_NOTE))
        return; /* a 403 from something else (file permissions, ...) */
    nsso_event(r, NSSO_EV_DENIED, &(nsso_event_info_t){
        .session = nsso_request_session(r), .session_id = nsso_req_of(r)->session_id,
        .rule = apr_table_get(r->notes, DENIED_NOTE) });
    ap_add_output_filter(ERROR_FILTER, NULL, r, r->connection);
}

void nsso_authz_register(apr_pool_t *p)
{
    static const struct {
        const char *name;
        const authz_provider *provider;
    } providers[] = {
        { "nomis-role", &role_provider },
        { "nomis-user", &user_provider },
        { "nomis-auth-source", &auth_source_provider },
        { "nomis-scope", &scope_provider },
        { "nomis-caseload", &caseload_provider },
        { "nomis-client", &client_provider },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, providers[i].name,
                                  AUTHZ_PROVIDER_VERSION, providers[i].provider,
                                  AP_AUTH_INTERNAL_PER_CONF);
    ap_register_output_filter(ERROR_FILTER, denied_filter, NULL, AP_FTYPE_CONTENT_SET);
}
