/* oauth.c - OAuth2 client calls to HMPPS Auth: the authorize URL a browser
 * is sent to, and the token endpoint (authorization_code today; the same
 * call serves refresh_token and password grants), with HTTP Basic client
 * authentication as HMPPS Auth requires. */
#include "oauth.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

char *nsso_oauth_authorize_url(apr_pool_t *p, const char *endpoint,
                               const char *client_id, const char *redirect_uri,
                               const char *state, const char *code_challenge)
{
    return apr_pstrcat(p, endpoint, "?response_type=code",
                       "&client_id=", nsso_url_encode(p, client_id),
                       "&redirect_uri=", nsso_url_encode(p, redirect_uri),
                       "&state=", nsso_url_encode(p, state),
                       "&code_challenge=", nsso_url_encode(p, code_challenge),
                       "&code_challenge_method=S256", NULL);
}

/* String member or NULL (wrong type counts as absent). */
static const char *opt_str(apr_pool_t *p, json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) && json_string_length(v) > 0
        ? apr_pstrmemdup(p, json_string_value(v), json_string_length(v)) : NULL;
}

apr_status_t nsso_oauth_parse_token_response(apr_pool_t *p, const char *body,
                                             apr_size_t len,
                                             nsso_token_response_t *out,
                                             const char **err)
{
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr), *exp;

    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    if (!json_is_object(o)) {
        json_decref(o);
        *err = "token endpoint answer is not a JSON object";
        return APR_EGENERAL;
    }
    out->access_token = opt_str(p, o, "access_token");
    out->refresh_token = opt_str(p, o, "refresh_token");
    out->token_type = opt_str(p, o, "token_type");
    exp = json_object_get(o, "expires_in");
    if (json_is_integer(exp))
        out->expires_in = json_integer_value(exp);
    json_decref(o);
    if (!out->access_token) {
        *err = "token endpoint answer has no access_token";
        return APR_EGENERAL;
    }
    if (out->token_type && strcasecmp(out->token_type, "bearer")) {
        *err = apr_psprintf(p, "token endpoint issued an unsupported token_type '%.20s'",
                            out->token_type);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The "error" code of an OAuth error body, sanitised for logging. */
static const char *oauth_error_code(apr_pool_t *p, const nsso_http_response_t *r)
{
    json_error_t jerr;
    json_t *o = json_loadb(r->body, r->len, 0, &jerr);
    const char *code = json_is_object(o) ? opt_str(p, o, "error") : NULL;
    char *c;

    json_decref(o);
    if (!code)
        return NULL;
    c = apr_pstrndup(p, code, 64);
    for (char *q = c; *q; q++)
        if (!apr_isalnum(*q) && *q != '_' && *q != '-')
            *q = '?';
    return c;
}

nsso_oauth_result_t nsso_oauth_token_request(apr_pool_t *p,
                                             const nsso_http_opts_t *opts,
                                             const char *url,
                                             const char *client_id,
                                             const char *client_secret,
                                             const char *form,
                                             nsso_token_response_t *out,
                                             const char **oauth_error,
                                             const char **err)
{
    nsso_http_response_t resp;

    *oauth_error = NULL;
    if (nsso_http_post_form(p, opts, url, form, client_id, client_secret,
                            &resp, err) != APR_SUCCESS)
        return NSSO_OAUTH_UNREACHABLE;
    if (resp.status >= 400 && resp.status < 500) {
        *oauth_error = oauth_error_code(p, &resp);
        *err = apr_psprintf(p, "token endpoint refused the request: HTTP %ld, error '%s'",
                            resp.status, *oauth_error ? *oauth_error : "(none)");
        return *oauth_error ? NSSO_OAUTH_REJECTED : NSSO_OAUTH_BAD_RESPONSE;
    }
    if (resp.status != 200) {
        *err = apr_psprintf(p, "token endpoint answered HTTP %ld", resp.status);
        return NSSO_OAUTH_BAD_RESPONSE;
    }
    if (nsso_oauth_parse_token_response(p, resp.body, resp.len, out, err) != APR_SUCCESS)
        return NSSO_OAUTH_BAD_RESPONSE;
    return NSSO_OAUTH_OK;
}
