/* signin.h - starting a sign-in, its callback, and the steps the password
 * form (password.c) shares: the state cookie check, spending the state,
 * and completing the sign-in from a token request. */
#ifndef NSSO_SIGNIN_H
#define NSSO_SIGNIN_H

#include "config.h"
#include "state.h"

/* No session and NomisSSOUnAuthAction auth: a new state cookie and a
 * redirect to HMPPS Auth (or the password form); 401 to a request that
 * cannot follow a redirect. */
int nsso_signin_start(request_rec *r, const nsso_srv_conf *c,
                      const apr_array_header_t *cookies);

/* The callback at NomisSSORedirectURI (a GET). */
int nsso_signin_callback(request_rec *r, const nsso_srv_conf *c);

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
