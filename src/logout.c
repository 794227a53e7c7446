/* logout.c - NomisSSOLogoutURI: ends the session here and at HMPPS Auth.
 *
 * A POST with the form token, or a GET the browser vouches for
 * (Sec-Fetch-Site same-origin or none), deletes the session, clears its
 * cookie and sends the browser to HMPPS Auth's sign-out with a return URL
 * on this site or allowed by NomisSSORedirectURLsAllowed. Any other GET
 * with a session gets a confirmation page whose form carries a token (a MAC
 * of the session id) that a page elsewhere cannot read.
 *
 * scope=all (query or form), under the same rules: "Sign out of all
 * devices" ends every session of the user in this realm, on every server
 * sharing the session store (user_sessions.h), then this one as above. */
#include "logout.h"
#include "cookie.h"
#include "crypto.h"
#include "events.h"
#include "lifecycle.h"
#include "redirect.h"
#include "request.h"
#include "respond.h"
#include "session.h"
#include "user_sessions.h"
#include "util.h"

#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_uri.h>

/* 1 if url (absolute) may be a post-sign-out target: this site, or a URL
 * matching NomisSSORedirectURLsAllowed. */
static int absolute_target_ok(request_rec *r, const nsso_srv_conf *c, const char *url)
{
    const char *base = nsso_request_base(r);
    apr_size_t blen = strlen(base);
    int i;

    if (!nsso_is_http_url(r->pool, url, 0))
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
    const char *in = apr_pstrcat(r->pool, "logout:", id, NULL); /* MAC domain */

    nsso_crypto_mac(c->crypto, in, strlen(in), mac);
    return nsso_b64url_encode(r->pool, mac, sizeof(mac));
}

/* A GET the browser does not vouch for must not sign anyone out: ask first.
 * No form-action 'self': the confirmed POST is redirected on to HMPPS Auth. */
static int confirm_logout(request_rec *r, const nsso_srv_conf *c, const char *id,
                          const char *requested, int all)
{
    const char *ret = requested
        ? apr_pstrcat(r->pool, "<input type=\"hidden\" name=\"return\" value=\"",
                      ap_escape_html(r->pool, requested), "\">\n", NULL)
        : "";
    /* asked for all: that is the one button; else both, this device first */
    const char *buttons = all
        ? "<input type=\"hidden\" name=\"scope\" value=\"all\">\n"
          "<button type=\"submit\" id=\"sign-out-all\">Sign out of all devices</button>\n"
        : "<button type=\"submit\" id=\"sign-out\">Sign out</button>\n"
          "<button type=\"submit\" id=\"sign-out-all\" name=\"scope\" value=\"all\">"
          "Sign out of all devices</button>\n";

    return nsso_page_send(r, HTTP_OK, all ? "Sign out of all devices" : "Sign out",
        apr_pstrcat(r->pool, all ? "<h1>Sign out of all devices?</h1>\n"
                                 "<p>Every session you have on this service ends, on every "
                                 "computer and browser.</p>\n" : "<h1>Sign out?</h1>\n",
        "<form method=\"post\" action=\"",
        ap_escape_html(r->pool, nsso_conf_logout_uri(c)), "\">\n"
        "<input type=\"hidden\" name=\"token\" value=\"", logout_token(r, c, id), "\">\n",
        ret, buttons, "</form>\n"
        "<p><a href=\"/\">Stay signed in</a></p>\n", NULL), NSSO_PAGE_FORM);
}

/* 1 when scope is exactly "all". */
static int scope_all(const char *scope)
{
    return scope && !strcmp(scope, "all");
}

/* Every session of the session's user in this realm ends (this one too):
 * APR_SUCCESS or NSSO_UNAVAILABLE (the store). */
static apr_status_t sign_out_everywhere(request_rec *r, const nsso_srv_conf *c, const char *id,
                                        const nsso_session_t *s)
{
    int ended = 0;
    apr_status_t rv;

    if (!s || s->client_credentials)
        return APR_SUCCESS;
    nsso_req_of(r)->session_id = id;
    rv = nsso_user_sessions_end(r, c, s->user, NULL, NSSO_ENDED_BY_USER, s, &ended);
    return rv == NSSO_UNAVAILABLE ? rv : APR_SUCCESS;
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

int nsso_logout_handle(request_rec *r, const nsso_srv_conf *c)
{
    const apr_array_header_t *cookies =
        nsso_req_cookies(r);
    const char *id = nsso_cookie_get(cookies, nsso_conf_cookie_name(c), NULL);
    const char *requested = NULL, *target;
    int dup = 0, all;

    if (id && !nsso_session_id_ok(id))
        id = NULL;
    if (r->method_number == M_POST) {
        apr_table_t *form = nsso_read_form(r);
        const char *token = apr_table_get(form, "token");
        requested = apr_table_get(form, "return");
        all = scope_all(apr_table_get(form, "scope"));
        if (id && (!token || !nsso_ct_streq(token, logout_token(r, c, id)))) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          NSSO_LOGNO(0400) "sign-out refused: missing or wrong form token");
            return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-out not confirmed",
                                   "Please use the service's own sign-out link.");
        }
    } else {
        requested = r->args ? nsso_query_param(r->pool, r->args, "return", &dup) : NULL;
        if (dup)
            requested = NULL;
        all = r->args && scope_all(nsso_query_param(r->pool, r->args, "scope", &dup)) && !dup;
        if (id && !logout_get_trusted(r))
            return confirm_logout(r, c, id, requested, all);
    }
    target = post_logout_target(r, c, requested);
    if (!target) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      NSSO_LOGNO(0401) "sign-out refused: return URL is not on this site nor allowed by "
                      "NomisSSORedirectURLsAllowed");
        return nsso_error_page(r, HTTP_BAD_REQUEST, "Sign-out address refused",
                               "The address to return to after signing out is not "
                               "part of this service.");
    }
    if (id) {
        /* who signs out, for the audit log: read before it goes */
        const nsso_session_t *s = nsso_session_peek(r, c);
        /* a store that cannot delete it: the session lives on, so say so
         * (503) and keep the cookie, for the member of staff to try again */
        if ((all && sign_out_everywhere(r, c, id, s) != APR_SUCCESS)
            || nsso_session_delete(r, c, id) != APR_SUCCESS)
            return nsso_store_down_page(r);
        nsso_event(r, NSSO_EV_SIGN_OUT, &(nsso_event_info_t){ .session = s, .session_id = id });
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0402) "signed out session %s",
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
