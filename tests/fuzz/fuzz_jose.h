/* fuzz_jose.h - the fixed symmetric and RSA keys of the fuzz targets: the
 * nsso_crypto of NSSO_FUZZ_PASS1/2 (state cookies, crypto_open), and the
 * JWKS of the two keys in fuzz_keys.h with a signer for tokens. All made
 * once, in the root pool. */
#ifndef NSSO_FUZZ_JOSE_H
#define NSSO_FUZZ_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

#include "crypto.h"
#include "jwt.h"

/* Header of tokens signed by key 1 (what HMPPS Auth sends). */
#define NSSO_FUZZ_HDR1 "{\"kid\":\"fuzz-key-1\",\"typ\":\"JWT\",\"alg\":\"RS256\"}"

const nsso_crypto *nsso_fuzz_crypto(void);

/* {"keys":[key1 (alg RS256, use sig), key2 (no alg, no use)]}: JSON and parsed. */
const char *nsso_fuzz_jwks_json(void);
const nsso_jwks *nsso_fuzz_jwks(void);

/* Issuer NSSO_FUZZ_ISS, algs RS256 and PS256, skew 60 s, now NSSO_FUZZ_NOW. */
/* The claim names the fuzz policy picks. */
const apr_array_header_t *nsso_fuzz_pick_names(void);
const nsso_jwt_policy_t *nsso_fuzz_policy(void);

/* Compact JWS of payload[0..len) under header_json, signed by key `which`
 * (1 or 2) with cjose; NULL if cjose refuses the header. */
char *nsso_fuzz_sign(apr_pool_t *p, int which, const char *header_json,
                     const uint8_t *payload, size_t len);

#endif
