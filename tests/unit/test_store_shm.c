/* test_store_shm.c - unit tests for the shared-memory session store
 * (src/store_shm.c): SipHash vectors, the get/set/del/stats contract,
 * expiry, LRU eviction, get_known (a write named by slot and generation),
 * re-attach after a restart, corruption handling, and
 * a multi-process run over a real anonymous apr_shm and the store's own lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "store_shm.h"
#include "siphash.h"

/* ---- fixtures and helpers ------------------------------------------------ */

typedef struct {
    apr_pool_t *pool;
    unsigned char *mem;
    apr_size_t size, entries, slot_size;
    nsso_store *s;
} fx_t;

static apr_uint32_t rng_next(apr_uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static apr_time_t far_future(void)
{
    return apr_time_now() + apr_time_from_sec(3600);
}

/* Segment memory is filled with garbage first: formatting must not rely on
 * zeroed memory. */
static fx_t *fx_new(apr_size_t entries, apr_size_t slot_size)
{
    fx_t *fx;
    apr_pool_t *p;

    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    fx = apr_pcalloc(p, sizeof(*fx));
    fx->pool = p;
    fx->entries = entries;
    fx->slot_size = slot_size;
    fx->size = nsso_shm_store_size(entries, slot_size);
    assert_true(fx->size > 0);
    fx->mem = apr_palloc(p, fx->size);
    memset(fx->mem, 0xa5, fx->size);
    assert_int_equal(nsso_shm_store_attach(p, fx->mem, fx->size, entries, slot_size,
                                           1, &fx->s), APR_SUCCESS);
    return fx;
}

static void fx_free(fx_t *fx)
{
    apr_pool_destroy(fx->pool);
}

static void put(fx_t *fx, const char *key, const char *val)
{
    assert_int_equal(nsso_store_set(fx->s, key, val, strlen(val), far_future(), NULL),
                     APR_SUCCESS);
}

static void expect_val(fx_t *fx, const char *key, const char *want)
{
    char *val = NULL;
    apr_size_t len = 0;

    assert_int_equal(nsso_store_get(fx->s, fx->pool, key, &val, &len), APR_SUCCESS);
    assert_int_equal(len, strlen(want));
    assert_string_equal(val, want);
}

static void expect_absent(fx_t *fx, const char *key)
{
    char *val = NULL;
    apr_size_t len = 0;

    assert_int_equal(nsso_store_get(fx->s, fx->pool, key, &val, &len), APR_NOTFOUND);
}

static nsso_store_stats_t stats_of(fx_t *fx)
{
    nsso_store_stats_t st;

    assert_int_equal(nsso_store_stats(fx->s, &st), APR_SUCCESS);
    return st;
}

static void expect_consistent(fx_t *fx)
{
    assert_int_equal(nsso_shm_store_check(fx->s), APR_SUCCESS);
}

/* ---- SipHash -------------------------------------------------------------- */

static void test_siphash_vectors(void **state)
{
    /* Key 00..0f, message 00..(n-1). n = 15 is the worked example of the
     * SipHash paper (appendix A); the others are from the same reference
     * vector set. */
    static const struct { apr_size_t n; apr_uint64_t h; } v[] = {
        { 0,  APR_UINT64_C(0x726fdb47dd0e0e31) },
        { 1,  APR_UINT64_C(0x74f839c593dc67fd) },
        { 7,  APR_UINT64_C(0xab0200f58b01d137) },
        { 8,  APR_UINT64_C(0x93f5f5799a932462) },
        { 15, APR_UINT64_C(0xa129ca6149be45e5) },
        { 16, APR_UINT64_C(0x3f2acc7f57c29bdb) },
        { 63, APR_UINT64_C(0x958a324ceb064572) },
    };
    unsigned char key[16], msg[64];
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)i;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_true(nsso_siphash24(key, msg, v[i].n) == v[i].h);
    assert_true(nsso_siphash24(key, NULL, 0) == v[0].h);
    key[0] ^= 1;
    assert_true(nsso_siphash24(key, msg, 15) != APR_UINT64_C(0xa129ca6149be45e5));
}

/* ---- geometry and attach ------------------------------------------------------ */

static void test_geometry(void **state)
{
    apr_size_t sz = nsso_shm_store_size(1000, 4096);

    (void)state;
    assert_int_equal(nsso_shm_store_size(0, 4096), 0);
    assert_int_equal(nsso_shm_store_size(10, 0), 0);
    assert_int_equal(nsso_shm_store_size(NSSO_SHM_MAX_ENTRIES + 1, 64), 0);
    assert_int_equal(nsso_shm_store_size(10, NSSO_SHM_MAX_SLOT_SIZE + 1), 0);
    /* Documented overhead: <= 136 bytes per slot (112 of slot header) plus a
     * small header. */
    assert_true(sz > 1000 * 4096);
    assert_true(sz <= 1000 * (4096 + 136) + 256);
}

static void test_attach_args(void **state)
{
    apr_pool_t *p;
    nsso_store *s = NULL;
    apr_size_t sz = nsso_shm_store_size(8, 64);
    unsigned char *mem;

    (void)state;
    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    mem = apr_pcalloc(p, sz + 8);
    assert_int_equal(nsso_shm_store_attach(p, NULL, sz, 8, 64, 1, &s), APR_EINVAL);
    assert_int_equal(nsso_shm_store_attach(p, mem + 1, sz, 8, 64, 1, &s), APR_EINVAL);
    assert_int_equal(nsso_shm_store_attach(p, mem, sz, 0, 64, 1, &s), APR_EINVAL);
    assert_int_equal(nsso_shm_store_attach(p, mem, sz - 1, 8, 64, 1, &s), APR_EINVAL);
    assert_int_equal(nsso_shm_store_attach(p, mem, sz - 1, 8, 64, 0, &s), APR_EMISMATCH);
    /* never formatted */
    assert_int_equal(nsso_shm_store_attach(p, mem, sz, 8, 64, 0, &s), APR_EMISMATCH);
    assert_int_equal(nsso_shm_store_attach(p, mem, sz, 8, 64, 1, &s), APR_SUCCESS);
    assert_string_equal(s->ops->name, "shm");
    apr_pool_destroy(p);
}

/* ---- basic contract ---------------------------------------------------------- */

static void test_set_get_replace_delete(void **state)
{
    fx_t *fx = fx_new(16, 256);

    (void)state;
    put(fx, "alpha", "one");
    put(fx, "beta", "two");
    expect_val(fx, "alpha", "one");
    expect_val(fx, "beta", "two");
    put(fx, "alpha", "uno, replaced with a longer value");
    expect_val(fx, "alpha", "uno, replaced with a longer value");
    put(fx, "alpha", "1");
    expect_val(fx, "alpha", "1");
    assert_int_equal(stats_of(fx).live, 2);
    assert_int_equal(nsso_store_del(fx->s, "alpha"), APR_SUCCESS);
    expect_absent(fx, "alpha");
    assert_int_equal(nsso_store_del(fx->s, "alpha"), APR_NOTFOUND);
    expect_val(fx, "beta", "two");
    assert_int_equal(stats_of(fx).live, 1);
    put(fx, "alpha", "back");
    expect_val(fx, "alpha", "back");
    expect_consistent(fx);
    fx_free(fx);
}

