/* fuzz_state_plain.c - structure-aware variant of fuzz_state: the input is
 * the state JSON ({"s","u","m","v","t"[,"r"]}), sealed with the fixed key and then
 * decoded, so the fuzzer works on the JSON and field checks that only an
 * authentic cookie reaches. Time: now NSSO_FUZZ_NOW, max age 300 s. */
#include "fuzz_state_check.h"

#define T "state_plain"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *err = NULL;
    char *value = NULL;
    nsso_state_t *st = NULL;
    apr_status_t rv;

    rv = nsso_crypto_seal(nsso_fuzz_crypto(), p, data, size, &value, &err);
    if (size <= NSSO_CRYPTO_MAX_PLAINTEXT)
        NSSO_FUZZ_CHECK(T, rv == APR_SUCCESS && value != NULL);
    if (rv == APR_SUCCESS) {
        rv = nsso_state_decode(p, nsso_fuzz_crypto(), NULL, value, NSSO_FUZZ_STATE_NOW,
                               NSSO_FUZZ_STATE_MAX_AGE, &st, &err);
        /* it decrypts, so any refusal is about the content */
        NSSO_FUZZ_CHECK(T, rv != APR_EGENERAL);
        if (rv == APR_SUCCESS)
            nsso_fuzz_state_accepted(T, p, st);
        else
            NSSO_FUZZ_CHECK(T, st == NULL && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
