/* info.c - NomisSSOInfoURI: the cookie's own session as JSON, for the
 * service's page scripts (who is signed in, roles, caseloads, expiry). It
 * reads the session like check_authn does (lifecycle rules included) but
 * never starts a sign-in: no session is a 401 with a JSON error. */
#include "info.h"
#include "identity.h"
#include "lifecycle.h"
#include "request.h"
#include "respond.h"

#include <http_protocol.h>
#include <stdlib.h>
#include <jansson.h>

/* A JSON array of the strings of a (roles without ROLE_ when bare); NULL
 * makes json_pack fail, answered 500. */
static json_t *string_list(const apr_array_header_t *a, int bare)
{
    json_t *out = json_array();
    int i;

    for (i = 0; out && a && i < a->nelts; i++) {
        const char *v = APR_ARRAY_IDX(a, i, const char *);
        json_array_append_new(out, json_string(bare ? nsso_role_bare(v) : v));
    }
    return out;
}

/* NomisSSOInfoURI: the cookie's own session as JSON for the page's scripts. */
int nsso_info_handle(request_rec *r, const nsso_srv_conf *c)
{
    const char *id = NULL;
    nsso_session_t *s = NULL;
    json_t *doc;

    /* no 503 here: a script reads "not signed in" and can ask again */
    if (nsso_session_current(r, c, &id, &s) != APR_SUCCESS)
        return nsso_send_json(r, HTTP_UNAUTHORIZED, json_pack("{s:s}", "error", "not signed in"));
    doc = json_pack("{s:s, s:s?, s:s?, s:o, s:s?, s:o, s:s?, s:I}", "user", s->user,
                    "name", s->name, "authSource", s->auth_source,
                    "roles", string_list(s->roles, 1), "caseload", s->caseload,
                    "caseloads", string_list(s->caseloads, 0), "userUuid", s->user_uuid,
                    "expiresAt", (json_int_t)s->expires);
    return nsso_send_json(r, HTTP_OK, doc);
}
