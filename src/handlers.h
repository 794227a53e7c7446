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

/* Sign-in machinery shared with the password form (password.c). */
#include "config.h"
#include "state.h"

const char *nsso_state_cookie_name(apr_pool_t *p, const nsso_srv_conf *c, const char *state);
/* The sign-in state named by `state`, checked against its cookie (not
 * spent); NULL with *why. */
const nsso_state_t *nsso_signin_state(request_rec *r, const nsso_srv_conf *c,
                                      const apr_array_header_t *cookies,
                                      const char *state, const char **why);
/* Clear the state's cookie and mark it used; 0 if it was used already. */
int nsso_signin_spend(request_rec *r, const nsso_srv_conf *c, const nsso_state_t *st);
/* POST form to the token endpoint, verify the token, create the session and
 * redirect to st->return_url. With refused non-NULL, an invalid_grant answer
 * sets *refused and returns OK without answering. */
int nsso_signin_complete(request_rec *r, const nsso_srv_conf *c, const char *form,
                         const nsso_state_t *st, const apr_array_header_t *cookies,
                         int *refused);

#endif
