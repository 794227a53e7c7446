/* store_bench.c - owns the micro-benchmark of the shared-memory session
 * store (src/store_shm.c): ns per get / replace / insert-with-eviction at
 * 1k, 10k and 100k live sessions of 4 KB (or argv[1] bytes), the first set
 * and the refill after every session expired (expiry sweeps), shm bytes per
 * 1k sessions and the resident shared memory the first n sessions actually
 * touched (RssShmem from /proc/self/status, KB per 1k sessions). Figures in
 * ns per operation unless marked. Not a test. bench/run builds and runs it
 * (with 4096- and 64-byte values).
 *
 * Build and run (from the top of the tree):
 *   gcc -std=gnu11 -O2 -Wall -Wextra -Wshadow -DLINUX -D_REENTRANT -D_GNU_SOURCE \
 *     $(apr-1-config --includes) -Isrc -o /tmp/store_bench \
 *     bench/store_bench.c src/store_shm.c $(apr-1-config --link-ld)
 *   /tmp/store_bench [value-bytes]     (default 4096, 16 to 65536)
 *
 * Uses a real anonymous apr_shm segment and the store's own lock
 * (uncontended), as the module does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "store_shm.h"

#define MAX_VALUE  65536
#define OPS        200000

static apr_size_t value_size = 4096;   /* bytes per session; argv[1] may change it */

typedef struct {
    apr_pool_t *pool;
    apr_shm_t *shm;
    nsso_store *s;
    char **keys;
    apr_size_t n, shm_size;
    unsigned char value[MAX_VALUE];
    apr_uint32_t rng;
} bench_t;

