/* identity.h - pure logic about who a signed-in user is and what they may
 * do: role matching (with or without the ROLE_ prefix), the role list
 * handed downstream, safe header values, which request headers could
 * spoof identity, and reading the caseloads from HMPPS answers. */
#ifndef NSSO_IDENTITY_H
#define NSSO_IDENTITY_H

#include <apr_pools.h>
#include <apr_tables.h>

#define NSSO_ROLE_PREFIX "ROLE_"
#define NSSO_HEADER_MAX 8192

/* A role name without its ROLE_ prefix (the same pointer, advanced). */
const char *nsso_role_bare(const char *role);

/* A role as words for a page: ROLE_ALLOC_MGR -> "Alloc mgr" (no prefix,
 * underscores as spaces, lower case, first letter capital). */
char *nsso_role_words(apr_pool_t *p, const char *role);

/* 1 if any role in want (bare or prefixed) is held in have (as issued).
 * Case-sensitive, as HMPPS Auth issues them. */
int nsso_roles_any(const apr_array_header_t *have, const apr_array_header_t *want);

/* "ALLOC_MGR,POM": held roles without ROLE_, comma-separated; roles
 * containing a comma or a control character are left out. */
const char *nsso_roles_join(apr_pool_t *p, const apr_array_header_t *roles);

/* 1 if s is in list (case-insensitive when nocase). */
int nsso_list_has(const apr_array_header_t *list, const char *s, int nocase);

/* A value safe for a request header or environment variable: control
 * characters (CR, LF, ...) become '?', and at most NSSO_HEADER_MAX bytes.
 * A value that is already safe is returned itself (not copied). */
const char *nsso_header_safe(apr_pool_t *p, const char *v);

/* 1 if a request header of this name could pose as the module's identity
 * headers: "X-Nomis-*" in any case, with '_' standing for '-'. */
int nsso_is_identity_header(const char *name);

/* The caseloads a user holds, from one of three HMPPS answers: the Manage
 * Users API's /users/me/caseloads ({"activeCaseload":{"id":"LEI"},
 * "caseloads":[{"id":"LEI"},{"id":"MDI"}]}), Auth's deprecated /api/user/me
 * ({"activeCaseLoadId":"LEI"}: that one only) or the prison API
 * ([{"caseLoadId":"LEI","currentlyActive":true}, ...]: the currently active
 * entry, else the first, is the active one). *active (NULL when none) and
 * *all (every one held, the active one included, each once) are set. The
 * pseudo-caseload NWEB and ids that are empty, longer than 32 bytes or
 * hold a comma or control character are ignored. APR_EGENERAL with *err
 * when the document is unreadable or names no caseload at all. */
apr_status_t nsso_caseloads_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                  const char **active, apr_array_header_t **all,
                                  const char **err);

/* The active caseload alone (nsso_caseloads_parse); NULL with *err when
 * there is none. */
const char *nsso_caseload_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                const char **err);

#endif
