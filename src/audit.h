/* audit.h - the JSON audit log (NomisSSOAuditLog): one object per line for
 * each sign-in, sign-out and refusal, to a file or a piped program opened
 * by the parent like CustomLog's. Never a token. Events reach it through
 * events.c. */
#ifndef NSSO_AUDIT_H
#define NSSO_AUDIT_H

#include "config.h"
#include "session.h"

/* check_config: every NomisSSOAuditLog file can be opened for appending
 * (so `apachectl configtest` fails naming the directive and file). */
int nsso_audit_check_config(apr_pool_t *ptemp, server_rec *main_s);

/* post_config: open each server's log (files O_APPEND, programs piped);
 * servers naming the same target share one. */
int nsso_audit_post_config(apr_pool_t *pconf, server_rec *main_s);

typedef struct {
    const char *event;             /* "sign-in", "denied", ... */
    const nsso_session_t *session; /* who, when known */
    const char *user;              /* who, when no session says */
    const char *session_id;        /* only its first 6 characters are written */
    const char *reason;            /* why a sign-in, refresh or bearer token failed */
    const char *rule;              /* the Require line that denied */
    const char *target;            /* whose sessions were ended (sessions-ended) */
    int count;                     /* how many were ended; < 0: not written */
} nsso_audit_entry_t;

/* The line for e as written (no newline); NULL when nothing can be written. */
char *nsso_audit_line(request_rec *r, const nsso_audit_entry_t *e, apr_time_t now);

/* Write e to r's server's audit log, if it has one: one write() per line. */
void nsso_audit_write(request_rec *r, const nsso_audit_entry_t *e);

#endif
