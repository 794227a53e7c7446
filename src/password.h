/* password.h - the contingency sign-in: the module's own form and
 * grant_type=password (NomisSSOGrantType password, off by default). */
#ifndef NSSO_PASSWORD_H
#define NSSO_PASSWORD_H

#include "config.h"

/* GET shows the form, POST signs in (quick handler). */
int nsso_password_handle(request_rec *r, const nsso_srv_conf *c);

/* post_config hook (after runtime.c's): the warning that a server takes
 * passwords, from the form itself so start-up never calls up into it. */
int nsso_password_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s);

#endif
