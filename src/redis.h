/* redis.h - a small Redis client for the session store: one connection,
 * plain TCP or TLS (OpenSSL, certificate chain and host name verified),
 * AUTH (Redis 6 ACL user) and SELECT after connecting, requests formatted
 * and replies parsed by hiredis (0.14 has no TLS, so we feed its reader
 * from our own socket), every wait bounded by a deadline. Pure: no httpd
 * symbols, so the unit tests drive it over a socketpair. */
#ifndef NSSO_REDIS_H
#define NSSO_REDIS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

/* What the operator configured (config.c fills it, store_redis.c uses it). */
typedef struct {
    const char *url;        /* redis://... or rediss://...; NULL: not used */
    const char *password;   /* NomisSSOSessionStorePassword, resolved */
    const char *ca_file;    /* NULL: the system CAs */
    const char *cert_file;  /* client certificate (optional) */
    const char *key_file;
} nsso_redis_settings;

/* redis[s]://[USER[:PASSWORD]@]HOST[:PORT][/DB] taken apart. */
typedef struct {
    int tls;
    const char *host;       /* a name or an IP literal, without brackets */
    int port;               /* 6379 unless given */
    int db;                 /* 0 unless given */
    const char *user;       /* NULL: none (AUTH with the password alone) */
    const char *password;   /* NULL: none */
} nsso_redis_url_t;

/* APR_EINVAL with *err saying what is wrong (never echoing a password). */
apr_status_t nsso_redis_url_parse(apr_pool_t *p, const char *url,
                                  nsso_redis_url_t *out, const char **err);

/* Why a connection or a call failed: the store names the directive to fix. */
typedef enum {
    NSSO_REDIS_ENET = 1,    /* unreachable, closed, timed out */
    NSSO_REDIS_ETLS,        /* TLS failed for another reason */
    NSSO_REDIS_EVERIFY,     /* the server's certificate was refused */
    NSSO_REDIS_EAUTH,       /* AUTH refused (or the server wants one) */
    NSSO_REDIS_EPROTO       /* an unexpected reply, SELECT refused */
} nsso_redis_fail_t;

typedef struct {
    nsso_redis_fail_t kind;
    char msg[256];
} nsso_redis_error_t;

/* A TLS client context (chain and client certificate loaded once, shared
 * by every connection; freed with p). */
typedef struct nsso_redis_tls nsso_redis_tls;
apr_status_t nsso_redis_tls_create(apr_pool_t *p, const char *ca_file,
                                   const char *cert_file, const char *key_file,
                                   nsso_redis_tls **out, const char **err);

typedef struct {
    const nsso_redis_url_t *url;
    const char *password;   /* overrides url->password when not NULL */
    nsso_redis_tls *tls;    /* NULL: plain TCP */
    int connect_timeout_ms; /* TCP connect + TLS handshake + AUTH/SELECT */
    int timeout_ms;         /* one request and its reply */
} nsso_redis_target_t;

/* A connection (malloc'ed: it outlives requests; nsso_redis_close frees). */
typedef struct nsso_redis_conn nsso_redis_conn;

apr_status_t nsso_redis_connect(const nsso_redis_target_t *t, nsso_redis_conn **out,
                                nsso_redis_error_t *e);
/* Wrap a connected plain socket (the tests' socketpair), non-blocking. */
nsso_redis_conn *nsso_redis_wrap_fd(int fd, int timeout_ms);
/* AUTH [user] password when there is a password, SELECT db when db != 0. */
apr_status_t nsso_redis_handshake(nsso_redis_conn *c, const char *user,
                                  const char *password, int db, nsso_redis_error_t *e);
/* One request, one reply (free it with freeReplyObject). An error reply is
 * a success here (the caller reads it); on any failure the connection is
 * unusable and must be closed. */
apr_status_t nsso_redis_call(nsso_redis_conn *c, int argc, const char **argv,
                             const size_t *lens, redisReply **reply,
                             nsso_redis_error_t *e);
void nsso_redis_close(nsso_redis_conn *c);

#endif
