/* test_session_memo.c - this child's memo of parsed session records: the
 * same result as a parse, a changed record is never answered from the memo,
 * the identity values it makes, and an entry replaced while a request still
 * holds it stays readable; the same by store key over a real shm store
 * (nsso_session_load_memo, get_known), also with threads writing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "session.h"
#include "session_memo.h"
#include "store_shm.h"

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

/* m and b, two answers for the record a parse gave a from: one parse each
 * caller has its own copy of, with the same values and the derived ones. */
static void expect_copies_of(const nsso_session_t *a, const nsso_session_t *m,
                             const nsso_session_t *b)
{
    assert_ptr_not_equal(m, b);               /* a copy per caller ... */
    assert_ptr_equal(m->user, b->user);       /* ... of one parse */
    assert_string_equal(b->user, a->user);
    assert_string_equal(b->name, a->name);
    assert_string_equal(b->realm, a->realm);
    assert_int_equal(b->expires, a->expires);
    assert_int_equal(b->last_access, a->last_access);
    assert_int_equal(b->roles->nelts, 2);
    assert_non_null(b->derived);
    assert_string_equal(b->derived->roles, "ALLOC_MGR,POM");
    assert_true(b->derived->clean);
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
    expect_copies_of(a, m, b);
    assert_null(a->derived);
    assert_string_equal(b->derived->caseloads, "LEI,MDI");
    assert_string_equal(b->derived->expires, "5000");
    assert_int_equal(b->derived->expires_at, 5000);
    /* a caller's changes stay its own */
    b->last_access = 42;
    assert_int_equal(nsso_session_parse_memo(pool, "id-1", data, len, &m, &err), APR_SUCCESS);
    assert_int_equal(m->last_access, 1001);
}

/* The extension (expose.c's prebuilt identity) runs once per entry, on the
 * entry's parse and derived values, and every hit hands out its result. */
static int ext_calls;

static const void *ext_user(apr_pool_t *p, const nsso_session_t *s,
                            const nsso_session_derived_t *d)
{
    ext_calls++;
    return apr_pstrcat(p, s->name, "/", d->roles, NULL);
}

