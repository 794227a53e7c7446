/* fuzz_redirect.c - the open-redirect guard: nsso_redirect_path_ok and
 * nsso_redirect_return_url on any string. Invariants: the return URL is
 * always itself acceptable and has no fragment; an accepted target starts
 * with exactly one '/' and stays a local path after one or two rounds of
 * percent-decoding (what a decoding front end or browser might do). */
#include "fuzz_common.h"
#include "redirect.h"

#include <string.h>

#define T "redirect"

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Lenient %XX decoding (malformed escapes kept as they are). */
static char *pct_decode(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) + 1), *o = out;

    while (*s) {
        if (s[0] == '%' && hexv(s[1]) >= 0 && hexv(s[2]) >= 0) {
            *o++ = (char)(hexv(s[1]) * 16 + hexv(s[2]));
            s += 3;
        }
        else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

/* What a browser would do with a Location value starting like s:
 * drop TAB/CR/LF, treat '\' as '/'; then "//" leaves the host. */
static int leaves_host(apr_pool_t *p, const char *s)
{
    char *c = apr_palloc(p, strlen(s) + 1), *o = c;

    for (; *s; s++) {
        if (*s == '\t' || *s == '\r' || *s == '\n')
            continue;
        *o++ = *s == '\\' ? '/' : *s;
    }
    *o = '\0';
    return c[0] != '/' || c[1] == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *t = nsso_fuzz_cstr(p, data, size);
    int ok = nsso_redirect_path_ok(t);
    const char *r = nsso_redirect_return_url(p, t);

    NSSO_FUZZ_CHECK(T, r != NULL);
    NSSO_FUZZ_CHECK(T, nsso_redirect_path_ok(r));
    NSSO_FUZZ_CHECK(T, strchr(r, '#') == NULL);
    if (ok) {
        const char *d1 = pct_decode(p, t), *d2 = pct_decode(p, d1);
        NSSO_FUZZ_CHECK(T, !leaves_host(p, t));
        NSSO_FUZZ_CHECK(T, !leaves_host(p, d1));
        NSSO_FUZZ_CHECK(T, !leaves_host(p, d2));
        NSSO_FUZZ_CHECK(T, strncmp(r, t, strlen(r)) == 0);
    }
    else {
        NSSO_FUZZ_CHECK(T, strcmp(r, "/") == 0);
    }
    NSSO_FUZZ_CHECK(T, !nsso_redirect_path_ok(NULL));
    apr_pool_destroy(p);
    return 0;
}
