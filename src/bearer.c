/* bearer.c - bearer tokens for API callers (AuthType nomis-bearer, or
 * NomisSSOAcceptBearer On beside sessions).
 *
 * A token is verified like a sign-in token (JWKS, alg allow-list, iss,
 * exp) and the result kept in the session store under "b:<realm>:" +
 * base64url of its SHA-256 (never the token itself) until the token
 * expires, so the RSA check runs once per token, not once per request,
 * across all children. In front of it each child keeps the tokens it saw
 * last (LOCAL_SLOTS, the whole token compared byte for byte, so an API
 * caller's repeated token costs neither a digest nor a store lookup).
 * Both caches hold what one realm (realm.h) accepted and answer only that
 * realm: a token one virtual host took is checked afresh by another whose
 * HMPPS Auth settings differ. Errors follow RFC 6750: 401 with a Bearer
 * challenge naming the error.
 *
 * NomisSSOBearerClients is checked on every request, after either cache:
 * the caches hold what a token says, and each location may accept other
 * clients. */
#include "bearer.h"
#include "events.h"
#include "identity.h"
#include "lifecycle.h"
#include "realm.h"
#include "runtime.h"
#include "session_memo.h"
#include "siphash.h"
#include "util.h"

#include <http_core.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

/* RFC 6750 token68: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then
 * "=" (padding) only at the end. */
static int token68_ok(const char *t, apr_size_t n)
{
    static const char extra[] = "-._~+/";
    apr_size_t i = 0;

    for (; i < n && (apr_isalnum(t[i]) || memchr(extra, t[i], sizeof(extra) - 1)); i++)
        ;
    while (i < n && t[i] == '=')
        i++;
    return i == n && n > 0 && t[0] != '=';
}

/* The header's shape only (scheme, one value, size); the characters are
 * checked by nsso_bearer_authenticate unless the token is one this child
 * has already accepted. */
const char *nsso_bearer_token(request_rec *r, int *malformed, apr_size_t *len)
{
    const char *h = apr_table_get(r->headers_in, "Authorization"), *t, *e;
    apr_size_t n;

    *malformed = 0;
    if (!h || strncasecmp(h, "Bearer", 6) || (h[6] && h[6] != ' '))
        return NULL;
    for (t = h + 6; *t == ' '; t++)
        ;
    e = strchrnul(t, ' ');
    n = (apr_size_t)(e - t);
    for (; *e == ' '; e++)
        ;
    if (n == 0 || *e || n > NSSO_JWT_MAX_LEN) {
        *malformed = 1;
        return NULL;
    }
    *len = n;
    return t[n] ? apr_pstrmemdup(r->pool, t, n) : t;
}

int nsso_bearer_challenge(request_rec *r, const char *error, const char *description)
{
    const char *realm = ap_escape_quotes(r->pool, ap_get_server_name(r));
    const char *v = error
        ? apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"%s\", error_description=\"%s\"",
                       realm, error, description)
        : apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm);

    apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_UNAUTHORIZED;
}

/* ---- this child's tokens -------------------------------------------------------- */

#define LOCAL_SLOTS 64

typedef struct {
    char *token;            /* malloc'd; NULL: empty slot */
    apr_size_t token_len;
    char *record;           /* malloc'd session record, without the token */
    apr_size_t record_len;
    apr_int64_t expires;
    char realm[NSSO_REALM_LEN + 1]; /* the realm that accepted the token */
} local_entry;

static struct {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    int ready;
    unsigned char key[16];
    local_entry slot[LOCAL_SLOTS];
} local;

static void local_clear(local_entry *e)
{
    free(e->token);
    free(e->record);
    memset(e, 0, sizeof(*e));
}

static apr_status_t local_cleanup(void *unused)
{
    int i;

    (void)unused;
    for (i = 0; i < LOCAL_SLOTS; i++)
        local_clear(&local.slot[i]);
    local.ready = 0;
    return APR_SUCCESS;
}

void nsso_bearer_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = apr_generate_random_bytes(local.key, sizeof(local.key));

#if APR_HAS_THREADS
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&local.mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
#endif
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, NSSO_LOGNO(0700) "bearer tokens: no per-process "
                     "cache (every request uses the session store's)");
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, local_cleanup, apr_pool_cleanup_null);
    local.ready = 1;
}

