/* test_session.c - sessions built from claims, their JSON round trip, the
 * strict parser, and session id shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "session.h"

static apr_pool_t *pool;

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

static apr_array_header_t *strings(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(pool, 2, sizeof(const char *));
    if (a) APR_ARRAY_PUSH(arr, const char *) = a;
    if (b) APR_ARRAY_PUSH(arr, const char *) = b;
    return arr;
}

static nsso_claims_t spo_claims(void)
{
    nsso_claims_t c;
    memset(&c, 0, sizeof(c));
    c.sub = "ALLOC_SPO";
    c.user_name = "ALLOC_SPO";
    c.auth_source = "nomis";
    c.client_id = "allocation-manager";
    c.name = "Alloc Spo";
    c.user_id = "485412";
    c.jti = "jti-1";
    c.authorities = strings("ROLE_ALLOC_MGR", "ROLE_POM");
    c.scope = strings("read", "write");
    c.exp = 2000000000;
    return c;
}

static void test_from_claims(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", "RT", 1700000000);

    assert_non_null(s);
    assert_string_equal(s->user, "ALLOC_SPO");
    assert_string_equal(s->name, "Alloc Spo");
    assert_string_equal(s->auth_source, "nomis");
    assert_int_equal(s->roles->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(s->roles, 1, const char *), "ROLE_POM");
    assert_int_equal(s->expires, 2000000000);
    assert_int_equal(s->created, 1700000000);
    assert_string_equal(s->refresh_token, "RT");
}

static void test_user_falls_back_to_client_then_sub_and_none_fails(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s;

    assert_false(nsso_session_from_claims(pool, &c, "AT", NULL, 1)->client_credentials);
    c.user_name = NULL;
    s = nsso_session_from_claims(pool, &c, "AT", NULL, 1);
    assert_string_equal(s->user, "allocation-manager");
    assert_true(s->client_credentials);
    c.client_id = NULL;
    c.sub = "CLIENT_SUB";
    s = nsso_session_from_claims(pool, &c, "AT", NULL, 1);
    assert_string_equal(s->user, "CLIENT_SUB");
    assert_false(s->client_credentials);
    c.sub = "";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    /* a user name that could split a header downstream is refused */
    c.user_name = "EVIL\r\nX-Injected: yes";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    c.user_name = "TAB\tUSER";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
}

static void test_round_trip(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000), *back;
    const char *err = NULL;
    char *json;
    apr_size_t len;

    s->caseload = "LEI";
    assert_int_equal(nsso_session_serialize(pool, s, &json, &len), APR_SUCCESS);
    assert_int_equal(strlen(json), len);
    assert_null(strstr(json, "\n"));
    assert_int_equal(nsso_session_parse(pool, json, len, &back, &err), APR_SUCCESS);
    assert_string_equal(back->user, "ALLOC_SPO");
    assert_string_equal(back->caseload, "LEI");
    assert_string_equal(back->access_token, "AT");
    assert_null(back->refresh_token);
    assert_int_equal(back->roles->nelts, 2);
    assert_int_equal(back->scope->nelts, 2);
    assert_int_equal(back->expires, 2000000000);
    assert_int_equal(back->last_access, 1700000000);
    assert_int_equal(back->verified_at, 1700000000);
    assert_false(back->client_credentials);
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "null", "[]", "{\"v\":1}", "not json",
        "{\"v\":2,\"u\":\"A\",\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        "{\"v\":1,\"u\":7,\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        "{\"v\":1,\"u\":\"A\",\"r\":[1],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        "{\"v\":1,\"u\":\"A\",\"r\":[],\"sc\":[],\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        "{\"v\":1,\"u\":\"A\",\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":\"1\",\"c\":1,\"la\":1}",
        "{\"v\":1,\"u\":\"A\",\"u\":\"B\",\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        "{\"v\":1,\"u\":\"A\\u0000B\",\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}",
        NULL
    };
    const char *good = "{\"v\":1,\"u\":\"A\",\"r\":[],\"sc\":[],\"at\":\"x\",\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}";
    nsso_session_t *s;
    const char *err;

    for (int i = 0; bad[i]; i++) {
        err = NULL;
        if (nsso_session_parse(pool, bad[i], strlen(bad[i]), &s, &err) == APR_SUCCESS)
            fail_msg("accepted bad session record %d: %s", i, bad[i]);
        assert_non_null(err);
    }
    assert_int_equal(nsso_session_parse(pool, good, strlen(good), &s, &err), APR_SUCCESS);
}

static void test_ids(void **state)
{
    const char *a = nsso_session_id_new(pool), *b = nsso_session_id_new(pool);

    assert_non_null(a);
    assert_int_equal(strlen(a), NSSO_SESSION_ID_LEN);
    assert_true(nsso_session_id_ok(a));
    assert_string_not_equal(a, b);
    assert_false(nsso_session_id_ok(NULL));
    assert_false(nsso_session_id_ok(""));
    assert_false(nsso_session_id_ok(apr_pstrcat(pool, a, "x", NULL)));
    assert_false(nsso_session_id_ok(apr_pstrndup(pool, a, NSSO_SESSION_ID_LEN - 1)));
    assert_false(nsso_session_id_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa="));
    assert_false(nsso_session_id_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"));
    assert_string_equal(nsso_session_key(pool, "abc"), "s:abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_claims),
        cmocka_unit_test(test_user_falls_back_to_client_then_sub_and_none_fails),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
