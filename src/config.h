/* config.h - mod_nomis_sso's configuration as httpd sees it: httpd's
 * command table, creating and merging the settings (the structs and the
 * facts of each directive are in directives.h), the effective values with
 * defaults applied, and the start-up validation that makes a broken setup
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
#include "directives.h"

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
/* The claims NomisSSOPassClaim names (const char *), NULL when none. */
const apr_array_header_t *nsso_conf_pass_claim_names(apr_pool_t *p, const nsso_srv_conf *c);
int nsso_conf_refresh_before(const nsso_srv_conf *c);
int nsso_conf_inactivity(const nsso_srv_conf *c);
int nsso_conf_discovery(const nsso_srv_conf *c);
int nsso_conf_max_duration(const nsso_srv_conf *c);
const char *nsso_conf_logout_uri(const nsso_srv_conf *c);
const char *nsso_conf_signout_path(const nsso_srv_conf *c);
int nsso_conf_verify_interval(const nsso_srv_conf *c);
int nsso_conf_verify_fail_open(const nsso_srv_conf *c);
int nsso_conf_no_store(const nsso_dir_conf *d);
const char *nsso_conf_password_uri(const nsso_srv_conf *c);

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

/* The first required directive c lacks (NULL: c can sign users in). */
static inline const char *nsso_conf_missing(const nsso_srv_conf *c)
{
    return nsso_directive_missing(c);
}

/* The directive a server checking bearer tokens only lacks (it needs
 * NomisSSOAuthURL, or NomisSSOIssuer and NomisSSOJWKSURL), or NULL. */
const char *nsso_conf_bearer_missing(const nsso_srv_conf *c);

/* check_config: every server that uses the module must have what that use
 * needs: AuthType nomis-sso in its scope, every required directive;
 * AuthType nomis-bearer only, nsso_conf_bearer_missing's; NomisSSO*
 * directives and no AuthType line, the same, or all the required ones once
 * a sign-in setting (client id, secret, passphrase) is there. Logs the error naming
 * the directive and returns !OK. */
int nsso_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                      server_rec *s);

static inline nsso_srv_conf *nsso_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &nomis_sso_module);
}

#endif