static apr_uint32_t rng_next(apr_uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Resident shared memory of this process in KB (Linux), -1 if unknown. */
static long rss_shmem_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "RssShmem: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void die(const char *what, apr_status_t rv)
{
    char buf[128];

    fprintf(stderr, "store_bench: %s: %s\n", what, apr_strerror(rv, buf, sizeof(buf)));
    exit(1);
}

static void must(const char *what, apr_status_t rv)
{
    if (rv != APR_SUCCESS)
        die(what, rv);
}

static void bench_open(bench_t *b, apr_size_t n)
{
    apr_size_t i;

    memset(b, 0, sizeof(*b));
    b->n = n;
    b->rng = 0x2545f491u;
    must("pool", apr_pool_create(&b->pool, NULL));
    b->shm_size = nsso_shm_store_size(n, value_size);
    must("shm", apr_shm_create(&b->shm, b->shm_size, NULL, b->pool));
    must("attach", nsso_shm_store_attach(b->pool, apr_shm_baseaddr_get(b->shm), b->shm_size,
                                         n, value_size, 1, &b->s));
    /* 2n keys: the first n are loaded, the rest arrive as new sessions */
    b->keys = apr_palloc(b->pool, 2 * n * sizeof(char *));
    for (i = 0; i < 2 * n; i++)
        b->keys[i] = apr_psprintf(b->pool, "s:%016" APR_UINT64_T_HEX_FMT,
                                  (apr_uint64_t)i * APR_UINT64_C(0x9e3779b97f4a7c15));
    for (i = 0; i < value_size; i++)
        b->value[i] = (unsigned char)rng_next(&b->rng);
}

static void bench_close(bench_t *b)
{
    apr_pool_destroy(b->pool);
}

static double load(bench_t *b, apr_size_t first, apr_size_t count, apr_time_t exp)
{
    double t0 = now_ns();
    apr_size_t i;

    for (i = first; i < first + count; i++)
        must("set", nsso_store_set(b->s, b->keys[i], b->value, value_size, exp, NULL));
    return (now_ns() - t0) / (double)count;
}

static double gets(bench_t *b)
{
    apr_pool_t *p;
    double t0;
    char *val;
    apr_size_t len;
    int i;

    must("pool", apr_pool_create(&p, b->pool));
    t0 = now_ns();
    for (i = 0; i < OPS; i++) {
        must("get", nsso_store_get(b->s, p, b->keys[rng_next(&b->rng) % b->n], &val, &len));
        if (i % 256 == 255)
            apr_pool_clear(p);
    }
    t0 = (now_ns() - t0) / OPS;
    apr_pool_destroy(p);
    return t0;
}

static double replaces(bench_t *b, apr_time_t exp)
{
    double t0 = now_ns();
    int i;

    for (i = 0; i < OPS; i++)
        must("set", nsso_store_set(b->s, b->keys[rng_next(&b->rng) % b->n], b->value,
                                   value_size, exp, NULL));
    return (now_ns() - t0) / OPS;
}

/* After every entry has expired: microseconds of the first set (it runs
 * the first expiry sweep) and mean ns per set while the store refills. */
static void after_expiry(bench_t *b, double *first_us, double *refill_ns)
{
    apr_time_t exp = apr_time_now() + apr_time_from_sec(3600);
    nsso_store_stats_t before, after;
    double t0;
    int ev = 0;

    load(b, 0, b->n, apr_time_now() + apr_time_from_msec(300));
    apr_sleep(apr_time_from_msec(400));
    must("stats", nsso_store_stats(b->s, &before));
    t0 = now_ns();
    must("set", nsso_store_set(b->s, b->keys[b->n], b->value, value_size, exp, &ev));
    *first_us = (now_ns() - t0) / 1e3;
    *refill_ns = load(b, b->n + 1, b->n - 1, exp);
    must("check", nsso_shm_store_check(b->s));
    must("stats", nsso_store_stats(b->s, &after));
    if (ev || after.evicted != before.evicted || after.live != b->n)
        die("a live entry was evicted while expired ones remained", APR_EGENERAL);
}

static void run(apr_size_t n)
{
    bench_t b;
    apr_time_t exp = apr_time_now() + apr_time_from_sec(3600);
    double ins, get, rep, evict, first, refill;
    nsso_store_stats_t st;
    apr_size_t fresh = n < OPS ? n : OPS;
    long rss0, rss1;

    bench_open(&b, n);
    rss0 = rss_shmem_kb();
    ins = load(&b, 0, n, exp);
    rss1 = rss_shmem_kb();
    get = gets(&b);
    rep = replaces(&b, exp);
    evict = load(&b, n, fresh, exp);
    must("stats", nsso_store_stats(b.s, &st));
    if (st.live != n || st.evicted != fresh)
        die("unexpected stats", APR_EGENERAL);
    must("check", nsso_shm_store_check(b.s));
    after_expiry(&b, &first, &refill);
    printf("%7lu  %8.0f  %8.0f  %8.0f  %9.0f  %9.1f  %8.0f  %9.0f  %9.0f\n", (unsigned long)n,
           get, rep, ins, evict, first, refill, (double)b.shm_size * 1000.0 / (double)n,
           rss0 < 0 || rss1 < 0 ? -1.0 : (double)(rss1 - rss0) * 1000.0 / (double)n);
    bench_close(&b);
}

int main(int argc, char **argv)
{
    static const apr_size_t sizes[] = { 1000, 10000, 100000 };
    apr_size_t i;

    if (argc > 1) {
        long v = strtol(argv[1], NULL, 10);
        if (v < 16 || v > MAX_VALUE) {
            fprintf(stderr, "usage: store_bench [value-bytes 16..%d]\n", MAX_VALUE);
            return 2;
        }
        value_size = (apr_size_t)v;
    }
    apr_initialize();
    printf("%lu-byte values, %d random ops per figure, uncontended store lock\n",
           (unsigned long)value_size, OPS);
    printf("%7s  %8s  %8s  %8s  %9s  %9s  %8s  %9s  %9s\n", "live", "get ns", "replace",
           "insert", "ins+evict", "1st-exp us", "refill", "shm B/1k", "RSS KB/1k");
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        run(sizes[i]);
    apr_terminate();
    return 0;
}
