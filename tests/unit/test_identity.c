/* test_identity.c - role matching, role lists, header safety, identity
 * header detection and caseload parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "identity.h"

#include "unit_pool.h"

static apr_array_header_t *list(const char *a, const char *b, const char *c)
{
    apr_array_header_t *arr = apr_array_make(pool, 3, sizeof(const char *));
    if (a) APR_ARRAY_PUSH(arr, const char *) = a;
    if (b) APR_ARRAY_PUSH(arr, const char *) = b;
    if (c) APR_ARRAY_PUSH(arr, const char *) = c;
    return arr;
}

static void test_roles_any(void **state)
{
    apr_array_header_t *held = list("ROLE_ALLOC_MGR", "ROLE_GLOBAL_SEARCH", NULL);

    assert_true(nsso_roles_any(held, list("ALLOC_MGR", NULL, NULL)));
    assert_true(nsso_roles_any(held, list("ROLE_ALLOC_MGR", NULL, NULL)));
    assert_true(nsso_roles_any(held, list("POM", "GLOBAL_SEARCH", NULL)));
    assert_false(nsso_roles_any(held, list("alloc_mgr", NULL, NULL)));
    assert_false(nsso_roles_any(held, list("ALLOC", "MGR", "ALLOC_MGR_X")));
    assert_false(nsso_roles_any(held, list("ROLE_", NULL, NULL)));
    assert_false(nsso_roles_any(list("ROLE_", NULL, NULL), list("ROLE_", "", NULL)));
    assert_false(nsso_roles_any(list(NULL, NULL, NULL), list("ALLOC_MGR", NULL, NULL)));
    assert_false(nsso_roles_any(NULL, list("ALLOC_MGR", NULL, NULL)));
    /* a held role issued without the prefix still matches */
    assert_true(nsso_roles_any(list("POM", NULL, NULL), list("ROLE_POM", NULL, NULL)));
}

/* The definition the matcher must keep: some pair of a held and a wanted
 * role whose names without ROLE_ are equal and not empty. */
static int roles_any_reference(const apr_array_header_t *have, const apr_array_header_t *want)
{
    int i, j;

    for (i = 0; have && i < have->nelts; i++)
        for (j = 0; want && j < want->nelts; j++) {
            const char *h = nsso_role_bare(APR_ARRAY_IDX(have, i, const char *));
            if (*h && !strcmp(h, nsso_role_bare(APR_ARRAY_IDX(want, j, const char *))))
                return 1;
        }
    return 0;
}

/* The bench's shape (the wanted role the last of 25) and near misses around
 * the prefix and the first byte, each against the definition. */
static void test_roles_any_same_as_every_pair(void **state)
{
    static const char *const names[] = {
        "ROLE_ALLOC_MGR", "ALLOC_MGR", "ROLE_", "", "R", "RO", "ROL", "ROLE", "ROLE_A",
        "A", "ROLE_ROLE_POM", "ROLE_POM", "POM", "role_POM", "ROLEPOM", "ROLE_POMX",
        "ROLE_MANAGE_ADJUDICATIONS", "MANAGE_ADJUDICATION", "XOLE_POM",
    };
    const int n = (int)(sizeof(names) / sizeof(names[0]));
    apr_array_header_t *held = apr_array_make(pool, 25, sizeof(const char *));
    int i, j, k;

    for (i = 0; i < 24; i++)
        APR_ARRAY_PUSH(held, const char *) = apr_psprintf(pool, "ROLE_FILLER_%d", i);
    APR_ARRAY_PUSH(held, const char *) = "ROLE_MANAGE_ADJUDICATIONS";
    assert_true(nsso_roles_any(held, list("MANAGE_ADJUDICATIONS", NULL, NULL)));
    assert_false(nsso_roles_any(held, list("MANAGE_ADJUDICATION", "FILLER", NULL)));
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            for (k = 0; k < n; k++) {
                apr_array_header_t *h = list(names[i], names[j], NULL);
                apr_array_header_t *w = list(names[k], names[j], NULL);
                apr_array_header_t *w1 = list(names[k], NULL, NULL);
                assert_int_equal(nsso_roles_any(h, w1), roles_any_reference(h, w1));
                assert_int_equal(nsso_roles_any(w1, h), roles_any_reference(w1, h));
                assert_int_equal(nsso_roles_any(list(names[i], NULL, NULL), w),
                                 roles_any_reference(list(names[i], NULL, NULL), w));
            }
}

