/* lifecycle.c - session lifetimes.
 *
 * A session ends (and is deleted from the store, not merely ignored) when
 * it has been idle for NomisSSOSessionInactivityTimeout, when it is older
 * than NomisSSOSessionMaxDuration, when its access token has expired and
 * cannot be refreshed, or when the token verification API says the token
 * is no longer active (signed out elsewhere, account disabled).
 *
 * Refresh: within NomisSSORefreshBeforeExpiry of expiry the token is
 * refreshed with grant_type=refresh_token. One request per session does
 * it, holding a short "r:<realm>:<id>" marker added atomically to the store;
 * the others go on with the still-valid token, or, if it has already
 * expired, wait briefly for the refreshed session.
 *
 * Realms: every key names the server's realm (store.h) and every record the
 * realm that accepted it, so a session made by one virtual host is never
 * found, nor if planted under its key accepted, by another whose HMPPS Auth
 * settings differ (realm.h). */
#include "lifecycle.h"
#include "endpoints.h"
#include "events.h"
#include "request.h"
#include "runtime.h"
#include "oauth.h"
#include "session_memo.h"
#include "util.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <jansson.h>

#define LAST_ACCESS_GRANULARITY 30   /* most seconds between idle-time write-backs */
#define REFRESH_WAIT_STEP apr_time_from_msec(50)

apr_status_t nsso_token_verify(request_rec *r, const nsso_srv_conf *c, const char *token,
                               nsso_claims_t **claims, nsso_jwt_result_t *result,
                               const char **err)
{
    nsso_jwt_policy_t pol;
    apr_status_t fetch_rv = APR_SUCCESS;
    nsso_jwt_result_t res;
    const char *why = NULL;

    pol.issuer = nsso_conf_issuer(r->pool, c);
    pol.algs = c->algs;
    pol.skew = nsso_conf_clock_skew(c);
    pol.now = apr_time_sec(apr_time_now());
    pol.pick = nsso_conf_pass_claim_names(r->pool, c);
    *claims = NULL;
    res = nsso_jwks_cache_verify(c->jwks, r->pool, token, &pol, claims, &fetch_rv, &why);
    if (result)
        *result = res;
    if (res == NSSO_JWT_OK)
        return APR_SUCCESS;
    *err = apr_psprintf(r->pool, "%s: %s", nsso_jwt_result_str(res), why ? why : "");
    /* a refusal with the keys out of reach may only mean a key we lack */
    return fetch_rv != APR_SUCCESS ? NSSO_UNAVAILABLE : APR_EACCES;
}

/* ---- store -------------------------------------------------------------------- */

static apr_int64_t store_expiry(const nsso_srv_conf *c, const nsso_session_t *s)
{
    apr_int64_t idle_end = s->last_access + nsso_conf_inactivity(c);
    apr_int64_t max_end = s->created + nsso_conf_max_duration(c);

    return idle_end < max_end ? idle_end : max_end;
}

/* Live sessions evicted to make room are reported at most once a minute
 * per process, with how many this process's own store operations evicted
 * since its last line: a full store evicts on every sign-in, and one line
 * each would flood the log. Checked after each new session is stored (a
 * sign-in, so rare): the eviction may have come from the sign-in's
 * single-use marker, which has no way to say so, when the store held
 * nothing but sessions. */
#define EVICTION_LOG_INTERVAL 60     /* seconds */

static apr_uint64_t evictions_logged;    /* stats.evicted_here at the last line */
static apr_uint32_t eviction_logged_at;  /* apr_time_sec of that line; 0: none */

static void warn_eviction(request_rec *r)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&eviction_logged_at);
    nsso_store_stats_t st;
    apr_uint64_t before;

    if (last != 0 && now - last < EVICTION_LOG_INTERVAL)
        return;
    if (nsso_store_stats(nsso_runtime_store(), &st) != APR_SUCCESS
        || st.evicted_here == apr_atomic_read64(&evictions_logged)
        || apr_atomic_cas32(&eviction_logged_at, now, last) != last)
        return;   /* nothing new, or another thread is logging now */
    before = apr_atomic_xchg64(&evictions_logged, st.evicted_here);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  NSSO_LOGNO(0600) "session store full: %" APR_UINT64_T_FMT " live session(s) evicted by "
                  "this process since its last warning (%" APR_UINT64_T_FMT " by all since "
                  "the store was created, %" APR_SIZE_T_FMT " entries); raise "
                  "NomisSSOSessionCacheEntries", st.evicted_here - before, st.evicted,
                  st.capacity);
}

