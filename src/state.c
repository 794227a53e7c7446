/* state.c - owns the login-state codec: creating a fresh state (random
 * `state` and PKCE verifier), serialising it as JSON {"s","u","m","v","t"}
 * (and "r", the realm) sealed with nsso_crypto, and opening, type-checking,
 * realm-checking and age-checking it again at the callback. Every field is validated both ways, so a value that
 * encodes always decodes and a decoded value is always sane. */
#include "state.h"
#include "realm.h"
#include "util.h"

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#define NSSO_STATE_BYTES 16     /* 128-bit state  -> 22 chars */
#define NSSO_VERIFIER_BYTES 32  /* 256-bit verifier -> 43 chars */
#define NSSO_STATE_MIN 22
#define NSSO_STATE_MAX 128
#define NSSO_VERIFIER_MIN 43
#define NSSO_VERIFIER_MAX 128
#define NSSO_METHOD_MAX 32
#define NSSO_RETURN_URL_MAX 8192
/* How far in the future a state's creation time may be (clock skew). */
#define NSSO_STATE_FUTURE_SKEW apr_time_from_sec(60)

/* ---- field validation ---------------------------------------------------- */

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int b64url_token_ok(const char *s, apr_size_t min, apr_size_t max)
{
    apr_size_t n;

    if (s == NULL)
        return 0;
    for (n = 0; s[n] != '\0'; n++) {
        if (n >= max || !b64url_char((unsigned char)s[n]))
            return 0;
    }
    return n >= min;
}

