/* seedgen.c - writes the seeds that need the fixed keys or the module's own
 * encoders: sealed state cookies and JWE values (corpus/state,
 * corpus/crypto_open), signed or forged tokens (corpus/jwt_verify), the
 * fixed JWKS (corpus/jwks) and binary session records (corpus/session).
 * Every other seed is a plain file kept in git. Run it again only when a
 * key, the clock (NSSO_FUZZ_NOW) or a wire format changes:
 *     tests/fuzz/build && tests/fuzz/out/seedgen tests/fuzz/corpus
 * (tests/fuzz/build makes it alongside the targets). Files are named
 * gen-<what>, so regenerated seeds replace the old ones. */
#include "fuzz_common.h"
#include "fuzz_jose.h"
#include "fuzz_keys.h"
#include "session.h"
#include "state.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <openssl/hmac.h>

static const char *outdir;
static apr_pool_t *pool;

static void put(const char *target, const char *name, const char *data, size_t len)
{
    char *dir = apr_pstrcat(pool, outdir, "/", target, NULL);
    char *path = apr_pstrcat(pool, dir, "/gen-", name, NULL);
    FILE *f;

    if ((mkdir(outdir, 0755) != 0 && errno != EEXIST)
        || (mkdir(dir, 0755) != 0 && errno != EEXIST)) {
        perror(dir);
        exit(1);
    }

    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void puts0(const char *target, const char *name, const char *s)
{
    if (s == NULL) {
        fprintf(stderr, "seedgen: no value for %s/%s\n", target, name);
        exit(1);
    }
    put(target, name, s, strlen(s));
}

static char *b64(const char *s)
{
    return nsso_b64url_encode(pool, (const unsigned char *)s, strlen(s));
}

static char *seal(const char *json)
{
    char *v = NULL;
    const char *err = NULL;

    if (nsso_crypto_seal(nsso_fuzz_crypto(), pool, json, strlen(json), &v, &err)
            != APR_SUCCESS) {
        fprintf(stderr, "seedgen: seal: %s\n", err);
        exit(1);
    }
    return v;
}

/* Sealed with the second ("previous") passphrase only. */
static char *seal_previous(const char *json)
{
    const char *pass[1] = { NSSO_FUZZ_PASS2 }, *err = NULL;
    nsso_crypto *c = NULL;
    char *v = NULL;

    if (nsso_crypto_create(pool, pass, 1, &c, &err) != APR_SUCCESS
        || nsso_crypto_seal(c, pool, json, strlen(json), &v, &err) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: seal_previous: %s\n", err);
        exit(1);
    }
    return v;
}

static char *state_json(const char *url, const char *method, apr_int64_t created_sec)
{
    /* (APR's formatter has no %lld) */
    return apr_psprintf(pool,
        "{\"s\":\"q3JkYV9zdGF0ZV92YWx1ZQ\",\"u\":\"%s\",\"m\":\"%s\","
        "\"v\":\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\",\"t\":%" APR_INT64_T_FMT "}",
        url, method, created_sec * APR_INT64_C(1000000));
}

static void state_seeds(void)
{
    const apr_int64_t now = NSSO_FUZZ_NOW;
    nsso_state_t *st = NULL;
    char *v = NULL;
    const char *err = NULL;

    if (nsso_state_new(pool, "/prisoner/A1234BC/case-notes?page=2", "GET",
                       apr_time_from_sec(now - 20), &st) != APR_SUCCESS
        || nsso_state_encode(pool, nsso_fuzz_crypto(), st, &v, &err) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: state: %s\n", err ? err : "new failed");
        exit(1);
    }
    puts0("state", "fresh", v);
    st->realm = "R3alm-Id_42";
    if (nsso_state_encode(pool, nsso_fuzz_crypto(), st, &v, &err) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: state: %s\n", err);
        exit(1);
    }
    puts0("state", "realm", v);
    puts0("state", "post", seal(state_json("/api/submit", "POST", now - 5)));
    puts0("state", "root", seal(state_json("/", "GET", now)));
    puts0("state", "expired", seal(state_json("/a", "GET", now - 301)));
    puts0("state", "future", seal(state_json("/a", "GET", now + 61)));
    puts0("state", "skew-ok", seal(state_json("/a", "GET", now + 59)));
    puts0("state", "previous-key", seal_previous(state_json("/b?x=1", "GET", now - 1)));
    puts0("state", "scheme-relative", seal(state_json("//evil.example/", "GET", now)));
    puts0("state", "backslash", seal(state_json("/\\\\evil.example", "GET", now)));
    puts0("state", "lower-method", seal(state_json("/a", "get", now)));
    puts0("state", "extra-member",
          seal("{\"s\":\"q3JkYV9zdGF0ZV92YWx1ZQ\",\"u\":\"/\",\"m\":\"GET\","
               "\"v\":\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\","
               "\"t\":1700000000000000,\"x\":1}"));
    puts0("state", "dup-member",
          seal("{\"s\":\"q3JkYV9zdGF0ZV92YWx1ZQ\",\"u\":\"/\",\"u\":\"//e\",\"m\":\"GET\","
               "\"v\":\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\"}"));
    puts0("state", "not-json", seal("state=abc&u=/"));
    puts0("state", "t-float", seal("{\"s\":\"q3JkYV9zdGF0ZV92YWx1ZQ\",\"u\":\"/\",\"m\":\"GET\","
                                   "\"v\":\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\","
                                   "\"t\":1.7e15}"));
}

static void crypto_seeds(void)
{
    static const char bin[] = { 0x00, 0x01, (char)0xff, 0x7f, 0x00, 'x' };
    char *v = NULL;
    const char *err = NULL;
    const char *hdr_b64;

    puts0("crypto_open", "empty", seal(""));
    puts0("crypto_open", "text", seal("s:0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"));
    puts0("crypto_open", "session-json",
          seal("{\"v\":1,\"u\":\"ITAG_USER\",\"at\":\"x\",\"r\":[],\"sc\":[],"
               "\"exp\":1,\"c\":1,\"la\":1,\"va\":0,\"cc\":false}"));
    puts0("crypto_open", "previous-key", seal_previous("rollover"));
    if (nsso_crypto_seal(nsso_fuzz_crypto(), pool, bin, sizeof(bin), &v, &err)
            != APR_SUCCESS)
        exit(1);
    puts0("crypto_open", "binary", v);
    /* well-formed but refused headers, with a real-looking body */
    v = seal("payload");
    hdr_b64 = strchr(v, '.');
    puts0("crypto_open", "hdr-zip",
          apr_pstrcat(pool, b64("{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}"),
                      hdr_b64, NULL));
    puts0("crypto_open", "hdr-a128",
          apr_pstrcat(pool, b64("{\"alg\":\"dir\",\"enc\":\"A128GCM\"}"), hdr_b64, NULL));
    puts0("crypto_open", "hdr-rsa",
          apr_pstrcat(pool, b64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}"), hdr_b64, NULL));
    puts0("crypto_open", "hdr-dup",
          apr_pstrcat(pool, b64("{\"alg\":\"dir\",\"alg\":\"dir\",\"enc\":\"A256GCM\"}"),
                      hdr_b64, NULL));
}

/* A token signed with the public key's PEM as an HMAC-SHA256 secret. */
static char *hs256_with_public_key(const char *payload)
{
    /* the public JWKS text stands in for the PEM: what matters is that the
     * verifier refuses HS256 outright, whatever the secret */
    const char *secret = nsso_fuzz_jwks_json();
    char *input = apr_pstrcat(pool, b64("{\"alg\":\"HS256\",\"kid\":\"fuzz-key-1\"}"),
                              ".", b64(payload), NULL);
    unsigned char mac[32];
    unsigned int maclen = 0;

    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input,
         strlen(input), mac, &maclen);
    return apr_pstrcat(pool, input, ".", nsso_b64url_encode(pool, mac, maclen), NULL);
}

static char *signed_token(int key, const char *hdr, const char *payload)
{
    return nsso_fuzz_sign(pool, key, hdr, (const uint8_t *)payload, strlen(payload));
}

#define ISS "\"iss\":\"" NSSO_FUZZ_ISS "\""

static void jwt_seeds(void)
{
    static const char user[] =
        "{\"sub\":\"ITAG_USER\",\"user_name\":\"ITAG_USER\",\"auth_source\":\"nomis\","
        ISS ",\"authorities\":[\"ROLE_PRISON\",\"ROLE_GLOBAL_SEARCH\","
        "\"ROLE_KW_MIGRATION\"],\"client_id\":\"prisonstaffhubclient\","
        "\"user_uuid\":\"2a7f8b5c-3d4e-4f60-8a1b-9c0d1e2f3a4b\","
        "\"grant_type\":\"authorization_code\",\"user_id\":\"485828\","
        "\"scope\":[\"read\",\"write\"],\"name\":\"Itag User\",\"exp\":1700003600,"
        "\"iat\":1699999990,\"jti\":\"dGhpcyBpcyBhIGp0aQ\",\"passed_mfa\":false}";
    static const char service[] =
        "{\"sub\":\"manage-a-workforce-ui\"," ISS ",\"authorities\":"
        "[\"ROLE_MANAGE_A_WORKFORCE\"],\"client_id\":\"manage-a-workforce-ui\","
        "\"grant_type\":\"client_credentials\",\"scope\":\"read write\","
        "\"exp\":1700001200,\"jti\":\"c2VydmljZQ\"}";
    static const char expired[] =
        "{\"sub\":\"X\",\"user_name\":\"X\"," ISS ",\"exp\":1699999000}";
    static const char nbf_future[] =
        "{\"sub\":\"X\",\"user_name\":\"X\"," ISS ",\"exp\":1700009000,\"nbf\":1700000500}";
    static const char wrong_iss[] =
        "{\"sub\":\"X\",\"user_name\":\"X\",\"iss\":\"https://evil.example/issuer\","
        "\"exp\":1700009000}";
    static const char exp_string[] =
        "{\"sub\":\"X\",\"user_name\":\"X\"," ISS ",\"exp\":\"1700009000\"}";
    static const char delius[] =
        "{\"sub\":\"JBLOGGS\",\"user_name\":\"JBLOGGS\",\"auth_source\":\"delius\","
        ISS ",\"authorities\":[\"ROLE_PROBATION\"],\"client_id\":\"mpop\","
        "\"user_id\":123456789,\"exp\":1700003600,\"passed_mfa\":true}";
    char *tok = signed_token(1, NSSO_FUZZ_HDR1, user), *dot;

    puts0("jwt_verify", "user", tok);
    puts0("jwt_verify", "service", signed_token(1, NSSO_FUZZ_HDR1, service));
    puts0("jwt_verify", "delius-key2",
          signed_token(2, "{\"alg\":\"RS256\",\"kid\":\"fuzz-key-2\"}", delius));
    puts0("jwt_verify", "ps256-key2",
          signed_token(2, "{\"alg\":\"PS256\",\"kid\":\"fuzz-key-2\"}", user));
    puts0("jwt_verify", "rs512-key2",
          signed_token(2, "{\"alg\":\"RS512\",\"kid\":\"fuzz-key-2\"}", user));
    puts0("jwt_verify", "ps256-key1", signed_token(1,
          "{\"alg\":\"PS256\",\"kid\":\"fuzz-key-1\"}", user));
    puts0("jwt_verify", "expired", signed_token(1, NSSO_FUZZ_HDR1, expired));
    puts0("jwt_verify", "nbf-future", signed_token(1, NSSO_FUZZ_HDR1, nbf_future));
    puts0("jwt_verify", "wrong-iss", signed_token(1, NSSO_FUZZ_HDR1, wrong_iss));
    puts0("jwt_verify", "exp-string", signed_token(1, NSSO_FUZZ_HDR1, exp_string));
    puts0("jwt_verify", "no-kid", signed_token(1, "{\"alg\":\"RS256\"}", user));
    puts0("jwt_verify", "unknown-kid",
          signed_token(1, "{\"alg\":\"RS256\",\"kid\":\"rotated-key-9\"}", user));
    puts0("jwt_verify", "wrong-key",
          signed_token(2, "{\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\"}", user));
    puts0("jwt_verify", "kid-path", signed_token(1,
          "{\"alg\":\"RS256\",\"kid\":\"../../etc/passwd' OR '1'='1\"}", user));
    puts0("jwt_verify", "crit", signed_token(1,
          "{\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\",\"crit\":[\"exp\"]}", user));
    puts0("jwt_verify", "alg-none", apr_pstrcat(pool,
          b64("{\"alg\":\"none\",\"kid\":\"fuzz-key-1\"}"), ".", b64(user), ".", NULL));
    puts0("jwt_verify", "alg-none-sig", apr_pstrcat(pool,
          b64("{\"alg\":\"none\"}"), ".", b64(user), ".AA", NULL));
    puts0("jwt_verify", "hs256-pubkey", hs256_with_public_key(user));
    /* the signature of the user token on a tampered payload */
    dot = strrchr(tok, '.');
    puts0("jwt_verify", "tampered", apr_pstrcat(pool,
          b64(NSSO_FUZZ_HDR1), ".", b64("{\"sub\":\"ADMIN\",\"user_name\":\"ADMIN\","
          ISS ",\"exp\":1700003600,\"authorities\":[\"ROLE_ADMIN\"]}"), dot, NULL));
    /* the same header spelled differently (dup alg) */
    puts0("jwt_verify", "dup-alg", apr_pstrcat(pool,
          b64("{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"fuzz-key-1\"}"),
          strchr(tok, '.'), NULL));
    puts0("jwt_verify", "jwe-shaped", "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC");

    puts0("jwks", "fixed", nsso_fuzz_jwks_json());
}

static char *record(const nsso_session_t *s, apr_size_t *len)
{
    char *rec = NULL;

    if (nsso_session_serialize(pool, s, &rec, len) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: session_serialize failed\n");
        exit(1);
    }
    return rec;
}

static apr_array_header_t *list(const char *a, const char *b)
{
    apr_array_header_t *l = apr_array_make(pool, 2, sizeof(const char *));

    if (a)
        APR_ARRAY_PUSH(l, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(l, const char *) = b;
    return l;
}

/* Where a record of s keeps client_credentials: the one byte that differs
 * between s serialised with it 0 and with it 1. */
static apr_size_t cc_offset(const nsso_session_t *s)
{
    nsso_session_t a = *s, b = *s;
    apr_size_t la, lb, i;
    char *ra, *rb;

    a.client_credentials = 0;
    b.client_credentials = 1;
    ra = record(&a, &la);
    rb = record(&b, &lb);
    for (i = 0; i < la && ra[i] == rb[i]; i++)
        ;
    return i;
}

static void session_seeds(void)
{
    static const char at[] = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhtcHBzLWF1dGgif"
                             "Q.eyJzdWIiOiJJVEFHX1VTRVIifQ.c2ln";
    nsso_session_t s, *v;
    apr_size_t len;
    char *rec, *bad;

    memset(&s, 0, sizeof(s));
    s.user = "ITAG_USER";
    s.name = "Itag User";
    s.auth_source = "nomis";
    s.client_id = "prisonstaffhubclient";
    s.user_id = "485828";
    s.jti = "dGhpcyBpcyBhIGp0aQ";
    s.caseload = "LEI";
    s.roles = list("ROLE_PRISON", "ROLE_GLOBAL_SEARCH");
    s.scope = list("read", "write");
    s.access_token = at;
    s.refresh_token = at;
    s.expires = NSSO_FUZZ_NOW + 3600;
    s.created = NSSO_FUZZ_NOW;
    s.last_access = NSSO_FUZZ_NOW + 100;
    s.verified_at = NSSO_FUZZ_NOW;
    s.realm = "abcdefghijk";
    s.user_uuid = "6a0a7d5e-3c1b-4f7a-9a52-0c6f1a9d2b41";
    s.caseloads = list("LEI", "MDI");
    s.claims = list("establishment", "LEI");
    rec = record(&s, &len);
    put("session", "user", rec, len);
    /* damaged copies of it */
    put("session", "truncated", rec, len - 3);
    bad = apr_pmemdup(pool, rec, len + 1);
    bad[len] = 'x';
    put("session", "trailing-byte", bad, len + 1);
    bad = apr_pmemdup(pool, rec, len);
    bad[0] = 1;
    put("session", "version-1", bad, len);
    bad = apr_pmemdup(pool, rec, len);
    memset(bad + 1, 0xff, 3);                 /* user length 0xffffff.. */
    put("session", "length-lie", bad, len);
    bad = apr_pmemdup(pool, rec, len);
    bad[cc_offset(&s)] = 2;                   /* client_credentials 2 */
    put("session", "cc-2", bad, len);
    bad = apr_pmemdup(pool, rec, len);
    /* the claims list, last: count 2, "establishment" (4 + 13 + 1), "LEI"
     * (4 + 3 + 1); an odd count of 3 */
    bad[len - 26] = 3;
    put("session", "claims-odd", bad, len);
    bad = apr_pmemdup(pool, rec, len);
    bad[5 + 2] = '\0';                       /* NUL inside the user name */
    put("session", "nul-in-user", bad, len);
    bad = apr_pmemdup(pool, rec, len);
    bad[5 + 9] = 'x';                         /* the user name's terminator */
    put("session", "unterminated", bad, len);

    /* the bearer cache keeps what the token says, not the token */
    v = apr_pmemdup(pool, &s, sizeof(s));
    v->access_token = "";
    v->refresh_token = NULL;
    v->caseload = NULL;
    v->client_credentials = 1;
    rec = record(v, &len);
    put("session", "bearer-cache", rec, len);
    /* the smallest: no optional string, empty lists */
    memset(v, 0, sizeof(*v));
    v->user = "u";
    v->access_token = "t";
    v->roles = list(NULL, NULL);
    v->scope = list(NULL, NULL);
    v->expires = -1;
    rec = record(v, &len);
    put("session", "minimal", rec, len);
    v->user = "";
    rec = record(v, &len);
    put("session", "empty-user", rec, len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen CORPUS_DIR\n");
        return 2;
    }
    outdir = argv[1];
    pool = nsso_fuzz_pool();
    state_seeds();
    crypto_seeds();
    jwt_seeds();
    session_seeds();
    apr_pool_destroy(pool);
    return 0;
}
