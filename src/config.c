/* config.c - NomisSSO* directives: parsing and checking each value as it is
 * read (so `apachectl configtest` names the bad line), per-server defaults
 * and merging, and the start-up check that a server using
 * `AuthType nomis-sso` has everything it needs. */
#include "config.h"
#include "util.h"

#include <http_core.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <ctype.h>

#define DEFAULT_REDIRECT_URI "/nomis-sso/callback"
#define DEFAULT_COOKIE_NAME "nomis_sso_session"
#define DEFAULT_CLOCK_SKEW 30
#define DEFAULT_HTTP_TIMEOUT 10
#define DEFAULT_STATE_TIMEOUT 300
#define DEFAULT_MAX_STATE_COOKIES 5
#define DEFAULT_CACHE_ENTRIES 10000
#define DEFAULT_CACHE_ENTRY_SIZE 8192
#define MIN_PASSPHRASE_LEN 32
#define DEFAULT_JWKS_REFETCH 10
#define DEFAULT_REFRESH_BEFORE 60
#define DEFAULT_INACTIVITY (20 * 60)
#define DEFAULT_MAX_DURATION (12 * 3600)
#define DEFAULT_LOGOUT_URI "/nomis-sso/logout"
#define DEFAULT_SIGNOUT_PATH "/sign-out"
#define DEFAULT_VERIFY_INTERVAL 60

static nsso_global_conf global_conf = {
    DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_ENTRY_SIZE, NULL
};

nsso_global_conf *nsso_global(void)
{
    return &global_conf;
}

void *nsso_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    nsso_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* a new configuration cycle starts: global settings back to defaults */
    if (!s->is_virtual) {
        global_conf.cache_entries = DEFAULT_CACHE_ENTRIES;
        global_conf.cache_entry_size = DEFAULT_CACHE_ENTRY_SIZE;
        global_conf.store_spec = NULL;
        memset(&global_conf.redis, 0, sizeof(global_conf.redis));
    }
    c->clock_skew = NSSO_UNSET;
    c->samesite = NSSO_UNSET;
    c->ssl_verify = NSSO_UNSET;
    c->http_timeout = NSSO_UNSET;
    c->state_timeout = NSSO_UNSET;
    c->max_state_cookies = NSSO_UNSET;
    c->jwks_refetch = NSSO_UNSET;
    c->trust_forwarded = NSSO_UNSET;
    c->refresh_before = NSSO_UNSET;
    c->inactivity_timeout = NSSO_UNSET;
    c->max_duration = NSSO_UNSET;
    c->verify_interval = NSSO_UNSET;
    c->verify_fail_open = NSSO_UNSET;
    c->password_grant = NSSO_UNSET;
    c->password_allow_http = NSSO_UNSET;
    return c;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_INT(f) m->f = add->f != NSSO_UNSET ? add->f : base->f

void *nsso_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const nsso_srv_conf *base = basev, *add = addv;
    nsso_srv_conf *m = apr_pcalloc(p, sizeof(*m));

    MERGE_PTR(auth_url);
    MERGE_PTR(internal_url);
    MERGE_PTR(client_id);
    MERGE_PTR(client_secret);
    MERGE_PTR(redirect_uri);
    MERGE_PTR(issuer);
    MERGE_PTR(algs);
    MERGE_PTR(cookie_name);
    MERGE_PTR(ca_file);
    MERGE_PTR(info_uri);
    MERGE_PTR(caseload_url);
    MERGE_PTR(logout_uri);
    MERGE_PTR(post_logout_url);
    MERGE_PTR(redirect_allowed);
    MERGE_PTR(signout_path);
    MERGE_PTR(verify_url);
    MERGE_PTR(password_uri);
    if (add->npassphrases) {
        m->passphrases[0] = add->passphrases[0];
        m->passphrases[1] = add->passphrases[1];
        m->npassphrases = add->npassphrases;
    } else {
        m->passphrases[0] = base->passphrases[0];
        m->passphrases[1] = base->passphrases[1];
        m->npassphrases = base->npassphrases;
    }
    MERGE_INT(clock_skew);
    MERGE_INT(samesite);
    MERGE_INT(ssl_verify);
    MERGE_INT(http_timeout);
    MERGE_INT(state_timeout);
    MERGE_INT(max_state_cookies);
    MERGE_INT(jwks_refetch);
    MERGE_INT(trust_forwarded);
    MERGE_INT(refresh_before);
    MERGE_INT(inactivity_timeout);
    MERGE_INT(max_duration);
    MERGE_INT(verify_interval);
    MERGE_INT(verify_fail_open);
    MERGE_INT(password_grant);
    MERGE_INT(password_allow_http);
    m->any_set = add->any_set || base->any_set;
    return m;
}

void *nsso_create_dir_conf(apr_pool_t *p, char *dir)
{
    nsso_dir_conf *d = apr_pcalloc(p, sizeof(*d));

    d->unauth_action = NSSO_UNSET;
    d->unauthz_status = NSSO_UNSET;
    d->pass = NSSO_UNSET;
    d->pass_token = NSSO_UNSET;
    d->accept_bearer = NSSO_UNSET;
    d->no_store = NSSO_UNSET;
    return d;
}

