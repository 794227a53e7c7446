/* user_sessions.h - a member of staff's sessions across every server that
 * shares the session store: entered in their index at sign-in, listed (the
 * ended ones pruned), and ended one or all at once. Built on the index
 * (session_index.h) and the session records; answers with lifecycle.h's
 * status codes. */
#ifndef NSSO_USER_SESSIONS_H
#define NSSO_USER_SESSIONS_H

#include "config.h"
#include "session.h"

/* One live session as shown: never its id, only its handle. */
typedef struct {
    const char *handle;       /* nsso_index_handle of the id */
    apr_int64_t created;      /* seconds since epoch */
    apr_int64_t last_seen;    /* the record's last_access */
    const char *auth_source;  /* may be NULL */
    const char *server;
    const char *device;
    int current;              /* the session the request came with */
} nsso_user_session_t;

/* Who asks to end sessions, for the audit line and the metric. */
typedef enum { NSSO_ENDED_BY_USER, NSSO_ENDED_BY_ADMIN } nsso_ended_by_t;

/* The new session id of s (just stored) goes into its user's index; an
 * entry pushed out by the bound ends its session (counted). Failures are
 * logged and cost only the listing. */
void nsso_user_sessions_register(request_rec *r, const nsso_srv_conf *c, const char *id,
                                 const nsso_session_t *s);

/* The live sessions of user in this server's realm, oldest first, in *out
 * (nsso_user_session_t); entries whose session has ended are pruned.
 * APR_SUCCESS or NSSO_UNAVAILABLE (the store). */
apr_status_t nsso_user_sessions_list(request_rec *r, const nsso_srv_conf *c,
                                     const char *user, apr_array_header_t **out);

/* Ends every session of user in this realm (handle NULL) or the one whose
 * handle is handle: deleted from the store, so every server and child
 * answers its next request as signed out. *ended: how many. The audit
 * line and metric name by and actor (who asked). APR_SUCCESS, APR_NOTFOUND
 * (no such handle) or NSSO_UNAVAILABLE. */
apr_status_t nsso_user_sessions_end(request_rec *r, const nsso_srv_conf *c,
                                    const char *user, const char *handle,
                                    nsso_ended_by_t by, const nsso_session_t *actor,
                                    int *ended);

#endif
