/* lifecycle.h - a session from its cookie to its end: loading it, ending
 * it when idle, too old, revoked or no longer refreshable, refreshing its
 * access token (once per session under concurrency), and writing it back.
 * Also the access-token verification every path shares. */
#ifndef NSSO_LIFECYCLE_H
#define NSSO_LIFECYCLE_H

#include "config.h"
#include "session.h"

/* r->notes key set when the session store failed (not merely a miss). */
#define NSSO_STORE_DOWN_NOTE "nomis-sso-store-down"

/* Verify an access token against the server's JWKS and policy. On failure
 * *err says why, *result (may be NULL) which check refused it, and
 * *fetch_failed is set when the JWKS could not be had. */
nsso_claims_t *nsso_token_verify(request_rec *r, const nsso_srv_conf *c,
                                 const char *token, int *fetch_failed,
                                 nsso_jwt_result_t *result, const char **err);

/* The live session named by the request's cookie, after the lifecycle
 * rules; NULL when there is none (then *stale says whether a cookie was
 * sent that should be cleared). */
nsso_session_t *nsso_session_current(request_rec *r, const nsso_srv_conf *c,
                                     const apr_array_header_t *cookies,
                                     const char **id_out, int *stale);

/* A read-only look at the cookie's session, for hooks that run before
 * authentication (<If>, Require expr): no refresh, revocation check or
 * write-back. NULL when there is no live session. */
nsso_session_t *nsso_session_peek(request_rec *r, const nsso_srv_conf *c);

/* Write s under id with the store expiry its timeouts give.
 * APR_ENOSPC: larger than a slot (logged with the directive to raise). */
apr_status_t nsso_session_save(request_rec *r, const nsso_srv_conf *c,
                               const char *id, const nsso_session_t *s);

void nsso_session_delete(request_rec *r, const nsso_srv_conf *c, const char *id);

#endif
