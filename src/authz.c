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
 * 403 page naming the user and what was required in words (with sign-out
 * links and a request id), a 401, or a redirect; or, when the sysadmin set
 * an ErrorDocument for that 403 or 401, their page instead. */
#include "authz.h"
#include "config.h"
#include "events.h"
#include "request.h"
#include "respond.h"
#include "identity.h"
#include "bearer.h"
#include "util.h"

#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <mod_auth.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <util_filter.h>

#define DENIED_NOTE "nomis-sso-denied"          /* the Require line, for logs */
#define WORDS_NOTE "nomis-sso-denied-words"     /* the same in words, for the page */
#define DOC_NOTE "nomis-sso-denied-doc"         /* the sysadmin's page ("": none) */
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

/* What a requirement asks for, in words for the denial page (no directive
 * syntax): "needs one of these roles: Alloc mgr, Pom". */
static const char *requirement_words(apr_pool_t *p, const require_spec *spec)
{
    static const char *const lead[] = {
        [MATCH_ROLE] = "needs one of these roles: ",
        [MATCH_USER] = "is only for these users: ",
        [MATCH_AUTH_SOURCE] = "needs an account from one of: ",
        [MATCH_SCOPE] = "needs one of these kinds of access: ",
        [MATCH_CASELOAD] = "needs one of these active caseloads: ",
        [MATCH_CLIENT] = "is only for these services: ",
    };
    const char *out = lead[spec->kind];
    int i;

    for (i = 0; i < spec->values->nelts; i++) {
        const char *v = APR_ARRAY_IDX(spec->values, i, const char *);
        out = apr_pstrcat(p, out, i ? ", " : "",
                          spec->kind == MATCH_ROLE ? nsso_role_words(p, v) : v, NULL);
    }
    return out;
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
    apr_table_setn(r->notes, WORDS_NOTE, requirement_words(r->pool, spec));
    return AUTHZ_DENIED;
}

static const authz_provider role_provider = { check, parse_role };
static const authz_provider user_provider = { check, parse_user };
static const authz_provider auth_source_provider = { check, parse_auth_source };
static const authz_provider scope_provider = { check, parse_scope };
static const authz_provider caseload_provider = { check, parse_caseload };
static const authz_provider client_provider = { check, parse_client };

/* ---- the answer to a denial ------------------------------------------------- */

/* The links out of a denial: sign out, or sign out and come back here to
 * sign in as someone else. */
static const char *denied_links(request_rec *r)
{
    const char *logout = nsso_conf_logout_uri(nsso_srv(r->server));
    const char *again = apr_pstrcat(r->pool, logout, "?return=",
                                    nsso_url_encode(r->pool, r->unparsed_uri), NULL);

    return apr_pstrcat(r->pool, "<p class=\"nsso-links\"><a id=\"nsso-sign-out\" href=\"",
                       ap_escape_html(r->pool, logout), "\">Sign out</a>\n"
                       "<a id=\"nsso-switch-user\" href=\"", ap_escape_html(r->pool, again),
                       "\">Sign in as someone else</a></p>\n", NULL);
}

static apr_status_t denied_page(ap_filter_t *f, const nsso_session_t *s, const char *words)
{
    request_rec *r = f->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    const char *name = s->name ? s->name : s->user;

    apr_brigade_puts(bb, NULL, NULL, nsso_page_html(r->pool, "Access denied",
        apr_pstrcat(r->pool, "<h1>You do not have access to this page</h1>\n"
            "<p>You are signed in as <strong>", ap_escape_html(r->pool, name), "</strong> (",
            ap_escape_html(r->pool, s->user), "), but this page ",
            ap_escape_html(r->pool, words ? words : "needs access your account does not have"),
            ".</p>\n<p>Ask your local system administrator if you need access.</p>\n",
            denied_links(r), nsso_page_reference(r), NULL)));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

/* The sysadmin's ErrorDocument doc for status, served on this response as
 * ap_die would: quoted text, a page of this site (a sub-request into the
 * rest of the filter chain) or a redirect to a full URL. */
static apr_status_t sysadmin_page(ap_filter_t *f, int status, const char *doc)
{
    request_rec *r = f->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);

    r->status = status;
    nsso_no_store(r);
    if (doc[0] == '"') {
        apr_brigade_puts(bb, NULL, NULL, doc + 1);
    } else if (doc[0] == '/') {
        request_rec *rr = ap_sub_req_lookup_uri(doc, r, f->next);
        if (rr->status == HTTP_OK) {
            if (rr->content_type)
                ap_set_content_type(r, rr->content_type);
            if (!r->header_only)
                ap_run_sub_req(rr);
        } else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(1521) "ErrorDocument %d %s "
                          "cannot be served (%d): the answer has no body", status, doc,
                          rr->status);
        }
        ap_destroy_sub_req(rr);
    } else {
        r->status = HTTP_MOVED_TEMPORARILY;
        apr_table_setn(r->headers_out, "Location", doc);
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

/* The status NomisSSOUnauthzAction answers a denial with (302, 401 or 403). */
static int denial_status(const nsso_dir_conf *d)
{
    if (d->unauthz_status == HTTP_MOVED_TEMPORARILY || d->unauthz_status == HTTP_UNAUTHORIZED)
        return d->unauthz_status;
    return HTTP_FORBIDDEN;
}

/* The sysadmin's ErrorDocument for the denial's status, or NULL: as noted
 * before mod_authz_core answered (nsso_authz_note_failure), else now. */
static const char *denial_doc(request_rec *r, int status)
{
    const char *doc = apr_table_get(r->notes, DOC_NOTE);

    if (!doc)
        return nsso_sysadmin_page(r, status);
    return *doc ? doc : NULL;
}

void nsso_authz_note_failure(request_rec *r)
{
    int status = denial_status(nsso_dir(r));
    const char *doc;

    if (!r->user || !*r->user || !nsso_request_session(r) || status == HTTP_MOVED_TEMPORARILY)
        return;
    doc = nsso_sysadmin_page(r, status);
    apr_table_setn(r->notes, DOC_NOTE, doc ? doc : "");
    /* mod_authz_core answers 401 next: ap_die must not send the sysadmin's
     * 401 page for it, as the error filter answers with the denial's status
     * (and the sysadmin's page for that) */
    ap_custom_response(r, HTTP_UNAUTHORIZED, "Access denied");
}

/* Runs on mod_authz_core's error response for a denied, signed-in user:
 * swallows that response's body and writes NomisSSOUnauthzAction's answer. */
static apr_status_t denied_filter(ap_filter_t *f, apr_bucket_brigade *in)
{
    request_rec *r = f->r;
    const nsso_dir_conf *d = nsso_dir(r);
    const nsso_session_t *s = nsso_request_session(r);
    const char *doc;
    int status;

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
    status = denial_status(d);
    if (status != HTTP_MOVED_TEMPORARILY) {
        nsso_page_log_refusal(r, status, "Access denied");
        if ((doc = denial_doc(r, status)))
            return sysadmin_page(f, status, doc);
    }
    r->status = status;
    if (status == HTTP_MOVED_TEMPORARILY)
        apr_table_setn(r->err_headers_out, "Location", d->unauthz_url);
    nsso_page_headers(r, 0);
    return denied_page(f, s, apr_table_get(r->notes, WORDS_NOTE));
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
