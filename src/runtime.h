/* runtime.h - what the module builds once configuration is read and keeps
 * for the life of a server generation or child process: the crypto keys
 * per server, the shared-memory session store (kept across graceful
 * restarts) with its global mutex, and each child's JWKS caches. */
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

/* The session store (NULL before post_config). */
nsso_store *nsso_runtime_store(void);

#endif