static void test_roles_join(void **state)
{
    assert_string_equal(nsso_roles_join(pool, list("ROLE_ALLOC_MGR", "ROLE_POM", NULL)),
                        "ALLOC_MGR,POM");
    assert_string_equal(nsso_roles_join(pool, list("ROLE_A,B", "ROLE_C\nX", "ROLE_D")), "D");
    assert_string_equal(nsso_roles_join(pool, list(NULL, NULL, NULL)), "");
    assert_string_equal(nsso_roles_join(pool, NULL), "");
}

static void test_role_words(void **state)
{
    assert_string_equal(nsso_role_words(pool, "ROLE_ALLOCATION_MANAGER_ADMIN"),
                        "Allocation manager admin");
    assert_string_equal(nsso_role_words(pool, "ALLOC_MGR"), "Alloc mgr");
    assert_string_equal(nsso_role_words(pool, "ROLE_POM"), "Pom");
    assert_string_equal(nsso_role_words(pool, "global_search"), "Global search");
    assert_string_equal(nsso_role_words(pool, "ROLE_"), "Role ");
    assert_string_equal(nsso_role_words(pool, ""), "");
}

static void test_list_has(void **state)
{
    apr_array_header_t *l = list("nomis", "delius", NULL);
    assert_true(nsso_list_has(l, "NOMIS", 1));
    assert_false(nsso_list_has(l, "NOMIS", 0));
    assert_false(nsso_list_has(l, NULL, 1));
    assert_false(nsso_list_has(l, "auth", 1));
}

static void test_header_safe(void **state)
{
    char big[NSSO_HEADER_MAX + 100];

    assert_string_equal(nsso_header_safe(pool, "Alloc Spo"), "Alloc Spo");
    assert_string_equal(nsso_header_safe(pool, "a\r\nX-Nomis-Roles: ADMIN"),
                        "a??X-Nomis-Roles: ADMIN");
    assert_string_equal(nsso_header_safe(pool, "\x01\x7f\t"), "???");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(strlen(nsso_header_safe(pool, big)), NSSO_HEADER_MAX);
}

static void test_identity_headers(void **state)
{
    static const char *const yes[] = { "X-Nomis-Roles", "x-nomis-user", "X_NOMIS_ROLES",
                                       "X-NOMIS_user", "x_Nomis-Anything", "X-Nomis-", NULL };
    static const char *const no[] = { "X-Nomis", "X-Nomi-Roles", "Authorization", "",
                                      "XX-Nomis-Roles", "X-Forwarded-User", NULL };
    for (int i = 0; yes[i]; i++)
        if (!nsso_is_identity_header(yes[i]))
            fail_msg("missed identity header %s", yes[i]);
    for (int i = 0; no[i]; i++)
        if (nsso_is_identity_header(no[i]))
            fail_msg("flagged header %s", no[i]);
}

static const char *caseload(const char *json)
{
    const char *err = NULL, *c = nsso_caseload_parse(pool, json, strlen(json), &err);
    if (!c)
        assert_non_null(err);
    return c;
}

