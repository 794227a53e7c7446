/* test_util.c - unit tests for src/util.c: base64url (vectors, round trips,
 * strict rejection), randomness, constant-time comparison, SHA-256 and the
 * RFC 7636 PKCE vector, redaction, secret resolution and URL helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "util.h"

static int group_setup(void **state)
{
    apr_pool_t *p = NULL;

    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS)
        return -1;
    *state = p;
    return 0;
}

static int group_teardown(void **state)
{
    apr_pool_destroy(*state);
    apr_terminate();
    return 0;
}

/* ---- base64url ----------------------------------------------------------- */

static void b64_dec_ok(apr_pool_t *p, const char *in, const char *expect,
                       apr_size_t expect_len)
{
    unsigned char *out = NULL;
    apr_size_t outlen = 99;

    assert_int_equal(nsso_b64url_decode(p, in, strlen(in), &out, &outlen),
                     APR_SUCCESS);
    assert_non_null(out);
    assert_int_equal(outlen, expect_len);
    assert_memory_equal(out, expect, expect_len);
    assert_int_equal(out[outlen], '\0');
}

static void b64_dec_bad(apr_pool_t *p, const char *in, apr_size_t inlen)
{
    unsigned char *out = (unsigned char *)"sentinel";
    apr_size_t outlen = 99;

    assert_int_not_equal(nsso_b64url_decode(p, in, inlen, &out, &outlen),
                         APR_SUCCESS);
    assert_null(out);
    assert_int_equal(outlen, 0);
}

static void test_b64url_rfc4648_vectors(void **state)
{
    apr_pool_t *p = *state;
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    size_t i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_string_equal(nsso_b64url_encode(p, (const unsigned char *)plain[i],
                                               strlen(plain[i])), enc[i]);
        b64_dec_ok(p, enc[i], plain[i], strlen(plain[i]));
    }
}

static void test_b64url_url_alphabet(void **state)
{
    apr_pool_t *p = *state;
    static const unsigned char bytes[] = { 0xfb, 0xff, 0xbf };

    /* standard base64 would be "+/+/" */
    assert_string_equal(nsso_b64url_encode(p, bytes, 3), "-_-_");
    assert_string_equal(nsso_b64url_encode(p, bytes, 2), "-_8");
    b64_dec_ok(p, "-_-_", (const char *)bytes, 3);
    b64_dec_ok(p, "-_8", (const char *)bytes, 2);
}

static void test_b64url_round_trip_all_lengths(void **state)
{
    apr_pool_t *p = *state;
    unsigned char buf[300];
    size_t i, n;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (n = 0; n <= sizeof(buf); n++) {
        char *e = nsso_b64url_encode(p, buf, n);
        unsigned char *d = NULL;
        apr_size_t dlen = 0;

        assert_non_null(e);
        assert_int_equal(strlen(e), (n * 4 + 2) / 3);
        assert_null(strpbrk(e, "+/="));
        assert_int_equal(nsso_b64url_decode(p, e, strlen(e), &d, &dlen), APR_SUCCESS);
        assert_int_equal(dlen, n);
        assert_memory_equal(d, buf, n);
    }
}

