/* test_jwt.c - unit tests for src/jwt.c and src/jwks_cache.c: JWKS parsing,
 * every refusal rule of nsso_jwt_verify (shape, alg, kid, signature, claim
 * types, times, issuer) with real RSA keys made at test time, and the JWKS
 * cache driven by a counting stub fetcher and the policy clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_thread_proc.h>

#include "jwt.h"
#include "jwt_fixtures.h"

#define NOW   1700000000LL
#define ISS   "https://sign-in-dev.hmpps.service.justice.gov.uk/auth/issuer"
#define HDR_A "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"key-a\"}"
#define HDR_B "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"key-b\"}"

typedef struct {
    apr_pool_t *root;
    apr_pool_t *p;              /* per test */
    nsso_fx_key *a, *b, *small;
    char *jwks_a, *jwks_ab, *jwks_b;
} fx_t;

static fx_t *fx_of(void **state)
{
    return *state;
}

/* ---- fixtures --------------------------------------------------------- */

static int group_setup(void **state)
{
    static fx_t fx;
    char *ja, *jb;

    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fx.root, NULL) != APR_SUCCESS)
        return -1;
    fx.a = nsso_fx_key_new(fx.root, "key-a", 2048);
    fx.b = nsso_fx_key_new(fx.root, "key-b", 2048);
    fx.small = nsso_fx_key_new(fx.root, "key-small", 1024);
    if (!fx.a || !fx.b || !fx.small)
        return -1;
    ja = nsso_fx_jwk_json(fx.root, fx.a, "RS256", "sig");
    jb = nsso_fx_jwk_json(fx.root, fx.b, "RS256", "sig");
    fx.jwks_a = nsso_fx_jwks(fx.root, ja, NULL);
    fx.jwks_b = nsso_fx_jwks(fx.root, jb, NULL);
    fx.jwks_ab = nsso_fx_jwks(fx.root, ja, jb, NULL);
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    apr_pool_destroy(fx_of(state)->root);
    apr_terminate();
    return 0;
}

static int test_setup(void **state)
{
    return apr_pool_create(&fx_of(state)->p, fx_of(state)->root) == APR_SUCCESS ? 0 : -1;
}

static int test_teardown(void **state)
{
    apr_pool_destroy(fx_of(state)->p);
    return 0;
}

/* HMPPS-shaped payload; extra is spliced in before the closing brace. */
static char *payload_with(apr_pool_t *p, apr_int64_t exp, const char *extra)
{
    return apr_psprintf(p,
        "{\"sub\":\"ALLOC_SPO\",\"user_name\":\"ALLOC_SPO\",\"auth_source\":\"nomis\","
        "\"authorities\":[\"ROLE_ALLOC_MGR\",\"ROLE_POM\"],\"scope\":[\"read\",\"write\"],"
        "\"client_id\":\"allocation-manager\",\"grant_type\":\"authorization_code\","
        "\"user_id\":\"485412\",\"user_uuid\":\"6f0c3a3e-1d2b-4c5e-9f00-0123456789ab\","
        "\"name\":\"Alloc Spo\",\"iss\":\"" ISS "\",\"exp\":%" APR_INT64_T_FMT ","
        "\"iat\":%" APR_INT64_T_FMT ",\"jti\":\"jti-123\",\"passed_mfa\":false%s}",
        exp, (apr_int64_t)(NOW - 10), extra ? extra : "");
}

static char *good_payload(apr_pool_t *p)
{
    return payload_with(p, NOW + 1200, NULL);
}

static nsso_jwt_policy_t policy(void)
{
    nsso_jwt_policy_t pol = { ISS, NULL, 60, NOW };
    return pol;
}

static nsso_jwks *jwks_of(apr_pool_t *p, const char *json)
{
    nsso_jwks *j = NULL;
    const char *err = NULL;

    assert_int_equal(nsso_jwks_parse(p, json, strlen(json), &j, &err), APR_SUCCESS);
    assert_non_null(j);
    return j;
}

static nsso_jwt_result_t verify_pol(apr_pool_t *p, const char *tok, const char *jwks,
                                    const nsso_jwt_policy_t *pol, nsso_claims_t **c)
{
    nsso_claims_t *dummy = NULL;
    const char *kid = NULL, *err = NULL;
    nsso_jwt_result_t r;

    assert_non_null(tok);
    r = nsso_jwt_verify(p, tok, jwks_of(p, jwks), pol, c ? c : &dummy, &kid, &err);
    if (r == NSSO_JWT_OK)
        assert_non_null(c ? *c : dummy);
    else {
        assert_non_null(err);
        assert_null(c ? *c : dummy);
        if (strlen(tok) > 8)
            assert_null(strstr(err, tok));
    }
    return r;
}

static nsso_jwt_result_t verify(apr_pool_t *p, const char *tok, const char *jwks)
{
    nsso_jwt_policy_t pol = policy();
    return verify_pol(p, tok, jwks, &pol, NULL);
}