static void local_lock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(local.mutex);
#endif
}

static void local_unlock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(local.mutex);
#endif
}

/* A token's slot in a realm: its tail (the signature's last bytes), length
 * and realm, keyed (so two virtual hosts using one token do not evict each
 * other's entry at every turn). */
static local_entry *local_slot(const char *realm, const char *token, apr_size_t n)
{
    apr_size_t tail = n < 32 ? n : 32, rl = strnlen(realm, NSSO_REALM_LEN);
    unsigned char buf[32 + NSSO_REALM_LEN];
    apr_uint64_t h;

    /* one hash over tail and realm: a second call costs its finalisation */
    memcpy(buf, token + n - tail, tail);
    memcpy(buf + tail, realm, rl);
    h = nsso_siphash24(local.key, buf, tail + rl) ^ n;

    return &local.slot[h % LOCAL_SLOTS];
}

/* The record this child keeps for token in realm (copied into p), or NULL. */
static char *local_get(apr_pool_t *p, const char *realm, const char *token, apr_size_t n,
                       apr_int64_t now, apr_size_t *len)
{
    local_entry *e;
    char *rec = NULL;

    if (!local.ready)
        return NULL;
    e = local_slot(realm, token, n);
    local_lock();
    if (e->token && e->token_len == n && e->expires > now && !strcmp(e->realm, realm)
        && !memcmp(e->token, token, n)) {
        rec = apr_pmemdup(p, e->record, e->record_len);
        *len = e->record_len;
    }
    local_unlock();
    return rec;
}

static void local_put(const char *realm, const char *token, apr_size_t n,
                      const char *rec, apr_size_t len, apr_int64_t expires)
{
    local_entry *e;
    char *t, *r;

    if (!local.ready || strlen(realm) != NSSO_REALM_LEN)
        return;
    t = malloc(n);
    r = malloc(len ? len : 1);
    if (!t || !r) {
        free(t);
        free(r);
        return;
    }
    memcpy(t, token, n);
    memcpy(r, rec, len);
    e = local_slot(realm, token, n);
    local_lock();
    local_clear(e);
    memcpy(e->realm, realm, NSSO_REALM_LEN + 1);
    e->token = t;
    e->token_len = n;
    e->record = r;
    e->record_len = len;
    e->expires = expires;
    local_unlock();
}

/* ---- the shared cache ----------------------------------------------------------- */

static const char *cache_key(apr_pool_t *p, const char *realm, const char *token)
{
    unsigned char digest[32];

    nsso_sha256(token, strlen(token), digest);
    return nsso_store_key(p, NSSO_KEY_BEARER, realm,
                          nsso_b64url_encode(p, digest, sizeof(digest)));
}

/* The session a cached record gives token in c's realm, or NULL (none,
 * unreadable, expired or accepted in another realm). */
static nsso_session_t *from_record(request_rec *r, const nsso_srv_conf *c,
                                   const char *token, const char *rec, apr_size_t len,
                                   apr_int64_t now)
{
    apr_size_t n = strlen(token);
    nsso_session_t *s;
    const char *err;

    /* the memo's slot by the signature's tail: the tail varies, the head not */
    if (!rec || nsso_session_parse_memo(r->pool, token + n - (n < 32 ? n : 32), rec, len, &s,
                                        &err) != APR_SUCCESS
        || s->expires <= now)
        return NULL;
    if (!nsso_session_realm_ok(s, c->realm)) {
        /* under this realm's key, so only a writer with the store's keys put
         * it there: check the token afresh */
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0701) "cached bearer token of %s "
                      "ignored: accepted in another realm (virtual host)", s->user);
        return NULL;
    }
    s->access_token = token;
    return s;
}

static nsso_session_t *cached(request_rec *r, const nsso_srv_conf *c, const char *key,
                              const char *token, apr_int64_t now)
{
    nsso_session_t *s;
    char *val;
    apr_size_t len;

    if (nsso_store_get(nsso_runtime_store(), r->pool, key, &val, &len) != APR_SUCCESS
        || !(s = from_record(r, c, token, val, len, now)))
        return NULL;
    local_put(c->realm, token, strlen(token), val, len, s->expires);
    return s;
}

