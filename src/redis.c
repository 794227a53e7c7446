/* redis.c - the Redis client behind store_redis.c (see redis.h): URL
 * parsing, connecting (TCP, then TLS with OpenSSL, then AUTH/SELECT) and one
 * request/reply exchange at a time. The socket is non-blocking and every
 * read and write waits in poll() for what remains of a deadline, so a Redis
 * that stops answering costs a request its timeout, never a worker. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getaddrinfo_a */
#endif
#include "redis.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define READ_CHUNK 16384

struct nsso_redis_tls {
    SSL_CTX *ctx;
};

struct nsso_redis_conn {
    int fd;
    SSL *ssl;
    redisReader *reader;
    int timeout_ms;
};

static void set_error(nsso_redis_error_t *e, nsso_redis_fail_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(nsso_redis_error_t *e, nsso_redis_fail_t kind, const char *fmt, ...)
{
    va_list ap;

    e->kind = kind;
    va_start(ap, fmt);
    /* clang 14's analyser loses va_start through the fail() macro's callers */
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
}

/* Record why in *e and evaluate to rv (a macro, so analysers see rv). */
#define fail(e, kind, rv, ...) (set_error((e), (kind), __VA_ARGS__), (rv))

/* ---- URL ------------------------------------------------------------------ */

static int bad_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' || *s == '#')
            return 1;
    return 0;
}

