/* store.h - the session store interface. Request code only ever talks to a
 * store through these operations (get_known is optional), so other backends
 * (socache: redis, memcache) can be added without touching it. Keys are short printable
 * strings (<= NSSO_STORE_MAX_KEY bytes); values are opaque bytes. */
#ifndef NSSO_STORE_H
#define NSSO_STORE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#define NSSO_STORE_MAX_KEY 64

/* Every key is "<kind>:<realm>:<rest>": the kind (one character) says what
 * the entry is, the realm (NSSO_REALM_LEN chars, see realm.h) which trust
 * domain wrote it, so one virtual host never reads what another accepted.
 * Only sessions are precious: a store that must make room drops every other
 * kind (markers, caches, counters) before it drops a live session. */
#define NSSO_KEY_SESSION 's'      /* a signed-in session, by session id */
#define NSSO_KEY_BEARER 'b'       /* a validated bearer token, by digest */
#define NSSO_KEY_STATE_USED 'u'   /* a spent sign-in state */
#define NSSO_KEY_REFRESH 'r'      /* a session's refresh in progress */
#define NSSO_KEY_LIMIT 'p'        /* a password-grant attempt counter */

/* The key of kind for rest in realm (allocated from p). */
const char *nsso_store_key(apr_pool_t *p, char kind, const char *realm,
                           const char *rest);
/* 1 when key names a session (evicted for another kind's sake only when
 * the store holds nothing but sessions). */
static inline int nsso_store_key_precious(const char *key)
{ return key[0] == NSSO_KEY_SESSION && key[1] == ':'; }

/* Distinct status codes callers act on (besides APR_SUCCESS):
 *   APR_NOTFOUND  - no live entry under the key (get, del)
 *   APR_ENOSPC    - the value is larger than one slot can hold (set)
 *   APR_EINVAL    - key too long or empty
 *   APR_EEXIST    - add found a live entry under the key */

typedef struct {
    apr_size_t capacity;      /* slots */
    apr_size_t slot_size;     /* max value bytes per slot */
    apr_size_t live;          /* live entries now */
    apr_uint64_t gets, hits, sets, deletes;
    apr_uint64_t expired;     /* entries dropped because their expiry passed */
    apr_uint64_t evicted;     /* live sessions dropped to make room (LRU) */
    apr_uint64_t evicted_disposable; /* live entries of other kinds dropped */
    apr_uint64_t evicted_here; /* live sessions this process's own operations
                                * evicted (shm; a warning can say how many) */
    apr_uint64_t too_large;   /* sets refused because the value was too big */
    apr_uint64_t lock_recoveries; /* a process died holding the lock (shm) */
} nsso_store_stats_t;

typedef struct nsso_store nsso_store;

/* Which write of which entry a get read (get_known): a store-chosen place
 * and a number no other write there ever had. { 0, 0 } names nothing. */
typedef struct {
    apr_uint32_t slot;
    apr_uint64_t gen;
} nsso_store_known_t;

typedef struct {
    const char *name;
    /* Copy of the value into p (NUL-terminated, not counted in *len). */
    apr_status_t (*get)(nsso_store *s, apr_pool_t *p, const char *key,
                        char **val, apr_size_t *len);
    /* Insert or replace; expiry is an absolute apr_time_t. *evicted_live is
     * set to 1 when a live session had to be evicted to make room (may be
     * NULL); dropping entries of other kinds does not set it. */
    apr_status_t (*set)(nsso_store *s, const char *key, const void *val,
                        apr_size_t len, apr_time_t expiry, int *evicted_live);
    /* Insert only when no live entry exists under the key (atomically):
     * APR_EEXIST otherwise. For single-use markers and locks. */
    apr_status_t (*add)(nsso_store *s, const char *key, const void *val,
                        apr_size_t len, apr_time_t expiry);
    /* Overwrite only a live entry (APR_NOTFOUND otherwise), so a write-back
     * never brings back what was deleted meanwhile (sign-out). */
    apr_status_t (*replace)(nsso_store *s, const char *key, const void *val,
                            apr_size_t len, apr_time_t expiry);
    apr_status_t (*del)(nsso_store *s, const char *key);
    apr_status_t (*stats)(nsso_store *s, nsso_store_stats_t *out);
    /* Optional (NULL: use get). "Is the value under key still the one known
     * names?" When known (may be NULL) names the live, unexpired entry under
     * key as that very write, it is a hit (counted and touched as by get):
     * APR_SUCCESS with *val = NULL, *len = 0 and *now = *known, nothing
     * copied. Otherwise exactly get (same status codes, a copy in *val) and
     * *now names the write it read. Never a hit for a value that differs
     * from the one known was filled with. */
    apr_status_t (*get_known)(nsso_store *s, apr_pool_t *p, const char *key,
                              const nsso_store_known_t *known, char **val,
                              apr_size_t *len, nsso_store_known_t *now);
} nsso_store_ops;

struct nsso_store {
    const nsso_store_ops *ops;
    void *impl;
};

static inline apr_status_t nsso_store_get(nsso_store *s, apr_pool_t *p,
                                          const char *key, char **val,
                                          apr_size_t *len)
{ return s->ops->get(s, p, key, val, len); }
static inline apr_status_t nsso_store_set(nsso_store *s, const char *key,
                                          const void *val, apr_size_t len,
                                          apr_time_t expiry, int *evicted_live)
{ return s->ops->set(s, key, val, len, expiry, evicted_live); }
static inline apr_status_t nsso_store_add(nsso_store *s, const char *key,
                                          const void *val, apr_size_t len,
                                          apr_time_t expiry)
{ return s->ops->add(s, key, val, len, expiry); }
static inline apr_status_t nsso_store_replace(nsso_store *s, const char *key,
                                              const void *val, apr_size_t len,
                                              apr_time_t expiry)
{ return s->ops->replace(s, key, val, len, expiry); }
static inline apr_status_t nsso_store_del(nsso_store *s, const char *key)
{ return s->ops->del(s, key); }
/* 1 when the store answers get_known. */
static inline int nsso_store_has_known(const nsso_store *s)
{ return s->ops->get_known != NULL; }
static inline apr_status_t nsso_store_get_known(nsso_store *s, apr_pool_t *p,
                                                const char *key,
                                                const nsso_store_known_t *known,
                                                char **val, apr_size_t *len,
                                                nsso_store_known_t *now)
{ return s->ops->get_known(s, p, key, known, val, len, now); }
static inline apr_status_t nsso_store_stats(nsso_store *s, nsso_store_stats_t *out)
{ return s->ops->stats(s, out); }

#endif
