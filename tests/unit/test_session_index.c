/* test_session_index.c - a user's session index: the record round trip and
 * its strict parse, the bound (oldest out first), the device hint from
 * User-Agents, handles and keys, and load/save/lock over a real shm store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_strings.h>
#include "session_index.h"
#include "store_shm.h"
#include "unit_pool.h"

#define ID_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define ID_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define REALM "abcdefghijk"

static const char *id_n(int n)
{
    char *id = apr_pstrdup(pool, ID_A);
    id[0] = (char)('a' + n % 26);
    id[1] = (char)('a' + n / 26);
    return id;
}

static nsso_index_entry_t entry(const char *id, apr_int64_t created)
{
    nsso_index_entry_t e = { id, created, "www.example.org", "Firefox on Linux" };
    return e;
}

static void test_round_trip(void **state)
{
    nsso_index_t *ix = nsso_index_make(pool, "ALICE_GEN"), *back;
    nsso_index_entry_t a = entry(ID_A, 100), b = entry(ID_B, 200);
    char *rec;
    apr_size_t len;

    (void)state;
    assert_int_equal(nsso_index_insert(pool, ix, &a, NSSO_INDEX_MAX, NULL), 0);
    assert_int_equal(nsso_index_insert(pool, ix, &b, NSSO_INDEX_MAX, NULL), 0);
    assert_int_equal(nsso_index_encode(pool, ix, &rec, &len), APR_SUCCESS);
    assert_int_equal(nsso_index_decode(pool, rec, len, &back), APR_SUCCESS);
    assert_string_equal(back->user, "ALICE_GEN");
    assert_int_equal(back->entries->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(back->entries, 1, nsso_index_entry_t).id, ID_B);
    assert_int_equal(APR_ARRAY_IDX(back->entries, 1, nsso_index_entry_t).created, 200);
    assert_string_equal(APR_ARRAY_IDX(back->entries, 0, nsso_index_entry_t).server,
                        "www.example.org");
    assert_string_equal(APR_ARRAY_IDX(back->entries, 0, nsso_index_entry_t).device,
                        "Firefox on Linux");
    /* the same id again replaces, never duplicates */
    assert_int_equal(nsso_index_insert(pool, ix, &a, NSSO_INDEX_MAX, NULL), 0);
    assert_int_equal(ix->entries->nelts, 2);
    assert_int_equal(nsso_index_remove(ix, ID_A), 1);
    assert_int_equal(nsso_index_remove(ix, ID_A), 0);
    assert_int_equal(ix->entries->nelts, 1);
}

static void test_decode_strict(void **state)
{
    static const char *bad[] = {
        "",
        "nssoix1\n",
        "nssoix2\nALICE\n",
        "nssoix1\n\n",
        "nssoix1\nALICE",
        "nssoix1\nALICE\nshort\t1\ts\td\n",
        "nssoix1\nALICE\n" ID_A "\t-1\ts\td\n",
        "nssoix1\nALICE\n" ID_A "\t12x\ts\td\n",
        "nssoix1\nALICE\n" ID_A "\t12\ts\n",
        "nssoix1\nALICE\n" ID_A "\t12\ts\td\textra\n",
        "nssoix1\nAL\x01ICE\n",
        NULL
    };
    nsso_index_t *ix;
    int i;

    (void)state;
    for (i = 0; bad[i]; i++)
        assert_int_not_equal(nsso_index_decode(pool, bad[i], strlen(bad[i]), &ix),
                             APR_SUCCESS);
    /* a NUL inside */
    assert_int_not_equal(nsso_index_decode(pool, "nssoix1\nA\0B\n", 12, &ix), APR_SUCCESS);
    /* more entries than the bound */
    {
        char *rec = apr_pstrdup(pool, "nssoix1\nALICE\n");
        for (i = 0; i <= NSSO_INDEX_MAX; i++)
            rec = apr_pstrcat(pool, rec, id_n(i), "\t1\ts\td\n", NULL);
        assert_int_not_equal(nsso_index_decode(pool, rec, strlen(rec), &ix), APR_SUCCESS);
    }
    /* an empty index is fine */
    assert_int_equal(nsso_index_decode(pool, "nssoix1\nALICE\n", 14, &ix), APR_SUCCESS);
    assert_int_equal(ix->entries->nelts, 0);
}

static void test_encode_refuses(void **state)
{
    nsso_index_t *ix = nsso_index_make(pool, "BAD\nUSER");
    char *rec;
    apr_size_t len;
    nsso_index_entry_t e = entry("not-an-id", 1);

    (void)state;
    assert_int_equal(nsso_index_encode(pool, ix, &rec, &len), APR_EINVAL);
    ix = nsso_index_make(pool, "ALICE");
    APR_ARRAY_PUSH(ix->entries, nsso_index_entry_t) = e;   /* bypassing insert */
    assert_int_equal(nsso_index_encode(pool, ix, &rec, &len), APR_EINVAL);
}

