/* bearer.h - API callers: `Authorization: Bearer <access token>` validated
 * exactly like sign-in tokens, with validated tokens cached by hash. */
#ifndef NSSO_BEARER_H
#define NSSO_BEARER_H

#include "config.h"
#include "session.h"


/* The token of an `Authorization: Bearer` header; NULL when the request has
 * no such header. *malformed is set when the header uses the Bearer scheme
 * but holds no single value of at most NSSO_JWT_MAX_LEN characters (its
 * characters are checked by nsso_bearer_authenticate). *len: its length. */
const char *nsso_bearer_token(request_rec *r, int *malformed, apr_size_t *len);

/* 401 with `WWW-Authenticate: Bearer realm=...` and, when error is given,
 * error="..." and error_description="..." (RFC 6750 section 3). */
int nsso_bearer_challenge(request_rec *r, const char *error, const char *description);

/* child_init: the per-process cache of accepted tokens. */
void nsso_bearer_child_init(apr_pool_t *pchild, server_rec *s);

/* Validate token, n bytes long (refused with invalid_request unless
 * token68); OK with *out set, or the 401/503 answer to return. */
int nsso_bearer_authenticate(request_rec *r, const nsso_srv_conf *c,
                             const char *token, apr_size_t n, nsso_session_t **out);

/* NomisSSOBearerClients: OK when the location lists no clients or the
 * token's client_id (exact); else the 401 invalid_token answer. */
int nsso_bearer_client_check(request_rec *r, const nsso_session_t *s);

#endif
