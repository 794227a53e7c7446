/* test_cookie.c - unit tests for src/cookie.c: parsing hostile Cookie
 * headers (no '=', empty names, quotes, control characters, separators,
 * 100 cookies, 64 KB), lookup with duplicates, the name/value grammar, and
 * building Set-Cookie values with every option while refusing anything that
 * could break the header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "cookie.h"

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

static const nsso_cookie_t *at(const apr_array_header_t *a, int i)
{
    assert_true(i < a->nelts);
    return &((const nsso_cookie_t *)a->elts)[i];
}

static void expect_pair(const apr_array_header_t *a, int i, const char *name,
                        const char *value)
{
    assert_string_equal(at(a, i)->name, name);
    assert_string_equal(at(a, i)->value, value);
}

static int count_of(apr_pool_t *p, const char *header)
{
    return nsso_cookie_parse(p, header)->nelts;
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_simple(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, "a=1; b=two; c=3");

    assert_int_equal(a->nelts, 3);
    expect_pair(a, 0, "a", "1");
    expect_pair(a, 1, "b", "two");
    expect_pair(a, 2, "c", "3");
}

static void test_parse_empty_inputs(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, NULL);

    assert_non_null(a);
    assert_int_equal(a->nelts, 0);
    assert_int_equal(count_of(p, ""), 0);
    assert_int_equal(count_of(p, " "), 0);
    assert_int_equal(count_of(p, ";;;;"), 0);
    assert_int_equal(count_of(p, ",,; ,"), 0);
    assert_int_equal(count_of(p, "="), 0);
    assert_int_equal(count_of(p, "==="), 0);
}

static void test_parse_whitespace(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, "  a=1 ;b=2;\tc = 3\t;   d=4   ");

    assert_int_equal(a->nelts, 4);
    expect_pair(a, 0, "a", "1");
    expect_pair(a, 1, "b", "2");
    expect_pair(a, 2, "c", "3");
    expect_pair(a, 3, "d", "4");
    /* inner space in a value is kept as-is */
    a = nsso_cookie_parse(p, "a=x y");
    assert_int_equal(a->nelts, 1);
    expect_pair(a, 0, "a", "x y");
}

static void test_parse_skips_malformed(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a =
        nsso_cookie_parse(p, "noequals; =novalue; good=1; ; a b=2; a(b=3; a\"=4; "
                             "a/b=5; a@b=6; a:b=7; x[=8; last=9");

    assert_int_equal(a->nelts, 2);
    expect_pair(a, 0, "good", "1");
    expect_pair(a, 1, "last", "9");
}

static void test_parse_values(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a =
        nsso_cookie_parse(p, "e=; eq=a=b=c; q=\"quoted\"; qe=\"\"; lone=\"; "
                             "inner=a\"b; half=\"open; utf=caf\xc3\xa9; tok=eyJ.a-b_c");

    assert_int_equal(a->nelts, 9);
    expect_pair(a, 0, "e", "");
    expect_pair(a, 1, "eq", "a=b=c");
    expect_pair(a, 2, "q", "quoted");
    expect_pair(a, 3, "qe", "");
    expect_pair(a, 4, "lone", "\"");
    expect_pair(a, 5, "inner", "a\"b");
    expect_pair(a, 6, "half", "\"open");
    expect_pair(a, 7, "utf", "caf\xc3\xa9");
    expect_pair(a, 8, "tok", "eyJ.a-b_c");
}

static void test_parse_control_characters(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a =
        nsso_cookie_parse(p, "a=x\x01y; b\x02=1; c=\x7f; d=ok; e=line\nbreak; "
                             "f=cr\rx; g\x1b=z; h=\"q\x7fq\"; t=in\tside");

    /* "e=line\nbreak" is one piece (no ';'): the LF makes it malformed */
    assert_int_equal(a->nelts, 1);
    expect_pair(a, 0, "d", "ok");
}

static void test_parse_joined_headers(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, "a=1; b=2, c=3,d=4");

    assert_int_equal(a->nelts, 4);
    expect_pair(a, 1, "b", "2");
    expect_pair(a, 2, "c", "3");
    expect_pair(a, 3, "d", "4");
}