/* digits only, within [lo, hi] */
static int parse_num(const char *s, int lo, int hi, int *out)
{
    long v = 0;

    if (!*s || strlen(s) > 6)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* HOST[:PORT] or [V6][:PORT] into *host and *port (left as it is when absent). */
static apr_status_t parse_hostport(apr_pool_t *p, const char *hp, const char **host,
                                   int *port, const char **err)
{
    const char *colon;

    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close == hp + 1) {
            *err = "an IPv6 address must be in brackets: [::1]:6379";
            return APR_EINVAL;
        }
        *host = apr_pstrmemdup(p, hp + 1, close - hp - 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) {
            *err = "unexpected characters after the IPv6 address";
            return APR_EINVAL;
        }
    } else {
        colon = strchr(hp, ':');
        *host = colon ? apr_pstrmemdup(p, hp, colon - hp) : apr_pstrdup(p, hp);
    }
    if (!**host) {
        *err = "no host name";
        return APR_EINVAL;
    }
    if (colon && parse_num(colon + 1, 1, 65535, port)) {
        *err = "the port must be a number from 1 to 65535";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* A comma-separated list of sentinels (one host for a plain URL). */
static apr_status_t parse_hosts(apr_pool_t *p, char *list, nsso_redis_url_t *out,
                                const char **err)
{
    char *last = NULL, *hp;
    int def = out->port;

    if (!*list || *list == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
        *err = "an empty host in the list";
        return APR_EINVAL;
    }
    for (hp = apr_strtok(list, ",", &last); hp; hp = apr_strtok(NULL, ",", &last)) {
        if (out->nhosts == NSSO_REDIS_MAX_SENTINELS) {
            *err = "more than 16 sentinels";
            return APR_EINVAL;
        }
        if (!out->sentinel && out->nhosts == 1) {
            *err = "only a redis[s]-sentinel:// URL lists several hosts";
            return APR_EINVAL;
        }
        out->ports[out->nhosts] = def;
        if (parse_hostport(p, hp, &out->hosts[out->nhosts], &out->ports[out->nhosts], err)
            != APR_SUCCESS)
            return APR_EINVAL;
        out->nhosts++;
    }
    out->host = out->hosts[0];
    out->port = out->ports[0];
    return APR_SUCCESS;
}

/* The scheme: plain or TLS, direct or through Sentinel. NULL if unknown. */
static const char *parse_scheme(const char *url, nsso_redis_url_t *out)
{
    static const struct { const char *prefix; int tls, sentinel; } schemes[] = {
        { "redis://", 0, 0 }, { "rediss://", 1, 0 },
        { "redis-sentinel://", 0, 1 }, { "rediss-sentinel://", 1, 1 }
    };
    size_t i;

    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (!strncasecmp(url, schemes[i].prefix, strlen(schemes[i].prefix))) {
            out->tls = schemes[i].tls;
            out->sentinel = schemes[i].sentinel;
            return url + strlen(schemes[i].prefix);
        }
    return NULL;
}

/* "#MASTER" off the end of a Sentinel URL into out->master. */
static apr_status_t parse_master(apr_pool_t *p, const char **url, nsso_redis_url_t *out,
                                 const char **err)
{
    const char *hash = strchr(*url, '#');

    if (!out->sentinel)
        return APR_SUCCESS; /* a '#' is refused with the other characters */
    if (!hash || !hash[1] || bad_chars(hash + 1)) {
        *err = "a redis[s]-sentinel:// URL ends in #MASTER, the name the sentinels "
               "monitor the primary as (no spaces, '?' or '#')";
        return APR_EINVAL;
    }
    out->master = apr_pstrdup(p, hash + 1);
    *url = apr_pstrmemdup(p, *url, hash - *url);
    return APR_SUCCESS;
}

apr_status_t nsso_redis_url_parse(apr_pool_t *p, const char *url, nsso_redis_url_t *out,
                                  const char **err)
{
    const char *rest, *slash, *at;
    char *auth;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url || !(rest = parse_scheme(url, out))) {
        *err = "must start with redis:// or rediss:// (TLS), or redis-sentinel:// or "
               "rediss-sentinel://";
        return APR_EINVAL;
    }
    if (out->sentinel)
        out->port = 26379;
    if (parse_master(p, &rest, out, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (bad_chars(rest)) {
        *err = "no spaces, control characters, '?' or '#' allowed";
        return APR_EINVAL;
    }
    slash = strchr(rest, '/');
    auth = slash ? apr_pstrmemdup(p, rest, slash - rest) : apr_pstrdup(p, rest);
    if (slash && slash[1] && parse_num(slash + 1, 0, 999999, &out->db)) {
        *err = "the database after '/' must be a number";
        return APR_EINVAL;
    }
    at = strrchr(auth, '@');
    if (at) {
        char *userinfo = apr_pstrmemdup(p, auth, at - auth), *colon = strchr(userinfo, ':');
        if (colon) {
            *colon = '\0';
            out->password = colon[1] ? colon + 1 : NULL;
        }
        out->user = *userinfo ? userinfo : NULL;
        auth = (char *)at + 1;
    }
    return parse_hosts(p, auth, out, err);
}

/* ---- TLS context ---------------------------------------------------------- */

static apr_status_t tls_free(void *data)
{
    SSL_CTX_free(((nsso_redis_tls *)data)->ctx);
    return APR_SUCCESS;
}

static const char *ssl_error(apr_pool_t *p)
{
    unsigned long code = ERR_get_error();
    char buf[256];

    ERR_clear_error();
    if (!code)
        return "unknown error";
    ERR_error_string_n(code, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

apr_status_t nsso_redis_tls_create(apr_pool_t *p, const char *ca_file,
                                   const char *cert_file, const char *key_file,
                                   nsso_redis_tls **out, const char **err)
{
    nsso_redis_tls *t = apr_pcalloc(p, sizeof(*t));

    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        *err = apr_pstrcat(p, "cannot create a TLS context: ", ssl_error(p), NULL);
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, t, tls_free, apr_pool_cleanup_null);
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        *err = apr_psprintf(p, "NomisSSOSessionStoreCACertificateFile: cannot load %s: %s",
                            ca_file ? ca_file : "the system CAs", ssl_error(p));
        return APR_EINVAL;
    }
    if (cert_file && (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1
                      || SSL_CTX_use_PrivateKey_file(t->ctx, key_file ? key_file : cert_file,
                                                     SSL_FILETYPE_PEM) != 1
                      || SSL_CTX_check_private_key(t->ctx) != 1)) {
        *err = apr_psprintf(p, "NomisSSOSessionStoreCertificateFile: cannot use %s with "
                            "key %s: %s", cert_file, key_file ? key_file : cert_file,
                            ssl_error(p));
        return APR_EINVAL;
    }
    *out = t;
    return APR_SUCCESS;
}

/* ---- waiting -------------------------------------------------------------- */

/* 1 when fd is ready for events before deadline, 0 at the deadline, -1 on error. */
static int wait_fd(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd = { fd, events, 0 };
        apr_interval_time_t left = deadline - apr_time_now();
        int n;

        if (left <= 0)
            return 0;
        n = poll(&pfd, 1, (int)((left + 999) / 1000));
        if (n > 0)
            return 1;
        if (n == 0)
            continue; /* re-check the deadline: poll rounds */
        if (errno != EINTR)
            return -1;
    }
}

/* After an SSL call returned n <= 0: wait for what it wants. 1 to retry. */
static int ssl_wait(nsso_redis_conn *c, int n, apr_time_t deadline)
{
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(c->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(c->fd, POLLOUT, deadline);
    default:
        return -1;
    }
}

/* A failed TLS read or write: the peer went away (ENET, as for plain TCP),
 * or TLS itself refused something, e.g. the server's alert that it wants a
 * client certificate (TLS 1.3 sends it after the handshake), said as such. */
static apr_status_t tls_io_failed(nsso_redis_conn *c, const char *what,
                                  nsso_redis_error_t *e)
{
    unsigned long code = ERR_peek_error();
    char buf[200];

    if (!code || ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return fail(e, NSSO_REDIS_ENET, APR_ECONNRESET, "%s failed: connection closed", what);
    }
    ERR_error_string_n(code, buf, sizeof(buf));
    ERR_clear_error();
    return fail(e, NSSO_REDIS_ETLS, APR_ECONNRESET, "%s failed: %s", what, buf);
}

static apr_status_t io_write(nsso_redis_conn *c, const char *buf, size_t len,
                             apr_time_t deadline, nsso_redis_error_t *e)
{
    while (len) {
        ssize_t n;
        int w;

        if (c->ssl) {
            ERR_clear_error();
            n = SSL_write(c->ssl, buf, (int)len);
            if (n > 0) {
                buf += n;
                len -= (size_t)n;
                continue;
            }
            w = ssl_wait(c, (int)n, deadline);
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n >= 0) {
                buf += n;
                len -= (size_t)n;
                continue;
            }
            if (errno == EINTR)
                continue;
            w = (errno == EAGAIN || errno == EWOULDBLOCK) ? wait_fd(c->fd, POLLOUT, deadline)
                                                          : -1;
        }
        if (w == 0)
            return fail(e, NSSO_REDIS_ENET, APR_TIMEUP, "timed out sending a request");
        if (w < 0)
            return c->ssl ? tls_io_failed(c, "sending", e)
                          : fail(e, NSSO_REDIS_ENET, APR_ECONNRESET, "sending failed: %s",
                                 strerror(errno));
    }
    return APR_SUCCESS;
}

