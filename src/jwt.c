/* jwt.c - owns access-token verification: JWKS documents become cjose RSA
 * keys; a compact JWS is checked for shape, its protected header for alg and
 * kid, its signature with cjose, and only then is the payload parsed (strict
 * JSON, duplicates refused) into nsso_claims_t and checked for iss/exp/nbf/iat;
 * the claims a policy names (NomisSSOPassClaim) are kept as text. */
#include "jwt.h"
#include "util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <cjose/cjose.h>
#include <jansson.h>

#define NSSO_JWT_MAX_TIME  253402300799LL  /* 9999-12-31T23:59:59Z */
#define NSSO_JWT_MAX_SKEW  86400           /* larger skews are clamped */
#define NSSO_KID_MAX       256
#define NSSO_JWKS_MAX_LEN  (1024 * 1024)
#define NSSO_RSA_MIN_BITS  2048

typedef struct {
    const char *kid;
    const char *alg;            /* the JWK's own "alg", NULL if absent */
    cjose_jwk_t *jwk;           /* public part only; released by jwks_cleanup */
} jwks_key;

struct nsso_jwks {
    apr_array_header_t *keys;   /* jwks_key */
};

/* ---- small JSON helpers --------------------------------------------------- */

/* A JSON string with no embedded NUL, as a C string (NULL otherwise). */
static const char *json_cstr(const json_t *v)
{
    const char *s;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

/* Member `name` of obj: 0 and *out = NULL when absent or null, 0 and the
 * string when a clean string, -1 when of any other type or containing NUL. */
static int member_str(const json_t *obj, const char *name, const char **out)
{
    const json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    *out = json_cstr(v);
    return *out ? 0 : -1;
}

/* kid values end up in logs: printable ASCII, bounded length. */
static int kid_ok(const char *kid)
{
    apr_size_t n = 0;

    if (kid == NULL || *kid == '\0')
        return 0;
    for (; kid[n] != '\0'; n++)
        if (n >= NSSO_KID_MAX || kid[n] < 0x20 || kid[n] > 0x7e)
            return 0;
    return 1;
}

/* ---- JWKS ------------------------------------------------------------------ */

static apr_status_t jwks_cleanup(void *data)
{
    nsso_jwks *jwks = data;
    int i;

    for (i = 0; i < jwks->keys->nelts; i++) {
        jwks_key *k = &APR_ARRAY_IDX(jwks->keys, i, jwks_key);
        cjose_jwk_release(k->jwk);
        k->jwk = NULL;
    }
    jwks->keys->nelts = 0;
    return APR_SUCCESS;
}

static const jwks_key *jwks_find(const nsso_jwks *jwks, const char *kid)
{
    int i;

    for (i = 0; i < jwks->keys->nelts; i++) {
        const jwks_key *k = &APR_ARRAY_IDX(jwks->keys, i, jwks_key);
        if (strcmp(k->kid, kid) == 0)
            return k;
    }
    return NULL;
}

/* A key is for signature verification unless "use"/"key_ops" say otherwise. */
static int jwk_for_verify(const json_t *k)
{
    const char *use;
    const json_t *ops = json_object_get(k, "key_ops"), *op;
    size_t i;

    if (member_str(k, "use", &use) != 0 || (use && strcmp(use, "sig") != 0))
        return 0;
    if (ops == NULL)
        return 1;
    if (!json_is_array(ops))
        return 0;
    json_array_foreach(ops, i, op) {
        const char *s = json_cstr(op);
        if (s && strcmp(s, "verify") == 0)
            return 1;
    }
    return 0;
}

/* 1 if s is strict, non-empty base64url. cjose's own decoder asserts (and
 * so aborts the process) on some malformed input, e.g. a lone trailing
 * character: a JWKS from the network must never reach it unchecked. */
static int b64url_strict(apr_pool_t *p, const char *s)
{
    unsigned char *out;
    apr_size_t len;

    return s && *s && nsso_b64url_decode(p, s, strlen(s), &out, &len) == APR_SUCCESS
           && len > 0;
}

/* Import only kty/n/e, so private members in a JWKS are never loaded. */
static cjose_jwk_t *jwk_import_public(apr_pool_t *p, const json_t *k)
{
    const json_t *n = json_object_get(k, "n"), *e = json_object_get(k, "e");
    json_t *pub;
    cjose_jwk_t *jwk;
    cjose_err cerr;

    if (!b64url_strict(p, json_cstr(n)) || !b64url_strict(p, json_cstr(e)))
        return NULL;
    pub = json_pack("{s:s, s:s, s:s}", "kty", "RSA",
                    "n", json_string_value(n), "e", json_string_value(e));
    if (pub == NULL)
        return NULL;
    jwk = cjose_jwk_import_json((cjose_header_t *)pub, &cerr);
    json_decref(pub);
    if (jwk && cjose_jwk_get_keysize(jwk, &cerr) < NSSO_RSA_MIN_BITS) {
        cjose_jwk_release(jwk);
        jwk = NULL;
    }
    return jwk;
}

/* Adds one JWKS entry if it is a usable RSA signing key; skips it otherwise. */
static void jwks_add(apr_pool_t *p, nsso_jwks *jwks, const json_t *k)
{
    const char *kty, *kid, *alg;
    jwks_key *slot;
    cjose_jwk_t *jwk;

    if (!json_is_object(k) || member_str(k, "kty", &kty) != 0 || kty == NULL
        || strcmp(kty, "RSA") != 0 || !jwk_for_verify(k))
        return;
    if (member_str(k, "kid", &kid) != 0 || !kid_ok(kid) || jwks_find(jwks, kid))
        return;
    if (member_str(k, "alg", &alg) != 0)
        return;
    jwk = jwk_import_public(p, k);
    if (jwk == NULL)
        return;
    slot = apr_array_push(jwks->keys);
    slot->kid = apr_pstrdup(p, kid);
    slot->alg = alg ? apr_pstrdup(p, alg) : NULL;
    slot->jwk = jwk;
}

apr_status_t nsso_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             nsso_jwks **out, const char **err)
{
    json_t *root, *keys, *k;
    nsso_jwks *jwks;
    size_t i;

    *out = NULL;
    *err = NULL;
    if (json == NULL || len == 0 || len > NSSO_JWKS_MAX_LEN) {
        *err = "JWKS document empty or too large";
        return APR_EGENERAL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL) {
        *err = "JWKS is not valid JSON";
        return APR_EGENERAL;
    }
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        *err = "JWKS has no \"keys\" array";
        return APR_EGENERAL;
    }
    jwks = apr_palloc(p, sizeof(*jwks));
    jwks->keys = apr_array_make(p, (int)json_array_size(keys) + 1, sizeof(jwks_key));
    apr_pool_cleanup_register(p, jwks, jwks_cleanup, apr_pool_cleanup_null);
    json_array_foreach(keys, i, k)
        jwks_add(p, jwks, k);
    json_decref(root);
    if (jwks->keys->nelts == 0) {
        *err = "JWKS has no usable RSA signing key";
        return APR_EGENERAL;
    }
    *out = jwks;
    return APR_SUCCESS;
}