static void test_bound_evicts_oldest(void **state)
{
    nsso_index_t *ix = nsso_index_make(pool, "ALICE");
    apr_array_header_t *gone = apr_array_make(pool, 2, sizeof(nsso_index_entry_t));
    int i, evicted = 0;

    (void)state;
    /* created out of order: the oldest is the one with created 5 */
    for (i = 0; i < NSSO_INDEX_MAX; i++) {
        nsso_index_entry_t e = entry(id_n(i), i == 3 ? 5 : 100 + i);
        evicted += nsso_index_insert(pool, ix, &e, NSSO_INDEX_MAX, gone);
    }
    assert_int_equal(evicted, 0);
    assert_int_equal(ix->entries->nelts, NSSO_INDEX_MAX);
    {
        nsso_index_entry_t e = entry(ID_B, 1000);
        assert_int_equal(nsso_index_insert(pool, ix, &e, NSSO_INDEX_MAX, gone), 1);
    }
    assert_int_equal(ix->entries->nelts, NSSO_INDEX_MAX);
    assert_int_equal(gone->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(gone, 0, nsso_index_entry_t).id, id_n(3));
    /* a smaller bound evicts several, oldest first */
    {
        nsso_index_entry_t e = entry(ID_A, 2000);
        assert_int_equal(nsso_index_insert(pool, ix, &e, 4, gone), NSSO_INDEX_MAX + 1 - 4);
    }
    assert_int_equal(ix->entries->nelts, 4);
    assert_string_equal(APR_ARRAY_IDX(gone, 1, nsso_index_entry_t).id, id_n(0));
}

static void test_insert_cleans_strings(void **state)
{
    nsso_index_t *ix = nsso_index_make(pool, "ALICE");
    char long_server[200];
    nsso_index_entry_t e = entry(ID_A, 1), *got;
    char *rec;
    apr_size_t len;

    (void)state;
    memset(long_server, 'x', sizeof(long_server) - 1);
    long_server[sizeof(long_server) - 1] = '\0';
    e.server = long_server;
    e.device = "Fire\tfox\n";
    nsso_index_insert(pool, ix, &e, NSSO_INDEX_MAX, NULL);
    got = &APR_ARRAY_IDX(ix->entries, 0, nsso_index_entry_t);
    assert_int_equal(strlen(got->server), NSSO_INDEX_SERVER_MAX);
    assert_string_equal(got->device, "Fire?fox?");
    assert_int_equal(nsso_index_encode(pool, ix, &rec, &len), APR_SUCCESS);
}

