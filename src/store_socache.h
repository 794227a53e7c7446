/* store_socache.h - the session store on one of httpd's socache providers
 * (mod_socache_redis, mod_socache_memcache, mod_socache_dbm, ...), so that
 * several httpd hosts share sessions. */
#ifndef NSSO_STORE_SOCACHE_H
#define NSSO_STORE_SOCACHE_H

#include "nsso.h"
#include "store.h"
#include "crypto.h"
#include <apr_global_mutex.h>

/* "provider[:args]" (the part after "socache:") -> a store. Looks up the
 * provider (its module must be loaded), creates and initialises an
 * instance in pconf. max_value bounds one stored value. Errors name the
 * directive in *err. */
apr_status_t nsso_socache_store_create(apr_pool_t *pconf, apr_pool_t *ptemp,
                                       server_rec *s, const char *spec,
                                       const nsso_crypto *crypto,
                                       apr_size_t max_value,
                                       apr_global_mutex_t *mutex,
                                       nsso_store **out, const char **err);

#endif
