/* fuzz_jwt_claims.c - the fast twin of fuzz_jwt_signed. Same input (a
 * payload, optional header selector byte), but the token gets a dummy
 * signature and the link replaces cjose_jws_verify, for calls from jwt.c
 * only, by a stub that accepts it (-Wl,--wrap=cjose_jws_verify, see
 * tests/fuzz/build). Everything else in nsso_jwt_verify is the real code:
 * shape, canonical base64url, header, alg, kid, cjose import, then the claim
 * parsing and checks - at thousands of times the speed of real RSA. */
#include "fuzz_jwt_check.h"

#include <stdbool.h>

#include <apr_strings.h>
#include <cjose/cjose.h>

#include "util.h"

#define T "jwt_claims"

bool __wrap_cjose_jws_verify(cjose_jws_t *jws, const cjose_jwk_t *jwk,
                             cjose_err *err)
{
    return jws != NULL && jwk != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char sig[256];
    apr_pool_t *p = nsso_fuzz_pool();
    const nsso_fuzz_hdr *h = nsso_fuzz_pick(&data, &size);
    const char *kid = NULL, *err = NULL;
    nsso_claims_t *claims = NULL;
    char *token;
    nsso_jwt_result_t r;

    token = apr_pstrcat(p,
        nsso_b64url_encode(p, (const unsigned char *)h->header, strlen(h->header)), ".",
        nsso_b64url_encode(p, data, size), ".",
        nsso_b64url_encode(p, sig, sizeof(sig)), NULL);
    r = nsso_jwt_verify(p, token, nsso_fuzz_jwks(), nsso_fuzz_policy(), &claims,
                        &kid, &err);
    NSSO_FUZZ_CHECK(T, r != NSSO_JWT_BAD_SIGNATURE && r != NSSO_JWT_BAD_ALG
                           && r != NSSO_JWT_UNKNOWN_KID);
    nsso_fuzz_jwt_result(T, p, token, r, claims, kid, err, data, size);
    apr_pool_destroy(p);
    return 0;
}