/* Some bytes into buf (*got > 0), or a failure (closed counts as one). */
static apr_status_t io_read(nsso_redis_conn *c, char *buf, size_t cap, size_t *got,
                            apr_time_t deadline, nsso_redis_error_t *e)
{
    for (;;) {
        ssize_t n;
        int w;

        if (c->ssl) {
            ERR_clear_error();
            n = SSL_read(c->ssl, buf, (int)cap);
            if (n > 0) {
                *got = (size_t)n;
                return APR_SUCCESS;
            }
            if (SSL_get_error(c->ssl, (int)n) == SSL_ERROR_ZERO_RETURN)
                return fail(e, NSSO_REDIS_ENET, APR_EOF, "the server closed the connection");
            w = ssl_wait(c, (int)n, deadline);
        } else {
            n = recv(c->fd, buf, cap, 0);
            if (n > 0) {
                *got = (size_t)n;
                return APR_SUCCESS;
            }
            if (n == 0)
                return fail(e, NSSO_REDIS_ENET, APR_EOF, "the server closed the connection");
            if (errno == EINTR)
                continue;
            w = (errno == EAGAIN || errno == EWOULDBLOCK) ? wait_fd(c->fd, POLLIN, deadline)
                                                          : -1;
        }
        if (w == 0)
            return fail(e, NSSO_REDIS_ENET, APR_TIMEUP, "timed out waiting for a reply");
        if (w < 0)
            return c->ssl ? tls_io_failed(c, "reading", e)
                          : fail(e, NSSO_REDIS_ENET, APR_ECONNRESET, "reading failed: %s",
                                 strerror(errno));
    }
}

