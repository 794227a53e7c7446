/* store_redis.c - sessions in Redis through our own client (redis.c), for
 * engines httpd's mod_socache_redis cannot reach (TLS, ACL users), and for
 * a Redis that fails over (an ElastiCache replication group's primary
 * endpoint, or Sentinel).
 *
 * The engine sees what the socache store gives it (store_seal.c): keys
 * replaced by an HMAC, values sealed with their key and absolute expiry,
 * so both stores write the same bytes. Unlike socache, Redis has atomic
 * conditional writes: add() is SET NX and replace() is SET XX, atomic
 * across every host sharing the engine.
 *
 * Connections: each child keeps a few idle ones (a mutex-protected stack,
 * so the event and worker MPMs' threads share them), opened on demand, each
 * to a node that said it is the primary (ROLE) when it was opened. A failed
 * connect holds further connects back for a short backoff (25 ms doubling
 * to 400 ms), so a Redis that is down costs a quick 503 rather than a
 * connect per request, and service resumes within the backoff of its
 * return.
 *
 * Failover: a pooled connection that fails (reset: the node restarted or
 * went), or a node that answers READONLY/LOADING/MASTERDOWN (demoted), or
 * a miss from a node that is no longer the primary, means the primary may
 * have moved: every idle connection is dropped, so is every connection in
 * use when it comes back (the epoch), the primary's address is forgotten
 * (Sentinel is asked again; a name is resolved again), and the command is
 * tried once more on a fresh connection. A store that still cannot answer
 * is an error the caller turns into a 503, never a missing session. */
#include "store_redis.h"
#include "store_seal.h"
#include "metrics.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_IDLE 16
#define BACKOFF_MIN apr_time_from_msec(25)
#define BACKOFF_MAX apr_time_from_msec(400)
#define LOG_EVERY apr_time_from_sec(60)
#define HOST_MAX 256
/* Sentinel: how often each child asks whether the primary has moved. A
 * demoted primary keeps taking writes until the sentinels reconfigure it
 * (seconds after the switch), so pooled connections cannot wait for an
 * error to learn of a failover: writes there in between would be lost. */
#define RECHECK_EVERY apr_time_from_sec(1)
#define RECHECK_QUIET apr_time_from_sec(10) /* while no sentinel answers */

typedef struct {
    nsso_redis_conn *conn;
    apr_uint64_t epoch;         /* the store's epoch when it was opened */
} pooled_t;

typedef struct {
    server_rec *s;
    const nsso_crypto *crypto;
    apr_size_t max_value;
    int timeout_ms;
    int replicas;               /* NomisSSOSessionStoreReplicas */
    nsso_redis_url_t url;
    nsso_redis_target_t node;   /* the data nodes (host and port: the primary's) */
    nsso_redis_target_t sentinel; /* the sentinels (host and port: each one's) */
    apr_thread_mutex_t *mu;     /* everything below */
    pid_t pid;                  /* the process the idle connections belong to */
    pooled_t idle[MAX_IDLE];
    int nidle;
    apr_uint64_t epoch;         /* one more at each failover seen */
    char primary[HOST_MAX];     /* Sentinel: the primary's address, if known */
    int primary_port;
    int first_sentinel;         /* the one to ask first: the last that answered */
    int role_hidden;            /* ROLE refused (ACL): misses are believed */
    int lost;                   /* the primary was lost and not found since */
    apr_time_t checked_at;      /* Sentinel: when the primary's address was last asked */
    int checking;               /* a thread is asking now (it alone uses sconn) */
    nsso_redis_conn *sconn;     /* the sentinel connection the checks reuse */
    apr_time_t retry_at;        /* no connect before this (backoff) */
    apr_interval_time_t backoff;
    int down;                   /* the last connect failed (logged when it is back) */
    apr_time_t logged[NSSO_REDIS_FAIL_MAX + 1];
    apr_time_t logged_short;    /* the last replica shortfall logged */
    apr_uint64_t gets, hits, sets, deletes;
} redis_store;

