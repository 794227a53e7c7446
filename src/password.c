/* password.c - the password-grant fallback HMPPS named for when NOMIS SSO
 * is unavailable: the module serves its own sign-in form and sends
 * grant_type=password to the token endpoint; after that the session is
 * exactly like an SSO one.
 *
 * The form is only reachable from a sign-in started by the module: it
 * carries that sign-in's state, which must match the encrypted state
 * cookie (a CSRF token an attacker can neither read nor forge). It is
 * POST-only for credentials, refuses plain http unless
 * NomisSSOPasswordAllowHTTP is on, and attempts are limited per user name
 * (as HMPPS Auth reads it: trimmed, upper case), per client address (IPv6
 * by /64) and per server, counted in the store before HMPPS Auth is asked
 * (see "rate limiting"); a store that cannot be reached refuses sign-in.
 * The password is never logged or stored. */
#include "password.h"
#include "signin.h"
#include "events.h"
#include "request.h"
#include "respond.h"
#include "runtime.h"
#include "util.h"
#include "identity.h"

#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <arpa/inet.h>
#include <string.h>

#define MAX_USERNAME 128
#define MAX_PASSWORD 256

/* post_config: every server that takes passwords says so at start-up. */
int nsso_password_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *main_s)
{
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        const nsso_srv_conf *c = nsso_srv(s);
        if (c->crypto && c->password_grant == 1) /* configured (runtime.c gave it keys) */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         NSSO_LOGNO(0500) "NomisSSOGrantType password: this server receives staff passwords "
                         "through its own sign-in form (the NOMIS SSO contingency); use it "
                         "only while HMPPS Auth's own sign-in is unavailable");
    }
    return OK;
}

/* ---- rate limiting --------------------------------------------------------------- */

/* Attempts are counted before the token endpoint is called, in slots: a
 * counter of limit n is the keys <counter>:1 .. <counter>:n, and an attempt
 * takes a free one with the store's atomic add(). When every slot
 * is live the attempt is refused, so however many requests race, at most n
 * of them reach HMPPS Auth in one window; each slot expires WINDOW seconds
 * after it was taken (a sliding window). A success gives its slots back. */
#define MAX_PER_USER 5
#define MAX_PER_ADDRESS 20
#define MAX_PER_SERVER 200
#define WINDOW 300 /* seconds */

typedef struct {
    const char *key;   /* the counter, without the slot number */
    int limit;
    int taken;         /* the slot this attempt holds, 0: none */
} counter_t;

typedef enum { TAKE_OK, TAKE_FULL, TAKE_STORE_DOWN } take_result;

/* The counter's key: kind (u, a or s) and a digest of who (so neither a
 * user name nor an address is readable in the store), in this server's
 * realm. Short enough for any slot number: "p:" realm ":" kind ":" 24 ":" n. */
static const char *counter_key(apr_pool_t *p, const nsso_srv_conf *c, char kind,
                               const char *who)
{
    unsigned char digest[32];
    char k[3] = { kind, ':', '\0' };

    nsso_sha256(who, strlen(who), digest);
    return nsso_store_key(p, NSSO_KEY_LIMIT, c->realm,
                          apr_pstrcat(p, k, nsso_b64url_encode(p, digest, 18), NULL));
}

/* The search starts at a random slot: with many slots live (the server's
 * counter) a free one is found in a few tries rather than after all the
 * live ones; only a full counter costs a look at every slot. */
static take_result take_slot(request_rec *r, counter_t *ct)
{
    apr_time_t expiry = apr_time_now() + apr_time_from_sec(WINDOW);
    unsigned char rnd[2] = { 0, 0 };
    int start, i, n;

    (void)nsso_random_bytes(rnd, sizeof(rnd)); /* a poor start costs time, not safety */
    start = (rnd[0] << 8 | rnd[1]) % ct->limit;
    for (i = 0; i < ct->limit; i++) {
        const char *key;
        apr_status_t rv;

        n = (start + i) % ct->limit + 1;
        key = apr_psprintf(r->pool, "%s:%d", ct->key, n);
        rv = nsso_store_add(nsso_runtime_store(), key, "1", 1, expiry);
        if (rv == APR_SUCCESS) {
            ct->taken = n;
            return TAKE_OK;
        }
        if (rv != APR_EEXIST) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(0501) "password sign-in refused: "
                          "the store keeping failed attempts cannot be reached");
            return TAKE_STORE_DOWN;
        }
    }
    return TAKE_FULL;
}

static void give_back(request_rec *r, counter_t *ct)
{
    if (ct->taken)
        nsso_store_del(nsso_runtime_store(),
                       apr_psprintf(r->pool, "%s:%d", ct->key, ct->taken));
    ct->taken = 0;
}

/* HMPPS Auth's own view of a user name: no surrounding white space, upper
 * case. Counting anything else would let "alloc_spo " buy a fresh limit. */
static char *normalise_username(apr_pool_t *p, const char *typed)
{
    const char *end = typed + strlen(typed);
    char *u, *q;

    while (*typed && apr_isspace(*typed))
        typed++;
    while (end > typed && apr_isspace(end[-1]))
        end--;
    u = apr_pstrmemdup(p, typed, (apr_size_t)(end - typed));
    for (q = u; *q; q++)
        *q = (char)apr_toupper(*q);
    return u;
}

/* The client as counted: an IPv4 address as is (also when it arrives as an
 * IPv4-mapped IPv6 address), an IPv6 address by its /64, since one
 * subscriber is normally given a whole /64 and could rotate through it. */
