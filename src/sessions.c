/* sessions.c - SetHandler nomis-sso-sessions: the administrators' page (and
 * its JSON form, Accept: application/json) listing one user's sessions in
 * this server's realm (?user=NAME) and ending one or all of them.
 *
 * Who may use it is the sysadmin's Require (e.g. Require nomis-role
 * MOIC_ADMIN) under AuthType nomis-sso; the handler itself insists on a
 * member of staff's session (never a bearer token, never a client's own
 * token). A GET only ever lists. A change is a POST that carries the
 * page's token (a MAC of the administrator's session id with the server's
 * key, compared in constant time) and that the browser does not say came
 * from elsewhere (Sec-Fetch-Site, Origin). The index key carries the
 * realm, so an administrator sees and ends only sessions of their realm. */
#include "sessions.h"
#include "lifecycle.h"
#include "request.h"
#include "respond.h"
#include "runtime.h"
#include "session_index.h"
#include "user_sessions.h"
#include "util.h"

#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>

#define USER_MAX 255

typedef struct {
    request_rec *r;
    const nsso_srv_conf *c;
    const nsso_session_t *admin;
    const char *token;       /* the form token for this administrator */
    int json;                /* answer application/json */
} page_ctx;

static const char *form_token(request_rec *r, const nsso_srv_conf *c, const char *id)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(r->pool, "sessions-admin:", id, NULL); /* MAC domain */

    nsso_crypto_mac(c->crypto, in, strlen(in), mac);
    return nsso_b64url_encode(r->pool, mac, sizeof(mac));
}

static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return accept && ap_strstr_c(accept, "application/json") != NULL;
}

/* 1 for a user name that can be looked up: 1-255 bytes, no control character. */
static int user_ok(const char *u)
{
    apr_size_t n = u ? strlen(u) : 0, i;

    if (!n || n > USER_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)u[i] < 0x20 || (unsigned char)u[i] == 0x7f)
            return 0;
    return 1;
}

/* 1 unless the browser says the request came from another site: a
 * Sec-Fetch-Site other than same-origin or none, or an Origin that is not
 * this site's. Neither header (not a browser) leaves it to the token. */
static int same_origin(request_rec *r)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");

    if (site && strcasecmp(site, "same-origin") && strcasecmp(site, "none"))
        return 0;
    return !origin || !strcasecmp(origin, nsso_request_base(r));
}

/* A refusal: JSON {"error": why} or the short page. */
static int refuse(page_ctx *x, int status, const char *title, const char *why)
{
    if (x->json)
        return nsso_send_json(x->r, status, json_pack("{s:s}", "error", why));
    return nsso_error_page(x->r, status, title, why);
}

static const char *when(apr_pool_t *p, apr_int64_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    apr_rfc822_date(buf, apr_time_from_sec(t));
    return buf;
}

static json_t *list_json(const apr_array_header_t *list)
{
    json_t *a = json_array();
    int i;

    for (i = 0; a && i < list->nelts; i++) {
        const nsso_user_session_t *u = &APR_ARRAY_IDX(list, i, nsso_user_session_t);
        json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:s?,s:s,s:s,s:b}",
                                           "handle", u->handle,
                                           "createdAt", (json_int_t)u->created,
                                           "lastSeenAt", (json_int_t)u->last_seen,
                                           "authSource", u->auth_source, "server", u->server,
                                           "device", u->device, "current", u->current));
    }
    return a;
}

/* A POST form ending sessions of user: one (handle) or all (handle NULL). */
static const char *end_form(page_ctx *x, const char *user, const char *handle,
                            const char *label)
{
    apr_pool_t *p = x->r->pool;

    return apr_pstrcat(p, "<form method=\"post\" action=\"", ap_escape_html(p, x->r->uri),
                       "\">\n<input type=\"hidden\" name=\"token\" value=\"", x->token,
                       "\">\n<input type=\"hidden\" name=\"user\" value=\"",
                       ap_escape_html(p, user), "\">\n<input type=\"hidden\" name=\"action\" "
                       "value=\"", handle ? "end" : "end-all", "\">\n",
                       handle ? apr_pstrcat(p, "<input type=\"hidden\" name=\"handle\" value=\"",
                                            handle, "\">\n", NULL) : "",
                       "<button type=\"submit\"", handle ? apr_pstrcat(p, " id=\"end-", handle,
                                                                      "\"", NULL)
                                                         : " id=\"end-all\"",
                       ">", label, "</button>\n</form>\n", NULL);
}

