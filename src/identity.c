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

int nsso_roles_any(const apr_array_header_t *have, const apr_array_header_t *want)
{
    int i, j;

    for (i = 0; have && i < have->nelts; i++) {
        const char *h = nsso_role_bare(APR_ARRAY_IDX(have, i, const char *));
        for (j = 0; want && j < want->nelts; j++)
            if (*h && !strcmp(h, nsso_role_bare(APR_ARRAY_IDX(want, j, const char *))))
                return 1;
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
    if (!*s || strlen(s) != json_string_length(v) || strlen(s) > 32 || has_ctl(s)
        || !strcmp(s, PSEUDO_CASELOAD))
        return NULL;
    return apr_pstrdup(p, s);
}

/* Prison API shape: the currently active entry, else the first usable one. */
static const char *caseload_from_array(apr_pool_t *p, json_t *a)
{
    const char *first = NULL;
    size_t i;

    for (i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        const char *id = json_is_object(e)
                         ? usable_caseload(p, json_object_get(e, "caseLoadId")) : NULL;
        if (!id)
            continue;
        if (json_is_true(json_object_get(e, "currentlyActive")))
            return id;
        if (!first)
            first = id;
    }
    return first;
}

const char *nsso_caseload_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                const char **err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    const char *id = NULL;

    if (json_is_object(doc))
        id = usable_caseload(p, json_object_get(doc, "activeCaseLoadId"));
    else if (json_is_array(doc))
        id = caseload_from_array(p, doc);
    if (!id)
        *err = doc ? "no active caseload in the answer" : "answer is not JSON";
    json_decref(doc);
    return id;
}