static void remember(request_rec *r, const nsso_srv_conf *c, const char *key,
                     nsso_session_t *s)
{
    const char *token = s->access_token;
    char *rec;
    apr_size_t len;

    s->access_token = ""; /* the cache holds what the token says, not the token */
    if (nsso_session_serialize(r->pool, s, &rec, &len) == APR_SUCCESS) {
        nsso_store_set(nsso_runtime_store(), key, rec, len, apr_time_from_sec(s->expires),
                       NULL);
        local_put(c->realm, token, strlen(token), rec, len, s->expires);
    }
    s->access_token = token;
}

/* RFC 6750 error_description for each refusal (fixed text, no input). */
static const char *describe(nsso_jwt_result_t res)
{
    switch (res) {
    case NSSO_JWT_EXPIRED:
        return "The access token expired";
    case NSSO_JWT_BAD_ISSUER:
        return "The access token was not issued by the expected server";
    case NSSO_JWT_BAD_ALG:
        return "The access token is signed with an algorithm that is not accepted";
    case NSSO_JWT_NOT_YET_VALID:
        return "The access token is not valid yet";
    case NSSO_JWT_UNKNOWN_KID:
        return "The access token is signed with an unknown key";
    default:
        return "The access token is invalid";
    }
}

/* A bearer token refused here, counted and audited once. */
static void refused(request_rec *r, const nsso_session_t *s, nsso_bearer_result_t why)
{
    nsso_event(r, NSSO_EV_BEARER_REFUSED, &(nsso_event_info_t){ .session = s, .reason = why });
}

int nsso_bearer_authenticate(request_rec *r, const nsso_srv_conf *c,
                             const char *token, apr_size_t n, nsso_session_t **out)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_size_t len = 0;
    const char *key, *err = NULL, *rec;
    nsso_claims_t *claims = NULL;
    nsso_session_t *s;
    nsso_jwt_result_t res = NSSO_JWT_MALFORMED;

    /* a token this child accepted is the same bytes: well-formed, valid */
    rec = local_get(r->pool, c->realm, token, n, now, &len);
    if (rec && (s = from_record(r, c, token, rec, len, now)) != NULL) {
        *out = s;
        return OK;
    }
    if (!token68_ok(token, n)) {
        refused(r, NULL, NSSO_BEARER_INVALID);
        return nsso_bearer_challenge(r, "invalid_request",
                                     "The Authorization header is malformed");
    }
    key = cache_key(r->pool, c->realm, token);
    if ((s = cached(r, c, key, token, now)) != NULL) {
        *out = s;
        return OK;
    }
    switch (nsso_token_verify(r, c, token, &claims, &res, &err)) {
    case APR_SUCCESS:
        break;
    case NSSO_UNAVAILABLE:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0702) "bearer token not checked: cannot "
                      "fetch HMPPS Auth's signing keys: %s", err);
        refused(r, NULL, NSSO_BEARER_UNAVAILABLE);
        return HTTP_SERVICE_UNAVAILABLE;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0703) "bearer token refused: %s", err);
        refused(r, NULL, res == NSSO_JWT_EXPIRED ? NSSO_BEARER_EXPIRED : NSSO_BEARER_INVALID);
        return nsso_bearer_challenge(r, "invalid_token", describe(res));
    }
    s = nsso_session_from_claims(r->pool, claims, token, NULL, now);
    if (!s) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0704) "bearer token refused: names no usable "
                      "user, or is a client's own token without a usable client_id");
        refused(r, NULL, NSSO_BEARER_INVALID);
        return nsso_bearer_challenge(r, "invalid_token", "The access token names no user");
    }
    s->realm = c->realm;
    remember(r, c, key, s);
    *out = s;
    return OK;
}

int nsso_bearer_client_check(request_rec *r, const nsso_session_t *s)
{
    const apr_array_header_t *allowed = nsso_dir(r)->bearer_clients;

    if (!allowed || nsso_list_has(allowed, s->client_id, 0))
        return OK;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0705) "bearer token of %s refused: issued to "
                  "client %s, not one NomisSSOBearerClients lists here", s->user,
                  s->client_id ? nsso_header_safe(r->pool, s->client_id) : "(none)");
    refused(r, s, NSSO_BEARER_WRONG_CLIENT);
    return nsso_bearer_challenge(r, "invalid_token",
                                 "The access token was issued to a client this resource "
                                 "does not accept");
}
