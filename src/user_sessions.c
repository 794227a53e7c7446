/* user_sessions.c - a user's sessions on every server (see
 * user_sessions.h). The index is rewritten only under its short lock, so
 * two sign-ins of one user on two servers never lose each other's entry;
 * a session is ended by deleting its record, which every child of every
 * server reads on its next request (the memo asks the store each time,
 * session_memo.h), so nothing keeps an ended session alive. */
#include "user_sessions.h"
#include "events.h"
#include "lifecycle.h"
#include "request.h"
#include "runtime.h"
#include "session_index.h"
#include "util.h"

#include <http_log.h>
#include <apr_strings.h>

typedef struct {
    request_rec *r;
    const nsso_srv_conf *c;
    nsso_store *st;
    const char *user;
    int locked;
} ix_ctx;

static void ctx_init(ix_ctx *x, request_rec *r, const nsso_srv_conf *c, const char *user)
{
    x->r = r;
    x->c = c;
    x->st = nsso_runtime_store();
    x->user = user;
    x->locked = 0;
}

/* The lock, or on timeout go on without it (logged): what is written then
 * may drop a racing sign-in's entry, never end a session it should not. */
static apr_status_t ctx_lock(ix_ctx *x)
{
    apr_status_t rv = nsso_index_lock(x->r->pool, x->st, x->c->crypto, x->c->realm, x->user);

    if (rv == APR_SUCCESS)
        x->locked = 1;
    else if (rv == APR_TIMEUP)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, NSSO_LOGNO(1600) "session index of "
                      "%s: its lock is still held after %d ms; going on without it",
                      x->user, 2 * NSSO_INDEX_LOCK_MS);
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, x->r, NSSO_LOGNO(1601) "session index of %s: "
                      "cannot take its lock (store unreachable?)", x->user);
        return NSSO_UNAVAILABLE;
    }
    return APR_SUCCESS;
}

static void ctx_unlock(ix_ctx *x)
{
    if (x->locked)
        nsso_index_unlock(x->r->pool, x->st, x->c->crypto, x->c->realm, x->user);
    x->locked = 0;
}

/* The index lives as long as its newest session can. */
static apr_time_t index_expiry(const nsso_srv_conf *c, const nsso_index_t *ix)
{
    apr_int64_t newest = apr_time_sec(apr_time_now());
    int i;

    for (i = 0; i < ix->entries->nelts; i++)
        if (APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t).created > newest)
            newest = APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t).created;
    return apr_time_from_sec(newest + nsso_conf_max_duration(c));
}

static apr_status_t ctx_save(ix_ctx *x, const nsso_index_t *ix)
{
    apr_status_t rv = nsso_index_save(x->r->pool, x->st, x->c->crypto, x->c->realm, ix,
                                      index_expiry(x->c, ix));

    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, x->r, NSSO_LOGNO(1602) "session index of %s "
                      "cannot be written", x->user);
    return rv;
}

/* The live record of e's session: APR_SUCCESS (*out), APR_NOTFOUND (ended,
 * unreadable, another user's or realm's) or the store's error. */
static apr_status_t entry_session(ix_ctx *x, const nsso_index_entry_t *e, nsso_session_t **out)
{
    char *val = NULL;
    apr_size_t len = 0;
    const char *err = NULL;
    apr_status_t rv = nsso_store_get(x->st, x->r->pool,
                                     nsso_session_key(x->r->pool, x->c->realm, e->id),
                                     &val, &len);

    if (rv != APR_SUCCESS)
        return rv;
    if (nsso_session_parse(x->r->pool, val, len, out, &err) != APR_SUCCESS
        || strcmp((*out)->user, x->user) || !nsso_session_realm_ok(*out, x->c->realm))
        return APR_NOTFOUND;
    return APR_SUCCESS;
}

/* Takes out of ix every entry whose session has ended; live ones' records
 * into sessions (may be NULL), in the same order. 1 if any went. */
static int prune(ix_ctx *x, nsso_index_t *ix, apr_array_header_t *sessions, apr_status_t *rv)
{
    int i = 0, pruned = 0;

    *rv = APR_SUCCESS;
    while (i < ix->entries->nelts) {
        nsso_index_entry_t *e = &APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t);
        nsso_session_t *s = NULL;
        apr_status_t got = entry_session(x, e, &s);
        if (got == APR_NOTFOUND) {
            nsso_index_remove(ix, e->id);
            pruned = 1;
            continue;
        }
        if (got != APR_SUCCESS) {
            *rv = NSSO_UNAVAILABLE;
            return pruned;
        }
        if (sessions)
            APR_ARRAY_PUSH(sessions, nsso_session_t *) = s;
        i++;
    }
    return pruned;
}

/* The entries the bound pushed out of the index: no longer listed, their
 * sessions left to their own timeouts (ending them would sign out a member
 * of staff because of their own, or a shared test account's, 17th
 * sign-in; the oldest are most often sessions whose cookie is gone). */
static void evicted_forget(ix_ctx *x, const apr_array_header_t *gone)
{
    int i;

    for (i = 0; i < gone->nelts; i++) {
        const nsso_index_entry_t *e = &APR_ARRAY_IDX(gone, i, nsso_index_entry_t);
        nsso_metrics_count(NSSO_M_INDEX_EVICTIONS);
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, x->r, NSSO_LOGNO(1603) "%s has more than %d "
                      "sessions: the oldest (%s, signed in on %s) is no longer listed; it ends "
                      "by its own timeouts", x->user, NSSO_INDEX_MAX,
                      nsso_index_handle(x->r->pool, x->c->crypto, e->id), e->server);
    }
}

