/* cookie.c - owns cookie syntax (RFC 6265): splitting a Cookie request
 * header into name/value pairs without trusting anything about it, looking
 * a name up (reporting duplicates, which may be an injection attempt), and
 * building Set-Cookie values that can never smuggle a header break. */
#include "cookie.h"

#include <string.h>

#include <apr_strings.h>

/* ---- syntax -------------------------------------------------------------- */

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* RFC 6265 cookie-octet: visible ASCII except DQUOTE, ',', ';' and '\'. */
static int is_cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a)
           || (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* The OR of t[] over the bytes [b, e): four at a time, with no branch per
 * byte (every request's cookie name and value go through it). */
static unsigned char class_or(const unsigned char *t, const char *b, const char *e)
{
    const unsigned char *p = (const unsigned char *)b, *end = (const unsigned char *)e;
    unsigned char acc = 0;

    for (; end - p >= 4; p += 4)
        acc |= t[p[0]] | t[p[1]] | t[p[2]] | t[p[3]];
    for (; p < end; p++)
        acc |= t[*p];
    return acc;
}

/* Bytes that are not an RFC 7230 tchar (A-Z a-z 0-9 ! # $ % & ' * + - . ^
 * _ ` | ~ are): a cookie name is made of tchars. */
static const unsigned char not_tchar[256] = {
    [0 ... ' '] = 1, ['"'] = 1, ['('] = 1, [')'] = 1, [','] = 1, ['/'] = 1,
    [':' ... '@'] = 1, ['[' ... ']'] = 1, ['{'] = 1, ['}'] = 1, [0x7f ... 0xff] = 1,
};

static int name_ok_n(const char *s, apr_size_t len)
{
    return len > 0 && !class_or(not_tchar, s, s + len);
}

int nsso_cookie_name_ok(const char *s)
{
    return s != NULL && name_ok_n(s, strlen(s));
}

int nsso_cookie_value_ok(const char *s)
{
    apr_size_t i, len;

    if (s == NULL)
        return 0;
    len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    for (i = 0; i < len; i++) {
        if (!is_cookie_octet((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* ---- parsing ------------------------------------------------------------- */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrow [*b, *e) by leading and trailing spaces/tabs. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_ows(**b))
        (*b)++;
    while (*e > *b && is_ows((*e)[-1]))
        (*e)--;
}

/* What a byte means to the one-pass scan of a piece: where it ends,
 * whether a value holding it is refused (a control character; a tab is one
 * too, but only inside the value: trim() drops those around it), and
 * whether it is outside base64url (A-Z a-z 0-9 - _), the alphabet of the
 * module's own cookie values. */
enum { SCAN_END = 1, SCAN_CTL = 2, SCAN_TAB = 4, SCAN_NB64 = 8 };
static const unsigned char scan_class[256] = {
    [0] = SCAN_END | SCAN_CTL | SCAN_NB64, [1 ... 8] = SCAN_CTL | SCAN_NB64,
    ['\t'] = SCAN_TAB | SCAN_NB64, [0x0a ... 0x1f] = SCAN_CTL | SCAN_NB64,
    [' ' ... '+'] = SCAN_NB64, [','] = SCAN_END | SCAN_NB64, ['.' ... '/'] = SCAN_NB64,
    [':'] = SCAN_NB64, [';'] = SCAN_END | SCAN_NB64, ['<' ... '@'] = SCAN_NB64,
    ['[' ... '^'] = SCAN_NB64, ['`'] = SCAN_NB64, ['{' ... '~'] = SCAN_NB64,
    [0x7f] = SCAN_CTL | SCAN_NB64, [0x80 ... 0xff] = SCAN_NB64,
};

/* The end of the piece at b: its ';' or ',' (or the header's end); *ctl
 * (may be NULL) gets the SCAN_ classes of the bytes before it. */
static const char *piece_end(const char *b, int *ctl)
{
    const char *e = b + strcspn(b, ";,");

    if (ctl) /* the classes of the bytes before it (never SCAN_END) */
        *ctl = class_or(scan_class, b, e);
    return e;
}

/* A control character (a tab included) in [s, e). */
static int has_ctl(const char *s, const char *e)
{
    return (class_or(scan_class, s, e) & (SCAN_CTL | SCAN_TAB)) != 0;
}

/* Narrow a value [*vb, *ve) by its surrounding DQUOTEs, if it has both. */
static void unquote(const char **vb, const char **ve)
{
    if (*ve - *vb >= 2 && (*vb)[0] == '"' && (*ve)[-1] == '"') {
        (*vb)++;
        (*ve)--;
    }
}

/* One "name=value" piece [b, e) of the header: its name [*nb, *ne) and
 * value [*vb, *ve) (without surrounding DQUOTEs) when well-formed. */
static int split_pair(const char *b, const char *e, const char **nb, const char **ne,
                      const char **vb, const char **ve)
{
    const char *eq = memchr(b, '=', (apr_size_t)(e - b));

    if (eq == NULL)
        return 0;
    *nb = b;
    *ne = eq;
    *vb = eq + 1;
    *ve = e;
    trim(nb, ne);
    trim(vb, ve);
    if (!name_ok_n(*nb, (apr_size_t)(*ne - *nb)) || has_ctl(*vb, *ve))
        return 0;
    unquote(vb, ve);
    return 1;
}

apr_array_header_t *nsso_cookie_parse(apr_pool_t *p, const char *header)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(nsso_cookie_t));
    const char *pos, *e, *nb, *ne, *vb, *ve;

    if (header == NULL)
        return out;
    /* ';' separates pairs; ',' separates joined headers (never legal in a
     * cookie-value either) */
    for (pos = header; *pos; pos = *e ? e + 1 : e) {
        nsso_cookie_t *ck;

        e = piece_end(pos, NULL);
        if (!split_pair(pos, e, &nb, &ne, &vb, &ve))
            continue;
        ck = apr_array_push(out);
        ck->name = apr_pstrmemdup(p, nb, (apr_size_t)(ne - nb));
        ck->value = apr_pstrmemdup(p, vb, (apr_size_t)(ve - vb));
    }
    return out;
}

/* The piece at pos when it is a well-formed pair called name (nlen bytes,
 * a valid token): its value [*vb, *ve); split_pair's verdict without
 * checking the name of every other cookie. Returns the piece's end. */
static const char *pair_named(const char *pos, const char *name, apr_size_t nlen,
                              const char **vb, const char **ve, int *seen)
{
    const char *b = pos, *e;
    int ctl;

    *vb = NULL;
    while (is_ows(*b))
        b++;
    if (strncmp(b, name, nlen) != 0)
        return piece_end(b, NULL);
    for (b += nlen; is_ows(*b); b++)
        ;
    if (*b != '=') /* a longer name, or no '=' */
        return piece_end(b, NULL);
    e = piece_end(b + 1, &ctl);
    *seen = ctl;
    if (ctl & SCAN_CTL)
        return e;
    *vb = b + 1;
    *ve = e;
    trim(vb, ve);
    if ((ctl & SCAN_TAB) && has_ctl(*vb, *ve)) {
        *vb = NULL;
        return e;
    }
    unquote(vb, ve);
    return e;
}

const char *nsso_cookie_find(apr_pool_t *p, const char *header, const char *name,
                             int *count, int *b64url)
{
    const char *pos = header, *e, *vb, *ve, *found = NULL;
    apr_size_t nlen;
    int n = 0, seen = 0;

    if (count != NULL)
        *count = 0;
    if (b64url != NULL)
        *b64url = 0;
    if (header == NULL || name == NULL || !name_ok_n(name, nlen = strlen(name)))
        return NULL; /* no parsed cookie has an invalid name */
    for (; *pos; pos = *e ? e + 1 : e) {
        e = pair_named(pos, name, nlen, &vb, &ve, &seen);
        if (vb == NULL)
            continue;
        if (n++ == 0) {
            found = apr_pstrmemdup(p, vb, (apr_size_t)(ve - vb));
            /* the whole of the piece after '=' was base64url: no space or
             * quote was trimmed, and the value is that */
            if (b64url != NULL)
                *b64url = !(seen & SCAN_NB64) && ve > vb;
        }
        if (count == NULL)
            break;
    }
    if (count != NULL)
        *count = n;
    return found;
}

const char *nsso_cookie_get(const apr_array_header_t *cookies,
                            const char *name, int *count)
{
    const nsso_cookie_t *ck;
    const char *found = NULL;
    int i, n = 0;

    if (count != NULL)
        *count = 0;
    if (cookies == NULL || name == NULL)
        return NULL;
    ck = (const nsso_cookie_t *)cookies->elts;
    for (i = 0; i < cookies->nelts; i++) {
        if (strcmp(ck[i].name, name) == 0) {
            if (n++ == 0)
                found = ck[i].value;
        }
    }
    if (count != NULL)
        *count = n;
    return found;
}

/* ---- building ------------------------------------------------------------ */

/* Path attribute value: any CHAR except CTLs and ';' (RFC 6265 4.1.1). */
static int path_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (is_ctl(c) || c == ';' || c >= 0x80)
            return 0;
    }
    return 1;
}

/* Domain attribute value: optional leading '.', then LDH labels. */
static int domain_ok(const char *s)
{
    apr_size_t label = 0;

    if (s == NULL)
        return 0;
    if (*s == '.')
        s++;
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        }
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '-') {
            if (++label > 63)
                return 0;
        }
        else {
            return 0;
        }
    }
    return label > 0;
}

