/* session.c - nsso_session_t: built from verified token claims (which say
 * whether a member of staff or a client is calling), stored as a compact
 * binary record. The record is what the session store holds, so
 * parsing is strict: anything unexpected fails rather than yielding a half
 * session. */
#include "session.h"
#include "store.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <string.h>
#include <strings.h>

/* Version 3 ends each string with a NUL so a parse can point into the record
 * instead of copying; version 4 adds the realm and the user a client token
 * was issued for; version 5 the user_uuid, every caseload held and the
 * claims NomisSSOPassClaim passes. Versions 2 (3 without the NULs), 3 and 4
 * are still read, without the fields they lack (a realm check refuses
 * records without a realm). */
#define SESSION_VERSION 5
#define SESSION_VERSION_NO_UUID 4
#define SESSION_VERSION_NO_REALM 3
#define SESSION_VERSION_UNTERMINATED 2

#define MAX_USER_LEN 256

/* A name fit to be REMOTE_USER: no control characters (a CR/LF would split
 * a header a downstream RequestHeader builds from it), bounded length. */
static int user_ok(const char *u)
{
    apr_size_t n = 0;

    for (; u[n]; n++)
        if (apr_iscntrl(u[n]) || n >= MAX_USER_LEN)
            return 0;
    return n > 0;
}

static int present(const char *v)
{
    return v && *v;
}

/* HMPPS Auth lets any client ask for a client_credentials token naming any
 * user (username=X, even auth_source=X), so only a token that carries
 * everything a signed-in user's token always has (user_name, user_id, an
 * auth_source other than none), from a grant other than
 * client_credentials, speaks for a member of staff. */
int nsso_claims_client(const nsso_claims_t *c)
{
    if (c->grant_type && !strcasecmp(c->grant_type, "client_credentials"))
        return 1;
    return !present(c->user_name) || !present(c->user_id) || !present(c->auth_source)
           || !strcasecmp(c->auth_source, "none");
}

static apr_array_header_t *copy_strings(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_array_header_t *out = apr_array_make(p, a ? a->nelts : 1, sizeof(const char *));
    int i;

    for (i = 0; a && i < a->nelts; i++)
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, APR_ARRAY_IDX(a, i, const char *));
    return out;
}

static const char *dup_or_null(apr_pool_t *p, const char *v)
{
    return v ? apr_pstrdup(p, v) : NULL;
}

/* Who the session is: a member of staff by user name (with their name,
 * user id and auth source), or a client by client_id (and, for audit only,
 * the user it names). 0 when the name to use is unusable. */
static int set_identity(apr_pool_t *p, nsso_session_t *s, const nsso_claims_t *c)
{
    if (!nsso_claims_client(c)) {
        if (!user_ok(c->user_name))
            return 0;
        s->user = apr_pstrdup(p, c->user_name);
        s->name = dup_or_null(p, c->name);
        s->auth_source = apr_pstrdup(p, c->auth_source);
        s->user_id = apr_pstrdup(p, c->user_id);
        return 1;
    }
    if (!present(c->client_id) || !user_ok(c->client_id)
        || (present(c->user_name) && !user_ok(c->user_name)))
        return 0;
    s->client_credentials = 1;
    s->user = apr_pstrdup(p, c->client_id);
    s->on_behalf_of = present(c->user_name) ? apr_pstrdup(p, c->user_name) : NULL;
    return 1;
}

nsso_session_t *nsso_session_from_claims(apr_pool_t *p, const nsso_claims_t *claims,
                                         const char *access_token,
                                         const char *refresh_token, apr_int64_t now)
{
    nsso_session_t *s = apr_pcalloc(p, sizeof(*s));

    if (!set_identity(p, s, claims))
        return NULL;
    s->client_id = dup_or_null(p, claims->client_id);
    s->jti = dup_or_null(p, claims->jti);
    s->roles = copy_strings(p, claims->authorities);
    s->scope = copy_strings(p, claims->scope);
    s->access_token = apr_pstrdup(p, access_token);
    s->refresh_token = dup_or_null(p, refresh_token);
    s->user_uuid = dup_or_null(p, claims->user_uuid);
    s->caseloads = apr_array_make(p, 1, sizeof(const char *));
    s->claims = copy_strings(p, claims->picked);
    s->expires = claims->exp;
    s->created = now;
    s->last_access = now;
    s->verified_at = now; /* the token was just issued */
    return s;
}

/* ---- the stored record -------------------------------------------------------
 *
 * A compact binary layout, read on every request (parsing JSON here cost
 * more than everything else the module does per request): a version byte,
 * then each field in a fixed order. Strings are a 32-bit little-endian
 * length (0xffffffff for none), their bytes and a NUL (not counted in the
 * length); integers are 64-bit little-endian; lists are a 32-bit count and
 * that many strings. Parsing checks every length against what is left and
 * accepts only an exact fit. */

