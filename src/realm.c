/* realm.c - realm ids (see realm.h) and the store key layout (store.h). */
#include "realm.h"
#include "store.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_lib.h>
#include <string.h>

static void put_part(apr_pool_t *p, apr_array_header_t *buf, const char *v)
{
    const char *s = v ? v : "";
    apr_size_t n = strlen(s);
    char *len = apr_psprintf(p, "%" APR_SIZE_T_FMT ":", n);

    memcpy(apr_array_push(buf), &len, sizeof(len));
    memcpy(apr_array_push(buf), &s, sizeof(s));
}

const char *nsso_realm_derive(apr_pool_t *p, const nsso_realm_facts_t *f)
{
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(const char *));
    unsigned char digest[32];
    const char *text;

    put_part(p, parts, "mod_nomis_sso/realm/1");
    put_part(p, parts, f->auth_url);
    put_part(p, parts, f->internal_url);
    put_part(p, parts, f->issuer);
    put_part(p, parts, f->client_id);
    put_part(p, parts, f->algs);
    put_part(p, parts, f->jwks_source);
    text = apr_array_pstrcat(p, parts, 0);
    nsso_sha256(text, strlen(text), digest);
    return nsso_b64url_encode(p, digest, 8);
}

int nsso_realm_id_ok(const char *s)
{
    apr_size_t n = 0;

    for (; s && s[n]; n++)
        if (!(apr_isalnum(s[n]) || s[n] == '-' || s[n] == '_') || n >= NSSO_REALM_LEN)
            return 0;
    return n == NSSO_REALM_LEN;
}

/* Made on every request that reads the store: two copies, not a pstrcat
 * (which measures every piece twice). A NULL piece counts as empty. */
const char *nsso_store_key(apr_pool_t *p, char kind, const char *realm, const char *rest)
{
    apr_size_t rl = realm ? strlen(realm) : 0, sl = rest ? strlen(rest) : 0;
    char *k = apr_palloc(p, rl + sl + 4), *w = k;

    *w++ = kind;
    *w++ = ':';
    memcpy(w, realm ? realm : "", rl);
    w += rl;
    *w++ = ':';
    memcpy(w, rest ? rest : "", sl);
    w[sl] = '\0';
    return k;
}