/* Write s under id: a new session (replace = 0), or a write-back over the
 * stored one that must not bring back a session deleted meanwhile. */
static apr_status_t session_write(request_rec *r, const nsso_srv_conf *c,
                                  const char *id, const nsso_session_t *s, int replace)
{
    nsso_store *store = nsso_runtime_store();
    const char *key = nsso_session_key(r->pool, c->realm, id);
    apr_time_t expiry = apr_time_from_sec(store_expiry(c, s));
    char *json;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = nsso_session_serialize(r->pool, s, &json, &len)) != APR_SUCCESS)
        return rv;
    rv = replace ? nsso_store_replace(store, key, json, len, expiry)
                 : nsso_store_set(store, key, json, len, expiry, NULL);
    if (rv == APR_NOTFOUND)
        return rv; /* ended meanwhile (signed out, expired): stays ended */
    if (rv == APR_ENOSPC)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      NSSO_LOGNO(0601) "session for %s is %" APR_SIZE_T_FMT " bytes, more than a "
                      "store slot holds: raise NomisSSOSessionCacheEntrySize", s->user, len);
    else if (rv != APR_SUCCESS) {
        static apr_uint32_t logged;
        if (nsso_rate_due(&logged, 60))
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(0602) "cannot store the session "
                      "(store unreachable?)");
        return NSSO_UNAVAILABLE;
    }
    else if (!replace)
        warn_eviction(r);
    return rv;
}

apr_status_t nsso_session_save(request_rec *r, const nsso_srv_conf *c,
                               const char *id, const nsso_session_t *s)
{
    return session_write(r, c, id, s, 0);
}

apr_status_t nsso_session_delete(request_rec *r, const nsso_srv_conf *c, const char *id)
{
    apr_status_t rv = nsso_store_del(nsso_runtime_store(),
                                     nsso_session_key(r->pool, c->realm, id));

    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? APR_SUCCESS : NSSO_UNAVAILABLE;
}

/* The stored session under id: APR_SUCCESS (*out), APR_NOTFOUND (none, or
 * unreadable: deleted), APR_EACCES (another realm's) or NSSO_UNAVAILABLE. */
static apr_status_t session_load(request_rec *r, const nsso_srv_conf *c, const char *id,
                                 nsso_session_t **out)
{
    nsso_store *store = nsso_runtime_store();
    nsso_session_t *s;
    const char *err = NULL;
    apr_status_t rv;

    /* the memo asks the store whether the record is still the one it parsed */
    rv = nsso_session_load_memo(r->pool, store, nsso_session_key(r->pool, c->realm, id), id,
                                &s, &err);
    if (rv == APR_NOTFOUND && !err) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NSSO_LOGNO(0603) "session %s not found (expired, "
                      "evicted or signed out)", nsso_redact(r->pool, id));
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS && !err) {
        static apr_uint32_t logged;
        if (nsso_rate_due(&logged, 60)) /* the store logs why, once a minute too */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(0604) "session store lookup failed "
                      "(store unreachable?)");
        return NSSO_UNAVAILABLE;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0605) "session %s unreadable: %s",
                      nsso_redact(r->pool, id), err);
        nsso_session_delete(r, c, id);
        return APR_NOTFOUND;
    }
    if (!nsso_session_realm_ok(s, c->realm)) {
        /* only a writer with the store's keys can put it here: not ours */
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NSSO_LOGNO(0606) "session %s refused: its record "
                      "was accepted in another realm (virtual host)",
                      nsso_redact(r->pool, id));
        return APR_EACCES;
    }
    *out = s;
    return APR_SUCCESS;
}

/* ---- refresh ------------------------------------------------------------------ */

typedef enum { REFRESH_OK, REFRESH_REJECTED, REFRESH_FAILED } refresh_result;