static apr_array_header_t *algs(apr_pool_t *p, const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(arr, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(arr, const char *) = b;
    return arr;
}

static const char *item(const apr_array_header_t *arr, int i)
{
    return APR_ARRAY_IDX(arr, i, const char *);
}

/* ---- good tokens ------------------------------------------------------- */

static void test_good_token_claims(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    const char *kid = NULL, *err = NULL;
    char *tok = nsso_fx_sign(fx->p, fx->a, HDR_A, good_payload(fx->p));
    nsso_jwt_result_t r = nsso_jwt_verify(fx->p, tok, jwks_of(fx->p, fx->jwks_ab),
                                          &pol, &c, &kid, &err);

    assert_int_equal(r, NSSO_JWT_OK);
    assert_string_equal(kid, "key-a");
    assert_string_equal(c->sub, "ALLOC_SPO");
    assert_string_equal(c->user_name, "ALLOC_SPO");
    assert_string_equal(c->auth_source, "nomis");
    assert_string_equal(c->client_id, "allocation-manager");
    assert_string_equal(c->grant_type, "authorization_code");
    assert_string_equal(c->name, "Alloc Spo");
    assert_string_equal(c->user_id, "485412");
    assert_string_equal(c->user_uuid, "6f0c3a3e-1d2b-4c5e-9f00-0123456789ab");
    assert_string_equal(c->jti, "jti-123");
    assert_string_equal(c->iss, ISS);
    assert_int_equal(c->authorities->nelts, 2);
    assert_string_equal(item(c->authorities, 0), "ROLE_ALLOC_MGR");
    assert_string_equal(item(c->authorities, 1), "ROLE_POM");
    assert_int_equal(c->scope->nelts, 2);
    assert_string_equal(item(c->scope, 0), "read");
    assert_string_equal(item(c->scope, 1), "write");
    assert_true(c->exp == NOW + 1200);
    assert_true(c->iat == NOW - 10);
    assert_true(c->nbf == 0);
    assert_int_equal(c->passed_mfa, 0);
}

/* The claims a policy asks for come out as text, verified first. */
static void test_pick_through_verify(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    char *tok = nsso_fx_sign(fx->p, fx->a, HDR_A,
                             payload_with(fx->p, NOW + 1200, ",\"establishment\":\"LEI\""));

    pol.pick = algs(fx->p, "establishment", "missing");
    assert_int_equal(verify_pol(fx->p, tok, fx->jwks_ab, &pol, &c), NSSO_JWT_OK);
    assert_int_equal(c->picked->nelts, 2);
    assert_string_equal(item(c->picked, 0), "establishment");
    assert_string_equal(item(c->picked, 1), "LEI");
    /* no pick: an empty list */
    pol.pick = NULL;
    assert_int_equal(verify_pol(fx->p, tok, fx->jwks_ab, &pol, &c), NSSO_JWT_OK);
    assert_int_equal(c->picked->nelts, 0);
}

static const char *pick1(apr_pool_t *p, const char *json, const char *name)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *)), *out;

    APR_ARRAY_PUSH(names, const char *) = name;
    out = nsso_jwt_claim_pick(p, json, strlen(json), names);
    if (!out)
        return "(not an object)";
    return out->nelts ? item(out, 1) : NULL;
}

static void test_claim_pick_shapes(void **state)
{
    apr_pool_t *p = fx_of(state)->p;
    char *big = apr_pcalloc(p, NSSO_CLAIM_VALUE_MAX + 40);

    assert_string_equal(pick1(p, "{\"a\":\"LEI\"}", "a"), "LEI");
    assert_string_equal(pick1(p, "{\"a\":42}", "a"), "42");
    assert_string_equal(pick1(p, "{\"a\":-7}", "a"), "-7");
    assert_string_equal(pick1(p, "{\"a\":1.5}", "a"), "1.5");
    assert_string_equal(pick1(p, "{\"a\":true}", "a"), "true");
    assert_string_equal(pick1(p, "{\"a\":false}", "a"), "false");
    assert_string_equal(pick1(p, "{\"a\":[\"x\",2,true,\"y,z\",\"\"]}", "a"), "x,2,true");
    assert_string_equal(pick1(p, "{\"a\":[]}", "a"), "");
    assert_null(pick1(p, "{\"a\":null}", "a"));
    assert_null(pick1(p, "{\"b\":1}", "a"));
    assert_null(pick1(p, "{\"a\":{\"b\":1}}", "a"));
    assert_null(pick1(p, "{\"a\":[\"x\",{\"b\":1}]}", "a"));
    assert_null(pick1(p, "{\"a\":[[1]]}", "a"));
    /* a NUL in a string: the JSON itself is refused, as for a token */
    assert_string_equal(pick1(p, "{\"a\":\"x\\u0000y\"}", "a"), "(not an object)");
    /* nested names are not reached: top level only */
    assert_null(pick1(p, "{\"a\":{\"b\":1}}", "b"));
    assert_string_equal(pick1(p, "[1]", "a"), "(not an object)");
    assert_string_equal(pick1(p, "not json", "a"), "(not an object)");
    assert_string_equal(pick1(p, "{\"a\":1,\"a\":2}", "a"), "(not an object)");
    /* too long for a session record */
    memcpy(big, "{\"a\":\"", 6);
    memset(big + 6, 'x', NSSO_CLAIM_VALUE_MAX + 1);
    memcpy(big + 6 + NSSO_CLAIM_VALUE_MAX + 1, "\"}", 2);
    assert_null(pick1(p, big, "a"));
    big[6 + NSSO_CLAIM_VALUE_MAX] = '"';
    big[6 + NSSO_CLAIM_VALUE_MAX + 1] = '}';
    big[6 + NSSO_CLAIM_VALUE_MAX + 2] = '\0';
    assert_int_equal(strlen(pick1(p, big, "a")), NSSO_CLAIM_VALUE_MAX);
}

static void test_optional_claim_shapes(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    char *pl = apr_psprintf(fx->p,
        "{\"sub\":\"X\",\"user_id\":485412,\"scope\":\"read  write\",\"passed_mfa\":true,"
        "\"iss\":\"" ISS "\",\"exp\":%" APR_INT64_T_FMT ",\"nbf\":%" APR_INT64_T_FMT "}",
        (apr_int64_t)(NOW + 60), (apr_int64_t)(NOW - 5));

    assert_int_equal(verify_pol(fx->p, nsso_fx_sign(fx->p, fx->a, HDR_A, pl),
                                fx->jwks_a, &pol, &c), NSSO_JWT_OK);
    assert_string_equal(c->user_id, "485412");
    assert_int_equal(c->scope->nelts, 2);
    assert_string_equal(item(c->scope, 0), "read");
    assert_string_equal(item(c->scope, 1), "write");
    assert_int_equal(c->authorities->nelts, 0);
    assert_int_equal(c->passed_mfa, 1);
    assert_true(c->nbf == NOW - 5);
    assert_true(c->iat == 0);
    assert_null(c->user_name);
}

static void test_client_credentials_token(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    char *pl = apr_psprintf(fx->p,
        "{\"sub\":\"allocation-manager-api\",\"auth_source\":\"none\","
        "\"authorities\":[\"ROLE_SYSTEM_USER\"],\"scope\":[\"read\"],"
        "\"client_id\":\"allocation-manager-api\",\"grant_type\":\"client_credentials\","
        "\"iss\":\"" ISS "\",\"exp\":%" APR_INT64_T_FMT ",\"jti\":\"j\"}",
        (apr_int64_t)(NOW + 1200));

    assert_int_equal(verify_pol(fx->p, nsso_fx_sign(fx->p, fx->a, HDR_A, pl),
                                fx->jwks_a, &pol, &c), NSSO_JWT_OK);
    assert_null(c->user_name);
    assert_null(c->name);
    assert_null(c->user_id);
    assert_string_equal(c->auth_source, "none");
    assert_string_equal(c->sub, "allocation-manager-api");
    assert_int_equal(c->authorities->nelts, 1);
    assert_string_equal(item(c->authorities, 0), "ROLE_SYSTEM_USER");
    assert_int_equal(c->passed_mfa, -1);
}

