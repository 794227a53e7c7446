/* http.h - the module's HTTP client (libcurl) for server-to-server calls to
 * HMPPS Auth: bounded time, bounded response size, no redirects followed,
 * http/https only, TLS verification on unless configured off. */
#ifndef NSSO_HTTP_H
#define NSSO_HTTP_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#define NSSO_HTTP_MAX_BODY (1024 * 1024)

typedef struct {
    long timeout_ms;      /* whole request */
    int ssl_verify;       /* verify peer and host name */
    const char *ca_file;  /* NULL: system CA store */
} nsso_http_opts_t;

typedef struct {
    long status;             /* HTTP status, 0 if none was received */
    char *body;              /* NUL-terminated */
    apr_size_t len;
    const char *content_type;
    apr_interval_time_t max_age; /* from Cache-Control max-age, -1 if none */
} nsso_http_response_t;

/* Called after every request with its URL, its HTTP status (0: no answer)
 * and the time it took: how the module counts its calls to HMPPS Auth
 * (metrics.c). NULL: none. Set in the parent before children start. */
typedef void (*nsso_http_observer_fn)(const char *url, long status, apr_interval_time_t took);
void nsso_http_set_observer(nsso_http_observer_fn fn);

/* One-time libcurl initialisation (call in the parent before threads). */
apr_status_t nsso_http_global_init(void);

/* Reuse connections, TLS sessions and DNS answers in this process from now
 * on, until pchild is destroyed (call once per child, before its threads
 * make requests). Without it every request has a connection of its own. */
apr_status_t nsso_http_child_init(apr_pool_t *pchild);

/* GET url. bearer may be NULL. Transport errors (connect, timeout, too large
 * a body) return APR_EGENERAL with *err set; any HTTP status is a success
 * at this level. */
apr_status_t nsso_http_get(apr_pool_t *p, const nsso_http_opts_t *opts,
                           const char *url, const char *bearer,
                           nsso_http_response_t *resp, const char **err);

/* POST an application/x-www-form-urlencoded body, with HTTP Basic
 * credentials when basic_user is not NULL. */
apr_status_t nsso_http_post_form(apr_pool_t *p, const nsso_http_opts_t *opts,
                                 const char *url, const char *form,
                                 const char *basic_user, const char *basic_pass,
                                 nsso_http_response_t *resp, const char **err);

/* POST with an empty body and `Authorization: Bearer <bearer>` (the token
 * verification API). */
apr_status_t nsso_http_post_bearer(apr_pool_t *p, const nsso_http_opts_t *opts,
                                   const char *url, const char *bearer,
                                   nsso_http_response_t *resp, const char **err);

#endif