/* add inserts only where no live entry is: the single-use / lock primitive. */
static void test_add_only_when_absent(void **state)
{
    fx_t *fx = fx_new(16, 256);
    apr_time_t later = apr_time_now() + apr_time_from_sec(60);

    (void)state;
    assert_int_equal(nsso_store_add(fx->s, "once", "a", 1, later), APR_SUCCESS);
    assert_int_equal(nsso_store_add(fx->s, "once", "b", 1, later), APR_EEXIST);
    expect_val(fx, "once", "a");
    /* an expired entry does not block a new add */
    put(fx, "old", "x");
    assert_int_equal(nsso_store_set(fx->s, "old", "x", 1, apr_time_now() - 1, NULL), APR_SUCCESS);
    assert_int_equal(nsso_store_add(fx->s, "old", "y", 1, later), APR_SUCCESS);
    expect_val(fx, "old", "y");
    assert_int_equal(nsso_store_del(fx->s, "once"), APR_SUCCESS);
    assert_int_equal(nsso_store_add(fx->s, "once", "c", 1, later), APR_SUCCESS);
    expect_val(fx, "once", "c");
    assert_int_equal(nsso_store_add(fx->s, "", "c", 1, later), APR_EINVAL);
    expect_consistent(fx);
    fx_free(fx);
}

/* replace writes only over a live entry: a write-back never resurrects. */
static void test_replace_only_when_present(void **state)
{
    fx_t *fx = fx_new(16, 256);
    apr_time_t later = apr_time_now() + apr_time_from_sec(60);

    (void)state;
    assert_int_equal(nsso_store_replace(fx->s, "gone", "a", 1, later), APR_NOTFOUND);
    expect_absent(fx, "gone");
    put(fx, "here", "old");
    assert_int_equal(nsso_store_replace(fx->s, "here", "new", 3, later), APR_SUCCESS);
    expect_val(fx, "here", "new");
    assert_int_equal(nsso_store_del(fx->s, "here"), APR_SUCCESS);
    assert_int_equal(nsso_store_replace(fx->s, "here", "again", 5, later), APR_NOTFOUND);
    expect_absent(fx, "here");
    /* an expired entry counts as gone */
    assert_int_equal(nsso_store_set(fx->s, "old", "x", 1, apr_time_now() - 1, NULL), APR_SUCCESS);
    assert_int_equal(nsso_store_replace(fx->s, "old", "y", 1, later), APR_NOTFOUND);
    expect_consistent(fx);
    fx_free(fx);
}

static void test_not_found(void **state)
{
    fx_t *fx = fx_new(16, 64);
    char *val = (char *)"untouched";
    apr_size_t len = 99;
    nsso_store_stats_t st;

    (void)state;
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "nope", &val, &len), APR_NOTFOUND);
    assert_string_equal(val, "untouched");
    assert_int_equal(len, 99);
    assert_int_equal(nsso_store_del(fx->s, "nope"), APR_NOTFOUND);
    st = stats_of(fx);
    assert_int_equal(st.gets, 1);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.deletes, 0);
    fx_free(fx);
}

static void test_key_rules(void **state)
{
    fx_t *fx = fx_new(16, 64);
    char k64[NSSO_STORE_MAX_KEY + 1], k65[NSSO_STORE_MAX_KEY + 2];
    char *val;
    apr_size_t len;

    (void)state;
    memset(k64, 'k', sizeof(k64) - 1);
    k64[sizeof(k64) - 1] = '\0';
    memset(k65, 'k', sizeof(k65) - 1);
    k65[sizeof(k65) - 1] = '\0';
    assert_int_equal(nsso_store_set(fx->s, "", "v", 1, far_future(), NULL), APR_EINVAL);
    assert_int_equal(nsso_store_set(fx->s, NULL, "v", 1, far_future(), NULL), APR_EINVAL);
    assert_int_equal(nsso_store_set(fx->s, k65, "v", 1, far_future(), NULL), APR_EINVAL);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, k65, &val, &len), APR_EINVAL);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "", &val, &len), APR_EINVAL);
    assert_int_equal(nsso_store_del(fx->s, k65), APR_EINVAL);
    assert_int_equal(nsso_store_del(fx->s, ""), APR_EINVAL);
    put(fx, k64, "max");
    expect_val(fx, k64, "max");
    /* exact compare: prefixes and a longer key are different keys */
    put(fx, "ab", "2");
    put(fx, "abc", "3");
    expect_val(fx, "ab", "2");
    expect_val(fx, "abc", "3");
    expect_absent(fx, "a");
    k64[NSSO_STORE_MAX_KEY - 1] = '\0';
    expect_absent(fx, k64);
    put(fx, "\xff\x01\x80", "bin");
    expect_val(fx, "\xff\x01\x80", "bin");
    assert_int_equal(stats_of(fx).live, 4);
    fx_free(fx);
}

static void test_values(void **state)
{
    fx_t *fx = fx_new(8, 32);
    static const char bin[5] = { 'a', '\0', 'b', '\0', 'c' };
    char full[32], *val;
    apr_size_t len;

    (void)state;
    assert_int_equal(nsso_store_set(fx->s, "empty", NULL, 0, far_future(), NULL), APR_SUCCESS);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "empty", &val, &len), APR_SUCCESS);
    assert_int_equal(len, 0);
    assert_string_equal(val, "");
    assert_int_equal(nsso_store_set(fx->s, "bin", bin, sizeof(bin), far_future(), NULL),
                     APR_SUCCESS);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "bin", &val, NULL), APR_SUCCESS);
    assert_memory_equal(val, bin, sizeof(bin));
    assert_int_equal(val[sizeof(bin)], '\0');
    memset(full, 'f', sizeof(full));
    assert_int_equal(nsso_store_set(fx->s, "full", full, sizeof(full), far_future(), NULL),
                     APR_SUCCESS);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "full", &val, &len), APR_SUCCESS);
    assert_int_equal(len, sizeof(full));
    assert_memory_equal(val, full, sizeof(full));
    assert_int_equal(nsso_store_set(fx->s, "x", NULL, 1, far_future(), NULL), APR_EINVAL);
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "full", NULL, &len), APR_EINVAL);
    assert_int_equal(nsso_store_get(fx->s, NULL, "full", &val, &len), APR_EINVAL);
    fx_free(fx);
}

static void test_too_large(void **state)
{
    fx_t *fx = fx_new(8, 128);
    char big[129];
    nsso_store_stats_t st;
    int ev = 7;

    (void)state;
    memset(big, 'x', sizeof(big));
    put(fx, "k", "small");
    assert_int_equal(nsso_store_set(fx->s, "k", big, sizeof(big), far_future(), &ev),
                     APR_ENOSPC);
    assert_int_equal(ev, 0);
    assert_int_equal(nsso_store_set(fx->s, "other", big, sizeof(big), far_future(), NULL),
                     APR_ENOSPC);
    expect_val(fx, "k", "small");
    expect_absent(fx, "other");
    assert_int_equal(nsso_store_set(fx->s, "k", big, 128, far_future(), NULL), APR_SUCCESS);
    st = stats_of(fx);
    assert_int_equal(st.too_large, 2);
    assert_int_equal(st.sets, 2);
    assert_int_equal(st.live, 1);
    fx_free(fx);
}