/* ---- times and issuer ---------------------------------------------------- */

static void test_expiry_and_skew(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;

    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW - 61, NULL)),
                            fx->jwks_a), NSSO_JWT_EXPIRED);
    /* exactly at exp + skew: no longer valid */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW - 60, NULL)),
                            fx->jwks_a), NSSO_JWT_EXPIRED);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW - 59, NULL)),
                            fx->jwks_a), NSSO_JWT_OK);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW - 30, NULL)),
                            fx->jwks_a), NSSO_JWT_OK);
}

static void test_expired_without_skew(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    char *tok = nsso_fx_sign(fx->p, fx->a, HDR_A, payload_with(fx->p, NOW - 1, NULL));

    pol.skew = 0;
    assert_int_equal(verify_pol(fx->p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_EXPIRED);
    pol.skew = -100;   /* negative skew is treated as none */
    assert_int_equal(verify_pol(fx->p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_EXPIRED);
}

static void test_unset_clock_is_real_clock(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();

    pol.now = 0;
    assert_int_equal(verify_pol(fx->p, nsso_fx_sign(fx->p, fx->a, HDR_A,
                     payload_with(fx->p, NOW + 1200, NULL)), fx->jwks_a, &pol, NULL),
                     NSSO_JWT_EXPIRED);
    assert_int_equal(verify_pol(fx->p, nsso_fx_sign(fx->p, fx->a, HDR_A,
                     payload_with(fx->p, 253402300799LL, NULL)), fx->jwks_a, &pol, NULL),
                     NSSO_JWT_OK);
}

static void test_nbf_and_iat_future(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *nbf_far = apr_psprintf(p, ",\"nbf\":%" APR_INT64_T_FMT, (apr_int64_t)(NOW + 120));
    char *nbf_near = apr_psprintf(p, ",\"nbf\":%" APR_INT64_T_FMT, (apr_int64_t)(NOW + 30));
    char *iat_far = apr_psprintf(p,
        "{\"iss\":\"" ISS "\",\"exp\":%" APR_INT64_T_FMT ",\"iat\":%" APR_INT64_T_FMT "}",
        (apr_int64_t)(NOW + 1200), (apr_int64_t)(NOW + 120));

    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW + 1200, nbf_far)),
                            fx->jwks_a), NSSO_JWT_NOT_YET_VALID);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, payload_with(p, NOW + 1200, nbf_near)),
                            fx->jwks_a), NSSO_JWT_OK);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, iat_far), fx->jwks_a),
                     NSSO_JWT_NOT_YET_VALID);
}

/* A payload with just iss (raw JSON value) and a valid exp. */
static char *iss_payload(apr_pool_t *p, const char *iss_json)
{
    return apr_psprintf(p, "{\"iss\":%s,\"exp\":%" APR_INT64_T_FMT "}",
                        iss_json, (apr_int64_t)(NOW + 100));
}

static void test_issuer(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    nsso_jwt_policy_t pol = policy();
    const char *bad[] = { "\"" ISS "/\"", "\"https://evil.example/auth/issuer\"",
                          "\"" "HTTPS://sign-in-dev.hmpps.service.justice.gov.uk/auth/issuer\"" };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *pl = iss_payload(p, bad[i]);
        assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, pl), fx->jwks_a),
                         NSSO_JWT_BAD_ISSUER);
    }
    /* iss missing while an issuer is required */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     apr_psprintf(p, "{\"exp\":%" APR_INT64_T_FMT "}", (apr_int64_t)(NOW + 100))),
                     fx->jwks_a), NSSO_JWT_BAD_ISSUER);
    /* iss of the wrong type is malformed */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     iss_payload(p, "[\"" ISS "\"]")),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
    /* a NULL issuer policy skips the check */
    pol.issuer = NULL;
    assert_int_equal(verify_pol(p, nsso_fx_sign(p, fx->a, HDR_A,
                     iss_payload(p, bad[1])),
                     fx->jwks_a, &pol, NULL), NSSO_JWT_OK);
}

/* ---- algorithms ------------------------------------------------------------ */

static void test_alg_none(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    nsso_jwt_policy_t pol = policy();
    const char *names[] = { "none", "None", "NONE" };
    apr_size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *hdr = apr_psprintf(p, "{\"alg\":\"%s\",\"kid\":\"key-a\"}", names[i]);
        char *tok = nsso_fx_compact(p, hdr, good_payload(p), "AAAA");
        pol.algs = algs(p, names[i], "RS256");   /* even when "allowed" */
        assert_int_equal(verify_pol(p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_BAD_ALG);
        assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_ALG);
        /* the unsigned form (empty signature) is not even a compact JWS */
        assert_int_equal(verify_pol(p, nsso_fx_compact(p, hdr, good_payload(p), ""),
                                    fx->jwks_a, &pol, NULL), NSSO_JWT_MALFORMED);
    }
}