static refresh_result refresh_tokens(request_rec *r, const nsso_srv_conf *c,
                                     nsso_session_t *s)
{
    const char *form = apr_pstrcat(r->pool, "grant_type=refresh_token&refresh_token=",
                                   nsso_url_encode(r->pool, s->refresh_token), NULL);
    const char *oauth_error = NULL, *err = NULL;
    nsso_http_opts_t opts;
    nsso_token_response_t tok;
    nsso_oauth_result_t res;
    nsso_claims_t *claims;
    nsso_session_t *fresh;

    nsso_conf_http_opts(c, &opts);
    res = nsso_oauth_token_request(r->pool, &opts, nsso_endpoints_token(r->pool, c),
                                   c->client_id,
                                   c->client_secret, form, &tok, &oauth_error, &err);
    if (res == NSSO_OAUTH_REJECTED) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0607) "refresh for %s refused: %s",
                      s->user, err);
        return REFRESH_REJECTED;
    }
    if (res != NSSO_OAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0608) "refresh for %s failed: %s", s->user, err);
        return REFRESH_FAILED;
    }
    if (nsso_token_verify(r, c, tok.access_token, &claims, NULL, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0609) "refreshed token for %s refused: %s",
                      s->user, err);
        return REFRESH_FAILED;
    }
    fresh = nsso_session_from_claims(r->pool, claims, tok.access_token,
                                     tok.refresh_token ? tok.refresh_token : s->refresh_token,
                                     apr_time_sec(apr_time_now()));
    if (fresh && fresh->client_credentials) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0610) "refreshed token for %s is a client's "
                      "own token (client credentials), not a member of staff's: session "
                      "ended", s->user);
        return REFRESH_REJECTED;
    }
    if (!fresh || strcmp(fresh->user, s->user)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NSSO_LOGNO(0611) "refreshed token for %s names "
                      "another user: session ended", s->user);
        return REFRESH_REJECTED;
    }
    fresh->created = s->created;
    fresh->caseload = s->caseload;
    fresh->caseloads = s->caseloads;
    fresh->realm = c->realm;
    *s = *fresh;
    return REFRESH_OK;
}

/* Another request is refreshing: wait (bounded) for the new token. */
static apr_status_t wait_for_refresh(request_rec *r, const nsso_srv_conf *c,
                                     const char *id, nsso_session_t **s)
{
    apr_int64_t old_expires = (*s)->expires;
    nsso_http_opts_t opts;
    apr_time_t until;

    nsso_conf_http_opts(c, &opts);
    until = apr_time_now() + apr_time_from_msec(opts.timeout_ms) + apr_time_from_sec(1);
    while (apr_time_now() < until) {
        apr_status_t rv;
        apr_sleep(REFRESH_WAIT_STEP);
        rv = session_load(r, c, id, s);
        if (rv != APR_SUCCESS || (*s)->expires != old_expires)
            return rv;
    }
    return APR_NOTFOUND;
}

/* Refresh *s when due: APR_SUCCESS with *s the session to use, else the
 * session has ended (APR_NOTFOUND), is refused or cannot be read. */
static apr_status_t maybe_refresh(request_rec *r, const nsso_srv_conf *c,
                                  const char *id, nsso_session_t **sp, apr_int64_t now)
{
    nsso_session_t *s = *sp, *fresh = NULL;
    int window = nsso_conf_refresh_before(c);
    int expired = s->expires + nsso_conf_clock_skew(c) <= now;
    const char *lock;
    refresh_result res;
    apr_status_t rv = APR_SUCCESS;

    if (s->expires - now > window || !window || !s->refresh_token) {
        if (!expired)
            return APR_SUCCESS;
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NSSO_LOGNO(0612) "session %s: access token expired",
                      nsso_redact(r->pool, id));
        nsso_event(r, NSSO_EV_EXPIRED, &(nsso_event_info_t){ .session = s, .session_id = id });
        nsso_session_delete(r, c, id);
        return APR_NOTFOUND;
    }
    lock = nsso_store_key(r->pool, NSSO_KEY_REFRESH, c->realm, id);
    if (nsso_store_add(nsso_runtime_store(), lock, "1", 1,
                       apr_time_now() + apr_time_from_sec(60)) != APR_SUCCESS)
        return expired ? wait_for_refresh(r, c, id, sp) : APR_SUCCESS;
    /* holding the marker: another request may have refreshed since we read */
    rv = session_load(r, c, id, &fresh);
    if (rv != APR_SUCCESS || fresh->expires != s->expires) {
        nsso_store_del(nsso_runtime_store(), lock);
        *sp = fresh;
        return rv;
    }
    res = refresh_tokens(r, c, s);
    if (res == REFRESH_OK) {
        rv = session_write(r, c, id, s, 1);
        if (rv == APR_NOTFOUND) { /* signed out while we were refreshing */
            nsso_store_del(nsso_runtime_store(), lock);
            return APR_NOTFOUND;
        }
        if (rv != APR_SUCCESS)
            res = REFRESH_FAILED;
    }
    nsso_store_del(nsso_runtime_store(), lock);
    if (res == REFRESH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0613) "refreshed the access token of %s",
                      s->user);
        nsso_event(r, NSSO_EV_REFRESHED, &(nsso_event_info_t){ .session = s, .session_id = id });
        return APR_SUCCESS;
    }
    nsso_event(r, NSSO_EV_REFRESH_FAILED, &(nsso_event_info_t){ .session = s, .session_id = id,
               .reason = res == REFRESH_REJECTED ? NSSO_REFRESH_REJECTED : NSSO_REFRESH_FAILED });
    if (res == REFRESH_REJECTED || expired) {
        nsso_session_delete(r, c, id);
        /* an expired token whose refresh could not be stored: the store is down */
        return rv == NSSO_UNAVAILABLE ? NSSO_UNAVAILABLE : APR_NOTFOUND;
    }
    return APR_SUCCESS; /* temporary failure, token still valid: try again next time */
}

