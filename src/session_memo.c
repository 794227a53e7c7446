/* session_memo.c - this child's parsed session records (see
 * session_memo.h). A session-cookie or cached-bearer request used to spend
 * most of the module's instructions parsing the same record again (and
 * joining its 25 roles again) on every request. The memo keeps the last
 * MEMO_SLOTS records this child parsed with what they gave: an entry is
 * used only for the very same bytes (memcmp), so it can never give a
 * result the parse would not. Entries are immutable and reference-counted:
 * a request holds its entry until its pool goes, so replacing an entry
 * under a request still using it frees nothing that request reads. */
#include "session_memo.h"
#include "identity.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_SLOTS 64
#define MEMO_MAX_RECORD 65536  /* larger records are parsed each time */

typedef struct {
    apr_uint32_t refs;       /* the slot's one, and one per request using it */
    apr_pool_t *pool;        /* unmanaged: everything below lives in it */
    char *record;
    apr_size_t len;
    nsso_session_t *session;
} memo_entry;

static struct {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    int ready;
    memo_entry *slot[MEMO_SLOTS];
} memo;

static void entry_release(memo_entry *e)
{
    if (e && apr_atomic_dec32(&e->refs) == 0)
        apr_pool_destroy(e->pool);
}

static apr_status_t request_done(void *e)
{
    entry_release(e);
    return APR_SUCCESS;
}

static apr_status_t memo_cleanup(void *unused)
{
    int i;

    (void)unused;
    memo.ready = 0;
    for (i = 0; i < MEMO_SLOTS; i++) {
        entry_release(memo.slot[i]);
        memo.slot[i] = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t nsso_session_memo_init(apr_pool_t *pchild)
{
#if APR_HAS_THREADS
    apr_status_t rv = apr_thread_mutex_create(&memo.mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv != APR_SUCCESS)
        return rv;
#endif
    memset(memo.slot, 0, sizeof(memo.slot));
    apr_pool_cleanup_register(pchild, NULL, memo_cleanup, apr_pool_cleanup_null);
    memo.ready = 1;
    return APR_SUCCESS;
}

static void lock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(memo.mutex);
#endif
}

static void unlock(void)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(memo.mutex);
#endif
}

/* FNV-1a of the hint's first HINT_BYTES and the length: session ids and
 * token signatures are random already; a collision only costs a parse. */
#define HINT_BYTES 8

static memo_entry **slot_of(const char *hint, apr_size_t len)
{
    apr_uint32_t h = 2166136261u ^ (apr_uint32_t)len;
    int i;

    for (i = 0; hint && hint[i] && i < HINT_BYTES; i++)
        h = (h ^ (unsigned char)hint[i]) * 16777619u;
    return &memo.slot[h % MEMO_SLOTS];
}

/* The entry for these bytes, with a reference taken, or NULL. */
static memo_entry *lookup(memo_entry **slot, const char *data, apr_size_t len)
{
    memo_entry *e;

    lock();
    e = *slot;
    if (e && e->len == len && !memcmp(e->record, data, len))
        apr_atomic_inc32(&e->refs);
    else
        e = NULL;
    unlock();
    return e;
}

static int clean(apr_pool_t *p, const char *v)
{
    return !v || nsso_header_safe(p, v) == v;
}

/* The identity values the record gives (as expose.c would make them). */
static const nsso_session_derived_t *derive(apr_pool_t *p, const nsso_session_t *s)
{
    nsso_session_derived_t *d = apr_pcalloc(p, sizeof(*d));
    int i, ok;

    d->roles = nsso_roles_join(p, s->roles); /* drops unsafe roles */
    d->caseloads = s->caseloads && s->caseloads->nelts
                   ? nsso_header_safe(p, apr_array_pstrcat(p, s->caseloads, ',')) : NULL;
    d->expires = apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires);
    d->expires_at = s->expires;
    ok = clean(p, s->user) && clean(p, s->name) && clean(p, s->auth_source)
         && clean(p, s->caseload) && clean(p, s->user_id) && clean(p, s->on_behalf_of)
         && clean(p, s->user_uuid);
    for (i = 1; ok && s->claims && i < s->claims->nelts; i += 2)
        ok = clean(p, APR_ARRAY_IDX(s->claims, i, const char *));
    d->clean = ok;
    return d;
}

/* A new entry for a record that parses, with a reference for the caller,
 * in the slot (the entry it replaces goes when its last request does). */
static memo_entry *insert(memo_entry **slot, const char *data, apr_size_t len)
{
    apr_pool_t *pool;
    memo_entry *e, *old;
    const char *err;

    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS)
        return NULL;
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->record = apr_pmemdup(pool, data, len);
    e->len = len;
    if (nsso_session_parse(pool, e->record, len, &e->session, &err) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return NULL;
    }
    e->session->derived = derive(pool, e->session);
    e->refs = 2; /* the slot's and the caller's */
    lock();
    old = *slot;
    *slot = e;
    unlock();
    entry_release(old);
    return e;
}

apr_status_t nsso_session_parse_memo(apr_pool_t *p, const char *hint, const char *data,
                                     apr_size_t len, nsso_session_t **out,
                                     const char **err)
{
    memo_entry **slot, *e;

    if (!memo.ready || !data || len > MEMO_MAX_RECORD)
        return nsso_session_parse(p, data, len, out, err);
    slot = slot_of(hint, len);
    e = lookup(slot, data, len);
    if (!e && !(e = insert(slot, data, len)))
        return nsso_session_parse(p, data, len, out, err); /* the parse says why */
    apr_pool_cleanup_register(p, e, request_done, apr_pool_cleanup_null);
    *out = apr_pmemdup(p, e->session, sizeof(*e->session));
    return APR_SUCCESS;
}
