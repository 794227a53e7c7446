/* password.h - the contingency sign-in: the module's own form and
 * grant_type=password (NomisSSOGrantType password, off by default). */
#ifndef NSSO_PASSWORD_H
#define NSSO_PASSWORD_H

#include "config.h"

/* Where start_login sends the browser: the form, carrying the state. */
const char *nsso_password_form_url(request_rec *r, const nsso_srv_conf *c,
                                   const char *state);

/* GET shows the form, POST signs in (quick handler). */
int nsso_password_handle(request_rec *r, const nsso_srv_conf *c);

/* post_config: the warning that this server handles passwords. */
void nsso_password_warn(server_rec *s);

#endif
