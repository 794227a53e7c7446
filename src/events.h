/* events.h - the one call each sign-in, sign-out, refusal and refresh makes:
 * it counts the event for the metrics (metrics.c) and writes the audit log
 * line (audit.c), so both always agree on what happened. */
#ifndef NSSO_EVENTS_H
#define NSSO_EVENTS_H

#include "nsso.h"
#include "metrics.h"
#include "session.h"

typedef enum {
    NSSO_EV_SIGN_IN,          /* audit: sign-in */
    NSSO_EV_SIGN_IN_FAILED,   /* sign-in-failed; reason: nsso_fail_reason_t */
    NSSO_EV_SIGN_OUT,         /* sign-out */
    NSSO_EV_DENIED,           /* denied; rule */
    NSSO_EV_EXPIRED,          /* expired (idle, too old, or token expired) */
    NSSO_EV_REFRESHED,        /* counted only */
    NSSO_EV_REFRESH_FAILED,   /* refresh-failed; reason: nsso_refresh_result_t */
    NSSO_EV_REVOKED,          /* revoked (the token verification API) */
    NSSO_EV_BEARER_ACCEPTED,  /* counted only */
    NSSO_EV_BEARER_REFUSED,   /* bearer-refused; reason: nsso_bearer_result_t */
    NSSO_EV_SESSIONS_ENDED    /* sessions-ended: count of target's sessions ended by
                               * the session's user; reason: nsso_ended_by_t
                               * (user_sessions.h: 0 the user, 1 an administrator) */
} nsso_event_t;

typedef struct {
    const nsso_session_t *session; /* who, when known */
    const char *user;              /* who, when no session says (as typed: bounded) */
    const char *session_id;        /* the audit log keeps its first 6 characters */
    int reason;                    /* as the event says */
    const char *rule;              /* NSSO_EV_DENIED: what denied */
    const char *target;            /* NSSO_EV_SESSIONS_ENDED: whose sessions */
    int count;                     /* NSSO_EV_SESSIONS_ENDED: how many */
} nsso_event_info_t;

void nsso_event(request_rec *r, nsso_event_t ev, const nsso_event_info_t *info);

#endif
