/* identity.c - role matching, role lists, header safety and caseload
 * parsing (see identity.h). No httpd dependency. */
#include "identity.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#define PSEUDO_CASELOAD "NWEB"
#define IDENTITY_HEADER_PREFIX "x-nomis-"

const char *nsso_role_bare(const char *role)
{
    apr_size_t n = sizeof(NSSO_ROLE_PREFIX) - 1;
    return strncmp(role, NSSO_ROLE_PREFIX, n) ? role : role + n;
}

char *nsso_role_words(apr_pool_t *p, const char *role)
{
    const char *bare = nsso_role_bare(role);
    char *w = apr_pstrdup(p, *bare ? bare : role), *c;

    for (c = w; *c; c++)
        *c = *c == '_' ? ' ' : (char)apr_tolower(*c);
    *w = (char)apr_toupper(*w);
    return w;
}

/* nsso_role_bare, inline: the loop below runs it on every role of the token */
static inline const char *bare_inline(const char *role)
{
    return role[0] == 'R' && role[1] == 'O' && role[2] == 'L' && role[3] == 'E'
           && role[4] == '_' ? role + 5 : role;
}

/* Each wanted role made bare once, then compared with every role held,
 * first byte inline (a token holds ~25 roles, a Require line names one or
 * two): the same answer as comparing every pair's bare names. */
int nsso_roles_any(const apr_array_header_t *have, const apr_array_header_t *want)
{
    int i, j;

    _Static_assert(sizeof(NSSO_ROLE_PREFIX) == 6, "bare_inline knows ROLE_");
    for (j = 0; have && want && j < want->nelts; j++) {
        const char *w = bare_inline(APR_ARRAY_IDX(want, j, const char *));
        if (!*w) /* an empty bare name matches nothing: a held one must be non-empty */
            continue;
        for (i = 0; i < have->nelts; i++) {
            const char *h = bare_inline(APR_ARRAY_IDX(have, i, const char *));
            if (h[0] == w[0] && !strcmp(h + 1, w + 1))
                return 1;
        }
    }
    return 0;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if (apr_iscntrl(*s))
            return 1;
    return 0;
}

const char *nsso_roles_join(apr_pool_t *p, const apr_array_header_t *roles)
{
    apr_array_header_t *names = apr_array_make(p, roles ? roles->nelts + 1 : 1,
                                               sizeof(const char *));
    int i;

    for (i = 0; roles && i < roles->nelts; i++) {
        const char *role = nsso_role_bare(APR_ARRAY_IDX(roles, i, const char *));
        if (*role && !strchr(role, ',') && !has_ctl(role))
            APR_ARRAY_PUSH(names, const char *) = role;
    }
    return apr_array_pstrcat(p, names, ',');
}

int nsso_list_has(const apr_array_header_t *list, const char *s, int nocase)
{
    int i;

    for (i = 0; s && list && i < list->nelts; i++) {
        const char *e = APR_ARRAY_IDX(list, i, const char *);
        if (nocase ? !strcasecmp(e, s) : !strcmp(e, s))
            return 1;
    }
    return 0;
}

const char *nsso_header_safe(apr_pool_t *p, const char *v)
{
    apr_size_t n;
    char *c, *q;

    /* the common case, a clean value, is returned as it is: no copy */
    for (n = 0; n < NSSO_HEADER_MAX && v[n]; n++)
        if (apr_iscntrl(v[n]))
            break;
    if (!v[n])
        return v;
    c = apr_pstrndup(p, v, NSSO_HEADER_MAX);
    for (q = c + n; *q; q++)
        if (apr_iscntrl(*q))
            *q = '?';
    return c;
}

int nsso_is_identity_header(const char *name)
{
    const char *want = IDENTITY_HEADER_PREFIX;

    for (; *want; want++, name++) {
        char c = (char)apr_tolower(*name);
        if (c == '_')
            c = '-';
        if (c != *want)
            return 0;
    }
    return 1;
}

static const char *usable_caseload(apr_pool_t *p, json_t *v)
{
    const char *s;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    /* a comma would split the NOMIS_SSO_CASELOADS list */
    if (!*s || strlen(s) != json_string_length(v) || strlen(s) > 32 || has_ctl(s)
        || strchr(s, ',') || !strcmp(s, PSEUDO_CASELOAD))
        return NULL;
    return apr_pstrdup(p, s);
}

static void add_caseload(apr_array_header_t *all, const char *id)
{
    if (id && !nsso_list_has(all, id, 0))
        APR_ARRAY_PUSH(all, const char *) = id;
}

/* Prison API shape: every usable entry; the currently active one, else the
 * first, is the active one. */
static const char *caseloads_from_array(apr_pool_t *p, json_t *a, apr_array_header_t *all)
{
    const char *first = NULL, *active = NULL;
    size_t i;

    for (i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        const char *id = json_is_object(e)
                         ? usable_caseload(p, json_object_get(e, "caseLoadId")) : NULL;
        if (!id)
            continue;
        add_caseload(all, id);
        if (!active && json_is_true(json_object_get(e, "currentlyActive")))
            active = id;
        if (!first)
            first = id;
    }
    return active ? active : first;
}

/* Manage Users API shape: activeCaseload.id and caseloads[].id. */
static const char *caseloads_from_manage_users(apr_pool_t *p, json_t *doc,
                                               apr_array_header_t *all)
{
    json_t *list = json_object_get(doc, "caseloads"), *ac = json_object_get(doc, "activeCaseload");
    const char *active = json_is_object(ac) ? usable_caseload(p, json_object_get(ac, "id")) : NULL;
    size_t i;

    add_caseload(all, active);
    for (i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (json_is_object(e))
            add_caseload(all, usable_caseload(p, json_object_get(e, "id")));
    }
    return active;
}

apr_status_t nsso_caseloads_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                  const char **active, apr_array_header_t **all,
                                  const char **err)
{
    json_t *doc = json_loadb(json, len, 0, NULL);

    *all = apr_array_make(p, 4, sizeof(const char *));
    *active = NULL;
    if (json_is_array(doc))
        *active = caseloads_from_array(p, doc, *all);
    else if (json_is_object(doc) && (json_object_get(doc, "activeCaseload")
                                     || json_object_get(doc, "caseloads")))
        *active = caseloads_from_manage_users(p, doc, *all);
    else if (json_is_object(doc)) {
        *active = usable_caseload(p, json_object_get(doc, "activeCaseLoadId"));
        add_caseload(*all, *active);
    }
    json_decref(doc);
    if (!doc || (*all)->nelts == 0) {
        *err = doc ? "no caseload in the answer" : "answer is not JSON";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

const char *nsso_caseload_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                const char **err)
{
    apr_array_header_t *all;
    const char *active = NULL;

    if (nsso_caseloads_parse(p, json, len, &active, &all, err) == APR_SUCCESS && !active)
        *err = "no active caseload in the answer";
    return active;
}
