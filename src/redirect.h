/* redirect.h - deciding whether a URL the module is asked to send a browser
 * to is safe: only same-host, absolute paths ("/..."), never scheme-relative
 * ("//host"), backslash tricks, control characters or encoded variants that
 * browsers would turn into another host. Pure string logic. */
#ifndef NSSO_REDIRECT_H
#define NSSO_REDIRECT_H

#include <apr_pools.h>

/* 1 if target is a local path a browser will resolve on the current host. */
int nsso_redirect_path_ok(const char *target);

/* The local return URL for a request: unparsed_uri when it is a safe local
 * path, else "/". */
const char *nsso_redirect_return_url(apr_pool_t *p, const char *unparsed_uri);

#endif
