/* bearer.c - bearer tokens for API callers (AuthType nomis-bearer, or
 * NomisSSOAcceptBearer On beside sessions).
 *
 * A token is verified like a sign-in token (JWKS, alg allow-list, iss,
 * exp) and the result kept in the session store under "b:" + base64url of
 * its SHA-256 (never the token itself) until the token expires, so the RSA
 * check runs once per token, not once per request, across all children.
 * Errors follow RFC 6750: 401 with a Bearer challenge naming the error. */
#include "bearer.h"
#include "lifecycle.h"
#include "runtime.h"
#include "util.h"

#include <http_core.h>
#include <apr_strings.h>
#include <apr_lib.h>

#define BEARER_KEY_PREFIX "b:"

/* RFC 6750 token68: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" then "=" */
static int token68_char(char ch)
{
    unsigned char c = (unsigned char)ch;

    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
           || c == '=';
}

const char *nsso_bearer_token(request_rec *r, int *malformed)
{
    const char *h = apr_table_get(r->headers_in, "Authorization"), *t, *e;

    *malformed = 0;
    if (!h || strncasecmp(h, "Bearer", 6) || (h[6] && h[6] != ' '))
        return NULL;
    for (t = h + 6; *t == ' '; t++)
        ;
    for (e = t; *e && token68_char(*e); e++)
        ;
    while (*e == ' ')
        e++;
    if (!*t || *e || e - t > NSSO_JWT_MAX_LEN) {
        *malformed = 1;
        return NULL;
    }
    return apr_pstrndup(r->pool, t, strcspn(t, " "));
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

static const char *cache_key(apr_pool_t *p, const char *token)
{
    unsigned char digest[32];

    nsso_sha256(token, strlen(token), digest);
    return apr_pstrcat(p, BEARER_KEY_PREFIX, nsso_b64url_encode(p, digest, sizeof(digest)),
                       NULL);
}

static nsso_session_t *cached(request_rec *r, const char *key, const char *token)
{
    nsso_session_t *s;
    const char *err;
    char *val;
    apr_size_t len;

    if (nsso_store_get(nsso_runtime_store(), r->pool, key, &val, &len) != APR_SUCCESS
        || nsso_session_parse(r->pool, val, len, &s, &err) != APR_SUCCESS)
        return NULL;
    if (s->expires <= apr_time_sec(apr_time_now()))
        return NULL;
    s->access_token = token;
    return s;
}

static void remember(request_rec *r, const char *key, nsso_session_t *s)
{
    const char *token = s->access_token;
    char *json;
    apr_size_t len;

    s->access_token = ""; /* the cache holds what the token says, not the token */
    if (nsso_session_serialize(r->pool, s, &json, &len) == APR_SUCCESS)
        nsso_store_set(nsso_runtime_store(), key, json, len,
                       apr_time_from_sec(s->expires), NULL);
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

int nsso_bearer_authenticate(request_rec *r, const nsso_srv_conf *c,
                             const char *token, nsso_session_t **out)
{
    const char *key = cache_key(r->pool, token), *err = NULL;
    nsso_claims_t *claims;
    nsso_session_t *s;
    int fetch_failed = 0;
    nsso_jwt_result_t res = NSSO_JWT_MALFORMED;

    if ((s = cached(r, key, token)) != NULL) {
        *out = s;
        return OK;
    }
    claims = nsso_token_verify(r, c, token, &fetch_failed, &res, &err);
    if (!claims && fetch_failed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "bearer token not checked: cannot "
                      "fetch HMPPS Auth's signing keys: %s", err);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!claims) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "bearer token refused: %s", err);
        return nsso_bearer_challenge(r, "invalid_token", describe(res));
    }
    s = nsso_session_from_claims(r->pool, claims, token, NULL, apr_time_sec(apr_time_now()));
    if (!s) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "bearer token refused: names no user "
                      "or client");
        return nsso_bearer_challenge(r, "invalid_token", "The access token names no user");
    }
    remember(r, key, s);
    *out = s;
    return OK;
}
