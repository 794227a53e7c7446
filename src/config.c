/* config.c - NomisSSO* directives as httpd sees them: the command table
 * built from directives.def, the setters (the simple kinds through the
 * table, the rest here), each checking its value as it is read (so
 * `apachectl configtest` names the bad line), per-server and per-directory
 * creation and merging, the effective values with the table's defaults, and
 * the start-up check that a server using `AuthType nomis-sso` or
 * `nomis-bearer` has everything that use needs. */
#include "config.h"
#include "util.h"

#include <http_core.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <ctype.h>

#define MIN_PASSPHRASE_LEN 32

static nsso_global_conf global_conf;

nsso_global_conf *nsso_global(void)
{
    return &global_conf;
}

void *nsso_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    nsso_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* a new configuration cycle starts: global settings back to defaults */
    if (!s->is_virtual) {
        memset(&global_conf.redis, 0, sizeof(global_conf.redis));
        nsso_directives_reset(&global_conf, NSSO_DS_GLOBAL);
    }
    nsso_directives_reset(c, NSSO_DS_SERVER);
    return c;
}

void *nsso_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const nsso_srv_conf *base = basev, *add = addv;
    nsso_srv_conf *m = apr_pcalloc(p, sizeof(*m));
    /* the passphrases go together: a vhost's one passphrase must not pick
     * up the main server's old one */
    const nsso_srv_conf *pp = add->npassphrases ? add : base;

    nsso_directives_merge(m, base, add, NSSO_DS_SERVER);
    m->passphrases[0] = pp->passphrases[0];
    m->passphrases[1] = pp->passphrases[1];
    m->npassphrases = pp->npassphrases;
    m->any_set = add->any_set || base->any_set;
    return m;
}

void *nsso_create_dir_conf(apr_pool_t *p, char *dir)
{
    nsso_dir_conf *d = apr_pcalloc(p, sizeof(*d));

    nsso_directives_reset(d, NSSO_DS_DIR);
    d->unauthz_status = NSSO_UNSET;
    return d;
}

void *nsso_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const nsso_dir_conf *base = basev, *add = addv;
    nsso_dir_conf *m = apr_pcalloc(p, sizeof(*m));
    /* status and URL go together */
    const nsso_dir_conf *z = add->unauthz_status != NSSO_UNSET ? add : base;

    /* bearer_clients: the nearest list wins, as Require lines do: not a union */
    nsso_directives_merge(m, base, add, NSSO_DS_DIR);
    m->unauthz_status = z->unauthz_status;
    m->unauthz_url = z->unauthz_url;
    return m;
}

/* ---- effective values ------------------------------------------------- */

#define INT_OR_DEFAULT(v, id) nsso_directive_or_default((v), NSSO_D_##id)
#define STR_OR_DEFAULT(v, id) nsso_directive_or_default_str((v), NSSO_D_##id)

int nsso_conf_refresh_before(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->refresh_before, REFRESH_BEFORE);
}

int nsso_conf_discovery(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->discovery, DISCOVERY);
}

int nsso_conf_inactivity(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->inactivity_timeout, INACTIVITY);
}

int nsso_conf_max_duration(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->max_duration, MAX_DURATION);
}

const char *nsso_conf_logout_uri(const nsso_srv_conf *c)
{
    return STR_OR_DEFAULT(c->logout_uri, LOGOUT_URI);
}

const char *nsso_conf_signout_path(const nsso_srv_conf *c)
{
    return STR_OR_DEFAULT(c->signout_path, SIGNOUT_PATH);
}

int nsso_conf_verify_interval(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->verify_interval, VERIFY_INTERVAL);
}

int nsso_conf_verify_fail_open(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->verify_fail_open, VERIFY_FAILURE);
}

const char *nsso_conf_password_uri(const nsso_srv_conf *c)
{
    return STR_OR_DEFAULT(c->password_uri, PASSWORD_URI);
}

int nsso_conf_no_store(const nsso_dir_conf *d)
{
    return INT_OR_DEFAULT(d ? d->no_store : NSSO_UNSET, NO_STORE) != 0;
}

nsso_unauth_t nsso_conf_unauth_action(const nsso_dir_conf *d)
{
    return (nsso_unauth_t)INT_OR_DEFAULT(d ? d->unauth_action : NSSO_UNSET, UNAUTH_ACTION);
}

