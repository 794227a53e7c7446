/* fuzz_discovery.c - nsso_discovery_parse of any body (what HMPPS Auth's
 * /issuer/.well-known/openid-configuration answers) and
 * nsso_discovery_origin of any string. Invariants: success means the
 * issuer is exactly the expected one and every endpoint is an http(s) URL
 * without query or fragment, no longer than NSSO_DISCOVERY_MAX_URL, on one
 * of the configured origins; failure leaves no endpoint and gives a
 * reason without a newline (it is logged). */
#include "fuzz_common.h"
#include "discovery.h"
#include "util.h"

#include <string.h>

#define T "discovery"
#define PUB "https://sign-in-dev.hmpps.service.justice.gov.uk/auth"
#define INTERNAL "http://auth.internal:8080/auth"

static const char *const origins[] = { PUB, INTERNAL, NULL };

static int origin_ok(apr_pool_t *p, const char *url)
{
    const char *o = nsso_discovery_origin(p, url);

    return o && (!strcmp(o, nsso_discovery_origin(p, PUB))
                 || !strcmp(o, nsso_discovery_origin(p, INTERNAL)));
}

static void check_endpoint(apr_pool_t *p, const char *url)
{
    NSSO_FUZZ_CHECK(T, url != NULL);
    NSSO_FUZZ_CHECK(T, strlen(url) <= NSSO_DISCOVERY_MAX_URL);
    NSSO_FUZZ_CHECK(T, nsso_is_http_url(p, url, NSSO_URL_BASE | NSSO_URL_PATH));
    NSSO_FUZZ_CHECK(T, !strchr(url, '?') && !strchr(url, '#'));
    NSSO_FUZZ_CHECK(T, origin_ok(p, url));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    nsso_discovery_t d;
    const char *err = NULL, *o;
    apr_status_t rv = nsso_discovery_parse(p, (const char *)data, size, NSSO_FUZZ_ISS,
                                           origins, &d, &err);

    if (rv == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, d.issuer && !strcmp(d.issuer, NSSO_FUZZ_ISS));
        check_endpoint(p, d.authorization_endpoint);
        check_endpoint(p, d.token_endpoint);
        check_endpoint(p, d.jwks_uri);
    }
    else {
        NSSO_FUZZ_CHECK(T, err != NULL && !strchr(err, '\n') && !strchr(err, '\r'));
        NSSO_FUZZ_CHECK(T, !d.issuer && !d.authorization_endpoint && !d.token_endpoint
                               && !d.jwks_uri);
    }
    o = nsso_discovery_origin(p, nsso_fuzz_cstr(p, data, size < 512 ? size : 512));
    NSSO_FUZZ_CHECK(T, o == NULL || !strncmp(o, "http://", 7) || !strncmp(o, "https://", 8));
    apr_pool_destroy(p);
    return 0;
}
