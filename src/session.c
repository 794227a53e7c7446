/* session.c - nsso_session_t: built from verified token claims, stored as
 * compact JSON. The JSON is what the session store holds, so parsing is
 * strict: anything unexpected fails rather than yielding a half session. */
#include "session.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>
#include <string.h>

#define SESSION_VERSION 1

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

static const char *claim_user(const nsso_claims_t *c)
{
    const char *u = c->user_name && *c->user_name ? c->user_name
                  : c->client_id && *c->client_id ? c->client_id
                  : c->sub;

    return u && user_ok(u) ? u : NULL;
}

static apr_array_header_t *copy_strings(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_array_header_t *out = apr_array_make(p, a ? a->nelts : 1, sizeof(const char *));
    int i;

    for (i = 0; a && i < a->nelts; i++)
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, APR_ARRAY_IDX(a, i, const char *));
    return out;
}

nsso_session_t *nsso_session_from_claims(apr_pool_t *p, const nsso_claims_t *claims,
                                         const char *access_token,
                                         const char *refresh_token, apr_int64_t now)
{
    const char *user = claim_user(claims);
    nsso_session_t *s;

    if (!user)
        return NULL;
    s = apr_pcalloc(p, sizeof(*s));
    s->user = apr_pstrdup(p, user);
    s->client_credentials = !(claims->user_name && *claims->user_name)
                            && claims->client_id && *claims->client_id;
    s->name = claims->name ? apr_pstrdup(p, claims->name) : NULL;
    s->auth_source = claims->auth_source ? apr_pstrdup(p, claims->auth_source) : NULL;
    s->client_id = claims->client_id ? apr_pstrdup(p, claims->client_id) : NULL;
    s->user_id = claims->user_id ? apr_pstrdup(p, claims->user_id) : NULL;
    s->jti = claims->jti ? apr_pstrdup(p, claims->jti) : NULL;
    s->roles = copy_strings(p, claims->authorities);
    s->scope = copy_strings(p, claims->scope);
    s->access_token = apr_pstrdup(p, access_token);
    s->refresh_token = refresh_token ? apr_pstrdup(p, refresh_token) : NULL;
    s->expires = claims->exp;
    s->created = now;
    s->last_access = now;
    s->verified_at = now; /* the token was just issued */
    return s;
}

/* ---- serialize ------------------------------------------------------------ */

static int set_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static json_t *string_array(const apr_array_header_t *a)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; arr && a && i < a->nelts; i++)
        if (json_array_append_new(arr, json_string(APR_ARRAY_IDX(a, i, const char *)))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

apr_status_t nsso_session_serialize(apr_pool_t *p, const nsso_session_t *s,
                                    char **json, apr_size_t *len)
{
    json_t *o = json_object();
    char *text;
    int bad = 0;

    if (!o)
        return APR_ENOMEM;
    bad |= json_object_set_new(o, "v", json_integer(SESSION_VERSION));
    bad |= set_str(o, "u", s->user);
    bad |= set_str(o, "n", s->name);
    bad |= set_str(o, "src", s->auth_source);
    bad |= set_str(o, "cid", s->client_id);
    bad |= set_str(o, "uid", s->user_id);
    bad |= set_str(o, "jti", s->jti);
    bad |= set_str(o, "cl", s->caseload);
    bad |= json_object_set_new(o, "r", string_array(s->roles));
    bad |= json_object_set_new(o, "sc", string_array(s->scope));
    bad |= set_str(o, "at", s->access_token);
    bad |= set_str(o, "rt", s->refresh_token);
    bad |= json_object_set_new(o, "exp", json_integer(s->expires));
    bad |= json_object_set_new(o, "c", json_integer(s->created));
    bad |= json_object_set_new(o, "la", json_integer(s->last_access));
    bad |= json_object_set_new(o, "va", json_integer(s->verified_at));
    bad |= json_object_set_new(o, "cc", json_boolean(s->client_credentials));
    text = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return APR_ENOMEM;
    *len = strlen(text);
    *json = apr_pstrmemdup(p, text, *len);
    free(text);
    return APR_SUCCESS;
}

/* ---- parse ---------------------------------------------------------------- */

/* Optional string member: absent or null -> NULL; other types fail. */
static int get_str(apr_pool_t *p, json_t *o, const char *k, const char **out)
{
    json_t *v = json_object_get(o, k);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)))
        return -1;
    *out = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    return 0;
}

static int get_int(json_t *o, const char *k, apr_int64_t *out)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int get_strings(apr_pool_t *p, json_t *o, const char *k, apr_array_header_t **out)
{
    json_t *a = json_object_get(o, k);
    size_t i;

    if (!json_is_array(a))
        return -1;
    *out = apr_array_make(p, (int)json_array_size(a) + 1, sizeof(const char *));
    for (i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e))
            return -1;
        APR_ARRAY_PUSH(*out, const char *) =
            apr_pstrmemdup(p, json_string_value(e), json_string_length(e));
    }
    return 0;
}

apr_status_t nsso_session_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                nsso_session_t **out, const char **err)
{
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    nsso_session_t *s = apr_pcalloc(p, sizeof(*s));
    apr_int64_t version = 0;
    int bad;

    if (!json_is_object(o)) {
        json_decref(o);
        *err = "session record is not a JSON object";
        return APR_EGENERAL;
    }
    bad = get_int(o, "v", &version) || version != SESSION_VERSION
        || get_str(p, o, "u", &s->user) || !s->user
        || get_str(p, o, "n", &s->name)
        || get_str(p, o, "src", &s->auth_source)
        || get_str(p, o, "cid", &s->client_id)
        || get_str(p, o, "uid", &s->user_id)
        || get_str(p, o, "jti", &s->jti)
        || get_str(p, o, "cl", &s->caseload)
        || get_strings(p, o, "r", &s->roles)
        || get_strings(p, o, "sc", &s->scope)
        || get_str(p, o, "at", &s->access_token) || !s->access_token
        || get_str(p, o, "rt", &s->refresh_token)
        || get_int(o, "exp", &s->expires)
        || get_int(o, "c", &s->created)
        || get_int(o, "la", &s->last_access)
        || get_int(o, "va", &s->verified_at);
    if (!bad) {
        json_t *cc = json_object_get(o, "cc");
        bad = !json_is_boolean(cc);
        s->client_credentials = json_is_true(cc);
    }
    json_decref(o);
    if (bad) {
        *err = "session record has a missing or mistyped field";
        return APR_EGENERAL;
    }
    *out = s;
    return APR_SUCCESS;
}

/* ---- ids ------------------------------------------------------------------ */

int nsso_session_id_ok(const char *id)
{
    int i;

    if (!id)
        return 0;
    for (i = 0; i < NSSO_SESSION_ID_LEN; i++)
        if (!(apr_isalnum(id[i]) || id[i] == '-' || id[i] == '_'))
            return 0;
    return id[NSSO_SESSION_ID_LEN] == '\0';
}

const char *nsso_session_id_new(apr_pool_t *p)
{
    return nsso_random_b64url(p, NSSO_SESSION_ID_BYTES);
}

const char *nsso_session_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "s:", id, NULL);
}