/* ---- expiry ------------------------------------------------------------------- */

static void test_expiry_past(void **state)
{
    fx_t *fx = fx_new(8, 64);
    apr_time_t past = apr_time_now() - apr_time_from_sec(1);

    (void)state;
    assert_int_equal(nsso_store_set(fx->s, "old", "v", 1, past, NULL), APR_SUCCESS);
    expect_absent(fx, "old");
    assert_int_equal(stats_of(fx).live, 0);
    put(fx, "k", "live");
    assert_int_equal(nsso_store_set(fx->s, "k", "v", 1, past, NULL), APR_SUCCESS);
    expect_absent(fx, "k");
    assert_int_equal(stats_of(fx).live, 0);
    expect_consistent(fx);
    fx_free(fx);
}

static void test_expiry_elapses(void **state)
{
    fx_t *fx = fx_new(8, 64);
    nsso_store_stats_t st;

    (void)state;
    /* wide margin: "short" must still be there when read back under valgrind */
    assert_int_equal(nsso_store_set(fx->s, "short", "v", 1,
                                    apr_time_now() + apr_time_from_msec(250), NULL),
                     APR_SUCCESS);
    put(fx, "long", "v");
    expect_val(fx, "short", "v");
    apr_sleep(apr_time_from_msec(350));
    expect_absent(fx, "short");
    assert_int_equal(nsso_store_del(fx->s, "short"), APR_NOTFOUND);
    expect_val(fx, "long", "v");
    st = stats_of(fx);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.live, 1);
    expect_consistent(fx);
    fx_free(fx);
}

/* The LRU tail is live; the expired entry sits in the middle. */
static void test_expired_reused_before_live(void **state)
{
    fx_t *fx = fx_new(3, 64);
    nsso_store_stats_t st;
    int ev = 7;

    (void)state;
    put(fx, "b", "live-oldest");
    assert_int_equal(nsso_store_set(fx->s, "a", "v", 1,
                                    apr_time_now() + apr_time_from_msec(30), NULL),
                     APR_SUCCESS);
    put(fx, "c", "live");
    apr_sleep(apr_time_from_msec(60));
    assert_int_equal(nsso_store_set(fx->s, "d", "new", 3, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);
    expect_val(fx, "b", "live-oldest");
    expect_val(fx, "c", "live");
    expect_val(fx, "d", "new");
    expect_absent(fx, "a");
    st = stats_of(fx);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.live, 3);
    expect_consistent(fx);
    fx_free(fx);
}

/* One sweep frees every expired slot; a stale min_expiry bound (its entry
 * deleted) costs a sweep that finds nothing, then LRU eviction goes on. */
