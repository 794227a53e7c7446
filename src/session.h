/* session.h - a signed-in user's session as kept in the session store: who
 * they are (from the validated access token: a member of staff, or a
 * client calling with its own token), their roles, the tokens, and its
 * lifetimes; plus its compact binary record. Pure logic (APR). */
#ifndef NSSO_SESSION_H
#define NSSO_SESSION_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include "jwt.h"

/* Session ids: 256 random bits, base64url (43 chars). */
#define NSSO_SESSION_ID_BYTES 32
#define NSSO_SESSION_ID_LEN 43

/* What a record gives the identity variables (expose.c), made once per
 * record by this child's memo (session_memo.h) instead of per request. */
typedef struct {
    const char *roles;         /* nsso_roles_join(roles) */
    const char *caseloads;     /* every caseload, comma-separated, header-safe;
                                * NULL: none */
    const char *expires;       /* expires_at in decimal */
    apr_int64_t expires_at;    /* the token expiry these were made for */
    int clean;                 /* the other identity strings (user, name,
                                * auth_source, caseload, user_id, on_behalf_of,
                                * user_uuid, claim values) are header-safe as
                                * they are (nsso_header_safe gives them back) */
    const void *ext;           /* what the memo's extension made for the
                                * record (nsso_session_memo_extend), or NULL */
} nsso_session_derived_t;

typedef struct {
    const char *user;          /* user_name; a client token: client_id */
    const char *name;
    const char *auth_source;
    const char *client_id;
    const char *user_id;
    const char *jti;
    const char *caseload;      /* active caseload, may be NULL */
    apr_array_header_t *roles; /* "ROLE_..." as issued */
    apr_array_header_t *scope;
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    apr_int64_t expires;       /* access token exp, seconds since epoch */
    apr_int64_t created;       /* seconds since epoch */
    apr_int64_t last_access;   /* seconds since epoch */
    apr_int64_t verified_at;   /* last token verification API check, 0: never */
    int client_credentials;    /* a service's own token, not a member of staff */
    const char *realm;         /* realm id of the server that accepted it (realm.h) */
    const char *on_behalf_of;  /* client token: the user it names (audit only) */
    const char *user_uuid;     /* user_uuid claim, may be NULL */
    apr_array_header_t *caseloads; /* every caseload held (NWEB left out), may be empty */
    apr_array_header_t *claims;    /* NomisSSOPassClaim values: claim name, value, ... */
    /* never stored: made by this child's memo (session_memo.h) for the
     * record as parsed; NULL: expose.c makes the values per request */
    const nsso_session_derived_t *derived;
} nsso_session_t;

/* The value of the passed claim named claim in s, or NULL. */
const char *nsso_session_claim(const nsso_session_t *s, const char *claim);

/* 1 when verified claims are a client's own token, never a member of
 * staff: grant_type client_credentials; else (no grant_type, or another)
 * unless the token has a user_name, a user_id and an auth_source other
 * than "none", which a signed-in user's token always has. A client picks
 * user_name and auth_source of its own token, so neither proves a user. */
int nsso_claims_client(const nsso_claims_t *claims);

/* A session from verified claims and the token response; NULL when the
 * name it would carry is unusable (absent, control characters, 256 bytes
 * or more). A member of staff's session is its user_name, with name,
 * user_id and auth_source. A client token's (nsso_claims_client) is its
 * client_id with client_credentials set, the user it names (user_name) in
 * on_behalf_of only (checked like a user name), and no name, user_id or
 * auth_source: a client token without client_id is refused. The user_uuid
 * and the claims picked by the verification (claims->picked) are kept. */
nsso_session_t *nsso_session_from_claims(apr_pool_t *p,
                                         const nsso_claims_t *claims,
                                         const char *access_token,
                                         const char *refresh_token,
                                         apr_int64_t now);

/* The compact binary record the store keeps (allocated from p; may hold
 * NUL bytes: use *len). */
apr_status_t nsso_session_serialize(apr_pool_t *p, const nsso_session_t *s,
                                    char **data, apr_size_t *len);
/* Strict parse: another version, a truncated or over-long record, a string
 * with a NUL, no user or no access token fail. The strings of *out may
 * point into data (no copy), so data must live as long as *out. */
apr_status_t nsso_session_parse(apr_pool_t *p, const char *data, apr_size_t len,
                                nsso_session_t **out, const char **err);

/* 1 if id has the exact shape of a session id (43 base64url chars). */
int nsso_session_id_ok(const char *id);
/* A fresh random id; NULL if the random generator fails. */
const char *nsso_session_id_new(apr_pool_t *p);
/* Store key of a session id in realm ("s:<realm>:<id>", store.h). */
const char *nsso_session_key(apr_pool_t *p, const char *realm, const char *id);
/* 1 when s was accepted in realm (a record without a realm, from before
 * record version 4, belongs to none). */
int nsso_session_realm_ok(const nsso_session_t *s, const char *realm);

#endif
