/* store_redis.c - sessions in Redis through our own client (redis.c), for
 * engines httpd's mod_socache_redis cannot reach (TLS, ACL users).
 *
 * The engine sees what the socache store gives it (store_seal.c): keys
 * replaced by an HMAC, values sealed with their key and absolute expiry,
 * so both stores write the same bytes. Unlike socache, Redis has atomic
 * conditional writes: add() is SET NX and replace() is SET XX, atomic
 * across every host sharing the engine.
 *
 * Connections: each child keeps a few idle ones (a mutex-protected stack,
 * so the event and worker MPMs' threads share them), opened on demand. A
 * pooled connection that fails (Redis restarted) is dropped with every
 * other idle one and the call is tried once on a fresh connection. A
 * failed connect holds further connects back for a short backoff (25 ms
 * doubling to 400 ms), so a Redis that is down costs a quick 503 rather
 * than a connect per request, and service resumes within the backoff of
 * its return. */
#include "store_redis.h"
#include "store_seal.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <unistd.h>

#define MAX_IDLE 16
#define CONNECT_TIMEOUT_MS 2000
#define CALL_TIMEOUT_MS 2000
#define BACKOFF_MIN apr_time_from_msec(25)
#define BACKOFF_MAX apr_time_from_msec(400)
#define LOG_EVERY apr_time_from_sec(60)

typedef struct {
    server_rec *s;
    const nsso_crypto *crypto;
    apr_size_t max_value;
    nsso_redis_url_t url;
    nsso_redis_target_t target;
    apr_thread_mutex_t *mu;     /* everything below */
    pid_t pid;                  /* the process the idle connections belong to */
    nsso_redis_conn *idle[MAX_IDLE];
    int nidle;
    apr_time_t retry_at;        /* no connect before this (backoff) */
    apr_interval_time_t backoff;
    int down;                   /* the last connect failed (logged when it is back) */
    apr_time_t logged[NSSO_REDIS_EPROTO + 1];
    apr_uint64_t gets, hits, sets, deletes;
} redis_store;

/* ---- logging: one line per kind of failure a minute, naming the fix ---- */

static const char *directive_for(const nsso_redis_error_t *e)
{
    switch (e->kind) {
    case NSSO_REDIS_EAUTH:
        return "NomisSSOSessionStorePassword";
    case NSSO_REDIS_EVERIFY:
        return "NomisSSOSessionStoreCACertificateFile";
    case NSSO_REDIS_ETLS: /* e.g. "tlsv13 alert certificate required" */
        return strstr(e->msg, "certificate") ? "NomisSSOSessionStoreCertificateFile"
                                             : "NomisSSOSessionStore";
    default:
        return "NomisSSOSessionStore";
    }
}

static void log_failure(redis_store *st, const nsso_redis_error_t *e)
{
    apr_time_t now = apr_time_now();
    int due;

    apr_thread_mutex_lock(st->mu);
    due = !st->logged[e->kind] || now - st->logged[e->kind] >= LOG_EVERY;
    if (due)
        st->logged[e->kind] = now;
    apr_thread_mutex_unlock(st->mu);
    if (due)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s, NSSO_LOGNO(0910) "%s: Redis at %s:%d: %s (sessions "
                     "answer 503 until this is fixed)", directive_for(e),
                     st->url.host, st->url.port, e->msg);
}

/* ---- connections ---------------------------------------------------------- */

/* Idle connections inherited from another process are not ours to use. */
static void own_idle(redis_store *st)
{
    if (st->pid != getpid()) {
        st->pid = getpid();
        st->nidle = 0;
    }
}

static void drop_idle(redis_store *st)
{
    nsso_redis_conn *old[MAX_IDLE];
    int n, i;

    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    for (n = 0; n < st->nidle; n++)
        old[n] = st->idle[n];
    st->nidle = 0;
    apr_thread_mutex_unlock(st->mu);
    for (i = 0; i < n; i++)
        nsso_redis_close(old[i]);
}

