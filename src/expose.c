/* expose.c - the signed-in user's identity for downstream handlers.
 *
 * Environment (CGI, PHP, SSI, mod_rewrite, `Require expr`, logs):
 * NOMIS_SSO_USER, _NAME, _AUTH_SOURCE, _ROLES (comma-separated, without
 * ROLE_), _CASELOAD (the active one), _CASELOADS (every one held,
 * comma-separated), _USER_ID, _USER_UUID, _EXPIRES, each NomisSSOPassClaim
 * as _<NAME>, and _ACCESS_TOKEN only with NomisSSOPassAccessToken On.
 * Request headers (mod_proxy backends): X-Nomis-User, -Name, -Auth-Source,
 * -Roles, -Caseload, -Caseloads, -User-Id, -User-Uuid, -Expires,
 * -<Name> for each NomisSSOPassClaim, and `Authorization: Bearer` with
 * NomisSSOPassAccessToken On.
 * REMOTE_USER and AUTH_TYPE come from httpd (r->user, r->ap_auth_type).
 *
 * A client calling with its own token (client credentials) is its
 * client_id (REMOTE_USER, NOMIS_SSO_USER), flagged by
 * NOMIS_SSO_CLIENT_CREDENTIALS / X-Nomis-Client-Credentials "1", with no
 * name, user id or auth source; the user its token names, for audit only,
 * is NOMIS_SSO_ON_BEHALF_OF / X-Nomis-On-Behalf-Of.
 *
 * Client headers named like ours are removed as each request is read, so
 * a backend never sees a client's claim to a role. */
#include "expose.h"
#include "config.h"
#include "identity.h"
#include "lifecycle.h"
#include "request.h"
#include "runtime.h"
#include "session_memo.h"

#include <http_core.h>
#include <apr_strings.h>
#include <string.h>

typedef struct {
    const char *env;
    const char *header;
} field_name;

enum { F_USER, F_NAME, F_SOURCE, F_ROLES, F_CASELOAD, F_USER_ID, F_EXPIRES,
       F_CLIENT, F_ON_BEHALF_OF, F_USER_UUID, F_CASELOADS, F_COUNT };

/* nsso_req keeps the values: it must have room for every field, and the
 * passed claims after them */
_Static_assert(F_COUNT + NSSO_MAX_PASS_CLAIMS == NSSO_IDENTITY_FIELDS,
               "NSSO_IDENTITY_FIELDS (request.h)");

static const field_name fields[F_COUNT] = {
    { "NOMIS_SSO_USER", "X-Nomis-User" },
    { "NOMIS_SSO_NAME", "X-Nomis-Name" },
    { "NOMIS_SSO_AUTH_SOURCE", "X-Nomis-Auth-Source" },
    { "NOMIS_SSO_ROLES", "X-Nomis-Roles" },
    { "NOMIS_SSO_CASELOAD", "X-Nomis-Caseload" },
    { "NOMIS_SSO_USER_ID", "X-Nomis-User-Id" },
    { "NOMIS_SSO_EXPIRES", "X-Nomis-Expires" },
    { "NOMIS_SSO_CLIENT_CREDENTIALS", "X-Nomis-Client-Credentials" },
    { "NOMIS_SSO_ON_BEHALF_OF", "X-Nomis-On-Behalf-Of" },
    { "NOMIS_SSO_USER_UUID", "X-Nomis-User-Uuid" },
    { "NOMIS_SSO_CASELOADS", "X-Nomis-Caseloads" },
};

/* Fields F_COUNT and on are the server's NomisSSOPassClaim claims. */
static int field_count(const nsso_srv_conf *c)
{
    return F_COUNT + (c->pass_claims ? c->pass_claims->nelts : 0);
}

static const char *env_name(const nsso_srv_conf *c, int f)
{
    return f < F_COUNT ? fields[f].env
                       : APR_ARRAY_IDX(c->pass_claims, f - F_COUNT, nsso_pass_claim_t).env;
}

static const char *header_name(const nsso_srv_conf *c, int f)
{
    return f < F_COUNT ? fields[f].header
                       : APR_ARRAY_IDX(c->pass_claims, f - F_COUNT, nsso_pass_claim_t).header;
}

/* Every client header named like ours goes (a loop over the entries, not
 * apr_table_do: this runs for every request the server reads; a name not
 * starting with x or X is not even looked at further). Whether the request
 * has a Cookie header, found in the same walk: without one there is no
 * session to look at early. */