static void test_parse_keeps_order_and_duplicates(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, "s=first; x=1; s=second; s=third");

    assert_int_equal(a->nelts, 4);
    expect_pair(a, 0, "s", "first");
    expect_pair(a, 2, "s", "second");
    expect_pair(a, 3, "s", "third");
}

static void test_parse_100_cookies(void **state)
{
    apr_pool_t *p = *state;
    char *h = "";
    apr_array_header_t *a;
    int i, n;

    for (i = 0; i < 100; i++)
        h = apr_psprintf(p, "%s%sc%d=v%d", h, i ? "; " : "", i, i);
    a = nsso_cookie_parse(p, h);
    assert_int_equal(a->nelts, 100);
    for (i = 0; i < 100; i++) {
        const char *v = nsso_cookie_get(a, apr_psprintf(p, "c%d", i), &n);
        assert_non_null(v);
        assert_string_equal(v, apr_psprintf(p, "v%d", i));
        assert_int_equal(n, 1);
    }
}

static void test_parse_64k_value(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t n = 64 * 1024;
    char *h = apr_palloc(p, n + 32);
    apr_array_header_t *a;

    memcpy(h, "big=", 4);
    memset(h + 4, 'v', n);
    strcpy(h + 4 + n, "; small=1");
    a = nsso_cookie_parse(p, h);
    assert_int_equal(a->nelts, 2);
    assert_int_equal(strlen(at(a, 0)->value), n);
    expect_pair(a, 1, "small", "1");
}

static void test_parse_64k_hostile(void **state)
{
    apr_pool_t *p = *state;
    static const char junk[] = ";=,\" \t=;x;=y;\x01;z=\"";
    apr_size_t n = 64 * 1024, i;
    char *h = apr_palloc(p, n + 32);
    apr_array_header_t *a;

    for (i = 0; i < n; i++)
        h[i] = junk[i % (sizeof(junk) - 1)];
    strcpy(h + n, "; found=yes");
    a = nsso_cookie_parse(p, h);
    assert_string_equal(nsso_cookie_get(a, "found", NULL), "yes");
    /* every pair that survived is well-formed */
    for (i = 0; i < (apr_size_t)a->nelts; i++) {
        assert_true(nsso_cookie_name_ok(at(a, (int)i)->name));
        assert_null(strpbrk(at(a, (int)i)->value, ";,\x01"));
    }
}

static void test_parse_many_tiny_pairs(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t n = 64 * 1024, i;
    char *h = apr_palloc(p, n + 1);

    /* "a=;a=;a=;..." - 21845 cookies, all named a */
    for (i = 0; i < n; i++)
        h[i] = "a=;"[i % 3];
    h[n - n % 3] = '\0';
    {
        apr_array_header_t *a = nsso_cookie_parse(p, h);
        int count = 0;

        assert_int_equal(a->nelts, (int)(n / 3));
        assert_string_equal(nsso_cookie_get(a, "a", &count), "");
        assert_int_equal(count, (int)(n / 3));
    }
}

/* ---- lookup -------------------------------------------------------------- */

static void test_get(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = nsso_cookie_parse(p, "sid=one; other=x; SID=upper; sid=two");
    int n = -1;

    assert_string_equal(nsso_cookie_get(a, "sid", &n), "one");
    assert_int_equal(n, 2);
    assert_string_equal(nsso_cookie_get(a, "SID", &n), "upper");
    assert_int_equal(n, 1);
    assert_string_equal(nsso_cookie_get(a, "other", NULL), "x");
    n = -1;
    assert_null(nsso_cookie_get(a, "missing", &n));
    assert_int_equal(n, 0);
    assert_null(nsso_cookie_get(a, "si", &n));
    assert_null(nsso_cookie_get(a, "sidd", &n));
    assert_null(nsso_cookie_get(a, NULL, &n));
    assert_null(nsso_cookie_get(NULL, "sid", &n));
    assert_int_equal(n, 0);
}

/* nsso_cookie_find (the hot path's) gives what get(parse()) gives, on
 * headers that exercise every rule of the parse. */