static void test_sweep(void **state)
{
    fx_t *fx = fx_new(100, 32);
    nsso_store_stats_t st;
    char key[24];
    int i, ev, evicted = 0;

    (void)state;
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "s:old%d", i);
        assert_int_equal(nsso_store_set(fx->s, key, "v", 1,
                                        apr_time_now() + apr_time_from_msec(30), NULL),
                         APR_SUCCESS);
    }
    apr_sleep(apr_time_from_msec(60));
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "s:new%d", i);
        assert_int_equal(nsso_store_set(fx->s, key, "v", 1, far_future(), &ev), APR_SUCCESS);
        evicted += ev;
    }
    st = stats_of(fx);
    assert_int_equal(evicted, 0);
    assert_int_equal(st.expired, 100);
    assert_int_equal(st.live, 100);
    expect_consistent(fx);
    assert_int_equal(nsso_store_set(fx->s, "s:new0", "v", 1,
                                    apr_time_now() + apr_time_from_msec(1), NULL),
                     APR_SUCCESS);
    assert_int_equal(nsso_store_del(fx->s, "s:new0"), APR_SUCCESS);
    put(fx, "s:x", "v");                          /* takes the deleted slot */
    apr_sleep(apr_time_from_msec(5));
    assert_int_equal(nsso_store_set(fx->s, "s:y", "v", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* nothing expired: LRU */
    expect_absent(fx, "s:new1");
    expect_consistent(fx);
    fx_free(fx);
}

/* ---- eviction ------------------------------------------------------------------ */

static void test_lru_order(void **state)
{
    fx_t *fx = fx_new(4, 64);
    int ev;

    (void)state;
    put(fx, "s:k0", "0");
    put(fx, "s:k1", "1");
    put(fx, "s:k2", "2");
    put(fx, "s:k3", "3");
    expect_val(fx, "s:k0", "0");                  /* LRU order now: 1 2 3 0 */
    assert_int_equal(nsso_store_set(fx->s, "s:k4", "4", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* k1 went: 2 3 0 4 */
    assert_int_equal(nsso_store_set(fx->s, "s:k5", "5", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* k2 went: 3 0 4 5 */
    put(fx, "s:k3", "3b");                        /* replace refreshes: 0 4 5 3 */
    assert_int_equal(nsso_store_set(fx->s, "s:k6", "6", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* k0 went: 4 5 3 6 */
    expect_absent(fx, "s:k0");
    expect_absent(fx, "s:k1");
    expect_absent(fx, "s:k2");
    expect_val(fx, "s:k3", "3b");
    expect_val(fx, "s:k4", "4");
    expect_val(fx, "s:k5", "5");
    expect_val(fx, "s:k6", "6");
    assert_int_equal(stats_of(fx).evicted, 3);
    assert_int_equal(stats_of(fx).evicted_disposable, 0);
    expect_consistent(fx);
    fx_free(fx);
}

static void test_evicted_flag(void **state)
{
    fx_t *fx = fx_new(2, 64);
    int ev = 7;

    (void)state;
    assert_int_equal(nsso_store_set(fx->s, "s:a", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);
    assert_int_equal(nsso_store_set(fx->s, "s:b", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);
    ev = 7;
    assert_int_equal(nsso_store_set(fx->s, "s:b", "2", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);                    /* full, but a replace */
    assert_int_equal(nsso_store_set(fx->s, "s:c", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);
    assert_int_equal(nsso_store_set(fx->s, "s:d", "1", 1, far_future(), NULL), APR_SUCCESS);
    assert_int_equal(nsso_store_del(fx->s, "s:d"), APR_SUCCESS);
    assert_int_equal(nsso_store_set(fx->s, "s:e", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);                    /* the deleted slot was free */
    assert_int_equal(stats_of(fx).evicted, 2);
    fx_free(fx);
}

static void test_many_keys(void **state)
{
    fx_t *fx = fx_new(10000, 64);
    nsso_store_stats_t st;
    char key[32];
    apr_time_t exp = far_future();
    int i;

    (void)state;
    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "s:session-%05d", i);
        assert_int_equal(nsso_store_set(fx->s, key, key, strlen(key), exp, NULL),
                         APR_SUCCESS);
    }
    st = stats_of(fx);
    assert_int_equal(st.live, 10000);
    assert_int_equal(st.capacity, 10000);
    assert_int_equal(st.evicted, 10000);
    expect_consistent(fx);
    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "s:session-%05d", i);
        if (i < 10000)
            expect_absent(fx, key);
        else
            expect_val(fx, key, key);
    }
    fx_free(fx);
}

/* Sessions ("s:...") are the oldest entries of a full store, and a flood of
 * every other kind (spent states, bearer cache entries, counters, refresh
 * markers) goes through it: every one of them evicts another of its own
 * kind, never a session, and set never says a session went. */
static void test_disposable_evicted_first(void **state)
{
    static const char kinds[] = "ubpr";
    fx_t *fx = fx_new(8, 64);
    nsso_store_stats_t st;
    char key[32];
    int i, ev;

    (void)state;
    put(fx, "s:one", "alice");
    put(fx, "s:two", "bob");
    put(fx, "s:three", "carol");
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "%c:realm:%d", kinds[i % 4], i);
        ev = 7;
        assert_int_equal(nsso_store_set(fx->s, key, "1", 1, far_future(), &ev), APR_SUCCESS);
        assert_int_equal(ev, 0);
        assert_int_equal(nsso_store_add(fx->s, key, "2", 1, far_future()), APR_EEXIST);
    }
    expect_val(fx, "s:one", "alice");
    expect_val(fx, "s:two", "bob");
    expect_val(fx, "s:three", "carol");
    /* the newest disposable entries are the ones kept */
    expect_val(fx, "r:realm:999", "1");
    expect_absent(fx, "u:realm:0");
    /* add (single-use markers) follows the same rule */
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "u:realm:add%d", i);
        assert_int_equal(nsso_store_add(fx->s, key, "1", 1, far_future()), APR_SUCCESS);
    }
    /* a new session takes a disposable entry's slot, not another session's */
    ev = 7;
    assert_int_equal(nsso_store_set(fx->s, "s:four", "dave", 4, far_future(), &ev),
                     APR_SUCCESS);
    assert_int_equal(ev, 0);
    expect_val(fx, "s:one", "alice");
    expect_val(fx, "s:four", "dave");
    st = stats_of(fx);
    assert_int_equal(st.live, 8);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.evicted_here, 0);
    assert_int_equal(st.evicted_disposable, 1000 + 100 + 1 - 5);
    expect_consistent(fx);
    fx_free(fx);
}

/* A store holding nothing but sessions: they evict each other in LRU order,
 * and a disposable entry then takes the oldest session's slot (there is no
 * other), after which the next disposable entry evicts that one instead. */
static void test_sessions_lru_among_themselves(void **state)
{
    fx_t *fx = fx_new(4, 64);
    nsso_store_stats_t st;
    int ev;

    (void)state;
    put(fx, "s:0", "0");
    put(fx, "s:1", "1");
    put(fx, "s:2", "2");
    put(fx, "s:3", "3");
    expect_val(fx, "s:0", "0");                 /* LRU: 1 2 3 0 */
    assert_int_equal(nsso_store_set(fx->s, "s:4", "4", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* 1 went: 2 3 0 4 */
    expect_absent(fx, "s:1");
    assert_int_equal(nsso_store_set(fx->s, "u:x:a", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 1);                    /* 2 went: sessions 3 0 4, u:a */
    expect_absent(fx, "s:2");
    assert_int_equal(nsso_store_set(fx->s, "u:x:b", "1", 1, far_future(), &ev), APR_SUCCESS);
    assert_int_equal(ev, 0);                    /* u:a went, not session 3 */
    expect_absent(fx, "u:x:a");
    expect_val(fx, "u:x:b", "1");
    expect_val(fx, "s:3", "3");
    expect_val(fx, "s:0", "0");
    expect_val(fx, "s:4", "4");
    st = stats_of(fx);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.evicted_here, 2);       /* all by this process */
    assert_int_equal(st.evicted_disposable, 1);
    /* "s" alone or another kind starting with 's' is not a session */
    put(fx, "s", "x");
    put(fx, "sx:y", "x");
    st = stats_of(fx);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.evicted_disposable, 3);
    expect_val(fx, "s:3", "3");
    expect_consistent(fx);
    fx_free(fx);
}

/* Random gets, sets and deletes of both kinds against a model of the two
 * LRU lists: after every operation the store holds exactly what the model
 * says, and set reports a session evicted exactly when the model evicts one. */
#define MODEL_ENTRIES 12
#define MODEL_KEYS    40

typedef struct {
    int order[MODEL_KEYS];      /* live keys, least recently used first */
    int n;
} lru_model;

static void model_remove(lru_model *m, int k)
{
    int i;

    for (i = 0; i < m->n; i++)
        if (m->order[i] == k) {
            memmove(&m->order[i], &m->order[i + 1], (size_t)(m->n - i - 1) * sizeof(int));
            m->n--;
            return;
        }
}

static int model_has(const lru_model *m, int k)
{
    int i;

    for (i = 0; i < m->n; i++)
        if (m->order[i] == k)
            return 1;
    return 0;
}

static void model_key(char *buf, apr_size_t size, int k)
{
    if (k % 3 == 0)
        snprintf(buf, size, "s:%d", k);
    else
        snprintf(buf, size, "%c:r:%d", "ubpr"[k % 4], k);
}

/* The key's list: sessions are the keys divisible by 3. */
static lru_model *model_list(lru_model lists[2], int k)
{
    return &lists[k % 3 == 0];
}

static void test_two_lists_model(void **state)
{
    fx_t *fx = fx_new(MODEL_ENTRIES, 32);
    lru_model lists[2] = { { { 0 }, 0 }, { { 0 }, 0 } };
    apr_uint32_t rng = 0x2545f491u;
    apr_uint64_t sessions_evicted = 0;
    char key[32];
    int op, k;

    (void)state;
    for (op = 0; op < 20000; op++) {
        apr_uint32_t r = rng_next(&rng);
        lru_model *m;
        int ev = 7, want_ev = 0;

        k = (int)(r % MODEL_KEYS);
        m = model_list(lists, k);
        model_key(key, sizeof(key), k);
        switch ((r >> 8) % 4) {
        case 0:
            if (model_has(m, k)) {
                expect_val(fx, key, key);
                model_remove(m, k);
                m->order[m->n++] = k;
            }
            else
                expect_absent(fx, key);
            break;
        case 1:
            assert_int_equal(nsso_store_del(fx->s, key),
                             model_has(m, k) ? APR_SUCCESS : APR_NOTFOUND);
            model_remove(m, k);
            break;
        default:
            if (!model_has(m, k) && lists[0].n + lists[1].n == MODEL_ENTRIES) {
                lru_model *victim = lists[0].n > 0 ? &lists[0] : &lists[1];
                want_ev = victim == &lists[1];
                model_remove(victim, victim->order[0]);
            }
            model_remove(m, k);
            m->order[m->n++] = k;
            assert_int_equal(nsso_store_set(fx->s, key, key, strlen(key), far_future(), &ev),
                             APR_SUCCESS);
            assert_int_equal(ev, want_ev);
            sessions_evicted += (apr_uint64_t)want_ev;
        }
    }
    for (k = 0; k < MODEL_KEYS; k++) {
        model_key(key, sizeof(key), k);
        if (model_has(model_list(lists, k), k))
            expect_val(fx, key, key);
        else
            expect_absent(fx, key);
    }
    assert_true(sessions_evicted > 0);          /* the all-session case came up */
    assert_int_equal(stats_of(fx).evicted, sessions_evicted);
    assert_int_equal(stats_of(fx).live, lists[0].n + lists[1].n);
    expect_consistent(fx);
    fx_free(fx);
}

/* ---- stats --------------------------------------------------------------------- */

static void test_stats(void **state)
{
    fx_t *fx = fx_new(2, 16);
    nsso_store_stats_t st;
    char big[17] = { 0 };

    (void)state;
    put(fx, "s:a", "1");
    put(fx, "s:a", "2");
    put(fx, "s:b", "1");
    put(fx, "s:c", "1");                        /* evicts a */
    expect_val(fx, "s:b", "1");
    expect_absent(fx, "s:a");
    assert_int_equal(nsso_store_del(fx->s, "s:c"), APR_SUCCESS);
    assert_int_equal(nsso_store_del(fx->s, "s:c"), APR_NOTFOUND);
    assert_int_equal(nsso_store_set(fx->s, "s:b", big, sizeof(big), far_future(), NULL),
                     APR_ENOSPC);
    st = stats_of(fx);
    assert_int_equal(st.capacity, 2);
    assert_int_equal(st.slot_size, 16);
    assert_int_equal(st.live, 1);
    assert_int_equal(st.gets, 2);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.sets, 4);
    assert_int_equal(st.deletes, 1);
    assert_int_equal(st.expired, 0);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.evicted_disposable, 0);
    assert_int_equal(st.too_large, 1);
    assert_int_equal(nsso_store_stats(fx->s, NULL), APR_EINVAL);
    fx_free(fx);
}

/* ---- get_known ----------------------------------------------------------------- */

/* get_known with known (may be NULL): APR_SUCCESS and *val NULL for a hit,
 * else whatever get would say, with *now filled on a value. */
static apr_status_t known_get(fx_t *fx, const char *key, const nsso_store_known_t *known,
                              char **val, nsso_store_known_t *now)
{
    apr_size_t len = 99;
    apr_status_t rv;

    *val = (char *)"unset";
    rv = nsso_store_get_known(fx->s, fx->pool, key, known, val, &len, now);
    if (rv == APR_SUCCESS)
        assert_int_equal(len, *val ? strlen(*val) : 0);
    return rv;
}

/* A fresh read of key: its value and which write it is. */
static nsso_store_known_t known_read(fx_t *fx, const char *key, const char *want)
{
    nsso_store_known_t now = { 0, 0 };
    char *val;

    assert_int_equal(known_get(fx, key, NULL, &val, &now), APR_SUCCESS);
    assert_non_null(val);
    assert_string_equal(val, want);
    assert_int_not_equal(now.gen, 0);
    return now;
}

/* A miss that reads want afresh (as a get would) under a new identity. */
static nsso_store_known_t expect_known_miss(fx_t *fx, const char *key,
                                            const nsso_store_known_t *old, const char *want)
{
    nsso_store_known_t now = { 0, 0 };
    char *val;

    assert_int_equal(known_get(fx, key, old, &val, &now), APR_SUCCESS);
    assert_non_null(val);                      /* not answered from what it knew */
    assert_string_equal(val, want);
    assert_false(now.slot == old->slot && now.gen == old->gen);
    return now;
}

static void test_known_hit(void **state)
{
    fx_t *fx = fx_new(16, 64);
    nsso_store_known_t id, now;
    nsso_store_stats_t before, after;
    char *val;

    (void)state;
    put(fx, "s:realm:one", "first");
    put(fx, "s:realm:two", "second");
    id = known_read(fx, "s:realm:one", "first");
    before = stats_of(fx);
    assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &now), APR_SUCCESS);
    assert_null(val);                          /* nothing copied */
    assert_int_equal(now.slot, id.slot);
    assert_true(now.gen == id.gen);
    after = stats_of(fx);                      /* counted as a get's hit */
    assert_int_equal(after.gets, before.gets + 1);
    assert_int_equal(after.hits, before.hits + 1);
    /* and touched as a get would: "two" is the LRU victim now (8 entries
     * of a 16-slot store are not enough to evict, so fill it) */
    {
        char key[16];
        int i;

        for (i = 0; i < 14; i++) {
            snprintf(key, sizeof(key), "s:realm:k%d", i);
            put(fx, key, "x");
        }
        assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &now), APR_SUCCESS);
        assert_null(val);
        put(fx, "s:realm:new", "y");           /* evicts the least recent */
        expect_absent(fx, "s:realm:two");
        expect_val(fx, "s:realm:one", "first");
    }
    /* an absent key: the same status as get */
    assert_int_equal(known_get(fx, "s:realm:none", &id, &val, &now), APR_NOTFOUND);
    assert_int_equal(known_get(fx, "", &id, &val, &now), APR_EINVAL);
    expect_consistent(fx);
    fx_free(fx);
}