#define NO_STRING 0xffffffffu

typedef struct {
    unsigned char *buf;
    apr_size_t len, cap;
    apr_pool_t *p;
} writer;

static void w_bytes(writer *w, const void *data, apr_size_t n)
{
    if (w->len + n > w->cap) {
        apr_size_t cap = w->cap ? w->cap * 2 : 1024;
        unsigned char *nb;
        while (cap < w->len + n)
            cap *= 2;
        nb = apr_palloc(w->p, cap);
        if (w->len)
            memcpy(nb, w->buf, w->len);
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void w_u32(writer *w, apr_uint32_t v)
{
    unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
                           (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
    w_bytes(w, b, 4);
}

static void w_i64(writer *w, apr_int64_t v)
{
    apr_uint64_t u = (apr_uint64_t)v;
    unsigned char b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
    w_bytes(w, b, 8);
}

static void w_str(writer *w, const char *v)
{
    if (!v) {
        w_u32(w, NO_STRING);
        return;
    }
    apr_size_t n = strlen(v);

    w_u32(w, (apr_uint32_t)n);
    w_bytes(w, v, n + 1);
}

static void w_list(writer *w, const apr_array_header_t *a)
{
    int i, n = a ? a->nelts : 0;

    w_u32(w, (apr_uint32_t)n);
    for (i = 0; i < n; i++)
        w_str(w, APR_ARRAY_IDX(a, i, const char *));
}

apr_status_t nsso_session_serialize(apr_pool_t *p, const nsso_session_t *s,
                                    char **out, apr_size_t *len)
{
    writer w = { NULL, 0, 0, p };
    unsigned char version = SESSION_VERSION;

    w_bytes(&w, &version, 1);
    w_str(&w, s->user);
    w_str(&w, s->name);
    w_str(&w, s->auth_source);
    w_str(&w, s->client_id);
    w_str(&w, s->user_id);
    w_str(&w, s->jti);
    w_str(&w, s->caseload);
    w_list(&w, s->roles);
    w_list(&w, s->scope);
    w_str(&w, s->access_token);
    w_str(&w, s->refresh_token);
    w_i64(&w, s->expires);
    w_i64(&w, s->created);
    w_i64(&w, s->last_access);
    w_i64(&w, s->verified_at);
    w_u32(&w, s->client_credentials ? 1 : 0);
    w_str(&w, s->realm);
    w_str(&w, s->on_behalf_of);
    w_str(&w, s->user_uuid);
    w_list(&w, s->caseloads);
    w_list(&w, s->claims);
    *out = (char *)w.buf;
    *len = w.len;
    return APR_SUCCESS;
}

typedef struct {
    const unsigned char *at, *end;
    apr_pool_t *p;
    int terminated; /* version 3: strings end with a NUL */
    int bad;
} reader;

static apr_uint32_t r_u32(reader *r)
{
    apr_uint32_t v;

    if (r->bad || r->end - r->at < 4) {
        r->bad = 1;
        return 0;
    }
    v = (apr_uint32_t)r->at[0] | (apr_uint32_t)r->at[1] << 8
        | (apr_uint32_t)r->at[2] << 16 | (apr_uint32_t)r->at[3] << 24;
    r->at += 4;
    return v;
}

static apr_int64_t r_i64(reader *r)
{
    apr_uint64_t u = 0;
    int i;

    if (r->bad || r->end - r->at < 8) {
        r->bad = 1;
        return 0;
    }
    for (i = 0; i < 8; i++)
        u |= (apr_uint64_t)r->at[i] << (8 * i);
    r->at += 8;
    return (apr_int64_t)u;
}

static const char *r_str(reader *r)
{
    apr_uint32_t n = r_u32(r);
    const char *v;

    if (r->bad || n == NO_STRING)
        return NULL;
    if (r->terminated) {
        /* n + 1 bytes, the last a NUL and no NUL before it: the string can
         * be used where it lies */
        if ((apr_size_t)(r->end - r->at) <= n || r->at[n] != '\0'
            || strlen((const char *)r->at) != n) {
            r->bad = 1;
            return NULL;
        }
        v = (const char *)r->at;
        r->at += n + 1;
        return v;
    }
    if ((apr_size_t)(r->end - r->at) < n || memchr(r->at, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    v = apr_pstrmemdup(r->p, (const char *)r->at, n);
    r->at += n;
    return v;
}

static apr_array_header_t *r_list(reader *r)
{
    apr_uint32_t n = r_u32(r), i;
    apr_array_header_t *a;

    /* each entry takes at least 4 bytes: a count beyond that is a lie */
    if (r->bad || n > (apr_uint32_t)((r->end - r->at) / 4)) {
        r->bad = 1;
        return NULL;
    }
    a = apr_array_make(r->p, (int)n + 1, sizeof(const char *));
    for (i = 0; i < n && !r->bad; i++) {
        const char *v = r_str(r);
        if (!v)
            r->bad = 1;
        else
            APR_ARRAY_PUSH(a, const char *) = v;
    }
    return a;
}

apr_status_t nsso_session_parse(apr_pool_t *p, const char *data, apr_size_t len,
                                nsso_session_t **out, const char **err)
{
    reader rd = { (const unsigned char *)data, (const unsigned char *)data + len, p, 1, 0 };
    nsso_session_t *s;
    apr_uint32_t cc;

    int version;

    if (!data || len < 1
        || (rd.at[0] != SESSION_VERSION && rd.at[0] != SESSION_VERSION_NO_UUID
            && rd.at[0] != SESSION_VERSION_NO_REALM
            && rd.at[0] != SESSION_VERSION_UNTERMINATED)) {
        *err = "session record of an unknown version";
        return APR_EGENERAL;
    }
    version = rd.at[0];
    rd.terminated = version != SESSION_VERSION_UNTERMINATED;
    rd.at++;
    s = apr_pcalloc(p, sizeof(*s));
    s->user = r_str(&rd);
    s->name = r_str(&rd);
    s->auth_source = r_str(&rd);
    s->client_id = r_str(&rd);
    s->user_id = r_str(&rd);
    s->jti = r_str(&rd);
    s->caseload = r_str(&rd);
    s->roles = r_list(&rd);
    s->scope = r_list(&rd);
    s->access_token = r_str(&rd);
    s->refresh_token = r_str(&rd);
    s->expires = r_i64(&rd);
    s->created = r_i64(&rd);
    s->last_access = r_i64(&rd);
    s->verified_at = r_i64(&rd);
    cc = r_u32(&rd);
    if (version >= SESSION_VERSION_NO_UUID) {
        s->realm = r_str(&rd);
        s->on_behalf_of = r_str(&rd);
    }
    if (version >= SESSION_VERSION) {
        s->user_uuid = r_str(&rd);
        s->caseloads = r_list(&rd);
        s->claims = r_list(&rd);
    }
    else {
        s->caseloads = apr_array_make(p, 1, sizeof(const char *));
        s->claims = apr_array_make(p, 1, sizeof(const char *));
    }
    /* claims come in name/value pairs, no more than may be passed */
    if (!rd.bad && (s->claims->nelts % 2 || s->claims->nelts > 2 * NSSO_MAX_PASS_CLAIMS))
        rd.bad = 1;
    if (rd.bad || rd.at != rd.end || !s->user || !*s->user || !s->access_token || cc > 1) {
        *err = "session record is truncated, malformed or incomplete";
        return APR_EGENERAL;
    }
    s->client_credentials = (int)cc;
    *out = s;
    return APR_SUCCESS;
}

const char *nsso_session_claim(const nsso_session_t *s, const char *claim)
{
    int i;

    for (i = 0; s->claims && i + 1 < s->claims->nelts; i += 2)
        if (!strcmp(APR_ARRAY_IDX(s->claims, i, const char *), claim))
            return APR_ARRAY_IDX(s->claims, i + 1, const char *);
    return NULL;
}

/* ---- ids ------------------------------------------------------------------ */

/* base64url's alphabet (the id is checked on every request) */
static const unsigned char b64url_char[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['_'] = 1,
};

/* Every cookie-carrying request checks its id: the length first (so the
 * loop reads only the id's bytes), then every byte without a branch. */
int nsso_session_id_ok(const char *id)
{
    unsigned char all = 1;
    int i;

    if (!id || strnlen(id, NSSO_SESSION_ID_LEN + 1) != NSSO_SESSION_ID_LEN)
        return 0;
    for (i = 0; i < NSSO_SESSION_ID_LEN; i++)
        all &= b64url_char[(unsigned char)id[i]];
    return all;
}

const char *nsso_session_id_new(apr_pool_t *p)
{
    return nsso_random_b64url(p, NSSO_SESSION_ID_BYTES);
}

const char *nsso_session_key(apr_pool_t *p, const char *realm, const char *id)
{
    return nsso_store_key(p, NSSO_KEY_SESSION, realm, id);
}

int nsso_session_realm_ok(const nsso_session_t *s, const char *realm)
{
    return s->realm && realm && !strcmp(s->realm, realm);
}
