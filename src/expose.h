/* expose.h - what handlers running after the module (CGI, PHP, SSI,
 * mod_rewrite, logging, proxied applications) learn about the signed-in
 * user. */
#ifndef NSSO_EXPOSE_H
#define NSSO_EXPOSE_H

#include "nsso.h"

/* fixups: NOMIS_SSO_* environment variables for a request with a session. */
int nsso_expose_fixups(request_rec *r);

#endif