int nsso_conf_pass(const nsso_dir_conf *d)
{
    return INT_OR_DEFAULT(d ? d->pass : NSSO_UNSET, PASS);
}

int nsso_conf_trust_forwarded(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->trust_forwarded, TRUST_FORWARDED) == 1;
}

const char *nsso_conf_caseload_url(apr_pool_t *p, const nsso_srv_conf *c)
{
    if (!c->caseload_url)
        return apr_pstrcat(p, nsso_conf_internal_url(c), "/api/user/me", NULL);
    return *c->caseload_url ? c->caseload_url : NULL;
}

const apr_array_header_t *nsso_conf_pass_claim_names(apr_pool_t *p, const nsso_srv_conf *c)
{
    apr_array_header_t *names;
    int i;

    if (!c->pass_claims)
        return NULL;
    names = apr_array_make(p, c->pass_claims->nelts, sizeof(const char *));
    for (i = 0; i < c->pass_claims->nelts; i++)
        APR_ARRAY_PUSH(names, const char *) =
            APR_ARRAY_IDX(c->pass_claims, i, nsso_pass_claim_t).claim;
    return names;
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
    const char *r = STR_OR_DEFAULT(c->redirect_uri, REDIRECT_URI);
    apr_uri_t u;

    if (r[0] == '/')
        return r;
    if (apr_uri_parse(p, r, &u) != APR_SUCCESS || !u.path) /* unreachable: */
        return nsso_directive_table[NSSO_D_REDIRECT_URI].sdef; /* checked when read */
    return u.path;
}

void nsso_conf_http_opts(const nsso_srv_conf *c, nsso_http_opts_t *opts)
{
    opts->timeout_ms = 1000L * INT_OR_DEFAULT(c->http_timeout, HTTP_TIMEOUT);
    opts->ssl_verify = INT_OR_DEFAULT(c->ssl_verify, SSL_VERIFY) != 0;
    opts->ca_file = c->ca_file;
}

int nsso_conf_state_timeout(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->state_timeout, STATE_TIMEOUT);
}

int nsso_conf_max_state_cookies(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->max_state_cookies, STATE_COOKIE_LIMIT);
}

int nsso_conf_clock_skew(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->clock_skew, CLOCK_SKEW);
}

int nsso_conf_jwks_refetch(const nsso_srv_conf *c)
{
    return INT_OR_DEFAULT(c->jwks_refetch, JWKS_REFETCH);
}

const char *nsso_conf_cookie_name(const nsso_srv_conf *c)
{
    return STR_OR_DEFAULT(c->cookie_name, COOKIE_NAME);
}

nsso_samesite_t nsso_conf_samesite(const nsso_srv_conf *c)
{
    return (nsso_samesite_t)INT_OR_DEFAULT(c->samesite, SAMESITE);
}

/* ---- setters ---------------------------------------------------------- */

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

static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

/* The settings struct a table row's field is in. */
static void *row_conf(cmd_parms *cmd, void *dconf, const nsso_directive_t *d)
{
    switch (d->in) {
    case NSSO_DS_DIR:
        return dconf;
    case NSSO_DS_GLOBAL:
        return &global_conf;
    default:
        return cmd_conf(cmd);
    }
}

/* INT, ENUM and PATH directives: parsed by the table. */
static const char *set_simple(cmd_parms *cmd, void *dconf, const char *arg)
{
    const nsso_directive_t *d = cmd->info;
    const char *why = d->context == NSSO_DC_GLOBAL ? global_only(cmd) : NULL;

    if (why)
        return why;
    why = nsso_directive_parse(cmd->pool, d, arg, row_conf(cmd, dconf, d));
    return why ? fail(cmd, why) : NULL;
}

static const char *set_flag(cmd_parms *cmd, void *dconf, int flag)
{
    const nsso_directive_t *d = cmd->info;

    nsso_directive_set_int(d, row_conf(cmd, dconf, d), flag);
    return NULL;
}

/* A field of the server config, as a table row places it. */
static const char **srv_str(cmd_parms *cmd)
{
    const nsso_directive_t *d = cmd->info;
    return (const char **)((char *)cmd_conf(cmd) + d->offset);
}