static void test_b64url_every_byte_value(void **state)
{
    apr_pool_t *p = *state;
    unsigned char all[256];
    unsigned char *d = NULL;
    apr_size_t dlen = 0;
    char *e;
    int i;

    for (i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    e = nsso_b64url_encode(p, all, sizeof(all));
    assert_int_equal(nsso_b64url_decode(p, e, strlen(e), &d, &dlen), APR_SUCCESS);
    assert_int_equal(dlen, 256);
    assert_memory_equal(d, all, 256);
}

static void test_b64url_strict_rejections(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "Zg==", "Zg=", "Zm9=", "Zm8=",       /* padding */
        "Zm+v", "Zm/v", "+/+/",              /* standard alphabet */
        "Zm9 v", " Zm9v", "Zm9v ", "Zm9v\n", "Zm\t9v", "Zm9v\r\n",
        "Z", "Zm9vY", "Zm9vYmFyZ",          /* length % 4 == 1 */
        "Zh", "Zm9", "Zm-", "Zm9vYh",       /* non-zero trailing bits */
        "Zm9v!", "Zm9v.", "Zm%39v", "\xc3\xa9\xc3\xa9",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        b64_dec_bad(p, bad[i], strlen(bad[i]));
    /* embedded NUL inside the given length */
    b64_dec_bad(p, "Zm\0v", 4);
}

static void test_b64url_canonical_neighbours_accepted(void **state)
{
    apr_pool_t *p = *state;

    /* the canonical forms next to the rejected ones above do decode */
    b64_dec_ok(p, "Zg", "f", 1);
    b64_dec_ok(p, "Zm8", "fo", 2);
    b64_dec_ok(p, "Zm9vYg", "foob", 4);
}

static void test_b64url_decode_respects_inlen(void **state)
{
    apr_pool_t *p = *state;
    unsigned char *d = NULL;
    apr_size_t dlen = 0;

    /* only the first 4 chars are considered; the rest is not even valid */
    assert_int_equal(nsso_b64url_decode(p, "Zm9v!!!!", 4, &d, &dlen), APR_SUCCESS);
    assert_int_equal(dlen, 3);
    assert_string_equal((const char *)d, "foo");
    assert_int_equal(nsso_b64url_decode(p, "", 0, &d, &dlen), APR_SUCCESS);
    assert_int_equal(dlen, 0);
    assert_string_equal((const char *)d, "");
}

static void test_b64url_null_arguments(void **state)
{
    apr_pool_t *p = *state;
    unsigned char *d = NULL;
    apr_size_t dlen = 0;

    assert_null(nsso_b64url_encode(p, NULL, 3));
    assert_string_equal(nsso_b64url_encode(p, NULL, 0), "");
    assert_int_not_equal(nsso_b64url_decode(p, NULL, 4, &d, &dlen), APR_SUCCESS);
    assert_int_not_equal(nsso_b64url_decode(p, "Zm9v", 4, NULL, &dlen), APR_SUCCESS);
    assert_int_not_equal(nsso_b64url_decode(p, "Zm9v", 4, &d, NULL), APR_SUCCESS);
}

/* ---- randomness ---------------------------------------------------------- */

static void test_random_bytes(void **state)
{
    unsigned char a[32], b[32];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(nsso_random_bytes(a, sizeof(a)), APR_SUCCESS);
    assert_int_equal(nsso_random_bytes(b, sizeof(b)), APR_SUCCESS);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(nsso_random_bytes(NULL, 0), APR_SUCCESS);
    assert_int_not_equal(nsso_random_bytes(NULL, 4), APR_SUCCESS);
}

static void test_random_b64url(void **state)
{
    apr_pool_t *p = *state;
    char *s16 = nsso_random_b64url(p, 16);
    char *s32 = nsso_random_b64url(p, 32);
    char *again = nsso_random_b64url(p, 32);
    unsigned char *d = NULL;
    apr_size_t dlen = 0;

    assert_non_null(s16);
    assert_non_null(s32);
    assert_non_null(again);
    assert_int_equal(strlen(s16), 22);
    assert_int_equal(strlen(s32), 43);
    assert_string_not_equal(s32, again);
    assert_int_equal(strspn(s32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_int_equal(nsso_b64url_decode(p, s16, strlen(s16), &d, &dlen), APR_SUCCESS);
    assert_int_equal(dlen, 16);
    assert_null(nsso_random_b64url(p, 0));
}

/* ---- comparison, hashing ------------------------------------------------- */

static void test_ct_streq(void **state)
{
    assert_true(nsso_ct_streq("abc", "abc"));
    assert_true(nsso_ct_streq("", ""));
    assert_false(nsso_ct_streq("abc", "abd"));
    assert_false(nsso_ct_streq("bbc", "abc"));
    assert_false(nsso_ct_streq("ab", "abc"));
    assert_false(nsso_ct_streq("abc", "ab"));
    assert_false(nsso_ct_streq("abcd", "abc"));
    assert_false(nsso_ct_streq("", "a"));
    assert_false(nsso_ct_streq("a", ""));
    assert_false(nsso_ct_streq("ABC", "abc"));
    assert_false(nsso_ct_streq(NULL, "abc"));
    assert_false(nsso_ct_streq("abc", NULL));
    assert_false(nsso_ct_streq(NULL, NULL));
    /* high bytes compare as bytes */
    assert_true(nsso_ct_streq("\xff\x80", "\xff\x80"));
    assert_false(nsso_ct_streq("\xff\x80", "\xff\x81"));
}

static void test_sha256_vectors(void **state)
{
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
        0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
    static const unsigned char empty[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
        0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
        0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55 };
    unsigned char out[32];

    nsso_sha256("abc", 3, out);
    assert_memory_equal(out, abc, 32);
    nsso_sha256("", 0, out);
    assert_memory_equal(out, empty, 32);
    nsso_sha256(NULL, 0, out);
    assert_memory_equal(out, empty, 32);
}

static void test_pkce_rfc7636_appendix_b(void **state)
{
    apr_pool_t *p = *state;
    /* RFC 7636 appendix B (checked with: printf %s VERIFIER | openssl dgst
     * -sha256 -binary | openssl base64 | tr '+/' '-_' | tr -d '=') */
    const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    assert_string_equal(nsso_pkce_challenge(p, verifier),
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert_string_not_equal(nsso_pkce_challenge(p, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"),
                            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert_null(nsso_pkce_challenge(p, NULL));
}

/* ---- redaction ----------------------------------------------------------- */

static void test_redact(void **state)
{
    apr_pool_t *p = *state;
    const char *longsecret = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"; /* 40 */
    const char *r;

    assert_string_equal(nsso_redact(p, longsecret), "abcdef...(40 chars)");
    r = nsso_redact(p, "hunter2pass");
    assert_string_equal(r, "...(11 chars)");
    assert_null(strstr(r, "hun"));
    assert_string_equal(nsso_redact(p, ""), "...(0 chars)");
    assert_string_equal(nsso_redact(p, NULL), "(null)");
    assert_string_equal(nsso_redact(p, "ab\ncd\x01\xc3rest-of-a-long-secret-value"),
                        "ab?cd?...(34 chars)");
    /* 23 chars: still no prefix; 24: prefix */
    assert_string_equal(nsso_redact(p, "abcdefghijklmnopqrstuvw"), "...(23 chars)");
    assert_string_equal(nsso_redact(p, "abcdefghijklmnopqrstuvwx"), "abcdef...(24 chars)");
}

/* ---- secrets ------------------------------------------------------------- */

static char *temp_file_with(apr_pool_t *p, const char *content, size_t len)
{
    char *path = apr_pstrdup(p, "/tmp/nsso_test_secret_XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static const char *resolve_file(apr_pool_t *p, const char *content, size_t len,
                                const char **err)
{
    char *path = temp_file_with(p, content, len);
    const char *v = nsso_resolve_secret(p, apr_pstrcat(p, "file:", path, NULL), err);

    unlink(path);
    return v;
}

static void test_resolve_literal(void **state)
{
    apr_pool_t *p = *state;
    const char *err = "untouched";

    assert_string_equal(nsso_resolve_secret(p, "s3cret value", &err), "s3cret value");
    assert_null(err);
    assert_string_equal(nsso_resolve_secret(p, "environment:X", &err), "environment:X");
    assert_null(nsso_resolve_secret(p, "", &err));
    assert_non_null(err);
    err = NULL;
    assert_null(nsso_resolve_secret(p, NULL, &err));
    assert_non_null(err);
    /* err may be NULL */
    assert_null(nsso_resolve_secret(p, "", NULL));
}

static void test_resolve_env(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    setenv("NSSO_TEST_SECRET", "from-env", 1);
    assert_string_equal(nsso_resolve_secret(p, "env:NSSO_TEST_SECRET", &err), "from-env");
    assert_null(err);
    unsetenv("NSSO_TEST_SECRET_MISSING");
    assert_null(nsso_resolve_secret(p, "env:NSSO_TEST_SECRET_MISSING", &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "NSSO_TEST_SECRET_MISSING"));
    setenv("NSSO_TEST_SECRET_EMPTY", "", 1);
    err = NULL;
    assert_null(nsso_resolve_secret(p, "env:NSSO_TEST_SECRET_EMPTY", &err));
    assert_non_null(err);
    err = NULL;
    assert_null(nsso_resolve_secret(p, "env:", &err));
    assert_non_null(err);
    unsetenv("NSSO_TEST_SECRET");
    unsetenv("NSSO_TEST_SECRET_EMPTY");
}

static void test_resolve_file(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    assert_string_equal(resolve_file(p, "filesecret\n", 11, &err), "filesecret");
    assert_null(err);
    assert_string_equal(resolve_file(p, "crlf\r\n", 6, &err), "crlf");
    assert_string_equal(resolve_file(p, "no-newline", 10, &err), "no-newline");
    assert_string_equal(resolve_file(p, "first\nsecond\n", 13, &err), "first");
    assert_string_equal(resolve_file(p, "  spaced  \n", 11, &err), "  spaced  ");
}

static void test_resolve_file_errors(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    char *big;

    assert_null(nsso_resolve_secret(p, "file:/nonexistent/nsso/secret", &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent/nsso/secret"));
    err = NULL;
    assert_null(resolve_file(p, "", 0, &err));
    assert_non_null(err);
    err = NULL;
    assert_null(resolve_file(p, "\n", 1, &err));
    assert_non_null(err);
    err = NULL;
    assert_null(resolve_file(p, "\r\nlater\n", 8, &err));
    assert_non_null(err);
    err = NULL;
    assert_null(resolve_file(p, "ab\0cd\n", 6, &err));
    assert_non_null(err);
    err = NULL;
    assert_null(nsso_resolve_secret(p, "file:", &err));
    assert_non_null(err);
    /* a first line longer than the 64 KB read limit */
    big = apr_palloc(p, 70000);
    memset(big, 'x', 70000);
    err = NULL;
    assert_null(resolve_file(p, big, 70000, &err));
    assert_non_null(err);
    /* a directory is not a secret file */
    err = NULL;
    assert_null(nsso_resolve_secret(p, "file:/tmp", &err));
    assert_non_null(err);
}

/* ---- URL helpers --------------------------------------------------------- */

static void test_url_encode(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(nsso_url_encode(p, "AZaz09-._~"), "AZaz09-._~");
    assert_string_equal(nsso_url_encode(p, "a b&c=d/e?f#g+h%"),
                        "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25");
    assert_string_equal(nsso_url_encode(p, "\xc3\xa9\r\n"), "%C3%A9%0D%0A");
    assert_string_equal(nsso_url_encode(p, ""), "");
    assert_null(nsso_url_encode(p, NULL));
}

static void test_url_decode(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(nsso_url_decode(p, "a%20b+c"), "a b c");
    assert_string_equal(nsso_url_decode(p, "%2f%2F%c3%A9"), "//\xc3\xa9");
    assert_string_equal(nsso_url_decode(p, "plain"), "plain");
    assert_string_equal(nsso_url_decode(p, ""), "");
    assert_string_equal(nsso_url_decode(p, "%2525"), "%25");
    assert_null(nsso_url_decode(p, "%"));
    assert_null(nsso_url_decode(p, "abc%"));
    assert_null(nsso_url_decode(p, "abc%2"));
    assert_null(nsso_url_decode(p, "%zz"));
    assert_null(nsso_url_decode(p, "%2g"));
    assert_null(nsso_url_decode(p, "%g2"));
    assert_null(nsso_url_decode(p, "% 2"));
    assert_null(nsso_url_decode(p, "a%00b"));
    assert_null(nsso_url_decode(p, NULL));
}

static void test_url_round_trip_every_byte(void **state)
{
    apr_pool_t *p = *state;
    char all[256];
    int i;

    for (i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    assert_string_equal(nsso_url_decode(p, nsso_url_encode(p, all)), all);
}

static void test_query_param_basic(void **state)
{
    apr_pool_t *p = *state;
    const char *q = "code=abc&state=x%2By+z&empty=&flag&last=1";
    int dup = 7;

    assert_string_equal(nsso_query_param(p, q, "code", &dup), "abc");
    assert_int_equal(dup, 0);
    assert_string_equal(nsso_query_param(p, q, "state", &dup), "x+y z");
    assert_string_equal(nsso_query_param(p, q, "empty", &dup), "");
    assert_string_equal(nsso_query_param(p, q, "flag", &dup), "");
    assert_string_equal(nsso_query_param(p, q, "last", &dup), "1");
    dup = 7;
    assert_null(nsso_query_param(p, q, "missing", &dup));
    assert_int_equal(dup, 0);
    assert_null(nsso_query_param(p, q, "cod", &dup));
    assert_null(nsso_query_param(p, q, "codes", &dup));
    assert_null(nsso_query_param(p, q, "", &dup));
    assert_null(nsso_query_param(p, NULL, "code", &dup));
    assert_null(nsso_query_param(p, q, NULL, &dup));
    assert_string_equal(nsso_query_param(p, q, "code", NULL), "abc");
}

static void test_query_param_values_with_separators(void **state)
{
    apr_pool_t *p = *state;
    int dup = 0;

    assert_string_equal(nsso_query_param(p, "a=b=c&d=1", "a", &dup), "b=c");
    assert_string_equal(nsso_query_param(p, "&&a=1&&", "a", &dup), "1");
    assert_string_equal(nsso_query_param(p, "=x&a=2", "a", &dup), "2");
    assert_null(nsso_query_param(p, "", "a", &dup));
    assert_null(nsso_query_param(p, "&&&", "a", &dup));
}

static void test_query_param_fragment(void **state)
{
    apr_pool_t *p = *state;
    int dup = 0;

    assert_string_equal(nsso_query_param(p, "a=1#a=2", "a", &dup), "1");
    assert_int_equal(dup, 0);
    assert_null(nsso_query_param(p, "x=1#a=2", "a", &dup));
    assert_string_equal(nsso_query_param(p, "a=1%232#", "a", &dup), "1#2");
}

static void test_query_param_duplicates(void **state)
{
    apr_pool_t *p = *state;
    int dup = 0;

    assert_string_equal(nsso_query_param(p, "state=one&code=c&state=two", "state", &dup), "one");
    assert_int_equal(dup, 1);
    dup = 0;
    /* a duplicate hidden behind percent-encoding of the name still counts */
    assert_string_equal(nsso_query_param(p, "state=one&st%61te=two", "state", &dup), "one");
    assert_int_equal(dup, 1);
    dup = 0;
    assert_string_equal(nsso_query_param(p, "st%61te=enc", "state", &dup), "enc");
    assert_int_equal(dup, 0);
    dup = 0;
    assert_string_equal(nsso_query_param(p, "code=a&code", "code", &dup), "a");
    assert_int_equal(dup, 1);
    dup = 0;
    assert_null(nsso_query_param(p, "state=one&state=two", "code", &dup));
    assert_int_equal(dup, 0);
}

static void test_query_param_malformed(void **state)
{
    apr_pool_t *p = *state;
    int dup = 0;

    assert_null(nsso_query_param(p, "code=%zz", "code", &dup));
    assert_int_equal(dup, 0);
    assert_null(nsso_query_param(p, "code=a%00b", "code", &dup));
    assert_null(nsso_query_param(p, "code=abc%", "code", &dup));
    /* the first occurrence decides; the duplicate is still reported */
    assert_null(nsso_query_param(p, "code=%&code=ok", "code", &dup));
    assert_int_equal(dup, 1);
    dup = 0;
    /* a malformed name never matches but does not stop the scan */
    assert_string_equal(nsso_query_param(p, "c%zzode=x&code=ok", "code", &dup), "ok");
    assert_int_equal(dup, 0);
}

/* ---- local paths and http(s) URLs ------------------------------------------ */

static void test_local_path(void **state)
{
    static const char *const good[] = { "/", "/nomis-sso/logout", "/a/b.c", "/a\\b",
                                        "/%2F", "/caf\xc3\xa9", NULL };
    static const char *const bad[] = { "", "a/b", "//evil", "/\\evil", "/a b", "/a\tb",
                                       "/a\r\nb", "/a\x7f", " /a", "https://x/",
                                       NULL };
    int i;

    for (i = 0; good[i]; i++) {
        assert_true(nsso_is_local_path(good[i], 0));
        assert_true(nsso_is_local_path(good[i], NSSO_PATH_QUERY));
    }
    for (i = 0; bad[i]; i++) {
        assert_false(nsso_is_local_path(bad[i], 0));
        assert_false(nsso_is_local_path(bad[i], NSSO_PATH_QUERY));
    }
    assert_false(nsso_is_local_path(NULL, 0));
    /* a query or fragment only where the caller allows one */
    assert_false(nsso_is_local_path("/a?b=1", 0));
    assert_false(nsso_is_local_path("/a#top", 0));
    assert_false(nsso_is_local_path("/?", 0));
    assert_true(nsso_is_local_path("/a?b=1", NSSO_PATH_QUERY));
    assert_true(nsso_is_local_path("/a#top", NSSO_PATH_QUERY));
}

static void test_http_url(void **state)
{
    apr_pool_t *pool = *state;
    static const char *const good[] = {
        "https://sign-in.hmpps.service.justice.gov.uk/auth", "http://127.0.0.1:8080",
        "HTTPS://Auth.Example/auth/", "https://[::1]:8443/auth", NULL };
    static const char *const bad[] = {
        "", "/auth", "//host/auth", "auth.example/auth", "ftp://host/", "javascript:alert(1)",
        "https:evil", "https:///path", "https://user@host/", "https://user:pw@host/",
        "https://host/a b", "https://host/\ta", "https://host\\@evil/",
        "https://host/\x7f", " https://host/", NULL };
    int i;

    for (i = 0; good[i]; i++) {
        assert_null(nsso_http_url_problem(pool, good[i], 0));
        assert_true(nsso_is_http_url(pool, good[i], NSSO_URL_BASE));
    }
    for (i = 0; bad[i]; i++) {
        assert_non_null(nsso_http_url_problem(pool, bad[i], 0));
        assert_false(nsso_is_http_url(pool, bad[i], 0));
    }
    assert_non_null(nsso_http_url_problem(pool, NULL, 0));
    /* the reason names what is wrong */
    assert_string_equal(nsso_http_url_problem(pool, "ftp://h/", 0),
                        "is not an http:// or https:// URL");
    assert_string_equal(nsso_http_url_problem(pool, "https://u@h/", 0),
                        "carries a user name or password");
    /* a base URL has no query or fragment; a redirect target may */
    assert_true(nsso_is_http_url(pool, "https://h/a?b=1#c", 0));
    assert_string_equal(nsso_http_url_problem(pool, "https://h/a?b=1", NSSO_URL_BASE),
                        "carries a query or fragment");
    assert_false(nsso_is_http_url(pool, "https://h/a#c", NSSO_URL_BASE));
    /* a path when asked */
    assert_string_equal(nsso_http_url_problem(pool, "https://h", NSSO_URL_PATH), "has no path");
    assert_true(nsso_is_http_url(pool, "https://h/", NSSO_URL_PATH));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_url_alphabet),
        cmocka_unit_test(test_b64url_round_trip_all_lengths),
        cmocka_unit_test(test_b64url_every_byte_value),
        cmocka_unit_test(test_b64url_strict_rejections),
        cmocka_unit_test(test_b64url_canonical_neighbours_accepted),
        cmocka_unit_test(test_b64url_decode_respects_inlen),
        cmocka_unit_test(test_b64url_null_arguments),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_b64url),
        cmocka_unit_test(test_ct_streq),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_pkce_rfc7636_appendix_b),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_resolve_literal),
        cmocka_unit_test(test_resolve_env),
        cmocka_unit_test(test_resolve_file),
        cmocka_unit_test(test_resolve_file_errors),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_url_round_trip_every_byte),
        cmocka_unit_test(test_query_param_basic),
        cmocka_unit_test(test_query_param_values_with_separators),
        cmocka_unit_test(test_query_param_fragment),
        cmocka_unit_test(test_query_param_duplicates),
        cmocka_unit_test(test_query_param_malformed),
        cmocka_unit_test(test_local_path),
        cmocka_unit_test(test_http_url),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