static void test_alg_hs256_with_public_key(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    nsso_jwt_policy_t pol = policy();
    const char *hs[] = { "HS256", "HS384", "HS512" };
    apr_size_t i;
    char *tok = nsso_fx_sign_hs256_pubkey(p, fx->a,
                    "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"key-a\"}", good_payload(p));

    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_ALG);
    for (i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        pol.algs = algs(p, hs[i], "RS256");
        assert_int_equal(verify_pol(p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_BAD_ALG);
    }
    /* no kid, single key: still refused */
    tok = nsso_fx_sign_hs256_pubkey(p, fx->a, "{\"alg\":\"HS256\"}", good_payload(p));
    assert_int_equal(verify_pol(p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_BAD_ALG);
}

static void test_alg_rs512(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    nsso_jwt_policy_t pol = policy();
    const char *hdr = "{\"alg\":\"RS512\",\"kid\":\"key-a\"}";
    char *tok = nsso_fx_sign_raw(p, fx->a, "SHA512", hdr, good_payload(p));
    char *jwks_noalg = nsso_fx_jwks(p, nsso_fx_jwk_json(p, fx->a, NULL, "sig"), NULL);
    char *jwks_512 = nsso_fx_jwks(p, nsso_fx_jwk_json(p, fx->a, "RS512", NULL), NULL);

    /* default allow-list is RS256 only */
    assert_int_equal(verify(p, tok, jwks_noalg), NSSO_JWT_BAD_ALG);
    pol.algs = algs(p, "RS256", NULL);
    assert_int_equal(verify_pol(p, tok, jwks_noalg, &pol, NULL), NSSO_JWT_BAD_ALG);
    /* allowed when configured */
    pol.algs = algs(p, "RS256", "RS512");
    assert_int_equal(verify_pol(p, tok, jwks_noalg, &pol, NULL), NSSO_JWT_OK);
    assert_int_equal(verify_pol(p, tok, jwks_512, &pol, NULL), NSSO_JWT_OK);
    /* but the JWK's own alg must match the header's */
    assert_int_equal(verify_pol(p, tok, fx->jwks_a, &pol, NULL), NSSO_JWT_BAD_ALG);
    /* a header claiming RS512 over an RS256 signature fails verification */
    tok = nsso_fx_sign_raw(p, fx->a, "SHA256", hdr, good_payload(p));
    assert_int_equal(verify_pol(p, tok, jwks_noalg, &pol, NULL), NSSO_JWT_BAD_SIGNATURE);
}

static void test_alg_raw_rs256_ok_and_header_checks(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *pl = good_payload(p);

    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256", HDR_A, pl), fx->jwks_a),
                     NSSO_JWT_OK);
    /* duplicate alg in the header */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"alg\":\"RS256\",\"kid\":\"key-a\",\"alg\":\"HS256\"}", pl),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
    /* crit extensions are not understood */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"alg\":\"RS256\",\"kid\":\"key-a\",\"crit\":[\"b64\"],\"b64\":false}", pl),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
    /* alg missing or not a string */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"kid\":\"key-a\"}", pl), fx->jwks_a), NSSO_JWT_MALFORMED);
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"alg\":256,\"kid\":\"key-a\"}", pl), fx->jwks_a), NSSO_JWT_MALFORMED);
    /* kid of the wrong type */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"alg\":\"RS256\",\"kid\":1}", pl), fx->jwks_a), NSSO_JWT_MALFORMED);
    /* header not JSON / not an object */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256", "RS256", pl),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256", "[\"RS256\"]", pl),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
}

/* ---- keys ----------------------------------------------------------------- */

static void test_unknown_kid(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    const char *kid = NULL, *err = NULL;
    const char *kids[] = { "nope", "KEY-A", "key-a ", "key-" };
    apr_size_t i;

    for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        char *hdr = apr_psprintf(p, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kids[i]);
        char *tok = nsso_fx_sign(p, fx->a, hdr, good_payload(p));
        assert_int_equal(nsso_jwt_verify(p, tok, jwks_of(p, fx->jwks_ab), &pol, &c, &kid, &err),
                         NSSO_JWT_UNKNOWN_KID);
        assert_string_equal(kid, kids[i]);
        assert_null(c);
    }
}

static void test_no_kid(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok = nsso_fx_sign(p, fx->a, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", good_payload(p));

    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_OK);
    assert_int_equal(verify(p, tok, fx->jwks_ab), NSSO_JWT_UNKNOWN_KID);
    /* single key, but not the signer */
    assert_int_equal(verify(p, tok, fx->jwks_b), NSSO_JWT_BAD_SIGNATURE);
}

/* Alg before kid and signature; signature before any claim is looked at. */
static void test_order_of_checks(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok, *sig;

    /* a refused alg with an unknown kid: the alg is the reason */
    tok = nsso_fx_sign_hs256_pubkey(p, fx->a, "{\"alg\":\"HS256\",\"kid\":\"nope\"}",
                                    good_payload(p));
    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_ALG);
    /* expired, wrong issuer, duplicate or ill-typed claims, not JSON: all
     * behind a bad signature, which is what is reported */
    {
        const char *pls[] = {
            payload_with(p, NOW - 1000, NULL),
            "{\"iss\":\"https://evil.example\",\"exp\":9999999999}",
            payload_with(p, NOW + 1200, ",\"sub\":\"ADMIN\""),
            "{\"exp\":\"soon\"}",
            "not json",
        };
        apr_size_t i;

        for (i = 0; i < sizeof(pls) / sizeof(pls[0]); i++) {
            tok = nsso_fx_sign_raw(p, fx->b, "SHA256", HDR_A, pls[i]);
            assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_SIGNATURE);
            sig = strrchr(tok, '.') + 1;
            sig[10] = sig[10] == 'x' ? 'y' : 'x';
            assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_SIGNATURE);
        }
    }
}

/* ---- signatures and shape ------------------------------------------------- */

static void test_tampered_payload(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    char *forged = nsso_fx_compact(p, HDR_A,
        payload_with(p, NOW + 1200, ",\"authorities2\":[\"ROLE_MOIC_ADMIN\"]"), "");
    char *sig = strrchr(tok, '.') + 1;
    char *dot1 = strchr(tok, '.');

    /* header and signature kept, payload swapped */
    forged = apr_pstrcat(p, apr_pstrmemdup(p, tok, (apr_size_t)(dot1 - tok)),
                         strchr(forged, '.'), sig, NULL);
    assert_int_equal(verify(p, forged, fx->jwks_a), NSSO_JWT_BAD_SIGNATURE);
}

static void test_tampered_signature(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    char *sig = strrchr(tok, '.') + 1;
    apr_size_t mid = strlen(sig) / 2;

    sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_SIGNATURE);
    /* signed by B but claiming A's kid */
    tok = nsso_fx_sign(p, fx->b, HDR_A, good_payload(p));
    assert_int_equal(verify(p, tok, fx->jwks_ab), NSSO_JWT_BAD_SIGNATURE);
    /* truncated signature (to 252 bytes, still canonical base64url) */
    tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    tok[strlen(tok) - 6] = '\0';
    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_BAD_SIGNATURE);
}