/* An absolute http(s) URL with a host and no query or fragment; trailing
 * '/' removed (paths are appended to it). */
static const char *set_base_url(cmd_parms *cmd, void *d, const char *arg)
{
    const char *why = nsso_http_url_problem(cmd->pool, arg, NSSO_URL_BASE);
    char *v;
    apr_size_t n;

    if (why)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' %s", arg, why));
    v = apr_pstrdup(cmd->pool, arg);
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        v[--n] = '\0';
    *srv_str(cmd) = v;
    return NULL;
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
    if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    if (arg[0] == '/' ? !nsso_is_local_path(arg, 0)
                      : !nsso_is_http_url(cmd->pool, arg, NSSO_URL_BASE | NSSO_URL_PATH))
        return fail(cmd, "must be a path such as /nomis-sso/callback (one '/' first, no "
                         "query or fragment) or an absolute http(s) URL with a path and "
                         "no query");
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

static const char *add_alg(cmd_parms *cmd, void *d, const char *arg)
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

/* A redirect target: a local path or an absolute http(s) URL, either with
 * a query if need be. */
static int redirect_target_ok(apr_pool_t *p, const char *arg)
{
    return nsso_is_local_path(arg, NSSO_PATH_QUERY) || nsso_is_http_url(p, arg, 0);
}

static const char *set_unauthz_action(cmd_parms *cmd, void *dv, const char *arg)
{
    nsso_dir_conf *d = dv;

    d->unauthz_url = NULL;
    if (!strcmp(arg, "403"))
        d->unauthz_status = HTTP_FORBIDDEN;
    else if (!strcmp(arg, "401"))
        d->unauthz_status = HTTP_UNAUTHORIZED;
    else if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    else if (redirect_target_ok(cmd->pool, arg)) {
        d->unauthz_status = HTTP_MOVED_TEMPORARILY;
        d->unauthz_url = arg;
    } else
        return fail(cmd, "must be 403, 401, a local path or an absolute http(s) URL");
    return NULL;
}

static const char *set_jwks_url(cmd_parms *cmd, void *d, const char *arg)
{
    const char *why = nsso_http_url_problem(cmd->pool, arg, NSSO_URL_PATH);

    if (why)
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' %s", arg, why));
    cmd_conf(cmd)->jwks_url = arg;
    return NULL;
}

static const char *set_caseload_url(cmd_parms *cmd, void *d, const char *arg)
{
    nsso_srv_conf *c = cmd_conf(cmd);

    if (!strcasecmp(arg, "none")) {
        c->caseload_url = "";
        return NULL;
    }
    if (!nsso_is_http_url(cmd->pool, arg, 0))
        return fail(cmd, "must be an absolute http(s) URL or 'none'");
    c->caseload_url = arg;
    return NULL;
}

static const char *add_pass_claim(cmd_parms *cmd, void *d, const char *claim,
                                  const char *name)
{
    nsso_srv_conf *c = cmd_conf(cmd);
    const char *why = nsso_pass_claim_add(cmd->pool, &c->pass_claims, claim, name);

    return why ? fail(cmd, why) : NULL;
}

static const char *set_post_logout_url(cmd_parms *cmd, void *d, const char *arg)
{
    if (has_ctl(arg))
        return fail(cmd, "contains spaces or control characters");
    if (!redirect_target_ok(cmd->pool, arg))
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
    global_conf.redis.sentinel = u.sentinel;
    return NULL;
}

/* A password kept out of the configuration (env:NAME or file:/path) into *out. */
static const char *redis_secret(cmd_parms *cmd, const char *arg, const char **out)
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
    *out = v;
    return NULL;
}

static const char *set_redis_password(cmd_parms *cmd, void *d, const char *arg)
{
    return redis_secret(cmd, arg, &global_conf.redis.password);
}

static const char *set_redis_sentinel_password(cmd_parms *cmd, void *d, const char *arg)
{
    return redis_secret(cmd, arg, &global_conf.redis.sentinel_password);
}

