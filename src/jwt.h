/* jwt.h - HMPPS Auth access tokens: parsing a JWKS document into cjose keys,
 * verifying a compact JWS against it (algorithm allow-list, kid lookup,
 * signature, iss, exp/nbf with clock skew) and extracting the claims the
 * module uses. Pure logic (APR, cjose, jansson); no I/O, no httpd. */
#ifndef NSSO_JWT_H
#define NSSO_JWT_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <apr_time.h>

/* Longest compact token accepted (HMPPS tokens are 1-3 KB). */
#define NSSO_JWT_MAX_LEN 16384

typedef struct nsso_jwks nsso_jwks;

/* Parse {"keys":[...]}: RSA signing keys (kty RSA, use absent or "sig") with
 * a kid are kept; others skipped. Fails (APR_EGENERAL, *err) on non-JSON,
 * no "keys" array, or no usable key. Keys are released by a cleanup on p. */
apr_status_t nsso_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             nsso_jwks **out, const char **err);
int nsso_jwks_count(const nsso_jwks *jwks);

typedef struct {
    const char *sub;
    const char *user_name;     /* may be NULL (client-credentials tokens) */
    const char *auth_source;   /* may be NULL */
    const char *client_id;
    const char *name;
    const char *user_id;
    const char *user_uuid;
    const char *grant_type;
    const char *jti;
    const char *iss;
    apr_array_header_t *authorities; /* const char *, "ROLE_..." as issued */
    apr_array_header_t *scope;       /* const char * */
    /* (both arrays are empty, never NULL, when the claim is absent) */
    apr_int64_t exp;           /* seconds since epoch */
    apr_int64_t iat;           /* 0 if absent */
    apr_int64_t nbf;           /* 0 if absent */
    int passed_mfa;            /* -1 absent, 0/1 */
    apr_array_header_t *picked;      /* policy->pick's claims: name, value, ... */
} nsso_claims_t;

typedef enum {
    NSSO_JWT_OK = 0,
    NSSO_JWT_MALFORMED,        /* not a compact JWS, bad base64/JSON, too long, claim of wrong type */
    NSSO_JWT_BAD_ALG,          /* alg not in the allow-list (none, HS*, ...) */
    NSSO_JWT_UNKNOWN_KID,      /* kid absent from the JWKS: caller may refetch once */
    NSSO_JWT_BAD_SIGNATURE,
    NSSO_JWT_EXPIRED,
    NSSO_JWT_NOT_YET_VALID,    /* nbf or iat in the future beyond skew */
    NSSO_JWT_BAD_ISSUER
} nsso_jwt_result_t;

typedef struct {
    const char *issuer;              /* exact match required; NULL skips (tests only) */
    const apr_array_header_t *algs;  /* allowed "alg" values; NULL means {"RS256"} */
    apr_int64_t skew;                /* seconds of tolerance for exp/nbf/iat */
    apr_int64_t now;                 /* seconds since epoch; 0: current time */
    const apr_array_header_t *pick;  /* claim names to keep as text (nsso_jwt_claim_pick); NULL: none */
} nsso_jwt_policy_t;

/* Verify and parse. On NSSO_JWT_OK *claims is filled (pool p). *kid receives
 * the header's kid when known (for logging / refetch). *err is a short
 * reason that never contains the token. exp is mandatory. */
nsso_jwt_result_t nsso_jwt_verify(apr_pool_t *p, const char *compact,
                                  const nsso_jwks *jwks,
                                  const nsso_jwt_policy_t *policy,
                                  nsso_claims_t **claims, const char **kid,
                                  const char **err);

const char *nsso_jwt_result_str(nsso_jwt_result_t r);

/* Longest claim value nsso_jwt_claim_pick keeps (a session record must fit
 * its store entry). */
#define NSSO_CLAIM_VALUE_MAX 1024

/* Most claims NomisSSOPassClaim may pass (and a session record carries). */
#define NSSO_MAX_PASS_CLAIMS 16

/* The top-level claims of payload (a JWT payload's JSON text) named in
 * names (const char *), as text for a handler: name, value, name, value...
 * in the order of names. A string is kept as it is, a number as JSON
 * writes it, a boolean as true/false, an array of those comma-joined
 * (elements holding a comma left out). An absent or null claim, an object,
 * an array holding an object or an array, a string with a NUL and a value
 * longer than NSSO_CLAIM_VALUE_MAX are left out. NULL when payload is not
 * a JSON object. nsso_jwt_verify does the same with policy->pick. */
apr_array_header_t *nsso_jwt_claim_pick(apr_pool_t *p, const char *payload, apr_size_t len,
                                        const apr_array_header_t *names);

/* ---- per-process JWKS cache ---------------------------------------------
 * Holds the current parsed JWKS, refetching through a callback when it is
 * older than its max-age, or on an unknown kid (at most once per
 * min_refetch_interval). Thread-safe (event MPM). */
typedef apr_status_t (*nsso_jwks_fetch_fn)(void *ctx, apr_pool_t *p,
                                           char **body, apr_size_t *len,
                                           apr_interval_time_t *max_age,
                                           const char **err);

typedef struct nsso_jwks_cache nsso_jwks_cache;

apr_status_t nsso_jwks_cache_create(apr_pool_t *p, nsso_jwks_fetch_fn fetch,
                                    void *ctx,
                                    apr_interval_time_t default_max_age,
                                    apr_interval_time_t min_refetch_interval,
                                    nsso_jwks_cache **out);

/* The cache's clock is policy->now (apr_time_now() when it is 0), so one
 * clock drives both staleness and the refetch rate limit.
 * Verify using the cache: fetches when empty/stale; on NSSO_JWT_UNKNOWN_KID
 * refetches once (rate-limited) and retries. If fetching fails and no JWKS is
 * held, returns APR_EGENERAL via *fetch_status with *err set and result
 * NSSO_JWT_UNKNOWN_KID. */
nsso_jwt_result_t nsso_jwks_cache_verify(nsso_jwks_cache *cache, apr_pool_t *p,
                                         const char *compact,
                                         const nsso_jwt_policy_t *policy,
                                         nsso_claims_t **claims,
                                         apr_status_t *fetch_status,
                                         const char **err);

/* Number of successful fetches so far (tests, stats). */
apr_uint64_t nsso_jwks_cache_fetches(nsso_jwks_cache *cache);

#endif