int nsso_jwks_count(const nsso_jwks *jwks)
{
    return jwks ? jwks->keys->nelts : 0;
}

/* ---- compact form and protected header ---------------------------------- */

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Exactly three non-empty base64url segments; *hlen is the header's length. */
static int compact_ok(const char *s, apr_size_t len, apr_size_t *hlen)
{
    apr_size_t i, seg = 0, dots = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (seg == 0 || ++dots > 2)
                return 0;
            if (dots == 1)
                *hlen = i;
            seg = 0;
        }
        else if (b64url_char(s[i]))
            seg++;
        else
            return 0;
    }
    return dots == 2 && seg > 0;
}

/* Payload and signature must be canonical base64url too, so that one token
 * has exactly one spelling (cjose's own decoder is more lenient). */
static int segments_canonical(apr_pool_t *p, const char *s, apr_size_t len,
                              apr_size_t hlen)
{
    const char *pl = s + hlen + 1, *sig = strchr(pl, '.') + 1;
    unsigned char *raw;
    apr_size_t rawlen;

    return nsso_b64url_decode(p, pl, (apr_size_t)(sig - 1 - pl), &raw, &rawlen) == APR_SUCCESS
           && nsso_b64url_decode(p, sig, len - (apr_size_t)(sig - s), &raw, &rawlen) == APR_SUCCESS;
}

