/* redirect.c - the open-redirect guard. A return URL is accepted only when
 * every browser would resolve it to a path on the current host: it starts
 * with exactly one '/', holds no backslash, no control or space characters,
 * no scheme-like prefix, and no percent-encoded '/', '\' or control byte
 * that a front end might decode into one. */
#include "redirect.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

#define MAX_RETURN_URL 4096

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Value of the %XX escape at s, or -1 when it is malformed. */
static int escape_value(const char *s)
{
    int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
    return lo < 0 ? -1 : hi * 16 + lo;
}

static int bad_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c >= 0x80 || c == '\\';
}

int nsso_redirect_path_ok(const char *t)
{
    const char *s;

    /* a local path ("//host" and "/\\host" are scheme-relative in browsers) */
    if (!nsso_is_local_path(t, NSSO_PATH_QUERY) || strlen(t) > MAX_RETURN_URL)
        return 0;
    for (s = t; *s; s++) {
        int v;
        if (bad_byte((unsigned char)*s))
            return 0;
        if (*s != '%')
            continue;
        v = escape_value(s);
        if (v < 0x20 /* or malformed: -1 */ || v == 0x7f || v == '\\')
            return 0;
        /* "/%2Fhost", "/%5Chost", "/%252Fhost": a decoding front end
         * would make these scheme-relative */
        if (s == t + 1 && (v == '/' || v == '%'))
            return 0;
    }
    return 1;
}

const char *nsso_redirect_return_url(apr_pool_t *p, const char *unparsed_uri)
{
    if (unparsed_uri && nsso_redirect_path_ok(unparsed_uri)) {
        const char *hash = strchr(unparsed_uri, '#');
        return hash ? apr_pstrmemdup(p, unparsed_uri, hash - unparsed_uri)
                    : unparsed_uri;
    }
    return "/";
}