/* Upper-case method token: A-Z first, then A-Z, '-' or '_'. */
static int method_ok(const char *s)
{
    apr_size_t n;

    if (s == NULL || !(s[0] >= 'A' && s[0] <= 'Z'))
        return 0;
    for (n = 0; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= NSSO_METHOD_MAX
            || !((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* A same-origin path: "/" not followed by '/' or '\' (both make browsers
 * leave the host), printable ASCII only - browsers silently drop TAB, CR
 * and LF from URLs, so "/\t/evil" would become "//evil". */
static int return_url_ok(const char *s)
{
    apr_size_t n;

    if (!nsso_is_local_path(s, NSSO_PATH_QUERY))
        return 0;
    for (n = 0; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= NSSO_RETURN_URL_MAX || c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

/* NULL when st is well-formed, else which field is not. */
static const char *state_check(const nsso_state_t *st)
{
    if (!b64url_token_ok(st->state, NSSO_STATE_MIN, NSSO_STATE_MAX))
        return "bad state value";
    if (!return_url_ok(st->return_url))
        return "bad return URL";
    if (!method_ok(st->method))
        return "bad method";
    if (!b64url_token_ok(st->pkce_verifier, NSSO_VERIFIER_MIN,
                         NSSO_VERIFIER_MAX))
        return "bad PKCE verifier";
    if (st->created <= 0)
        return "bad creation time";
    if (st->realm && !b64url_token_ok(st->realm, NSSO_REALM_LEN, NSSO_REALM_LEN))
        return "bad realm";
    return NULL;
}

/* ---- creation ------------------------------------------------------------ */

apr_status_t nsso_state_new(apr_pool_t *p, const char *return_url,
                            const char *method, apr_time_t now,
                            nsso_state_t **out)
{
    nsso_state_t *st;

    if (out == NULL)
        return APR_EINVAL;
    *out = NULL;
    st = apr_pcalloc(p, sizeof(*st));
    st->return_url = return_url ? apr_pstrdup(p, return_url) : NULL;
    st->method = method ? apr_pstrdup(p, method) : NULL;
    st->created = now;
    st->state = nsso_random_b64url(p, NSSO_STATE_BYTES);
    st->pkce_verifier = nsso_random_b64url(p, NSSO_VERIFIER_BYTES);
    if (st->state == NULL || st->pkce_verifier == NULL)
        return APR_EGENERAL;
    if (state_check(st) != NULL)
        return APR_EINVAL;
    *out = st;
    return APR_SUCCESS;
}

/* ---- encoding ------------------------------------------------------------ */

static json_t *state_to_json(const nsso_state_t *st)
{
    json_t *o = json_object();

    if (o == NULL
        || json_object_set_new(o, "s", json_string(st->state)) != 0
        || json_object_set_new(o, "u", json_string(st->return_url)) != 0
        || json_object_set_new(o, "m", json_string(st->method)) != 0
        || json_object_set_new(o, "v", json_string(st->pkce_verifier)) != 0
        || json_object_set_new(o, "t", json_integer((json_int_t)st->created)) != 0
        || (st->realm && json_object_set_new(o, "r", json_string(st->realm)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Serialise into pool memory (no malloc'd buffer to hand back). */
static char *json_to_pool(apr_pool_t *p, const json_t *o, apr_size_t *len)
{
    size_t need = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *buf;

    if (need == 0)
        return NULL;
    buf = apr_palloc(p, need + 1);
    if (json_dumpb(o, buf, need, JSON_COMPACT) != need)
        return NULL;
    buf[need] = '\0';
    *len = need;
    return buf;
}

apr_status_t nsso_state_encode(apr_pool_t *p, const nsso_crypto *c,
                               const nsso_state_t *st, char **value,
                               const char **err)
{
    const char *dummy, *why;
    json_t *o;
    char *json;
    apr_size_t len = 0;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (value == NULL)
        return APR_EINVAL;
    *value = NULL;
    if (c == NULL || st == NULL) {
        *err = "invalid arguments";
        return APR_EINVAL;
    }
    why = state_check(st);
    if (why != NULL) {
        *err = why;
        return APR_EINVAL;
    }
    o = state_to_json(st);
    if (o == NULL) {
        *err = "cannot build state JSON";
        return APR_EGENERAL;
    }
    json = json_to_pool(p, o, &len);
    json_decref(o);
    if (json == NULL) {
        *err = "cannot serialise state JSON";
        return APR_EGENERAL;
    }
    return nsso_crypto_seal(c, p, json, len, value, err);
}

/* ---- decoding ------------------------------------------------------------ */

/* A string member without embedded NULs, copied into p; NULL otherwise. */
static const char *json_str(apr_pool_t *p, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    const char *s;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return NULL;
    return apr_pstrdup(p, s);
}

static const char *state_from_json(apr_pool_t *p, const char *json,
                                   apr_size_t len, nsso_state_t *st)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *t, *r;
    const char *why = NULL;
    apr_size_t members;

    r = json_is_object(o) ? json_object_get(o, "r") : NULL;
    members = r ? 6 : 5;
    if (o == NULL || !json_is_object(o) || json_object_size(o) != members) {
        json_decref(o);
        return "state is not the expected JSON object";
    }
    st->state = json_str(p, o, "s");
    st->return_url = json_str(p, o, "u");
    st->method = json_str(p, o, "m");
    st->pkce_verifier = json_str(p, o, "v");
    /* "r" is optional here; whether a realm is required is decode's call */
    st->realm = r ? json_str(p, o, "r") : NULL;
    t = json_object_get(o, "t");
    if (r && !st->realm)
        why = "bad realm";
    else if (json_is_integer(t))
        st->created = (apr_time_t)json_integer_value(t);
    else
        why = "bad creation time";
    json_decref(o);
    return why ? why : state_check(st);
}

/* Both times are positive, so neither difference can overflow. */
static const char *age_check(apr_time_t created, apr_time_t now,
                             apr_interval_time_t max_age)
{
    if (now <= 0)
        return "bad current time";
    if (created > now)
        return created - now > NSSO_STATE_FUTURE_SKEW
                   ? "state created in the future" : NULL;
    return now - created > max_age ? "state expired" : NULL;
}

apr_status_t nsso_state_decode(apr_pool_t *p, const nsso_crypto *c,
                               const char *realm, const char *value, apr_time_t now,
                               apr_interval_time_t max_age,
                               nsso_state_t **out, const char **err)
{
    const char *dummy, *why;
    char *json = NULL;
    apr_size_t len = 0;
    nsso_state_t *st;

    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (out == NULL)
        return APR_EINVAL;
    *out = NULL;
    if (c == NULL || value == NULL) {
        *err = "invalid arguments";
        return APR_EINVAL;
    }
    if (nsso_crypto_open(c, p, value, &json, &len, &why) != APR_SUCCESS) {
        *err = "state cookie cannot be decrypted";
        return APR_EGENERAL;
    }
    st = apr_pcalloc(p, sizeof(*st));
    why = state_from_json(p, json, len, st);
    if (why != NULL) {
        *err = why;
        return APR_EINVAL;
    }
    if (realm && !(st->realm && !strcmp(st->realm, realm))) {
        *err = st->realm ? "state was made for another realm (virtual host)"
                         : "state names no realm";
        return APR_EACCES;
    }
    why = age_check(st->created, now, max_age);
    if (why != NULL) {
        *err = why;
        return APR_TIMEUP;
    }
    *out = st;
    return APR_SUCCESS;
}
