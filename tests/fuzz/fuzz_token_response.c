/* fuzz_token_response.c - nsso_oauth_parse_token_response of any body (what
 * the HMPPS Auth token endpoint answers to authorization_code, refresh_token
 * and password grants). Invariants: success means a non-empty access_token
 * and a token_type that is absent or "bearer"; expires_in is -1 unless an
 * integer was given. */
#include "fuzz_common.h"
#include "oauth.h"

#include <string.h>
#include <strings.h>

#define T "token_response"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    nsso_token_response_t tr;
    const char *err = NULL;
    apr_status_t rv = nsso_oauth_parse_token_response(p, (const char *)data, size,
                                                      &tr, &err);

    if (rv == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, tr.access_token != NULL && *tr.access_token != '\0');
        NSSO_FUZZ_CHECK(T, tr.token_type == NULL
                               || strcasecmp(tr.token_type, "bearer") == 0);
        NSSO_FUZZ_CHECK(T, tr.refresh_token == NULL || *tr.refresh_token != '\0');
    }
    else {
        NSSO_FUZZ_CHECK(T, err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