/* ---- exchange ------------------------------------------------------------- */

static apr_status_t call_until(nsso_redis_conn *c, int argc, const char **argv,
                               const size_t *lens, redisReply **reply,
                               apr_time_t deadline, nsso_redis_error_t *e)
{
    char *cmd = NULL, buf[READ_CHUNK];
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    void *r = NULL;
    apr_status_t rv;

    *reply = NULL;
    if (len < 0)
        return fail(e, NSSO_REDIS_EPROTO, APR_ENOMEM, "cannot format a request");
    rv = io_write(c, cmd, (size_t)len, deadline, e);
    redisFreeCommand(cmd);
    if (rv != APR_SUCCESS)
        return rv;
    for (;;) {
        size_t got = 0;

        if (redisReaderGetReply(c->reader, &r) != REDIS_OK)
            return fail(e, NSSO_REDIS_EPROTO, APR_EGENERAL, "unreadable reply: %s",
                        c->reader->errstr);
        if (r) {
            *reply = r;
            return APR_SUCCESS;
        }
        if ((rv = io_read(c, buf, sizeof(buf), &got, deadline, e)) != APR_SUCCESS)
            return rv;
        if (redisReaderFeed(c->reader, buf, got) != REDIS_OK)
            return fail(e, NSSO_REDIS_EPROTO, APR_ENOMEM, "cannot buffer a reply");
    }
}

apr_status_t nsso_redis_call(nsso_redis_conn *c, int argc, const char **argv,
                             const size_t *lens, redisReply **reply, nsso_redis_error_t *e)
{
    return call_until(c, argc, argv, lens, reply,
                      apr_time_now() + apr_time_from_msec(c->timeout_ms), e);
}

/* The server's error reply as the failure kind it means. */
static apr_status_t refused(redisReply *r, nsso_redis_fail_t kind, const char *what,
                            nsso_redis_error_t *e)
{
    set_error(e, kind, "%s refused: %.*s", what, (int)(r->len > 200 ? 200 : r->len),
              r->str ? r->str : "");
    freeReplyObject(r);
    return APR_EACCES;
}

/* The first command on a new TLS 1.3 connection found it closed: a server
 * that wants a client certificate sends its alert only after the handshake,
 * and when our write meets the reset first the alert is lost. Without a
 * certificate of ours that is the likely cause: say so (the log then names
 * NomisSSOSessionStoreCertificateFile), keeping what was seen. */
static apr_status_t closed_after_handshake(nsso_redis_conn *c, apr_status_t rv,
                                           nsso_redis_error_t *e)
{
    char seen[sizeof(e->msg)];

    if (e->kind != NSSO_REDIS_ENET || !c->ssl || SSL_get_certificate(c->ssl)
        || SSL_version(c->ssl) != TLS1_3_VERSION || rv == APR_TIMEUP)
        return rv;
    memcpy(seen, e->msg, sizeof(seen));
    return fail(e, NSSO_REDIS_ETLS, rv, "the server closed the connection right after the "
                "TLS handshake: does it require a client certificate? (%s)", seen);
}