/* A time with httpd's units (500ms, 2s; seconds when none), 10 ms to 60 s. */
static const char *set_redis_timeout(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    apr_interval_time_t t;

    if (err)
        return err;
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(10) || t > apr_time_from_sec(60))
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a time from 10ms to 60s "
                                      "(e.g. 500ms or 2s)", arg));
    global_conf.redis.timeout_ms = (int)apr_time_as_msec(t);
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
    global_conf.redis.sentinel = 0;
    if (!strncasecmp(arg, "redis", 5) && strstr(arg, "://"))
        return set_redis_store(cmd, arg); /* redis[s][-sentinel]:// (it says which it takes) */
    if (!strcasecmp(arg, "shm")) {
        global_conf.store_spec = NULL;
        return NULL;
    }
    if (strncasecmp(arg, "socache:", 8) || !arg[8] || arg[8] == ':' || has_ctl(arg))
        return fail(cmd, "must be shm, socache:<provider>[:<arguments>], e.g. "
                         "socache:redis:127.0.0.1:6379, redis[s]://[user@]host[:port][/db] or "
                         "redis[s]-sentinel://host:port[,host:port...][/db]#master");
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

/* A file (relative to ServerRoot) or "|program", as CustomLog takes them.
 * Not cmd_conf: an audit log alone does not make a server a NomisSSO one. */
static const char *set_audit_log(cmd_parms *cmd, void *d, const char *arg)
{
    const char *path = arg;

    if (!*arg || (*arg == '|' && !arg[1 + strspn(arg + 1, " \t")]))
        return fail(cmd, "needs a file or \"|program\"");
    if (*arg != '|' && !(path = ap_server_root_relative(cmd->pool, arg)))
        return fail(cmd, apr_psprintf(cmd->pool, "'%s' is not a valid path", arg));
    nsso_srv(cmd->server)->audit_log = path;
    return NULL;
}

/* ---- httpd's command table, from directives.def ----------------------------- */

#define CONTEXT_SERVER RSRC_CONF
#define CONTEXT_GLOBAL RSRC_CONF            /* the setter checks GLOBAL_ONLY */
#define CONTEXT_AUTHCFG (OR_AUTHCFG | RSRC_CONF)
#define CONTEXT_ACCESS (ACCESS_CONF | RSRC_CONF)
/* cmd->info of every directive: its row */
#define ROW(id) ((void *)&nsso_directive_table[NSSO_D_##id])