/* One command: argc words. */
typedef struct {
    int argc;
    const char **argv;
    const size_t *lens;
} cmd_t;

/* ---- logging: one line per kind of failure a minute, naming the fix ---- */

static const char *directive_for(const redis_store *st, const nsso_redis_error_t *e)
{
    switch (e->kind) {
    case NSSO_REDIS_EAUTH:
        return "NomisSSOSessionStorePassword";
    case NSSO_REDIS_EVERIFY:
        return "NomisSSOSessionStoreCACertificateFile";
    case NSSO_REDIS_ETLS: /* e.g. "tlsv13 alert certificate required" */
        return strstr(e->msg, "certificate") ? "NomisSSOSessionStoreCertificateFile"
                                             : "NomisSSOSessionStore";
    case NSSO_REDIS_ESENTINEL:
        return st->sentinel.password && strstr(e->msg, "AUTH")
               ? "NomisSSOSessionStoreSentinelPassword" : "NomisSSOSessionStore";
    default:
        return "NomisSSOSessionStore";
    }
}

/* "Redis at H:P", or for Sentinel "Redis primary H:P of NAME" / "the
 * sentinels of NAME", into buf. */
static const char *where(redis_store *st, char *buf, size_t cap)
{
    if (!st->url.sentinel) {
        snprintf(buf, cap, "Redis at %s:%d", st->url.host, st->url.port);
        return buf;
    }
    apr_thread_mutex_lock(st->mu);
    if (st->primary[0])
        snprintf(buf, cap, "Redis primary %s:%d of %s", st->primary, st->primary_port,
                 st->url.master);
    else
        snprintf(buf, cap, "the sentinels of %s (%s:%d and %d more)", st->url.master,
                 st->url.host, st->url.port, st->url.nhosts - 1);
    apr_thread_mutex_unlock(st->mu);
    return buf;
}

static void log_failure(redis_store *st, const nsso_redis_error_t *e)
{
    apr_time_t now = apr_time_now();
    char at[HOST_MAX + 64];
    int due;

    apr_thread_mutex_lock(st->mu);
    due = !st->logged[e->kind] || now - st->logged[e->kind] >= LOG_EVERY;
    if (due)
        st->logged[e->kind] = now;
    apr_thread_mutex_unlock(st->mu);
    if (due)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s, NSSO_LOGNO(0910) "%s: %s: %s (sessions "
                     "answer 503 until this is fixed)", directive_for(st, e),
                     where(st, at, sizeof(at)), e->msg);
}

/* ---- connections ---------------------------------------------------------- */

/* Idle connections inherited from another process are not ours to use. */
static void own_idle(redis_store *st)
{
    if (st->pid != getpid()) {
        st->pid = getpid();
        st->nidle = 0;
        st->sconn = NULL;
        st->checking = 0;
    }
}

static void drop_idle(redis_store *st)
{
    pooled_t old[MAX_IDLE];
    int n, i;

    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    for (n = 0; n < st->nidle; n++)
        old[n] = st->idle[n];
    st->nidle = 0;
    apr_thread_mutex_unlock(st->mu);
    for (i = 0; i < n; i++)
        nsso_redis_close(old[i].conn);
}

/* The primary may have moved: no connection opened before now is used
 * again, and Sentinel is asked again. failover: it did move (a node said
 * it is no primary, or the sentinels name another): counted, once until a
 * primary is found again. */
static void primary_lost(redis_store *st, int failover)
{
    int first;

    apr_thread_mutex_lock(st->mu);
    st->epoch++;
    st->primary[0] = '\0';
    first = failover && !st->lost;
    st->lost |= failover;
    apr_thread_mutex_unlock(st->mu);
    drop_idle(st);
    if (first) /* one failover counted, however many tries it takes */
        nsso_metrics_count(NSSO_M_STORE_FAILOVERS);
}

