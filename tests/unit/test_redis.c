/* test_redis.c - the Redis client's pure parts (redis.c): URL parsing, the
 * AUTH/SELECT handshake and request/reply exchange over a socketpair (bytes
 * on the wire checked, replies split across reads, timeouts, a closed or
 * babbling peer), ROLE and SENTINEL answers, and the sealing every engine store shares (store_seal.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "redis.h"
#include "store_seal.h"

#include "unit_pool.h"

/* ---- URLs ---- */

static void test_url_full(void **state)
{
    nsso_redis_url_t u;
    const char *err = NULL;

    assert_int_equal(nsso_redis_url_parse(pool, "rediss://app:s3cret@cache.example:6380/2",
                                          &u, &err), APR_SUCCESS);
    assert_true(u.tls);
    assert_string_equal(u.host, "cache.example");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s3cret");
}

static void test_url_defaults(void **state)
{
    nsso_redis_url_t u;
    const char *err = NULL;

    assert_int_equal(nsso_redis_url_parse(pool, "redis://10.0.0.5", &u, &err), APR_SUCCESS);
    assert_false(u.tls);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.user);
    assert_null(u.password);
    assert_int_equal(nsso_redis_url_parse(pool, "REDISS://app@[::1]:7000/", &u, &err),
                     APR_SUCCESS);
    assert_true(u.tls);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.user, "app");
    assert_null(u.password);
    /* a password alone (Redis before 6, or the default user) */
    assert_int_equal(nsso_redis_url_parse(pool, "redis://:pw@h", &u, &err), APR_SUCCESS);
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
}

/* Every URL in bad (NULL-terminated) refused, with a reason. */
static void expect_refused(const char *const *bad)
{
    nsso_redis_url_t u;
    int i;

    for (i = 0; bad[i]; i++) {
        const char *err = NULL;
        if (nsso_redis_url_parse(pool, bad[i], &u, &err) != APR_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(err);
    }
}

static void test_url_refused(void **state)
{
    static const char *const bad[] = {
        "http://h:6379", "redis:/h", "redis://", "redis://:6379", "redis://h:0",
        "redis://h:65536", "redis://h:63x", "redis://h/x", "redis://h/1?ssl=1",
        "redis://h /1", "redis://[::1", "redis://[::1]x", "redis://u:p@", "redis://h:",
        NULL
    };

    expect_refused(bad);
}

static void test_url_sentinel(void **state)
{
    nsso_redis_url_t u;
    const char *err = NULL;

    assert_int_equal(nsso_redis_url_parse(pool, "rediss-sentinel://app@s1.example:26380,"
                                          "10.0.0.2,[::1]:5000/3#sessions", &u, &err),
                     APR_SUCCESS);
    assert_true(u.tls);
    assert_true(u.sentinel);
    assert_int_equal(u.nhosts, 3);
    assert_string_equal(u.hosts[0], "s1.example");
    assert_int_equal(u.ports[0], 26380);
    assert_string_equal(u.hosts[1], "10.0.0.2");
    assert_int_equal(u.ports[1], 26379);   /* Sentinel's own default port */
    assert_string_equal(u.hosts[2], "::1");
    assert_int_equal(u.ports[2], 5000);
    assert_string_equal(u.host, "s1.example");
    assert_int_equal(u.db, 3);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.master, "sessions");
    assert_int_equal(nsso_redis_url_parse(pool, "REDIS-SENTINEL://h#m", &u, &err), APR_SUCCESS);
    assert_false(u.tls);
    assert_int_equal(u.nhosts, 1);
    assert_int_equal(u.port, 26379);
    assert_string_equal(u.master, "m");
    /* a plain URL names one host and no master */
    assert_int_equal(nsso_redis_url_parse(pool, "redis://h", &u, &err), APR_SUCCESS);
    assert_int_equal(u.nhosts, 1);
    assert_false(u.sentinel);
    assert_null(u.master);
}

