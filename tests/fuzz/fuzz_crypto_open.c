/* fuzz_crypto_open.c - nsso_crypto_open (compact JWE, alg dir / A256GCM) of
 * any string with the fixed two-key nsso_crypto: the structure checks before
 * cjose, cjose's import, and decryption with each key. Seeds are values
 * sealed with either key. Invariant: an opened value is NUL-terminated and
 * seals and opens back to the same bytes. */
#include "fuzz_common.h"
#include "fuzz_jose.h"

#include <string.h>

#define T "crypto_open"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *compact = nsso_fuzz_cstr(p, data, size), *err = NULL;
    char *pt = NULL, *again = NULL, *resealed = NULL;
    apr_size_t len = 12345, len2 = 0;

    if (nsso_crypto_open(nsso_fuzz_crypto(), p, compact, &pt, &len, &err)
            == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, pt != NULL && pt[len] == '\0');
        NSSO_FUZZ_CHECK(T, nsso_crypto_seal(nsso_fuzz_crypto(), p, pt, len,
                                            &resealed, &err) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, nsso_crypto_open(nsso_fuzz_crypto(), p, resealed,
                                            &again, &len2, &err) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, len2 == len && memcmp(again, pt, len) == 0);
    }
    else {
        NSSO_FUZZ_CHECK(T, pt == NULL && len == 0 && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