static int strip_identity_headers(request_rec *r)
{
    const apr_array_header_t *a = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    apr_array_header_t *names = NULL;
    int i, cookie = 0;

    for (i = 0; i < a->nelts; i++) {
        const char *k = e[i].key;

        if (!k)
            continue;
        if ((k[0] | 0x20) == 'c' && !cookie)
            cookie = !strcasecmp(k, "Cookie");
        if ((k[0] | 0x20) != 'x' || !nsso_is_identity_header(k))
            continue;
        if (!names)
            names = apr_array_make(r->pool, 2, sizeof(const char *));
        APR_ARRAY_PUSH(names, const char *) = e[i].key;
    }
    for (i = 0; names && i < names->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NSSO_LOGNO(0850) "removed client request header "
                      "%s: only mod_nomis_sso sets identity headers",
                      nsso_header_safe(r->pool, APR_ARRAY_IDX(names, i, const char *)));
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(names, i, const char *));
    }
    return cookie;
}

/* v made safe for a header (in p), unless the memo found it safe already (d). */
static const char *safe(apr_pool_t *p, const nsso_session_derived_t *d, const char *v)
{
    return !v || (d && d->clean) ? v : nsso_header_safe(p, v);
}

/* The server-independent identity values of s (fields before F_COUNT),
 * header-safe, in p. d: the memo's values for s, or NULL. */
static void standard_values(apr_pool_t *p, const nsso_session_t *s,
                            const nsso_session_derived_t *d, const char **v)
{
    v[F_USER] = safe(p, d, s->user);
    v[F_NAME] = safe(p, d, s->name);
    v[F_SOURCE] = safe(p, d, s->auth_source);
    v[F_ROLES] = d ? d->roles : nsso_roles_join(p, s->roles); /* drops unsafe roles */
    v[F_CASELOAD] = safe(p, d, s->caseload);
    v[F_USER_ID] = safe(p, d, s->user_id);
    v[F_EXPIRES] = d ? d->expires : apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires);
    v[F_CLIENT] = s->client_credentials ? "1" : NULL;
    v[F_ON_BEHALF_OF] = s->client_credentials ? safe(p, d, s->on_behalf_of) : NULL;
    v[F_USER_UUID] = safe(p, d, s->user_uuid);
    v[F_CASELOADS] = d ? d->caseloads
                     : s->caseloads && s->caseloads->nelts
                     ? nsso_header_safe(p, apr_array_pstrcat(p, s->caseloads, ','))
                     : NULL;
}

/* Made once per memo entry (prebuild): the standard values,
 * and the table of the NOMIS_SSO_* variables of those that are set, in
 * field order, so that a copy of it is exactly what appending each value to
 * an empty environment gives (the environment is empty when the early look
 * or a bearer request sets them: httpd adds the CGI ones later). The names
 * are the very strings of fields[] (env_untouched compares them). */
#define PREBUILT_ENV_ROOM 32 /* the copy's room, for what others add */
typedef struct {
    const char *v[F_COUNT];
    apr_table_t *env;
    /* the n values set, with their names, in field order: a request
     * appends its headers from these without a look at every field */
    int n;
    const char *env_name[F_COUNT], *header_name[F_COUNT], *value[F_COUNT];
} prebuilt;

static const void *prebuild(apr_pool_t *p, const nsso_session_t *s,
                            const nsso_session_derived_t *d)
{
    prebuilt *b = apr_pcalloc(p, sizeof(*b));
    int f;

    standard_values(p, s, d, b->v);
    b->env = apr_table_make(p, PREBUILT_ENV_ROOM);
    for (f = 0; f < F_COUNT; f++)
        if (b->v[f]) {
            apr_table_addn(b->env, fields[f].env, b->v[f]);
            b->env_name[b->n] = fields[f].env;
            b->header_name[b->n] = fields[f].header;
            b->value[b->n++] = b->v[f];
        }
    return b;
}

void nsso_expose_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    (void)s;
    nsso_session_memo_extend(prebuild);
}

/* The memo's prebuilt values for s, while they are still about its token
 * (a refresh replaces the session's token and expiry in place), or NULL. */
static const nsso_session_derived_t *derived_of(const nsso_session_t *s)
{
    return s->derived && s->derived->expires_at == s->expires ? s->derived : NULL;
}

