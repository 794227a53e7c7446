/* fuzz_state_check.h - what the two state fuzz targets check about a state
 * nsso_state_decode accepted (with no realm expected): sane fields, that it
 * encodes and decodes back to the same values, and that only its own realm
 * accepts it. */
#ifndef NSSO_FUZZ_STATE_CHECK_H
#define NSSO_FUZZ_STATE_CHECK_H

#include <string.h>

#include "fuzz_common.h"
#include "fuzz_jose.h"
#include "redirect.h"
#include "state.h"

#define NSSO_FUZZ_STATE_NOW apr_time_from_sec(NSSO_FUZZ_NOW)
#define NSSO_FUZZ_STATE_MAX_AGE apr_time_from_sec(300)

static void nsso_fuzz_state_accepted(const char *t, apr_pool_t *p,
                                     const nsso_state_t *st)
{
    nsso_state_t *again = NULL;
    char *value = NULL;
    const char *err = NULL;

    NSSO_FUZZ_CHECK(t, st->state && st->return_url && st->method
                           && st->pkce_verifier);
    NSSO_FUZZ_CHECK(t, st->return_url[0] == '/' && st->return_url[1] != '/'
                           && st->return_url[1] != '\\');
    NSSO_FUZZ_CHECK(t, strlen(st->state) >= 22 && strlen(st->pkce_verifier) >= 43);
    NSSO_FUZZ_CHECK(t, st->created > 0
                           && st->created - NSSO_FUZZ_STATE_NOW <= apr_time_from_sec(60)
                           && NSSO_FUZZ_STATE_NOW - st->created <= NSSO_FUZZ_STATE_MAX_AGE);
    /* what the callback does with it */
    (void)nsso_redirect_path_ok(st->return_url);
    NSSO_FUZZ_CHECK(t, nsso_state_encode(p, nsso_fuzz_crypto(), st, &value, &err)
                           == APR_SUCCESS);
    NSSO_FUZZ_CHECK(t, nsso_state_decode(p, nsso_fuzz_crypto(), st->realm, value,
                                         NSSO_FUZZ_STATE_NOW, NSSO_FUZZ_STATE_MAX_AGE,
                                         &again, &err) == APR_SUCCESS);
    NSSO_FUZZ_CHECK(t, strcmp(again->state, st->state) == 0
                           && strcmp(again->return_url, st->return_url) == 0
                           && strcmp(again->method, st->method) == 0
                           && strcmp(again->pkce_verifier, st->pkce_verifier) == 0
                           && again->created == st->created
                           && (st->realm ? again->realm && !strcmp(again->realm, st->realm)
                                         : !again->realm));
    NSSO_FUZZ_CHECK(t, !st->realm || strlen(st->realm) == 11);
    /* any other realm (here one no realm id can equal) refuses it */
    NSSO_FUZZ_CHECK(t, nsso_state_decode(p, nsso_fuzz_crypto(), "-not-a-realm-", value,
                                         NSSO_FUZZ_STATE_NOW, NSSO_FUZZ_STATE_MAX_AGE,
                                         &again, &err) == APR_EACCES);
}

#endif