static void test_compact_shape(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    char *hdr = apr_pstrmemdup(p, tok, (apr_size_t)(dot1 - tok));
    char *pl = apr_pstrmemdup(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1));
    char *sig = dot2 + 1;
    const char *bad[] = {
        apr_pstrcat(p, hdr, ".", pl, NULL),                          /* 2 parts */
        apr_pstrcat(p, hdr, ".", pl, ".", sig, ".", sig, NULL),      /* 4 parts */
        apr_pstrcat(p, hdr, ".", pl, ".", sig, ".", sig, ".", sig, NULL), /* JWE-like */
        apr_pstrcat(p, hdr, ".", pl, ".", NULL),                     /* empty signature */
        apr_pstrcat(p, ".", pl, ".", sig, NULL),                     /* empty header */
        apr_pstrcat(p, hdr, "..", sig, NULL),                        /* empty payload */
        apr_pstrcat(p, " ", tok, NULL),
        apr_pstrcat(p, tok, "\n", NULL),
        apr_pstrcat(p, hdr, ". ", pl, ".", sig, NULL),
        apr_pstrcat(p, hdr, ".", pl, ".", sig, "==", NULL),          /* padding */
        apr_pstrcat(p, hdr, ".", pl, ".", sig, "+/", NULL),          /* plain base64 */
        "", ".", "..", "...",
    };
    apr_size_t i;

    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify(p, bad[i], fx->jwks_a), NSSO_JWT_MALFORMED);
}

/* Flipping the unused low bits of the last character keeps the bytes but
 * changes the spelling: refused, so each token has one spelling. */
static void test_non_canonical_base64(void **state)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    apr_size_t last = strlen(tok) - 1;
    int v = (int)(strchr(abc, tok[last]) - abc);

    assert_int_equal((strlen(strrchr(tok, '.') + 1)) % 4, 2);  /* 256 bytes: 4 spare bits */
    tok[last] = abc[v ^ 1];
    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_MALFORMED);
    /* a one-character trailing group can never be canonical */
    tok = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    assert_int_equal(verify(p, apr_pstrcat(p, tok, "A", "A", "A", NULL), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
}

static void test_overlong_token(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    char *pad = apr_palloc(p, NSSO_JWT_MAX_LEN + 1);
    char *tok;

    memset(pad, 'a', NSSO_JWT_MAX_LEN);
    pad[NSSO_JWT_MAX_LEN] = '\0';
    /* a validly signed token just over the limit */
    tok = nsso_fx_sign(p, fx->a, HDR_A,
                       payload_with(p, NOW + 1200, apr_pstrcat(p, ",\"x\":\"", pad, "\"", NULL)));
    assert_true(strlen(tok) > NSSO_JWT_MAX_LEN);
    assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_MALFORMED);
    assert_int_equal(verify(p, pad, fx->jwks_a), NSSO_JWT_MALFORMED);
}

/* ---- payload ------------------------------------------------------------- */

static void test_payload_not_json_object(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *bad[] = { "hello", "[1,2,3]", "\"str\"", "{\"exp\":1", "" , "{} {}" };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = nsso_fx_sign_raw(p, fx->a, "SHA256", HDR_A, bad[i]);
        assert_int_equal(verify(p, tok, fx->jwks_a), NSSO_JWT_MALFORMED);
    }
}

static void test_duplicate_claims(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;

    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     payload_with(p, NOW + 1200, ",\"sub\":\"ADMIN\"")), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     payload_with(p, NOW + 1200, ",\"exp\":9999999999")), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
    /* duplicates nested deeper count too */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     payload_with(p, NOW + 1200, ",\"x\":{\"a\":1,\"a\":2}")), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
}

static void test_exp_types(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *bad[] = {
        "\"1700001200\"", "1700001200.0", "1700001200.5", "1.7000012e9",
        "253402300800", "99999999999999999999", "-1", "null", "true", "[1700001200]",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *pl = apr_pstrcat(p, "{\"iss\":\"" ISS "\",\"exp\":", bad[i], "}", NULL);
        assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, pl), fx->jwks_a),
                         NSSO_JWT_MALFORMED);
    }
    /* missing */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, "{\"iss\":\"" ISS "\"}"),
                            fx->jwks_a), NSSO_JWT_MALFORMED);
    /* year 9999 itself is still an acceptable date */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                            "{\"iss\":\"" ISS "\",\"exp\":253402300799}"), fx->jwks_a),
                     NSSO_JWT_OK);
    /* nbf / iat of the wrong type */
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     payload_with(p, NOW + 1200, ",\"nbf\":\"0\"")), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
    assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A,
                     "{\"iss\":\"" ISS "\",\"exp\":1700001200,\"iat\":1.5}"), fx->jwks_a),
                     NSSO_JWT_MALFORMED);
}

static void test_claim_types(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *bad[] = {
        ",\"authorities\":\"ROLE_ALLOC_MGR\"", ",\"authorities\":[\"ROLE_A\",7]",
        ",\"authorities\":{\"r\":\"ROLE_A\"}", ",\"authorities\":[[\"ROLE_A\"]]",
        ",\"scope\":3", ",\"scope\":[\"read\",null]", ",\"user_name\":[\"X\"]",
        ",\"client_id\":12", ",\"passed_mfa\":\"yes\"", ",\"user_uuid\":{}",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* the good payload minus those members, with the bad one added */
        char *pl = apr_psprintf(p, "{\"iss\":\"" ISS "\",\"exp\":%" APR_INT64_T_FMT "%s}",
                                (apr_int64_t)(NOW + 100), bad[i]);
        assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, pl), fx->jwks_a),
                         NSSO_JWT_MALFORMED);
    }
}

static void test_embedded_nul(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *bad[] = {
        ",\"user_name\":\"ALLOC\\u0000SPO\"", ",\"authorities\":[\"ROLE_A\\u0000B\"]",
        ",\"scope\":\"read\\u0000write\"", ",\"iss\":\"" ISS "\\u0000x\"",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *pl = apr_psprintf(p, "{\"exp\":%" APR_INT64_T_FMT "%s}",
                                (apr_int64_t)(NOW + 100), bad[i]);
        assert_int_equal(verify(p, nsso_fx_sign(p, fx->a, HDR_A, pl), fx->jwks_a),
                         NSSO_JWT_MALFORMED);
    }
    /* in the header kid, too */
    assert_int_equal(verify(p, nsso_fx_sign_raw(p, fx->a, "SHA256",
                     "{\"alg\":\"RS256\",\"kid\":\"key-a\\u0000x\"}", good_payload(p)),
                     fx->jwks_a), NSSO_JWT_MALFORMED);
}

