/* http.c - libcurl wrapper for the module's calls to HMPPS Auth. Every
 * request is bounded in time and in response size, follows no redirects,
 * speaks only http/https, and never installs signal handlers (threads).
 *
 * Connections are reused per child (nsso_http_child_init): finished easy
 * handles go back to a small mutex-protected pool, and each keeps its
 * connection cache (HTTP keep-alive, a TLS handshake saved per call), while
 * a share object gives every handle the child's DNS and TLS session caches.
 * Connections are deliberately not shared through the share object: libcurl
 * (7.88) documents that as unsafe across concurrent threads. libcurl only
 * reuses a connection for a request with the same TLS settings (CA file,
 * verification), so servers with different trust never share one. */
#include "http.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#ifndef NSSO_VERSION
#define NSSO_VERSION "dev"
#endif

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
    int too_large;
    nsso_http_response_t *resp;
} body_ctx;

static nsso_http_observer_fn observer;

void nsso_http_set_observer(nsso_http_observer_fn fn)
{
    observer = fn;
}

apr_status_t nsso_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? APR_SUCCESS : APR_EGENERAL;
}

/* ---- per-child reuse ------------------------------------------------------ */

#define IDLE_HANDLES 8       /* kept between requests; busier moments make more */
#define CONNS_PER_HANDLE 2L  /* so at most 16 idle connections per child */

static struct {
    apr_thread_mutex_t *mu;  /* idle, nidle */
    CURL *idle[IDLE_HANDLES];
    int nidle;
    CURLSH *share;
    apr_thread_mutex_t *locks[CURL_LOCK_DATA_LAST];
} reuse;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST && reuse.locks[data])
        apr_thread_mutex_lock(reuse.locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST && reuse.locks[data])
        apr_thread_mutex_unlock(reuse.locks[data]);
}

static apr_status_t reuse_end(void *data)
{
    apr_thread_mutex_t *mu = reuse.mu;
    int i;

    if (!mu)
        return APR_SUCCESS;
    apr_thread_mutex_lock(mu);
    for (i = 0; i < reuse.nidle; i++)
        curl_easy_cleanup(reuse.idle[i]);
    reuse.nidle = 0;
    reuse.mu = NULL;
    apr_thread_mutex_unlock(mu);
    if (reuse.share)
        curl_share_cleanup(reuse.share);
    memset(&reuse, 0, sizeof(reuse));
    return APR_SUCCESS;
}

