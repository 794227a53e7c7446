/* test_discovery.c - HMPPS Auth's openid-configuration document: a good
 * one gives its endpoints; another issuer, an endpoint on another server,
 * a URL with a query, missing or ill-typed fields and non-JSON are refused
 * with a reason naming the field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "discovery.h"

#define PUB "https://sign-in.hmpps.example/auth"
#define INT "http://auth.internal:8080/auth"
#define ISS PUB "/issuer"

static apr_pool_t *pool;
static const char *const origins[] = { PUB, INT, NULL };

static int setup(void **state)
{
    apr_initialize();
    return apr_pool_create(&pool, NULL);
}

static int teardown(void **state)
{
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

/* A document with the four fields (NULL: left out). */
static const char *doc(const char *iss, const char *authz, const char *token,
                       const char *jwks)
{
    const char *s = "{";

    if (iss)
        s = apr_psprintf(pool, "%s\"issuer\": %s,", s, iss);
    if (authz)
        s = apr_psprintf(pool, "%s\"authorization_endpoint\": %s,", s, authz);
    if (token)
        s = apr_psprintf(pool, "%s\"token_endpoint\": %s,", s, token);
    if (jwks)
        s = apr_psprintf(pool, "%s\"jwks_uri\": %s,", s, jwks);
    return apr_pstrcat(pool, s, "\"scopes_supported\": [\"read\"]}", NULL);
}

#define Q(s) "\"" s "\""
#define GOOD doc(Q(ISS), Q(PUB "/oauth/authorize"), Q(PUB "/oauth/token"), \
                 Q(PUB "/.well-known/jwks.json"))

static apr_status_t parse(const char *body, const char **err, nsso_discovery_t *d)
{
    *err = NULL;
    return nsso_discovery_parse(pool, body, strlen(body), ISS, origins, d, err);
}

/* body is refused and the reason contains word. */
static void refused(const char *body, const char *word)
{
    nsso_discovery_t d;
    const char *err;

    assert_int_not_equal(parse(body, &err, &d), APR_SUCCESS);
    assert_non_null(err);
    if (!strstr(err, word))
        fail_msg("'%s' not in '%s'", word, err);
    assert_null(d.token_endpoint);
    assert_null(d.jwks_uri);
}

static void test_good_document(void **state)
{
    nsso_discovery_t d;
    const char *err;

    assert_int_equal(parse(GOOD, &err, &d), APR_SUCCESS);
    assert_string_equal(d.issuer, ISS);
    assert_string_equal(d.authorization_endpoint, PUB "/oauth/authorize");
    assert_string_equal(d.token_endpoint, PUB "/oauth/token");
    assert_string_equal(d.jwks_uri, PUB "/.well-known/jwks.json");
}

static void test_moved_paths_and_internal_origin(void **state)
{
    nsso_discovery_t d;
    const char *err;
    /* another path on a configured server; the internal one by another
     * spelling of the same origin (case, explicit port) */
    const char *body = doc(Q(ISS), Q(PUB "/v2/authorize"), Q("HTTP://Auth.Internal:8080/t"),
                           Q("https://sign-in.hmpps.example:443/keys"));

    assert_int_equal(parse(body, &err, &d), APR_SUCCESS);
    assert_string_equal(d.authorization_endpoint, PUB "/v2/authorize");
    assert_string_equal(d.token_endpoint, "HTTP://Auth.Internal:8080/t");
}

static void test_issuer_must_match(void **state)
{
    refused(doc(Q("https://wrong.example/auth/issuer"), Q(PUB "/a"), Q(PUB "/t"),
                Q(PUB "/j")), "not the one expected, '" ISS "'");
    /* a prefix or a trailing slash is another issuer */
    refused(doc(Q(ISS "/"), Q(PUB "/a"), Q(PUB "/t"), Q(PUB "/j")), "not the one expected");
    refused(doc(Q(PUB), Q(PUB "/a"), Q(PUB "/t"), Q(PUB "/j")), "not the one expected");
    refused(doc(NULL, Q(PUB "/a"), Q(PUB "/t"), Q(PUB "/j")), "'issuer' is missing");
    refused(doc("7", Q(PUB "/a"), Q(PUB "/t"), Q(PUB "/j")), "'issuer' is missing");
    /* a NUL inside the issuer does not make a prefix match (jansson refuses it) */
    refused(doc(Q(ISS "\\u0000x"), Q(PUB "/a"), Q(PUB "/t"), Q(PUB "/j")), "not JSON");
}

static void test_control_characters_not_echoed(void **state)
{
    nsso_discovery_t d;
    const char *err;

    assert_int_not_equal(parse(doc(Q("evil\\n[error] forged"), Q(PUB "/a"), Q(PUB "/t"),
                                   Q(PUB "/j")), &err, &d), APR_SUCCESS);
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, "evil?[error] forged"));
    /* jansson's own message quotes the input (found by fuzz_discovery) */
    assert_int_not_equal(parse("{\"issuer\": \"h\\\n[error] x\"}", &err, &d),
                         APR_SUCCESS);
    assert_null(strchr(err, '\n'));
}

