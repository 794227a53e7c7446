/* handlers.h - the module's entry points at request time: check_authn for
 * AuthType nomis-sso / nomis-bearer, the quick handler that serves the
 * module's own URLs, and note_auth_failure. */
#ifndef NSSO_HANDLERS_H
#define NSSO_HANDLERS_H

#include "nsso.h"

int nsso_check_authn(request_rec *r);
int nsso_quick_handler(request_rec *r, int lookup_uri);
int nsso_note_auth_failure(request_rec *r, const char *auth_type);

#endif