void *nsso_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const nsso_dir_conf *base = basev, *add = addv;
    nsso_dir_conf *m = apr_pcalloc(p, sizeof(*m));

    MERGE_INT(unauth_action);
    MERGE_INT(pass);
    MERGE_INT(pass_token);
    MERGE_INT(accept_bearer);
    MERGE_INT(no_store);
    /* the nearest list wins, as Require lines do: not a union */
    m->bearer_clients = add->bearer_clients ? add->bearer_clients : base->bearer_clients;
    if (add->unauthz_status != NSSO_UNSET) {
        m->unauthz_status = add->unauthz_status;
        m->unauthz_url = add->unauthz_url;
    } else {
        m->unauthz_status = base->unauthz_status;
        m->unauthz_url = base->unauthz_url;
    }
    return m;
}

/* ---- effective values ------------------------------------------------- */

#define OR_DEFAULT(v, d) ((v) != NSSO_UNSET ? (v) : (d))

int nsso_conf_refresh_before(const nsso_srv_conf *c)
{
    return OR_DEFAULT(c->refresh_before, DEFAULT_REFRESH_BEFORE);
}

int nsso_conf_inactivity(const nsso_srv_conf *c)
{
    return OR_DEFAULT(c->inactivity_timeout, DEFAULT_INACTIVITY);
}

int nsso_conf_max_duration(const nsso_srv_conf *c)
{
    return OR_DEFAULT(c->max_duration, DEFAULT_MAX_DURATION);
}

const char *nsso_conf_logout_uri(const nsso_srv_conf *c)
{
    return c->logout_uri ? c->logout_uri : DEFAULT_LOGOUT_URI;
}

const char *nsso_conf_signout_path(const nsso_srv_conf *c)
{
    return c->signout_path ? c->signout_path : DEFAULT_SIGNOUT_PATH;
}

int nsso_conf_verify_interval(const nsso_srv_conf *c)
{
    return OR_DEFAULT(c->verify_interval, DEFAULT_VERIFY_INTERVAL);
}

int nsso_conf_verify_fail_open(const nsso_srv_conf *c)
{
    return OR_DEFAULT(c->verify_fail_open, 1);
}

const char *nsso_conf_password_uri(const nsso_srv_conf *c)
{
    return c->password_uri ? c->password_uri : "/nomis-sso/sign-in";
}

int nsso_conf_no_store(const nsso_dir_conf *d)
{
    return !d || d->no_store != 0;
}

nsso_unauth_t nsso_conf_unauth_action(const nsso_dir_conf *d)
{
    return d && d->unauth_action != NSSO_UNSET ? (nsso_unauth_t)d->unauth_action
                                               : NSSO_UNAUTH_AUTH;
}

int nsso_conf_pass(const nsso_dir_conf *d)
{
    return d && d->pass != NSSO_UNSET ? d->pass : NSSO_PASS_HEADERS | NSSO_PASS_ENV;
}

int nsso_conf_trust_forwarded(const nsso_srv_conf *c)
{
    return c->trust_forwarded == 1;
}

const char *nsso_conf_caseload_url(apr_pool_t *p, const nsso_srv_conf *c)
{
    if (!c->caseload_url)
        return apr_pstrcat(p, nsso_conf_internal_url(c), "/api/user/me", NULL);
    return *c->caseload_url ? c->caseload_url : NULL;
}

const char *nsso_conf_internal_url(const nsso_srv_conf *c)
{
    return c->internal_url ? c->internal_url : c->auth_url;
}

const char *nsso_conf_issuer(apr_pool_t *p, const nsso_srv_conf *c)
{
    return c->issuer ? c->issuer : apr_pstrcat(p, c->auth_url, "/issuer", NULL);
}

const char *nsso_conf_redirect_path(apr_pool_t *p, const nsso_srv_conf *c)
{
    const char *r = c->redirect_uri ? c->redirect_uri : DEFAULT_REDIRECT_URI;
    apr_uri_t u;

    if (r[0] == '/')
        return r;
    if (apr_uri_parse(p, r, &u) != APR_SUCCESS || !u.path)
        return DEFAULT_REDIRECT_URI; /* unreachable: checked at parse time */
    return u.path;
}

void nsso_conf_http_opts(const nsso_srv_conf *c, nsso_http_opts_t *opts)
{
    opts->timeout_ms = 1000L * (c->http_timeout != NSSO_UNSET
                                ? c->http_timeout : DEFAULT_HTTP_TIMEOUT);
    opts->ssl_verify = c->ssl_verify != 0;
    opts->ca_file = c->ca_file;
}

int nsso_conf_state_timeout(const nsso_srv_conf *c)
{
    return c->state_timeout != NSSO_UNSET ? c->state_timeout : DEFAULT_STATE_TIMEOUT;
}

int nsso_conf_max_state_cookies(const nsso_srv_conf *c)
{
    return c->max_state_cookies != NSSO_UNSET ? c->max_state_cookies
                                              : DEFAULT_MAX_STATE_COOKIES;
}

int nsso_conf_clock_skew(const nsso_srv_conf *c)
{
    return c->clock_skew != NSSO_UNSET ? c->clock_skew : DEFAULT_CLOCK_SKEW;
}

