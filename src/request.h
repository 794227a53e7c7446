/* request.h - what the module remembers about one request between its
 * hooks (post_read_request, check_authn, fixups): one struct in
 * r->request_config, made on first use. Cheaper than pool userdata (which
 * makes a hash table per request) and it lets each hook reuse what an
 * earlier one parsed: the Cookie header, the session record, the identity
 * values. Sub-requests and internal redirects get their own. */
#ifndef NSSO_REQUEST_H
#define NSSO_REQUEST_H

#include "nsso.h"
#include "session.h"

/* The identity values expose.c publishes (NOMIS_SSO_* / X-Nomis-*): its
 * own and the claims NomisSSOPassClaim names. */
#define NSSO_IDENTITY_FIELDS (11 + NSSO_MAX_PASS_CLAIMS)

typedef struct {
    /* the Cookie header as last parsed, and its cookies */
    const char *cookie_header;
    const apr_array_header_t *cookies;     /* NULL: not parsed yet */
    /* the one cookie looked up by name (nsso_req_cookie), for that header */
    const char *one_header, *one_name, *one_value;
    int one_done, one_b64url;
    /* where the Cookie header was: the entries' array, index, name and
     * value (cookie_elts NULL: not looked for, or none) */
    const apr_table_entry_t *cookie_elts;
    int cookie_at;
    const char *cookie_key, *cookie_val;

    /* the early look (post_read_request): the session it read, handed once
     * to check_authn so the record is read and parsed once per request */
    const char *peek_id;
    nsso_session_t *peek_session;
    apr_status_t peek_status;   /* why it found none (lifecycle.h codes) */
    int early;          /* it found a live session and set the variables */
    const nsso_session_t *early_for;    /* ... of this session */
    apr_int64_t early_expires;          /* ... and token expiry */
    /* where it appended the NOMIS_SSO_* variables: env_n entries from
     * env_at of env_table (env_n 0: not appended, e.g. some were set) */
    const apr_table_t *env_table;
    int env_at, env_n;

    /* the identity values, made clean for headers once per session */
    const nsso_session_t *identity_for;
    apr_int64_t identity_expires;
    const char *identity[NSSO_IDENTITY_FIELDS];
    int exposed;        /* published for this request */

    /* what check_authn decided */
    const nsso_session_t *session;

    /* the id a refusal page shows and logs (nsso_request_id) */
    const char *request_id;
    const char *session_id;     /* its id, from the cookie (NULL: a bearer token) */
} nsso_req;

/* This request's state, made zeroed (nsso_req_make) on first use: inline,
 * every hook of every request asks for it. */
nsso_req *nsso_req_make(request_rec *r);

static inline nsso_req *nsso_req_of(request_rec *r)
{
    nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);

    return q ? q : nsso_req_make(r);
}

/* The session check_authn found for this request, or NULL. Sub-requests
 * and internal redirects share the session of the request that
 * authenticated. */
const nsso_session_t *nsso_request_session(const request_rec *r);

/* The request's cookies, parsed once per request (again only when another
 * module has replaced the Cookie header since). Never NULL. */
const apr_array_header_t *nsso_req_cookies(request_rec *r);

/* The value of the request's cookie called name (the first, as
 * nsso_cookie_get gives it), or NULL; the same pointer for every call with
 * the same name while the Cookie header is the same. Cheaper than
 * nsso_req_cookies: no array of every cookie. *b64url (may be NULL): as
 * nsso_cookie_find says it (1: the value is all base64url). */
const char *nsso_req_cookie(request_rec *r, const char *name, int *b64url);

/* The id the service desk can quote: UNIQUE_ID (mod_unique_id) when set,
 * else 8 random base64url characters made once per request. */
const char *nsso_request_id(request_rec *r);

#endif