static const char *rows_html(page_ctx *x, const char *user, const apr_array_header_t *list)
{
    apr_pool_t *p = x->r->pool;
    apr_array_header_t *out = apr_array_make(p, list->nelts + 1, sizeof(char *));
    int i;

    for (i = 0; i < list->nelts; i++) {
        const nsso_user_session_t *u = &APR_ARRAY_IDX(list, i, nsso_user_session_t);
        APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p,
            "<tr><td><code>", u->handle, "</code>", u->current ? " (this session)" : "",
            "</td><td>", when(p, u->created), "</td><td>", when(p, u->last_seen),
            "</td><td>", ap_escape_html(p, u->auth_source ? u->auth_source : "-"),
            "</td><td>", ap_escape_html(p, u->server), "</td><td>",
            ap_escape_html(p, u->device), "</td><td>",
            end_form(x, user, u->handle, apr_pstrcat(p, "End session <span class=\"handle\">",
                                                    u->handle, "</span>", NULL)),
            "</td></tr>\n", NULL);
    }
    return apr_array_pstrcat(p, out, 0);
}

static const char *search_html(page_ctx *x, const char *user)
{
    apr_pool_t *p = x->r->pool;

    return apr_pstrcat(p, "<h1>Sessions</h1>\n<form method=\"get\" action=\"",
                       ap_escape_html(p, x->r->uri), "\">\n<label for=\"user\">Username</label>\n"
                       "<input type=\"text\" id=\"user\" name=\"user\" autocomplete=\"off\" "
                       "spellcheck=\"false\" value=\"", user ? ap_escape_html(p, user) : "",
                       "\">\n<button type=\"submit\" id=\"show\">Show sessions</button>\n"
                       "</form>\n", NULL);
}

/* The page, or its JSON: user's sessions, with a status line after a change. */
static int show(page_ctx *x, const char *user, const char *status_line, int ended)
{
    apr_pool_t *p = x->r->pool;
    apr_array_header_t *list = NULL;
    const char *body;

    if (user && nsso_user_sessions_list(x->r, x->c, user, &list) != APR_SUCCESS)
        return x->json ? nsso_send_json(x->r, HTTP_SERVICE_UNAVAILABLE,
                                   json_pack("{s:s}", "error", "session store unavailable"))
                       : nsso_store_down_page(x->r);
    if (x->json) {
        json_t *doc = json_pack("{s:s?,s:s,s:o}", "user", user, "token", x->token,
                                "sessions", list ? list_json(list) : json_array());
        if (doc && ended >= 0)
            json_object_set_new(doc, "ended", json_integer(ended));
        return nsso_send_json(x->r, HTTP_OK, doc);
    }
    body = search_html(x, user);
    if (status_line)
        body = apr_pstrcat(p, body, "<p role=\"status\" id=\"result\">",
                           ap_escape_html(p, status_line), "</p>\n", NULL);
    if (user && list->nelts)
        body = apr_pstrcat(p, body, "<h2>Sessions of ", ap_escape_html(p, user), "</h2>\n"
                           "<table id=\"sessions\">\n<caption>", apr_itoa(p, list->nelts),
                           " live session(s) on every server of this service</caption>\n"
                           "<thead><tr><th scope=\"col\">Session</th><th scope=\"col\">Signed "
                           "in</th><th scope=\"col\">Last seen</th><th scope=\"col\">Auth "
                           "source</th><th scope=\"col\">Server</th><th scope=\"col\">Device"
                           "</th><th scope=\"col\">Action</th></tr></thead>\n<tbody>\n",
                           rows_html(x, user, list), "</tbody>\n</table>\n",
                           end_form(x, user, NULL, apr_pstrcat(p, "End all sessions of ",
                                                               ap_escape_html(p, user), NULL)),
                           NULL);
    else if (user)
        body = apr_pstrcat(p, body, "<h2>Sessions of ", ap_escape_html(p, user), "</h2>\n"
                           "<p id=\"none\">No live sessions.</p>\n", NULL);
    return nsso_page_send(x->r, HTTP_OK, "Sessions", body, NSSO_PAGE_FORM_SELF);
}

