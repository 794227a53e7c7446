/* util.h - small pure helpers shared by every concern: base64url, randomness,
 * constant-time comparison, SHA-256, redaction of secrets for logs, and the
 * "literal | env:NAME | file:/path" secret syntax used by several directives,
 * and the two checks every path or URL a directive or request names goes
 * through ("a path on this site", "an absolute http(s) URL").
 * No httpd dependency: only APR, APR-util (apr_uri) and OpenSSL libcrypto. */
#ifndef NSSO_UTIL_H
#define NSSO_UTIL_H

#include <apr_pools.h>
#include <apr_errno.h>

/* base64url without padding (RFC 4648 section 5). */
char *nsso_b64url_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len);
/* Strict decoder: rejects padding, '+', '/', whitespace and bad trailing bits.
 * Output is NUL-terminated (not counted in *outlen). APR_EINVAL if malformed. */
apr_status_t nsso_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                                unsigned char **out, apr_size_t *outlen);

/* Cryptographically random bytes (APR's generator, /dev/urandom or getrandom). */
apr_status_t nsso_random_bytes(unsigned char *buf, apr_size_t len);
/* nbytes random bytes, base64url-encoded; NULL on failure. */
char *nsso_random_b64url(apr_pool_t *p, apr_size_t nbytes);

/* Constant-time equality of two NUL-terminated strings (time depends only on
 * the length of b, the attacker-independent expected value). */
int nsso_ct_streq(const char *a, const char *b);

/* SHA-256 of len bytes (aborts the process if libcrypto cannot digest). */
void nsso_sha256(const void *data, apr_size_t len, unsigned char out[32]);
/* base64url(SHA-256(s)) - the PKCE S256 code_challenge of a verifier. */
char *nsso_pkce_challenge(apr_pool_t *p, const char *verifier);

/* A log-safe stand-in for a secret value: first 6 chars then "...(N chars)";
 * secrets shorter than 24 chars get no prefix ("...(N chars)"), non-printable
 * prefix chars become '?', NULL gives "(null)". */
const char *nsso_redact(apr_pool_t *p, const char *secret);

/* Resolve "env:NAME", "file:/path" (first line, trailing CR/LF stripped) or a
 * literal. Returns NULL and sets *err when the variable/file is missing or
 * the result is empty. */
const char *nsso_resolve_secret(apr_pool_t *p, const char *spec, const char **err);

/* application/x-www-form-urlencoded / query component encoding (RFC 3986
 * unreserved characters kept, everything else %XX). */
char *nsso_url_encode(apr_pool_t *p, const char *s);
/* Decode %XX and '+' (as space); NULL on a malformed escape or embedded NUL. */
char *nsso_url_decode(apr_pool_t *p, const char *s);
/* Value of parameter name in a query string (raw, before '#'); decoded.
 * Names are compared after decoding. Returns NULL if absent or if the first
 * occurrence's value is malformed; *dup (may be NULL) is set to 1 when the
 * name occurs more than once, else 0. A name without '=' has value "". */
const char *nsso_query_param(apr_pool_t *p, const char *query, const char *name, int *dup);

/* Flag for nsso_is_local_path: a query ('?') and fragment ('#') may follow,
 * as in a redirect target; without it the value names a path the module
 * serves or appends, where either would never match. */
#define NSSO_PATH_QUERY 0x1u

/* 1 if s is a path on this site: '/' first and not followed by '/' or '\'
 * (browsers read "//host" and "/\host" as another host), no space or
 * control byte, and (without NSSO_PATH_QUERY) no '?' or '#'. */
int nsso_is_local_path(const char *s, unsigned flags);

/* Flags for nsso_http_url_problem. */
#define NSSO_URL_BASE 0x1u  /* no query or fragment: paths are appended to it */
#define NSSO_URL_PATH 0x2u  /* must carry a path (at least "/") */

/* NULL if s is an absolute http:// or https:// URL (scheme in any case)
 * with a host, no user name or password, no space, control byte or '\'
 * (browsers read it as '/'), and what flags ask; else why not: a phrase
 * whose subject is the value ("is not an http:// or https:// URL"). */
const char *nsso_http_url_problem(apr_pool_t *p, const char *s, unsigned flags);

static inline int nsso_is_http_url(apr_pool_t *p, const char *s, unsigned flags)
{
    return nsso_http_url_problem(p, s, flags) == NULL;
}

/* 1 at most once per interval seconds per *at (apr_time_sec of the last
 * yes; 0: never), across threads: the callers' "one log line a minute". */
int nsso_rate_due(apr_uint32_t *at, apr_uint32_t interval);

#endif
