/* lifecycle.h - a session from its cookie to its end: loading it, ending
 * it when idle, too old, revoked or no longer refreshable, refreshing its
 * access token (once per session under concurrency), and writing it back.
 * Also the access-token verification every path shares. */
#ifndef NSSO_LIFECYCLE_H
#define NSSO_LIFECYCLE_H

#include "config.h"
#include "session.h"

/* What the lifecycle answers, as apr_status_t (callers switch on it):
 *   APR_SUCCESS       found (a live session; a verified token)
 *   APR_NOTFOUND      no session: no cookie, or its session has ended
 *                     (expired, idle, signed out, evicted, revoked)
 *   APR_EACCES        refused: a malformed cookie, a record accepted in
 *                     another realm, a token that fails a check, or a
 *                     session the token verification API could not vouch
 *                     for under NomisSSOTokenVerificationFailure fail-closed
 *   NSSO_UNAVAILABLE  what decides could not be reached (the session store;
 *                     for a token, HMPPS Auth's signing keys): answer 503
 *                     and let the client try again
 * NSSO_UNAVAILABLE is APR_EAGAIN ("try again"); no store returns it for
 * anything else that reaches these callers. */
#define NSSO_UNAVAILABLE APR_EAGAIN

/* Verify an access token against the server's JWKS and policy: APR_SUCCESS
 * (*claims set), APR_EACCES (*result, may be NULL, says which check refused
 * it) or NSSO_UNAVAILABLE (the JWKS could not be had); *err says why. */
apr_status_t nsso_token_verify(request_rec *r, const nsso_srv_conf *c, const char *token,
                               nsso_claims_t **claims, nsso_jwt_result_t *result,
                               const char **err);

/* The live session named by the request's cookie, after the lifecycle
 * rules: APR_SUCCESS (*out), APR_NOTFOUND, APR_EACCES or NSSO_UNAVAILABLE.
 * *id is the session id the cookie named (NULL: no cookie), so a caller can
 * clear a cookie whose session is gone. */
apr_status_t nsso_session_current(request_rec *r, const nsso_srv_conf *c,
                                  const char **id, nsso_session_t **out);

/* A read-only look at the cookie's session, for hooks that run before
 * authentication (<If>, Require expr): no refresh, revocation check or
 * write-back. NULL when there is no live session. */
nsso_session_t *nsso_session_peek(request_rec *r, const nsso_srv_conf *c);

/* Write s under id with the store expiry its timeouts give: APR_SUCCESS,
 * NSSO_UNAVAILABLE (store down), APR_ENOSPC (larger than a slot, logged
 * with the directive to raise) or another error (could not serialise). */
apr_status_t nsso_session_save(request_rec *r, const nsso_srv_conf *c,
                               const char *id, const nsso_session_t *s);

/* Delete the session under id: APR_SUCCESS (gone, or was not there) or
 * NSSO_UNAVAILABLE (the store could not be asked: it may still be there). */
apr_status_t nsso_session_delete(request_rec *r, const nsso_srv_conf *c, const char *id);

#endif
