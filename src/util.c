/* util.c - owns the small pure helpers every concern shares: base64url,
 * randomness, constant-time string comparison, SHA-256 / PKCE, log
 * redaction, the "literal | env:NAME | file:/path" secret syntax, URL
 * (query component) encoding, decoding and parameter lookup, and the two
 * validators of local paths and absolute http(s) URLs. */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_atomic.h>
#include <apr_time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

/* Longest secret file we read (only its first line is used). */
#define NSSO_SECRET_FILE_MAX 65536
/* Secrets shorter than this are redacted without any prefix. */
#define NSSO_REDACT_MIN_PREFIXED 24
#define NSSO_REDACT_PREFIX 6

/* ---- base64url ----------------------------------------------------------- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *nsso_b64url_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    apr_size_t i, o = 0;
    char *out;

    if (buf == NULL && len > 0)
        return NULL;
    if (len > ((apr_size_t)-1 / 4) * 3 - 3)
        return NULL;
    out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = ((unsigned long)buf[i] << 16)
                          | ((unsigned long)buf[i + 1] << 8) | buf[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)buf[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    }
    else if (len - i == 2) {
        unsigned long v = ((unsigned long)buf[i] << 16)
                          | ((unsigned long)buf[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

/* 0..63 for an alphabet character, -1 otherwise. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

apr_status_t nsso_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                                unsigned char **out, apr_size_t *outlen)
{
    apr_size_t i, o = 0, rem = inlen % 4;
    unsigned long acc = 0;
    int bits = 0;
    unsigned char *buf;

    if (out == NULL || outlen == NULL || (in == NULL && inlen > 0))
        return APR_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (rem == 1)
        return APR_EINVAL;
    buf = apr_palloc(p, inlen / 4 * 3 + (rem ? rem - 1 : 0) + 1);
    for (i = 0; i < inlen; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return APR_EINVAL;
        acc = ((acc << 6) | (unsigned long)v) & 0xFFFFFFUL;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)((acc >> bits) & 0xFF);
        }
    }
    /* Leftover bits must be zero, or two encodings would decode the same. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        return APR_EINVAL;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return APR_SUCCESS;
}

/* ---- randomness ---------------------------------------------------------- */

apr_status_t nsso_random_bytes(unsigned char *buf, apr_size_t len)
{
    if (len == 0)
        return APR_SUCCESS;
    if (buf == NULL)
        return APR_EINVAL;
    return apr_generate_random_bytes(buf, len);
}

char *nsso_random_b64url(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char *raw;
    char *enc;

    if (nbytes == 0 || nbytes > 65536)
        return NULL;
    raw = apr_palloc(p, nbytes);
    if (nsso_random_bytes(raw, nbytes) != APR_SUCCESS) {
        OPENSSL_cleanse(raw, nbytes);
        return NULL;
    }
    enc = nsso_b64url_encode(p, raw, nbytes);
    OPENSSL_cleanse(raw, nbytes);
    return enc;
}

/* ---- comparison and hashing ----------------------------------------------- */

int nsso_ct_streq(const char *a, const char *b)
{
    const unsigned char *ua = (const unsigned char *)a;
    const unsigned char *ub = (const unsigned char *)b;
    unsigned int diff = 0;
    apr_size_t i, j = 0;

    if (a == NULL || b == NULL)
        return 0;
    /* Walk b; j follows a but stops on its terminating NUL, so a is never
     * read past its end and the loop length is that of b alone. */
    for (i = 0; ub[i] != '\0'; i++) {
        unsigned char ca = ua[j];
        diff |= (unsigned int)(ca ^ ub[i]);
        j += (ca != 0);
    }
    diff |= ua[j]; /* a must end exactly where b does */
    return diff == 0;
}

void nsso_sha256(const void *data, apr_size_t len, unsigned char out[32])
{
    static const unsigned char empty = 0;

    if (data == NULL)
        data = &empty;
    /* The default provider's SHA-256 cannot fail short of a broken
     * libcrypto; a digest that silently is not one would be worse than
     * stopping, so stop. */
    if (SHA256(data, len, out) == NULL)
        abort();
}

