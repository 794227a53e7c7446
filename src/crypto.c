/* crypto.c - owns the module's symmetric keys and what is done with them:
 * derivation from the configured passphrases (PBKDF2-HMAC-SHA256 stretches
 * each into a master key, once per process, then HKDF-SHA256 splits it into
 * the JWE and MAC keys), sealing and
 * opening compact JWE (alg "dir", enc "A256GCM") through cjose, and the
 * HMAC-SHA256 keyed MAC. A JWE is checked structurally (header exactly
 * {"alg":"dir","enc":"A256GCM"}, empty encrypted key, 96-bit IV, 128-bit
 * tag, canonical base64url everywhere) before cjose ever decrypts it. */
#include "crypto.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#define NSSO_KEY_LEN 32
#define NSSO_GCM_IV_LEN 12
#define NSSO_GCM_TAG_LEN 16
#define NSSO_PASSPHRASE_MAX 4096

/* The stretch: OWASP's 2023 figure for PBKDF2-HMAC-SHA256. The salt is
 * fixed, not random: every host sharing a store must derive the same keys
 * from the same passphrase, and the salt's job here is only to make tables
 * built for other software useless. Fuzzing explores parsing, not cost. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define NSSO_KDF_ITERATIONS 1
#else
#define NSSO_KDF_ITERATIONS 600000
#endif
static const char kdf_salt[] = "mod_nomis_sso/kdf/1";
#define KDF_CACHE_PREFIX "mod_nomis_sso:kdf:"

static const char hkdf_salt[] = "mod_nomis_sso/hkdf-salt/v1";
static const char info_jwe[] = "mod_nomis_sso/jwe";
static const char info_mac[] = "mod_nomis_sso/mac";

struct nsso_crypto {
    cjose_jwk_t *jwk[NSSO_CRYPTO_MAX_KEYS]; /* [0] seals, all open */
    int nkeys;
    unsigned char mac_key[NSSO_KEY_LEN];
};

/* ---- keys ---------------------------------------------------------------- */

static apr_status_t crypto_cleanup(void *data)
{
    nsso_crypto *c = data;
    int i;

    for (i = 0; i < NSSO_CRYPTO_MAX_KEYS; i++) {
        if (c->jwk[i] != NULL)
            cjose_jwk_release(c->jwk[i]);
        c->jwk[i] = NULL;
    }
    c->nkeys = 0;
    OPENSSL_cleanse(c->mac_key, sizeof(c->mac_key));
    return APR_SUCCESS;
}

/* HKDF-SHA256(salt = fixed label, ikm = passphrase, info) -> 32 bytes. */
static int hkdf_sha256(const char *ikm, apr_size_t ikmlen, const char *info,
                       unsigned char out[NSSO_KEY_LEN])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t outlen = NSSO_KEY_LEN;
    int ok;

    ok = ctx != NULL
         && EVP_PKEY_derive_init(ctx) > 0
         && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0
         && EVP_PKEY_CTX_set1_hkdf_salt(ctx, (const unsigned char *)hkdf_salt,
                                        (int)strlen(hkdf_salt)) > 0
         && EVP_PKEY_CTX_set1_hkdf_key(ctx, (const unsigned char *)ikm,
                                       (int)ikmlen) > 0
         && EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info,
                                        (int)strlen(info)) > 0
         && EVP_PKEY_derive(ctx, out, &outlen) > 0
         && outlen == NSSO_KEY_LEN;
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
        OPENSSL_cleanse(out, NSSO_KEY_LEN);
    return ok;
}

static cjose_jwk_t *derive_jwk(const unsigned char master[NSSO_KEY_LEN])
{
    unsigned char key[NSSO_KEY_LEN];
    cjose_jwk_t *jwk = NULL;
    cjose_err cerr;

    if (hkdf_sha256((const char *)master, NSSO_KEY_LEN, info_jwe, key))
        jwk = cjose_jwk_create_oct_spec(key, sizeof(key), &cerr);
    OPENSSL_cleanse(key, sizeof(key));
    return jwk;
}