static void connected(redis_store *st, apr_status_t rv)
{
    char at[HOST_MAX + 64];
    int was_down;

    apr_thread_mutex_lock(st->mu);
    was_down = st->down;
    if (rv == APR_SUCCESS) {
        st->down = 0;
        st->lost = 0;
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
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, NSSO_LOGNO(0911) "NomisSSOSessionStore: %s "
                     "reachable again", where(st, at, sizeof(at)));
}

/* Ask the sentinel on c. */
static apr_status_t ask_one(redis_store *st, nsso_redis_conn *c, char *host, int *port,
                            nsso_redis_error_t *e)
{
    return nsso_redis_sentinel_master(c, st->url.master, host, HOST_MAX, port, e);
}

/* The primary's address from the sentinels, asked in turn (the last one
 * that answered first), each within half the timeout, all within it. With
 * keep (the checking thread's), the connection that answered is kept in
 * *keep and tried first next time. */
static apr_status_t ask_sentinels(redis_store *st, char *host, int *port,
                                  nsso_redis_conn **keep, nsso_redis_error_t *e)
{
    apr_time_t now = apr_time_now(), all = now + apr_time_from_msec(st->timeout_ms);
    nsso_redis_target_t t = st->sentinel;
    apr_status_t rv = APR_NOTFOUND;
    int i, first;

    if (keep && *keep) {
        if ((rv = ask_one(st, *keep, host, port, e)) == APR_SUCCESS)
            return rv;
        nsso_redis_close(*keep);
        *keep = NULL;
    }
    apr_thread_mutex_lock(st->mu);
    first = st->first_sentinel;
    apr_thread_mutex_unlock(st->mu);
    for (i = 0; i < st->url.nhosts && now < all; i++, now = apr_time_now()) {
        int k = (first + i) % st->url.nhosts;
        apr_time_t until = now + apr_time_from_msec(st->timeout_ms / 2);
        nsso_redis_conn *c;

        t.host = st->url.hosts[k];
        t.port = st->url.ports[k];
        if ((rv = nsso_redis_connect(&t, until < all ? until : all, &c, e)) != APR_SUCCESS)
            continue;
        rv = ask_one(st, c, host, port, e);
        if (rv == APR_SUCCESS && keep)
            *keep = c;
        else
            nsso_redis_close(c);
        if (rv == APR_SUCCESS) {
            apr_thread_mutex_lock(st->mu);
            st->first_sentinel = k;
            apr_thread_mutex_unlock(st->mu);
            return APR_SUCCESS;
        }
    }
    e->kind = NSSO_REDIS_ESENTINEL; /* the directive to look at, whatever failed last */
    /* never APR_NOTFOUND: to the store's callers that would read as "no
     * such session" */
    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? APR_ECONNREFUSED : rv;
}

/* The checking thread's turn (took is 1): do the sentinels still name the
 * primary we use? When they name another, every connection to the old one
 * goes (primary_lost) and the new address is used from now on. 1 when the
 * primary moved. */
static int recheck_primary(redis_store *st)
{
    char host[HOST_MAX], was[HOST_MAX];
    int port = 0, was_port, moved;
    nsso_redis_error_t e;
    nsso_redis_conn *keep;
    apr_status_t rv;

    apr_thread_mutex_lock(st->mu);
    keep = st->sconn;
    st->sconn = NULL;
    apr_thread_mutex_unlock(st->mu);
    rv = ask_sentinels(st, host, &port, &keep, &e);
    apr_thread_mutex_lock(st->mu);
    st->sconn = keep;
    st->checking = 0;
    if (rv != APR_SUCCESS) /* no sentinel answers: ask less often, it costs a wait */
        st->checked_at = apr_time_now() + RECHECK_QUIET - RECHECK_EVERY;
    apr_cpystrn(was, st->primary, sizeof(was));
    was_port = st->primary_port;
    moved = rv == APR_SUCCESS && was[0] && (strcmp(host, was) || port != was_port);
    apr_thread_mutex_unlock(st->mu);
    if (!moved)
        return 0;   /* the same, or no answer: a failed data connection will tell */
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st->s, NSSO_LOGNO(0916) "NomisSSOSessionStore: the "
                 "sentinels of %s name a new primary, %s:%d (was %s:%d): sessions follow it",
                 st->url.master, host, port, was, was_port);
    primary_lost(st, 1);
    apr_thread_mutex_lock(st->mu);
    apr_cpystrn(st->primary, host, HOST_MAX);
    st->primary_port = port;
    apr_thread_mutex_unlock(st->mu);
    return 1;
}

