/* fuzz_jose.c - fixed keys, JWKS, policy and signer of the fuzz targets. */
#include "fuzz_jose.h"
#include "fuzz_common.h"
#include "fuzz_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <jansson.h>

__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

const nsso_crypto *nsso_fuzz_crypto(void)
{
    static nsso_crypto *c;
    const char *pass[2] = { NSSO_FUZZ_PASS1, NSSO_FUZZ_PASS2 }, *err = NULL;

    if (c == NULL
        && nsso_crypto_create(nsso_fuzz_root(), pass, 2, &c, &err) != APR_SUCCESS)
        die(err ? err : "nsso_crypto_create failed");
    return c;
}

static cjose_jwk_t *private_key(int which)
{
    static cjose_jwk_t *k[2];
    cjose_err cerr;
    const char *jwk = which == 1 ? NSSO_FUZZ_KEY1_JWK : NSSO_FUZZ_KEY2_JWK;

    if (which != 1 && which != 2)
        die("no such key");
    if (k[which - 1] == NULL) {
        k[which - 1] = cjose_jwk_import(jwk, strlen(jwk), &cerr);
        if (k[which - 1] == NULL)
            die("cannot import a fixed key");
    }
    return k[which - 1];
}

/* The public half of key `which` as a JWK JSON text in the root pool. */
static char *public_jwk(int which, const char *kid, const char *alg,
                        const char *use)
{
    cjose_err cerr;
    char *pub = cjose_jwk_to_json(private_key(which), false, &cerr), *dump, *out;
    json_t *o;

    if (pub == NULL || (o = json_loads(pub, 0, NULL)) == NULL)
        die("cannot export a public key");
    cjose_get_dealloc()(pub);
    json_object_set_new(o, "kid", json_string(kid));
    if (alg)
        json_object_set_new(o, "alg", json_string(alg));
    if (use)
        json_object_set_new(o, "use", json_string(use));
    dump = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (dump == NULL)
        die("cannot serialise a JWK");
    out = apr_pstrdup(nsso_fuzz_root(), dump);
    free(dump);
    return out;
}

const char *nsso_fuzz_jwks_json(void)
{
    static const char *json;

    if (json == NULL)
        json = apr_pstrcat(nsso_fuzz_root(), "{\"keys\":[",
                           public_jwk(1, NSSO_FUZZ_KEY1_KID, "RS256", "sig"), ",",
                           public_jwk(2, NSSO_FUZZ_KEY2_KID, NULL, NULL), "]}",
                           NULL);
    return json;
}

const nsso_jwks *nsso_fuzz_jwks(void)
{
    static nsso_jwks *jwks;
    const char *json, *err = NULL;

    if (jwks == NULL) {
        json = nsso_fuzz_jwks_json();
        if (nsso_jwks_parse(nsso_fuzz_root(), json, strlen(json), &jwks, &err)
                != APR_SUCCESS
            || nsso_jwks_count(jwks) != 2)
            die(err ? err : "fixed JWKS not parsed");
    }
    return jwks;
}

/* The claims the fuzz policy picks (NomisSSOPassClaim): one HMPPS-like, the
 * module's own, and names the dictionaries give. */
const apr_array_header_t *nsso_fuzz_pick_names(void)
{
    static apr_array_header_t *names;

    if (names == NULL) {
        names = apr_array_make(nsso_fuzz_root(), 4, sizeof(const char *));
        APR_ARRAY_PUSH(names, const char *) = "establishment";
        APR_ARRAY_PUSH(names, const char *) = "scope";
        APR_ARRAY_PUSH(names, const char *) = "x";
        APR_ARRAY_PUSH(names, const char *) = "passed_mfa";
    }
    return names;
}

const nsso_jwt_policy_t *nsso_fuzz_policy(void)
{
    static nsso_jwt_policy_t pol;
    apr_array_header_t *algs;

    if (pol.issuer == NULL) {
        algs = apr_array_make(nsso_fuzz_root(), 2, sizeof(const char *));
        APR_ARRAY_PUSH(algs, const char *) = "RS256";
        APR_ARRAY_PUSH(algs, const char *) = "PS256";
        pol.issuer = NSSO_FUZZ_ISS;
        pol.algs = algs;
        pol.skew = 60;
        pol.now = NSSO_FUZZ_NOW;
        pol.pick = nsso_fuzz_pick_names();
    }
    return &pol;
}

char *nsso_fuzz_sign(apr_pool_t *p, int which, const char *header_json,
                     const uint8_t *payload, size_t len)
{
    static const uint8_t empty = 0;
    json_t *hdr = json_loads(header_json, 0, NULL);
    cjose_jws_t *jws;
    cjose_err cerr;
    const char *ser = NULL;
    char *out = NULL;

    if (hdr == NULL)
        return NULL;
    jws = cjose_jws_sign(private_key(which), (cjose_header_t *)hdr,
                         len ? payload : &empty, len, &cerr);
    json_decref(hdr);
    if (jws != NULL && cjose_jws_export(jws, &ser, &cerr))
        out = apr_pstrdup(p, ser);
    cjose_jws_release(jws);
    return out;
}