static int stretch(const char *passphrase, unsigned char master[NSSO_KEY_LEN])
{
    return PKCS5_PBKDF2_HMAC(passphrase, (int)strlen(passphrase),
                             (const unsigned char *)kdf_salt, (int)strlen(kdf_salt),
                             NSSO_KDF_ITERATIONS, EVP_sha256(), NSSO_KEY_LEN, master) == 1;
}

/* The master key of passphrase: from cache's userdata when this process has
 * stretched it before, else stretched now (and remembered when cache is not
 * NULL). The userdata key names a digest of the passphrase, never the text. */
static int master_key(apr_pool_t *cache, const char *passphrase,
                      unsigned char master[NSSO_KEY_LEN])
{
    unsigned char digest[32];
    char name[sizeof(KDF_CACHE_PREFIX) + 64];
    void *kept = NULL;
    int i;

    if (cache == NULL)
        return stretch(passphrase, master);
    nsso_sha256(passphrase, strlen(passphrase), digest);
    memcpy(name, KDF_CACHE_PREFIX, sizeof(KDF_CACHE_PREFIX) - 1);
    for (i = 0; i < 32; i++)
        apr_snprintf(name + sizeof(KDF_CACHE_PREFIX) - 1 + 2 * i, 3, "%02x", digest[i]);
    if (apr_pool_userdata_get(&kept, name, cache) == APR_SUCCESS && kept != NULL) {
        memcpy(master, kept, NSSO_KEY_LEN);
        return 1;
    }
    if (!stretch(passphrase, master))
        return 0;
    kept = apr_pmemdup(cache, master, NSSO_KEY_LEN);
    /* No wiping cleanup: the cache is httpd's process pool, destroyed only
     * after the module's code has been unloaded with the configuration pool,
     * so a cleanup function of ours would be called at an unmapped address
     * (an ASan run caught httpd's parent dying that way at exit). The key
     * lives as long as the parent process anyway. */
    return apr_pool_userdata_set(kept, name, apr_pool_cleanup_null, cache) == APR_SUCCESS;
}

static const char *check_passphrases(const char *const *passphrases, int n)
{
    int i;

    if (passphrases == NULL || n < 1 || n > NSSO_CRYPTO_MAX_KEYS)
        return "one or two passphrases are required";
    for (i = 0; i < n; i++) {
        if (passphrases[i] == NULL || passphrases[i][0] == '\0')
            return "empty passphrase";
        if (strlen(passphrases[i]) > NSSO_PASSPHRASE_MAX)
            return "passphrase too long";
    }
    return NULL;
}