static apr_status_t handshake_until(nsso_redis_conn *c, const char *user,
                                    const char *password, int db, apr_time_t deadline,
                                    nsso_redis_error_t *e)
{
    redisReply *r;
    apr_status_t rv;

    if (password) {
        const char *argv[3] = { "AUTH", NULL, NULL };
        size_t lens[3] = { 4, 0, 0 };
        int argc = 1;
        if (user) {  /* an ACL user (Redis 6); else the default user */
            argv[argc] = user;
            lens[argc++] = strlen(user);
        }
        argv[argc] = password;
        lens[argc++] = strlen(password);
        if ((rv = call_until(c, argc, argv, lens, &r, deadline, e)) != APR_SUCCESS)
            return closed_after_handshake(c, rv, e);
        if (r->type == REDIS_REPLY_ERROR)
            return refused(r, NSSO_REDIS_EAUTH, "AUTH", e);
        freeReplyObject(r);
    }
    if (db) {
        char num[16];
        const char *argv[2] = { "SELECT", num };
        size_t lens[2] = { 6, 0 };
        lens[1] = (size_t)snprintf(num, sizeof(num), "%d", db);
        if ((rv = call_until(c, 2, argv, lens, &r, deadline, e)) != APR_SUCCESS)
            return rv;
        if (r->type == REDIS_REPLY_ERROR)
            return refused(r, strncmp(r->str, "NOAUTH", 6) ? NSSO_REDIS_EPROTO
                                                            : NSSO_REDIS_EAUTH, "SELECT", e);
        freeReplyObject(r);
    }
    return APR_SUCCESS;
}

apr_status_t nsso_redis_handshake(nsso_redis_conn *c, const char *user,
                                  const char *password, int db, nsso_redis_error_t *e)
{
    return handshake_until(c, user, password, db,
                           apr_time_now() + apr_time_from_msec(c->timeout_ms), e);
}

/* ---- connecting ----------------------------------------------------------- */

static nsso_redis_conn *conn_new(int fd, int timeout_ms)
{
    nsso_redis_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->reader = redisReaderCreate();
    if (!c->reader) {
        free(c);
        return NULL;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    return c;
}

nsso_redis_conn *nsso_redis_wrap_fd(int fd, int timeout_ms)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return NULL;
    return conn_new(fd, timeout_ms);
}

void nsso_redis_close(nsso_redis_conn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        if (SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl); /* a courtesy: never waits (non-blocking) */
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    redisReaderFree(c->reader);
    free(c);
}

/* One address: a non-blocking connect that waits until the deadline. */
static int connect_one(const struct addrinfo *ai, apr_time_t deadline, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    int one = 1, w;
    socklen_t elen = sizeof(*err);

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return -1;
        }
        w = wait_fd(fd, POLLOUT, deadline);
        if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen) < 0 || *err) {
            if (w == 0)
                *err = ETIMEDOUT;
            else if (w < 0)
                *err = errno;
            close(fd);
            return -1;
        }
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* ---- name resolution within a deadline ---------------------------------- */

/* getaddrinfo has no deadline: a name server that does not answer would
 * hold a worker for as long as the resolver's own retries (seconds a try).
 * glibc's getaddrinfo_a runs the lookup in a thread of its own; one still
 * running at the deadline is cancelled or, when glibc can no longer cancel
 * it, left to finish and freed by a later lookup (reap_abandoned). */
typedef struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    char port[8];
    struct lookup *next;
    char host[];
} lookup_t;

static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;
static lookup_t *abandoned;

static void lookup_free(lookup_t *l)
{
    if (l->cb.ar_result)
        freeaddrinfo(l->cb.ar_result);
    free(l);
}

static void reap_abandoned(void)
{
    lookup_t **pp, *l;

    pthread_mutex_lock(&abandoned_mu);
    for (pp = &abandoned; (l = *pp);) {
        if (gai_error(&l->cb) == EAI_INPROGRESS) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        lookup_free(l);
    }
    pthread_mutex_unlock(&abandoned_mu);
}

static void abandon(lookup_t *l)
{
    if (gai_cancel(&l->cb) == EAI_CANCELED || gai_error(&l->cb) != EAI_INPROGRESS) {
        lookup_free(l);
        return;
    }
    pthread_mutex_lock(&abandoned_mu);
    l->next = abandoned;
    abandoned = l;
    pthread_mutex_unlock(&abandoned_mu);
}

