/* runtime.h - what the module builds once configuration is read and keeps
 * for the life of a server generation or child process: the crypto keys
 * per server (realm for every server naming HMPPS Auth, keys for those
 * that sign users in), the shared-memory session store (kept across
 * graceful restarts) with its global mutex, and each child's JWKS caches. */
#ifndef NSSO_RUNTIME_H
#define NSSO_RUNTIME_H

#include "config.h"

#define NSSO_SHM_MUTEX_TYPE "nomis-sso-shm"

int nsso_runtime_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
int nsso_runtime_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s);
void nsso_runtime_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 when server c is fully set up (directives, keys, store, JWKS cache). */
int nsso_runtime_ready(const nsso_srv_conf *c);

/* 1 when server c can check bearer tokens (realm, store, JWKS cache): a
 * bearer-only server needs only NomisSSOAuthURL. */
int nsso_runtime_bearer_ready(const nsso_srv_conf *c);

/* OK when c is set up for AuthType nomis-bearer (bearer_only) or
 * nomis-sso; else 500, and (at most once a minute per server and process)
 * an error-log line naming the missing directive: for .htaccess files,
 * which `apachectl configtest` cannot see. */
int nsso_runtime_check_usable(request_rec *r, nsso_srv_conf *c, int bearer_only);

/* The session store (NULL before post_config). */
nsso_store *nsso_runtime_store(void);

#endif