static void test_extension_once_per_entry(void **state)
{
    nsso_session_t *a, *b, *c;
    const char *err;
    char *data, *other;
    apr_size_t len, olen;

    (void)state;
    nsso_session_memo_extend(ext_user);
    ext_calls = 0;
    record(sample("Ext User", 7000), &data, &len);
    assert_int_equal(nsso_session_parse_memo(pool, "ext-1", data, len, &a, &err), APR_SUCCESS);
    assert_int_equal(nsso_session_parse_memo(pool, "ext-1", data, len, &b, &err), APR_SUCCESS);
    assert_int_equal(ext_calls, 1);
    assert_string_equal(a->derived->ext, "Ext User/ALLOC_MGR,POM");
    assert_ptr_equal(a->derived->ext, b->derived->ext);
    /* another record under the same hint: a new entry, a new extension */
    record(sample("Ext Other", 7000), &other, &olen);
    assert_int_equal(nsso_session_parse_memo(pool, "ext-1", other, olen, &c, &err), APR_SUCCESS);
    assert_int_equal(ext_calls, 2);
    assert_string_equal(c->derived->ext, "Ext Other/ALLOC_MGR,POM");
    nsso_session_memo_extend(NULL);
    assert_int_equal(nsso_session_parse_memo(pool, "ext-2", data, len + 0, &c, &err), APR_SUCCESS);
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

/* ---- by store key ------------------------------------------------------------ */

static apr_time_t far_future(void)
{
    return apr_time_now() + apr_time_from_sec(3600);
}

/* A shm store of its own for a test (in pool; it lives as long as the
 * group: the memo may still hold entries naming it). */
static nsso_store *shm_store(apr_size_t entries)
{
    apr_size_t size = nsso_shm_store_size(entries, 4096);
    nsso_store *st = NULL;
    void *mem = apr_palloc(pool, size);

    assert_int_equal(nsso_shm_store_attach(pool, mem, size, entries, 4096, 1, &st),
                     APR_SUCCESS);
    return st;
}

static void store_put(nsso_store *st, const char *key, const nsso_session_t *s)
{
    char *data;
    apr_size_t len;

    record(s, &data, &len);
    assert_int_equal(nsso_store_set(st, key, data, len, far_future(), NULL), APR_SUCCESS);
}

static nsso_session_t *load(apr_pool_t *p, nsso_store *st, const char *key)
{
    nsso_session_t *m = NULL;
    const char *err = "unset";

    assert_int_equal(nsso_session_load_memo(p, st, key, key + 14, &m, &err), APR_SUCCESS);
    assert_null(err);
    return m;
}

static apr_uint64_t hits_of(nsso_store *st)
{
    nsso_store_stats_t stats;

    assert_int_equal(nsso_store_stats(st, &stats), APR_SUCCESS);
    return stats.hits;
}

static void test_load_same_as_parse(void **state)
{
    nsso_store *st = shm_store(16);
    const char *key = "s:abcdefghijk:id-load-1";
    nsso_session_t *a, *m, *b;
    const char *err;
    char *data;
    apr_size_t len;

    record(sample("Alloc Spo", 5000), &data, &len);
    assert_int_equal(nsso_session_parse(pool, data, len, &a, &err), APR_SUCCESS);
    store_put(st, key, sample("Alloc Spo", 5000));
    m = load(pool, st, key);
    b = load(pool, st, key);
    expect_copies_of(a, m, b);
    assert_int_equal(hits_of(st), 2);          /* each a store hit */
    b->last_access = 42;                       /* a caller's changes stay its own */
    assert_int_equal(load(pool, st, key)->last_access, 1001);
}

static void test_load_statuses(void **state)
{
    nsso_store *st = shm_store(16);
    const char *key = "s:abcdefghijk:id-load-2";
    nsso_session_t *m = NULL;
    const char *err = "unset";
    char *data;
    apr_size_t len;

    assert_int_equal(nsso_session_load_memo(pool, st, key, "h", &m, &err), APR_NOTFOUND);
    assert_null(err);                          /* the store's answer, not a parse's */
    store_put(st, key, sample("Alloc Spo", 5000));
    load(pool, st, key);
    assert_int_equal(nsso_store_del(st, key), APR_SUCCESS);
    assert_int_equal(nsso_session_load_memo(pool, st, key, "h", &m, &err), APR_NOTFOUND);
    assert_null(err);                          /* the memo's entry is not an answer */
    record(sample("Alloc Spo", 5000), &data, &len);
    data[0] = 99;                              /* an unknown version */
    assert_int_equal(nsso_store_set(st, key, data, len, far_future(), NULL), APR_SUCCESS);
    assert_int_not_equal(nsso_session_load_memo(pool, st, key, "h", &m, &err), APR_SUCCESS);
    assert_non_null(err);
    assert_int_equal(nsso_session_load_memo(pool, st, "", "h", &m, &err), APR_EINVAL);
    assert_null(err);
}

/* Changed under the same key (a refresh, a write-back, signed out and in
 * again with the same bytes): never the old entry's answer. */
static void test_load_changed_record(void **state)
{
    nsso_store *st = shm_store(16);
    const char *key = "s:abcdefghijk:id-load-3", *other = "s:abcdefghijk:id-load-3b";
    nsso_session_t *m;

    store_put(st, key, sample("Alloc Spo", 5000));
    assert_string_equal(load(pool, st, key)->name, "Alloc Spo");
    store_put(st, key, sample("Alloc Spx", 6000));      /* same length, in place */
    m = load(pool, st, key);
    assert_string_equal(m->name, "Alloc Spx");
    assert_string_equal(m->derived->expires, "6000");
    assert_int_equal(hits_of(st), 2);          /* both read the record */
    assert_string_equal(load(pool, st, key)->name, "Alloc Spx");
    assert_int_equal(hits_of(st), 3);
    assert_int_equal(nsso_store_del(st, key), APR_SUCCESS);
    store_put(st, other, sample("Other", 5000));        /* takes the slot */
    store_put(st, key, sample("Alloc Spy", 5000));
    assert_string_equal(load(pool, st, key)->name, "Alloc Spy");
    assert_string_equal(load(pool, st, other)->name, "Other");
    assert_string_equal(load(pool, st, key)->name, "Alloc Spy");
}

/* The same key in another store is another record. */
static void test_load_two_stores(void **state)
{
    nsso_store *a = shm_store(8), *b = shm_store(8);
    const char *key = "s:abcdefghijk:id-load-4";

    store_put(a, key, sample("In A", 5000));
    store_put(b, key, sample("In B", 5000));
    assert_string_equal(load(pool, a, key)->name, "In A");
    assert_string_equal(load(pool, b, key)->name, "In B");
    assert_string_equal(load(pool, a, key)->name, "In A");
}

/* A store without get_known: a get and the memo by bytes, as before. */
static void test_load_without_get_known(void **state)
{
    nsso_store *st = shm_store(8);
    nsso_store_ops *ops = apr_pmemdup(pool, st->ops, sizeof(*ops));
    nsso_store plain = { ops, st->impl };
    const char *key = "s:abcdefghijk:id-load-5";
    nsso_session_t *m, *n;

    ops->get_known = NULL;
    store_put(&plain, key, sample("Plain", 5000));
    m = load(pool, &plain, key);
    n = load(pool, &plain, key);
    assert_string_equal(n->name, "Plain");
    assert_ptr_equal(m->user, n->user);        /* the memo by bytes */
    store_put(&plain, key, sample("Plaix", 5000));
    assert_string_equal(load(pool, &plain, key)->name, "Plaix");
}

/* A request holding an entry that a changed record replaced still reads it. */
static void test_load_replaced_entry_outlives_its_request(void **state)
{
    nsso_store *st = shm_store(8);
    const char *key = "s:abcdefghijk:id-load-6";
    nsso_session_t *held;
    apr_pool_t *req;

    assert_int_equal(apr_pool_create(&req, pool), APR_SUCCESS);
    store_put(st, key, sample("First Name", 5000));
    held = load(req, st, key);
    store_put(st, key, sample("Second Name", 5000));
    assert_string_equal(load(pool, st, key)->name, "Second Name");
    assert_string_equal(held->name, "First Name");
    assert_string_equal(held->derived->roles, "ALLOC_MGR,POM");
    apr_pool_destroy(req);
}

/* Threads: readers load KEYS keys over and over while a writer writes each
 * one VERSIONS times (name "v<n>", expires n). Every result is one the
 * store held (name and expiry agree), none goes back to an older version
 * than the same reader saw before, and once the writer is done every load
 * gives the last version. */
#define READERS 3
#define KEYS 4
#define VERSIONS 300

typedef struct {
    nsso_store *st;
    int done;                  /* set once, read with atomics */
    int failures;
} race_t;

static const char *race_key(apr_pool_t *p, int k)
{
    return apr_psprintf(p, "s:abcdefghijk:race-key-%d", k);
}

static int race_check(apr_pool_t *p, race_t *rc, int k, apr_int64_t *seen)
{
    nsso_session_t *m = NULL;
    const char *err = NULL;
    apr_status_t rv = nsso_session_load_memo(p, rc->st, race_key(p, k), "h", &m, &err);

    if (rv == APR_NOTFOUND && !err)
        return 1;                              /* between a delete and its set */
    if (rv != APR_SUCCESS)
        return 0;
    if (strcmp(m->name, apr_psprintf(p, "v%" APR_INT64_T_FMT, m->expires)) != 0
        || m->expires < *seen)
        return 0;
    *seen = m->expires;
    return 1;
}

static void *APR_THREAD_FUNC race_reader(apr_thread_t *t, void *data)
{
    race_t *rc = data;
    apr_int64_t seen[KEYS] = { 0 };
    apr_pool_t *p;
    int k, bad = 0;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    while (!__atomic_load_n(&rc->done, __ATOMIC_ACQUIRE)) {
        apr_pool_t *req;

        apr_pool_create(&req, p);              /* one request */
        for (k = 0; k < KEYS; k++)
            bad += !race_check(req, rc, k, &seen[k]);
        apr_pool_destroy(req);
    }
    apr_pool_destroy(p);
    if (bad)
        __atomic_add_fetch(&rc->failures, bad, __ATOMIC_SEQ_CST);
    (void)t;
    return NULL;   /* not apr_thread_exit: pthread_exit confuses ASan */
}

static void test_load_threads(void **state)
{
    race_t rc = { shm_store(KEYS * 2), 0, 0 };
    apr_thread_t *th[READERS];
    apr_status_t trv;
    apr_pool_t *p;
    int i, k, v;

    assert_int_equal(apr_pool_create(&p, pool), APR_SUCCESS);
    for (k = 0; k < KEYS; k++)
        store_put(rc.st, race_key(p, k), sample("v1", 1));
    for (i = 0; i < READERS; i++)
        assert_int_equal(apr_thread_create(&th[i], NULL, race_reader, &rc, pool),
                         APR_SUCCESS);
    for (v = 2; v <= VERSIONS; v++) {
        for (k = 0; k < KEYS; k++) {
            const char *key = race_key(p, k);

            /* now and then gone and back: the same bytes as a new write */
            if (v % 50 == 25)
                assert_int_equal(nsso_store_del(rc.st, key), APR_SUCCESS);
            store_put(rc.st, key, sample(apr_psprintf(p, "v%d", v), v));
        }
        apr_thread_yield();
    }
    __atomic_store_n(&rc.done, 1, __ATOMIC_RELEASE);
    for (i = 0; i < READERS; i++)
        apr_thread_join(&trv, th[i]);
    assert_int_equal(rc.failures, 0);
    for (k = 0; k < KEYS; k++)
        assert_int_equal(load(p, rc.st, race_key(p, k))->expires, VERSIONS);
    apr_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_parse),
        cmocka_unit_test(test_extension_once_per_entry),
        cmocka_unit_test(test_changed_record_parsed_again),
        cmocka_unit_test(test_unclean_and_bad_records),
        cmocka_unit_test(test_replaced_entry_outlives_its_request),
        cmocka_unit_test(test_load_same_as_parse),
        cmocka_unit_test(test_load_statuses),
        cmocka_unit_test(test_load_changed_record),
        cmocka_unit_test(test_load_two_stores),
        cmocka_unit_test(test_load_without_get_known),
        cmocka_unit_test(test_load_replaced_entry_outlives_its_request),
        cmocka_unit_test(test_load_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
