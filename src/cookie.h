/* cookie.h - parsing the Cookie request header and building Set-Cookie
 * values. Pure string handling (RFC 6265), no httpd dependency. */
#ifndef NSSO_COOKIE_H
#define NSSO_COOKIE_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *name;
    const char *value;
} nsso_cookie_t;

/* Every cookie in one or more Cookie headers (already joined with "; " or
 * ", " by httpd), in order; malformed pairs (no '=', empty name, control
 * characters) are skipped. Values are not decoded; surrounding DQUOTEs are
 * removed. Never NULL. */
apr_array_header_t *nsso_cookie_parse(apr_pool_t *p, const char *header);

/* Value of the cookie called name (case-sensitive), or NULL. *count (may be
 * NULL) always receives the number of occurrences (0, 1, ...); with
 * duplicates the first value is returned. */
const char *nsso_cookie_get(const apr_array_header_t *cookies,
                            const char *name, int *count);

/* The same as nsso_cookie_get(nsso_cookie_parse(p, header), name, count)
 * without making the whole array: the one cookie a request's hot path
 * looks for. The value is copied into p. *b64url (may be NULL) is set to 1
 * when that value is not empty and every byte of it is base64url
 * (A-Z a-z 0-9 - _); 0 says nothing (it may still be, after a trim). */
const char *nsso_cookie_find(apr_pool_t *p, const char *header, const char *name,
                             int *count, int *b64url);

typedef enum { NSSO_SAMESITE_NONE_SET = 0, NSSO_SAMESITE_LAX,
               NSSO_SAMESITE_STRICT, NSSO_SAMESITE_NONE } nsso_samesite_t;

typedef struct {
    const char *path;        /* default "/" */
    const char *domain;      /* NULL: host-only */
    long max_age;            /* < 0: session cookie; 0: delete (also Expires in the past) */
    int secure;
    int httponly;
    nsso_samesite_t samesite;
} nsso_cookie_opts_t;

/* Longest name + value nsso_cookie_build emits (browsers drop longer). */
#define NSSO_COOKIE_MAX_SIZE 4096

/* "name=value; Path=/; Domain=..; Max-Age=..; HttpOnly; Secure; SameSite=Lax"
 * NULL (refused) when name or value is invalid, name + value is longer than
 * NSSO_COOKIE_MAX_SIZE, path/domain hold characters they may not, or a
 * "__Host-" / "__Secure-" name breaks its prefix rules. SameSite=None implies
 * Secure. opts NULL means: Path=/, session cookie, HttpOnly, Secure,
 * SameSite=Lax. */
char *nsso_cookie_build(apr_pool_t *p, const char *name, const char *value,
                        const nsso_cookie_opts_t *opts);

/* 1 if s is a valid cookie-name token / cookie-value (RFC 6265 4.1.1). */
int nsso_cookie_name_ok(const char *s);
int nsso_cookie_value_ok(const char *s);

#endif
