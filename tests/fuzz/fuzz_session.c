/* fuzz_session.c - nsso_session_parse of any record (the session store's
 * binary record - version byte, length-prefixed strings and lists, 64-bit
 * integers - and the bearer-token cache entries, which an attacker with
 * access to a shared store such as Redis could write). Invariants: an
 * accepted record has a user and an access token, and serialises to a record
 * that parses back to the same session, and its passed claims are pairs.
 * Seeds: corpus/session/gen-* are real records from nsso_session_serialize
 * (seedgen.c); v2-*, v3-*, v4-* the records of earlier versions. */
#include "fuzz_common.h"
#include "session.h"

#include <string.h>

#define T "session"

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_list(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *)))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    nsso_session_t *s = NULL, *back = NULL;
    const char *err = NULL;
    char *rec = NULL;
    apr_size_t len = 0;

    if (nsso_session_parse(p, (const char *)data, size, &s, &err) == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, s != NULL && s->user != NULL && s->access_token != NULL);
        NSSO_FUZZ_CHECK(T, s->roles != NULL && s->scope != NULL && s->caseloads != NULL
                               && s->claims != NULL);
        NSSO_FUZZ_CHECK(T, nsso_session_serialize(p, s, &rec, &len) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, rec != NULL && len > 0); /* binary: no NUL */
        NSSO_FUZZ_CHECK(T, nsso_session_parse(p, rec, len, &back, &err) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, same_str(s->user, back->user) && same_str(s->name, back->name)
                               && same_str(s->auth_source, back->auth_source)
                               && same_str(s->client_id, back->client_id)
                               && same_str(s->user_id, back->user_id)
                               && same_str(s->jti, back->jti)
                               && same_str(s->caseload, back->caseload)
                               && same_str(s->access_token, back->access_token)
                               && same_str(s->refresh_token, back->refresh_token));
        NSSO_FUZZ_CHECK(T, same_str(s->realm, back->realm)
                               && same_str(s->on_behalf_of, back->on_behalf_of)
                               && same_str(s->user_uuid, back->user_uuid));
        NSSO_FUZZ_CHECK(T, same_list(s->roles, back->roles)
                               && same_list(s->scope, back->scope)
                               && same_list(s->caseloads, back->caseloads)
                               && same_list(s->claims, back->claims));
        NSSO_FUZZ_CHECK(T, s->claims->nelts % 2 == 0
                               && s->claims->nelts <= 2 * NSSO_MAX_PASS_CLAIMS);
        NSSO_FUZZ_CHECK(T, s->expires == back->expires && s->created == back->created
                               && s->last_access == back->last_access
                               && s->verified_at == back->verified_at
                               && s->client_credentials == back->client_credentials);
    }
    else {
        NSSO_FUZZ_CHECK(T, err != NULL);
    }
    (void)nsso_session_id_ok(nsso_fuzz_cstr(p, data, size));
    apr_pool_destroy(p);
    return 0;
}