int nsso_conf_jwks_refetch(const nsso_srv_conf *c)
{
    return c->jwks_refetch != NSSO_UNSET ? c->jwks_refetch : DEFAULT_JWKS_REFETCH;
}

const char *nsso_conf_cookie_name(const nsso_srv_conf *c)
{
    return c->cookie_name ? c->cookie_name : DEFAULT_COOKIE_NAME;
}

nsso_samesite_t nsso_conf_samesite(const nsso_srv_conf *c)
{
    return c->samesite != NSSO_UNSET ? (nsso_samesite_t)c->samesite
                                     : NSSO_SAMESITE_LAX;
}

/* ---- value parsers ---------------------------------------------------- */

static nsso_srv_conf *cmd_conf(cmd_parms *cmd)
{
    nsso_srv_conf *c = nsso_srv(cmd->server);
    c->any_set = 1;
    return c;
}

static const char *fail(cmd_parms *cmd, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive, why);
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if (iscntrl((unsigned char)*s) || *s == ' ')
            return 1;
    return 0;
}

/* An absolute http(s) URL with a host and no query or fragment. */
static const char *parse_base_url(cmd_parms *cmd, const char *arg, const char **out)
{
    apr_uri_t u;
    apr_size_t n;
    char *v;

    if (has_ctl(arg))
        return fail(cmd, "the URL contains spaces or control characters");
    if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname)
        return fail(cmd, apr_psprintf(cmd->pool,
                    "'%s' is not an absolute URL such as https://sign-in.hmpps.service.justice.gov.uk/auth", arg));
    if (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http"))
        return fail(cmd, "only http:// and https:// URLs are supported");
    if (u.query || u.fragment || u.user || u.password)
        return fail(cmd, "the URL must not carry a query, fragment or user name");
    v = apr_pstrdup(cmd->pool, arg);
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        v[--n] = '\0';
    *out = v;
    return NULL;
}

static const char *parse_int(cmd_parms *cmd, const char *arg, long lo, long hi, int *out)
{
    char *end;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return fail(cmd, apr_psprintf(cmd->pool,
                    "'%s' is not a whole number from %ld to %ld", arg, lo, hi));
    *out = (int)v;
    return NULL;
}

/* ---- directive handlers ----------------------------------------------- */

static const char *set_auth_url(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_base_url(cmd, arg, &cmd_conf(cmd)->auth_url);
}

static const char *set_internal_url(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_base_url(cmd, arg, &cmd_conf(cmd)->internal_url);
}

static const char *set_client_id(cmd_parms *cmd, void *d, const char *arg)
{
    if (!*arg || has_ctl(arg) || strchr(arg, ':'))
        return fail(cmd, "the client id must be non-empty, without spaces, control characters or ':'");
    cmd_conf(cmd)->client_id = arg;
    return NULL;
}

/* The secret arg names, or NULL with *err naming the directive. */
static const char *resolve(cmd_parms *cmd, const char *arg, const char **err)
{
    const char *why = NULL;
    const char *v = nsso_resolve_secret(cmd->pool, arg, &why);

    if (!v)
        *err = fail(cmd, why ? why : "empty value");
    return v;
}

static const char *set_client_secret(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = NULL, *v = resolve(cmd, arg, &err);

    if (!v)
        return err;
    if (has_ctl(v))
        return fail(cmd, "the client secret contains spaces or control characters");
    cmd_conf(cmd)->client_secret = v;
    return NULL;
}

static const char *set_redirect_uri(cmd_parms *cmd, void *d, const char *arg)
{
    apr_uri_t u;

    if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    if (arg[0] == '/') {
        if (arg[1] == '/' || arg[1] == '\\' || strchr(arg, '?') || strchr(arg, '#'))
            return fail(cmd, "a path must start with a single '/' and carry no query or fragment");
    } else if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme
               || !u.hostname || !u.path || u.query || u.fragment
               || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http"))) {
        return fail(cmd, "must be a path such as /nomis-sso/callback or an absolute "
                         "http(s) URL with a path and no query");
    }
    cmd_conf(cmd)->redirect_uri = arg;
    return NULL;
}

static const char *set_passphrase(cmd_parms *cmd, void *d, const char *a1, const char *a2)
{
    nsso_srv_conf *c = cmd_conf(cmd);
    const char *args[2] = { a1, a2 };
    int i;

    for (i = 0; i < 2 && args[i]; i++) {
        const char *err = NULL, *v = resolve(cmd, args[i], &err);
        if (!v)
            return err;
        if (strlen(v) < MIN_PASSPHRASE_LEN)
            return fail(cmd, apr_psprintf(cmd->pool,
                        "passphrase %d is shorter than %d characters; make a random "
                        "one with `openssl rand -base64 32`", i + 1, MIN_PASSPHRASE_LEN));
        c->passphrases[i] = v;
    }
    c->npassphrases = i;
    return NULL;
}

static const char *set_issuer(cmd_parms *cmd, void *d, const char *arg)
{
    if (!*arg || has_ctl(arg))
        return fail(cmd, "the issuer must be non-empty, without spaces or control characters");
    cmd_conf(cmd)->issuer = arg;
    return NULL;
}