/* Decodes and parses the protected header; *alg and *kid point into *hdr. */
static nsso_jwt_result_t header_parse(apr_pool_t *p, const char *s, apr_size_t hlen,
                                      json_t **hdr, const char **alg,
                                      const char **kid, const char **err)
{
    unsigned char *raw;
    apr_size_t rawlen;

    if (nsso_b64url_decode(p, s, hlen, &raw, &rawlen) != APR_SUCCESS) {
        *err = "header is not base64url";
        return NSSO_JWT_MALFORMED;
    }
    *hdr = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(*hdr)) {
        *err = "header is not a JSON object (or has duplicate names)";
        return NSSO_JWT_MALFORMED;
    }
    if (member_str(*hdr, "alg", alg) != 0 || *alg == NULL) {
        *err = "header has no alg";
        return NSSO_JWT_MALFORMED;
    }
    if (member_str(*hdr, "kid", kid) != 0 || (*kid && !kid_ok(*kid))) {
        *err = "header kid invalid";
        return NSSO_JWT_MALFORMED;
    }
    if (json_object_get(*hdr, "crit") != NULL) {
        *err = "header has unsupported crit";
        return NSSO_JWT_MALFORMED;
    }
    return NSSO_JWT_OK;
}

/* Algorithms an RSA key can verify; none, HS* and the rest never are. */
static int alg_is_rsa(const char *alg)
{
    static const char *const rsa[] = {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++)
        if (strcmp(alg, rsa[i]) == 0)
            return 1;
    return 0;
}

static int alg_allowed(const apr_array_header_t *algs, const char *alg)
{
    int i;

    if (algs == NULL)
        return strcmp(alg, "RS256") == 0;
    for (i = 0; i < algs->nelts; i++) {
        const char *a = APR_ARRAY_IDX(algs, i, const char *);
        if (a && strcmp(a, alg) == 0)
            return 1;
    }
    return 0;
}

/* Every key we hold is RSA, so the alg must be an RSA one and allowed. */
static nsso_jwt_result_t alg_check(const nsso_jwt_policy_t *pol, const char *alg,
                                   const char **err)
{
    if (!alg_is_rsa(alg)) {
        *err = "alg not usable with RSA keys";
        return NSSO_JWT_BAD_ALG;
    }
    if (!alg_allowed(pol->algs, alg)) {
        *err = "alg not allowed";
        return NSSO_JWT_BAD_ALG;
    }
    return NSSO_JWT_OK;
}

static nsso_jwt_result_t key_select(const nsso_jwks *jwks, const char *kid,
                                    const char *alg, const jwks_key **key,
                                    const char **err)
{
    if (kid != NULL)
        *key = jwks_find(jwks, kid);
    else if (jwks->keys->nelts == 1)
        *key = &APR_ARRAY_IDX(jwks->keys, 0, jwks_key);
    else
        *key = NULL;
    if (*key == NULL) {
        *err = kid ? "kid not in JWKS" : "no kid and JWKS has several keys";
        return NSSO_JWT_UNKNOWN_KID;
    }
    if ((*key)->alg != NULL && strcmp((*key)->alg, alg) != 0) {
        *err = "alg differs from the key's alg";
        return NSSO_JWT_BAD_ALG;
    }
    return NSSO_JWT_OK;
}

/* ---- signature ------------------------------------------------------------ */

/* Verifies with cjose, then parses the signed payload ourselves (strictly). */
static nsso_jwt_result_t signature_verify(const char *s, apr_size_t len,
                                          const jwks_key *key, const char *alg,
                                          json_t **payload, const char **err)
{
    cjose_err cerr;
    cjose_jws_t *jws = cjose_jws_import(s, len, &cerr);
    const char *calg;
    uint8_t *data = NULL;
    size_t dlen = 0;
    nsso_jwt_result_t r = NSSO_JWT_MALFORMED;

    if (jws == NULL) {
        *err = "token not importable";
        return NSSO_JWT_MALFORMED;
    }
    calg = cjose_header_get(cjose_jws_get_protected(jws), CJOSE_HDR_ALG, &cerr);
    if (calg == NULL || strcmp(calg, alg) != 0)
        *err = "header alg ambiguous";
    else if (!cjose_jws_verify(jws, key->jwk, &cerr)) {
        *err = "signature invalid";
        r = NSSO_JWT_BAD_SIGNATURE;
    }
    else if (!cjose_jws_get_plaintext(jws, &data, &dlen, &cerr))
        *err = "payload missing";
    else {
        *payload = json_loadb((const char *)data, dlen, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(*payload))
            r = NSSO_JWT_OK;
        else
            *err = "payload is not a JSON object (or has duplicate names)";
    }
    cjose_jws_release(jws);
    return r;
}