const command_rec nsso_directives[] = {
#define NSSO_INT(id, name, ctx, field, lo, hi, def, help) \
    AP_INIT_TAKE1(name, set_simple, ROW(id), CONTEXT_##ctx, help " (default " #def ")"),
#define NSSO_FLAG(id, name, ctx, field, def, help) \
    AP_INIT_FLAG(name, set_flag, ROW(id), CONTEXT_##ctx, help " (default " #def ")"),
#define NSSO_ENUM(id, name, ctx, field, values, help) \
    AP_INIT_TAKE1(name, set_simple, ROW(id), CONTEXT_##ctx, help),
#define NSSO_PATH(id, name, ctx, field, def, nodef, help) \
    AP_INIT_TAKE1(name, set_simple, ROW(id), CONTEXT_##ctx, help),
#define NSSO_CUSTOM(id, name, args, ctx, ftype, field, setter, def, nodef, help) \
    AP_INIT_##args(name, setter, ROW(id), CONTEXT_##ctx, help),
#include "directives.def"
#undef NSSO_INT
#undef NSSO_FLAG
#undef NSSO_ENUM
#undef NSSO_PATH
#undef NSSO_CUSTOM
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

/* Where httpd.conf asks for the module in one server: the first
 * `AuthType nomis-sso` and the first `AuthType nomis-bearer`. */
typedef struct {
    const ap_directive_t *sso, *bearer;
} authtype_use;

static void mark_authtype_users(apr_pool_t *ptemp, const ap_directive_t *n,
                                server_rec *main_s, apr_hash_t *users)
{
    for (; n; n = n->next) {
        if (!strcasecmp(n->directive, "AuthType") && n->args
            && (!strcasecmp(n->args, NSSO_AUTH_TYPE)
                || !strcasecmp(n->args, NSSO_BEARER_AUTH_TYPE))) {
            const char *key = server_key(ptemp, node_server(n, main_s));
            authtype_use *u = apr_hash_get(users, key, APR_HASH_KEY_STRING);

            if (!u) {
                u = apr_pcalloc(ptemp, sizeof(*u));
                apr_hash_set(users, key, APR_HASH_KEY_STRING, u);
            }
            if (!strcasecmp(n->args, NSSO_AUTH_TYPE) && !u->sso)
                u->sso = n;
            else if (strcasecmp(n->args, NSSO_AUTH_TYPE) && !u->bearer)
                u->bearer = n;
        }
        if (n->first_child)
            mark_authtype_users(ptemp, n->first_child, main_s, users);
    }
}

const char *nsso_conf_bearer_missing(const nsso_srv_conf *c)
{
    if (c->auth_url || (c->issuer && c->jwks_url))
        return NULL;
    return nsso_directive_table[NSSO_D_AUTH_URL].name;
}

/* Sign-in settings beyond what bearer tokens need: set, they ask for the
 * rest of sign-in's (a half-configured sign-in is a mistake). */
static int signin_settings(const nsso_srv_conf *c)
{
    return c->client_id || c->client_secret || c->npassphrases;
}

static const char *server_where(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual || !s->defn_name)
        return "the main server";
    return apr_psprintf(p, "<VirtualHost> at %s:%u", s->defn_name, s->defn_line_number);
}

/* The first directive server c lacks for the use httpd.conf makes of it
 * (u may be NULL), with *why saying which use. */
static const char *server_missing(apr_pool_t *p, const nsso_srv_conf *c,
                                  const authtype_use *u, const char **why)
{
    if (u && u->sso) {
        *why = apr_psprintf(p, "'AuthType %s' is used at %s:%d", NSSO_AUTH_TYPE,
                            u->sso->filename, u->sso->line_num);
        return nsso_conf_missing(c);
    }
    if (u && u->bearer) {
        *why = apr_psprintf(p, "'AuthType %s' is used at %s:%d", NSSO_BEARER_AUTH_TYPE,
                            u->bearer->filename, u->bearer->line_num);
        return nsso_conf_bearer_missing(c);
    }
    *why = "other NomisSSO* directives are set";
    return signin_settings(c) ? nsso_conf_missing(c) : nsso_conf_bearer_missing(c);
}

/* The Redis store's companions without a store they apply to: the
 * directive that would silently do nothing, or NULL. */
static const char *redis_companion_unused(void)
{
    const nsso_redis_settings *r = &global_conf.redis;

    if (r->url)
        return !r->sentinel && r->sentinel_password ? "NomisSSOSessionStoreSentinelPassword"
                                                     : NULL;
    /* the default written out (the sample conf's "#Directive default"
     * uncommented) changes nothing, so it is no error */
    if (r->timeout_ms && r->timeout_ms != NSSO_REDIS_TIMEOUT_MS)
        return "NomisSSOSessionStoreTimeout";
    if (r->replicas)
        return "NomisSSOSessionStoreReplicas";
    if (r->sentinel_password)
        return "NomisSSOSessionStoreSentinelPassword";
    if (r->password)
        return "NomisSSOSessionStorePassword";
    return NULL;
}

int nsso_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *main_s)
{
    apr_hash_t *users = apr_hash_make(ptemp);
    const char *unused = redis_companion_unused();
    server_rec *s;
    int rc = OK;

    if (unused) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main_s, NSSO_LOGNO(0102) "%s applies only to a "
                     "NomisSSOSessionStore %s store, and this server has none", unused,
                     strstr(unused, "Sentinel") ? "redis-sentinel:// or rediss-sentinel://"
                                                : "redis://, rediss:// or redis[s]-sentinel://");
        rc = !OK;
    }

    mark_authtype_users(ptemp, ap_conftree, main_s, users);
    for (s = main_s; s; s = s->next) {
        const nsso_srv_conf *c = nsso_srv(s);
        const authtype_use *u = apr_hash_get(users, server_key(ptemp, s),
                                             APR_HASH_KEY_STRING);
        const char *missing, *why = NULL;

        if (!u && !c->any_set)
            continue;
        missing = server_missing(ptemp, c, u, &why);
        if (!missing)
            continue;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, NSSO_LOGNO(0101) "%s is required: %s but %s is not "
                     "set for this server (%s)%s", missing, why, missing,
                     server_where(ptemp, s), (u && u->sso) || signin_settings(c) ? ""
                     : "; or, for bearer tokens only, NomisSSOIssuer and NomisSSOJWKSURL");
        rc = !OK;
    }
    return rc;
}