static const char *set_algs(cmd_parms *cmd, void *d, const char *arg)
{
    static const char *const ok[] = { "RS256", "RS384", "RS512",
                                      "PS256", "PS384", "PS512", NULL };
    nsso_srv_conf *c = cmd_conf(cmd);
    int i;

    for (i = 0; ok[i]; i++)
        if (!strcmp(ok[i], arg))
            break;
    if (!ok[i])
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not an RSA signature algorithm "
                    "(RS256 RS384 RS512 PS256 PS384 PS512); 'none' and HMAC are never accepted", arg));
    if (!c->algs)
        c->algs = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(c->algs, const char *) = ok[i];
    return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 0, 600, &cmd_conf(cmd)->clock_skew);
}

static const char *set_http_timeout(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 1, 300, &cmd_conf(cmd)->http_timeout);
}

static const char *set_state_timeout(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 30, 3600, &cmd_conf(cmd)->state_timeout);
}

static const char *set_max_state_cookies(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 1, 20, &cmd_conf(cmd)->max_state_cookies);
}

static const char *set_jwks_refetch(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 1, 3600, &cmd_conf(cmd)->jwks_refetch);
}

static const char *set_unauth_action(cmd_parms *cmd, void *dv, const char *arg)
{
    nsso_dir_conf *d = dv;

    if (!strcasecmp(arg, "auth"))
        d->unauth_action = NSSO_UNAUTH_AUTH;
    else if (!strcmp(arg, "401"))
        d->unauth_action = NSSO_UNAUTH_401;
    else if (!strcasecmp(arg, "pass"))
        d->unauth_action = NSSO_UNAUTH_PASS;
    else
        return fail(cmd, "must be auth, 401 or pass");
    return NULL;
}

static const char *set_unauthz_action(cmd_parms *cmd, void *dv, const char *arg)
{
    nsso_dir_conf *d = dv;
    apr_uri_t u;

    d->unauthz_url = NULL;
    if (!strcmp(arg, "403"))
        d->unauthz_status = HTTP_FORBIDDEN;
    else if (!strcmp(arg, "401"))
        d->unauthz_status = HTTP_UNAUTHORIZED;
    else if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    else if ((arg[0] == '/' && arg[1] != '/' && arg[1] != '\\')
             || (apr_uri_parse(cmd->pool, arg, &u) == APR_SUCCESS && u.scheme && u.hostname
                 && (!strcasecmp(u.scheme, "https") || !strcasecmp(u.scheme, "http")))) {
        d->unauthz_status = HTTP_MOVED_TEMPORARILY;
        d->unauthz_url = arg;
    } else
        return fail(cmd, "must be 403, 401, a local path or an absolute http(s) URL");
    return NULL;
}

static const char *set_pass(cmd_parms *cmd, void *dv, const char *arg)
{
    nsso_dir_conf *d = dv;

    if (!strcasecmp(arg, "headers"))
        d->pass = NSSO_PASS_HEADERS;
    else if (!strcasecmp(arg, "environment"))
        d->pass = NSSO_PASS_ENV;
    else if (!strcasecmp(arg, "both"))
        d->pass = NSSO_PASS_HEADERS | NSSO_PASS_ENV;
    else if (!strcasecmp(arg, "none"))
        d->pass = 0;
    else
        return fail(cmd, "must be headers, environment, both or none");
    return NULL;
}

static const char *set_pass_token(cmd_parms *cmd, void *dv, int flag)
{
    ((nsso_dir_conf *)dv)->pass_token = flag;
    return NULL;
}

static const char *set_info_uri(cmd_parms *cmd, void *d, const char *arg)
{
    if (arg[0] != '/' || arg[1] == '/' || has_ctl(arg) || strchr(arg, '?'))
        return fail(cmd, "must be a local path such as /nomis-sso/info");
    cmd_conf(cmd)->info_uri = arg;
    return NULL;
}

static const char *set_caseload_url(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);
    apr_uri_t u;

    if (!strcasecmp(arg, "none")) {
        c->caseload_url = "";
        return NULL;
    }
    if (has_ctl(arg) || apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme
        || !u.hostname || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")))
        return fail(cmd, "must be an absolute http(s) URL or 'none'");
    c->caseload_url = arg;
    return NULL;
}

static const char *set_trust_forwarded(cmd_parms *cmd, void *d, int flag)
{
    cmd_conf(cmd)->trust_forwarded = flag;
    return NULL;
}

static const char *set_refresh_before(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 0, 86400, &cmd_conf(cmd)->refresh_before);
}

static const char *set_inactivity(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 10, 7 * 86400, &cmd_conf(cmd)->inactivity_timeout);
}

static const char *set_max_duration(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 10, 30 * 86400, &cmd_conf(cmd)->max_duration);
}

static const char *local_path(cmd_parms *cmd, const char *arg, const char **out)
{
    if (arg[0] != '/' || arg[1] == '/' || arg[1] == '\\' || has_ctl(arg)
        || strchr(arg, '?') || strchr(arg, '#'))
        return fail(cmd, "must be a local path such as /nomis-sso/logout");
    *out = arg;
    return NULL;
}

