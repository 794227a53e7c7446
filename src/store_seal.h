/* store_seal.h - what a shared engine (socache, Redis) is given instead of
 * the module's keys and values: keys replaced by an HMAC, values sealed
 * together with their key and absolute expiry. Pure (no httpd), so every
 * engine store writes the same bytes and a unit test can check them. */
#ifndef NSSO_STORE_SEAL_H
#define NSSO_STORE_SEAL_H

#include "crypto.h"
#include <apr_pools.h>
#include <apr_time.h>

/* Length of an engine key: base64url of an HMAC-SHA256. */
#define NSSO_SEAL_KEY_LEN 43

/* base64url(HMAC("store:" key)) under a key derived from the passphrase. */
const char *nsso_seal_key(apr_pool_t *p, const nsso_crypto *crypto, const char *key);

/* key, NUL, expiry (64-bit little-endian apr time), value: sealed. */
apr_status_t nsso_seal_value(apr_pool_t *p, const nsso_crypto *crypto, const char *key,
                             const void *val, apr_size_t len, apr_time_t expiry,
                             char **out);

/* APR_SUCCESS with the value (NUL-terminated copy in p); APR_EGENERAL when
 * it does not open under key (tampered, old passphrase, copied from another
 * key); APR_TIMEUP when its sealed expiry has passed. */
apr_status_t nsso_seal_open(apr_pool_t *p, const nsso_crypto *crypto, const char *key,
                            const char *sealed, char **val, apr_size_t *len);

#endif