static const char *client_block(apr_pool_t *p, const char *ip)
{
    unsigned char a[16];
    static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

    if (!ip || inet_pton(AF_INET6, ip, a) != 1)
        return apr_pstrcat(p, "4:", ip ? ip : "", NULL);
    if (!memcmp(a, mapped, sizeof(mapped)))
        return apr_psprintf(p, "4:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    return apr_psprintf(p, "6:%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2],
                        a[3], a[4], a[5], a[6], a[7]);
}

/* Takes one slot of each counter, most specific first; on refusal gives
 * back what it took, so an attempt that never reaches HMPPS Auth counts
 * against nothing. */
static take_result take_all(request_rec *r, counter_t *ct, int n)
{
    take_result res = TAKE_OK;
    int i, j;

    for (i = 0; i < n && res == TAKE_OK; i++)
        res = take_slot(r, &ct[i]);
    if (res != TAKE_OK)
        for (j = 0; j < i; j++)
            give_back(r, &ct[j]);
    return res;
}

/* ---- the form ------------------------------------------------------------------- */

static int show_form(request_rec *r, const nsso_srv_conf *c, const char *state,
                     const char *username, const char *error, int status)
{
    apr_pool_t *p = r->pool;
    /* a screen reader names the error when either field is focused */
    const char *described = error ? " aria-describedby=\"error\"" : "";

    return nsso_page_send(r, status, "Sign in", apr_pstrcat(p,
        "<h1>Sign in with your NOMIS account</h1>\n",
        error ? "<p id=\"error\" class=\"nsso-error\" role=\"alert\"><strong>" : "",
        error ? ap_escape_html(p, error) : "", error ? "</strong></p>\n" : "",
        "<form id=\"signin\" method=\"post\" action=\"",
        ap_escape_html(p, nsso_conf_password_uri(c)), "\" autocomplete=\"off\">\n"
        "<input type=\"hidden\" name=\"state\" value=\"", ap_escape_html(p, state), "\">\n"
        "<p><label for=\"username\">Username</label><br>"
        "<input id=\"username\" name=\"username\" value=\"",
        username ? ap_escape_html(p, username) : "", "\"", described,
        " autocomplete=\"username\" "
        "autocapitalize=\"characters\" spellcheck=\"false\" required></p>\n"
        "<p><label for=\"password\">Password</label><br>"
        "<input id=\"password\" name=\"password\" type=\"password\"", described,
        " autocomplete=\"off\" "
        "required></p>\n<p><button id=\"submit\" type=\"submit\">Sign in</button></p>\n"
        "</form>\n", NULL), NSSO_PAGE_FORM_SELF);
}

static int expired_page(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0502) "sign-in form refused: %s", why);
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

static int too_many(request_rec *r, const nsso_srv_conf *c, const char *state,
                    const char *username)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(0503) "password sign-in for %s refused: "
                  "too many attempts", nsso_header_safe(r->pool, apr_pstrndup(r->pool, username, 64)));
    apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, WINDOW));
    return show_form(r, c, state, username, "Too many failed attempts. Wait a few "
                     "minutes, then try again.", HTTP_TOO_MANY_REQUESTS);
}

static int store_down(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", "30");
    return nsso_error_page(r, HTTP_SERVICE_UNAVAILABLE, "Service temporarily unavailable",
                           "Sign-in is not possible at the moment. "
                           "Please try again in a minute.");
}

static int sign_in(request_rec *r, const nsso_srv_conf *c,
                   const apr_array_header_t *cookies)
{
    apr_table_t *form = nsso_read_form(r);
    const char *state = apr_table_get(form, "state"), *why = NULL;
    const char *typed = apr_table_get(form, "username");
    const char *password = apr_table_get(form, "password");
    const nsso_state_t *st = nsso_signin_state(r, c, cookies, state, &why);
    counter_t ct[3];
    const char *username, *body;
    int refused = 0, rc, i;

    if (!st)
        return expired_page(r, why);
    username = field_ok(typed, MAX_USERNAME) ? normalise_username(r->pool, typed) : NULL;
    if (!username || !*username || !field_ok(password, MAX_PASSWORD))
        return show_form(r, c, state, username, "Enter your username and password.",
                         HTTP_OK);
    ct[0].key = counter_key(r->pool, c, 'u', username);
    ct[0].limit = MAX_PER_USER;
    ct[1].key = counter_key(r->pool, c, 'a', client_block(r->pool, r->useragent_ip));
    ct[1].limit = MAX_PER_ADDRESS;
    ct[2].key = counter_key(r->pool, c, 's', "server");
    ct[2].limit = MAX_PER_SERVER;
    for (i = 0; i < 3; i++)
        ct[i].taken = 0;
    switch (take_all(r, ct, 3)) {
    case TAKE_OK:
        break;
    case TAKE_FULL:
        return too_many(r, c, state, username);
    case TAKE_STORE_DOWN:
        return store_down(r);
    }
    body = apr_pstrcat(r->pool, "grant_type=password&username=",
                       nsso_url_encode(r->pool, username), "&password=",
                       nsso_url_encode(r->pool, password), NULL);
    rc = nsso_signin_complete(r, c, body, st, cookies, &refused);
    if (refused) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0504) "password sign-in refused for %s",
                      nsso_header_safe(r->pool, apr_pstrndup(r->pool, username, 64)));
        nsso_event(r, NSSO_EV_SIGN_IN_FAILED, &(nsso_event_info_t){
            .user = username, .reason = NSSO_FAIL_CODE_REFUSED });
        return show_form(r, c, state, username, "Wrong username or password.", HTTP_OK);
    }
    if (rc == HTTP_MOVED_TEMPORARILY) {
        for (i = 0; i < 3; i++)
            give_back(r, &ct[i]);
        if (!nsso_signin_spend(r, c, st))
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0505) "sign-in form state reused");
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
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0506) "password sign-in refused over plain "
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
