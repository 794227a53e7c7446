/* metrics.c - the module's Prometheus counters. The segment lives in the
 * *process* pool (like the session store's): graceful restarts re-read the
 * configuration but keep it, so counters only ever go up while httpd runs.
 * It holds one block of counters per child slot (ServerLimit): a child
 * adds to the block of the scoreboard slot it runs in, so children never
 * share a cache line in the common case; a new child in a slot keeps adding
 * to what the one before it counted. Every add is atomic, so two processes
 * on one block (an old generation's child still finishing in a slot, or a
 * child that could not find its slot) cost speed, never counts. A scrape
 * sums the blocks. */
#include "metrics.h"
#include "config.h"
#include "http.h"

#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <scoreboard.h>
#include <unistd.h>

#define METRICS_USERDATA_KEY "mod_nomis_sso:metrics"
#define METRICS_MAGIC 0x6e736d32u /* "nsm2": bump when the block layout changes */

/* Calls to HMPPS Auth, by what they ask for. */
typedef enum { EP_TOKEN, EP_JWKS, EP_USER, EP_CASELOADS, EP_VERIFY, EP_PING, EP_OTHER, EP_N } endpoint_t;

static const struct {
    const char *suffix; /* of the URL's path */
    const char *name;
} endpoints[EP_N] = {
    { "/oauth/token", "token" },
    { "/.well-known/jwks.json", "jwks" },
    { "/api/user/me", "user" },
    { "/users/me/caseloads", "caseloads" },
    { "/token/verify", "verify" },
    { "/health/ping", "ping" },
    { NULL, "other" },
};

/* The statuses counted one by one; any other is "other", no answer "none". */
static const long codes[] = { 200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503, 504 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))
#define CODE_OTHER NCODES
#define CODE_NONE (NCODES + 1)
#define CODE_N (NCODES + 2)

/* Histogram bounds in microseconds (le="0.005" ... le="10", then +Inf). */
static const apr_uint64_t bounds_us[] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};
#define NBOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

typedef struct {
    apr_uint64_t counters[NSSO_M_N];
    apr_uint64_t failures[NSSO_FAIL_N];
    apr_uint64_t refreshes[NSSO_REFRESH_N];
    apr_uint64_t bearer[NSSO_BEARER_N];
    apr_uint64_t calls[EP_N][CODE_N];
    apr_uint64_t buckets[EP_N][NBOUNDS + 1]; /* per bucket, not cumulative */
    apr_uint64_t usec[EP_N];                 /* sum of durations */
} counts_t;

/* A block is a whole number of cache lines: neighbours never share one. */
typedef union {
    counts_t c;
    char pad[(sizeof(counts_t) + 63) / 64 * 64];
} block_t;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nblocks;
    apr_uint64_t block_size;
    char pad[48];
} seg_header_t;

/* Kept in the process pool's userdata across configuration cycles. */
typedef struct {
    apr_shm_t *shm;
    apr_size_t nblocks;
} metrics_holder;

static block_t *blocks;     /* NULL: metrics off */
static apr_size_t nblocks;
static block_t *mine;       /* this process's block, found at its first count */

static const char *fail_names[NSSO_FAIL_N] = {
    "state", "cancelled", "auth_error", "code_refused", "auth_unavailable",
    "token_refused", "store"
};
static const char *refresh_names[NSSO_REFRESH_N] = { "ok", "rejected", "failed" };
static const char *bearer_names[NSSO_BEARER_N] = {
    "accepted", "invalid", "expired", "wrong_client", "unavailable"
};

const char *nsso_fail_reason_name(nsso_fail_reason_t why)
{
    return (unsigned)why < NSSO_FAIL_N ? fail_names[why] : "unknown";
}

const char *nsso_refresh_result_name(nsso_refresh_result_t res)
{
    return (unsigned)res < NSSO_REFRESH_N ? refresh_names[res] : "unknown";
}

const char *nsso_bearer_result_name(nsso_bearer_result_t res)
{
    return (unsigned)res < NSSO_BEARER_N ? bearer_names[res] : "unknown";
}

int nsso_metrics_on(void)
{
    return blocks != NULL;
}

/* ---- counting ---------------------------------------------------------------- */

/* The scoreboard slot this child runs in; its pid when the parent has not
 * written the slot yet (prefork writes it just after fork). */
