/* fuzz_jwks.c - nsso_jwks_parse of any document (what the JWKS endpoint
 * returns): JSON, the "keys" array, per-key filtering (kty, use, key_ops,
 * kid, alg) and cjose's RSA import with the 2048-bit minimum. An accepted
 * JWKS is then used to verify a token signed by fuzz-key-1, so lookups in
 * fuzzed key sets run too. Invariant: a token verifies only against a JWKS
 * that really holds fuzz-key-1's public key under its kid. */
#include "fuzz_common.h"
#include "fuzz_jose.h"

#include <string.h>

#define T "jwks"

/* A valid token signed by fuzz-key-1 (made once). */
static const char *good_token(void)
{
    static const char *tok;
    static const char payload[] =
        "{\"sub\":\"FUZZ_USER\",\"user_name\":\"FUZZ_USER\",\"iss\":\"" NSSO_FUZZ_ISS
        "\",\"exp\":1700003600,\"authorities\":[\"ROLE_PRISON\"],"
        "\"client_id\":\"fuzz-client\"}";

    if (tok == NULL)
        tok = nsso_fuzz_sign(nsso_fuzz_root(), 1, NSSO_FUZZ_HDR1,
                             (const uint8_t *)payload, strlen(payload));
    NSSO_FUZZ_CHECK(T, tok != NULL);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *err = NULL, *kid = NULL, *token = good_token();
    nsso_jwks *jwks = NULL;
    nsso_claims_t *claims = NULL;
    nsso_jwt_result_t r;
    apr_status_t rv = nsso_jwks_parse(p, (const char *)data, size, &jwks, &err);

    if (rv == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, jwks != NULL && nsso_jwks_count(jwks) >= 1 && err == NULL);
        r = nsso_jwt_verify(p, token, jwks, nsso_fuzz_policy(), &claims, &kid, &err);
        if (r == NSSO_JWT_OK)
            NSSO_FUZZ_CHECK(T, claims != NULL && claims->user_name != NULL
                                   && strcmp(claims->user_name, "FUZZ_USER") == 0
                                   && kid != NULL && strcmp(kid, "fuzz-key-1") == 0);
        else
            NSSO_FUZZ_CHECK(T, claims == NULL && err != NULL);
    }
    else {
        NSSO_FUZZ_CHECK(T, jwks == NULL && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
