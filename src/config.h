/* config.h - mod_nomis_sso's configuration: per-server (virtual host)
 * settings from the NomisSSO* directives, their defaults and merging, the
 * directive table, and the start-up validation that makes a broken setup
 * fail `apachectl configtest` with the directive named. */
#ifndef NSSO_CONFIG_H
#define NSSO_CONFIG_H

#include "nsso.h"
#include <apr_tables.h>
#include "cookie.h"
#include "crypto.h"
#include "http.h"
#include "jwt.h"
#include "store.h"
#include "redis.h"

#define NSSO_UNSET (-1)

typedef struct {
    /* where the directive values came from, to name them in errors */
    const char *auth_url;          /* browser-facing base, no trailing '/' */
    const char *internal_url;      /* server-to-server base; NULL: auth_url */
    const char *client_id;
    const char *client_secret;     /* resolved */
    const char *redirect_uri;      /* path or absolute URL */
    const char *passphrases[2];    /* resolved */
    int npassphrases;
    const char *issuer;            /* NULL: <auth_url>/issuer */
    apr_array_header_t *algs;      /* allowed JWS algs; NULL: RS256 */
    int clock_skew;                /* seconds */
    const char *cookie_name;
    int samesite;                  /* nsso_samesite_t, NSSO_UNSET */
    int ssl_verify;                /* NSSO_UNSET / 0 / 1 */
    int http_timeout;              /* seconds */
    int state_timeout;             /* seconds a login may take */
    int max_state_cookies;
    int jwks_refetch;              /* seconds between unknown-kid refetches */
    const char *ca_file;
    const char *info_uri;          /* session-info JSON path; NULL: off */
    const char *caseload_url;      /* NULL: <internal>/api/user/me; "" : off */
    int trust_forwarded;           /* NSSO_UNSET / 0 / 1 */
    int refresh_before;            /* seconds; 0: never refresh */
    int inactivity_timeout;        /* seconds */
    int max_duration;              /* seconds */
    const char *logout_uri;        /* path */
    const char *post_logout_url;   /* path or absolute URL; NULL: "/" */
    apr_array_header_t *redirect_allowed; /* ap_regex_t * */
    const char *signout_path;      /* at HMPPS Auth; NULL: /sign-out */
    const char *verify_url;        /* token verification API base; NULL: off */
    int verify_interval;           /* seconds */
    int verify_fail_open;          /* NSSO_UNSET / 0 / 1 */
    int password_grant;            /* NomisSSOGrantType password: 1 */
    const char *password_uri;      /* our sign-in form; NULL: /nomis-sso/sign-in */
    int password_allow_http;       /* NSSO_UNSET / 0 / 1 */
    int any_set;                   /* some NomisSSO* directive appears here */

    /* built in post_config / child_init */
    nsso_crypto *crypto;
    const char *realm;             /* realm id (realm.h): in every store key */
    nsso_jwks_cache *jwks;         /* per child process */
} nsso_srv_conf;

/* What to do with a request that has no session. */
typedef enum { NSSO_UNAUTH_AUTH = 1, NSSO_UNAUTH_401, NSSO_UNAUTH_PASS } nsso_unauth_t;

#define NSSO_PASS_HEADERS 1
#define NSSO_PASS_ENV 2

/* Per-directory (<Location>, <Directory>, .htaccess) settings. */
typedef struct {
    int unauth_action;        /* nsso_unauth_t or NSSO_UNSET (auth) */
    int unauthz_status;       /* 403 / 401 / 302 (to unauthz_url), NSSO_UNSET: 403 */
    const char *unauthz_url;
    int pass;                 /* NSSO_PASS_* bits, NSSO_UNSET: both */
    int pass_token;           /* NSSO_UNSET / 0 / 1 */
    int accept_bearer;        /* NSSO_UNSET / 0 / 1 */
    int no_store;             /* NSSO_UNSET / 0 / 1 (default 1) */
    apr_array_header_t *bearer_clients; /* client_ids a bearer token may come
                                         * from; NULL: any */
} nsso_dir_conf;

void *nsso_create_dir_conf(apr_pool_t *p, char *dir);
void *nsso_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

static inline nsso_dir_conf *nsso_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &nomis_sso_module);
}

nsso_unauth_t nsso_conf_unauth_action(const nsso_dir_conf *d);
int nsso_conf_pass(const nsso_dir_conf *d);
int nsso_conf_trust_forwarded(const nsso_srv_conf *c);
/* The caseload URL, or NULL when caseload lookup is off. */
const char *nsso_conf_caseload_url(apr_pool_t *p, const nsso_srv_conf *c);
int nsso_conf_refresh_before(const nsso_srv_conf *c);
int nsso_conf_inactivity(const nsso_srv_conf *c);
int nsso_conf_max_duration(const nsso_srv_conf *c);
const char *nsso_conf_logout_uri(const nsso_srv_conf *c);
const char *nsso_conf_signout_path(const nsso_srv_conf *c);
int nsso_conf_verify_interval(const nsso_srv_conf *c);
int nsso_conf_verify_fail_open(const nsso_srv_conf *c);
int nsso_conf_no_store(const nsso_dir_conf *d);
const char *nsso_conf_password_uri(const nsso_srv_conf *c);

/* Global (main server only) settings. */
typedef struct {
    int cache_entries;
    int cache_entry_size;
    const char *store_spec;   /* NULL: shm; else "provider[:args]" of socache */
    nsso_redis_settings redis; /* redis.url set: our own Redis client */
} nsso_global_conf;

extern const command_rec nsso_directives[];

void *nsso_create_srv_conf(apr_pool_t *p, server_rec *s);
void *nsso_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);

nsso_global_conf *nsso_global(void);

/* Effective values (defaults applied). */
const char *nsso_conf_internal_url(const nsso_srv_conf *c);
const char *nsso_conf_issuer(apr_pool_t *p, const nsso_srv_conf *c);
const char *nsso_conf_redirect_path(apr_pool_t *p, const nsso_srv_conf *c);
void nsso_conf_http_opts(const nsso_srv_conf *c, nsso_http_opts_t *opts);
nsso_samesite_t nsso_conf_samesite(const nsso_srv_conf *c);
int nsso_conf_state_timeout(const nsso_srv_conf *c);
int nsso_conf_max_state_cookies(const nsso_srv_conf *c);
int nsso_conf_clock_skew(const nsso_srv_conf *c);
int nsso_conf_jwks_refetch(const nsso_srv_conf *c);
const char *nsso_conf_cookie_name(const nsso_srv_conf *c);

/* check_config: every server that uses the module (AuthType nomis-sso in
 * its scope, or any NomisSSO* directive) must have the required directives.
 * Logs the error naming the directive and returns !OK. */
int nsso_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *s);

static inline nsso_srv_conf *nsso_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &nomis_sso_module);
}

#endif
