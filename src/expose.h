/* expose.h - what handlers running after the module (CGI, PHP, SSI,
 * mod_rewrite, logging, proxied applications) learn about the signed-in
 * user, and the removal of client headers that could pose as it. */
#ifndef NSSO_EXPOSE_H
#define NSSO_EXPOSE_H

#include "nsso.h"
#include "session.h"

/* post_read_request: drop every X-Nomis-* request header (any case, '_'
 * for '-') on servers where the module is configured. */
int nsso_expose_strip(request_rec *r);

/* Set NOMIS_SSO_* variables and/or X-Nomis-* headers for s as
 * NomisSSOPass / NomisSSOPassAccessToken say. */
void nsso_expose_session(request_rec *r, const nsso_session_t *s);

/* fixups: the same for sub-requests and internal redirects. */
int nsso_expose_fixups(request_rec *r);

#endif