/* Under st->mu: 1 when this thread is to recheck now (force: whenever no
 * other thread is at it). */
static int recheck_due(redis_store *st, int force)
{
    apr_time_t now;

    if (!st->url.sentinel || st->checking || !st->primary[0])
        return 0;
    now = apr_time_now();
    if (!force && now - st->checked_at < RECHECK_EVERY)
        return 0;
    st->checking = 1;
    st->checked_at = now;
    return 1;
}

/* Where the primary is: the URL's host, or what Sentinel says (cached
 * until primary_lost). */
static apr_status_t primary_address(redis_store *st, char *host, int *port,
                                    nsso_redis_error_t *e)
{
    apr_status_t rv;

    if (!st->url.sentinel) {
        apr_cpystrn(host, st->url.host, HOST_MAX);
        *port = st->url.port;
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(st->mu);
    apr_cpystrn(host, st->primary, HOST_MAX);
    *port = st->primary_port;
    apr_thread_mutex_unlock(st->mu);
    if (*host)
        return APR_SUCCESS;
    if ((rv = ask_sentinels(st, host, port, NULL, e)) != APR_SUCCESS)
        return rv;
    apr_thread_mutex_lock(st->mu);
    apr_cpystrn(st->primary, host, HOST_MAX);
    st->primary_port = *port;
    apr_thread_mutex_unlock(st->mu);
    return APR_SUCCESS;
}

/* A node that says it is the primary, or why not. A node that will not
 * say (ROLE refused) is taken at its word, and so are its misses. */
static apr_status_t connect_primary(redis_store *st, nsso_redis_conn **c,
                                    nsso_redis_error_t *e)
{
    nsso_redis_target_t t = st->node;
    char host[HOST_MAX];
    apr_status_t rv;

    *c = NULL;
    if ((rv = primary_address(st, host, &t.port, e)) != APR_SUCCESS)
        return rv;
    t.host = host;
    rv = nsso_redis_connect(&t, apr_time_now() + apr_time_from_msec(st->timeout_ms), c, e);
    if (rv == APR_SUCCESS && (rv = nsso_redis_role_primary(*c, e)) == APR_ENOTIMPL) {
        apr_thread_mutex_lock(st->mu);
        st->role_hidden = 1;
        apr_thread_mutex_unlock(st->mu);
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        nsso_redis_close(*c);
        *c = NULL;
        if (rv == APR_EAGAIN)
            primary_lost(st, 1);
    }
    return rv;
}

/* An idle connection (*reused = 1) or a new one; *epoch: the store's
 * epoch the connection belongs to. */
static apr_status_t acquire(redis_store *st, nsso_redis_conn **c, apr_uint64_t *epoch,
                            int *reused)
{
    nsso_redis_error_t e;
    apr_status_t rv;

    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    if (recheck_due(st, 0)) {
        apr_thread_mutex_unlock(st->mu);
        recheck_primary(st);
        apr_thread_mutex_lock(st->mu);
    }
    *reused = st->nidle > 0;
    if (*reused) {
        pooled_t *p = &st->idle[--st->nidle];
        *c = p->conn;
        *epoch = p->epoch;
    } else {
        *epoch = st->epoch;
    }
    rv = !*reused && apr_time_now() < st->retry_at ? APR_ECONNREFUSED : APR_SUCCESS;
    apr_thread_mutex_unlock(st->mu);
    if (*reused || rv != APR_SUCCESS)
        return rv;
    rv = connect_primary(st, c, &e);
    connected(st, rv);
    if (rv != APR_SUCCESS)
        log_failure(st, &e);
    return rv;
}

/* Back to the pool, unless a failover was seen since it was opened. */
static void release(redis_store *st, nsso_redis_conn *c, apr_uint64_t epoch)
{
    apr_thread_mutex_lock(st->mu);
    own_idle(st);
    if (st->nidle < MAX_IDLE && epoch == st->epoch) {
        st->idle[st->nidle].conn = c;
        st->idle[st->nidle++].epoch = epoch;
        c = NULL;
    }
    apr_thread_mutex_unlock(st->mu);
    nsso_redis_close(c);
}

/* A nil reply believed only from the primary: APR_EAGAIN (e set) when the
 * node that gave it is one no longer. */
static apr_status_t confirm_miss(redis_store *st, nsso_redis_conn *c, nsso_redis_error_t *e)
{
    int hidden;
    apr_status_t rv;

    apr_thread_mutex_lock(st->mu);
    hidden = st->role_hidden;
    apr_thread_mutex_unlock(st->mu);
    if (hidden)
        return APR_SUCCESS;
    rv = nsso_redis_role_primary(c, e);
    return rv == APR_ENOTIMPL ? APR_SUCCESS : rv;
}

#define EXEC_CONFIRM_NIL 1      /* a nil reply counts only from the primary */

/* cmd, then (when not NULL, and cmd's reply is no error) then on the same
 * connection, its reply in *then_reply. A failure on a pooled connection
 * (the engine restarted since), or an answer that the node is not the
 * primary, forgets the primary and tries once more on a fresh connection.
 * An error reply is logged and APR_EGENERAL. */
static apr_status_t exec(redis_store *st, const cmd_t *cmd, int flags, const cmd_t *then,
                         redisReply **reply, redisReply **then_reply)
{
    nsso_redis_error_t e;
    nsso_redis_conn *c;
    apr_uint64_t epoch;
    apr_status_t rv;
    int reused, tries;

    for (tries = 0; tries < 2; tries++) {
        if ((rv = acquire(st, &c, &epoch, &reused)) != APR_SUCCESS)
            return rv;
        rv = nsso_redis_call(c, cmd->argc, cmd->argv, cmd->lens, reply, &e);
        if (rv == APR_SUCCESS && nsso_redis_reply_not_primary(*reply)) {
            snprintf(e.msg, sizeof(e.msg), "%s refused: %.200s", cmd->argv[0], (*reply)->str);
            e.kind = NSSO_REDIS_EROLE;
            freeReplyObject(*reply);
            rv = APR_EAGAIN;
        } else if (rv == APR_SUCCESS && (flags & EXEC_CONFIRM_NIL)
                   && (*reply)->type == REDIS_REPLY_NIL
                   && (rv = confirm_miss(st, c, &e)) != APR_SUCCESS) {
            freeReplyObject(*reply);
        }
        if (rv == APR_SUCCESS && then && (*reply)->type != REDIS_REPLY_ERROR
            && (rv = nsso_redis_call(c, then->argc, then->argv, then->lens, then_reply, &e))
               != APR_SUCCESS)
            freeReplyObject(*reply);
        if (rv == APR_SUCCESS) {
            release(st, c, epoch);
            if ((*reply)->type == REDIS_REPLY_ERROR) {
                e.kind = !strncmp((*reply)->str, "NOAUTH", 6)
                         || !strncmp((*reply)->str, "NOPERM", 6) ? NSSO_REDIS_EAUTH
                                                                 : NSSO_REDIS_EPROTO;
                snprintf(e.msg, sizeof(e.msg), "%s refused: %.200s", cmd->argv[0], (*reply)->str);
                log_failure(st, &e);
                freeReplyObject(*reply);
                *reply = NULL;
                return APR_EGENERAL;
            }
            return APR_SUCCESS;
        }
        *reply = NULL;
        nsso_redis_close(c);
        if (rv == APR_EAGAIN)
            log_failure(st, &e); /* what the node said (READONLY ...), before the retry */
        if (rv == APR_EAGAIN || reused)
            primary_lost(st, rv == APR_EAGAIN); /* demoted, or reset: where is it now? */
        if (!reused && rv != APR_EAGAIN)
            break;
    }
    log_failure(st, &e);
    return rv;
}

static apr_status_t exec1(redis_store *st, int argc, const char **argv, const size_t *lens,
                          int flags, redisReply **reply)
{
    cmd_t cmd = { argc, argv, lens };

    return exec(st, &cmd, flags, NULL, reply, NULL);
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
    if ((rv = exec1(st, 2, argv, lens, EXEC_CONFIRM_NIL, &r)) != APR_SUCCESS)
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

static int too_few_acks(const redis_store *st, const redisReply *w)
{
    return !w || w->type != REDIS_REPLY_INTEGER || w->integer < st->replicas;
}

/* Sentinel: ask now whether the primary moved (1 when it did). */
static int forced_recheck(redis_store *st)
{
    int check;

    apr_thread_mutex_lock(st->mu);
    check = recheck_due(st, 1);
    apr_thread_mutex_unlock(st->mu);
    return check && recheck_primary(st);
}

static int wait_ms(const redis_store *st)
{
    return st->timeout_ms / 2 > 0 ? st->timeout_ms / 2 : 1;
}

/* After a new session's SET: how many replicas acknowledged it, against
 * NomisSSOSessionStoreReplicas. Too few is logged (a failover now could
 * lose this sign-in; at most once a minute) and counted, not refused:
 * refusing would make one lost replica stop every sign-in. */
static void check_acks(redis_store *st, const redisReply *w)
{
    apr_time_t now = apr_time_now();
    char at[HOST_MAX + 64];
    int due;

    if (!w || !too_few_acks(st, w))
        return;
    nsso_metrics_count(NSSO_M_STORE_REPLICA_SHORT);
    apr_thread_mutex_lock(st->mu);
    due = !st->logged_short || now - st->logged_short >= LOG_EVERY;
    if (due)
        st->logged_short = now;
    apr_thread_mutex_unlock(st->mu);
    if (!due)
        return;
    if (w->type == REDIS_REPLY_INTEGER)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st->s, NSSO_LOGNO(0917) "NomisSSOSessionStoreReplicas: "
                     "%s: a new session reached %" APR_INT64_T_FMT " of the %d replicas asked for within %d ms "
                     "(a failover now would lose it; the sign-in goes on)", where(st, at, sizeof(at)),
                     (apr_int64_t)w->integer, st->replicas, wait_ms(st));
    else
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st->s, NSSO_LOGNO(0918) "NomisSSOSessionStoreReplicas: "
                     "%s: WAIT refused: %.200s (the sign-in goes on)", where(st, at, sizeof(at)),
                     w->type == REDIS_REPLY_ERROR ? w->str : "an unexpected reply");
}