static void test_known_replace_is_a_miss(void **state)
{
    fx_t *fx = fx_new(16, 64);
    nsso_store_known_t id, id2;

    (void)state;
    put(fx, "s:realm:one", "first");
    id = known_read(fx, "s:realm:one", "first");
    /* same slot, same length, other bytes: set, then replace, then add */
    put(fx, "s:realm:one", "again");
    id2 = expect_known_miss(fx, "s:realm:one", &id, "again");
    assert_int_equal(id2.slot, id.slot);
    assert_int_equal(nsso_store_replace(fx->s, "s:realm:one", "third", 5, far_future()),
                     APR_SUCCESS);
    id = expect_known_miss(fx, "s:realm:one", &id2, "third");
    assert_int_equal(nsso_store_del(fx->s, "s:realm:one"), APR_SUCCESS);
    assert_int_equal(nsso_store_add(fx->s, "s:realm:one", "forth", 5, far_future()),
                     APR_SUCCESS);
    expect_known_miss(fx, "s:realm:one", &id, "forth");
    fx_free(fx);
}

/* ABA: deleted and written again, evicted and written again, or another
 * key in the slot: never the old write. */
static void test_known_slot_reused(void **state)
{
    fx_t *fx = fx_new(4, 64);
    nsso_store_known_t id, other;
    char *val;
    int i;

    (void)state;
    put(fx, "s:realm:one", "first");
    id = known_read(fx, "s:realm:one", "first");
    assert_int_equal(nsso_store_del(fx->s, "s:realm:one"), APR_SUCCESS);
    assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &other), APR_NOTFOUND);
    put(fx, "s:realm:one", "first");           /* the same bytes, a new write */
    other = expect_known_miss(fx, "s:realm:one", &id, "first");
    assert_int_equal(other.slot, id.slot);
    /* another key in the slot: asked under that key with the old pair */
    assert_int_equal(nsso_store_del(fx->s, "s:realm:one"), APR_SUCCESS);
    put(fx, "s:realm:two", "other");
    id = known_read(fx, "s:realm:two", "other");
    assert_int_equal(id.slot, other.slot);
    expect_known_miss(fx, "s:realm:two", &other, "other");
    /* the right pair under the wrong key is not a hit either */
    put(fx, "s:realm:one", "first");
    expect_known_miss(fx, "s:realm:one", &id, "first");
    /* evicted: the slot goes to another session */
    id = known_read(fx, "s:realm:one", "first");
    for (i = 0; i < 8; i++) {
        char key[16];

        snprintf(key, sizeof(key), "s:realm:k%d", i);
        put(fx, key, "x");
    }
    assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &other), APR_NOTFOUND);
    put(fx, "s:realm:one", "first");
    expect_known_miss(fx, "s:realm:one", &id, "first");
    expect_consistent(fx);
    fx_free(fx);
}

