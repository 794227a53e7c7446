/* jwt_fixtures.h - test-time token factory for test_jwt: RSA keys generated
 * on the fly, JWK/JWKS JSON built from their public halves, and tokens signed
 * every way the verifier must accept or refuse (cjose RS*, raw OpenSSL RS*
 * over exact header bytes, HS256 keyed with the public PEM, unsigned). */
#ifndef NSSO_JWT_FIXTURES_H
#define NSSO_JWT_FIXTURES_H

#include <apr_pools.h>

typedef struct nsso_fx_key nsso_fx_key;

/* A fresh RSA key of `bits` with kid; freed by a cleanup on p. NULL on error. */
nsso_fx_key *nsso_fx_key_new(apr_pool_t *p, const char *kid, int bits);
const char *nsso_fx_key_kid(const nsso_fx_key *k);

/* The public JWK of k as a JSON object; "alg"/"use" only when non-NULL. */
char *nsso_fx_jwk_json(apr_pool_t *p, const nsso_fx_key *k, const char *alg,
                       const char *use);
/* The same under another kid (NULL: no "kid" member at all). */
char *nsso_fx_jwk_json_kid(apr_pool_t *p, const nsso_fx_key *k, const char *kid,
                           const char *alg, const char *use);
/* {"keys":[a,b,...]} from JWK JSON strings; the list ends with NULL. */
char *nsso_fx_jwks(apr_pool_t *p, ...);

/* Signed by cjose_jws_sign (the header is re-serialised by cjose and must
 * name an RSA alg). The payload bytes are used verbatim. */
char *nsso_fx_sign(apr_pool_t *p, const nsso_fx_key *k, const char *header_json,
                   const char *payload_json);
/* RSASSA-PKCS1-v1_5 with digest md ("SHA256", "SHA512", ...) over the exact
 * base64url of header_json and payload_json. */
char *nsso_fx_sign_raw(apr_pool_t *p, const nsso_fx_key *k, const char *md,
                       const char *header_json, const char *payload_json);
/* HMAC-SHA256 keyed with k's public key in PEM: the classic alg confusion. */
char *nsso_fx_sign_hs256_pubkey(apr_pool_t *p, const nsso_fx_key *k,
                                const char *header_json, const char *payload_json);
/* base64url(header).base64url(payload).sig, sig used as given (may be ""). */
char *nsso_fx_compact(apr_pool_t *p, const char *header_json,
                      const char *payload_json, const char *sig);

#endif