char *nsso_pkce_challenge(apr_pool_t *p, const char *verifier)
{
    unsigned char md[32];

    if (verifier == NULL)
        return NULL;
    nsso_sha256(verifier, strlen(verifier), md);
    return nsso_b64url_encode(p, md, sizeof(md));
}

/* ---- redaction ------------------------------------------------------------ */

const char *nsso_redact(apr_pool_t *p, const char *secret)
{
    char prefix[NSSO_REDACT_PREFIX + 1];
    apr_size_t len, i;

    if (secret == NULL)
        return "(null)";
    len = strlen(secret);
    if (len < NSSO_REDACT_MIN_PREFIXED)
        return apr_psprintf(p, "...(%" APR_SIZE_T_FMT " chars)", len);
    for (i = 0; i < NSSO_REDACT_PREFIX; i++) {
        unsigned char c = (unsigned char)secret[i];
        prefix[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    prefix[NSSO_REDACT_PREFIX] = '\0';
    return apr_psprintf(p, "%s...(%" APR_SIZE_T_FMT " chars)", prefix, len);
}

/* ---- secrets -------------------------------------------------------------- */

static const char *secret_from_env(apr_pool_t *p, const char *name,
                                   const char **err)
{
    const char *v;

    if (*name == '\0') {
        *err = "env: needs a variable name";
        return NULL;
    }
    v = getenv(name);
    if (v == NULL) {
        *err = apr_psprintf(p, "environment variable %s is not set", name);
        return NULL;
    }
    if (*v == '\0') {
        *err = apr_psprintf(p, "environment variable %s is empty", name);
        return NULL;
    }
    return apr_pstrdup(p, v);
}

/* The first line of buf[0..len) with trailing CR/LF removed; NULL when the
 * line holds a NUL byte (the secret would be silently truncated). */
static char *first_line(apr_pool_t *p, const char *buf, apr_size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    apr_size_t n = nl ? (apr_size_t)(nl - buf) : len;

    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        n--;
    if (memchr(buf, '\0', n) != NULL)
        return NULL;
    return apr_pstrmemdup(p, buf, n);
}

static const char *secret_from_file(apr_pool_t *p, const char *path,
                                    const char **err)
{
    apr_file_t *f = NULL;
    apr_size_t got = 0;
    apr_status_t rv;
    char *buf, *line;

    if (*path == '\0') {
        *err = "file: needs a path";
        return NULL;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot open secret file %s: %pm", path, &rv);
        return NULL;
    }
    buf = apr_palloc(p, NSSO_SECRET_FILE_MAX);
    rv = apr_file_read_full(f, buf, NSSO_SECRET_FILE_MAX, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        OPENSSL_cleanse(buf, got);
        *err = apr_psprintf(p, "cannot read secret file %s: %pm", path, &rv);
        return NULL;
    }
    if (got == NSSO_SECRET_FILE_MAX && memchr(buf, '\n', got) == NULL) {
        OPENSSL_cleanse(buf, got);
        *err = apr_psprintf(p, "secret file %s: first line too long", path);
        return NULL;
    }
    line = first_line(p, buf, got);
    OPENSSL_cleanse(buf, got);
    if (line == NULL) {
        *err = apr_psprintf(p, "secret file %s contains a NUL byte", path);
        return NULL;
    }
    if (*line == '\0') {
        *err = apr_psprintf(p, "secret file %s is empty", path);
        return NULL;
    }
    return line;
}

const char *nsso_resolve_secret(apr_pool_t *p, const char *spec, const char **err)
{
    const char *dummy;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (spec == NULL || *spec == '\0') {
        *err = "empty secret";
        return NULL;
    }
    if (strncmp(spec, "env:", 4) == 0)
        return secret_from_env(p, spec + 4, err);
    if (strncmp(spec, "file:", 5) == 0)
        return secret_from_file(p, spec + 5, err);
    return apr_pstrdup(p, spec);
}

/* ---- URL encoding --------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}

char *nsso_url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t len, o = 0;
    const unsigned char *u;
    char *out;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    out = apr_palloc(p, len * 3 + 1);
    for (u = (const unsigned char *)s; *u; u++) {
        if (is_unreserved(*u)) {
            out[o++] = (char)*u;
        }
        else {
            out[o++] = '%';
            out[o++] = hex[*u >> 4];
            out[o++] = hex[*u & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len); NULL on a malformed escape or an escaped NUL. */
static char *url_decode_n(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            out[o++] = ' ';
        }
        else if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                return NULL;
            hi = hex_value((unsigned char)s[i + 1]);
            lo = hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[o++] = (char)((hi << 4) | lo);
            i += 2;
        }
        else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

char *nsso_url_decode(apr_pool_t *p, const char *s)
{
    if (s == NULL)
        return NULL;
    return url_decode_n(p, s, strlen(s));
}

const char *nsso_query_param(apr_pool_t *p, const char *query, const char *name,
                             int *dup)
{
    const char *pos, *end, *found = NULL;
    int seen = 0;

    if (dup != NULL)
        *dup = 0;
    if (query == NULL || name == NULL || *name == '\0')
        return NULL;
    end = strchr(query, '#');
    if (end == NULL)
        end = query + strlen(query);
    for (pos = query; pos < end;) {
        const char *amp = memchr(pos, '&', (apr_size_t)(end - pos));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(pos, '=', (apr_size_t)(stop - pos));
        const char *kend = eq ? eq : stop;
        char *key = url_decode_n(p, pos, (apr_size_t)(kend - pos));

        /* Names compare after decoding, so "st%61te" counts as "state". */
        if (kend > pos && key != NULL && strcmp(key, name) == 0) {
            if (seen++ == 0) {
                found = eq ? url_decode_n(p, eq + 1, (apr_size_t)(stop - eq - 1))
                           : apr_pstrdup(p, "");
            }
        }
        pos = amp ? amp + 1 : end;
    }
    if (dup != NULL && seen > 1)
        *dup = 1;
    return found;
}

/* ---- local paths and http(s) URLs ---------------------------------------- */

/* Space and control bytes: browsers drop or mangle them in URLs, and in a
 * header they split lines. */
static int url_bad_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

int nsso_is_local_path(const char *s, unsigned flags)
{
    const char *q;

    if (!s || s[0] != '/' || s[1] == '/' || s[1] == '\\')
        return 0;
    for (q = s; *q; q++) {
        if (url_bad_byte((unsigned char)*q))
            return 0;
        if (!(flags & NSSO_PATH_QUERY) && (*q == '?' || *q == '#'))
            return 0;
    }
    return 1;
}

const char *nsso_http_url_problem(apr_pool_t *p, const char *s, unsigned flags)
{
    apr_uri_t u;
    const char *q;

    if (!s)
        return "is not a URL";
    for (q = s; *q; q++)
        if (url_bad_byte((unsigned char)*q) || *q == '\\')
            return "contains a space, a control character or '\\'";
    if (apr_uri_parse(p, s, &u) != APR_SUCCESS || !u.scheme || !u.hostname || !*u.hostname)
        return "is not an absolute URL with a host, such as https://sign-in.hmpps.service.justice.gov.uk/auth";
    if (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http"))
        return "is not an http:// or https:// URL";
    if (u.user || u.password)
        return "carries a user name or password";
    if ((flags & NSSO_URL_BASE) && (u.query || u.fragment))
        return "carries a query or fragment";
    if ((flags & NSSO_URL_PATH) && !u.path)
        return "has no path";
    return NULL;
}

int nsso_rate_due(apr_uint32_t *at, apr_uint32_t interval)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(at);

    if (last != 0 && now - last < interval)
        return 0;
    return apr_atomic_cas32(at, now ? now : 1, last) == last;
}