/* ---- claims --------------------------------------------------------------- */

typedef struct {
    const char *name;
    apr_size_t offset;          /* of a const char * in nsso_claims_t */
    int int_ok;                 /* an integer is accepted and stringified */
} str_claim;

static const str_claim str_claims[] = {
    { "sub",         offsetof(nsso_claims_t, sub),         0 },
    { "user_name",   offsetof(nsso_claims_t, user_name),   0 },
    { "auth_source", offsetof(nsso_claims_t, auth_source), 0 },
    { "client_id",   offsetof(nsso_claims_t, client_id),   0 },
    { "name",        offsetof(nsso_claims_t, name),        0 },
    { "user_id",     offsetof(nsso_claims_t, user_id),     1 },
    { "user_uuid",   offsetof(nsso_claims_t, user_uuid),   0 },
    { "grant_type",  offsetof(nsso_claims_t, grant_type),  0 },
    { "jti",         offsetof(nsso_claims_t, jti),         0 },
    { "iss",         offsetof(nsso_claims_t, iss),         0 },
};

static int claim_str(apr_pool_t *p, const json_t *o, const str_claim *d,
                     nsso_claims_t *c)
{
    const char **dst = (const char **)((char *)c + d->offset);
    const json_t *v = json_object_get(o, d->name);
    const char *s;

    if (d->int_ok && json_is_integer(v)) {
        *dst = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
        return 0;
    }
    if (member_str(o, d->name, &s) != 0)
        return -1;
    *dst = s ? apr_pstrdup(p, s) : NULL;
    return 0;
}

/* An integer NumericDate in [0, year 9999]; absent (or null) gives 0. */
static int claim_time(const json_t *o, const char *name, int required,
                      apr_int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    json_int_t t;

    *out = 0;
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_integer(v))
        return -1;
    t = json_integer_value(v);
    if (t < 0 || t > NSSO_JWT_MAX_TIME)
        return -1;
    *out = (apr_int64_t)t;
    return 0;
}

static void push_words(apr_pool_t *p, apr_array_header_t *arr, const char *s)
{
    while (*s) {
        apr_size_t n = strcspn(s, " ");
        if (n > 0)
            APR_ARRAY_PUSH(arr, const char *) = apr_pstrmemdup(p, s, n);
        s += n;
        while (*s == ' ')
            s++;
    }
}

/* An array of strings (or, with words_ok, a space-separated string) into
 * *out; absent or null gives an empty array. */
static int claim_list(apr_pool_t *p, const json_t *o, const char *name,
                      int words_ok, apr_array_header_t **out)
{
    const json_t *v = json_object_get(o, name), *e;
    size_t i;

    *out = apr_array_make(p, 8, sizeof(const char *));
    if (v == NULL || json_is_null(v))
        return 0;
    if (words_ok && json_is_string(v)) {
        if (!json_cstr(v))
            return -1;
        push_words(p, *out, json_string_value(v));
        return 0;
    }
    if (!json_is_array(v))
        return -1;
    json_array_foreach(v, i, e) {
        const char *s = json_cstr(e);
        if (s == NULL)
            return -1;
        APR_ARRAY_PUSH(*out, const char *) = apr_pstrdup(p, s);
    }
    return 0;
}

