/* jwt_fixtures.c - builds keys, JWKS documents and signed tokens for the JWT
 * tests. Keys come from OpenSSL (EVP) and are mirrored into cjose; every
 * OpenSSL, cjose and jansson object is freed before returning or by a pool
 * cleanup. */
#include "jwt_fixtures.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

struct nsso_fx_key {
    const char *kid;
    EVP_PKEY *pkey;
    cjose_jwk_t *jwk;
};

static apr_status_t key_cleanup(void *data)
{
    nsso_fx_key *k = data;

    cjose_jwk_release(k->jwk);
    EVP_PKEY_free(k->pkey);
    return APR_SUCCESS;
}

/* An RSA parameter of pkey as big-endian bytes in p. */
static int bn_bytes(apr_pool_t *p, EVP_PKEY *pkey, const char *name,
                    uint8_t **out, size_t *len)
{
    BIGNUM *bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        return -1;
    *len = (size_t)BN_num_bytes(bn);
    *out = apr_palloc(p, *len + 1);
    BN_bn2bin(bn, *out);
    BN_clear_free(bn);
    return 0;
}

static cjose_jwk_t *jwk_from_pkey(apr_pool_t *p, EVP_PKEY *pkey)
{
    cjose_jwk_rsa_keyspec s;
    cjose_err cerr;

    memset(&s, 0, sizeof(s));
    if (bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_N, &s.n, &s.nlen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_E, &s.e, &s.elen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_D, &s.d, &s.dlen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &s.p, &s.plen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &s.q, &s.qlen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, &s.dp, &s.dplen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, &s.dq, &s.dqlen)
        || bn_bytes(p, pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &s.qi, &s.qilen))
        return NULL;
    return cjose_jwk_create_RSA_spec(&s, &cerr);
}

nsso_fx_key *nsso_fx_key_new(apr_pool_t *p, const char *kid, int bits)
{
    nsso_fx_key *k = apr_pcalloc(p, sizeof(*k));
    apr_pool_t *tmp;

    k->kid = apr_pstrdup(p, kid);
    apr_pool_cleanup_register(p, k, key_cleanup, apr_pool_cleanup_null);
    k->pkey = EVP_RSA_gen((unsigned int)bits);
    if (k->pkey == NULL || apr_pool_create(&tmp, p) != APR_SUCCESS)
        return NULL;
    k->jwk = jwk_from_pkey(tmp, k->pkey);
    apr_pool_destroy(tmp);
    return k->jwk ? k : NULL;
}

const char *nsso_fx_key_kid(const nsso_fx_key *k)
{
    return k->kid;
}

char *nsso_fx_jwk_json(apr_pool_t *p, const nsso_fx_key *k, const char *alg,
                       const char *use)
{
    return nsso_fx_jwk_json_kid(p, k, k->kid, alg, use);
}

char *nsso_fx_jwk_json_kid(apr_pool_t *p, const nsso_fx_key *k, const char *kid,
                           const char *alg, const char *use)
{
    cjose_err cerr;
    char *pub = cjose_jwk_to_json(k->jwk, false, &cerr), *out = NULL, *dump;
    json_t *o;

    if (pub == NULL)
        return NULL;
    o = json_loads(pub, 0, NULL);
    cjose_get_dealloc()(pub);
    if (o == NULL)
        return NULL;
    if (kid)
        json_object_set_new(o, "kid", json_string(kid));
    if (alg)
        json_object_set_new(o, "alg", json_string(alg));
    if (use)
        json_object_set_new(o, "use", json_string(use));
    dump = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (dump) {
        out = apr_pstrdup(p, dump);
        free(dump);
    }
    return out;
}

char *nsso_fx_jwks(apr_pool_t *p, ...)
{
    va_list ap;
    const char *jwk, *sep = "";
    char *out = "{\"keys\":[";

    va_start(ap, p);
    while ((jwk = va_arg(ap, const char *)) != NULL) {
        out = apr_pstrcat(p, out, sep, jwk, NULL);
        sep = ",";
    }
    va_end(ap);
    return apr_pstrcat(p, out, "]}", NULL);
}

char *nsso_fx_sign(apr_pool_t *p, const nsso_fx_key *k, const char *header_json,
                   const char *payload_json)
{
    json_t *hdr = json_loads(header_json, 0, NULL);
    cjose_jws_t *jws;
    cjose_err cerr;
    const char *ser = NULL;
    char *out = NULL;

    if (hdr == NULL)
        return NULL;
    jws = cjose_jws_sign(k->jwk, (cjose_header_t *)hdr,
                         (const uint8_t *)payload_json, strlen(payload_json), &cerr);
    json_decref(hdr);
    if (jws && cjose_jws_export(jws, &ser, &cerr))
        out = apr_pstrdup(p, ser);
    cjose_jws_release(jws);
    return out;
}

static char *signing_input(apr_pool_t *p, const char *header_json,
                           const char *payload_json)
{
    return apr_pstrcat(p,
        nsso_b64url_encode(p, (const unsigned char *)header_json, strlen(header_json)),
        ".",
        nsso_b64url_encode(p, (const unsigned char *)payload_json, strlen(payload_json)),
        NULL);
}

char *nsso_fx_sign_raw(apr_pool_t *p, const nsso_fx_key *k, const char *md,
                       const char *header_json, const char *payload_json)
{
    char *input = signing_input(p, header_json, payload_json), *out = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;

    if (ctx && EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k->pkey, NULL) == 1
        && EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input,
                          strlen(input)) == 1) {
        sig = apr_palloc(p, siglen);
        if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input,
                           strlen(input)) == 1)
            out = apr_pstrcat(p, input, ".", nsso_b64url_encode(p, sig, siglen), NULL);
    }
    EVP_MD_CTX_free(ctx);
    return out;
}

char *nsso_fx_sign_hs256_pubkey(apr_pool_t *p, const nsso_fx_key *k,
                                const char *header_json, const char *payload_json)
{
    char *input = signing_input(p, header_json, payload_json), *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    long pemlen;
    char *out = NULL;

    if (bio && PEM_write_bio_PUBKEY(bio, k->pkey) == 1
        && (pemlen = BIO_get_mem_data(bio, &pem)) > 0
        && HMAC(EVP_sha256(), pem, (int)pemlen, (const unsigned char *)input,
                strlen(input), mac, &maclen) != NULL)
        out = apr_pstrcat(p, input, ".", nsso_b64url_encode(p, mac, maclen), NULL);
    BIO_free(bio);
    return out;
}

char *nsso_fx_compact(apr_pool_t *p, const char *header_json,
                      const char *payload_json, const char *sig)
{
    return apr_pstrcat(p, signing_input(p, header_json, payload_json), ".", sig, NULL);
}
