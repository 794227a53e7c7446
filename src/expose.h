/* expose.h - what handlers running after the module (CGI, PHP, SSI,
 * mod_rewrite, logging, proxied applications) learn about the signed-in
 * user, and the removal of client headers that could pose as it. */
#ifndef NSSO_EXPOSE_H
#define NSSO_EXPOSE_H

#include "nsso.h"
#include "session.h"

/* post_read_request: drop every X-Nomis-* request header (any case, '_'
 * for '-') on servers where the module is configured; then, when the
 * request carries a live session cookie, set the NOMIS_SSO_* variables
 * early so <If> and Require expr can use them (see nsso_expose_fixups). */
int nsso_expose_early(request_rec *r);

/* force_authn: a request with a live session cookie in an AuthType
 * nomis-sso location is always authenticated, even when an expression
 * already granted it, so REMOTE_USER, refresh and revocation apply. */
int nsso_expose_force_authn(request_rec *r);

/* Set NOMIS_SSO_* variables and/or X-Nomis-* headers for s as
 * NomisSSOPass / NomisSSOPassAccessToken say. */
void nsso_expose_session(request_rec *r, const nsso_session_t *s);

/* child_init: this child's session memo prebuilds each record's identity
 * values and NOMIS_SSO_* table (nsso_session_memo_extend), so a request
 * publishes them in one step. */
void nsso_expose_child_init(apr_pool_t *pchild, server_rec *s);

/* fixups: the same for sub-requests and internal redirects; removes the
 * early variables of a request the module did not authenticate. */
int nsso_expose_fixups(request_rec *r);

#endif
