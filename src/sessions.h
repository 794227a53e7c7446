/* sessions.h - SetHandler nomis-sso-sessions: an administrator lists a
 * user's sessions in this realm and ends one or all of them. */
#ifndef NSSO_SESSIONS_H
#define NSSO_SESSIONS_H

#include "nsso.h"

#define NSSO_SESSIONS_HANDLER "nomis-sso-sessions"

/* The handler hook: DECLINED unless r->handler is NSSO_SESSIONS_HANDLER. */
int nsso_sessions_handler(request_rec *r);

#endif