static void test_find_same_as_get(void **state)
{
    static const char *const headers[] = {
        "sid=one; other=x; SID=upper; sid=two", "  sid = spaced\t;sid=2",
        "a=1, sid=\"quoted\",sid=3", "sid; sid=; sid=after-empty", "xsid=1; sidx=2; sid",
        "s\x01id=1; sid=x\x02y; sid=ok", "=sid; sid==eq", "sid=\"\"; b=2", ";;;sid=last;",
        "", "no-match=1", "sid=\tx\t; sid=a\tb; sid= ok ", "sid=a\tb; sid=\"\tq\"",
    };
    static const char *const names[] = { "sid", "SID", "other", "s", "sidx", "a", "b", "" };
    apr_pool_t *p = *state;
    size_t h, k;

    for (h = 0; h < sizeof(headers) / sizeof(headers[0]); h++)
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            int ng = -1, nf = -1;
            const char *g = nsso_cookie_get(nsso_cookie_parse(p, headers[h]), names[k], &ng);
            const char *f = nsso_cookie_find(p, headers[h], names[k], &nf, NULL);
            const char *f1 = nsso_cookie_find(p, headers[h], names[k], NULL, NULL);

            assert_int_equal(ng, nf);
            if (g == NULL) {
                assert_null(f);
                assert_null(f1);
            }
            else {
                assert_string_equal(g, f);
                assert_string_equal(g, f1);
            }
        }
    assert_null(nsso_cookie_find(p, NULL, "sid", NULL, NULL));
    assert_null(nsso_cookie_find(p, "sid=1", NULL, NULL, NULL));
    assert_string_equal(nsso_cookie_find(p, "sid=1; sid=2", "sid", NULL, NULL), "1");
    assert_string_equal(nsso_cookie_find(p, "x=1, sid=\"q\"", "sid", NULL, NULL), "q");
}

/* The base64url flag: set only for a value of nothing but A-Z a-z 0-9 - _. */
static void test_find_b64url(void **state)
{
    static const struct { const char *header; int want; } cases[] = {
        { "sid=Az09-_", 1 }, { "a=1; sid=abc; sid=x.y", 1 }, { "sid=x.y; sid=abc", 0 },
        { "sid=ab+c", 0 }, { "sid=ab/c", 0 }, { "sid=ab=c", 0 }, { "sid=", 0 },
        { "sid=\"abc\"", 0 }, { "sid= abc", 0 }, { "sid=abc\t", 0 }, { "sid=ab\x80", 0 },
        { "sid=ab~", 0 }, { "sid=ab`", 0 }, { "sid=ab^", 0 }, { "sid=ab@", 0 },
        { "sid=ab:", 0 }, { "sid=ab{", 0 },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int b = -1;

        nsso_cookie_find(p, cases[i].header, "sid", NULL, &b);
        if (b != cases[i].want)
            fail_msg("%s: b64url %d, want %d", cases[i].header, b, cases[i].want);
    }
}

/* ---- grammar ------------------------------------------------------------- */

/* Every byte, at every place of a name longer than the checker's stride of
 * four: a tchar is a letter, a digit or one of !#$%&'*+-.^_`|~. */
static void test_name_every_byte(void **state)
{
    int c, at;

    (void)state;
    for (c = 1; c < 256; c++)
        for (at = 0; at < 6; at++) {
            char name[7] = "abcdef";
            int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                       || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;

            name[at] = (char)c;
            if (nsso_cookie_name_ok(name) != want)
                fail_msg("byte 0x%02x at %d: %d, want %d", c, at, !want, want);
        }
}

static void test_name_ok(void **state)
{
    static const char *const good[] = {
        "a", "sid", "__Host-nsso", "nsso_state_abc-DEF", "!#$%&'*+-.^_`|~", "A9",
    };
    static const char *const bad[] = {
        "", "a b", "a=b", "a;b", "a,b", "a\"b", "a(b", "a)b", "a/b", "a:b",
        "a<b", "a>b", "a?b", "a@b", "a[b", "a\\b", "a]b", "a{b", "a}b",
        "a\rb", "a\nb", "a\tb", "a\x7f", "caf\xc3\xa9",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(nsso_cookie_name_ok(good[i]));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nsso_cookie_name_ok(bad[i]))
            fail_msg("bad name %lu accepted", (unsigned long)i);
    }
    assert_false(nsso_cookie_name_ok(NULL));
}