/* SET with a relative expiry (PX: every Redis since 2.6, ElastiCache too)
 * and cond ("NX", "XX" or NULL). APR_EEXIST / APR_NOTFOUND when cond said no.
 * A new session (set, not replace, of a session key) waits for
 * NomisSSOSessionStoreReplicas replicas when that is set. */
static apr_status_t put(redis_store *st, const char *key, const void *val, apr_size_t len,
                        apr_time_t expiry, const char *cond)
{
    const char *argv[6], *wargv[3] = { "WAIT", NULL, NULL };
    size_t lens[6], wlens[3] = { 4, 0, 0 };
    char ms[24], *sealed, nrep[12], wms[12];
    apr_interval_time_t left = expiry - apr_time_now();
    cmd_t cmd = { 5, argv, lens }, wait = { 3, wargv, wlens };
    int durable = st->replicas > 0 && !cond && nsso_store_key_precious(key);
    apr_pool_t *p;
    redisReply *r, *w = NULL;
    apr_status_t rv;

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
        argv[cmd.argc++] = cond;
    for (int i = 0; i < cmd.argc; i++)
        lens[i] = strlen(argv[i]);
    wlens[1] = (size_t)snprintf(nrep, sizeof(nrep), "%d", st->replicas);
    /* half the timeout: the reply must come within the call's own */
    wlens[2] = (size_t)snprintf(wms, sizeof(wms), "%d", wait_ms(st));
    wargv[1] = nrep;
    wargv[2] = wms;
    count(st, &st->sets, 1);
    rv = exec(st, &cmd, 0, durable ? &wait : NULL, &r, &w);
    if (rv == APR_SUCCESS && durable && is_ok(r) && too_few_acks(st, w) && forced_recheck(st)) {
        /* written to a primary the sentinels have replaced: write it again there */
        freeReplyObject(r);
        if (w)
            freeReplyObject(w);
        w = NULL;
        rv = exec(st, &cmd, 0, &wait, &r, &w);
    }
    apr_pool_destroy(p);
    if (rv != APR_SUCCESS)
        return rv;
    if (durable && is_ok(r))
        check_acks(st, w);
    if (w)
        freeReplyObject(w);
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
    rv = exec1(st, 2, argv, lens, 0, &r);
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
    redis_store *st = data;

    drop_idle(st);
    if (st->pid == getpid() && !st->checking) {
        nsso_redis_close(st->sconn);
        st->sconn = NULL;
    }
    return APR_SUCCESS;
}

