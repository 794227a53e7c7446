/* fuzz_jwt_check.h - what the JWT fuzz targets check about any verification
 * result: a reason for every refusal that never repeats the token, claims
 * exactly when accepted, accepted claims that meet the policy, and a session
 * built from them that survives the session store's JSON round trip. With a
 * payload at hand (the signing variants) the claims are compared with what
 * jansson itself reads from it. */
#ifndef NSSO_FUZZ_JWT_CHECK_H
#define NSSO_FUZZ_JWT_CHECK_H

#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "fuzz_jose.h"
#include "session.h"

static int nsso_fuzz_printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

/* Claim `name` of payload agrees with what nsso_jwt_verify returned. */
static void nsso_fuzz_claim_eq(const char *t, const json_t *payload,
                               const char *name, const char *got)
{
    const json_t *v = json_object_get(payload, name);

    if (json_is_string(v))
        NSSO_FUZZ_CHECK(t, got != NULL && strcmp(got, json_string_value(v)) == 0);
    else if (v == NULL || json_is_null(v))
        NSSO_FUZZ_CHECK(t, got == NULL);
}

/* A name a session may carry (as session.c's user_ok): present, at most
 * 256 bytes, no control character. */
static int nsso_fuzz_name_ok(const char *u)
{
    int ok = u && *u && strlen(u) <= 256;

    for (const char *q = u; ok && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            ok = 0;
    return ok;
}

static void nsso_fuzz_jwt_result(const char *t, apr_pool_t *p, const char *token,
                                 nsso_jwt_result_t r, const nsso_claims_t *c,
                                 const char *kid, const char *err,
                                 const uint8_t *payload, size_t plen)
{
    NSSO_FUZZ_CHECK(t, strcmp(nsso_jwt_result_str(r), "unknown") != 0);
    NSSO_FUZZ_CHECK(t, kid == NULL || nsso_fuzz_printable(kid));
    if (r != NSSO_JWT_OK) {
        NSSO_FUZZ_CHECK(t, c == NULL && err != NULL);
        NSSO_FUZZ_CHECK(t, strlen(token) < 16 || strstr(err, token) == NULL);
        return;
    }
    NSSO_FUZZ_CHECK(t, c != NULL && err == NULL);
    NSSO_FUZZ_CHECK(t, c->iss != NULL && strcmp(c->iss, NSSO_FUZZ_ISS) == 0);
    NSSO_FUZZ_CHECK(t, c->exp + 60 > NSSO_FUZZ_NOW);
    NSSO_FUZZ_CHECK(t, c->nbf - 60 <= NSSO_FUZZ_NOW && c->iat - 60 <= NSSO_FUZZ_NOW);
    NSSO_FUZZ_CHECK(t, c->authorities != NULL && c->scope != NULL);
    NSSO_FUZZ_CHECK(t, c->passed_mfa >= -1 && c->passed_mfa <= 1);
    /* picked claims: pairs, named by the policy, in its order, bounded */
    NSSO_FUZZ_CHECK(t, c->picked != NULL && c->picked->nelts % 2 == 0
                           && c->picked->nelts <= 2 * nsso_fuzz_pick_names()->nelts);
    for (int i = 0, n = 0; i < c->picked->nelts; i += 2) {
        const char *name = APR_ARRAY_IDX(c->picked, i, const char *);
        const char *value = APR_ARRAY_IDX(c->picked, i + 1, const char *);
        while (n < nsso_fuzz_pick_names()->nelts
               && strcmp(APR_ARRAY_IDX(nsso_fuzz_pick_names(), n, const char *), name))
            n++;
        NSSO_FUZZ_CHECK(t, n < nsso_fuzz_pick_names()->nelts);
        NSSO_FUZZ_CHECK(t, value != NULL && strlen(value) <= NSSO_CLAIM_VALUE_MAX);
        n++;
    }
    if (payload != NULL) {
        json_t *o = json_loadb((const char *)payload, plen, 0, NULL);
        NSSO_FUZZ_CHECK(t, json_is_object(o));
        NSSO_FUZZ_CHECK(t, json_integer_value(json_object_get(o, "exp")) == c->exp);
        nsso_fuzz_claim_eq(t, o, "sub", c->sub);
        nsso_fuzz_claim_eq(t, o, "user_name", c->user_name);
        nsso_fuzz_claim_eq(t, o, "client_id", c->client_id);
        nsso_fuzz_claim_eq(t, o, "jti", c->jti);
        NSSO_FUZZ_CHECK(t, (size_t)c->authorities->nelts
                               == json_array_size(json_object_get(o, "authorities")));
        json_decref(o);
    }
    {
        /* what the login callback does next: a session, stored as JSON */
        nsso_session_t *s = nsso_session_from_claims(p, c, token, NULL, NSSO_FUZZ_NOW);
        nsso_session_t *back = NULL;
        const char *perr = NULL;
        char *json = NULL;
        apr_size_t len = 0;

        int client = nsso_claims_client(c);
        /* the name the session would carry: a client token's client_id,
         * else the user_name; a client token's user_name is checked too */
        const char *u = client ? c->client_id : c->user_name;
        const char *obo = client && c->user_name && *c->user_name ? c->user_name : NULL;

        if (s != NULL) {
            NSSO_FUZZ_CHECK(t, nsso_session_serialize(p, s, &json, &len) == APR_SUCCESS);
            NSSO_FUZZ_CHECK(t, nsso_session_parse(p, json, len, &back, &perr)
                                   == APR_SUCCESS);
            NSSO_FUZZ_CHECK(t, strcmp(back->user, s->user) == 0
                                   && back->roles->nelts == s->roles->nelts
                                   && back->claims->nelts == c->picked->nelts
                                   && back->expires == s->expires);
            NSSO_FUZZ_CHECK(t, s->client_credentials == client && strcmp(s->user, u) == 0);
            /* a client is never dressed as a member of staff */
            NSSO_FUZZ_CHECK(t, !client || (s->name == NULL && s->user_id == NULL
                                           && s->auth_source == NULL));
            NSSO_FUZZ_CHECK(t, (s->on_behalf_of == NULL) == (obo == NULL));
            /* a member of staff's token has all a signed-in user's has */
            NSSO_FUZZ_CHECK(t, client || (c->user_id && *c->user_id && c->auth_source
                                          && strcasecmp(c->auth_source, "none") != 0
                                          && (!c->grant_type
                                              || strcasecmp(c->grant_type,
                                                            "client_credentials") != 0)));
        }
        else {
            /* refused only when that name, or the user a client token
             * names, is unusable: absent, control characters, or more
             * than 256 bytes */
            int usable = nsso_fuzz_name_ok(u) && (!obo || nsso_fuzz_name_ok(obo));
            NSSO_FUZZ_CHECK(t, !usable);
        }
    }
}

/* The signing variants' input: a payload, optionally after one selector
 * byte below 0x20 (never the start of JSON) choosing the header and key. */
typedef struct {
    int key;
    const char *header;
} nsso_fuzz_hdr;

static const nsso_fuzz_hdr nsso_fuzz_hdrs[] = {
    { 1, NSSO_FUZZ_HDR1 },
    { 2, "{\"alg\":\"RS256\",\"kid\":\"fuzz-key-2\"}" },
    { 2, "{\"typ\":\"at+jwt\",\"alg\":\"PS256\",\"kid\":\"fuzz-key-2\"}" },
};

static const nsso_fuzz_hdr *nsso_fuzz_pick(const uint8_t **data, size_t *size)
{
    if (*size > 0 && **data < 0x20) {
        const nsso_fuzz_hdr *h = &nsso_fuzz_hdrs[**data % 3];
        (*data)++;
        (*size)--;
        return h;
    }
    return &nsso_fuzz_hdrs[0];
}

#endif
