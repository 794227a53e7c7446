/* fuzz_jwt_signed.c - structure-aware nsso_jwt_verify: the input is a token
 * payload (claims JSON), signed for real with a fixed RSA-2048 key under an
 * HMPPS-shaped header, then verified; so every input passes the signature
 * check and reaches claim parsing and the exp/nbf/iat/iss rules. A leading
 * byte below 0x20 picks another header/key (fuzz_jwt_check.h). Each input
 * costs one RSA signature (~0.3 ms): this target is slow by nature;
 * fuzz_jwt_claims runs the same code past a stubbed signature check. */
#include "fuzz_jwt_check.h"

#define T "jwt_signed"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const nsso_fuzz_hdr *h = nsso_fuzz_pick(&data, &size);
    const char *kid = NULL, *err = NULL;
    nsso_claims_t *claims = NULL;
    char *token = nsso_fuzz_sign(p, h->key, h->header, data, size);
    nsso_jwt_result_t r;

    NSSO_FUZZ_CHECK(T, token != NULL);
    r = nsso_jwt_verify(p, token, nsso_fuzz_jwks(), nsso_fuzz_policy(), &claims,
                        &kid, &err);
    /* the signature is good: only the size or the claims can be refused */
    NSSO_FUZZ_CHECK(T, r != NSSO_JWT_BAD_SIGNATURE && r != NSSO_JWT_BAD_ALG
                           && r != NSSO_JWT_UNKNOWN_KID);
    nsso_fuzz_jwt_result(T, p, token, r, claims, kid, err, data, size);
    apr_pool_destroy(p);
    return 0;
}