/* The data nodes' and the sentinels' connection settings from set. */
static apr_status_t targets(apr_pool_t *pconf, redis_store *st, const nsso_redis_settings *set,
                            const char **err)
{
    nsso_redis_tls *tls = NULL;
    apr_status_t rv;

    if (st->url.user && !set->password && !st->url.password) {
        *err = "NomisSSOSessionStore: a Redis user needs a password "
               "(NomisSSOSessionStorePassword)";
        return APR_EINVAL;
    }
    if (!st->url.tls && (set->ca_file || set->cert_file)) {
        *err = "NomisSSOSessionStoreCACertificateFile/CertificateFile need a rediss:// "
               "or rediss-sentinel:// (TLS) NomisSSOSessionStore";
        return APR_EINVAL;
    }
    if (st->url.tls && (rv = nsso_redis_tls_create(pconf, set->ca_file, set->cert_file,
                                                   set->key_file, &tls, err)) != APR_SUCCESS)
        return rv;
    st->timeout_ms = set->timeout_ms > 0 ? set->timeout_ms : NSSO_REDIS_TIMEOUT_MS;
    st->node.user = st->url.user;
    st->node.password = set->password ? set->password : st->url.password;
    st->node.db = st->url.db;
    st->node.tls = tls;
    st->node.timeout_ms = st->timeout_ms;
    st->sentinel.password = set->sentinel_password;
    st->sentinel.tls = tls;
    st->sentinel.timeout_ms = st->timeout_ms / 2 > 0 ? st->timeout_ms / 2 : 1;
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
    char at[HOST_MAX + 64];
    apr_status_t rv;

    if (nsso_redis_url_parse(pconf, set->url, &st->url, &why) != APR_SUCCESS) {
        *err = apr_pstrcat(pconf, "NomisSSOSessionStore: ", why, NULL);
        return APR_EINVAL;
    }
    if ((rv = targets(pconf, st, set, err)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_thread_mutex_create(&st->mu, APR_THREAD_MUTEX_DEFAULT, pconf))
        != APR_SUCCESS) {
        *err = "NomisSSOSessionStore: cannot create a mutex";
        return rv;
    }
    st->s = s;
    st->crypto = crypto;
    st->max_value = max_value;
    st->replicas = set->replicas;
    st->pid = getpid();
    apr_pool_cleanup_register(pconf, st, close_idle, apr_pool_cleanup_null);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NSSO_LOGNO(0912) "session store: %s db %d, %s%s%s, "
                 "timeout %d ms%s", where(st, at, sizeof(at)), st->url.db,
                 st->url.tls ? "TLS" : "no TLS", st->url.user ? ", user " : "",
                 st->url.user ? st->url.user : "", st->timeout_ms,
                 st->replicas ? apr_psprintf(pconf, ", new sessions wait for %d replica(s)",
                                             st->replicas) : "");
    store = apr_pcalloc(pconf, sizeof(*store));
    store->ops = &redis_ops;
    store->impl = st;
    *out = store;
    return APR_SUCCESS;
}

