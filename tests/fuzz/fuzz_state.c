/* fuzz_state.c - the login-state cookie as a browser sends it back:
 * nsso_state_decode of any value with the fixed keys (NSSO_FUZZ_PASS1/2).
 * Seeds are real state cookies sealed with those keys, so mutations
 * exercise the JWE structure checks and AES-GCM authentication; an accepted
 * state must be sane and round-trip (fuzz_state_check.h). The JSON layer
 * behind the encryption is reached by fuzz_state_plain. */
#include "fuzz_state_check.h"

#define T "state"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *value = nsso_fuzz_cstr(p, data, size), *err = NULL;
    nsso_state_t *st = NULL;
    apr_status_t rv = nsso_state_decode(p, nsso_fuzz_crypto(), NULL, value,
                                        NSSO_FUZZ_STATE_NOW,
                                        NSSO_FUZZ_STATE_MAX_AGE, &st, &err);

    if (rv == APR_SUCCESS)
        nsso_fuzz_state_accepted(T, p, st);
    else
        NSSO_FUZZ_CHECK(T, st == NULL && err != NULL);
    apr_pool_destroy(p);
    return 0;
}
