/* handlers.h - request-time behaviour: check_authn for AuthType nomis-sso
 * (session cookie, or a redirect to HMPPS Auth), the OAuth2 callback, and
 * the short error pages staff see when sign-in cannot complete. */
#ifndef NSSO_HANDLERS_H
#define NSSO_HANDLERS_H

#include "nsso.h"
#include "session.h"

int nsso_check_authn(request_rec *r);
int nsso_quick_handler(request_rec *r, int lookup_uri);
int nsso_note_auth_failure(request_rec *r, const char *auth_type);

/* The session check_authn found for this request, or NULL. */
const nsso_session_t *nsso_request_session(const request_rec *r);

#endif