static void test_bad_arguments_and_strings(void **state)
{
    fx_t *fx = fx_of(state);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *c = NULL;
    const char *err = NULL;

    assert_int_equal(nsso_jwt_verify(fx->p, NULL, jwks_of(fx->p, fx->jwks_a), &pol, &c,
                                     NULL, &err), NSSO_JWT_MALFORMED);
    assert_int_equal(nsso_jwt_verify(fx->p, nsso_fx_sign(fx->p, fx->a, HDR_A, good_payload(fx->p)),
                                     NULL, &pol, &c, NULL, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_OK), "ok");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_MALFORMED), "malformed");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_BAD_ALG), "bad_alg");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_UNKNOWN_KID), "unknown_kid");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_BAD_SIGNATURE), "bad_signature");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_EXPIRED), "expired");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(nsso_jwt_result_str(NSSO_JWT_BAD_ISSUER), "bad_issuer");
    assert_string_equal(nsso_jwt_result_str((nsso_jwt_result_t)99), "unknown");
}

/* ---- JWKS parsing ----------------------------------------------------------- */

static apr_status_t parse(apr_pool_t *p, const char *json, int *count)
{
    nsso_jwks *j = (nsso_jwks *)&j;
    const char *err = NULL;
    apr_status_t rv = nsso_jwks_parse(p, json, strlen(json), &j, &err);

    if (rv == APR_SUCCESS) {
        assert_null(err);
        *count = nsso_jwks_count(j);
    }
    else {
        assert_null(j);
        assert_non_null(err);
        *count = -1;
    }
    return rv;
}

static void test_jwks_parse_failures(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *ec = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"use\":\"sig\","
                     "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    const char *bad[] = {
        "garbage", "{", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":null}",
        apr_pstrcat(p, "{\"keys\":[", ec, "]}", NULL),
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\"}]}",
        /* found by fuzz_jwks: cjose's decoder asserts (aborting the process)
         * on these; they must be refused before they reach it */
        "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"\",\"kid\":\"6\",\"n\":\"w=\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"kid\":\"6\",\"n\":\"wwwww\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"A\",\"kid\":\"6\",\"n\":\"AQAB\"}]}",
        nsso_fx_jwks(p, nsso_fx_jwk_json(p, fx->small, "RS256", "sig"), NULL),
        apr_pstrcat(p, "{\"keys\":[", nsso_fx_jwk_json(p, fx->a, NULL, NULL),
                    "],\"keys\":[]}", NULL),
    };
    apr_size_t i;
    int n;
    nsso_jwks *j = NULL;
    const char *err = NULL;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(parse(p, bad[i], &n), APR_SUCCESS);
    assert_int_not_equal(nsso_jwks_parse(p, "", 0, &j, &err), APR_SUCCESS);
    assert_null(j);
    assert_non_null(err);
    assert_int_equal(nsso_jwks_count(NULL), 0);
}

/* A JWK of key k with one member replaced or added ("name":value). */
static char *jwk_set(apr_pool_t *p, const nsso_fx_key *k, const char *member)
{
    char *j = nsso_fx_jwk_json(p, k, NULL, NULL);
    j[strlen(j) - 1] = '\0';
    return apr_pstrcat(p, j, ",", member, "}", NULL);
}

