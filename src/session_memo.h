/* session_memo.h - this child's parsed session records: a record read from
 * the store (a session, a cached bearer token) that this process parsed
 * lately, byte for byte the same, is not parsed again, and its role list
 * for NOMIS_SSO_ROLES is not joined again. Pure logic (APR, threads). */
#ifndef NSSO_SESSION_MEMO_H
#define NSSO_SESSION_MEMO_H

#include "session.h"

/* Made once per child (before any request; without it every call parses). */
apr_status_t nsso_session_memo_init(apr_pool_t *pchild);

/* Like nsso_session_parse, and the same result, with s->derived made:
 * *out is a copy for p alone (its scalars may be changed), but its strings
 * and arrays are shared with other requests of this child and must not be
 * changed. They live as long as p. hint (the session id, the token; any
 * string) only picks the memo's slot: the record itself is compared. */
apr_status_t nsso_session_parse_memo(apr_pool_t *p, const char *hint, const char *data,
                                     apr_size_t len, nsso_session_t **out,
                                     const char **err);

#endif
