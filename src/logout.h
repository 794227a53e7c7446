/* logout.h - sign-out (NomisSSOLogoutURI). */
#ifndef NSSO_LOGOUT_H
#define NSSO_LOGOUT_H

#include "config.h"

/* A GET or POST of NomisSSOLogoutURI. */
int nsso_logout_handle(request_rec *r, const nsso_srv_conf *c);

#endif