static const prebuilt *prebuilt_of(const nsso_session_t *s)
{
    const nsso_session_derived_t *d = derived_of(s);

    return d ? d->ext : NULL;
}

/* An empty environment becomes a copy of b's: one copy instead of an
 * append per variable. 0 (nothing done) when b is NULL or the environment
 * holds anything. */
static int env_from_prebuilt(request_rec *r, const prebuilt *b)
{
    if (!b || !apr_is_empty_table(r->subprocess_env))
        return 0;
    r->subprocess_env = apr_table_copy(r->pool, b->env);
    return 1;
}

/* The identity values of s, clean for a header (no control character), made
 * once per session and token: the early look and check_authn publish the
 * same ones. A refresh replaces the token (and its exp) in place, which the
 * expiry comparison catches. NULL entries are values s does not have. */
static const char *const *identity_of(request_rec *r, const nsso_session_t *s)
{
    const nsso_srv_conf *c = nsso_srv(r->server);
    nsso_req *q = nsso_req_of(r);
    const char **v = q->identity;
    /* what this child's memo made once for the record (session_memo.h), if
     * it is still about this token */
    const nsso_session_derived_t *d = derived_of(s);
    const prebuilt *b = prebuilt_of(s);
    int f;

    if (q->identity_for == s && q->identity_expires == s->expires)
        return v;
    if (b) /* the very strings of its tables */
        memcpy(v, b->v, sizeof(b->v));
    else
        standard_values(r->pool, s, d, v);
    for (f = F_COUNT; f < field_count(c); f++) {
        const char *claim = APR_ARRAY_IDX(c->pass_claims, f - F_COUNT, nsso_pass_claim_t).claim;
        v[f] = safe(r->pool, d, nsso_session_claim(s, claim));
    }
    q->identity_for = s;
    q->identity_expires = s->expires;
    return v;
}

#define ENV_PREFIX "NOMIS_SSO_"

/* The NOMIS_SSO_* variables set now, in one walk over the environment
 * instead of a search per name: how many are the very strings of ours (not
 * copies), and whether any other is there (a SetEnvIf, mod_rewrite's E=). */
typedef struct {
    const char *const *ours;
    int n;              /* fields in ours */
    int seen, foreign;
} env_walk;

/* One look at the environment's entries, not apr_table_do (a call per
 * entry): most names fail the first-letter test. Ours were appended in
 * field order, so the next expected value is tried before all of them. */
static int is_ours(const env_walk *w, const char *value, int *next)
{
    int f;

    for (; *next < w->n && !w->ours[*next]; (*next)++)
        ;
    if (*next < w->n && value == w->ours[*next]) {
        (*next)++;
        return 1;
    }
    for (f = 0; f < w->n; f++)
        if (value == w->ours[f])
            return 1;
    return 0;
}

static int has_env_prefix(const char *k)
{
    return k && (k[0] & ~0x20) == 'N'
           && (!memcmp(k, ENV_PREFIX, sizeof(ENV_PREFIX) - 1)
               || !strncasecmp(k, ENV_PREFIX, sizeof(ENV_PREFIX) - 1));
}

static env_walk env_walk_of(request_rec *r, const char *const *ours)
{
    env_walk w = { ours, field_count(nsso_srv(r->server)), 0, 0 };
    const apr_array_header_t *a = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    int i, next = 0;

    for (i = 0; i < a->nelts; i++) {
        if (!has_env_prefix(e[i].key))
            continue;
        if (!is_ours(&w, e[i].val, &next)) {
            w.foreign = 1;
            break;
        }
        w.seen++;
    }
    return w;
}

/* No NOMIS_SSO_* variable yet: ours can be appended (apr_table_setn would
 * compare each new name with every NOMIS_SSO_* one already there, since
 * they share the first four letters apr_table hashes). */
static int env_none(const env_walk *w)
{
    return !w->foreign && w->seen == 0;
}

/* Exactly our values, untouched since they were set. */
static int env_exactly_ours(const env_walk *w)
{
    int f, want = 0;

    for (f = 0; f < w->n; f++)
        want += w->ours[f] != NULL;
    return !w->foreign && w->seen == want;
}

/* The early variables, for <If> and Require expr. Appended to a table
 * without any NOMIS_SSO_* variable, where they are is remembered for
 * env_untouched. */