/* ---- the start-up check ---------------------------------------------------- */

/* What the probing process found. */
typedef struct {
    apr_status_t rv;
    nsso_redis_error_t e;
    char primary[HOST_MAX];
    int port;
} probe_result_t;

/* In a child of the parent: find the primary, connect, say what happened. */
static void probe_child(redis_store *st, int fd)
{
    probe_result_t res;
    nsso_redis_conn *c = NULL;

    memset(&res, 0, sizeof(res));
    res.rv = primary_address(st, res.primary, &res.port, &res.e);
    if (res.rv == APR_SUCCESS)
        res.rv = connect_primary(st, &c, &res.e);
    nsso_redis_close(c);
    if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
        _exit(1);
    _exit(0);
}

/* The probe's answer within deadline (the child is killed past it). */
static void probe_wait(pid_t pid, int fd, apr_time_t deadline, probe_result_t *res)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    apr_interval_time_t left = deadline - apr_time_now();
    int n, status;

    do
        n = poll(&pfd, 1, left > 0 ? (int)(left / 1000) + 1 : 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0 || read(fd, res, sizeof(*res)) != (ssize_t)sizeof(*res)) {
        res->rv = APR_TIMEUP;
        res->e.kind = NSSO_REDIS_ENET;
        snprintf(res->e.msg, sizeof(res->e.msg), "no answer within the timeout");
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* The parent's one try at start-up, in a child process of its own: the
 * parent itself must not fork httpd's children with a name lookup's thread
 * still running (glibc's getaddrinfo_a), nor keep connections they would
 * inherit. httpd starts whatever the answer. */
void nsso_redis_store_probe(nsso_store *store)
{
    redis_store *st = store->impl;
    apr_time_t deadline = apr_time_now() + 2 * apr_time_from_msec(st->timeout_ms)
                          + apr_time_from_msec(200);
    probe_result_t res;
    char at[HOST_MAX + 64];
    int fds[2];
    pid_t pid;

    memset(&res, 0, sizeof(res));
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, st->s, NSSO_LOGNO(0913)
                     "NomisSSOSessionStore: cannot start the start-up check of the store");
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(st, fds[1]);
    }
    close(fds[1]);
    probe_wait(pid, fds[0], deadline, &res);
    close(fds[0]);
    if (res.rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s, NSSO_LOGNO(0914) "%s: %s cannot be "
                     "reached at start-up: %s; httpd starts, and signed-in requests answer 503 "
                     "until it answers", directive_for(st, &res.e), where(st, at, sizeof(at)),
                     res.e.msg);
    else
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, st->s, NSSO_LOGNO(0915) "session store: the "
                     "primary at %s:%d answers", res.primary, res.port);
}