static void test_url_sentinel_refused(void **state)
{
    static const char *const bad[] = {
        "redis-sentinel://h:26379", "redis-sentinel://h:26379#", "redis-sentinel://h#a#b",
        "redis-sentinel://h#a b", "redis-sentinel://h,#m", "redis-sentinel://,h#m",
        "redis-sentinel://a,,b#m", "redis-sentinel://h:0#m", "redis://a,b", "redis://h#m",
        "rediss://h:6379#m", "redis-sentinel:/h#m", "sentinel://h#m",
        "redis-sentinel://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q#m",
        NULL
    };

    expect_refused(bad);
}

/* ---- the exchange, over a socketpair ---- */

typedef struct {
    int peer;
    nsso_redis_conn *c;
} pair;

static void open_pair(pair *pr, const char *canned, int timeout_ms)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pr->peer = sv[1];
    pr->c = nsso_redis_wrap_fd(sv[0], timeout_ms);
    assert_non_null(pr->c);
    if (canned)
        assert_int_equal(write(pr->peer, canned, strlen(canned)), (ssize_t)strlen(canned));
}

/* What the client wrote so far (the peer never blocks: non-blocking read). */
static const char *sent(pair *pr)
{
    char buf[4096];
    ssize_t n = recv(pr->peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    return apr_pstrmemdup(pool, buf, n > 0 ? (apr_size_t)n : 0);
}

static void close_pair(pair *pr)
{
    nsso_redis_close(pr->c);
    close(pr->peer);
}

static void test_handshake_auth_user_and_select(void **state)
{
    pair pr;
    nsso_redis_error_t e;

    open_pair(&pr, "+OK\r\n+OK\r\n", 2000);
    assert_int_equal(nsso_redis_handshake(pr.c, "app", "pw", 3, &e), APR_SUCCESS);
    assert_string_equal(sent(&pr), "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$2\r\npw\r\n"
                                   "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
    close_pair(&pr);
}

static void test_handshake_password_only_db0(void **state)
{
    pair pr;
    nsso_redis_error_t e;

    open_pair(&pr, "+OK\r\n", 2000);
    assert_int_equal(nsso_redis_handshake(pr.c, NULL, "pw", 0, &e), APR_SUCCESS);
    assert_string_equal(sent(&pr), "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
    close_pair(&pr);
    /* nothing to say: nothing sent */
    open_pair(&pr, NULL, 2000);
    assert_int_equal(nsso_redis_handshake(pr.c, NULL, NULL, 0, &e), APR_SUCCESS);
    assert_string_equal(sent(&pr), "");
    close_pair(&pr);
}

static void test_handshake_wrong_password(void **state)
{
    pair pr;
    nsso_redis_error_t e;

    open_pair(&pr, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", 2000);
    assert_int_equal(nsso_redis_handshake(pr.c, "app", "not-the-password", 0, &e),
                     APR_EACCES);
    assert_int_equal(e.kind, NSSO_REDIS_EAUTH);
    assert_non_null(strstr(e.msg, "WRONGPASS"));
    assert_null(strstr(e.msg, "not-the-password"));
    close_pair(&pr);
}

static void test_select_refused(void **state)
{
    pair pr;
    nsso_redis_error_t e;

    open_pair(&pr, "-ERR DB index is out of range\r\n", 2000);
    assert_int_equal(nsso_redis_handshake(pr.c, NULL, NULL, 99, &e), APR_EACCES);
    assert_int_equal(e.kind, NSSO_REDIS_EPROTO);
    close_pair(&pr);
}

static void call2(pair *pr, const char *a, const char *b, redisReply **r, apr_status_t want,
                  nsso_redis_error_t *e)
{
    const char *argv[2] = { a, b };
    size_t lens[2] = { strlen(a), strlen(b) };

    assert_int_equal(nsso_redis_call(pr->c, 2, argv, lens, r, e), want);
}

static void test_call_binary_safe(void **state)
{
    pair pr;
    nsso_redis_error_t e;
    redisReply *r;
    const char *argv[3] = { "SET", "k", "a b\r\nc" };
    size_t lens[3] = { 3, 1, 6 };

    open_pair(&pr, "+OK\r\n$-1\r\n", 2000);
    assert_int_equal(nsso_redis_call(pr.c, 3, argv, lens, &r, &e), APR_SUCCESS);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_string_equal(sent(&pr), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na b\r\nc\r\n");
    call2(&pr, "GET", "k", &r, APR_SUCCESS, &e);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    close_pair(&pr);
}

static void *write_late(void *arg)
{
    pair *pr = arg;

    usleep(100 * 1000);
    assert_int_equal(write(pr->peer, "llo\r\n", 5), 5);
    return NULL;
}

static void test_reply_split_across_reads(void **state)
{
    pair pr;
    pthread_t t;
    nsso_redis_error_t e;
    redisReply *r;

    open_pair(&pr, "$5\r\nhe", 2000);
    assert_int_equal(pthread_create(&t, NULL, write_late, &pr), 0);
    call2(&pr, "GET", "k", &r, APR_SUCCESS, &e);
    pthread_join(t, NULL);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 5);
    assert_memory_equal(r->str, "hello", 5);
    freeReplyObject(r);
    close_pair(&pr);
}

static void test_silent_server_times_out(void **state)
{
    pair pr;
    nsso_redis_error_t e;
    redisReply *r;
    apr_time_t t0 = apr_time_now();

    open_pair(&pr, NULL, 150);
    call2(&pr, "GET", "k", &r, APR_TIMEUP, &e);
    assert_int_equal(e.kind, NSSO_REDIS_ENET);
    assert_true(apr_time_now() - t0 >= apr_time_from_msec(140));
    assert_true(apr_time_now() - t0 < apr_time_from_sec(2));
    assert_null(r);
    close_pair(&pr);
}

static void test_closed_and_garbage(void **state)
{
    pair pr;
    nsso_redis_error_t e;
    redisReply *r;

    open_pair(&pr, NULL, 2000);
    shutdown(pr.peer, SHUT_WR);
    call2(&pr, "GET", "k", &r, APR_EOF, &e);
    assert_int_equal(e.kind, NSSO_REDIS_ENET);
    close_pair(&pr);

    open_pair(&pr, "!nonsense\r\n", 2000);
    call2(&pr, "GET", "k", &r, APR_EGENERAL, &e);
    assert_int_equal(e.kind, NSSO_REDIS_EPROTO);
    close_pair(&pr);
}

static void test_connect_refused(void **state)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    nsso_redis_url_t u;
    nsso_redis_target_t t;
    nsso_redis_conn *c;
    nsso_redis_error_t e;
    const char *err;

    /* a port nothing listens on: bound, then closed */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    assert_int_equal(nsso_redis_url_parse(pool, apr_psprintf(pool, "redis://127.0.0.1:%d",
                                                             ntohs(sa.sin_port)), &u, &err),
                     APR_SUCCESS);
    memset(&t, 0, sizeof(t));
    t.host = u.host;
    t.port = u.port;
    t.timeout_ms = 1000;
    assert_int_equal(nsso_redis_connect(&t, apr_time_now() + apr_time_from_sec(1), &c, &e),
                     APR_ECONNREFUSED);
    assert_int_equal(e.kind, NSSO_REDIS_ENET);
    assert_null(c);
}

/* A deadline already past: a name is not even looked up (no lookup may
 * outlive its deadline), and an address literal fails on connect alone. */
static void test_connect_deadline_bounds_the_lookup(void **state)
{
    nsso_redis_target_t t;
    nsso_redis_conn *c;
    nsso_redis_error_t e;
    apr_time_t start = apr_time_now();

    memset(&t, 0, sizeof(t));
    t.host = "localhost";
    t.port = 1;
    t.timeout_ms = 1000;
    assert_int_not_equal(nsso_redis_connect(&t, start, &c, &e), APR_SUCCESS);
    assert_null(c);
    assert_int_equal(e.kind, NSSO_REDIS_ENET);
    assert_non_null(strstr(e.msg, "timed out"));
    assert_true(apr_time_now() - start < apr_time_from_msec(500));
    /* in time, the name is looked up (glibc's getaddrinfo_a): what fails is the connect */
    assert_int_equal(nsso_redis_connect(&t, apr_time_now() + apr_time_from_sec(5), &c, &e),
                     APR_ECONNREFUSED);
    assert_non_null(strstr(e.msg, "cannot connect"));
    /* a bad address literal is said as such, without a lookup */
    t.host = "999.1.1.1";
    assert_int_not_equal(nsso_redis_connect(&t, apr_time_now() + apr_time_from_sec(1), &c, &e),
                         APR_SUCCESS);
    assert_int_equal(e.kind, NSSO_REDIS_ENET);
}

/* ---- ROLE and SENTINEL ---- */

static void test_role_primary_replica_hidden(void **state)
{
    pair pr;
    nsso_redis_error_t e;

    open_pair(&pr, "*3\r\n$6\r\nmaster\r\n:42\r\n*0\r\n", 2000);
    assert_int_equal(nsso_redis_role_primary(pr.c, &e), APR_SUCCESS);
    assert_string_equal(sent(&pr), "*1\r\n$4\r\nROLE\r\n");
    close_pair(&pr);
    open_pair(&pr, "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n"
              ":42\r\n", 2000);
    assert_int_equal(nsso_redis_role_primary(pr.c, &e), APR_EAGAIN);
    assert_int_equal(e.kind, NSSO_REDIS_EROLE);
    assert_non_null(strstr(e.msg, "slave"));
    close_pair(&pr);
    /* an ACL that hides ROLE: the caller cannot tell, and goes on */
    open_pair(&pr, "-NOPERM this user has no permissions to run the 'role' command\r\n", 2000);
    assert_int_equal(nsso_redis_role_primary(pr.c, &e), APR_ENOTIMPL);
    close_pair(&pr);
    open_pair(&pr, "-LOADING Redis is loading the dataset in memory\r\n", 2000);
    assert_int_equal(nsso_redis_role_primary(pr.c, &e), APR_EAGAIN);
    close_pair(&pr);
    open_pair(&pr, ":1\r\n", 2000);
    assert_int_equal(nsso_redis_role_primary(pr.c, &e), APR_EGENERAL);
    assert_int_equal(e.kind, NSSO_REDIS_EPROTO);
    close_pair(&pr);
}

static void test_sentinel_master(void **state)
{
    pair pr;
    nsso_redis_error_t e;
    char host[64];
    int port = 0;

    open_pair(&pr, "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", 2000);
    assert_int_equal(nsso_redis_sentinel_master(pr.c, "sessions", host, sizeof(host), &port, &e),
                     APR_SUCCESS);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6380);
    assert_string_equal(sent(&pr), "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n"
                        "$8\r\nsessions\r\n");
    close_pair(&pr);
    /* no such master (RESP2 nil array), an error, a bad port, a host too long */
    {
        static const char *const no[] = {
            "*-1\r\n", "-IDONTKNOW I'm not yet able to reply\r\n",
            "*2\r\n$1\r\nh\r\n$5\r\n99999\r\n", "*2\r\n$1\r\nh\r\n$2\r\nx1\r\n",
            "*1\r\n$1\r\nh\r\n", "*2\r\n$70\r\n"
            "0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
            "$4\r\n6379\r\n", NULL
        };
        int i;
        for (i = 0; no[i]; i++) {
            open_pair(&pr, no[i], 2000);
            assert_int_equal(nsso_redis_sentinel_master(pr.c, "m", host, sizeof(host), &port, &e),
                             APR_NOTFOUND);
            assert_int_equal(e.kind, NSSO_REDIS_ESENTINEL);
            close_pair(&pr);
        }
    }
}

static void test_not_primary_replies(void **state)
{
    redisReply r;

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_ERROR;
    r.str = (char *)"READONLY You can't write against a read only replica.";
    assert_true(nsso_redis_reply_not_primary(&r));
    r.str = (char *)"LOADING Redis is loading the dataset in memory";
    assert_true(nsso_redis_reply_not_primary(&r));
    r.str = (char *)"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    assert_true(nsso_redis_reply_not_primary(&r));
    r.str = (char *)"ERR unknown command";
    assert_false(nsso_redis_reply_not_primary(&r));
    r.type = REDIS_REPLY_STATUS;
    r.str = (char *)"READONLY";
    assert_false(nsso_redis_reply_not_primary(&r));
}

static void test_tls_context_needs_a_readable_ca(void **state)
{
    nsso_redis_tls *t;
    const char *err = NULL;

    assert_int_equal(nsso_redis_tls_create(pool, "/nonexistent/ca.pem", NULL, NULL, &t, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "NomisSSOSessionStoreCACertificateFile"));
    assert_int_equal(nsso_redis_tls_create(pool, NULL, NULL, NULL, &t, &err), APR_SUCCESS);
}

/* ---- sealing (both engine stores) ---- */

static nsso_crypto *crypto(void)
{
    static const char *const pass[] = { "a passphrase of at least thirty-two characters" };
    nsso_crypto *c = NULL;
    const char *err = NULL;

    assert_int_equal(nsso_crypto_create(pool, pass, 1, &c, &err), APR_SUCCESS);
    return c;
}

static void test_seal_round_trip_and_refusals(void **state)
{
    nsso_crypto *c = crypto();
    char *sealed, *val;
    apr_size_t len;
    const char *k1 = nsso_seal_key(pool, c, "s:realm:abc");

    assert_int_equal(strlen(k1), NSSO_SEAL_KEY_LEN);
    assert_string_not_equal(k1, nsso_seal_key(pool, c, "s:realm:abd"));
    assert_null(strstr(k1, "abc"));
    assert_int_equal(nsso_seal_value(pool, c, "s:realm:abc", "v\0x", 3,
                                     apr_time_now() + apr_time_from_sec(60), &sealed),
                     APR_SUCCESS);
    assert_int_equal(nsso_seal_open(pool, c, "s:realm:abc", sealed, &val, &len), APR_SUCCESS);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "v\0x", 3);
    /* copied under another key */
    assert_int_equal(nsso_seal_open(pool, c, "s:realm:abd", sealed, &val, &len),
                     APR_EGENERAL);
    /* past its sealed expiry, whatever the engine's TTL says */
    assert_int_equal(nsso_seal_value(pool, c, "s:realm:abc", "v", 1,
                                     apr_time_now() - 1, &sealed), APR_SUCCESS);
    assert_int_equal(nsso_seal_open(pool, c, "s:realm:abc", sealed, &val, &len), APR_TIMEUP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_full),
        cmocka_unit_test(test_url_defaults),
        cmocka_unit_test(test_url_refused),
        cmocka_unit_test(test_url_sentinel),
        cmocka_unit_test(test_url_sentinel_refused),
        cmocka_unit_test(test_handshake_auth_user_and_select),
        cmocka_unit_test(test_handshake_password_only_db0),
        cmocka_unit_test(test_handshake_wrong_password),
        cmocka_unit_test(test_select_refused),
        cmocka_unit_test(test_call_binary_safe),
        cmocka_unit_test(test_reply_split_across_reads),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_closed_and_garbage),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_deadline_bounds_the_lookup),
        cmocka_unit_test(test_role_primary_replica_hidden),
        cmocka_unit_test(test_sentinel_master),
        cmocka_unit_test(test_not_primary_replies),
        cmocka_unit_test(test_tls_context_needs_a_readable_ca),
        cmocka_unit_test(test_seal_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