static const char *set_logout_uri(cmd_parms *cmd, void *d, const char *arg)
{
    return local_path(cmd, arg, &cmd_conf(cmd)->logout_uri);
}

static const char *set_signout_path(cmd_parms *cmd, void *d, const char *arg)
{
    return local_path(cmd, arg, &cmd_conf(cmd)->signout_path);
}

static const char *set_post_logout_url(cmd_parms *cmd, void *d, const char *arg)
{
    apr_uri_t u;

    if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    if (arg[0] == '/' ? (arg[1] == '/' || arg[1] == '\\')
        : (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname
           || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http"))))
        return fail(cmd, "must be a local path or an absolute http(s) URL");
    cmd_conf(cmd)->post_logout_url = arg;
    return NULL;
}

static const char *add_redirect_allowed(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);
    ap_regex_t *re = ap_pregcomp(cmd->pool, arg, AP_REG_EXTENDED | AP_REG_NOSUB);

    if (!re)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid regular expression", arg));
    if (arg[0] != '^')
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' must be anchored with ^ (and should "
                                      "name the scheme and host) so it cannot match "
                                      "inside another URL", arg));
    if (!c->redirect_allowed)
        c->redirect_allowed = apr_array_make(cmd->pool, 2, sizeof(ap_regex_t *));
    APR_ARRAY_PUSH(c->redirect_allowed, ap_regex_t *) = re;
    return NULL;
}

static const char *set_verify_url(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_base_url(cmd, arg, &cmd_conf(cmd)->verify_url);
}

static const char *set_verify_interval(cmd_parms *cmd, void *d, const char *arg)
{
    return parse_int(cmd, arg, 0, 86400, &cmd_conf(cmd)->verify_interval);
}

static const char *set_verify_failure(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);

    if (!strcasecmp(arg, "fail-open"))
        c->verify_fail_open = 1;
    else if (!strcasecmp(arg, "fail-closed"))
        c->verify_fail_open = 0;
    else
        return fail(cmd, "must be fail-open or fail-closed");
    return NULL;
}

static const char *set_grant_type(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);

    if (!strcmp(arg, "authorization_code"))
        c->password_grant = 0;
    else if (!strcmp(arg, "password"))
        c->password_grant = 1;
    else
        return fail(cmd, "must be authorization_code (NOMIS SSO, the default) or password");
    return NULL;
}

static const char *set_password_uri(cmd_parms *cmd, void *d, const char *arg)
{
    return local_path(cmd, arg, &cmd_conf(cmd)->password_uri);
}

static const char *set_password_allow_http(cmd_parms *cmd, void *d, int flag)
{
    cmd_conf(cmd)->password_allow_http = flag;
    return NULL;
}

static const char *set_accept_bearer(cmd_parms *cmd, void *dv, int flag)
{
    ((nsso_dir_conf *)dv)->accept_bearer = flag;
    return NULL;
}

static const char *add_bearer_client(cmd_parms *cmd, void *dv, const char *arg)
{
    nsso_dir_conf *d = dv;

    if (!*arg || has_ctl(arg))
        return fail(cmd, "a client id has no spaces or control characters");
    if (!d->bearer_clients)
        d->bearer_clients = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(d->bearer_clients, const char *) = arg;
    return NULL;
}

static const char *set_no_store(cmd_parms *cmd, void *dv, int flag)
{
    ((nsso_dir_conf *)dv)->no_store = flag;
    return NULL;
}

static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const char *set_cache_entries(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_int(cmd, arg, 16, 10000000, &global_conf.cache_entries);
}

static const char *set_cache_entry_size(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_int(cmd, arg, 1024, 1048576, &global_conf.cache_entry_size);
}

/* ---- the Redis store (store_redis.c): NomisSSOSessionStore redis[s]://
 * and its NomisSSOSessionStore* companions, all global. */

static const char *set_redis_store(cmd_parms *cmd, const char *arg)
{
    nsso_redis_url_t u;
    const char *why = NULL;

    if (nsso_redis_url_parse(cmd->pool, arg, &u, &why) != APR_SUCCESS)
        return fail(cmd, why);
    global_conf.store_spec = NULL;
    global_conf.redis.url = arg;
    return NULL;
}

static const char *set_redis_password(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd), *v;

    if (err)
        return err;
    if (strncmp(arg, "env:", 4) && strncmp(arg, "file:", 5))
        return fail(cmd, "must be env:NAME or file:/path (keep the password out of the "
                         "configuration)");
    if (!(v = resolve(cmd, arg, &err)))
        return err;
    if (has_ctl(v))
        return fail(cmd, "the password contains spaces or control characters");
    global_conf.redis.password = v;
    return NULL;
}

/* A readable regular file (relative to ServerRoot) into *out. */
static const char *redis_file(cmd_parms *cmd, const char *arg, const char **out)
{
    const char *err = global_only(cmd), *path;
    apr_finfo_t fi;

    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a readable file", arg));
    *out = path;
    return NULL;
}

static const char *set_redis_ca(cmd_parms *cmd, void *d, const char *arg)
{
    return redis_file(cmd, arg, &global_conf.redis.ca_file);
}

