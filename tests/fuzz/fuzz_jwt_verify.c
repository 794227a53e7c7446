/* fuzz_jwt_verify.c - nsso_jwt_verify of any string against the fixed JWKS
 * (fuzz-key-1 RS256/sig, fuzz-key-2 without alg/use) and policy (issuer
 * NSSO_FUZZ_ISS, RS256 and PS256, skew 60 s, now NSSO_FUZZ_NOW): compact
 * form, canonical base64url, protected header, alg allow-list, kid lookup
 * and, for inputs that get that far, the RSA signature. Seeds are valid
 * HMPPS-shaped tokens signed with the fixed keys plus the classic attacks
 * (alg none, HS256 keyed with the public key, unknown kid, ...). Checks in
 * fuzz_jwt_check.h. */
#include "fuzz_jwt_check.h"

#define T "jwt_verify"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *token = nsso_fuzz_cstr(p, data, size), *kid = NULL, *err = NULL;
    nsso_claims_t *claims = NULL;
    nsso_jwt_result_t r = nsso_jwt_verify(p, token, nsso_fuzz_jwks(),
                                          nsso_fuzz_policy(), &claims, &kid, &err);

    nsso_fuzz_jwt_result(T, p, token, r, claims, kid, err, NULL, 0);
    apr_pool_destroy(p);
    return 0;
}
