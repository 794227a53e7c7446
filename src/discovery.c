/* discovery.c - owns parsing and checking HMPPS Auth's OpenID Provider
 * configuration document: the issuer must be the one expected, and the
 * endpoints the module calls must be plain http(s) URLs on a server it
 * already trusts (see discovery.h). */
#include "discovery.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <jansson.h>
#include <string.h>

static char *lower(char *s)
{
    char *c;

    for (c = s; *c; c++)
        *c = (char)apr_tolower(*c);
    return s;
}

const char *nsso_discovery_origin(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    apr_port_t port;

    if (!url || !nsso_is_http_url(p, url, 0) || apr_uri_parse(p, url, &u) != APR_SUCCESS
        || !u.scheme || !u.hostname)
        return NULL;
    lower(u.scheme);
    port = u.port_str ? u.port : apr_uri_port_of_scheme(u.scheme);
    return apr_psprintf(p, "%s://%s:%u", u.scheme, lower(u.hostname), (unsigned)port);
}

/* At most max bytes of s, anything but printable ASCII as '?': the value
 * came from the network and goes to the error log. */
static const char *printable(apr_pool_t *p, const char *s, apr_size_t max)
{
    char *c = apr_pstrndup(p, s, max);
    char *q;

    for (q = c; *q; q++)
        if (*q < 0x20 || *q > 0x7e)
            *q = '?';
    return c;
}

static int origin_allowed(apr_pool_t *p, const char *url, const char *const *origins)
{
    const char *o = nsso_discovery_origin(p, url);

    for (; o && origins && *origins; origins++) {
        const char *a = nsso_discovery_origin(p, *origins);
        if (a && !strcmp(a, o))
            return 1;
    }
    return 0;
}

/* The endpoint named field, checked; NULL with *err set. */
static const char *endpoint(apr_pool_t *p, json_t *doc, const char *field,
                            const char *const *origins, const char **err)
{
    json_t *v = json_object_get(doc, field);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    const char *why;

    if (!s) {
        *err = apr_psprintf(p, "'%s' is missing or not a string", field);
        return NULL;
    }
    if (strlen(s) != json_string_length(v) || strlen(s) > NSSO_DISCOVERY_MAX_URL) {
        *err = apr_psprintf(p, "'%s' is too long or has a NUL byte", field);
        return NULL;
    }
    why = nsso_http_url_problem(p, s, NSSO_URL_BASE | NSSO_URL_PATH);
    if (why) {
        *err = apr_psprintf(p, "'%s' (%s) %s", field, printable(p, s, 200), why);
        return NULL;
    }
    if (!origin_allowed(p, s, origins)) {
        *err = apr_psprintf(p, "'%s' (%s) is not on the HMPPS Auth server configured "
                            "(NomisSSOAuthURL / NomisSSOAuthInternalURL)", field,
                            printable(p, s, 200));
        return NULL;
    }
    return apr_pstrdup(p, s);
}

static apr_status_t parse_doc(apr_pool_t *p, json_t *doc, const char *expected_issuer,
                              const char *const *origins, nsso_discovery_t *out,
                              const char **err)
{
    json_t *iss = json_object_get(doc, "issuer");

    if (!json_is_object(doc)) {
        *err = "the document is not a JSON object";
        return APR_EGENERAL;
    }
    if (!json_is_string(iss) || strlen(json_string_value(iss)) != json_string_length(iss)) {
        *err = "'issuer' is missing or not a string";
        return APR_EGENERAL;
    }
    if (!expected_issuer || strcmp(json_string_value(iss), expected_issuer)) {
        *err = apr_psprintf(p, "its issuer '%s' is not the one expected, '%s' "
                            "(NomisSSOIssuer, default <NomisSSOAuthURL>/issuer)",
                            printable(p, json_string_value(iss), 200),
                            expected_issuer ? expected_issuer : "");
        return APR_EGENERAL;
    }
    out->issuer = apr_pstrdup(p, expected_issuer);
    if (!(out->authorization_endpoint = endpoint(p, doc, "authorization_endpoint",
                                                 origins, err))
        || !(out->token_endpoint = endpoint(p, doc, "token_endpoint", origins, err))
        || !(out->jwks_uri = endpoint(p, doc, "jwks_uri", origins, err)))
        return APR_EGENERAL;
    return APR_SUCCESS;
}

apr_status_t nsso_discovery_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                  const char *expected_issuer,
                                  const char *const *origins,
                                  nsso_discovery_t *out, const char **err)
{
    json_error_t jerr;
    json_t *doc;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    if (!body || len == 0 || len > NSSO_DISCOVERY_MAX_DOC) {
        *err = "the document is empty or larger than 64 KB";
        return APR_EGENERAL;
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        /* jansson quotes the offending input */
        *err = apr_psprintf(p, "the document is not JSON (%s)",
                            printable(p, jerr.text, sizeof(jerr.text)));
        return APR_EGENERAL;
    }
    rv = parse_doc(p, doc, expected_issuer, origins, out, err);
    json_decref(doc);
    if (rv != APR_SUCCESS)
        memset(out, 0, sizeof(*out));
    return rv;
}