static void test_known_expired(void **state)
{
    fx_t *fx = fx_new(8, 64);
    nsso_store_known_t id, now;
    char *val;

    (void)state;
    assert_int_equal(nsso_store_set(fx->s, "s:realm:short", "v", 1,
                                    apr_time_now() + apr_time_from_msec(250), NULL),
                     APR_SUCCESS);
    id = known_read(fx, "s:realm:short", "v");
    apr_sleep(apr_time_from_msec(350));
    assert_int_equal(known_get(fx, "s:realm:short", &id, &val, &now), APR_NOTFOUND);
    assert_int_equal(stats_of(fx).expired, 1);
    expect_consistent(fx);
    fx_free(fx);
}

/* A reformat keeps the generation counter: the first write after it is not
 * taken for the last one before it, although it lands in the same slot. */
static void test_known_survives_reformat(void **state)
{
    fx_t *fx = fx_new(16, 64);
    nsso_store_known_t id, now;
    char *val;

    (void)state;
    put(fx, "s:realm:one", "first");           /* the segment's first write */
    id = known_read(fx, "s:realm:one", "first");
    fx->mem[NSSO_SHM_LOCK_AREA] ^= 0x40;       /* magic: the next op reformats */
    assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &now), APR_EGENERAL);
    /* the slot's old contents are still there, above fresh */
    assert_int_equal(known_get(fx, "s:realm:one", &id, &val, &now), APR_NOTFOUND);
    put(fx, "s:realm:one", "other");
    now = expect_known_miss(fx, "s:realm:one", &id, "other");
    assert_int_equal(now.slot, id.slot);
    assert_true(now.gen > id.gen);
    /* a reformat by a get_known that found the index broken, also */
    *(apr_uint32_t *)(void *)(fx->mem + NSSO_SHM_LOCK_AREA + 4) ^= 1u; /* version */
    assert_int_equal(known_get(fx, "s:realm:one", &now, &val, &id), APR_EGENERAL);
    put(fx, "s:realm:one", "third");
    expect_known_miss(fx, "s:realm:one", &now, "third");
    expect_consistent(fx);
    fx_free(fx);
}

/* ---- restart and corruption ------------------------------------------------------ */

static void test_reattach_keeps_data(void **state)
{
    fx_t *fx = fx_new(32, 128);
    nsso_store *again = NULL;

    (void)state;
    put(fx, "session-1", "alice");
    put(fx, "session-2", "bob");
    /* graceful restart: the new generation binds to the same memory */
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 32, 128, 0,
                                           &again), APR_SUCCESS);
    fx->s = again;
    expect_val(fx, "session-1", "alice");
    expect_val(fx, "session-2", "bob");
    assert_int_equal(stats_of(fx).sets, 2);
    assert_int_equal(stats_of(fx).live, 2);
    put(fx, "session-3", "carol");
    expect_consistent(fx);
    fx_free(fx);
}

static void test_reattach_mismatch(void **state)
{
    fx_t *fx = fx_new(32, 128);
    nsso_store *s = NULL;

    (void)state;
    put(fx, "k", "v");
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 31, 128, 0, &s),
                     APR_EMISMATCH);
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 32, 120, 0, &s),
                     APR_EMISMATCH);
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 64, 128, 0, &s),
                     APR_EMISMATCH);
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 32, 256, 0, &s),
                     APR_EMISMATCH);
    assert_null(s);
    expect_val(fx, "k", "v");                   /* refusing did not touch it */
    fx_free(fx);
}

static void test_corrupt_header(void **state)
{
    fx_t *fx = fx_new(16, 64);
    nsso_store *s = NULL;
    char *val;
    apr_size_t len;

    (void)state;
    put(fx, "k", "v");
    fx->mem[NSSO_SHM_LOCK_AREA] ^= 0x40;       /* magic */
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 16, 64, 0, &s),
                     APR_EMISMATCH);
    /* a bound store notices, reports it once and starts afresh */
    assert_int_equal(nsso_store_get(fx->s, fx->pool, "k", &val, &len), APR_EGENERAL);
    expect_absent(fx, "k");
    put(fx, "k2", "v2");
    expect_val(fx, "k2", "v2");
    expect_consistent(fx);
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 16, 64, 0, &s),
                     APR_SUCCESS);
    fx->mem[NSSO_SHM_LOCK_AREA + 4] ^= 0x01;   /* version */
    assert_int_equal(nsso_shm_store_attach(fx->pool, fx->mem, fx->size, 16, 64, 0, &s),
                     APR_EMISMATCH);
    fx_free(fx);
}

static void test_corrupt_slots(void **state)
{
    fx_t *fx = fx_new(64, 64);
    char key[16], *val;
    apr_size_t len;
    int i, broken = 0;

    (void)state;
    for (i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        put(fx, key, key);
    }
    memset(fx->mem + fx->size / 2, 0xff, fx->size - fx->size / 2);
    for (i = 0; i < 64; i++) {
        apr_status_t rv;

        snprintf(key, sizeof(key), "k%d", i);
        rv = nsso_store_get(fx->s, fx->pool, key, &val, &len);
        assert_true(rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EGENERAL);
        broken += rv == APR_EGENERAL;
    }
    assert_true(broken >= 1);
    expect_consistent(fx);
    put(fx, "fresh", "works");
    expect_val(fx, "fresh", "works");
    fx_free(fx);
}

static int status_allowed(apr_status_t rv)
{
    return rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EGENERAL;
}

/* Returns how many operations found the index broken; each of them must
 * have reformatted it before returning. */