static apr_size_t own_slot(void)
{
    pid_t pid = getpid();
    int limit = 0, i;

    if (ap_exists_scoreboard_image()
        && ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) == APR_SUCCESS)
        for (i = 0; i < limit; i++) {
            process_score *ps = ap_get_scoreboard_process(i);
            if (ps && ps->pid == pid)
                return (apr_size_t)i;
        }
    return (apr_size_t)pid;
}

static counts_t *my_counts(void)
{
    block_t *b = __atomic_load_n(&mine, __ATOMIC_RELAXED);

    if (!b) {
        if (!blocks)
            return NULL;
        b = &blocks[own_slot() % nblocks];
        __atomic_store_n(&mine, b, __ATOMIC_RELAXED);
    }
    return &b->c;
}

static void add(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

void nsso_metrics_count(nsso_counter_t m)
{
    counts_t *c = my_counts();

    if (c && (unsigned)m < NSSO_M_N)
        add(&c->counters[m], 1);
}

void nsso_metrics_sessions_ended(int admin, int n)
{
    counts_t *c = my_counts();

    if (c && n > 0)
        add(&c->counters[admin ? NSSO_M_ENDED_BY_ADMIN : NSSO_M_ENDED_BY_USER],
            (apr_uint64_t)n);
}

void nsso_metrics_sign_in_failed(nsso_fail_reason_t why)
{
    counts_t *c = my_counts();

    if (c && (unsigned)why < NSSO_FAIL_N)
        add(&c->failures[why], 1);
}

void nsso_metrics_refresh(nsso_refresh_result_t res)
{
    counts_t *c = my_counts();

    if (c && (unsigned)res < NSSO_REFRESH_N)
        add(&c->refreshes[res], 1);
}

void nsso_metrics_bearer(nsso_bearer_result_t res)
{
    counts_t *c = my_counts();

    if (c && (unsigned)res < NSSO_BEARER_N)
        add(&c->bearer[res], 1);
}

static endpoint_t endpoint_of(const char *url)
{
    apr_size_t n = strcspn(url, "?#"), k;
    int i;

    for (i = 0; i < EP_OTHER; i++) {
        k = strlen(endpoints[i].suffix);
        if (n >= k && !strncmp(url + n - k, endpoints[i].suffix, k))
            return (endpoint_t)i;
    }
    return EP_OTHER;
}

static apr_size_t code_index(long status)
{
    apr_size_t i;

    if (status <= 0)
        return CODE_NONE;
    for (i = 0; i < NCODES; i++)
        if (codes[i] == status)
            return i;
    return CODE_OTHER;
}

/* http.c's observer: every call to HMPPS Auth, by endpoint, code and time. */
static void observe_http(const char *url, long status, apr_interval_time_t took)
{
    counts_t *c = my_counts();
    endpoint_t ep;
    apr_uint64_t us = took > 0 ? (apr_uint64_t)took : 0;
    apr_size_t b = 0;

    if (!c)
        return;
    ep = endpoint_of(url);
    while (b < NBOUNDS && us > bounds_us[b])
        b++;
    add(&c->calls[ep][code_index(status)], 1);
    add(&c->buckets[ep][b], 1);
    add(&c->usec[ep], us);
}

/* ---- the segment ------------------------------------------------------------- */

static metrics_holder *holder_get(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *v = NULL;

    apr_pool_userdata_get(&v, METRICS_USERDATA_KEY, pp);
    if (!v) {
        v = apr_pcalloc(pp, sizeof(metrics_holder));
        apr_pool_userdata_set(v, METRICS_USERDATA_KEY, apr_pool_cleanup_null, pp);
    }
    return v;
}

/* A kept segment is used only when written by this very layout. */
static int segment_fits(const metrics_holder *h, apr_size_t want)
{
    const seg_header_t *hd;

    if (!h->shm || h->nblocks != want)
        return 0;
    hd = apr_shm_baseaddr_get(h->shm);
    return hd->magic == METRICS_MAGIC && hd->nblocks == want
           && hd->block_size == sizeof(block_t);
}

apr_status_t nsso_metrics_post_config(server_rec *s)
{
    metrics_holder *h = holder_get(s);
    int limit = 0;
    apr_size_t want, size;
    seg_header_t *hd;
    apr_status_t rv;

    blocks = NULL;
    mine = NULL;
    nsso_http_set_observer(NULL);
    if (!nsso_global()->metrics)
        return APR_SUCCESS;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1)
        limit = 1;
    want = (apr_size_t)limit;
    size = sizeof(seg_header_t) + want * sizeof(block_t);
    if (h->shm && !segment_fits(h, want)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, NSSO_LOGNO(1300) "metrics: ServerLimit "
                     "or the module's counters changed: counting starts again from zero");
        apr_shm_destroy(h->shm);
        h->shm = NULL;
    }
    if (!h->shm) {
        rv = apr_shm_create(&h->shm, size, NULL, s->process->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(1301) "metrics: cannot "
                         "create %" APR_SIZE_T_FMT " bytes of shared memory for the counters "
                         "(NomisSSOMetrics Off does without)", size);
            return rv;
        }
        hd = apr_shm_baseaddr_get(h->shm);
        memset(hd, 0, size);
        hd->magic = METRICS_MAGIC;
        hd->nblocks = (apr_uint32_t)want;
        hd->block_size = sizeof(block_t);
        h->nblocks = want;
    }
    blocks = (block_t *)((char *)apr_shm_baseaddr_get(h->shm) + sizeof(seg_header_t));
    nblocks = h->nblocks;
    nsso_http_set_observer(observe_http);
    return APR_SUCCESS;
}

