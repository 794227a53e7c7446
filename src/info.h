/* info.h - the session-info endpoint (NomisSSOInfoURI). */
#ifndef NSSO_INFO_H
#define NSSO_INFO_H

#include "config.h"

/* A GET of NomisSSOInfoURI: the session as JSON, or 401. */
int nsso_info_handle(request_rec *r, const nsso_srv_conf *c);

#endif