/* ---- revocation ---------------------------------------------------------------- */

/* 1 active, 0 not active, -1 could not tell. */
static int token_active(request_rec *r, const nsso_srv_conf *c, const nsso_session_t *s)
{
    const char *url = apr_pstrcat(r->pool, c->verify_url, "/token/verify", NULL);
    const char *err = NULL;
    nsso_http_opts_t opts;
    nsso_http_response_t resp;
    json_error_t jerr;
    json_t *doc, *active;
    int result;

    nsso_conf_http_opts(c, &opts);
    if (nsso_http_post_bearer(r->pool, &opts, url, s->access_token, &resp, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(0614) "token verification: %s", err);
        return -1;
    }
    if (resp.status == 400 || resp.status == 401)
        return 0; /* malformed or expired JWT: inactive */
    if (resp.status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(0615) "token verification: %s answered "
                      "HTTP %ld", url, resp.status);
        return -1;
    }
    doc = json_loadb(resp.body, resp.len, 0, &jerr);
    active = json_object_get(doc, "active");
    result = json_is_boolean(active) ? json_is_true(active) : -1;
    json_decref(doc);
    if (result < 0)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(0616) "token verification: answer "
                      "has no boolean 'active'");
    return result;
}

/* APR_SUCCESS while the session may go on; APR_NOTFOUND when the token
 * verification API ended it (deleted); APR_EACCES when that API cannot be
 * asked and NomisSSOTokenVerificationFailure is fail-closed. */
static apr_status_t still_active(request_rec *r, const nsso_srv_conf *c, const char *id,
                                 nsso_session_t *s, apr_int64_t now)
{
    int active;

    if (!c->verify_url || now - s->verified_at < nsso_conf_verify_interval(c))
        return APR_SUCCESS;
    active = token_active(r, c, s);
    if (active == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0617) "session of %s ended: the token "
                      "verification API says its token is no longer active", s->user);
        nsso_event(r, NSSO_EV_REVOKED, &(nsso_event_info_t){ .session = s, .session_id = id });
        nsso_session_delete(r, c, id);
        return APR_NOTFOUND;
    }
    if (active < 0 && !nsso_conf_verify_fail_open(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NSSO_LOGNO(0618) "session of %s refused: token "
                      "verification unavailable (NomisSSOTokenVerificationFailure "
                      "fail-closed)", s->user);
        return APR_EACCES;
    }
    if (active == 1)
        s->verified_at = now;
    return APR_SUCCESS;
}

/* ---- the current session ------------------------------------------------------- */

/* How often last_access is written back: often enough that a session in use
 * never looks idle, rarely enough to spare the store. */
static apr_int64_t write_back_interval(const nsso_srv_conf *c)
{
    apr_int64_t quarter = nsso_conf_inactivity(c) / 4;

    return quarter < LAST_ACCESS_GRANULARITY ? quarter : LAST_ACCESS_GRANULARITY;
}