void nsso_metrics_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    (void)s;
    mine = NULL; /* not the parent's (it never counts, but be sure) */
}

/* ---- scraping ----------------------------------------------------------------- */

static void sum_blocks(counts_t *t)
{
    const apr_uint64_t *src;
    apr_uint64_t *dst = (apr_uint64_t *)t;
    apr_size_t i, k, n = sizeof(counts_t) / sizeof(apr_uint64_t);

    memset(t, 0, sizeof(*t));
    for (i = 0; i < nblocks; i++) {
        src = (const apr_uint64_t *)&blocks[i].c;
        for (k = 0; k < n; k++)
            dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
    }
}

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *out;
} text_t;

static void put(text_t *t, const char *line)
{
    APR_ARRAY_PUSH(t->out, const char *) = line;
}

static void head(text_t *t, const char *name, const char *type, const char *help)
{
    put(t, apr_psprintf(t->p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
}

static void value(text_t *t, const char *name, const char *labels, apr_uint64_t v)
{
    put(t, apr_psprintf(t->p, "%s%s%s%s %" APR_UINT64_T_FMT "\n", name,
                        labels ? "{" : "", labels ? labels : "", labels ? "}" : "", v));
}

static void labelled(text_t *t, const char *name, const char *label, const char *const *names,
                     const apr_uint64_t *v, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++)
        value(t, name, apr_psprintf(t->p, "%s=\"%s\"", label, names[i]), v[i]);
}

static const char *code_name(apr_pool_t *p, apr_size_t i)
{
    if (i == CODE_NONE)
        return "none";
    if (i == CODE_OTHER)
        return "other";
    return apr_ltoa(p, codes[i]);
}

static void auth_calls(text_t *t, const counts_t *c)
{
    static const char *calls = "nomis_sso_auth_server_requests_total";
    static const char *secs = "nomis_sso_auth_server_request_seconds";
    apr_size_t e, k;

    head(t, calls, "counter", "Calls to HMPPS Auth by endpoint and HTTP status "
         "(none: no answer)");
    for (e = 0; e < EP_N; e++)
        for (k = 0; k < CODE_N; k++)
            if (c->calls[e][k])
                value(t, calls, apr_psprintf(t->p, "endpoint=\"%s\",code=\"%s\"",
                                             endpoints[e].name, code_name(t->p, k)),
                      c->calls[e][k]);
    head(t, secs, "histogram", "Time taken by calls to HMPPS Auth, by endpoint");
    for (e = 0; e < EP_N; e++) {
        apr_uint64_t cum = 0;
        for (k = 0; k <= NBOUNDS; k++)
            cum += c->buckets[e][k];
        if (!cum)
            continue;
        cum = 0;
        for (k = 0; k <= NBOUNDS; k++) {
            cum += c->buckets[e][k];
            put(t, apr_psprintf(t->p, "%s_bucket{endpoint=\"%s\",le=\"%s\"} %" APR_UINT64_T_FMT
                                "\n", secs, endpoints[e].name,
                                k < NBOUNDS ? apr_psprintf(t->p, "%g", bounds_us[k] / 1e6)
                                            : "+Inf", cum));
        }
        put(t, apr_psprintf(t->p, "%s_sum{endpoint=\"%s\"} %.6f\n", secs, endpoints[e].name,
                            c->usec[e] / 1e6));
        put(t, apr_psprintf(t->p, "%s_count{endpoint=\"%s\"} %" APR_UINT64_T_FMT "\n", secs,
                            endpoints[e].name, cum));
    }
}

static void store_gauges(text_t *t, const nsso_store_stats_t *st)
{
    head(t, "nomis_sso_sessions_live", "gauge", "Live entries in the session store "
         "(sessions, sign-in markers, cached bearer tokens)");
    if (st)
        value(t, "nomis_sso_sessions_live", NULL, st->live);
    head(t, "nomis_sso_store_capacity", "gauge", "Entries the session store holds");
    if (st)
        value(t, "nomis_sso_store_capacity", NULL, st->capacity);
    head(t, "nomis_sso_store_evictions_total", "counter", "Live sessions dropped to make "
         "room in a full session store");
    if (st)
        value(t, "nomis_sso_store_evictions_total", NULL, st->evicted);
}

char *nsso_metrics_render(apr_pool_t *p, const nsso_store_stats_t *st)
{
    text_t t = { p, apr_array_make(p, 64, sizeof(const char *)) };
    counts_t c;

    if (!blocks)
        return NULL;
    sum_blocks(&c);
    head(&t, "nomis_sso_sign_ins_total", "counter", "Completed sign-ins");
    value(&t, "nomis_sso_sign_ins_total", NULL, c.counters[NSSO_M_SIGN_INS]);
    head(&t, "nomis_sso_sign_in_failures_total", "counter", "Sign-ins that failed, by reason");
    labelled(&t, "nomis_sso_sign_in_failures_total", "reason", fail_names, c.failures,
             NSSO_FAIL_N);
    head(&t, "nomis_sso_denials_total", "counter", "Signed-in requests refused by Require rules");
    value(&t, "nomis_sso_denials_total", NULL, c.counters[NSSO_M_DENIALS]);
    head(&t, "nomis_sso_sign_outs_total", "counter", "Sign-outs of a session");
    value(&t, "nomis_sso_sign_outs_total", NULL, c.counters[NSSO_M_SIGN_OUTS]);
    head(&t, "nomis_sso_sessions_ended_total", "counter", "Sessions ended from another "
         "session, by who asked");
    value(&t, "nomis_sso_sessions_ended_total", "by=\"user\"",
          c.counters[NSSO_M_ENDED_BY_USER]);
    value(&t, "nomis_sso_sessions_ended_total", "by=\"admin\"",
          c.counters[NSSO_M_ENDED_BY_ADMIN]);
    head(&t, "nomis_sso_session_index_evictions_total", "counter", "Sessions dropped from "
         "their user's index (not ended) because the user had more than it holds");
    value(&t, "nomis_sso_session_index_evictions_total", NULL,
          c.counters[NSSO_M_INDEX_EVICTIONS]);
    head(&t, "nomis_sso_refreshes_total", "counter", "Access token refreshes, by result");
    labelled(&t, "nomis_sso_refreshes_total", "result", refresh_names, c.refreshes,
             NSSO_REFRESH_N);
    head(&t, "nomis_sso_bearer_tokens_total", "counter", "Bearer tokens checked, by result");
    labelled(&t, "nomis_sso_bearer_tokens_total", "result", bearer_names, c.bearer,
             NSSO_BEARER_N);
    store_gauges(&t, st);
    head(&t, "nomis_sso_store_unavailable_total", "counter", "Requests answered 503 because "
         "the session store could not answer");
    value(&t, "nomis_sso_store_unavailable_total", NULL, c.counters[NSSO_M_STORE_UNAVAILABLE]);
    head(&t, "nomis_sso_store_failovers_total", "counter", "Times a Redis store found its "
         "primary gone or demoted and looked for it again");
    value(&t, "nomis_sso_store_failovers_total", NULL, c.counters[NSSO_M_STORE_FAILOVERS]);
    head(&t, "nomis_sso_store_replica_shortfalls_total", "counter", "New sessions fewer "
         "replicas acknowledged than NomisSSOSessionStoreReplicas asks for");
    value(&t, "nomis_sso_store_replica_shortfalls_total", NULL,
          c.counters[NSSO_M_STORE_REPLICA_SHORT]);
    head(&t, "nomis_sso_jwks_refreshes_total", "counter", "Fetches of HMPPS Auth's signing keys");
    value(&t, "nomis_sso_jwks_refreshes_total", NULL, c.counters[NSSO_M_JWKS_REFRESHES]);
    auth_calls(&t, &c);
    return apr_array_pstrcat(p, t.out, 0);
}