static int fuzz_ops(fx_t *fx, apr_uint32_t *rng, apr_pool_t *tmp)
{
    char key[16], *val;
    apr_size_t len;
    int op, reformats = 0;

    for (op = 0; op < 60; op++) {
        apr_uint32_t r = rng_next(rng);
        apr_status_t rv;

        snprintf(key, sizeof(key), "f%u", (unsigned)(r % 48));
        switch ((r >> 8) % 3) {
        case 0:
            rv = nsso_store_get(fx->s, tmp, key, &val, &len);
            assert_true(rv != APR_SUCCESS || len <= fx->slot_size);
            break;
        case 1:
            rv = nsso_store_set(fx->s, key, key, strlen(key), far_future(), NULL);
            break;
        default:
            rv = nsso_store_del(fx->s, key);
        }
        assert_true(status_allowed(rv));
        if (rv == APR_EGENERAL) {
            assert_int_equal(nsso_shm_store_check(fx->s), APR_SUCCESS);
            reformats++;
        }
    }
    return reformats;
}

/* Random damage (bytes, or plausible small indices) anywhere in the segment:
 * no crash, no hang, only the documented statuses; an operation that runs
 * into the damage leaves a reformatted, consistent store behind; the checker
 * sees damage the operations have not run into yet. */
static void test_fuzz_corruption(void **state)
{
    apr_uint32_t rng = 0x9e3779b9u;
    int round, found = 0, reformats = 0;

    (void)state;
    for (round = 0; round < 300; round++) {
        fx_t *fx = fx_new(32, 48);
        apr_pool_t *tmp;
        apr_status_t rv;
        int i;

        assert_int_equal(apr_pool_create(&tmp, fx->pool), APR_SUCCESS);
        fuzz_ops(fx, &rng, tmp);
        for (i = 0; i < 6; i++) {
            /* the index, not the lock (a lock scribbled over is not
             * something any store survives) */
            apr_size_t off = NSSO_SHM_LOCK_AREA
                             + rng_next(&rng) % (fx->size - NSSO_SHM_LOCK_AREA - 4);

            if (round % 2)
                fx->mem[off] = (unsigned char)rng_next(&rng);
            else {
                apr_uint32_t w = rng_next(&rng) % 8 == 0 ? 0xffffffffu : rng_next(&rng) % 34;
                memcpy(fx->mem + (off & ~(apr_size_t)3), &w, sizeof(w));
            }
        }
        reformats += fuzz_ops(fx, &rng, tmp);
        rv = nsso_shm_store_check(fx->s);
        assert_true(rv == APR_SUCCESS || rv == APR_EGENERAL);
        found += rv == APR_EGENERAL;
        fx_free(fx);
    }
    assert_true(found > 0);
    assert_true(reformats > 0);
}

static void test_check_rejects_foreign_store(void **state)
{
    nsso_store fake = { NULL, NULL };

    (void)state;
    assert_int_equal(nsso_shm_store_check(&fake), APR_EINVAL);
    assert_int_equal(nsso_shm_store_check(NULL), APR_EINVAL);
}

/* ---- several processes on one segment --------------------------------------- */

#define MP_CHILDREN 4
#define MP_OPS      20000
#define MP_KEYS     400
#define MP_ENTRIES  256
#define MP_SLOT     512

typedef struct {
    apr_uint64_t gets, hits, sets, dels, evicted, bad;
} mp_counts;

/* Lives in the segment after the store: the start gun and the results. */
typedef struct {
    apr_uint32_t go;
    apr_uint32_t pad;
    mp_counts kids[MP_CHILDREN];
} mp_board;

static apr_uint64_t fnv1a(const void *buf, apr_size_t n)
{
    const unsigned char *b = buf;
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    apr_size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * APR_UINT64_C(0x100000001b3);
    return h;
}

/* "key=<key>;c=<child>;s=<seq>;" + random filler + FNV-1a of all before. */
static apr_size_t mp_value(char *buf, const char *key, unsigned child, unsigned seq,
                           apr_uint32_t *rng)
{
    int n = snprintf(buf, MP_SLOT, "key=%s;c=%u;s=%u;", key, child, seq);
    apr_size_t len = (apr_size_t)n + 8 + rng_next(rng) % (MP_SLOT - (apr_size_t)n - 8 + 1);
    apr_size_t i;
    apr_uint64_t h;

    for (i = (apr_size_t)n; i < len - 8; i++)
        buf[i] = (char)('a' + rng_next(rng) % 26);
    h = fnv1a(buf, len - 8);
    memcpy(buf + len - 8, &h, 8);
    return len;
}

static int mp_value_ok(const char *key, const char *val, apr_size_t len)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "key=%s;", key);
    apr_uint64_t h;

    if (len < (apr_size_t)n + 8 || len > MP_SLOT || memcmp(val, prefix, (size_t)n) != 0)
        return 0;
    memcpy(&h, val + len - 8, 8);
    return h == fnv1a(val, len - 8) && val[len] == '\0';
}

/* Half sessions, half other kinds: both LRU lists change under the race. */
static void mp_key(char *buf, apr_size_t size, apr_uint32_t k)
{
    snprintf(buf, size, k % 2 ? "s:sess-%03u" : "b:tok-%03u", (unsigned)k);
}

static void mp_one_op(nsso_store *s, apr_pool_t *p, unsigned child, unsigned seq,
                      apr_uint32_t *rng, mp_counts *c)
{
    char key[16], buf[MP_SLOT], *val;
    apr_size_t len;
    apr_uint32_t r = rng_next(rng) % 100;
    apr_status_t rv;
    int ev = 0;

    mp_key(key, sizeof(key), rng_next(rng) % MP_KEYS);
    if (r < 50) {
        c->gets++;
        rv = nsso_store_get(s, p, key, &val, &len);
        if (rv == APR_SUCCESS) {
            c->hits++;
            c->bad += !mp_value_ok(key, val, len);
        }
        else
            c->bad += rv != APR_NOTFOUND;
    }
    else if (r < 85) {
        len = mp_value(buf, key, child, seq, rng);
        rv = nsso_store_set(s, key, buf, len, far_future(), &ev);
        c->sets += rv == APR_SUCCESS;
        c->evicted += ev;
        c->bad += rv != APR_SUCCESS;
    }
    else {
        rv = nsso_store_del(s, key);
        c->dels += rv == APR_SUCCESS;
        c->bad += rv != APR_SUCCESS && rv != APR_NOTFOUND;
    }
}

/* Runs in a forked child; never returns. Like an httpd child: bind a store
 * to the inherited segment (its lock is in the segment). */
static void mp_child(void *base, apr_size_t size, unsigned child, mp_board *board)
{
    apr_pool_t *p, *iter;
    nsso_store *s = NULL;
    apr_uint32_t rng = 0x1234567u * (child + 1);
    mp_counts c = { 0, 0, 0, 0, 0, 0 };
    nsso_store_stats_t mine;
    unsigned seq;
    int failed = 1;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        _exit(3);
    if (nsso_shm_store_attach(p, base, size, MP_ENTRIES, MP_SLOT, 0, &s) == APR_SUCCESS
        && apr_pool_create(&iter, p) == APR_SUCCESS) {
        while (!__atomic_load_n(&board->go, __ATOMIC_ACQUIRE))
            apr_sleep(1000);
        for (seq = 0; seq < MP_OPS; seq++) {
            mp_one_op(s, iter, child, seq, &rng, &c);
            if (seq % 128 == 0)
                apr_pool_clear(iter);
        }
        /* this process's own session evictions, as set reported them */
        c.bad += nsso_store_stats(s, &mine) != APR_SUCCESS || mine.evicted_here != c.evicted;
        board->kids[child] = c;
        failed = c.bad != 0;
    }
    apr_pool_destroy(p);
    _exit(failed ? 1 : 0);
}