static void connected(redis_store *st, apr_status_t rv)
{
    int was_down;

    apr_thread_mutex_lock(st->mu);
    was_down = st->down;
    if (rv == APR_SUCCESS) {
        st->down = 0;
        st->backoff = 0;
        st->retry_at = 0;
    } else {
        st->down = 1;
        st->backoff = st->backoff ? st->backoff * 2 : BACKOFF_MIN;
        if (st->backoff > BACKOFF_MAX)
            st->backoff = BACKOFF_MAX;
        st->retry_at = apr_time_now() + st->backoff;
    }
    apr_thread_mutex_unlock(st->mu);
    if (rv == APR_SUCCESS && was_down)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, NSSO_LOGNO(0911) "NomisSSOSessionStore: Redis at "
                     "%s:%d reachable again", st->url.host, st->url.port);
}

/* An idle connection (*reused = 1) or a new one. */
static apr_status_t acquire(redis_store *st, nsso_redis_conn **c, int *reused)
{
    nsso_redis_error_t e;
    apr_status_t rv;

    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    *reused = st->nidle > 0;
    if (*reused)
        *c = st->idle[--st->nidle];
    rv = !*reused && apr_time_now() < st->retry_at ? APR_ECONNREFUSED : APR_SUCCESS;
    apr_thread_mutex_unlock(st->mu);
    if (*reused || rv != APR_SUCCESS)
        return rv;
    rv = nsso_redis_connect(&st->target, c, &e);
    connected(st, rv);
    if (rv != APR_SUCCESS)
        log_failure(st, &e);
    return rv;
}

static void release(redis_store *st, nsso_redis_conn *c)
{
    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    if (st->nidle < MAX_IDLE) {
        st->idle[st->nidle++] = c;
        c = NULL;
    }
    apr_thread_mutex_unlock(st->mu);
    nsso_redis_close(c);
}

/* One command. A failure on a pooled connection (the engine restarted
 * since) drops the idle ones and tries once more on a fresh connection. */
static apr_status_t exec(redis_store *st, int argc, const char **argv, const size_t *lens,
                         redisReply **reply)
{
    nsso_redis_error_t e;
    nsso_redis_conn *c;
    apr_status_t rv;
    int reused, tries;

    for (tries = 0; tries < 2; tries++) {
        if ((rv = acquire(st, &c, &reused)) != APR_SUCCESS)
            return rv;
        rv = nsso_redis_call(c, argc, argv, lens, reply, &e);
        if (rv == APR_SUCCESS) {
            release(st, c);
            if ((*reply)->type == REDIS_REPLY_ERROR) {
                e.kind = !strncmp((*reply)->str, "NOAUTH", 6)
                         || !strncmp((*reply)->str, "NOPERM", 6) ? NSSO_REDIS_EAUTH
                                                                 : NSSO_REDIS_EPROTO;
                snprintf(e.msg, sizeof(e.msg), "%s refused: %.200s", argv[0], (*reply)->str);
                log_failure(st, &e);
                freeReplyObject(*reply);
                *reply = NULL;
                return APR_EGENERAL;
            }
            return APR_SUCCESS;
        }
        nsso_redis_close(c);
        if (!reused)
            break;
        drop_idle(st);
    }
    log_failure(st, &e);
    return rv;
}

static int is_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK");
}

static void count(redis_store *st, apr_uint64_t *counter, int n)
{
    apr_thread_mutex_lock(st->mu);
    *counter += (apr_uint64_t)n;
    apr_thread_mutex_unlock(st->mu);
}

static int bad_key(const char *key)
{
    return !key || !*key || strlen(key) > NSSO_STORE_MAX_KEY;
}

/* ---- operations ----------------------------------------------------------- */

