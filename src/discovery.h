/* discovery.h - HMPPS Auth's OpenID Provider configuration document
 * (<NomisSSOAuthURL>/issuer/.well-known/openid-configuration): parsing and
 * checking it. Pure (libnsso): fetching, keeping and logging are
 * endpoints.c's. */
#ifndef NSSO_DISCOVERY_H
#define NSSO_DISCOVERY_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Longest document read, and longest URL kept from it. */
#define NSSO_DISCOVERY_MAX_DOC 65536
#define NSSO_DISCOVERY_MAX_URL 1024

/* The path under the auth base URL where HMPPS Auth serves the document
 * (note the /issuer segment: the document belongs to the issuer). */
#define NSSO_DISCOVERY_PATH "/issuer/.well-known/openid-configuration"

typedef struct {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
} nsso_discovery_t;

/* Parse body (len bytes, not necessarily NUL-terminated) into out (strings
 * in p). Refused (APR_EGENERAL, *err says why, naming the field) unless it
 * is a JSON object whose "issuer" equals expected_issuer exactly and whose
 * authorization_endpoint, token_endpoint and jwks_uri are http(s) URLs
 * without query or fragment, at most NSSO_DISCOVERY_MAX_URL long, each on
 * the origin (scheme, host, port) of one of the NULL-terminated origins
 * URLs: the document may move an endpoint's path, never send the client
 * secret or the key fetch to another server. */
apr_status_t nsso_discovery_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                  const char *expected_issuer,
                                  const char *const *origins,
                                  nsso_discovery_t *out, const char **err);

/* "scheme://host:port" of an http(s) URL, lower case, port explicit; NULL
 * if url is not one. */
const char *nsso_discovery_origin(apr_pool_t *p, const char *url);

#endif
