/* state.h - the login state carried by a short-lived encrypted cookie
 * between the redirect to HMPPS Auth and the callback: the OAuth2 `state`
 * value, the URL and method originally asked for, the PKCE verifier and the
 * time the login started, and the realm (virtual host, realm.h) it is for.
 * One cookie per login attempt, named "<prefix><state>", so several tabs
 * can log in at once. */
#ifndef NSSO_STATE_H
#define NSSO_STATE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>
#include "crypto.h"

typedef struct {
    const char *state;         /* 128-bit random, base64url (22 chars) */
    const char *return_url;    /* same-host path + query, e.g. "/a/b?c=d" */
    const char *method;        /* "GET", "POST", ... */
    const char *pkce_verifier; /* 256-bit random, base64url (43 chars) */
    apr_time_t created;        /* apr time (microseconds) */
    const char *realm;         /* realm id it was made in; NULL: none (tests) */
} nsso_state_t;

/* Fresh state + verifier, created = now, no realm (set it before encoding:
 * a state without one is refused wherever a realm is expected). APR_EINVAL when return_url is not
 * a same-origin path ("/" not followed by '/' or '\\', printable ASCII, at
 * most 8192 chars) or method is not an upper-case token. */
apr_status_t nsso_state_new(apr_pool_t *p, const char *return_url,
                            const char *method, apr_time_t now,
                            nsso_state_t **out);

/* JSON {"s","u","m","v","t"} and "r" when st has a realm (NSSO_REALM_LEN
 * base64url characters), sealed with nsso_crypto_seal. */
apr_status_t nsso_state_encode(apr_pool_t *p, const nsso_crypto *c,
                               const nsso_state_t *st, char **value,
                               const char **err);

/* Open, parse, check every field, that the state was made in realm (unless
 * realm is NULL: then any or none) and that now - created <= max_age (and
 * not in the future beyond 60 s). Two virtual hosts may share a passphrase,
 * so the realm, not the key, says whose sign-in it is. On error *err says
 * why (never echoing input): APR_EGENERAL cannot be decrypted (wrong key,
 * tampered, not ours), APR_EINVAL decrypted but malformed, APR_EACCES made
 * in another realm (or in none), APR_TIMEUP expired or from the future. */
apr_status_t nsso_state_decode(apr_pool_t *p, const nsso_crypto *c,
                               const char *realm, const char *value, apr_time_t now,
                               apr_interval_time_t max_age,
                               nsso_state_t **out, const char **err);

#endif
