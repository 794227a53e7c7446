/* expose.c - the signed-in user's identity for downstream handlers, as
 * environment variables (r->subprocess_env): NOMIS_SSO_USER, _NAME,
 * _AUTH_SOURCE, _ROLES (comma-separated, without the ROLE_ prefix),
 * _USER_ID and _EXPIRES. REMOTE_USER and AUTH_TYPE come from httpd itself
 * (r->user, r->ap_auth_type). Values are cleaned of control characters. */
#include "expose.h"
#include "handlers.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <string.h>

#define ROLE_PREFIX "ROLE_"

/* A copy of v with control characters replaced by '?'. */
static const char *clean(apr_pool_t *p, const char *v)
{
    char *c = apr_pstrdup(p, v), *q;

    for (q = c; *q; q++)
        if (apr_iscntrl(*q))
            *q = '?';
    return c;
}

static void set_env(request_rec *r, const char *name, const char *v)
{
    if (v)
        apr_table_setn(r->subprocess_env, name, clean(r->pool, v));
    else
        apr_table_unset(r->subprocess_env, name);
}

static const char *roles_list(apr_pool_t *p, const apr_array_header_t *roles)
{
    apr_array_header_t *names = apr_array_make(p, roles->nelts + 1, sizeof(const char *));
    int i;

    for (i = 0; i < roles->nelts; i++) {
        const char *role = APR_ARRAY_IDX(roles, i, const char *);
        if (!strncmp(role, ROLE_PREFIX, sizeof(ROLE_PREFIX) - 1))
            role += sizeof(ROLE_PREFIX) - 1;
        if (*role && !strchr(role, ','))
            APR_ARRAY_PUSH(names, const char *) = role;
    }
    return apr_array_pstrcat(p, names, ',');
}

int nsso_expose_fixups(request_rec *r)
{
    const nsso_session_t *s = nsso_request_session(r);

    if (!s)
        return DECLINED;
    set_env(r, "NOMIS_SSO_USER", s->user);
    set_env(r, "NOMIS_SSO_NAME", s->name);
    set_env(r, "NOMIS_SSO_AUTH_SOURCE", s->auth_source);
    set_env(r, "NOMIS_SSO_ROLES", roles_list(r->pool, s->roles));
    set_env(r, "NOMIS_SSO_USER_ID", s->user_id);
    set_env(r, "NOMIS_SSO_EXPIRES", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, s->expires));
    return DECLINED;
}