static void mp_check_parent(nsso_store *s, apr_pool_t *p, const mp_counts *kids)
{
    nsso_store_stats_t st;
    mp_counts sum = { 0, 0, 0, 0, 0, 0 };
    apr_uint32_t k;
    apr_size_t present = 0;
    int i;

    for (i = 0; i < MP_CHILDREN; i++) {
        sum.gets += kids[i].gets;
        sum.hits += kids[i].hits;
        sum.sets += kids[i].sets;
        sum.dels += kids[i].dels;
        sum.evicted += kids[i].evicted;
        assert_int_equal(kids[i].bad, 0);
    }
    assert_int_equal(nsso_store_stats(s, &st), APR_SUCCESS);
    assert_int_equal(st.gets, sum.gets);
    assert_int_equal(st.hits, sum.hits);
    assert_int_equal(st.sets, sum.sets);
    assert_int_equal(st.deletes, sum.dels);
    assert_int_equal(st.evicted, sum.evicted);
    assert_int_equal(st.expired, 0);
    assert_int_equal(st.too_large, 0);
    assert_true(st.gets + st.sets > MP_CHILDREN * MP_OPS / 2);
    assert_true(st.evicted_disposable > 0);
    assert_int_equal(st.evicted_here, 0);       /* the children's, not ours */
    assert_true(st.live <= MP_ENTRIES);
    assert_int_equal(nsso_shm_store_check(s), APR_SUCCESS);
    for (k = 0; k < MP_KEYS; k++) {
        char key[16], *val;
        apr_size_t len;

        mp_key(key, sizeof(key), k);
        if (nsso_store_get(s, p, key, &val, &len) == APR_SUCCESS) {
            assert_true(mp_value_ok(key, val, len));
            present++;
        }
    }
    assert_int_equal(present, st.live);
}

/* Several processes at once on one segment, under the store's own lock. */
static void test_multiprocess(void **state)
{
    apr_pool_t *p;
    apr_shm_t *shm;
    nsso_store *s;
    apr_size_t size = nsso_shm_store_size(MP_ENTRIES, MP_SLOT);
    apr_size_t cnt_off = (size + 7) & ~(apr_size_t)7;
    unsigned char *base;
    mp_board *board;
    pid_t pids[MP_CHILDREN];
    int i;

    (void)state;
    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    assert_int_equal(apr_shm_create(&shm, cnt_off + sizeof(mp_board), NULL, p), APR_SUCCESS);
    base = apr_shm_baseaddr_get(shm);
    board = (mp_board *)(void *)(base + cnt_off);
    memset(board, 0, sizeof(*board));
    assert_int_equal(nsso_shm_store_attach(p, base, size, MP_ENTRIES, MP_SLOT, 1, &s),
                     APR_SUCCESS);
    fflush(NULL);
    for (i = 0; i < MP_CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            mp_child(base, size, (unsigned)i, board);
    }
    __atomic_store_n(&board->go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < MP_CHILDREN; i++) {
        int status = 0;

        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    mp_check_parent(s, p, board->kids);
    apr_pool_destroy(p);
}

/* A child killed (SIGKILL) at a random moment of a loop of sets, often while
 * it holds the store's lock: the parent's next operation must not hang, the
 * index must check out, and the store must keep working. */
#define DEATHS 40

static void test_lock_owner_dies(void **state)
{
    apr_pool_t *p;
    apr_shm_t *shm;
    nsso_store *s;
    nsso_store_stats_t st;
    apr_size_t size = nsso_shm_store_size(64, 256);
    char *val;
    apr_size_t len;
    apr_uint64_t sets = 0;
    int i;

    (void)state;
    assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
    assert_int_equal(apr_shm_create(&shm, size, NULL, p), APR_SUCCESS);
    assert_int_equal(nsso_shm_store_attach(p, apr_shm_baseaddr_get(shm), size, 64, 256,
                                           1, &s), APR_SUCCESS);
    alarm(120); /* a lock left held would hang here: fail instead */
    for (i = 0; i < DEATHS; i++) {
        pid_t pid;
        int status = 0;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            unsigned n = 0;
            char key[16];
            for (;;) {
                apr_snprintf(key, sizeof(key), "k%u", n++ % 200);
                (void)nsso_store_set(s, key, "value", 5, far_future(), NULL);
            }
        }
        /* once the child is in its loop (slow to start under valgrind) */
        do {
            apr_sleep(200);
            assert_int_equal(nsso_store_stats(s, &st), APR_SUCCESS);
        } while (st.sets < sets + 50);
        apr_sleep((apr_interval_time_t)(i % 7) * 300);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(nsso_store_set(s, "after", "v", 1, far_future(), NULL),
                         APR_SUCCESS);
        assert_int_equal(nsso_store_get(s, p, "after", &val, &len), APR_SUCCESS);
        assert_int_equal(nsso_shm_store_check(s), APR_SUCCESS);
        assert_int_equal(nsso_store_stats(s, &st), APR_SUCCESS);
        sets = st.sets;
    }
    alarm(0);
    assert_int_equal(nsso_store_stats(s, &st), APR_SUCCESS);
    /* the loop holds the lock most of the time: some deaths were inside it */
    assert_true(st.lock_recoveries > 0);
    assert_true(st.lock_recoveries <= DEATHS);
    apr_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_attach_args),
        cmocka_unit_test(test_set_get_replace_delete),
        cmocka_unit_test(test_add_only_when_absent),
        cmocka_unit_test(test_replace_only_when_present),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_expiry_past),
        cmocka_unit_test(test_expiry_elapses),
        cmocka_unit_test(test_expired_reused_before_live),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_evicted_flag),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_disposable_evicted_first),
        cmocka_unit_test(test_sessions_lru_among_themselves),
        cmocka_unit_test(test_two_lists_model),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_known_hit),
        cmocka_unit_test(test_known_replace_is_a_miss),
        cmocka_unit_test(test_known_slot_reused),
        cmocka_unit_test(test_known_expired),
        cmocka_unit_test(test_known_survives_reformat),
        cmocka_unit_test(test_reattach_keeps_data),
        cmocka_unit_test(test_reattach_mismatch),
        cmocka_unit_test(test_corrupt_header),
        cmocka_unit_test(test_corrupt_slots),
        cmocka_unit_test(test_fuzz_corruption),
        cmocka_unit_test(test_check_rejects_foreign_store),
        cmocka_unit_test(test_multiprocess),
        cmocka_unit_test(test_lock_owner_dies),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("store_shm", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
