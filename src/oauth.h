/* oauth.h - the OAuth2 client side of HMPPS Auth: building the authorize
 * URL, calling the token endpoint (HTTP Basic client auth) and parsing its
 * answer. */
#ifndef NSSO_OAUTH_H
#define NSSO_OAUTH_H

#include <apr_pools.h>
#include <apr_errno.h>
#include "http.h"

typedef struct {
    const char *access_token;
    const char *refresh_token;  /* may be NULL */
    const char *token_type;
    apr_int64_t expires_in;     /* -1 if absent */
} nsso_token_response_t;

typedef enum {
    NSSO_OAUTH_OK = 0,
    NSSO_OAUTH_UNREACHABLE,   /* transport failure or timeout */
    NSSO_OAUTH_BAD_RESPONSE,  /* 5xx, non-JSON, missing access_token */
    NSSO_OAUTH_REJECTED       /* 4xx with an OAuth error (invalid_grant, ...) */
} nsso_oauth_result_t;

/* <endpoint>?response_type=code&client_id&redirect_uri&state
 * &code_challenge&code_challenge_method=S256 (endpoint: the authorization
 * endpoint, e.g. <auth_url>/oauth/authorize) */
char *nsso_oauth_authorize_url(apr_pool_t *p, const char *endpoint,
                               const char *client_id, const char *redirect_uri,
                               const char *state, const char *code_challenge);

/* Parse a token endpoint JSON body. */
apr_status_t nsso_oauth_parse_token_response(apr_pool_t *p, const char *body,
                                             apr_size_t len,
                                             nsso_token_response_t *out,
                                             const char **err);

/* POST the given form (grant_type etc.) to the token endpoint url (e.g.
 * <internal_url>/oauth/token).
 * On NSSO_OAUTH_REJECTED *oauth_error holds the server's "error" code. */
nsso_oauth_result_t nsso_oauth_token_request(apr_pool_t *p,
                                             const nsso_http_opts_t *opts,
                                             const char *url,
                                             const char *client_id,
                                             const char *client_secret,
                                             const char *form,
                                             nsso_token_response_t *out,
                                             const char **oauth_error,
                                             const char **err);

#endif