static const char *set_redis_cert(cmd_parms *cmd, void *d, const char *arg)
{
    return redis_file(cmd, arg, &global_conf.redis.cert_file);
}

static const char *set_redis_key(cmd_parms *cmd, void *d, const char *arg)
{
    return redis_file(cmd, arg, &global_conf.redis.key_file);
}

static const char *set_session_store(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);

    if (err)
        return err;
    global_conf.redis.url = NULL;
    if (!strncasecmp(arg, "redis://", 8) || !strncasecmp(arg, "rediss://", 9))
        return set_redis_store(cmd, arg);
    if (!strcasecmp(arg, "shm")) {
        global_conf.store_spec = NULL;
        return NULL;
    }
    if (strncasecmp(arg, "socache:", 8) || !arg[8] || arg[8] == ':' || has_ctl(arg))
        return fail(cmd, "must be shm, socache:<provider>[:<arguments>], e.g. "
                         "socache:redis:127.0.0.1:6379, or redis[s]://[user@]host[:port][/db]");
    global_conf.store_spec = arg + 8;
    return NULL;
}

static const char *set_cookie_name(cmd_parms *cmd, void *d, const char *arg)
{
    const char *s;

    if (!*arg || strlen(arg) > 64)
        return fail(cmd, "the cookie name must be 1 to 64 characters");
    for (s = arg; *s; s++)
        if (!apr_isalnum(*s) && *s != '_' && *s != '-')
            return fail(cmd, "the cookie name may only use letters, digits, '_' and '-'");
    cmd_conf(cmd)->cookie_name = arg;
    return NULL;
}

static const char *set_samesite(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);

    if (!strcasecmp(arg, "Lax"))
        c->samesite = NSSO_SAMESITE_LAX;
    else if (!strcasecmp(arg, "Strict"))
        c->samesite = NSSO_SAMESITE_STRICT;
    else if (!strcasecmp(arg, "None"))
        c->samesite = NSSO_SAMESITE_NONE;
    else
        return fail(cmd, "must be Lax, Strict or None");
    return NULL;
}

static const char *set_ssl_verify(cmd_parms *cmd, void *d, int flag)
{
    cmd_conf(cmd)->ssl_verify = flag;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *d, const char *arg)
{
    apr_finfo_t fi;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a readable file", arg));
    cmd_conf(cmd)->ca_file = path;
    return NULL;
}