static void test_caseload(void **state)
{
    assert_string_equal(caseload("{\"username\":\"A\",\"activeCaseLoadId\":\"LEI\"}"), "LEI");
    assert_null(caseload("{\"username\":\"A\"}"));
    assert_null(caseload("{\"activeCaseLoadId\":\"NWEB\"}"));
    assert_null(caseload("{\"activeCaseLoadId\":7}"));
    assert_null(caseload("{\"activeCaseLoadId\":\"\"}"));
    assert_null(caseload("{\"activeCaseLoadId\":\"LE\\u0000I\"}"));
    assert_null(caseload("not json"));
    assert_null(caseload("[]"));
    assert_string_equal(caseload("[{\"caseLoadId\":\"NWEB\",\"currentlyActive\":true},"
                                 "{\"caseLoadId\":\"MDI\",\"currentlyActive\":false},"
                                 "{\"caseLoadId\":\"LEI\",\"currentlyActive\":true}]"), "LEI");
    assert_string_equal(caseload("[{\"caseLoadId\":\"MDI\"},{\"caseLoadId\":\"LEI\"}]"), "MDI");
    assert_null(caseload("[{\"caseLoadId\":\"NWEB\",\"currentlyActive\":true}, 5, \"x\"]"));
}

/* "active|A,B": what nsso_caseloads_parse makes of json, or NULL */
static const char *caseloads(const char *json)
{
    apr_array_header_t *all = NULL;
    const char *active = NULL, *err = NULL;

    if (nsso_caseloads_parse(pool, json, strlen(json), &active, &all, &err) != APR_SUCCESS) {
        assert_non_null(err);
        return NULL;
    }
    return apr_pstrcat(pool, active ? active : "-", "|", apr_array_pstrcat(pool, all, ','),
                       NULL);
}

static void test_caseloads(void **state)
{
    /* the Manage Users API's /users/me/caseloads */
    assert_string_equal(caseloads("{\"username\":\"A\",\"active\":true,\"accountType\":\"GENERAL\","
                                  "\"activeCaseload\":{\"id\":\"LEI\",\"name\":\"Leeds (HMP)\"},"
                                  "\"caseloads\":[{\"id\":\"LEI\",\"name\":\"Leeds\"},"
                                  "{\"id\":\"MDI\",\"name\":\"Moorland\"},{\"id\":\"NWEB\"}]}"),
                        "LEI|LEI,MDI");
    /* the active one is held even when the list forgets it */
    assert_string_equal(caseloads("{\"activeCaseload\":{\"id\":\"BXI\"},"
                                  "\"caseloads\":[{\"id\":\"MDI\"}]}"), "BXI|BXI,MDI");
    /* no active one: the list still counts */
    assert_string_equal(caseloads("{\"activeCaseload\":null,\"caseloads\":[{\"id\":\"MDI\"},"
                                  "{\"id\":\"MDI\"},{\"id\":\"A,B\"},{\"id\":7},\"x\"]}"),
                        "-|MDI");
    assert_null(caseloads("{\"activeCaseload\":{\"id\":\"NWEB\"},\"caseloads\":[]}"));
    assert_null(caseloads("{\"caseloads\":{\"id\":\"LEI\"}}"));
    /* the two older shapes */
    assert_string_equal(caseloads("{\"activeCaseLoadId\":\"LEI\"}"), "LEI|LEI");
    assert_string_equal(caseloads("[{\"caseLoadId\":\"MDI\"},{\"caseLoadId\":\"NWEB\"},"
                                  "{\"caseLoadId\":\"LEI\",\"currentlyActive\":true}]"),
                        "LEI|MDI,LEI");
    assert_null(caseloads("[]"));
    assert_null(caseloads("nope"));
    /* the active-only reading of the new shape */
    assert_string_equal(caseload("{\"activeCaseload\":{\"id\":\"LEI\"},\"caseloads\":[]}"), "LEI");
    assert_null(caseload("{\"caseloads\":[{\"id\":\"LEI\"}]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_any),
        cmocka_unit_test(test_roles_any_same_as_every_pair),
        cmocka_unit_test(test_roles_join),
        cmocka_unit_test(test_role_words),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_header_safe),
        cmocka_unit_test(test_identity_headers),
        cmocka_unit_test(test_caseload),
        cmocka_unit_test(test_caseloads),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