/* The early look's result for id (handed over once: the session read by
 * post_read_request is the one check_authn checks, so a request reads and
 * parses its record once), else the store's. A store the early look could
 * not reach counts as unreachable here too: a second try would often be
 * answered "not found" by a socache provider that now holds the engine for
 * dead, and turn a 503 into a sign-in the store cannot keep. */
static apr_status_t session_first_load(request_rec *r, const nsso_srv_conf *c,
                                       const char *id, nsso_session_t **out)
{
    nsso_req *q = nsso_req_of(r);
    nsso_session_t *s = q->peek_session;
    apr_status_t peeked = q->peek_status;

    q->peek_session = NULL;
    q->peek_status = APR_SUCCESS;
    if (q->peek_id && (q->peek_id == id || !strcmp(q->peek_id, id))) {
        if (s) {
            *out = s;
            return APR_SUCCESS;
        }
        if (peeked == NSSO_UNAVAILABLE)
            return peeked;
    }
    return session_load(r, c, id, out);
}

nsso_session_t *nsso_session_peek(request_rec *r, const nsso_srv_conf *c)
{
    int b64url;
    const char *id = nsso_req_cookie(r, nsso_conf_cookie_name(c), &b64url);
    apr_int64_t now = apr_time_sec(apr_time_now());
    nsso_req *q;
    nsso_session_t *s = NULL;
    apr_status_t rv;

    /* a value the cookie scan found all base64url needs only its length */
    if (!id || !(b64url ? strlen(id) == NSSO_SESSION_ID_LEN : nsso_session_id_ok(id)))
        return NULL;
    q = nsso_req_of(r);
    q->peek_id = id;
    rv = session_load(r, c, id, &s);
    if (rv != APR_SUCCESS) {
        q->peek_status = rv;
        return NULL;
    }
    q->peek_session = s;
    if (now - s->last_access >= nsso_conf_inactivity(c)
        || now - s->created >= nsso_conf_max_duration(c)
        || (s->expires + nsso_conf_clock_skew(c) <= now && !s->refresh_token))
        return NULL;
    return s;
}

apr_status_t nsso_session_current(request_rec *r, const nsso_srv_conf *c,
                                  const char **id_out, nsso_session_t **out)
{
    const char *name = nsso_conf_cookie_name(c);
    const char *id = nsso_req_cookie(r, name, NULL);
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t seen, verified, expires;
    nsso_session_t *s = NULL;
    apr_status_t rv;

    *id_out = id;
    if (!id)
        return APR_NOTFOUND;
    /* the early look's id (the same string) has been checked already */
    if (id != nsso_req_of(r)->peek_id && !nsso_session_id_ok(id)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0619) "malformed %s cookie ignored", name);
        return APR_EACCES;
    }
    if ((rv = session_first_load(r, c, id, &s)) != APR_SUCCESS)
        return rv;
    if (now - s->last_access >= nsso_conf_inactivity(c)
        || now - s->created >= nsso_conf_max_duration(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0620) "session of %s ended: %s", s->user,
                      now - s->created >= nsso_conf_max_duration(c)
                      ? "older than NomisSSOSessionMaxDuration"
                      : "idle longer than NomisSSOSessionInactivityTimeout");
        nsso_event(r, NSSO_EV_EXPIRED, &(nsso_event_info_t){ .session = s, .session_id = id });
        nsso_session_delete(r, c, id);
        return APR_NOTFOUND;
    }
    seen = s->last_access;
    verified = s->verified_at;
    expires = s->expires;
    if ((rv = maybe_refresh(r, c, id, &s, now)) != APR_SUCCESS
        || (rv = still_active(r, c, id, s, now)) != APR_SUCCESS)
        return rv;
    if (now - seen >= write_back_interval(c) || s->verified_at != verified) {
        if (s->expires == expires) {
            /* our copy may be stale after the network calls: another request
             * may have refreshed (keep its tokens) or signed out (stay out) */
            nsso_session_t *cur = NULL;
            if ((rv = session_load(r, c, id, &cur)) != APR_SUCCESS)
                return rv;
            if (cur->verified_at < s->verified_at)
                cur->verified_at = s->verified_at;
            s = cur;
        }
        s->last_access = now;
        /* a failed write-back costs only idle time: the session stays usable */
        if (session_write(r, c, id, s, 1) == APR_NOTFOUND)
            return APR_NOTFOUND;
    }
    *out = s;
    return APR_SUCCESS;
}