static apr_status_t rs_get(nsso_store *s, apr_pool_t *p, const char *key, char **val,
                           apr_size_t *len)
{
    redis_store *st = s->impl;
    const char *argv[2] = { "GET", NULL };
    size_t lens[2] = { 3, NSSO_SEAL_KEY_LEN };
    redisReply *r;
    apr_status_t rv;

    if (bad_key(key))
        return APR_EINVAL;
    argv[1] = nsso_seal_key(p, st->crypto, key);
    count(st, &st->gets, 1);
    if ((rv = exec(st, 2, argv, lens, &r)) != APR_SUCCESS)
        return rv;
    if (r->type == REDIS_REPLY_STRING)
        /* a value that does not open, or has expired, is as good as absent */
        rv = nsso_seal_open(p, st->crypto, key, apr_pstrmemdup(p, r->str, r->len), val, len)
             == APR_SUCCESS ? APR_SUCCESS : APR_NOTFOUND;
    else
        rv = r->type == REDIS_REPLY_NIL ? APR_NOTFOUND : APR_EGENERAL;
    freeReplyObject(r);
    if (rv == APR_SUCCESS)
        count(st, &st->hits, 1);
    return rv;
}

/* SET with a relative expiry (PX: every Redis since 2.6, ElastiCache too)
 * and cond ("NX", "XX" or NULL). APR_EEXIST / APR_NOTFOUND when cond said no. */
