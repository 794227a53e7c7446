/* session_index.h - the index of one user's sessions in one realm, kept in
 * the session store beside the sessions ("i:<realm>:<user digest>", with a
 * short lock "l:<realm>:<user digest>" taken with add), so that every
 * server sharing the store can list and end them. Its record, its bounds,
 * the device hint and the handle shown instead of a session id. Pure logic
 * (APR, the store interface, the crypto key). */
#ifndef NSSO_SESSION_INDEX_H
#define NSSO_SESSION_INDEX_H

#include "crypto.h"
#include "store.h"

#include <apr_tables.h>

#define NSSO_KEY_INDEX 'i'        /* a user's sessions, by user digest */
#define NSSO_KEY_INDEX_LOCK 'l'   /* that index being rewritten */

#define NSSO_INDEX_MAX 16         /* entries per user; the oldest goes first */
#define NSSO_INDEX_SERVER_MAX 64  /* bytes of server name kept */
#define NSSO_INDEX_DEVICE_MAX 40  /* bytes of device hint kept */
#define NSSO_INDEX_HANDLE_LEN 16  /* hex characters of a handle */

/* One session of the user. The id is kept (it names the record to delete)
 * but never shown: listings show nsso_index_handle(id). */
typedef struct {
    const char *id;            /* the session id (nsso_session_id_ok) */
    apr_int64_t created;       /* seconds since epoch */
    const char *server;        /* the server name that signed it in */
    const char *device;        /* nsso_device_hint of its User-Agent */
} nsso_index_entry_t;

typedef struct {
    const char *user;
    apr_array_header_t *entries;  /* nsso_index_entry_t, oldest first */
} nsso_index_t;

/* An empty index of user. */
nsso_index_t *nsso_index_make(apr_pool_t *p, const char *user);

/* The record (text: a version line, the user, one tab-separated line per
 * entry); APR_EINVAL for an entry or user that cannot be written (a control
 * character, a malformed id, more than NSSO_INDEX_MAX entries). */
apr_status_t nsso_index_encode(apr_pool_t *p, const nsso_index_t *ix, char **out,
                               apr_size_t *len);
/* Strict parse of a record: another version, a malformed line, a bad id,
 * more than NSSO_INDEX_MAX entries fail (APR_EINVAL). */
apr_status_t nsso_index_decode(apr_pool_t *p, const char *data, apr_size_t len,
                               nsso_index_t **out);

/* Adds e (its strings made safe and cut to their bounds here), replacing
 * an entry with the same id. When that makes more than max entries, the
 * oldest (by created) are taken out into evicted (may be NULL), and their
 * count returned. */
int nsso_index_insert(apr_pool_t *p, nsso_index_t *ix, const nsso_index_entry_t *e,
                      int max, apr_array_header_t *evicted);
/* Takes out the entry of id: 1 if there was one. */
int nsso_index_remove(nsso_index_t *ix, const char *id);

/* A short browser family and platform from a User-Agent ("Edge on
 * Windows", "Firefox on Linux", "curl"); "Unknown" when none is known. */
const char *nsso_device_hint(apr_pool_t *p, const char *user_agent);

/* The handle shown for a session id: NSSO_INDEX_HANDLE_LEN hex characters
 * of a MAC of the id with the server's key; it cannot be turned back into
 * the id, and means nothing to another key. */
const char *nsso_index_handle(apr_pool_t *p, const nsso_crypto *c, const char *id);

/* The store key of user's index (kind NSSO_KEY_INDEX) or of its lock
 * (NSSO_KEY_INDEX_LOCK) in realm: the user travels as a MAC digest, so a
 * name of any length fits NSSO_STORE_MAX_KEY. */
const char *nsso_index_key(apr_pool_t *p, const nsso_crypto *c, char kind,
                           const char *realm, const char *user);

/* The stored index of user: APR_SUCCESS (*out; an empty index when there
 * is none or it does not parse, or names another user) or the store's
 * error. */
apr_status_t nsso_index_load(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const char *user, nsso_index_t **out);
/* Writes ix, to expire at expiry (an empty index is deleted). */
apr_status_t nsso_index_save(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const nsso_index_t *ix, apr_time_t expiry);

/* Takes the user's lock (add, held at most NSSO_INDEX_LOCK_MS), waiting up
 * to twice that for another holder: APR_SUCCESS, APR_TIMEUP, or the
 * store's error. A holder that died leaves a lock that expires. */
#define NSSO_INDEX_LOCK_MS 2000
apr_status_t nsso_index_lock(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const char *user);
void nsso_index_unlock(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                       const char *realm, const char *user);

#endif