static int is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Wait for l until deadline: 0 when it finished (its status in *gai). */
static int lookup_wait(lookup_t *l, apr_time_t deadline, int *gai)
{
    const struct gaicb *list[1] = { &l->cb };

    while ((*gai = gai_error(&l->cb)) == EAI_INPROGRESS) {
        apr_interval_time_t left = deadline - apr_time_now();
        struct timespec ts;

        if (left <= 0)
            return -1;
        ts.tv_sec = (time_t)(left / APR_USEC_PER_SEC);
        ts.tv_nsec = (long)(left % APR_USEC_PER_SEC) * 1000;
        gai_suspend(list, 1, &ts); /* EAI_AGAIN, EAI_INTR: the loop looks again */
    }
    return 0;
}

/* host:port's addresses (freeaddrinfo them), or -1 with *e set. */
static int resolve(const char *host, int port, apr_time_t deadline, struct addrinfo **res,
                   nsso_redis_error_t *e)
{
    size_t hlen = strlen(host);
    struct gaicb *list[1];
    lookup_t *l;
    int gai;

    reap_abandoned();
    if (!(l = calloc(1, sizeof(*l) + hlen + 1)))
        return fail(e, NSSO_REDIS_ENET, -1, "out of memory");
    memcpy(l->host, host, hlen + 1);
    snprintf(l->port, sizeof(l->port), "%d", port);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->hints.ai_flags = AI_NUMERICSERV | (is_ip(host) ? AI_NUMERICHOST : 0);
    if (l->hints.ai_flags & AI_NUMERICHOST) { /* no lookup, no thread */
        gai = getaddrinfo(host, l->port, &l->hints, res);
        free(l);
        return gai ? fail(e, NSSO_REDIS_ENET, -1, "bad address %s: %s", host,
                          gai_strerror(gai)) : 0;
    }
    l->cb.ar_name = l->host;
    l->cb.ar_service = l->port;
    l->cb.ar_request = &l->hints;
    list[0] = &l->cb;
    if ((gai = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
        free(l);
        return fail(e, NSSO_REDIS_ENET, -1, "cannot resolve %s: %s", host, gai_strerror(gai));
    }
    if (lookup_wait(l, deadline, &gai) != 0) {
        abandon(l);
        return fail(e, NSSO_REDIS_ENET, -1, "cannot resolve %s: timed out", host);
    }
    if (gai) {
        lookup_free(l);
        return fail(e, NSSO_REDIS_ENET, -1, "cannot resolve %s: %s", host, gai_strerror(gai));
    }
    *res = l->cb.ar_result;
    l->cb.ar_result = NULL;
    free(l);
    return 0;
}

static int tcp_connect(const char *host, int port, apr_time_t deadline,
                       nsso_redis_error_t *e)
{
    struct addrinfo *res = NULL, *ai;
    int fd = -1, err = 0;

    if (resolve(host, port, deadline, &res, e) != 0)
        return -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline, &err);
    freeaddrinfo(res);
    if (fd < 0)
        set_error(e, NSSO_REDIS_ENET, "cannot connect: %s", strerror(err));
    return fd;
}

/* TLS over c->fd: chain verified against the context's CAs, and the
 * certificate must name host (DNS name, or IP address for a literal). */