static const char *samesite_attr(nsso_samesite_t s)
{
    switch (s) {
    case NSSO_SAMESITE_LAX:
        return "; SameSite=Lax";
    case NSSO_SAMESITE_STRICT:
        return "; SameSite=Strict";
    case NSSO_SAMESITE_NONE:
        return "; SameSite=None";
    case NSSO_SAMESITE_NONE_SET:
    default:
        return "";
    }
}

/* The __Host- / __Secure- name prefixes carry requirements browsers enforce
 * by dropping the cookie; refuse rather than emit one that would vanish. */
static int prefix_rules_ok(const char *name, const nsso_cookie_opts_t *o,
                           const char *path, int secure)
{
    if (strncmp(name, "__Host-", 7) == 0)
        return secure && o->domain == NULL && strcmp(path, "/") == 0;
    if (strncmp(name, "__Secure-", 9) == 0)
        return secure;
    return 1;
}

char *nsso_cookie_build(apr_pool_t *p, const char *name, const char *value,
                        const nsso_cookie_opts_t *opts)
{
    static const nsso_cookie_opts_t defaults = {
        "/", NULL, -1, 1, 1, NSSO_SAMESITE_LAX
    };
    const nsso_cookie_opts_t *o = opts ? opts : &defaults;
    const char *path = o->path ? o->path : "/";
    const char *age = "";
    int secure;

    if (!nsso_cookie_name_ok(name) || !nsso_cookie_value_ok(value))
        return NULL;
    if (strlen(name) + strlen(value) > NSSO_COOKIE_MAX_SIZE)
        return NULL;
    if (!path_ok(path) || (o->domain != NULL && !domain_ok(o->domain)))
        return NULL;
    /* Browsers drop SameSite=None cookies that are not Secure. */
    secure = o->secure || o->samesite == NSSO_SAMESITE_NONE;
    if (!prefix_rules_ok(name, o, path, secure))
        return NULL;
    if (o->max_age == 0)
        age = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    else if (o->max_age > 0)
        age = apr_psprintf(p, "; Max-Age=%ld", o->max_age);
    return apr_pstrcat(p, name, "=", value, "; Path=", path,
                       o->domain ? "; Domain=" : "", o->domain ? o->domain : "",
                       age, o->httponly ? "; HttpOnly" : "",
                       secure ? "; Secure" : "", samesite_attr(o->samesite),
                       NULL);
}
