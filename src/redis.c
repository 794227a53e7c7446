/* redis.c - the Redis client behind store_redis.c (see redis.h): URL
 * parsing, connecting (TCP, then TLS with OpenSSL, then AUTH/SELECT) and one
 * request/reply exchange at a time. The socket is non-blocking and every
 * read and write waits in poll() for what remains of a deadline, so a Redis
 * that stops answering costs a request its timeout, never a worker. */
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

static apr_status_t parse_hostport(apr_pool_t *p, const char *hp, nsso_redis_url_t *out,
                                   const char **err)
{
    const char *colon;

    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close == hp + 1) {
            *err = "an IPv6 address must be in brackets: [::1]:6379";
            return APR_EINVAL;
        }
        out->host = apr_pstrmemdup(p, hp + 1, close - hp - 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) {
            *err = "unexpected characters after the IPv6 address";
            return APR_EINVAL;
        }
    } else {
        colon = strchr(hp, ':');
        out->host = colon ? apr_pstrmemdup(p, hp, colon - hp) : apr_pstrdup(p, hp);
    }
    if (!*out->host) {
        *err = "no host name";
        return APR_EINVAL;
    }
    if (colon && parse_num(colon + 1, 1, 65535, &out->port)) {
        *err = "the port must be a number from 1 to 65535";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t nsso_redis_url_parse(apr_pool_t *p, const char *url, nsso_redis_url_t *out,
                                  const char **err)
{
    const char *rest, *slash, *at;
    char *auth;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url || bad_chars(url)) {
        *err = "no spaces, control characters, '?' or '#' allowed";
        return APR_EINVAL;
    }
    if (!strncasecmp(url, "redis://", 8))
        rest = url + 8;
    else if (!strncasecmp(url, "rediss://", 9)) {
        rest = url + 9;
        out->tls = 1;
    } else {
        *err = "must start with redis:// or rediss:// (TLS)";
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
    return parse_hostport(p, auth, out, err);
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

static int tcp_connect(const nsso_redis_url_t *u, apr_time_t deadline, nsso_redis_error_t *e)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, err = 0, gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", u->port);
    if ((gai = getaddrinfo(u->host, port, &hints, &res)) != 0) {
        set_error(e, NSSO_REDIS_ENET, "cannot resolve %s: %s", u->host, gai_strerror(gai));
        return -1;
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline, &err);
    freeaddrinfo(res);
    if (fd < 0)
        set_error(e, NSSO_REDIS_ENET, "cannot connect: %s", strerror(err));
    return fd;
}

static int is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
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

apr_status_t nsso_redis_connect(const nsso_redis_target_t *t, nsso_redis_conn **out,
                                nsso_redis_error_t *e)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(t->connect_timeout_ms);
    const char *password = t->password ? t->password : t->url->password;
    nsso_redis_conn *c;
    apr_status_t rv;
    int fd = tcp_connect(t->url, deadline, e);

    *out = NULL;
    if (fd < 0)
        return APR_ECONNREFUSED;
    if (!(c = conn_new(fd, t->timeout_ms))) {
        close(fd);
        return fail(e, NSSO_REDIS_ENET, APR_ENOMEM, "out of memory");
    }
    rv = t->tls ? tls_connect(c, t->tls, t->url->host, deadline, e) : APR_SUCCESS;
    if (rv == APR_SUCCESS)
        rv = handshake_until(c, t->url->user, password, t->url->db, deadline, e);
    if (rv != APR_SUCCESS) {
        nsso_redis_close(c);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}