static apr_status_t tls_connect(nsso_redis_conn *c, nsso_redis_tls *t, const char *host,
                                apr_time_t deadline, nsso_redis_error_t *e)
{
    int n, w;

    if (!(c->ssl = SSL_new(t->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
        return fail(e, NSSO_REDIS_ETLS, APR_ENOMEM, "cannot start TLS");
    if (is_ip(host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1)
            return fail(e, NSSO_REDIS_ETLS, APR_EGENERAL, "cannot check the address %s", host);
    } else if (SSL_set_tlsext_host_name(c->ssl, host) != 1 || SSL_set1_host(c->ssl, host) != 1) {
        return fail(e, NSSO_REDIS_ETLS, APR_EGENERAL, "cannot check the host name %s", host);
    }
    for (;;) {
        ERR_clear_error();
        if ((n = SSL_connect(c->ssl)) == 1)
            return APR_SUCCESS;
        if (SSL_get_verify_result(c->ssl) != X509_V_OK)
            return fail(e, NSSO_REDIS_EVERIFY, APR_EGENERAL, "certificate refused: %s",
                        X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
        w = ssl_wait(c, n, deadline);
        if (w == 0)
            return fail(e, NSSO_REDIS_ENET, APR_TIMEUP, "timed out in the TLS handshake");
        if (w < 0) {
            unsigned long code = ERR_get_error();
            char buf[200] = "connection closed";
            if (code)
                ERR_error_string_n(code, buf, sizeof(buf));
            ERR_clear_error();
            return fail(e, NSSO_REDIS_ETLS, APR_EGENERAL, "TLS handshake failed: %s", buf);
        }
    }
}

apr_status_t nsso_redis_connect(const nsso_redis_target_t *t, apr_time_t deadline,
                                nsso_redis_conn **out, nsso_redis_error_t *e)
{
    nsso_redis_conn *c;
    apr_status_t rv;
    int fd = tcp_connect(t->host, t->port, deadline, e);

    *out = NULL;
    if (fd < 0)
        return APR_ECONNREFUSED;
    if (!(c = conn_new(fd, t->timeout_ms))) {
        close(fd);
        return fail(e, NSSO_REDIS_ENET, APR_ENOMEM, "out of memory");
    }
    rv = t->tls ? tls_connect(c, t->tls, t->host, deadline, e) : APR_SUCCESS;
    if (rv == APR_SUCCESS)
        rv = handshake_until(c, t->user, t->password, t->db, deadline, e);
    if (rv != APR_SUCCESS) {
        nsso_redis_close(c);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}

/* ---- who is the primary ---------------------------------------------------- */

static int bulk(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING && r->str;
}

apr_status_t nsso_redis_role_primary(nsso_redis_conn *c, nsso_redis_error_t *e)
{
    const char *argv[1] = { "ROLE" };
    size_t lens[1] = { 4 };
    redisReply *r;
    apr_status_t rv;

    if ((rv = nsso_redis_call(c, 1, argv, lens, &r, e)) != APR_SUCCESS)
        return rv;
    if (r->type == REDIS_REPLY_ERROR)
        rv = nsso_redis_reply_not_primary(r)
             ? fail(e, NSSO_REDIS_EROLE, APR_EAGAIN, "ROLE refused: %.200s", r->str)
             : APR_ENOTIMPL;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !bulk(r->element[0]))
        rv = fail(e, NSSO_REDIS_EPROTO, APR_EGENERAL, "unexpected reply to ROLE");
    else if (strcmp(r->element[0]->str, "master"))
        rv = fail(e, NSSO_REDIS_EROLE, APR_EAGAIN, "the node is a %.20s, not the primary "
                  "(a failover under way?)", r->element[0]->str);
    freeReplyObject(r);
    return rv;
}

apr_status_t nsso_redis_sentinel_master(nsso_redis_conn *c, const char *master, char *host,
                                        size_t cap, int *port, nsso_redis_error_t *e)
{
    const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", master };
    size_t lens[3] = { 8, 23, strlen(master) };
    redisReply *r;
    apr_status_t rv;

    if ((rv = nsso_redis_call(c, 3, argv, lens, &r, e)) != APR_SUCCESS)
        return rv;
    if (r->type == REDIS_REPLY_ERROR)
        rv = fail(e, NSSO_REDIS_ESENTINEL, APR_NOTFOUND, "SENTINEL refused: %.200s", r->str);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !bulk(r->element[0])
             || !bulk(r->element[1]) || r->element[0]->len >= cap
             || parse_num(r->element[1]->str, 1, 65535, port))
        rv = fail(e, NSSO_REDIS_ESENTINEL, APR_NOTFOUND, "the sentinel knows no primary "
                  "named %.100s", master);
    else
        memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    freeReplyObject(r);
    return rv;
}

int nsso_redis_reply_not_primary(const redisReply *r)
{
    static const char *const codes[] = { "READONLY", "LOADING", "MASTERDOWN" };
    size_t i;

    if (r->type != REDIS_REPLY_ERROR || !r->str)
        return 0;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (!strncmp(r->str, codes[i], strlen(codes[i])))
            return 1;
    return 0;
}
