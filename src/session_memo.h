/* session_memo.h - this child's parsed session records: a record read from
 * the store (a session, a cached bearer token) that this process parsed
 * lately, byte for byte the same, is not parsed again, and its role list
 * for NOMIS_SSO_ROLES is not joined again. Where the store can say that
 * the record under a key is still the very write this process parsed
 * (get_known, store.h), the record is neither copied nor compared either.
 * Pure logic (APR, threads, the store interface). */
#ifndef NSSO_SESSION_MEMO_H
#define NSSO_SESSION_MEMO_H

#include "session.h"
#include "store.h"

/* Made once per child (before any request; without it every call parses). */
apr_status_t nsso_session_memo_init(apr_pool_t *pchild);

/* What a caller makes once per memo entry from a record's parse and its
 * derived values, in the entry's pool (it lives as long as the entry; it
 * must not be changed afterwards): derived->ext. */
typedef const void *(*nsso_session_memo_ext_fn)(apr_pool_t *p, const nsso_session_t *s,
                                                const nsso_session_derived_t *d);

/* Set once per child, before any request (expose.c's prebuilt identity
 * tables). NULL: no extension. */
void nsso_session_memo_extend(nsso_session_memo_ext_fn make);

/* Like nsso_session_parse, and the same result, with s->derived made:
 * *out is a copy for p alone (its scalars may be changed), but its strings
 * and arrays are shared with other requests of this child and must not be
 * changed. They live as long as p. hint (the session id, the token; any
 * string) only picks the memo's slot: the record itself is compared. */
apr_status_t nsso_session_parse_memo(apr_pool_t *p, const char *hint, const char *data,
                                     apr_size_t len, nsso_session_t **out,
                                     const char **err);

/* The record under key in store, as nsso_session_parse_memo gives it (the
 * same result as a get and a parse of the store's current bytes). With a
 * memo entry for key that the store says is still the write it parsed,
 * nothing is read, copied or parsed. Returns APR_SUCCESS; or the store's
 * status (APR_NOTFOUND: no record) with *err NULL; or, for a record that
 * does not parse, a failure with *err saying why. hint: as for
 * nsso_session_parse_memo, used only where the store lacks get_known. */
apr_status_t nsso_session_load_memo(apr_pool_t *p, nsso_store *store, const char *key,
                                    const char *hint, nsso_session_t **out,
                                    const char **err);

#endif