static apr_status_t derive_keys(nsso_crypto *c, apr_pool_t *cache,
                                const char *const *passphrases, int n)
{
    unsigned char master[NSSO_KEY_LEN];
    int i, ok = 1;

    for (i = 0; ok && i < n; i++) {
        ok = master_key(cache, passphrases[i], master)
             && (c->jwk[i] = derive_jwk(master)) != NULL;
        if (ok && i == 0)
            ok = hkdf_sha256((const char *)master, NSSO_KEY_LEN, info_mac, c->mac_key);
        if (ok)
            c->nkeys = i + 1;
    }
    OPENSSL_cleanse(master, sizeof(master));
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t nsso_crypto_create_cached(apr_pool_t *p, apr_pool_t *cache,
                                       const char *const *passphrases,
                                       int npassphrases, nsso_crypto **out,
                                       const char **err)
{
    const char *dummy, *why;
    nsso_crypto *c;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (out == NULL)
        return APR_EINVAL;
    *out = NULL;
    why = check_passphrases(passphrases, npassphrases);
    if (why != NULL) {
        *err = why;
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    apr_pool_cleanup_register(p, c, crypto_cleanup, apr_pool_cleanup_null);
    if (derive_keys(c, cache, passphrases, npassphrases) != APR_SUCCESS) {
        apr_pool_cleanup_run(p, c, crypto_cleanup);
        *err = "key derivation failed";
        return APR_EGENERAL;
    }
    *out = c;
    return APR_SUCCESS;
}

apr_status_t nsso_crypto_create(apr_pool_t *p, const char *const *passphrases,
                                int npassphrases, nsso_crypto **out,
                                const char **err)
{
    return nsso_crypto_create_cached(p, NULL, passphrases, npassphrases, out, err);
}

/* ---- sealing ------------------------------------------------------------- */

static cjose_header_t *jwe_header(void)
{
    cjose_err cerr;
    cjose_header_t *hdr = cjose_header_new(&cerr);

    if (hdr == NULL)
        return NULL;
    if (!cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_DIR, &cerr)
        || !cjose_header_set(hdr, CJOSE_HDR_ENC, CJOSE_HDR_ENC_A256GCM, &cerr)) {
        cjose_header_release(hdr);
        return NULL;
    }
    return hdr;
}

apr_status_t nsso_crypto_seal(const nsso_crypto *c, apr_pool_t *p,
                              const void *plaintext, apr_size_t len,
                              char **compact, const char **err)
{
    static const uint8_t empty = 0;
    const char *dummy;
    cjose_header_t *hdr;
    cjose_jwe_t *jwe = NULL;
    char *exported = NULL;
    cjose_err cerr;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (compact == NULL)
        return APR_EINVAL;
    *compact = NULL;
    if (c == NULL || c->nkeys < 1 || (plaintext == NULL && len > 0)) {
        *err = "invalid arguments";
        return APR_EINVAL;
    }
    if (len > NSSO_CRYPTO_MAX_PLAINTEXT) {
        *err = "value too large to seal";
        return APR_EINVAL;
    }
    hdr = jwe_header();
    if (hdr == NULL) {
        *err = "cannot build JWE header";
        return APR_EGENERAL;
    }
    jwe = cjose_jwe_encrypt(c->jwk[0], hdr,
                            plaintext ? (const uint8_t *)plaintext : &empty,
                            len, &cerr);
    if (jwe != NULL)
        exported = cjose_jwe_export(jwe, &cerr);
    if (exported != NULL)
        *compact = apr_pstrdup(p, exported);
    cjose_get_dealloc()(exported);
    cjose_jwe_release(jwe);
    cjose_header_release(hdr);
    if (*compact == NULL) {
        *err = "encryption failed";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* ---- opening ------------------------------------------------------------- */

/* A segment of a compact serialization. */
typedef struct {
    const char *s;
    apr_size_t len;
} segment_t;

/* Exactly five '.'-separated segments. */
static int split_compact(const char *compact, apr_size_t len, segment_t seg[5])
{
    const char *pos = compact, *end = compact + len;
    int i;

    for (i = 0; i < 5; i++) {
        const char *dot = memchr(pos, '.', (apr_size_t)(end - pos));
        if ((i < 4) != (dot != NULL))
            return 0;
        seg[i].s = pos;
        seg[i].len = dot ? (apr_size_t)(dot - pos) : (apr_size_t)(end - pos);
        pos = dot ? dot + 1 : end;
    }
    return 1;
}

/* The protected header must be a JSON object with exactly the members
 * "alg":"dir" and "enc":"A256GCM" (no zip, crit, kid, jwk, ...). */
static int header_ok(const unsigned char *json, apr_size_t len)
{
    json_error_t jerr;
    json_t *hdr = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES,
                             &jerr);
    json_t *alg, *enc;
    int ok;

    if (hdr == NULL)
        return 0;
    alg = json_object_get(hdr, "alg");
    enc = json_object_get(hdr, "enc");
    ok = json_is_object(hdr) && json_object_size(hdr) == 2
         && json_is_string(alg) && json_is_string(enc)
         && strcmp(json_string_value(alg), "dir") == 0
         && json_string_length(alg) == 3
         && strcmp(json_string_value(enc), "A256GCM") == 0
         && json_string_length(enc) == 7;
    json_decref(hdr);
    return ok;
}

static int segment_decodes(apr_pool_t *tmp, const segment_t *seg,
                           unsigned char **out, apr_size_t *outlen)
{
    return nsso_b64url_decode(tmp, seg->s, seg->len, out, outlen) == APR_SUCCESS;
}

/* Everything that can be checked without a key. */
static int structure_ok(apr_pool_t *tmp, const char *compact, apr_size_t len)
{
    segment_t seg[5];
    unsigned char *buf;
    apr_size_t n;

    if (!split_compact(compact, len, seg))
        return 0;
    if (!segment_decodes(tmp, &seg[0], &buf, &n) || !header_ok(buf, n))
        return 0;
    if (seg[1].len != 0) /* "dir": no encrypted key */
        return 0;
    if (!segment_decodes(tmp, &seg[2], &buf, &n) || n != NSSO_GCM_IV_LEN)
        return 0;
    if (!segment_decodes(tmp, &seg[3], &buf, &n))
        return 0;
    if (!segment_decodes(tmp, &seg[4], &buf, &n) || n != NSSO_GCM_TAG_LEN)
        return 0;
    return 1;
}

/* cjose's own view of the protected header must agree with ours. */
static int cjose_header_agrees(cjose_jwe_t *jwe)
{
    cjose_err cerr;
    cjose_header_t *hdr = cjose_jwe_get_protected(jwe);
    const char *alg, *enc;

    if (hdr == NULL)
        return 0;
    alg = cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr);
    enc = cjose_header_get(hdr, CJOSE_HDR_ENC, &cerr);
    return alg != NULL && enc != NULL && strcmp(alg, CJOSE_HDR_ALG_DIR) == 0
           && strcmp(enc, CJOSE_HDR_ENC_A256GCM) == 0;
}

/* Decrypt with one key; on success the plaintext is copied into p. */
static int try_key(apr_pool_t *p, const char *compact, apr_size_t len,
                   const cjose_jwk_t *jwk, char **plaintext, apr_size_t *ptlen)
{
    cjose_err cerr;
    cjose_jwe_t *jwe = cjose_jwe_import(compact, len, &cerr);
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    int ok = 0;

    if (jwe != NULL && cjose_header_agrees(jwe))
        raw = cjose_jwe_decrypt(jwe, jwk, &rawlen, &cerr);
    if (raw != NULL) {
        *plaintext = apr_pstrmemdup(p, (const char *)raw, rawlen);
        *ptlen = rawlen;
        OPENSSL_cleanse(raw, rawlen);
        cjose_get_dealloc()(raw);
        ok = 1;
    }
    cjose_jwe_release(jwe);
    return ok;
}

apr_status_t nsso_crypto_open(const nsso_crypto *c, apr_pool_t *p,
                              const char *compact, char **plaintext,
                              apr_size_t *len, const char **err)
{
    const char *dummy;
    apr_pool_t *tmp = NULL;
    apr_size_t clen, ptlen = 0;
    int i, structured;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (plaintext == NULL)
        return APR_EGENERAL;
    *plaintext = NULL;
    if (len != NULL)
        *len = 0;
    if (c == NULL || compact == NULL) {
        *err = "invalid arguments";
        return APR_EGENERAL;
    }
    clen = strlen(compact);
    if (clen > NSSO_CRYPTO_MAX_COMPACT) {
        *err = "encrypted value too large";
        return APR_EGENERAL;
    }
    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        *err = "out of memory";
        return APR_EGENERAL;
    }
    structured = structure_ok(tmp, compact, clen);
    apr_pool_destroy(tmp);
    if (!structured) {
        *err = "malformed or unsupported encrypted value";
        return APR_EGENERAL;
    }
    for (i = 0; i < c->nkeys; i++) {
        if (try_key(p, compact, clen, c->jwk[i], plaintext, &ptlen)) {
            if (len != NULL)
                *len = ptlen;
            return APR_SUCCESS;
        }
    }
    *err = "decryption failed";
    return APR_EGENERAL;
}

/* ---- MAC ----------------------------------------------------------------- */

void nsso_crypto_mac(const nsso_crypto *c, const void *data, apr_size_t len,
                     unsigned char out[32])
{
    static const unsigned char empty = 0;
    unsigned int outlen = 0;

    /* No way to report failure: a MAC that silently is not one would be
     * worse than stopping, and both cases are caller or libcrypto bugs. */
    if (c == NULL || c->nkeys < 1 || (data == NULL && len > 0))
        abort();
    if (HMAC(EVP_sha256(), c->mac_key, (int)sizeof(c->mac_key),
             data ? (const unsigned char *)data : &empty, len, out,
             &outlen) == NULL
        || outlen != 32)
        abort();
}