static void test_device_hint(void **state)
{
    static const struct { const char *ua, *hint; } cases[] = {
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge on Windows" },
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36", "Chrome on Windows" },
        { "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
          "Firefox on Linux" },
        { "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like "
          "Gecko) Version/17.2 Safari/605.1.15", "Safari on macOS" },
        { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1", "Safari on iOS" },
        { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "HeadlessChrome/120.0.0.0 Safari/537.36", "Chrome on Linux" },
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "Opera on Windows" },
        { "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
          "Internet Explorer on Windows" },
        { "curl/7.88.1", "curl" },
        { "python-requests/2.28.1", "python-requests" },
        { "Mozilla/5.0 (Linux; Android 14)", "Unknown browser on Android" },
        { "something", "Unknown" },
        { "", "Unknown" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(nsso_device_hint(pool, cases[i].ua), cases[i].hint);
    assert_string_equal(nsso_device_hint(pool, NULL), "Unknown");
    /* never longer than the index keeps */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_true(strlen(nsso_device_hint(pool, cases[i].ua)) <= NSSO_INDEX_DEVICE_MAX);
}

static nsso_crypto *crypto_of(const char *pass)
{
    nsso_crypto *c = NULL;
    const char *err = NULL, *passes[1];

    passes[0] = pass;
    assert_int_equal(nsso_crypto_create(pool, passes, 1, &c, &err), APR_SUCCESS);
    return c;
}

static void test_handle_and_key(void **state)
{
    nsso_crypto *c = crypto_of("a passphrase for the unit test"), *d = crypto_of("another one");
    const char *h = nsso_index_handle(pool, c, ID_A);
    const char *k = nsso_index_key(pool, c, NSSO_KEY_INDEX, REALM, "ALICE");
    char long_user[256];
    size_t i;

    (void)state;
    assert_int_equal(strlen(h), NSSO_INDEX_HANDLE_LEN);
    for (i = 0; h[i]; i++)
        assert_non_null(strchr("0123456789abcdef", h[i]));
    assert_null(strstr(ID_A, h));
    assert_string_equal(h, nsso_index_handle(pool, c, ID_A));       /* stable */
    assert_string_not_equal(h, nsso_index_handle(pool, c, ID_B));    /* per session */
    assert_string_not_equal(h, nsso_index_handle(pool, d, ID_A));    /* per key */
    assert_true(!strncmp(k, "i:" REALM ":", 14));
    assert_string_not_equal(k, nsso_index_key(pool, c, NSSO_KEY_INDEX, "zzzzzzzzzzz", "ALICE"));
    assert_string_not_equal(k, nsso_index_key(pool, c, NSSO_KEY_INDEX, REALM, "BOB"));
    assert_int_equal(nsso_index_key(pool, c, NSSO_KEY_INDEX_LOCK, REALM, "ALICE")[0], 'l');
    memset(long_user, 'u', sizeof(long_user) - 1);
    long_user[sizeof(long_user) - 1] = '\0';
    assert_true(strlen(nsso_index_key(pool, c, NSSO_KEY_INDEX, REALM, long_user))
                <= NSSO_STORE_MAX_KEY);
}

static nsso_store *shm_store(void)
{
    apr_size_t entries = 64, size = nsso_shm_store_size(entries, 4096);
    void *mem = apr_palloc(pool, size + 8);
    nsso_store *st = NULL;

    mem = (void *)(((apr_uintptr_t)mem + 7) & ~(apr_uintptr_t)7);
    assert_int_equal(nsso_shm_store_attach(pool, mem, size, entries, 4096, 1, &st),
                     APR_SUCCESS);
    return st;
}

static void test_in_store(void **state)
{
    nsso_crypto *c = crypto_of("a passphrase for the unit test");
    nsso_store *st = shm_store();
    nsso_index_t *ix;
    nsso_index_entry_t a = entry(ID_A, 10);
    apr_time_t later = apr_time_now() + apr_time_from_sec(60);

    (void)state;
    assert_int_equal(nsso_index_load(pool, st, c, REALM, "ALICE", &ix), APR_SUCCESS);
    assert_int_equal(ix->entries->nelts, 0);
    nsso_index_insert(pool, ix, &a, NSSO_INDEX_MAX, NULL);
    assert_int_equal(nsso_index_save(pool, st, c, REALM, ix, later), APR_SUCCESS);
    assert_int_equal(nsso_index_load(pool, st, c, REALM, "ALICE", &ix), APR_SUCCESS);
    assert_int_equal(ix->entries->nelts, 1);
    /* another realm, another user: nothing */
    assert_int_equal(nsso_index_load(pool, st, c, "zzzzzzzzzzz", "ALICE", &ix), APR_SUCCESS);
    assert_int_equal(ix->entries->nelts, 0);
    assert_int_equal(nsso_index_load(pool, st, c, REALM, "BOB", &ix), APR_SUCCESS);
    assert_int_equal(ix->entries->nelts, 0);
    /* an empty index is deleted */
    assert_int_equal(nsso_index_save(pool, st, c, REALM, ix, later), APR_SUCCESS);
    ix = nsso_index_make(pool, "ALICE");
    assert_int_equal(nsso_index_save(pool, st, c, REALM, ix, later), APR_SUCCESS);
    {
        char *v;
        apr_size_t n;
        assert_int_equal(nsso_store_get(st, pool, nsso_index_key(pool, c, NSSO_KEY_INDEX,
                                                                 REALM, "ALICE"), &v, &n),
                         APR_NOTFOUND);
    }
    /* the lock: held once, free again after unlock */
    assert_int_equal(nsso_index_lock(pool, st, c, REALM, "ALICE"), APR_SUCCESS);
    assert_int_equal(nsso_store_add(st, nsso_index_key(pool, c, NSSO_KEY_INDEX_LOCK, REALM,
                                                       "ALICE"), "1", 1, later), APR_EEXIST);
    assert_int_equal(nsso_index_lock(pool, st, c, REALM, "BOB"), APR_SUCCESS);
    nsso_index_unlock(pool, st, c, REALM, "ALICE");
    assert_int_equal(nsso_index_lock(pool, st, c, REALM, "ALICE"), APR_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_strict),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_bound_evicts_oldest),
        cmocka_unit_test(test_insert_cleans_strings),
        cmocka_unit_test(test_device_hint),
        cmocka_unit_test(test_handle_and_key),
        cmocka_unit_test(test_in_store),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
