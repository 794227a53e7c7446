/* store_seal.c - the sealing shared by the engine stores (store_socache.c,
 * store_redis.c): see store_seal.h. The expiry is sealed in so that a value
 * written back after it expired (by whoever controls the engine, whose own
 * TTL cannot stop that) is refused. */
#include "store_seal.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

#define EXPIRY_LEN 8

const char *nsso_seal_key(apr_pool_t *p, const nsso_crypto *crypto, const char *key)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(p, "store:", key, NULL); /* MAC domain: store keys */

    nsso_crypto_mac(crypto, in, strlen(in), mac);
    return nsso_b64url_encode(p, mac, sizeof(mac));
}

apr_status_t nsso_seal_value(apr_pool_t *p, const nsso_crypto *crypto, const char *key,
                             const void *val, apr_size_t len, apr_time_t expiry,
                             char **out)
{
    apr_size_t klen = strlen(key), i;
    apr_uint64_t e = (apr_uint64_t)expiry;
    unsigned char *plain = apr_palloc(p, klen + 1 + EXPIRY_LEN + len);
    const char *err = NULL;

    memcpy(plain, key, klen + 1);
    for (i = 0; i < EXPIRY_LEN; i++)
        plain[klen + 1 + i] = (unsigned char)(e >> (8 * i));
    if (len)
        memcpy(plain + klen + 1 + EXPIRY_LEN, val, len);
    return nsso_crypto_seal(crypto, p, plain, klen + 1 + EXPIRY_LEN + len, out, &err);
}

apr_status_t nsso_seal_open(apr_pool_t *p, const nsso_crypto *crypto, const char *key,
                            const char *sealed, char **val, apr_size_t *len)
{
    apr_size_t klen = strlen(key), plen, i;
    const unsigned char *at;
    apr_uint64_t e = 0;
    const char *err = NULL;
    char *plain;

    if (nsso_crypto_open(crypto, p, sealed, &plain, &plen, &err) != APR_SUCCESS
        || plen < klen + 1 + EXPIRY_LEN || memcmp(plain, key, klen + 1))
        return APR_EGENERAL;
    at = (const unsigned char *)plain + klen + 1;
    for (i = 0; i < EXPIRY_LEN; i++)
        e |= (apr_uint64_t)at[i] << (8 * i);
    if ((apr_time_t)e <= apr_time_now())
        return APR_TIMEUP;
    *len = plen - klen - 1 - EXPIRY_LEN;
    *val = apr_pstrmemdup(p, (const char *)at + EXPIRY_LEN, *len);
    return APR_SUCCESS;
}
