/* test_realm.c - realm ids: the same facts give the same id, any fact that
 * decides trust gives another (the passphrase is none of them); store keys
 * carry kind and realm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <apr_general.h>
#include "realm.h"
#include "store.h"

#include "unit_pool.h"

static const nsso_realm_facts_t base = {
    "https://auth.example/auth", "http://auth.internal/auth",
    "https://auth.example/auth/issuer", "allocation-manager", "RS256", "ca= verify=1"
};

static void test_stable_and_well_formed(void **state)
{
    const char *a = nsso_realm_derive(pool, &base);
    const char *b = nsso_realm_derive(pool, &base);

    assert_string_equal(a, b);
    assert_int_equal(strlen(a), NSSO_REALM_LEN);
    assert_true(nsso_realm_id_ok(a));
}

static void test_every_fact_counts(void **state)
{
    const char *id = nsso_realm_derive(pool, &base);
    nsso_realm_facts_t f;
    int i;

    for (i = 0; i < 6; i++) {
        const char **field[6];
        f = base;
        field[0] = &f.auth_url; field[1] = &f.internal_url; field[2] = &f.issuer;
        field[3] = &f.client_id; field[4] = &f.algs; field[5] = &f.jwks_source;
        *field[i] = "x";
        if (!strcmp(nsso_realm_derive(pool, &f), id))
            fail_msg("fact %d does not change the realm", i);
    }
    /* moving a character from one fact to the next is another realm */
    f = base;
    f.auth_url = "https://auth.example/aut";
    f.internal_url = "hhttp://auth.internal/auth";
    assert_string_not_equal(nsso_realm_derive(pool, &f), id);
    /* NULL is the empty fact */
    f = base;
    f.jwks_source = NULL;
    nsso_realm_facts_t g = base;
    g.jwks_source = "";
    assert_string_equal(nsso_realm_derive(pool, &f), nsso_realm_derive(pool, &g));
}

static void test_id_shape(void **state)
{
    assert_true(nsso_realm_id_ok("abcdefghij_"));
    assert_true(nsso_realm_id_ok("ABC-def0129"));
    assert_false(nsso_realm_id_ok("abcdefghij"));
    assert_false(nsso_realm_id_ok("abcdefghijkl"));
    assert_false(nsso_realm_id_ok("abcdefghij:"));
    assert_false(nsso_realm_id_ok(""));
    assert_false(nsso_realm_id_ok(NULL));
}

static void test_store_keys(void **state)
{
    const char *k = nsso_store_key(pool, NSSO_KEY_SESSION, "abcdefghijk", "ID");

    assert_string_equal(k, "s:abcdefghijk:ID");
    assert_string_equal(nsso_store_key(pool, NSSO_KEY_LIMIT, NULL, "u"), "p::u");
    assert_string_equal(nsso_store_key(pool, NSSO_KEY_BEARER, "R", ""), "b:R:");
    assert_string_equal(nsso_store_key(pool, NSSO_KEY_REFRESH, "R", NULL), "r:R:");
    assert_true(nsso_store_key_precious(k));
    assert_false(nsso_store_key_precious(nsso_store_key(pool, NSSO_KEY_BEARER, "R", "x")));
    assert_false(nsso_store_key_precious(nsso_store_key(pool, NSSO_KEY_STATE_USED, "R", "x")));
    assert_false(nsso_store_key_precious("sx"));
    assert_false(nsso_store_key_precious("s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_and_well_formed),
        cmocka_unit_test(test_every_fact_counts),
        cmocka_unit_test(test_id_shape),
        cmocka_unit_test(test_store_keys),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