static int claim_bool(const json_t *o, const char *name, int *out)
{
    const json_t *v = json_object_get(o, name);

    *out = -1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

/* A scalar claim value as text; NULL for anything else. */
static const char *scalar_text(apr_pool_t *p, const json_t *v)
{
    if (json_is_string(v))
        return json_cstr(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
    if (json_is_integer(v))
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    if (json_is_real(v)) {
        /* JSON's own rendering: shortest form that reads back the same */
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        const char *out = t ? apr_pstrdup(p, t) : NULL;
        free(t);
        return out;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

/* A claim value for a handler (nsso_jwt_claim_pick says which). */
static const char *claim_text(apr_pool_t *p, const json_t *v)
{
    apr_array_header_t *parts;
    const json_t *e;
    const char *t;
    size_t i;

    if (!json_is_array(v))
        t = scalar_text(p, v);
    else {
        parts = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(const char *));
        json_array_foreach(v, i, e) {
            const char *s = scalar_text(p, e);
            if (!s && (json_is_object(e) || json_is_array(e)))
                return NULL;
            if (s && *s && !strchr(s, ','))
                APR_ARRAY_PUSH(parts, const char *) = s;
        }
        t = apr_array_pstrcat(p, parts, ',');
    }
    return t && strlen(t) <= NSSO_CLAIM_VALUE_MAX ? t : NULL;
}

static apr_array_header_t *claims_pick(apr_pool_t *p, const json_t *o,
                                       const apr_array_header_t *names)
{
    apr_array_header_t *out = apr_array_make(p, names ? 2 * names->nelts + 1 : 1,
                                             sizeof(const char *));
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *t = claim_text(p, json_object_get(o, name));
        if (t) {
            APR_ARRAY_PUSH(out, const char *) = name;
            APR_ARRAY_PUSH(out, const char *) = t;
        }
    }
    return out;
}

apr_array_header_t *nsso_jwt_claim_pick(apr_pool_t *p, const char *payload, apr_size_t len,
                                        const apr_array_header_t *names)
{
    json_t *o = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    apr_array_header_t *out = json_is_object(o) ? claims_pick(p, o, names) : NULL;

    json_decref(o);
    return out;
}

static nsso_jwt_result_t claims_read(apr_pool_t *p, const json_t *o,
                                     nsso_claims_t **out, const char **err)
{
    nsso_claims_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t i;

    for (i = 0; i < sizeof(str_claims) / sizeof(str_claims[0]); i++) {
        if (claim_str(p, o, &str_claims[i], c) != 0) {
            *err = apr_pstrcat(p, "claim ", str_claims[i].name, " has wrong type", NULL);
            return NSSO_JWT_MALFORMED;
        }
    }
    if (claim_time(o, "exp", 1, &c->exp) != 0) {
        *err = "exp missing or not an integer date";
        return NSSO_JWT_MALFORMED;
    }
    if (claim_time(o, "nbf", 0, &c->nbf) != 0 || claim_time(o, "iat", 0, &c->iat) != 0) {
        *err = "nbf/iat not an integer date";
        return NSSO_JWT_MALFORMED;
    }
    if (claim_list(p, o, "authorities", 0, &c->authorities) != 0
        || claim_list(p, o, "scope", 1, &c->scope) != 0) {
        *err = "authorities/scope has wrong type";
        return NSSO_JWT_MALFORMED;
    }
    if (claim_bool(o, "passed_mfa", &c->passed_mfa) != 0) {
        *err = "passed_mfa not a boolean";
        return NSSO_JWT_MALFORMED;
    }
    *out = c;
    return NSSO_JWT_OK;
}

/* Times are bounded to [0, year 9999] and skew to a day: no overflow. An
 * unset clock (now 0) means the real one, never "everything is valid". */
static nsso_jwt_result_t claims_check(const nsso_claims_t *c,
                                      const nsso_jwt_policy_t *pol,
                                      const char **err)
{
    apr_int64_t skew = pol->skew < 0 ? 0
                       : pol->skew > NSSO_JWT_MAX_SKEW ? NSSO_JWT_MAX_SKEW : pol->skew;
    apr_int64_t now = pol->now > 0 ? pol->now : (apr_int64_t)apr_time_sec(apr_time_now());

    if (pol->issuer != NULL && (c->iss == NULL || strcmp(c->iss, pol->issuer) != 0)) {
        *err = "issuer mismatch";
        return NSSO_JWT_BAD_ISSUER;
    }
    if (c->exp + skew <= now) {
        *err = "token expired";
        return NSSO_JWT_EXPIRED;
    }
    if (c->nbf - skew > now || c->iat - skew > now) {
        *err = "token not yet valid (nbf/iat in the future)";
        return NSSO_JWT_NOT_YET_VALID;
    }
    return NSSO_JWT_OK;
}

/* ---- entry point ---------------------------------------------------------- */

/* Signature first, claims after: nothing in the payload is read unverified. */
static nsso_jwt_result_t verify_signed(apr_pool_t *p, const char *compact,
                                       apr_size_t len, const jwks_key *key,
                                       const char *alg,
                                       const nsso_jwt_policy_t *policy,
                                       nsso_claims_t **claims, const char **err)
{
    json_t *payload = NULL;
    nsso_claims_t *c = NULL;
    nsso_jwt_result_t r = signature_verify(compact, len, key, alg, &payload, err);

    if (r == NSSO_JWT_OK)
        r = claims_read(p, payload, &c, err);
    if (r == NSSO_JWT_OK)
        c->picked = claims_pick(p, payload, policy->pick);
    json_decref(payload);
    if (r == NSSO_JWT_OK)
        r = claims_check(c, policy, err);
    if (r == NSSO_JWT_OK)
        *claims = c;
    return r;
}

nsso_jwt_result_t nsso_jwt_verify(apr_pool_t *p, const char *compact,
                                  const nsso_jwks *jwks,
                                  const nsso_jwt_policy_t *policy,
                                  nsso_claims_t **claims, const char **kid,
                                  const char **err)
{
    const char *alg = NULL, *hkid = NULL, *dummy_kid = NULL, *dummy_err = NULL;
    const jwks_key *key = NULL;
    json_t *hdr = NULL;
    apr_size_t len, hlen = 0;
    nsso_jwt_result_t r;

    kid = kid ? kid : &dummy_kid;
    err = err ? err : &dummy_err;
    *kid = NULL;
    *err = NULL;
    if (claims)
        *claims = NULL;
    if (compact == NULL || policy == NULL || claims == NULL) {
        *err = "missing argument";
        return NSSO_JWT_MALFORMED;
    }
    len = strnlen(compact, NSSO_JWT_MAX_LEN + 1);
    if (len > NSSO_JWT_MAX_LEN) {
        *err = "token too long";
        return NSSO_JWT_MALFORMED;
    }
    if (!compact_ok(compact, len, &hlen)) {
        *err = "not a compact JWS (three base64url parts)";
        return NSSO_JWT_MALFORMED;
    }
    if (!segments_canonical(p, compact, len, hlen)) {
        *err = "payload or signature is not canonical base64url";
        return NSSO_JWT_MALFORMED;
    }
    r = header_parse(p, compact, hlen, &hdr, &alg, &hkid, err);
    if (r == NSSO_JWT_OK && hkid)
        *kid = apr_pstrdup(p, hkid);
    if (r == NSSO_JWT_OK)
        r = alg_check(policy, alg, err);
    if (r == NSSO_JWT_OK && jwks == NULL) {
        *err = "no JWKS";
        r = NSSO_JWT_UNKNOWN_KID;
    }
    if (r == NSSO_JWT_OK)
        r = key_select(jwks, hkid, alg, &key, err);
    if (r == NSSO_JWT_OK)
        r = verify_signed(p, compact, len, key, alg, policy, claims, err);
    json_decref(hdr);
    return r;
}

const char *nsso_jwt_result_str(nsso_jwt_result_t r)
{
    switch (r) {
    case NSSO_JWT_OK:             return "ok";
    case NSSO_JWT_MALFORMED:      return "malformed";
    case NSSO_JWT_BAD_ALG:        return "bad_alg";
    case NSSO_JWT_UNKNOWN_KID:    return "unknown_kid";
    case NSSO_JWT_BAD_SIGNATURE:  return "bad_signature";
    case NSSO_JWT_EXPIRED:        return "expired";
    case NSSO_JWT_NOT_YET_VALID:  return "not_yet_valid";
    case NSSO_JWT_BAD_ISSUER:     return "bad_issuer";
    }
    return "unknown";
}
