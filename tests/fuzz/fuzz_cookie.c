/* fuzz_cookie.c - the Cookie request header: nsso_cookie_parse and
 * nsso_cookie_get on any header (nsso_cookie_find giving the same), and
 * nsso_cookie_build on every pair it yields. Invariants: every parsed name is a token, no parsed value holds a
 * control character or a separator, a value that is valid builds, and a
 * built Set-Cookie never holds a control character. */
#include "fuzz_common.h"
#include "cookie.h"

#include <string.h>

#define T "cookie"

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* nsso_cookie_find must give exactly what nsso_cookie_get gives on the
 * parsed array: the hot path uses the one, everything else the other. */
static void same_as_get(apr_pool_t *p, const char *header, const apr_array_header_t *cookies,
                        const char *name)
{
    int n_get, n_find, b64 = -1;
    const char *g = nsso_cookie_get(cookies, name, &n_get);
    const char *f = nsso_cookie_find(p, header, name, &n_find, &b64);
    const char *f1 = nsso_cookie_find(p, header, name, NULL, NULL);

    NSSO_FUZZ_CHECK(T, n_get == n_find);
    NSSO_FUZZ_CHECK(T, (g == NULL) == (f == NULL) && (g == NULL) == (f1 == NULL));
    NSSO_FUZZ_CHECK(T, g == NULL || (!strcmp(g, f) && !strcmp(g, f1)));
    /* the flag is never set for a value outside the alphabet */
    NSSO_FUZZ_CHECK(T, b64 == 0 || (f && *f && strspn(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                    "abcdefghijklmnopqrstuvwxyz"
                                                    "0123456789-_") == strlen(f)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {
        "nomis_sso", "__Host-nomis_sso", "nomis_sso_state_", "JSESSIONID", ""
    };
    apr_pool_t *p = nsso_fuzz_pool();
    const char *header = nsso_fuzz_cstr(p, data, size);
    apr_array_header_t *cookies = nsso_cookie_parse(p, header);
    const nsso_cookie_t *ck;
    int i, n;

    NSSO_FUZZ_CHECK(T, cookies != NULL);
    ck = (const nsso_cookie_t *)cookies->elts;
    /* (the first 8 pairs: nsso_cookie_get is linear, this loop need not be
     * quadratic in the size of the header) */
    for (i = 0; i < cookies->nelts && i < 8; i++) {
        const char *v, *built;

        NSSO_FUZZ_CHECK(T, nsso_cookie_name_ok(ck[i].name));
        NSSO_FUZZ_CHECK(T, !has_ctl(ck[i].value));
        NSSO_FUZZ_CHECK(T, strpbrk(ck[i].value, ";,") == NULL);
        v = nsso_cookie_get(cookies, ck[i].name, &n);
        NSSO_FUZZ_CHECK(T, v != NULL && n >= 1);
        built = nsso_cookie_build(p, ck[i].name, ck[i].value, NULL);
        if (nsso_cookie_value_ok(ck[i].value)
            && strlen(ck[i].name) + strlen(ck[i].value) <= NSSO_COOKIE_MAX_SIZE)
            NSSO_FUZZ_CHECK(T, built != NULL);
        if (built != NULL) {
            apr_size_t nl = strlen(ck[i].name);
            NSSO_FUZZ_CHECK(T, !has_ctl(built));
            NSSO_FUZZ_CHECK(T, strncmp(built, ck[i].name, nl) == 0 && built[nl] == '=');
        }
    }
    for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        const char *v = nsso_cookie_get(cookies, names[i], &n);
        NSSO_FUZZ_CHECK(T, (v != NULL) == (n > 0));
        same_as_get(p, header, cookies, names[i]);
    }
    for (i = 0; i < cookies->nelts && i < 8; i++)
        same_as_get(p, header, cookies, ck[i].name);
    nsso_cookie_get(cookies, NULL, NULL);
    nsso_cookie_get(NULL, "nomis_sso", &n);
    apr_pool_destroy(p);
    return 0;
}