apr_status_t nsso_http_child_init(apr_pool_t *pchild)
{
    apr_status_t rv;
    int i;

    if (reuse.mu)
        return APR_SUCCESS;
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        if ((rv = apr_thread_mutex_create(&reuse.locks[i], APR_THREAD_MUTEX_DEFAULT,
                                          pchild)) != APR_SUCCESS)
            return rv;
    reuse.share = curl_share_init();
    if (!reuse.share
        || curl_share_setopt(reuse.share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK
        || curl_share_setopt(reuse.share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK
        || curl_share_setopt(reuse.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK
        || curl_share_setopt(reuse.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)
           != CURLSHE_OK) {
        if (reuse.share)
            curl_share_cleanup(reuse.share);
        reuse.share = NULL;
        return APR_EGENERAL;
    }
    if ((rv = apr_thread_mutex_create(&reuse.mu, APR_THREAD_MUTEX_DEFAULT, pchild))
        != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(pchild, NULL, reuse_end, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* A handle from the pool (reset when it went back: no option of its last
 * request survives, its connections and caches do) or a new one. */
static CURL *handle_get(void)
{
    CURL *h = NULL;

    if (reuse.mu) {
        apr_thread_mutex_lock(reuse.mu);
        if (reuse.nidle)
            h = reuse.idle[--reuse.nidle];
        apr_thread_mutex_unlock(reuse.mu);
    }
    if (!h && !(h = curl_easy_init()))
        return NULL;
    if (reuse.share)
        curl_easy_setopt(h, CURLOPT_SHARE, reuse.share);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, CONNS_PER_HANDLE);
    return h;
}

static void handle_put(CURL *h)
{
    /* no pointer into this request's buffers or stack stays in the pool */
    curl_easy_reset(h);
    if (reuse.mu) {
        apr_thread_mutex_lock(reuse.mu);
        if (reuse.nidle < IDLE_HANDLES) {
            reuse.idle[reuse.nidle++] = h;
            h = NULL;
        }
        apr_thread_mutex_unlock(reuse.mu);
    }
    if (h)
        curl_easy_cleanup(h);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    body_ctx *b = userdata;
    apr_size_t n = size * nmemb;

    if (b->len + n > NSSO_HTTP_MAX_BODY) {
        b->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 4096;
        char *nb;
        while (cap < b->len + n + 1)
            cap *= 2;
        nb = apr_palloc(b->p, cap);
        if (b->len)
            memcpy(nb, b->buf, b->len);
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

/* Cache-Control: max-age=N -> N seconds (as apr interval). */
static void parse_cache_control(const char *v, nsso_http_response_t *resp)
{
    const char *m = v;

    while ((m = strstr(m, "max-age")) != NULL) {
        const char *q = m + 7;
        char *end;
        apr_int64_t secs;
        while (*q == ' ')
            q++;
        if (*q++ != '=') {
            m += 7;
            continue;
        }
        secs = apr_strtoi64(q, &end, 10);
        if (end != q && secs >= 0 && secs < 10 * 365 * 86400)
            resp->max_age = apr_time_from_sec(secs);
        return;
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    body_ctx *b = userdata;
    apr_size_t n = size * nmemb;
    char *line = apr_pstrmemdup(b->p, data, n), *colon, *val;

    colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    val = colon + 1;
    while (*val == ' ' || *val == '\t')
        val++;
    val[strcspn(val, "\r\n")] = '\0';
    if (!strcasecmp(line, "Cache-Control"))
        parse_cache_control(val, b->resp);
    else if (!strcasecmp(line, "Content-Type"))
        b->resp->content_type = val;
    return n;
}

static apr_status_t perform(apr_pool_t *p, CURL *curl, const nsso_http_opts_t *opts,
                            const char *url, struct curl_slist *headers,
                            nsso_http_response_t *resp, const char **err)
{
    body_ctx b = { p, NULL, 0, 0, 0, resp };
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;

    memset(resp, 0, sizeof(*resp));
    resp->max_age = -1;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, opts->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, opts->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, opts->ssl_verify ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, opts->ssl_verify ? 2L : 0L);
    if (opts->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_file);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_nomis_sso/" NSSO_VERSION);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &b);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        *err = b.too_large
            ? apr_psprintf(p, "response from %s larger than %d bytes", url, NSSO_HTTP_MAX_BODY)
            : apr_psprintf(p, "request to %s failed: %s", url,
                           *errbuf ? errbuf : curl_easy_strerror(rc));
        return APR_EGENERAL;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = b.buf ? b.buf : apr_pstrdup(p, "");
    resp->len = b.len;
    return APR_SUCCESS;
}

/* Append a header line; on failure the whole list is freed and *h is NULL. */
static int add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);

    if (!n) {
        curl_slist_free_all(*h);
        *h = NULL;
        return -1;
    }
    *h = n;
    return 0;
}

/* Run one request and release everything (the handle back to the pool). */
static apr_status_t run(apr_pool_t *p, CURL *curl, const nsso_http_opts_t *opts,
                        const char *url, struct curl_slist *h, int headers_ok,
                        nsso_http_response_t *resp, const char **err)
{
    apr_status_t rv = APR_ENOMEM;

    if (!headers_ok)
        *err = "out of memory";
    else
        rv = perform(p, curl, opts, url, h, resp, err);
    handle_put(curl);
    curl_slist_free_all(h);
    return rv;
}

typedef struct {
    const char *form;        /* POST body (form-urlencoded); NULL: GET */
    const char *bearer;      /* Authorization: Bearer */
    const char *basic_user;  /* HTTP Basic credentials */
    const char *basic_pass;
} request_spec;

static apr_status_t request(apr_pool_t *p, const nsso_http_opts_t *opts, const char *url,
                            const request_spec *rq, nsso_http_response_t *resp,
                            const char **err)
{
    CURL *curl = handle_get();
    struct curl_slist *h = NULL;
    apr_time_t start = apr_time_now();
    apr_status_t rv;
    int ok;

    if (!curl) {
        *err = "curl_easy_init failed";
        return APR_ENOMEM;
    }
    ok = !add_header(&h, "Accept: application/json")
         && (!rq->form || !add_header(&h, "Content-Type: application/x-www-form-urlencoded"))
         && (!rq->bearer
             || !add_header(&h, apr_pstrcat(p, "Authorization: Bearer ", rq->bearer, NULL)));
    if (rq->form) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->form);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->form));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    if (rq->basic_user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, rq->basic_user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, rq->basic_pass ? rq->basic_pass : "");
    }
    rv = run(p, curl, opts, url, h, ok, resp, err);
    if (observer)
        observer(url, rv == APR_SUCCESS ? resp->status : 0, apr_time_now() - start);
    return rv;
}

apr_status_t nsso_http_get(apr_pool_t *p, const nsso_http_opts_t *opts,
                           const char *url, const char *bearer,
                           nsso_http_response_t *resp, const char **err)
{
    request_spec rq = { NULL, bearer, NULL, NULL };
    return request(p, opts, url, &rq, resp, err);
}

apr_status_t nsso_http_post_bearer(apr_pool_t *p, const nsso_http_opts_t *opts,
                                   const char *url, const char *bearer,
                                   nsso_http_response_t *resp, const char **err)
{
    request_spec rq = { "", bearer, NULL, NULL };
    return request(p, opts, url, &rq, resp, err);
}

apr_status_t nsso_http_post_form(apr_pool_t *p, const nsso_http_opts_t *opts,
                                 const char *url, const char *form,
                                 const char *basic_user, const char *basic_pass,
                                 nsso_http_response_t *resp, const char **err)
{
    request_spec rq = { form, NULL, basic_user, basic_pass };
    return request(p, opts, url, &rq, resp, err);
}
