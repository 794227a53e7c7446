/* realm.h - the realm id: a short name for the trust decisions of one
 * server (virtual host). Two servers share a realm only when everything that
 * decides whether a token or session is trusted is the same: HMPPS Auth's
 * URLs (and so where the signing keys come from), the issuer, the client,
 * the allowed algorithms and the TLS trust used to fetch keys. Every store
 * key carries it (store.h) and every stored session record names it, so
 * whatever one virtual host accepted is never accepted by another whose
 * HMPPS Auth settings differ.
 *
 * The passphrase is not a fact of the realm: it protects what is sealed
 * (cookies, shared-store values), not whom tokens are trusted from, and a
 * realm that changed with it would sign everyone out at each rotation.
 * Pure logic (APR). */
#ifndef NSSO_REALM_H
#define NSSO_REALM_H

#include <apr_pools.h>

/* base64url of 64 bits */
#define NSSO_REALM_LEN 11

/* What decides trust in one server; NULL strings count as empty. */
typedef struct {
    const char *auth_url;       /* browser-facing base */
    const char *internal_url;   /* server-to-server base (token, JWKS) */
    const char *issuer;         /* exact iss */
    const char *client_id;
    const char *algs;           /* allowed JWS algs, space-separated, in order */
    const char *jwks_source;    /* where keys come from beyond the URLs (CA file, ...) */
} nsso_realm_facts_t;

/* The realm id (NSSO_REALM_LEN base64url characters, from p): SHA-256 over
 * the facts, each length-prefixed so no two different sets of facts collide
 * by concatenation. Not a secret: the facts are in httpd.conf. */
const char *nsso_realm_derive(apr_pool_t *p, const nsso_realm_facts_t *facts);

/* 1 when s has the exact shape of a realm id. */
int nsso_realm_id_ok(const char *s);

#endif
