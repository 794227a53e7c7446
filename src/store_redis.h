/* store_redis.h - the session store in a Redis of our own connecting
 * (NomisSSOSessionStore redis[s]://... or redis[s]-sentinel://...): TLS,
 * ACL users and passwords, which httpd's mod_socache_redis cannot do
 * (managed Redis such as ElastiCache needs both), and failover. */
#ifndef NSSO_STORE_REDIS_H
#define NSSO_STORE_REDIS_H

#include "nsso.h"
#include "store.h"
#include "crypto.h"
#include "redis.h"

/* A store for settings (keys and values sealed with crypto, values of at
 * most max_value bytes), in pconf. Connects nothing yet: each child opens
 * its own connections on first use. Errors name the directive in *err. */
apr_status_t nsso_redis_store_create(apr_pool_t *pconf, server_rec *s,
                                     const nsso_redis_settings *set,
                                     const nsso_crypto *crypto, apr_size_t max_value,
                                     nsso_store **out, const char **err);

/* Start-up: one try to reach the primary (within twice the timeout),
 * logged as one line naming the directive to fix when it fails. Never
 * fails httpd: the store may come up later. */
void nsso_redis_store_probe(nsso_store *store);

#endif