static int do_post(page_ctx *x)
{
    apr_table_t *form = nsso_read_form(x->r);
    const char *token = apr_table_get(form, "token");
    const char *user = apr_table_get(form, "user");
    const char *action = apr_table_get(form, "action");
    const char *handle = apr_table_get(form, "handle");
    int ended = 0, all;
    apr_status_t rv;

    if (!same_origin(x->r) || !token || !nsso_ct_streq(token, x->token)) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, x->r, NSSO_LOGNO(1610) "sessions: change by "
                      "%s refused: %s", x->admin->user, same_origin(x->r)
                      ? "missing or wrong form token" : "sent from another site");
        return refuse(x, HTTP_FORBIDDEN, "Change refused",
                      "Please use the sessions page of this service.");
    }
    all = action && !strcmp(action, "end-all");
    if (!user_ok(user) || !action || (!all && (strcmp(action, "end") || !handle
                                               || strlen(handle) != NSSO_INDEX_HANDLE_LEN)))
        return refuse(x, HTTP_BAD_REQUEST, "Change not understood",
                      "Say whose session to end, and which.");
    rv = nsso_user_sessions_end(x->r, x->c, user, all ? NULL : handle, NSSO_ENDED_BY_ADMIN,
                                x->admin, &ended);
    if (rv == NSSO_UNAVAILABLE)
        return x->json ? nsso_send_json(x->r, HTTP_SERVICE_UNAVAILABLE,
                                   json_pack("{s:s}", "error", "session store unavailable"))
                       : nsso_store_down_page(x->r);
    if (rv == APR_NOTFOUND)
        return refuse(x, HTTP_NOT_FOUND, "No such session",
                      "That session has ended already, or belongs to someone else.");
    return show(x, user, apr_psprintf(x->r->pool, "Ended %d session(s) of %s.", ended, user),
                ended);
}

static int do_get(page_ctx *x)
{
    const char *q = x->r->args;
    int dup = 0;
    const char *user = q ? nsso_query_param(x->r->pool, q, "user", &dup) : NULL;

    if (q && (nsso_query_param(x->r->pool, q, "action", &dup) || nsso_query_param(
                  x->r->pool, q, "handle", &dup) || nsso_query_param(x->r->pool, q, "token",
                                                                     &dup))) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, x->r, NSSO_LOGNO(1611) "sessions: a GET "
                      "that would change something refused (changes are POSTs)");
        ap_allow_methods(x->r, REPLACE_ALLOW, "POST", NULL);
        return refuse(x, HTTP_METHOD_NOT_ALLOWED, "Changes need the form",
                      "Sessions are ended only with the page's buttons.");
    }
    if (user && (dup || !user_ok(user)))
        return refuse(x, HTTP_BAD_REQUEST, "Username not understood",
                      "Give one username.");
    if (user && !*user)
        user = NULL;
    return show(x, user, NULL, -1);
}

/* The session id check_authn took the session from (this request, or the
 * one it is a sub-request or internal redirect of); NULL: a bearer token. */
static const char *admin_session_id(const request_rec *r)
{
    for (; r; r = r->main ? r->main : r->prev) {
        const nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);
        if (q && q->session)
            return q->session_id;
    }
    return NULL;
}

int nsso_sessions_handler(request_rec *r)
{
    page_ctx x;
    const char *id;

    if (!r->handler || strcmp(r->handler, NSSO_SESSIONS_HANDLER))
        return DECLINED;
    if (r->method_number != M_GET && r->method_number != M_POST) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    x.r = r;
    x.c = nsso_srv(r->server);
    x.json = wants_json(r);
    if (!nsso_runtime_ready(x.c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(1612) "SetHandler "
                      NSSO_SESSIONS_HANDLER " is used but this server has no complete "
                      "NomisSSO configuration");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    x.admin = nsso_request_session(r);
    id = admin_session_id(r);
    if (!x.admin || !id || x.admin->client_credentials) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(1613) "sessions: refused "
                      "without a member of staff's session (the location needs AuthType "
                      "nomis-sso and a Require; bearer tokens are not accepted here)");
        return refuse(&x, HTTP_FORBIDDEN, "Not allowed",
                      "This page is for administrators signed in to this service.");
    }
    x.token = form_token(r, x.c, id);
    nsso_no_store(r);
    return r->method_number == M_POST ? do_post(&x) : do_get(&x);
}