const command_rec nsso_directives[] = {
    AP_INIT_TAKE1("NomisSSOAuthURL", set_auth_url, NULL, RSRC_CONF,
        "HMPPS Auth base URL the browser is sent to, ending in /auth"),
    AP_INIT_TAKE1("NomisSSOAuthInternalURL", set_internal_url, NULL, RSRC_CONF,
        "HMPPS Auth base URL for server-to-server calls (default: NomisSSOAuthURL)"),
    AP_INIT_TAKE1("NomisSSOClientID", set_client_id, NULL, RSRC_CONF,
        "OAuth2 client id registered with HMPPS Auth"),
    AP_INIT_TAKE1("NomisSSOClientSecret", set_client_secret, NULL, RSRC_CONF,
        "OAuth2 client secret: a literal, env:NAME or file:/path"),
    AP_INIT_TAKE1("NomisSSORedirectURI", set_redirect_uri, NULL, RSRC_CONF,
        "path or absolute URL of the module's OAuth2 callback (default /nomis-sso/callback)"),
    AP_INIT_TAKE12("NomisSSOCryptoPassphrase", set_passphrase, NULL, RSRC_CONF,
        "passphrase for cookie encryption (literal, env:NAME or file:/path); "
        "a second one is still accepted for decryption during rollover"),
    AP_INIT_TAKE1("NomisSSOIssuer", set_issuer, NULL, RSRC_CONF,
        "expected 'iss' of access tokens (default <NomisSSOAuthURL>/issuer)"),
    AP_INIT_ITERATE("NomisSSOTokenAlgorithms", set_algs, NULL, RSRC_CONF,
        "accepted token signature algorithms (default RS256)"),
    AP_INIT_TAKE1("NomisSSOClockSkew", set_clock_skew, NULL, RSRC_CONF,
        "seconds of clock difference tolerated on exp/nbf/iat (default 30)"),
    AP_INIT_TAKE1("NomisSSOSessionCacheEntries", set_cache_entries, NULL, RSRC_CONF,
        "number of sessions the shared-memory store holds (default 10000)"),
    AP_INIT_TAKE1("NomisSSOSessionCacheEntrySize", set_cache_entry_size, NULL, RSRC_CONF,
        "bytes per session in the shared-memory store (default 8192)"),
    AP_INIT_TAKE1("NomisSSOSessionStore", set_session_store, NULL, RSRC_CONF,
        "where sessions live: shm (default, this host) or socache:<provider>[:<args>] "
        "(shared by several hosts, e.g. socache:redis:host:6379) or "
        "redis[s]://[user[:password]@]host[:port][/db] (our own client: TLS, ACL users)"),
    AP_INIT_TAKE1("NomisSSOSessionStorePassword", set_redis_password, NULL, RSRC_CONF,
        "password for a redis[s]:// NomisSSOSessionStore: env:NAME or file:/path"),
    AP_INIT_TAKE1("NomisSSOSessionStoreCACertificateFile", set_redis_ca, NULL, RSRC_CONF,
        "CA bundle for a rediss:// NomisSSOSessionStore (default: the system CAs)"),
    AP_INIT_TAKE1("NomisSSOSessionStoreCertificateFile", set_redis_cert, NULL, RSRC_CONF,
        "client certificate (PEM) for a rediss:// NomisSSOSessionStore"),
    AP_INIT_TAKE1("NomisSSOSessionStoreCertificateKeyFile", set_redis_key, NULL, RSRC_CONF,
        "client certificate key (PEM) for a rediss:// NomisSSOSessionStore"),
    AP_INIT_TAKE1("NomisSSOCookieName", set_cookie_name, NULL, RSRC_CONF,
        "name of the session cookie (default nomis_sso_session)"),
    AP_INIT_TAKE1("NomisSSOCookieSameSite", set_samesite, NULL, RSRC_CONF,
        "SameSite attribute of the session cookie: Lax (default), Strict or None"),
    AP_INIT_FLAG("NomisSSOSSLVerify", set_ssl_verify, NULL, RSRC_CONF,
        "verify HMPPS Auth's TLS certificate (default On)"),
    AP_INIT_TAKE1("NomisSSOCACertificateFile", set_ca_file, NULL, RSRC_CONF,
        "CA bundle for HMPPS Auth's TLS certificate (default: the system store)"),
    AP_INIT_TAKE1("NomisSSOHTTPTimeout", set_http_timeout, NULL, RSRC_CONF,
        "seconds allowed for one call to HMPPS Auth (default 10)"),
    AP_INIT_TAKE1("NomisSSOStateTimeout", set_state_timeout, NULL, RSRC_CONF,
        "seconds a sign-in may take before its state expires (default 300)"),
    AP_INIT_TAKE1("NomisSSOStateCookieLimit", set_max_state_cookies, NULL, RSRC_CONF,
        "sign-ins that may be in progress at once per browser (default 5)"),
    AP_INIT_TAKE1("NomisSSOJWKSRefetchInterval", set_jwks_refetch, NULL, RSRC_CONF,
        "least seconds between JWKS refetches caused by an unknown key id (default 10)"),
    AP_INIT_TAKE1("NomisSSOUnauthAction", set_unauth_action, NULL, OR_AUTHCFG | RSRC_CONF,
        "without a session: auth (sign in; 401 for XHR), 401, or pass (let through)"),
    AP_INIT_TAKE1("NomisSSOUnauthzAction", set_unauthz_action, NULL, OR_AUTHCFG | RSRC_CONF,
        "when a Require nomis-* line denies: 403 (default), 401, or a URL to redirect to"),
    AP_INIT_TAKE1("NomisSSOPass", set_pass, NULL, OR_AUTHCFG | RSRC_CONF,
        "hand the user to later handlers as headers, environment, both (default) or none"),
    /* never from .htaccess: a directory owner's scripts must not be able to
     * ask for staff members' access tokens */
    AP_INIT_FLAG("NomisSSOPassAccessToken", set_pass_token, NULL, ACCESS_CONF | RSRC_CONF,
        "also pass the access token (NOMIS_SSO_ACCESS_TOKEN, Authorization: Bearer); "
        "httpd.conf only, not .htaccess"),
    AP_INIT_TAKE1("NomisSSOInfoURI", set_info_uri, NULL, RSRC_CONF,
        "path answering the signed-in user's session as JSON (default: off)"),
    AP_INIT_TAKE1("NomisSSOCaseloadURL", set_caseload_url, NULL, RSRC_CONF,
        "URL giving the user's active caseload at sign-in (default "
        "<NomisSSOAuthInternalURL>/api/user/me), or none"),
    AP_INIT_FLAG("NomisSSOTrustForwardedHeaders", set_trust_forwarded, NULL, RSRC_CONF,
        "use X-Forwarded-Proto/Host/Port from a trusted proxy (default Off)"),
    AP_INIT_TAKE1("NomisSSORefreshBeforeExpiry", set_refresh_before, NULL, RSRC_CONF,
        "refresh the access token this many seconds before it expires (default 60; 0: never)"),
    AP_INIT_TAKE1("NomisSSOSessionInactivityTimeout", set_inactivity, NULL, RSRC_CONF,
        "end a session unused for this many seconds (default 1200)"),
    AP_INIT_TAKE1("NomisSSOSessionMaxDuration", set_max_duration, NULL, RSRC_CONF,
        "end a session this many seconds after sign-in (default 43200)"),
    AP_INIT_TAKE1("NomisSSOLogoutURI", set_logout_uri, NULL, RSRC_CONF,
        "local path that signs out (default /nomis-sso/logout)"),
    AP_INIT_TAKE1("NomisSSOPostLogoutURL", set_post_logout_url, NULL, RSRC_CONF,
        "where HMPPS Auth sends the browser after sign-out (default: this site's /)"),
    AP_INIT_ITERATE("NomisSSORedirectURLsAllowed", add_redirect_allowed, NULL, RSRC_CONF,
        "anchored regular expressions of other-host URLs sign-out may return to"),
    AP_INIT_TAKE1("NomisSSOAuthSignOutPath", set_signout_path, NULL, RSRC_CONF,
        "HMPPS Auth's sign-out path (default /sign-out; older servers: /logout)"),
    AP_INIT_TAKE1("NomisSSOTokenVerificationURL", set_verify_url, NULL, RSRC_CONF,
        "base URL of the HMPPS token verification API (default: off)"),
    AP_INIT_TAKE1("NomisSSOTokenVerificationInterval", set_verify_interval, NULL, RSRC_CONF,
        "seconds between verifications of one session's token (default 60)"),
    AP_INIT_TAKE1("NomisSSOTokenVerificationFailure", set_verify_failure, NULL, RSRC_CONF,
        "when the verification API cannot answer: fail-open (default) or fail-closed"),
    AP_INIT_FLAG("NomisSSOAcceptBearer", set_accept_bearer, NULL, OR_AUTHCFG | RSRC_CONF,
        "also accept Authorization: Bearer access tokens beside session cookies"),
    AP_INIT_ITERATE("NomisSSOBearerClients", add_bearer_client, NULL, OR_AUTHCFG | RSRC_CONF,
        "client ids whose bearer tokens this location accepts (default: any client)"),
    AP_INIT_FLAG("NomisSSONoStore", set_no_store, NULL, OR_AUTHCFG | RSRC_CONF,
        "mark protected responses Cache-Control: no-store (default On)"),
    AP_INIT_TAKE1("NomisSSOGrantType", set_grant_type, NULL, RSRC_CONF,
        "authorization_code (NOMIS SSO, default) or password (contingency: the module's "
        "own sign-in form)"),
    AP_INIT_TAKE1("NomisSSOPasswordFormURI", set_password_uri, NULL, RSRC_CONF,
        "path of the module's sign-in form with NomisSSOGrantType password "
        "(default /nomis-sso/sign-in)"),
    AP_INIT_FLAG("NomisSSOPasswordAllowHTTP", set_password_allow_http, NULL, RSRC_CONF,
        "accept passwords over plain http (development only; default Off)"),
    { NULL }
};