static void set_env_only(request_rec *r, const nsso_session_t *s)
{
    const nsso_srv_conf *c = nsso_srv(r->server);
    const char *const *v = identity_of(r, s);
    env_walk w = env_walk_of(r, v);
    int fresh = env_none(&w), f;
    nsso_req *q = nsso_req_of(r);

    int copied = fresh && env_from_prebuilt(r, prebuilt_of(s));

    q->env_at = copied ? 0 : apr_table_elts(r->subprocess_env)->nelts;
    q->env_table = r->subprocess_env;
    q->env_n = 0;
    for (f = 0; fresh && f < w.n; f++)
        q->env_n += v[f] != NULL;
    /* the standard ones copied in one step: the claims after them */
    for (f = copied ? F_COUNT : 0; f < w.n; f++)
        if (v[f] && fresh)
            apr_table_addn(r->subprocess_env, env_name(c, f), v[f]);
        else if (v[f])
            apr_table_setn(r->subprocess_env, env_name(c, f), v[f]);
        else if (!fresh)
            apr_table_unset(r->subprocess_env, env_name(c, f));
}

int nsso_expose_early(request_rec *r)
{
    nsso_srv_conf *c = nsso_srv(r->server);
    const nsso_session_t *s;
    nsso_req *q;

    if (!c->auth_url)
        return DECLINED;
    /* no Cookie header: no session cookie, nothing to peek at */
    if (!strip_identity_headers(r) || !nsso_runtime_ready(c)
        || !(s = nsso_session_peek(r, c)))
        return DECLINED;
    q = nsso_req_of(r);
    q->early = 1;
    q->early_for = s;
    q->early_expires = s->expires;
    set_env_only(r, s);
    return DECLINED;
}

int nsso_expose_force_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const nsso_req *q;

    if (!type || strcasecmp(type, NSSO_AUTH_TYPE))
        return DECLINED;
    q = ap_get_module_config(r->request_config, &nomis_sso_module);
    return q && q->early ? OK : DECLINED;
}

/* The early look's variables, exactly as it appended them (the same name
 * and value strings, in the same places) and no other NOMIS_SSO_* one
 * anywhere: env_exactly_ours's verdict without searching each entry among
 * ours. 0 (ask env_walk_of) when anything moved: a module that unset or
 * reordered the environment, or an early look that could not append. */
static int env_untouched(request_rec *r, const nsso_req *q, const char *const *v,
                         const prebuilt *b)
{
    const nsso_srv_conf *c = nsso_srv(r->server);
    const apr_array_header_t *a = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    int i, f = 0, n = field_count(c), end = q->env_at + q->env_n;

    if (q->env_n <= 0 || q->env_table != r->subprocess_env || end > a->nelts)
        return 0;
    if (b && n == F_COUNT) { /* no claims: exactly the prebuilt ones */
        if (q->env_n != b->n)
            return 0;
        for (i = 0; i < a->nelts; i++)
            if (i >= q->env_at && i < end
                ? e[i].key != b->env_name[i - q->env_at] || e[i].val != b->value[i - q->env_at]
                : has_env_prefix(e[i].key))
                return 0;
        return 1;
    }
    for (i = 0; i < a->nelts; i++) {
        if (i < q->env_at || i >= end) {
            if (has_env_prefix(e[i].key))
                return 0;
            continue;
        }
        while (f < n && !v[f])
            f++;
        if (f == n || e[i].key != env_name(c, f) || e[i].val != v[f])
            return 0;
        f++;
    }
    while (f < n && !v[f])
        f++;
    return f == n;
}

/* PASS_FRESH_HEADERS: the request's own X-Nomis-* headers were all removed
 * as it was read, so ours can be appended without a search. */
#define PASS_FRESH_HEADERS 4

/* PASS_FRESH_ENV: no NOMIS_SSO_* variable is set yet (env_none). */
#define PASS_FRESH_ENV 8

static void set_field(request_rec *r, const nsso_srv_conf *c, int pass, int f, const char *v)
{
    if (pass & NSSO_PASS_ENV) {
        if (v && (pass & PASS_FRESH_ENV))
            apr_table_addn(r->subprocess_env, env_name(c, f), v);
        else if (v)
            apr_table_setn(r->subprocess_env, env_name(c, f), v);
        else if (!(pass & PASS_FRESH_ENV))
            apr_table_unset(r->subprocess_env, env_name(c, f));
    }
    if (pass & NSSO_PASS_HEADERS) {
        if (v && (pass & PASS_FRESH_HEADERS))
            apr_table_addn(r->headers_in, header_name(c, f), v);
        else if (v)
            apr_table_setn(r->headers_in, header_name(c, f), v);
        else if (!(pass & PASS_FRESH_HEADERS))
            apr_table_unset(r->headers_in, header_name(c, f));
    }
}

