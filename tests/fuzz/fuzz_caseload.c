/* fuzz_caseload.c - nsso_caseloads_parse and nsso_caseload_parse of any
 * document (the Manage Users API's {"activeCaseload":{"id":..},
 * "caseloads":[{"id":..}]}, the /api/user/me answer {"activeCaseLoadId":..}
 * or the prison API caseload array), and the
 * identity helpers that handle what comes out of tokens and such answers on
 * the way to request headers. Invariants: a caseload is 1-32 characters, no
 * control character or comma, never the pseudo-caseload NWEB; the list holds
 * each once, the active one among them, and is never empty when the parse
 * succeeds; the active-only reading agrees; header-safe values hold
 * no control character and are bounded; the role list is comma-safe. */
#include "fuzz_common.h"
#include "identity.h"

#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#define T "caseload"

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Reference: "x-nomis-" prefix, any case, '_' standing for '-'. */
static int identity_header_ref(const char *s)
{
    static const char want[] = "x-nomis-";
    size_t i;

    for (i = 0; i < sizeof(want) - 1; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '_')
            c = '-';
        if (c != want[i])
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    const char *err = NULL, *id, *safe, *joined, *active = NULL, *err2 = NULL;
    apr_array_header_t *all = NULL;
    apr_status_t rv;
    int i, j;
    char *s = nsso_fuzz_cstr(p, data, size), *tok, *last;
    apr_array_header_t *roles = apr_array_make(p, 4, sizeof(const char *));

    id = nsso_caseload_parse(p, (const char *)data, size, &err);
    if (id != NULL) {
        NSSO_FUZZ_CHECK(T, *id != '\0' && strlen(id) <= 32 && !has_ctl(id));
        NSSO_FUZZ_CHECK(T, strcmp(id, "NWEB") != 0 && !strchr(id, ','));
    }
    else {
        NSSO_FUZZ_CHECK(T, err != NULL);
    }
    rv = nsso_caseloads_parse(p, (const char *)data, size, &active, &all, &err2);
    NSSO_FUZZ_CHECK(T, all != NULL);
    NSSO_FUZZ_CHECK(T, rv == APR_SUCCESS ? all->nelts > 0 : err2 != NULL && !active);
    NSSO_FUZZ_CHECK(T, (id == NULL && active == NULL)
                           || (id != NULL && active != NULL && !strcmp(id, active)));
    for (i = 0; i < all->nelts; i++) {
        const char *c = APR_ARRAY_IDX(all, i, const char *);
        NSSO_FUZZ_CHECK(T, *c != '\0' && strlen(c) <= 32 && !has_ctl(c) && !strchr(c, ','));
        NSSO_FUZZ_CHECK(T, strcmp(c, "NWEB") != 0);
        for (j = i + 1; j < all->nelts; j++)
            NSSO_FUZZ_CHECK(T, strcmp(c, APR_ARRAY_IDX(all, j, const char *)) != 0);
    }
    if (active)
        NSSO_FUZZ_CHECK(T, nsso_list_has(all, active, 0));

    /* the same bytes as a header value, a header name and a role list */
    safe = nsso_header_safe(p, s);
    NSSO_FUZZ_CHECK(T, !has_ctl(safe) && strlen(safe) <= NSSO_HEADER_MAX);
    NSSO_FUZZ_CHECK(T, nsso_is_identity_header(s) == identity_header_ref(s));
    for (tok = apr_strtok(apr_pstrdup(p, s), " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last))
        APR_ARRAY_PUSH(roles, const char *) = tok;
    joined = nsso_roles_join(p, roles);
    NSSO_FUZZ_CHECK(T, joined != NULL && !has_ctl(joined));
    NSSO_FUZZ_CHECK(T, strstr(joined, ",,") == NULL && joined[0] != ',');
    if (*joined != '\0')
        NSSO_FUZZ_CHECK(T, nsso_roles_any(roles, roles));
    apr_pool_destroy(p);
    return 0;
}
