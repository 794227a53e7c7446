/* crypto.h - the module's symmetric crypto: keys derived from
 * NomisSSOCryptoPassphrase and authenticated encryption of small values
 * (state cookies, values written to shared stores) as compact JWE
 * (alg "dir", enc "A256GCM") through cjose. Two passphrases allow rollover:
 * the first seals, both open. */
#ifndef NSSO_CRYPTO_H
#define NSSO_CRYPTO_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef struct nsso_crypto nsso_crypto;

/* Passphrases accepted by nsso_crypto_create (current + previous). */
#define NSSO_CRYPTO_MAX_KEYS 2
/* Largest plaintext sealed / compact serialization opened. */
#define NSSO_CRYPTO_MAX_PLAINTEXT (512 * 1024)
#define NSSO_CRYPTO_MAX_COMPACT (1024 * 1024)

/* Derive keys from 1 or 2 passphrases: each is stretched with
 * PBKDF2-HMAC-SHA256 (600,000 iterations, salt "mod_nomis_sso/kdf/1") into a
 * master key, from which HKDF-SHA256 derives the JWE key (info
 * "mod_nomis_sso/jwe"; one per passphrase) and, from the first, the MAC key
 * ("mod_nomis_sso/mac"). The cjose keys are released by a cleanup on p.
 * APR_EINVAL (and *err) for a missing or empty passphrase. The stretch costs
 * about 0.2 s per passphrase, so nsso_crypto_create_cached keeps each master
 * key in cache's userdata (cleansed when cache goes; cache NULL: no cache):
 * with httpd's process pool a passphrase is stretched once per parent process,
 * not at every configuration pass or graceful restart. Start-up only: the
 * cache is not safe to use from several threads at once. */
apr_status_t nsso_crypto_create_cached(apr_pool_t *p, apr_pool_t *cache,
                                       const char *const *passphrases,
                                       int npassphrases, nsso_crypto **out,
                                       const char **err);
apr_status_t nsso_crypto_create(apr_pool_t *p, const char *const *passphrases,
                                int npassphrases, nsso_crypto **out,
                                const char **err);

/* Encrypt len bytes (at most NSSO_CRYPTO_MAX_PLAINTEXT); *compact is the JWE
 * compact serialization (allocated from p). */
apr_status_t nsso_crypto_seal(const nsso_crypto *c, apr_pool_t *p,
                              const void *plaintext, apr_size_t len,
                              char **compact, const char **err);

/* Decrypt and authenticate; tries every key. APR_EGENERAL on any failure
 * (malformed, wrong key, tampered). *plaintext is NUL-terminated. */
apr_status_t nsso_crypto_open(const nsso_crypto *c, apr_pool_t *p,
                              const char *compact, char **plaintext,
                              apr_size_t *len, const char **err);

/* 32-byte keyed MAC (HMAC-SHA256 with a key derived from the first passphrase,
 * info "mod_nomis_sso/mac"). Aborts on a NULL c or a libcrypto failure. */
void nsso_crypto_mac(const nsso_crypto *c, const void *data, apr_size_t len,
                     unsigned char out[32]);

#endif