static void test_value_ok(void **state)
{
    static const char *const good[] = {
        "", "abc", "eyJhbGciOiJkaXIifQ..abc.def-_", "a=b", "!#$%&'()*+-./:<=>?@[]^_`{|}~",
        "\"quoted\"", "\"\"",
    };
    static const char *const bad[] = {
        "a b", "a;b", "a,b", "a\\b", "a\"b", "\"", "\"open", "close\"", "\"a\"b\"",
        "a\rb", "a\nb", "\r\nSet-Cookie: x=y", "a\tb", "a\x01", "a\x7f", "caf\xc3\xa9",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!nsso_cookie_value_ok(good[i]))
            fail_msg("good value %lu refused", (unsigned long)i);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nsso_cookie_value_ok(bad[i]))
            fail_msg("bad value %lu accepted", (unsigned long)i);
    }
    assert_false(nsso_cookie_value_ok(NULL));
}

/* ---- building ------------------------------------------------------------ */

static void test_build_all_options(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { "/app", "example.org", 3600, 1, 1, NSSO_SAMESITE_STRICT };

    assert_string_equal(nsso_cookie_build(p, "sid", "abc", &o),
                        "sid=abc; Path=/app; Domain=example.org; Max-Age=3600; "
                        "HttpOnly; Secure; SameSite=Strict");
}

static void test_build_defaults(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { NULL, NULL, -1, 0, 0, NSSO_SAMESITE_NONE_SET };

    assert_string_equal(nsso_cookie_build(p, "a", "b", &o), "a=b; Path=/");
    assert_string_equal(nsso_cookie_build(p, "a", "b", NULL),
                        "a=b; Path=/; HttpOnly; Secure; SameSite=Lax");
    o.samesite = NSSO_SAMESITE_LAX;
    assert_string_equal(nsso_cookie_build(p, "a", "", &o), "a=; Path=/; SameSite=Lax");
    o.httponly = 1;
    assert_string_equal(nsso_cookie_build(p, "a", "\"q\"", &o),
                        "a=\"q\"; Path=/; HttpOnly; SameSite=Lax");
}

static void test_build_max_age(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { "/", NULL, 0, 1, 1, NSSO_SAMESITE_LAX };

    assert_string_equal(nsso_cookie_build(p, "gone", "", &o),
                        "gone=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                        "HttpOnly; Secure; SameSite=Lax");
    o.max_age = -1;
    assert_null(strstr(nsso_cookie_build(p, "s", "v", &o), "Max-Age"));
    assert_null(strstr(nsso_cookie_build(p, "s", "v", &o), "Expires"));
    o.max_age = 1;
    assert_non_null(strstr(nsso_cookie_build(p, "s", "v", &o), "; Max-Age=1;"));
    o.max_age = 2147483647L;
    assert_non_null(strstr(nsso_cookie_build(p, "s", "v", &o), "; Max-Age=2147483647;"));
}

static void test_build_samesite_none_forces_secure(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { "/", NULL, -1, 0, 0, NSSO_SAMESITE_NONE };

    assert_string_equal(nsso_cookie_build(p, "x", "y", &o), "x=y; Path=/; Secure; SameSite=None");
}

static void test_build_refuses_bad_name_or_value(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { "/", NULL, -1, 1, 1, NSSO_SAMESITE_LAX };
    static const char *const names[] = {
        "", "a\r", "a\n", "a\r\nSet-Cookie: evil=1", "a b", "a=b", "a;b", "\n",
    };
    static const char *const values[] = {
        "a\r", "a\n", "v\r\nSet-Cookie: evil=1", "\r\n", "a;b", "a,b", "a b",
        "a\\b", "a\"b", "\"", "\x01", "\x7f", "caf\xc3\xa9",
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (nsso_cookie_build(p, names[i], "v", &o) != NULL)
            fail_msg("name %lu built", (unsigned long)i);
    }
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (nsso_cookie_build(p, "n", values[i], &o) != NULL)
            fail_msg("value %lu built", (unsigned long)i);
    }
    assert_null(nsso_cookie_build(p, NULL, "v", &o));
    assert_null(nsso_cookie_build(p, "n", NULL, &o));
}