static void test_jwks_parse_skips(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    const char *ec = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"use\":\"sig\","
                     "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    char *a = nsso_fx_jwk_json(p, fx->a, "RS256", "sig");
    char *b = nsso_fx_jwk_json(p, fx->b, NULL, NULL);
    char *a_nokid = nsso_fx_jwk_json_kid(p, fx->a, NULL, "RS256", "sig");
    int n;

    assert_int_equal(parse(p, nsso_fx_jwks(p, a, NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(parse(p, nsso_fx_jwks(p, a, b, NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(parse(p, nsso_fx_jwks(p, ec, a, "42", "{}", NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(parse(p, nsso_fx_jwks(p, a_nokid, b, NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_not_equal(parse(p, nsso_fx_jwks(p, a_nokid, NULL), &n), APR_SUCCESS);
    /* use enc, key_ops without verify, duplicate kid, bad kid: skipped */
    assert_int_equal(parse(p, nsso_fx_jwks(p, jwk_set(p, fx->b, "\"use\":\"enc\""), a, NULL), &n),
                     APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(parse(p, nsso_fx_jwks(p, jwk_set(p, fx->b, "\"key_ops\":[\"encrypt\"]"),
                                           jwk_set(p, fx->a, "\"key_ops\":[\"verify\"]"), NULL), &n),
                     APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(parse(p, nsso_fx_jwks(p, a, a, b, NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(parse(p, nsso_fx_jwks(p, "{\"kty\":\"RSA\",\"kid\":\"\",\"n\":\"x\","
                                           "\"e\":\"AQAB\"}", b, NULL), &n), APR_SUCCESS);
    assert_int_equal(n, 1);
}

static void test_jwks_first_of_duplicate_kids_wins(void **state)
{
    fx_t *fx = fx_of(state);
    apr_pool_t *p = fx->p;
    /* key b published under kid key-a after the real key-a */
    char *b_as_a = nsso_fx_jwk_json_kid(p, fx->b, "key-a", "RS256", NULL);
    char *tok_a = nsso_fx_sign(p, fx->a, HDR_A, good_payload(p));
    char *jwks = nsso_fx_jwks(p, nsso_fx_jwk_json(p, fx->a, "RS256", NULL), b_as_a, NULL);
    char *jwks_rev = nsso_fx_jwks(p, b_as_a, nsso_fx_jwk_json(p, fx->a, "RS256", NULL), NULL);

    assert_int_equal(verify(p, tok_a, jwks), NSSO_JWT_OK);
    assert_int_equal(verify(p, tok_a, jwks_rev), NSSO_JWT_BAD_SIGNATURE);
}

/* ---- the cache ------------------------------------------------------------ */

typedef struct {
    int calls;
    int fail;
    const char *body;
    apr_interval_time_t max_age;
} stub_t;

static apr_status_t stub_fetch(void *ctx, apr_pool_t *p, char **body, apr_size_t *len,
                               apr_interval_time_t *max_age, const char **err)
{
    stub_t *s = ctx;

    s->calls++;
    if (s->fail) {
        *err = "stub down";
        return APR_EGENERAL;
    }
    *body = apr_pstrdup(p, s->body);
    *len = strlen(s->body);
    *max_age = s->max_age;
    return APR_SUCCESS;
}

static nsso_jwks_cache *cache_new(apr_pool_t *p, stub_t *s, apr_int64_t default_age_s,
                                  apr_int64_t refetch_s)
{
    nsso_jwks_cache *c = NULL;

    assert_int_equal(nsso_jwks_cache_create(p, stub_fetch, s, apr_time_from_sec(default_age_s),
                                            apr_time_from_sec(refetch_s), &c), APR_SUCCESS);
    assert_non_null(c);
    return c;
}

/* Verify through the cache at time NOW + at. */
static nsso_jwt_result_t cverify(nsso_jwks_cache *c, apr_pool_t *p, const char *tok,
                                 apr_int64_t at, apr_status_t *st)
{
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *claims = NULL;
    const char *err = NULL;
    apr_status_t dummy;
    nsso_jwt_result_t r;

    pol.now = NOW + at;
    r = nsso_jwks_cache_verify(c, p, tok, &pol, &claims, st ? st : &dummy, &err);
    if (r == NSSO_JWT_OK)
        assert_non_null(claims);
    else
        assert_non_null(err);
    return r;
}

static char *token_a(apr_pool_t *p, const nsso_fx_key *k)
{
    return nsso_fx_sign(p, k, apr_psprintf(p, "{\"alg\":\"RS256\",\"kid\":\"%s\"}",
                                           nsso_fx_key_kid(k)),
                        payload_with(p, NOW + 5000, NULL));
}

static void test_cache_create_args(void **state)
{
    nsso_jwks_cache *c = (nsso_jwks_cache *)state;

    assert_int_equal(nsso_jwks_cache_create(fx_of(state)->p, NULL, NULL, 0, 0, &c), APR_EINVAL);
    assert_null(c);
}

static void test_cache_fetch_once_and_reuse(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, apr_time_from_sec(300) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok = token_a(fx->p, fx->a);
    apr_status_t st = -1;

    assert_int_equal(nsso_jwks_cache_fetches(c), 0);
    assert_int_equal(cverify(c, fx->p, tok, 0, &st), NSSO_JWT_OK);
    assert_int_equal(st, APR_SUCCESS);
    assert_int_equal(s.calls, 1);
    assert_int_equal(cverify(c, fx->p, tok, 10, NULL), NSSO_JWT_OK);
    assert_int_equal(cverify(c, fx->p, tok, 299, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(nsso_jwks_cache_fetches(c), 1);
    /* a malformed token never causes a fetch */
    assert_int_equal(cverify(c, fx->p, "x.y", 20, NULL), NSSO_JWT_MALFORMED);
    assert_int_equal(s.calls, 1);
}

static void test_cache_refetch_when_stale(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, apr_time_from_sec(100) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok = token_a(fx->p, fx->a);

    assert_int_equal(cverify(c, fx->p, tok, 0, NULL), NSSO_JWT_OK);
    assert_int_equal(cverify(c, fx->p, tok, 99, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(cverify(c, fx->p, tok, 100, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(cverify(c, fx->p, tok, 150, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(nsso_jwks_cache_fetches(c), 2);
}

static void test_cache_default_max_age(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, 0 };        /* no max-age from the server */
    nsso_jwks_cache *c = cache_new(fx->p, &s, 500, 60);
    char *tok = token_a(fx->p, fx->a);

    assert_int_equal(cverify(c, fx->p, tok, 0, NULL), NSSO_JWT_OK);
    assert_int_equal(cverify(c, fx->p, tok, 499, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(cverify(c, fx->p, tok, 500, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 2);
}

static void test_cache_unknown_kid_refetch_rate_limited(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, apr_time_from_sec(3600) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok_a = token_a(fx->p, fx->a), *tok_b = token_a(fx->p, fx->b);
    apr_status_t st = -1;

    assert_int_equal(cverify(c, fx->p, tok_a, 0, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 1);
    /* right after the initial fetch: rate-limited, no refetch */
    assert_int_equal(cverify(c, fx->p, tok_b, 30, &st), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(st, APR_SUCCESS);
    assert_int_equal(s.calls, 1);
    /* later: exactly one refetch, still unknown */
    assert_int_equal(cverify(c, fx->p, tok_b, 60, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(s.calls, 2);
    /* a flood of unknown kids within the interval: no more fetches */
    assert_int_equal(cverify(c, fx->p, tok_b, 61, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(cverify(c, fx->p, tok_b, 119, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(s.calls, 2);
    assert_int_equal(cverify(c, fx->p, tok_b, 120, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(s.calls, 3);
    /* known keys keep working throughout */
    assert_int_equal(cverify(c, fx->p, tok_a, 121, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 3);
    /* a bad signature is not a reason to refetch */
    assert_int_equal(cverify(c, fx->p, nsso_fx_sign(fx->p, fx->b, HDR_A,
                             good_payload(fx->p)), 500, NULL), NSSO_JWT_BAD_SIGNATURE);
    assert_int_equal(s.calls, 3);
}

static void test_cache_rotation(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, apr_time_from_sec(43200) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok_a = token_a(fx->p, fx->a), *tok_b = token_a(fx->p, fx->b);

    assert_int_equal(cverify(c, fx->p, tok_a, 0, NULL), NSSO_JWT_OK);
    s.body = fx->jwks_b;                       /* Auth rotates to key b only */
    assert_int_equal(cverify(c, fx->p, tok_b, 90, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(cverify(c, fx->p, tok_b, 91, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 2);
    /* a is gone now, and the refetch it would want is rate-limited */
    assert_int_equal(cverify(c, fx->p, tok_a, 92, NULL), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(s.calls, 2);
    assert_int_equal(nsso_jwks_cache_fetches(c), 2);
}

static void test_cache_fetch_failure_keeps_old_keys(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_a, apr_time_from_sec(100) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok = token_a(fx->p, fx->a);
    apr_status_t st = -1;

    assert_int_equal(cverify(c, fx->p, tok, 0, NULL), NSSO_JWT_OK);
    s.fail = 1;
    assert_int_equal(cverify(c, fx->p, tok, 200, &st), NSSO_JWT_OK);  /* stale, fetch fails */
    assert_int_equal(st, APR_SUCCESS);
    assert_int_equal(s.calls, 2);
    assert_int_equal(cverify(c, fx->p, tok, 210, NULL), NSSO_JWT_OK);  /* no retry yet */
    assert_int_equal(s.calls, 2);
    assert_int_equal(cverify(c, fx->p, tok, 260, NULL), NSSO_JWT_OK);  /* retry, fails */
    assert_int_equal(s.calls, 3);
    /* an unusable document is a failure too */
    s.fail = 0;
    s.body = "{\"keys\":[]}";
    assert_int_equal(cverify(c, fx->p, tok, 320, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 4);
    assert_int_equal(nsso_jwks_cache_fetches(c), 1);
    /* recovery */
    s.body = fx->jwks_ab;
    assert_int_equal(cverify(c, fx->p, tok, 380, NULL), NSSO_JWT_OK);
    assert_int_equal(s.calls, 5);
    assert_int_equal(nsso_jwks_cache_fetches(c), 2);
}

static void test_cache_empty_fetch_failure(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 1, fx->jwks_a, 0 };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 600, 60);
    char *tok = token_a(fx->p, fx->a);
    nsso_jwt_policy_t pol = policy();
    nsso_claims_t *claims = (nsso_claims_t *)&s;
    apr_status_t st = APR_SUCCESS;
    const char *err = NULL;

    assert_int_equal(nsso_jwks_cache_verify(c, fx->p, tok, &pol, &claims, &st, &err),
                     NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(st, APR_EGENERAL);
    assert_non_null(strstr(err, "stub down"));
    assert_null(claims);
    assert_int_equal(s.calls, 1);
    /* rate-limited: no new attempt, same answer */
    st = APR_SUCCESS;
    assert_int_equal(cverify(c, fx->p, tok, 30, &st), NSSO_JWT_UNKNOWN_KID);
    assert_int_equal(st, APR_EGENERAL);
    assert_int_equal(s.calls, 1);
    s.fail = 0;
    assert_int_equal(cverify(c, fx->p, tok, 60, &st), NSSO_JWT_OK);
    assert_int_equal(st, APR_SUCCESS);
    assert_int_equal(s.calls, 2);
}

/* Threads verify while generations are swapped under them. */
typedef struct {
    nsso_jwks_cache *cache;
    apr_pool_t *pool;
    const char *tok_a, *tok_b;
    int offset;
    int failures;
} worker_t;

#define WORKERS 6
#define ROUNDS  40

static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    int i;

    (void)t;

    for (i = 0; i < ROUNDS; i++) {
        nsso_jwt_policy_t pol = policy();
        nsso_claims_t *claims = NULL;
        apr_status_t st;
        const char *err = NULL;

        pol.now = NOW + w->offset + i;
        if (nsso_jwks_cache_verify(w->cache, w->pool, (i & 1) ? w->tok_a : w->tok_b, &pol,
                                   &claims, &st, &err) != NSSO_JWT_OK)
            w->failures++;
        apr_pool_clear(w->pool);
    }
    return NULL;   /* not apr_thread_exit: pthread_exit confuses ASan */
}

static void test_cache_threads(void **state)
{
    fx_t *fx = fx_of(state);
    stub_t s = { 0, 0, fx->jwks_ab, apr_time_from_sec(1) };
    nsso_jwks_cache *c = cache_new(fx->p, &s, 1, 0);
    apr_thread_t *th[WORKERS];
    worker_t w[WORKERS];
    apr_status_t rv;
    int i;

    for (i = 0; i < WORKERS; i++) {
        w[i].cache = c;
        w[i].tok_a = token_a(fx->p, fx->a);
        w[i].tok_b = token_a(fx->p, fx->b);
        w[i].offset = i;
        w[i].failures = 0;
        assert_int_equal(apr_pool_create_unmanaged_ex(&w[i].pool, NULL, NULL), APR_SUCCESS);
    }
    for (i = 0; i < WORKERS; i++)
        assert_int_equal(apr_thread_create(&th[i], NULL, worker, &w[i], fx->p), APR_SUCCESS);
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, th[i]);
        apr_pool_destroy(w[i].pool);
        assert_int_equal(w[i].failures, 0);
    }
    assert_true(s.calls >= 2);
    assert_int_equal(nsso_jwks_cache_fetches(c), (apr_uint64_t)s.calls);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_good_token_claims),
        T(test_pick_through_verify),
        T(test_claim_pick_shapes),
        T(test_optional_claim_shapes),
        T(test_client_credentials_token),
        T(test_expiry_and_skew),
        T(test_expired_without_skew),
        T(test_unset_clock_is_real_clock),
        T(test_nbf_and_iat_future),
        T(test_issuer),
        T(test_alg_none),
        T(test_alg_hs256_with_public_key),
        T(test_alg_rs512),
        T(test_alg_raw_rs256_ok_and_header_checks),
        T(test_unknown_kid),
        T(test_no_kid),
        T(test_order_of_checks),
        T(test_tampered_payload),
        T(test_tampered_signature),
        T(test_compact_shape),
        T(test_non_canonical_base64),
        T(test_overlong_token),
        T(test_payload_not_json_object),
        T(test_duplicate_claims),
        T(test_exp_types),
        T(test_claim_types),
        T(test_embedded_nul),
        T(test_bad_arguments_and_strings),
        T(test_jwks_parse_failures),
        T(test_jwks_parse_skips),
        T(test_jwks_first_of_duplicate_kids_wins),
        T(test_cache_create_args),
        T(test_cache_fetch_once_and_reuse),
        T(test_cache_refetch_when_stale),
        T(test_cache_default_max_age),
        T(test_cache_unknown_kid_refetch_rate_limited),
        T(test_cache_rotation),
        T(test_cache_fetch_failure_keeps_old_keys),
        T(test_cache_empty_fetch_failure),
        T(test_cache_threads),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