static apr_status_t put(redis_store *st, const char *key, const void *val, apr_size_t len,
                        apr_time_t expiry, const char *cond)
{
    const char *argv[6];
    size_t lens[6];
    char ms[24], *sealed;
    apr_interval_time_t left = expiry - apr_time_now();
    apr_pool_t *p;
    redisReply *r;
    apr_status_t rv;
    int argc = 5;

    if (bad_key(key))
        return APR_EINVAL;
    if (len > st->max_value)
        return APR_ENOSPC;
    if ((rv = apr_pool_create(&p, NULL)) != APR_SUCCESS)
        return rv;
    if ((rv = nsso_seal_value(p, st->crypto, key, val, len, expiry, &sealed)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    argv[0] = "SET";
    argv[1] = nsso_seal_key(p, st->crypto, key);
    argv[2] = sealed;
    argv[3] = "PX";
    argv[4] = ms;
    snprintf(ms, sizeof(ms), "%" APR_INT64_T_FMT, left > 1000 ? (apr_int64_t)(left / 1000) : 1);
    if (cond)
        argv[argc++] = cond;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    count(st, &st->sets, 1);
    rv = exec(st, argc, argv, lens, &r);
    apr_pool_destroy(p);
    if (rv != APR_SUCCESS)
        return rv;
    if (is_ok(r))
        rv = APR_SUCCESS;
    else if (r->type == REDIS_REPLY_NIL && cond)
        rv = cond[0] == 'N' ? APR_EEXIST : APR_NOTFOUND;
    else
        rv = APR_EGENERAL;
    freeReplyObject(r);
    return rv;
}

static apr_status_t rs_del(nsso_store *s, const char *key)
{
    redis_store *st = s->impl;
    const char *argv[2] = { "DEL", NULL };
    size_t lens[2] = { 3, NSSO_SEAL_KEY_LEN };
    apr_pool_t *p;
    redisReply *r;
    apr_status_t rv;

    if (bad_key(key))
        return APR_EINVAL;
    if ((rv = apr_pool_create(&p, NULL)) != APR_SUCCESS)
        return rv;
    argv[1] = nsso_seal_key(p, st->crypto, key);
    count(st, &st->deletes, 1);
    rv = exec(st, 2, argv, lens, &r);
    apr_pool_destroy(p);
    if (rv != APR_SUCCESS)
        return rv;
    rv = r->type == REDIS_REPLY_INTEGER ? (r->integer ? APR_SUCCESS : APR_NOTFOUND)
                                        : APR_EGENERAL;
    freeReplyObject(r);
    return rv;
}

static apr_status_t rs_set(nsso_store *s, const char *key, const void *val,
                           apr_size_t len, apr_time_t expiry, int *evicted_live)
{
    apr_status_t rv;

    if (evicted_live)
        *evicted_live = 0; /* Redis evicts by its own maxmemory-policy, silently */
    if (expiry > apr_time_now())
        return put(s->impl, key, val, len, expiry, NULL);
    rv = rs_del(s, key);
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

static apr_status_t rs_add(nsso_store *s, const char *key, const void *val,
                           apr_size_t len, apr_time_t expiry)
{
    return put(s->impl, key, val, len, expiry, "NX");
}

static apr_status_t rs_replace(nsso_store *s, const char *key, const void *val,
                               apr_size_t len, apr_time_t expiry)
{
    return put(s->impl, key, val, len, expiry, "XX");
}

/* This process's own counters: Redis keeps the engine-wide ones (INFO). */
static apr_status_t rs_stats(nsso_store *s, nsso_store_stats_t *out)
{
    redis_store *st = s->impl;

    memset(out, 0, sizeof(*out));
    apr_thread_mutex_lock(st->mu);
    out->gets = st->gets;
    out->hits = st->hits;
    out->sets = st->sets;
    out->deletes = st->deletes;
    apr_thread_mutex_unlock(st->mu);
    return APR_SUCCESS;
}

static const nsso_store_ops redis_ops = {
    "redis", rs_get, rs_set, rs_add, rs_replace, rs_del, rs_stats, NULL /* no get_known */
};

static apr_status_t close_idle(void *data)
{
    drop_idle(data);
    return APR_SUCCESS;
}

apr_status_t nsso_redis_store_create(apr_pool_t *pconf, server_rec *s,
                                     const nsso_redis_settings *set,
                                     const nsso_crypto *crypto, apr_size_t max_value,
                                     nsso_store **out, const char **err)
{
    redis_store *st = apr_pcalloc(pconf, sizeof(*st));
    nsso_store *store;
    const char *why = NULL;
    apr_status_t rv;

    if (nsso_redis_url_parse(pconf, set->url, &st->url, &why) != APR_SUCCESS) {
        *err = apr_pstrcat(pconf, "NomisSSOSessionStore: ", why, NULL);
        return APR_EINVAL;
    }
    if (st->url.user && !set->password && !st->url.password) {
        *err = "NomisSSOSessionStore: a Redis user needs a password "
               "(NomisSSOSessionStorePassword)";
        return APR_EINVAL;
    }
    if (st->url.tls && (rv = nsso_redis_tls_create(pconf, set->ca_file, set->cert_file,
                                                   set->key_file, &st->target.tls,
                                                   err)) != APR_SUCCESS)
        return rv;
    if (!st->url.tls && (set->ca_file || set->cert_file)) {
        *err = "NomisSSOSessionStoreCACertificateFile/CertificateFile need a rediss:// "
               "(TLS) NomisSSOSessionStore";
        return APR_EINVAL;
    }
    if ((rv = apr_thread_mutex_create(&st->mu, APR_THREAD_MUTEX_DEFAULT, pconf))
        != APR_SUCCESS) {
        *err = "NomisSSOSessionStore: cannot create a mutex";
        return rv;
    }
    st->s = s;
    st->crypto = crypto;
    st->max_value = max_value;
    st->pid = getpid();
    st->target.url = &st->url;
    st->target.password = set->password;
    st->target.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    st->target.timeout_ms = CALL_TIMEOUT_MS;
    apr_pool_cleanup_register(pconf, st, close_idle, apr_pool_cleanup_null);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NSSO_LOGNO(0912) "session store: Redis at %s:%d db %d, %s%s%s",
                 st->url.host, st->url.port, st->url.db, st->url.tls ? "TLS" : "no TLS",
                 st->url.user ? ", user " : "", st->url.user ? st->url.user : "");
    store = apr_pcalloc(pconf, sizeof(*store));
    store->ops = &redis_ops;
    store->impl = st;
    *out = store;
    return APR_SUCCESS;
}