static void test_build_refuses_bad_attributes(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "", "/a;b", "/a\r\nX: y", "/\n", "/a\x7f", "/caf\xc3\xa9" };
    static const char *const domains[] = {
        "", ".", "a..b", "a.", "exa mple.org", "example.org;", "example.org\r\nX: y",
        "ex_ample.org", "exa\xc3\xa9.org", "a/b",
    };
    nsso_cookie_opts_t o = { "/", NULL, -1, 1, 1, NSSO_SAMESITE_LAX };
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        o.path = paths[i];
        if (nsso_cookie_build(p, "n", "v", &o) != NULL)
            fail_msg("path %lu built", (unsigned long)i);
    }
    o.path = "/";
    for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        o.domain = domains[i];
        if (nsso_cookie_build(p, "n", "v", &o) != NULL)
            fail_msg("domain %lu built", (unsigned long)i);
    }
    o.domain = ".example.org";
    assert_string_equal(nsso_cookie_build(p, "n", "v", &o),
                        "n=v; Path=/; Domain=.example.org; HttpOnly; Secure; SameSite=Lax");
    o.domain = "localhost";
    assert_non_null(nsso_cookie_build(p, "n", "v", &o));
}

static void test_build_size_limit(void **state)
{
    apr_pool_t *p = *state;
    char *v = apr_palloc(p, NSSO_COOKIE_MAX_SIZE + 1);

    memset(v, 'x', NSSO_COOKIE_MAX_SIZE - 1);
    v[NSSO_COOKIE_MAX_SIZE - 1] = '\0';
    assert_non_null(nsso_cookie_build(p, "n", v, NULL));  /* 1 + 4095 */
    assert_null(nsso_cookie_build(p, "nn", v, NULL));     /* 2 + 4095 */
}

static void test_build_prefix_rules(void **state)
{
    apr_pool_t *p = *state;
    nsso_cookie_opts_t o = { "/", NULL, -1, 1, 1, NSSO_SAMESITE_LAX };

    assert_non_null(nsso_cookie_build(p, "__Host-sid", "v", &o));
    assert_non_null(nsso_cookie_build(p, "__Secure-sid", "v", &o));
    o.secure = 0;
    assert_null(nsso_cookie_build(p, "__Host-sid", "v", &o));
    assert_null(nsso_cookie_build(p, "__Secure-sid", "v", &o));
    assert_non_null(nsso_cookie_build(p, "__Other-sid", "v", &o));
    o.secure = 1;
    o.path = "/app";
    assert_null(nsso_cookie_build(p, "__Host-sid", "v", &o));
    assert_non_null(nsso_cookie_build(p, "__Secure-sid", "v", &o));
    o.path = "/";
    o.domain = "example.org";
    assert_null(nsso_cookie_build(p, "__Host-sid", "v", &o));
}

static void test_build_then_parse(void **state)
{
    apr_pool_t *p = *state;
    const char *value = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..abc.def.ghi";
    char *sc = nsso_cookie_build(p, "nsso_state_x", value, NULL);
    char *pair;
    apr_array_header_t *a;

    assert_non_null(sc);
    assert_null(strpbrk(sc, "\r\n"));
    pair = apr_pstrndup(p, sc, strcspn(sc, ";"));
    a = nsso_cookie_parse(p, pair);
    assert_string_equal(nsso_cookie_get(a, "nsso_state_x", NULL), value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_simple),
        cmocka_unit_test(test_parse_empty_inputs),
        cmocka_unit_test(test_parse_whitespace),
        cmocka_unit_test(test_parse_skips_malformed),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_parse_control_characters),
        cmocka_unit_test(test_parse_joined_headers),
        cmocka_unit_test(test_parse_keeps_order_and_duplicates),
        cmocka_unit_test(test_parse_100_cookies),
        cmocka_unit_test(test_parse_64k_value),
        cmocka_unit_test(test_parse_64k_hostile),
        cmocka_unit_test(test_parse_many_tiny_pairs),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_find_same_as_get),
        cmocka_unit_test(test_find_b64url),
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_name_every_byte),
        cmocka_unit_test(test_value_ok),
        cmocka_unit_test(test_build_all_options),
        cmocka_unit_test(test_build_defaults),
        cmocka_unit_test(test_build_max_age),
        cmocka_unit_test(test_build_samesite_none_forces_secure),
        cmocka_unit_test(test_build_refuses_bad_name_or_value),
        cmocka_unit_test(test_build_refuses_bad_attributes),
        cmocka_unit_test(test_build_size_limit),
        cmocka_unit_test(test_build_prefix_rules),
        cmocka_unit_test(test_build_then_parse),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
