/* fuzz_directive.c - the pure helpers that directive values flow into
 * (src/config.c itself needs httpd; nsso_resolve_secret reads files and the
 * environment and is left out): nsso_crypto_create with a passphrase
 * (NomisSSOCryptoPassphrase), nsso_cookie_build with any name, value, path,
 * domain and flags (NomisSSOCookieName, SameSite, ...), the authorize URL
 * built from client id, redirect URI and auth URL, the PKCE challenge and
 * log redaction. Input: fields separated by '\n'. Invariants: a passphrase
 * that makes keys seals and opens; a built Set-Cookie has no control
 * character and honours Secure for SameSite=None; the authorize URL adds no
 * unencoded byte to the auth URL; redaction never shows a control byte.
 * And every table-parsed directive (src/directives.def: whole numbers,
 * lists, local paths) given a field: what it accepts is within the row's
 * bounds, one of its values, or a local path, and what it refuses leaves
 * the setting untouched. */
#include "fuzz_common.h"
#include "cookie.h"
#include "crypto.h"
#include "directives.h"
#include "oauth.h"
#include "util.h"

#include <string.h>

#define T "directive"
#define NFIELDS 8

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int url_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || strchr("-._~%&=?/", c)))
            return 0;
    }
    return 1;
}

/* The value of each simple directive's field after parsing arg, checked. */
static void check_table(apr_pool_t *p, const char *arg)
{
    int i, j;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        union {
            nsso_srv_conf s;
            nsso_dir_conf d;
            nsso_global_conf g;
        } conf;
        int *iv = (int *)((char *)&conf + d->offset);
        const char **pv = (const char **)((char *)&conf + d->offset);
        const char *why;

        if (d->kind != NSSO_DK_INT && d->kind != NSSO_DK_ENUM && d->kind != NSSO_DK_PATH)
            continue;
        memset(&conf, 0, sizeof(conf));
        *iv = NSSO_UNSET;
        if (d->kind == NSSO_DK_PATH)
            *pv = NULL;
        why = nsso_directive_parse(p, d, arg, &conf);
        if (why) {
            NSSO_FUZZ_CHECK(T, d->kind == NSSO_DK_PATH ? *pv == NULL : *iv == NSSO_UNSET);
            continue;
        }
        if (d->kind == NSSO_DK_INT)
            NSSO_FUZZ_CHECK(T, *iv >= d->min && *iv <= d->max);
        else if (d->kind == NSSO_DK_PATH)
            NSSO_FUZZ_CHECK(T, *pv == arg && nsso_is_local_path(arg, 0));
        else {
            for (j = 0; d->enums->v[j].name && d->enums->v[j].value != *iv; j++)
                ;
            NSSO_FUZZ_CHECK(T, d->enums->v[j].name != NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    char *s = nsso_fuzz_cstr(p, data, size), *f[NFIELDS], *nl;
    const char *err = NULL, *built, *url, *red;
    const char *pass[1];
    nsso_crypto *c = NULL;
    nsso_cookie_opts_t o;
    unsigned flags;
    int i;

    for (i = 0; i < NFIELDS; i++) {
        f[i] = s;
        nl = strchr(s, '\n');
        if (nl) {
            *nl = '\0';
            s = nl + 1;
        }
        else {
            s += strlen(s);
        }
    }
    flags = f[7][0] ? (unsigned char)f[7][0] : 0;

    /* passphrase */
    pass[0] = f[0];
    if (nsso_crypto_create(p, pass, 1, &c, &err) == APR_SUCCESS) {
        char *sealed = NULL, *pt = NULL;
        apr_size_t len = 0;
        NSSO_FUZZ_CHECK(T, *f[0] != '\0');
        NSSO_FUZZ_CHECK(T, nsso_crypto_seal(c, p, f[1], strlen(f[1]), &sealed, &err)
                               == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, nsso_crypto_open(c, p, sealed, &pt, &len, &err) == APR_SUCCESS
                               && len == strlen(f[1]) && memcmp(pt, f[1], len) == 0);
    }
    else {
        NSSO_FUZZ_CHECK(T, c == NULL && err != NULL);
    }

    /* cookie name, value, path, domain; flags pick the rest */
    o.path = (flags & 1) ? f[3] : NULL;
    o.domain = (flags & 2) ? f[4] : NULL;
    o.max_age = (flags & 4) ? -1 : (flags & 8) ? 0 : (long)strlen(f[4]) * 1000;
    o.secure = (flags >> 4) & 1;
    o.httponly = (flags >> 5) & 1;
    o.samesite = (nsso_samesite_t)((flags >> 6) & 3);
    built = nsso_cookie_build(p, f[1], f[2], &o);
    if (built != NULL) {
        NSSO_FUZZ_CHECK(T, !has_ctl(built));
        NSSO_FUZZ_CHECK(T, nsso_cookie_name_ok(f[1]) && nsso_cookie_value_ok(f[2]));
        if (o.samesite == NSSO_SAMESITE_NONE || o.secure)
            NSSO_FUZZ_CHECK(T, strstr(built, "; Secure") != NULL);
    }
    built = nsso_cookie_build(p, f[1], f[2], NULL);
    NSSO_FUZZ_CHECK(T, built == NULL || !has_ctl(built));

    /* authorize URL: auth URL, client id, redirect URI, state, challenge */
    url = nsso_oauth_authorize_url(p, f[3], f[5], f[6], f[2],
                                   nsso_pkce_challenge(p, f[1]));
    NSSO_FUZZ_CHECK(T, url != NULL && strncmp(url, f[3], strlen(f[3])) == 0);
    NSSO_FUZZ_CHECK(T, url_safe(url + strlen(f[3])));
    NSSO_FUZZ_CHECK(T, strlen(nsso_pkce_challenge(p, f[0])) == 43);

    check_table(p, f[0]);

    red = nsso_redact(p, f[0]);
    NSSO_FUZZ_CHECK(T, red != NULL && !has_ctl(red));
    apr_pool_destroy(p);
    return 0;
}
