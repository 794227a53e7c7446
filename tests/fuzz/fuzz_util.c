/* fuzz_util.c - the shared decoders that see client input: nsso_b64url_decode
 * (cookie and token segments), nsso_url_decode and nsso_query_param (the
 * callback's state/code/error and the sign-out "return" parameter), plus the
 * encoders they pair with. Invariants: the strict base64url decoder accepts
 * only canonical text (decode then encode gives the input back) and
 * encode/decode round-trip any bytes; URL encode/decode round-trip; a query
 * value found is exactly what was encoded; nsso_ct_streq agrees with strcmp.
 * And the two validators every directive path or URL goes through:
 * nsso_is_local_path accepts only "/" not followed by '/' or '\', without
 * space or control byte (nor '?' or '#' unless asked), never a URL;
 * nsso_http_url_problem accepts only http(s) URLs without such bytes, a
 * '\' or a user name in the authority, and stricter flags accept less. */
#include "fuzz_common.h"
#include "util.h"

#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#define T "util"

static void check_b64(apr_pool_t *p, const uint8_t *data, size_t size)
{
    unsigned char *out = NULL;
    apr_size_t outlen = 0;
    char *enc;

    if (nsso_b64url_decode(p, (const char *)data, size, &out, &outlen) == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, out != NULL && out[outlen] == '\0');
        NSSO_FUZZ_CHECK(T, outlen == size * 3 / 4);
        enc = nsso_b64url_encode(p, out, outlen);
        NSSO_FUZZ_CHECK(T, enc != NULL && strlen(enc) == size
                              && memcmp(enc, data, size) == 0);
    }
    else {
        NSSO_FUZZ_CHECK(T, out == NULL && outlen == 0);
    }
    /* any bytes survive an encode/decode round trip */
    enc = nsso_b64url_encode(p, data, size);
    NSSO_FUZZ_CHECK(T, enc != NULL);
    NSSO_FUZZ_CHECK(T, nsso_b64url_decode(p, enc, strlen(enc), &out, &outlen)
                          == APR_SUCCESS);
    NSSO_FUZZ_CHECK(T, outlen == size && (size == 0 || memcmp(out, data, size) == 0));
}

static void check_url(apr_pool_t *p, const char *s)
{
    static const char *const names[] = { "state", "code", "error", "return" };
    char *dec = nsso_url_decode(p, s), *enc;
    const char *v;
    size_t i;
    int dup = -1;

    if (dec != NULL)
        NSSO_FUZZ_CHECK(T, strlen(dec) <= strlen(s));
    enc = nsso_url_encode(p, s);
    NSSO_FUZZ_CHECK(T, enc != NULL);
    dec = nsso_url_decode(p, enc);
    NSSO_FUZZ_CHECK(T, dec != NULL && strcmp(dec, s) == 0);

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        v = nsso_query_param(p, s, names[i], &dup);
        NSSO_FUZZ_CHECK(T, dup == 0 || dup == 1);
        NSSO_FUZZ_CHECK(T, v == NULL || strlen(v) <= strlen(s));
    }
    v = nsso_query_param(p, s, "", &dup);
    NSSO_FUZZ_CHECK(T, v == NULL && dup == 0);
    /* the input as the value of a parameter comes back unchanged */
    v = nsso_query_param(p, apr_pstrcat(p, "a=1&state=", enc, "&b", NULL),
                         "state", &dup);
    NSSO_FUZZ_CHECK(T, v != NULL && strcmp(v, s) == 0 && dup == 0);
}

static int bad_url_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static void check_local_path(apr_pool_t *p, const char *s)
{
    int strict = nsso_is_local_path(s, 0), loose = nsso_is_local_path(s, NSSO_PATH_QUERY);
    const char *q;

    NSSO_FUZZ_CHECK(T, !strict || loose);
    if (!loose)
        return;
    NSSO_FUZZ_CHECK(T, s[0] == '/' && s[1] != '/' && s[1] != '\\');
    for (q = s; *q; q++) {
        NSSO_FUZZ_CHECK(T, !bad_url_byte((unsigned char)*q));
        NSSO_FUZZ_CHECK(T, !strict || (*q != '?' && *q != '#'));
    }
    NSSO_FUZZ_CHECK(T, !nsso_is_http_url(p, s, 0));
}

static void check_http_url(apr_pool_t *p, const char *s)
{
    int any = nsso_is_http_url(p, s, 0);
    int base = nsso_is_http_url(p, s, NSSO_URL_BASE);
    int path = nsso_is_http_url(p, s, NSSO_URL_PATH);
    int both = nsso_is_http_url(p, s, NSSO_URL_BASE | NSSO_URL_PATH);
    const char *q, *auth;

    NSSO_FUZZ_CHECK(T, any == (nsso_http_url_problem(p, s, 0) == NULL));
    NSSO_FUZZ_CHECK(T, (!base || any) && (!path || any) && both == (base && path));
    if (!any)
        return;
    NSSO_FUZZ_CHECK(T, !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8));
    for (q = s; *q; q++)
        NSSO_FUZZ_CHECK(T, !bad_url_byte((unsigned char)*q) && *q != '\\');
    /* the authority names a host, no user */
    auth = strstr(s, "//") + 2;
    NSSO_FUZZ_CHECK(T, *auth && !strchr("/?#", *auth));
    NSSO_FUZZ_CHECK(T, memchr(auth, '@', strcspn(auth, "/?#")) == NULL);
    if (base)
        NSSO_FUZZ_CHECK(T, !strchr(s, '?') && !strchr(s, '#'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    char *s = nsso_fuzz_cstr(p, data, size);
    size_t half = strlen(s) / 2;
    char *a = apr_pstrmemdup(p, s, half), *b = s + half;

    check_b64(p, data, size);
    check_url(p, s);
    check_local_path(p, s);
    check_http_url(p, s);
    NSSO_FUZZ_CHECK(T, nsso_ct_streq(a, b) == (strcmp(a, b) == 0));
    NSSO_FUZZ_CHECK(T, nsso_ct_streq(b, a) == (strcmp(a, b) == 0));
    NSSO_FUZZ_CHECK(T, nsso_ct_streq(s, s));
    NSSO_FUZZ_CHECK(T, nsso_redact(p, s) != NULL);
    apr_pool_destroy(p);
    return 0;
}