static void test_endpoints_checked(void **state)
{
    refused(doc(Q(ISS), Q(PUB "/a"), Q("https://evil.example/auth/oauth/token"), Q(PUB "/j")),
            "'token_endpoint' (https://evil.example/auth/oauth/token) is not on the HMPPS Auth");
    refused(doc(Q(ISS), Q(PUB "/a"), Q(PUB "/t"), Q("http://sign-in.hmpps.example/auth/j")),
            "'jwks_uri'");  /* http on an https origin: another origin */
    refused(doc(Q(ISS), Q("https://sign-in.hmpps.example:8443/a"), Q(PUB "/t"), Q(PUB "/j")),
            "'authorization_endpoint'");
    refused(doc(Q(ISS), Q(PUB "/a?x=1"), Q(PUB "/t"), Q(PUB "/j")), "'authorization_endpoint'");
    refused(doc(Q(ISS), Q(PUB "/a"), Q(PUB "/t#f"), Q(PUB "/j")), "'token_endpoint'");
    refused(doc(Q(ISS), Q(PUB "/a"), Q("ftp://sign-in.hmpps.example/t"), Q(PUB "/j")),
            "'token_endpoint'");
    refused(doc(Q(ISS), Q(PUB "/a"), Q("https://user@sign-in.hmpps.example/t"), Q(PUB "/j")),
            "'token_endpoint'");
    refused(doc(Q(ISS), Q(PUB "/a"), Q(PUB "/t"), NULL), "'jwks_uri' is missing");
    refused(doc(Q(ISS), NULL, Q(PUB "/t"), Q(PUB "/j")), "'authorization_endpoint' is missing");
    refused(doc(Q(ISS), Q(PUB "/a"), "[]", Q(PUB "/j")), "'token_endpoint' is missing");
    refused(doc(Q(ISS), Q(PUB "/a"), Q(PUB "/t\\u0000.evil"), Q(PUB "/j")), "not JSON");
}

static void test_long_url_refused(void **state)
{
    char *path = apr_palloc(pool, NSSO_DISCOVERY_MAX_URL + 1);

    memset(path, 'a', NSSO_DISCOVERY_MAX_URL);
    path[NSSO_DISCOVERY_MAX_URL] = '\0';
    refused(doc(Q(ISS), Q(PUB "/a"), apr_pstrcat(pool, "\"" PUB "/", path, "\"", NULL),
                Q(PUB "/j")), "too long");
}

static void test_not_a_document(void **state)
{
    nsso_discovery_t d;
    const char *err = NULL;

    refused("", "empty");
    refused("not json", "not JSON");
    refused("[1, 2]", "not a JSON object");
    refused("\"" ISS "\"", "not JSON");
    refused("{\"issuer\": \"" ISS "\", \"issuer\": \"x\"}", "not JSON"); /* duplicate keys */
    assert_int_not_equal(nsso_discovery_parse(pool, NULL, 0, ISS, origins, &d, &err),
                         APR_SUCCESS);
    assert_int_not_equal(nsso_discovery_parse(pool, "{}", NSSO_DISCOVERY_MAX_DOC + 1, ISS,
                                              origins, &d, &err), APR_SUCCESS);
    /* no expected issuer: nothing can match */
    assert_int_not_equal(nsso_discovery_parse(pool, GOOD, strlen(GOOD), NULL, origins, &d,
                                              &err), APR_SUCCESS);
    /* no origins: no endpoint is trusted */
    assert_int_not_equal(nsso_discovery_parse(pool, GOOD, strlen(GOOD), ISS, NULL, &d, &err),
                         APR_SUCCESS);
}

static void test_origin(void **state)
{
    assert_string_equal(nsso_discovery_origin(pool, "https://A.example/x"),
                        "https://a.example:443");
    assert_string_equal(nsso_discovery_origin(pool, "HTTP://a.example:8080"),
                        "http://a.example:8080");
    assert_string_equal(nsso_discovery_origin(pool, "http://a.example"),
                        "http://a.example:80");
    assert_null(nsso_discovery_origin(pool, "ftp://a.example/"));
    assert_null(nsso_discovery_origin(pool, "/local"));
    assert_null(nsso_discovery_origin(pool, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_document),
        cmocka_unit_test(test_moved_paths_and_internal_origin),
        cmocka_unit_test(test_issuer_must_match),
        cmocka_unit_test(test_control_characters_not_echoed),
        cmocka_unit_test(test_endpoints_checked),
        cmocka_unit_test(test_long_url_refused),
        cmocka_unit_test(test_not_a_document),
        cmocka_unit_test(test_origin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