/* ---- start-up check ----------------------------------------------------- */

/* The server a config-tree node belongs to: its enclosing <VirtualHost>,
 * matched on file and line, else the main server. */
static server_rec *node_server(const ap_directive_t *n, server_rec *main_s)
{
    const ap_directive_t *v;
    server_rec *s;

    for (v = n->parent; v; v = v->parent)
        if (!strcasecmp(v->directive, "<VirtualHost"))
            break;
    if (!v)
        return main_s;
    for (s = main_s->next; s; s = s->next)
        if (s->defn_line_number == (unsigned)v->line_num && s->defn_name
            && v->filename && !strcmp(s->defn_name, v->filename))
            return s;
    return main_s;
}

static const char *server_key(apr_pool_t *p, const server_rec *s)
{
    return apr_psprintf(p, "%pp", (const void *)s);
}

static void mark_authtype_users(apr_pool_t *ptemp, const ap_directive_t *n,
                                server_rec *main_s, apr_hash_t *users)
{
    for (; n; n = n->next) {
        if (!strcasecmp(n->directive, "AuthType") && n->args
            && !strcasecmp(n->args, NSSO_AUTH_TYPE)) {
            server_rec *s = node_server(n, main_s);
            apr_hash_set(users, server_key(ptemp, s), APR_HASH_KEY_STRING, n);
        }
        if (n->first_child)
            mark_authtype_users(ptemp, n->first_child, main_s, users);
    }
}

static const char *server_where(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual || !s->defn_name)
        return "the main server";
    return apr_psprintf(p, "<VirtualHost> at %s:%u", s->defn_name, s->defn_line_number);
}

static const char *missing_directive(const nsso_srv_conf *c)
{
    if (!c->auth_url)
        return "NomisSSOAuthURL";
    if (!c->client_id)
        return "NomisSSOClientID";
    if (!c->client_secret)
        return "NomisSSOClientSecret";
    if (!c->npassphrases)
        return "NomisSSOCryptoPassphrase";
    return NULL;
}

int nsso_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *main_s)
{
    apr_hash_t *users = apr_hash_make(ptemp);
    server_rec *s;
    int rc = OK;

    mark_authtype_users(ptemp, ap_conftree, main_s, users);
    for (s = main_s; s; s = s->next) {
        const nsso_srv_conf *c = nsso_srv(s);
        const ap_directive_t *use = apr_hash_get(users, server_key(ptemp, s),
                                                 APR_HASH_KEY_STRING);
        const char *missing;

        if (!use && !c->any_set)
            continue;
        missing = missing_directive(c);
        if (!missing)
            continue;
        if (use)
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "%s is required: 'AuthType nomis-sso' is used at %s:%d "
                         "but %s is not set for this server (%s)",
                         missing, use->filename, use->line_num, missing,
                         server_where(ptemp, s));
        else
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "%s is required: other NomisSSO* directives are set for "
                         "this server (%s) but %s is not", missing,
                         server_where(ptemp, s), missing);
        rc = !OK;
    }
    return rc;
}