void nsso_user_sessions_register(request_rec *r, const nsso_srv_conf *c, const char *id,
                                 const nsso_session_t *s)
{
    nsso_index_entry_t e;
    nsso_index_t *ix;
    apr_array_header_t *gone = apr_array_make(r->pool, 1, sizeof(nsso_index_entry_t));
    apr_status_t rv;
    ix_ctx x;

    if (s->client_credentials)
        return;
    ctx_init(&x, r, c, s->user);
    if (ctx_lock(&x) != APR_SUCCESS)
        return;
    if (nsso_index_load(r->pool, x.st, c->crypto, c->realm, s->user, &ix) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(1604) "session index of %s "
                      "cannot be read", s->user);
        ctx_unlock(&x);
        return;
    }
    if (ix->entries->nelts >= NSSO_INDEX_MAX)
        prune(&x, ix, NULL, &rv);   /* make room from the ended ones first */
    e.id = id;
    e.created = s->created;
    e.server = r->server->server_hostname ? r->server->server_hostname : "-";
    e.device = nsso_device_hint(r->pool, apr_table_get(r->headers_in, "User-Agent"));
    nsso_index_insert(r->pool, ix, &e, NSSO_INDEX_MAX, gone);
    ctx_save(&x, ix);
    ctx_unlock(&x);
    evicted_forget(&x, gone);
}

static nsso_user_session_t shown(request_rec *r, const nsso_srv_conf *c,
                                 const nsso_index_entry_t *e, const nsso_session_t *s)
{
    nsso_user_session_t u;
    const char *mine = nsso_req_of(r)->session_id;

    u.handle = nsso_index_handle(r->pool, c->crypto, e->id);
    u.created = s->created;
    u.last_seen = s->last_access;
    u.auth_source = s->auth_source;
    u.server = e->server;
    u.device = e->device;
    u.current = mine && nsso_ct_streq(mine, e->id);
    return u;
}

apr_status_t nsso_user_sessions_list(request_rec *r, const nsso_srv_conf *c,
                                     const char *user, apr_array_header_t **out)
{
    apr_array_header_t *records = apr_array_make(r->pool, NSSO_INDEX_MAX, sizeof(void *));
    nsso_index_t *ix;
    apr_status_t rv;
    ix_ctx x;
    int i;

    *out = apr_array_make(r->pool, NSSO_INDEX_MAX, sizeof(nsso_user_session_t));
    ctx_init(&x, r, c, user);
    if ((rv = ctx_lock(&x)) != APR_SUCCESS)
        return rv;
    rv = nsso_index_load(r->pool, x.st, c->crypto, c->realm, user, &ix);
    if (rv == APR_SUCCESS && prune(&x, ix, records, &rv) && rv == APR_SUCCESS)
        ctx_save(&x, ix);
    ctx_unlock(&x);
    if (rv != APR_SUCCESS)
        return NSSO_UNAVAILABLE;
    for (i = 0; i < ix->entries->nelts; i++)
        APR_ARRAY_PUSH(*out, nsso_user_session_t) =
            shown(r, c, &APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t),
                  APR_ARRAY_IDX(records, i, nsso_session_t *));
    return APR_SUCCESS;
}

/* Deletes the sessions of ix that handle names (every one when NULL) and
 * takes them out; how many records were there to delete. */
static int end_matching(ix_ctx *x, nsso_index_t *ix, const char *handle, int *matched)
{
    int i = 0, ended = 0;

    *matched = 0;
    while (i < ix->entries->nelts) {
        const char *id = APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t).id;
        if (handle && !nsso_ct_streq(handle, nsso_index_handle(x->r->pool, x->c->crypto, id))) {
            i++;
            continue;
        }
        (*matched)++;
        if (nsso_store_del(x->st, nsso_session_key(x->r->pool, x->c->realm, id)) == APR_SUCCESS)
            ended++;
        nsso_index_remove(ix, id);
    }
    return ended;
}

apr_status_t nsso_user_sessions_end(request_rec *r, const nsso_srv_conf *c,
                                    const char *user, const char *handle,
                                    nsso_ended_by_t by, const nsso_session_t *actor,
                                    int *ended)
{
    nsso_index_t *ix;
    apr_status_t rv;
    int matched = 0;
    ix_ctx x;

    *ended = 0;
    ctx_init(&x, r, c, user);
    if ((rv = ctx_lock(&x)) != APR_SUCCESS)
        return rv;
    rv = nsso_index_load(r->pool, x.st, c->crypto, c->realm, user, &ix);
    if (rv == APR_SUCCESS) {
        *ended = end_matching(&x, ix, handle, &matched);
        if (matched)
            ctx_save(&x, ix);
    }
    ctx_unlock(&x);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(1605) "sessions of %s cannot be "
                      "ended: the session index cannot be read (store unreachable?)", user);
        return NSSO_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(1606) "%s ended %d session(s) of "
                  "%s (%s) from %s", actor && actor->user ? actor->user : "-", *ended, user,
                  handle ? "one" : "all", r->useragent_ip);
    nsso_event(r, NSSO_EV_SESSIONS_ENDED, &(nsso_event_info_t){
        .session = actor, .session_id = nsso_req_of(r)->session_id, .target = user,
        .count = *ended, .reason = by });
    return handle && !matched ? APR_NOTFOUND : APR_SUCCESS;
}
