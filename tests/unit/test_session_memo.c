/* test_session_memo.c - this child's memo of parsed session records: the
 * same result as a parse, a changed record is never answered from the memo,
 * the identity values it makes, and an entry replaced while a request still
 * holds it stays readable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "session.h"
#include "session_memo.h"

static apr_pool_t *pool;

static int setup(void **state)
{
    apr_initialize();
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return -1;
    return nsso_session_memo_init(pool) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

static apr_array_header_t *list(const char *a, const char *b)
{
    apr_array_header_t *l = apr_array_make(pool, 2, sizeof(const char *));
    if (a)
        APR_ARRAY_PUSH(l, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(l, const char *) = b;
    return l;
}

static nsso_session_t *sample(const char *name, apr_int64_t expires)
{
    nsso_session_t *s = apr_pcalloc(pool, sizeof(*s));

    s->user = "ALLOC_SPO";
    s->name = name;
    s->auth_source = "nomis";
    s->client_id = "allocation-manager";
    s->user_id = "485412";
    s->caseload = "LEI";
    s->roles = list("ROLE_ALLOC_MGR", "ROLE_POM");
    s->scope = list("read", NULL);
    s->access_token = "header.payload.signature";
    s->expires = expires;
    s->created = 1000;
    s->last_access = 1001;
    s->realm = "abcdefghijk";
    s->caseloads = list("LEI", "MDI");
    s->claims = list("staff_id", "485926");
    return s;
}

static void record(const nsso_session_t *s, char **data, apr_size_t *len)
{
    assert_int_equal(nsso_session_serialize(pool, s, data, len), APR_SUCCESS);
}

static void test_same_as_parse(void **state)
{
    nsso_session_t *a, *b, *m;
    const char *err;
    char *data;
    apr_size_t len;

    record(sample("Alloc Spo", 5000), &data, &len);
    assert_int_equal(nsso_session_parse(pool, data, len, &a, &err), APR_SUCCESS);
    assert_int_equal(nsso_session_parse_memo(pool, "id-1", data, len, &m, &err), APR_SUCCESS);
    assert_int_equal(nsso_session_parse_memo(pool, "id-1", data, len, &b, &err), APR_SUCCESS);
    assert_ptr_not_equal(m, b);               /* a copy per caller ... */
    assert_ptr_equal(m->user, b->user);       /* ... of one parse */
    assert_string_equal(b->user, a->user);
    assert_string_equal(b->name, a->name);
    assert_string_equal(b->realm, a->realm);
    assert_int_equal(b->expires, a->expires);
    assert_int_equal(b->last_access, a->last_access);
    assert_int_equal(b->roles->nelts, 2);
    assert_null(a->derived);
    assert_non_null(b->derived);
    assert_string_equal(b->derived->roles, "ALLOC_MGR,POM");
    assert_string_equal(b->derived->caseloads, "LEI,MDI");
    assert_string_equal(b->derived->expires, "5000");
    assert_int_equal(b->derived->expires_at, 5000);
    assert_true(b->derived->clean);
    /* a caller's changes stay its own */
    b->last_access = 42;
    assert_int_equal(nsso_session_parse_memo(pool, "id-1", data, len, &m, &err), APR_SUCCESS);
    assert_int_equal(m->last_access, 1001);
}

static void test_changed_record_parsed_again(void **state)
{
    nsso_session_t *m;
    const char *err;
    char *data;
    apr_size_t len;

    record(sample("Alloc Spo", 5000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(pool, "id-2", data, len, &m, &err), APR_SUCCESS);
    /* same hint, same length, other bytes: a refresh, a write-back */
    record(sample("Alloc Spx", 6000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(pool, "id-2", data, len, &m, &err), APR_SUCCESS);
    assert_string_equal(m->name, "Alloc Spx");
    assert_int_equal(m->expires, 6000);
    assert_string_equal(m->derived->expires, "6000");
}

static void test_unclean_and_bad_records(void **state)
{
    nsso_session_t *m;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    record(sample("Alloc\r\nX-Nomis-Roles: ADMIN", 5000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(pool, "id-3", data, len, &m, &err), APR_SUCCESS);
    assert_false(m->derived->clean); /* expose.c cleans each value itself */
    data[0] = 99; /* an unknown version: refused as by the parse, not kept */
    assert_int_not_equal(nsso_session_parse_memo(pool, "id-3", data, len, &m, &err),
                         APR_SUCCESS);
    assert_non_null(err);
    assert_int_not_equal(nsso_session_parse_memo(pool, "id-3", data, len, &m, &err),
                         APR_SUCCESS);
}

static void test_replaced_entry_outlives_its_request(void **state)
{
    apr_pool_t *req;
    nsso_session_t *held, *m;
    const char *err;
    char *data;
    apr_size_t len;

    assert_int_equal(apr_pool_create(&req, pool), APR_SUCCESS);
    record(sample("First Name", 5000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(req, "id-4", data, len, &held, &err),
                     APR_SUCCESS);
    record(sample("Second Name", 5000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(pool, "id-4", data, len, &m, &err), APR_SUCCESS);
    /* the first entry left the memo; the request still reads it (valgrind
     * and ASan would see a use after free) */
    assert_string_equal(held->name, "First Name");
    assert_string_equal(held->derived->roles, "ALLOC_MGR,POM");
    apr_pool_destroy(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_parse),
        cmocka_unit_test(test_changed_record_parsed_again),
        cmocka_unit_test(test_unclean_and_bad_records),
        cmocka_unit_test(test_replaced_entry_outlives_its_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
