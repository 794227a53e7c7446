/* redis.h - a small Redis client for the session store: one connection,
 * plain TCP or TLS (OpenSSL, certificate chain and host name verified),
 * AUTH (Redis 6 ACL user) and SELECT after connecting, requests formatted
 * and replies parsed by hiredis (0.14 has no TLS, so we feed its reader
 * from our own socket), every wait bounded by a deadline (name resolution
 * included), and the two questions failover asks: which node is the
 * primary (Sentinel) and is this one it (ROLE). Pure: no httpd symbols, so
 * the unit tests drive it over a socketpair. */
#ifndef NSSO_REDIS_H
#define NSSO_REDIS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <stddef.h>
#include <apr_time.h>
#include <hiredis/hiredis.h>

/* What the operator configured (config.c fills it, store_redis.c uses it). */
typedef struct {
    const char *url;        /* redis[s][-sentinel]://...; NULL: not used */
    int sentinel;           /* url names sentinels (config.c, from the parse) */
    const char *password;   /* NomisSSOSessionStorePassword, resolved */
    const char *sentinel_password; /* NomisSSOSessionStoreSentinelPassword */
    const char *ca_file;    /* NULL: the system CAs */
    const char *cert_file;  /* client certificate (optional) */
    const char *key_file;
    int timeout_ms;         /* NomisSSOSessionStoreTimeout; 0: the default */
    int replicas;           /* NomisSSOSessionStoreReplicas: WAIT for N */
} nsso_redis_settings;

#define NSSO_REDIS_TIMEOUT_MS 2000  /* NomisSSOSessionStoreTimeout's default */
#define NSSO_REDIS_MAX_SENTINELS 16

/* redis[s]://[USER[:PASSWORD]@]HOST[:PORT][/DB] or
 * redis[s]-sentinel://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][/DB]#MASTER
 * taken apart. For Sentinel, the hosts are the sentinels (port 26379
 * unless given) and user, password and db are the data nodes'. */
typedef struct {
    int tls;
    int sentinel;           /* 1: nhosts sentinels, ask them for master */
    const char *host;       /* the first host: a name or an IP literal, without brackets */
    int port;               /* 6379 (26379 for a sentinel) unless given */
    int nhosts;             /* 1 for a plain URL */
    const char *hosts[NSSO_REDIS_MAX_SENTINELS];
    int ports[NSSO_REDIS_MAX_SENTINELS];
    const char *master;     /* Sentinel's name of the primary; NULL: plain */
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
    NSSO_REDIS_EPROTO,      /* an unexpected reply, SELECT refused */
    NSSO_REDIS_EROLE,       /* not the primary (READONLY, LOADING, a replica's ROLE) */
    NSSO_REDIS_ESENTINEL    /* no sentinel named a primary */
} nsso_redis_fail_t;
#define NSSO_REDIS_FAIL_MAX NSSO_REDIS_ESENTINEL

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

/* One node to connect to. */
typedef struct {
    const char *host;       /* a name (resolved within the deadline) or an IP literal */
    int port;
    const char *user;       /* NULL: AUTH with the password alone */
    const char *password;   /* NULL: no AUTH */
    int db;                 /* SELECT when not 0 */
    nsso_redis_tls *tls;    /* NULL: plain TCP */
    int timeout_ms;         /* one request and its reply */
} nsso_redis_target_t;

/* A connection (malloc'ed: it outlives requests; nsso_redis_close frees). */
typedef struct nsso_redis_conn nsso_redis_conn;

/* Resolve, connect, TLS, AUTH, SELECT: all before deadline. */
apr_status_t nsso_redis_connect(const nsso_redis_target_t *t, apr_time_t deadline,
                                nsso_redis_conn **out, nsso_redis_error_t *e);
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

/* The node's own answer to ROLE: APR_SUCCESS for a primary, APR_EAGAIN
 * (NSSO_REDIS_EROLE) for a replica or a sentinel, APR_ENOTIMPL when ROLE
 * is refused (an ACL or a managed service that hides it: the caller cannot
 * tell, and goes on); any other status: the connection is unusable. */
apr_status_t nsso_redis_role_primary(nsso_redis_conn *c, nsso_redis_error_t *e);

/* A sentinel's answer to SENTINEL get-master-addr-by-name master: the
 * address into host (cap bytes) and *port. APR_NOTFOUND
 * (NSSO_REDIS_ESENTINEL) when it knows no such master or answers with an
 * error; any other failure: the connection is unusable. */
apr_status_t nsso_redis_sentinel_master(nsso_redis_conn *c, const char *master, char *host,
                                        size_t cap, int *port, nsso_redis_error_t *e);

/* 1 when an error reply says the node cannot serve as the primary now
 * (READONLY, LOADING, MASTERDOWN, and the like): the caller finds the
 * primary again. */
int nsso_redis_reply_not_primary(const redisReply *r);

#endif