/* Publish v as pass says; an empty environment gets the memo's prebuilt
 * variables in one copy. */
static void set_fields(request_rec *r, const nsso_srv_conf *c, int pass,
                       const char *const *v, const prebuilt *b)
{
    int done = 0, f;

    if ((pass & NSSO_PASS_ENV) && (pass & PASS_FRESH_ENV) && env_from_prebuilt(r, b))
        done = NSSO_PASS_ENV;
    if (b && (pass & NSSO_PASS_HEADERS) && (pass & PASS_FRESH_HEADERS)) {
        for (f = 0; f < b->n; f++)
            apr_table_addn(r->headers_in, b->header_name[f], b->value[f]);
        done |= NSSO_PASS_HEADERS;
    }
    /* the standard fields only when some were not done; the claims always */
    f = pass & ~done & (NSSO_PASS_ENV | NSSO_PASS_HEADERS) ? 0 : F_COUNT;
    for (; f < field_count(c); f++)
        set_field(r, c, f < F_COUNT ? pass & ~done : pass, f, v[f]);
}

static void unset_env(request_rec *r)
{
    const nsso_srv_conf *c = nsso_srv(r->server);
    int f;

    for (f = 0; f < field_count(c); f++)
        apr_table_unset(r->subprocess_env, env_name(c, f));
}

/* Whether any variable's name starts with NOMIS_SSO_ (any case, as
 * apr_table_unset compares): without one, unset_env has nothing to remove.
 * A page the module does not protect usually has an environment of a few
 * entries or none at this point (httpd adds the CGI ones later). */
static int env_has_prefix(const request_rec *r)
{
    const apr_array_header_t *a = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    int i;

    for (i = 0; i < a->nelts; i++)
        if (has_env_prefix(e[i].key))
            return 1;
    return 0;
}

void nsso_expose_session(request_rec *r, const nsso_session_t *s)
{
    const nsso_dir_conf *d = nsso_dir(r);
    nsso_req *q = nsso_req_of(r);
    const nsso_srv_conf *c = nsso_srv(r->server);
    const char *const *v = identity_of(r, s);
    int pass = nsso_conf_pass(d);

    if (!(pass & NSSO_PASS_ENV)) {
        unset_env(r); /* the early look set them for <If> only */
    }
    else if (!r->main && !r->prev && q->early && q->early_for == s
             && q->early_expires == s->expires && env_untouched(r, q, v, prebuilt_of(s))) {
        pass &= ~NSSO_PASS_ENV; /* already set, by the early look */
    }
    else {
        env_walk w = env_walk_of(r, v);
        if (env_none(&w))
            pass |= PASS_FRESH_ENV;
        else if (!r->main && !r->prev && q->early && q->early_for == s
                 && q->early_expires == s->expires && env_exactly_ours(&w))
            pass &= ~NSSO_PASS_ENV; /* already set, by the early look */
    }
    if (!r->main && !r->prev && !q->exposed)
        pass |= PASS_FRESH_HEADERS;
    set_fields(r, c, pass, v, prebuilt_of(s));
    q->exposed = 1;
    if (d->pass_token != 1)
        return;
    if (nsso_conf_pass(d) & NSSO_PASS_ENV)
        apr_table_setn(r->subprocess_env, "NOMIS_SSO_ACCESS_TOKEN",
                       nsso_header_safe(r->pool, s->access_token));
    if (pass & NSSO_PASS_HEADERS)
        apr_table_setn(r->headers_in, "Authorization",
                       apr_pstrcat(r->pool, "Bearer ",
                                   nsso_header_safe(r->pool, s->access_token), NULL));
}

int nsso_expose_fixups(request_rec *r)
{
    const nsso_req *q = ap_get_module_config(r->request_config, &nomis_sso_module);
    const nsso_session_t *s;

    if (q && q->exposed)
        return DECLINED; /* done by check_authn for this very request */
    s = nsso_request_session(r);
    if (s && r->user && *r->user)
        nsso_expose_session(r, s);
    else if (env_has_prefix(r))
        unset_env(r); /* not authenticated by the module: the early look was for
                       * <If>, and configuration cannot pose as it either */
    return DECLINED;
}
