/* respond.h - building blocks of the module's own responses. */
#ifndef NSSO_RESPOND_H
#define NSSO_RESPOND_H

#include "config.h"

/* https as the browser sees it (X-Forwarded-Proto when trusted). */
int nsso_is_https(request_rec *r);
/* scheme://host[:port] of this request as the browser sees it. */
const char *nsso_request_base(request_rec *r);

/* Set-Cookie (in err_headers_out, so it survives error answers): Path=/,
 * HttpOnly, Secure over https or with SameSite=None. max_age < 0: session
 * cookie; 0: delete. */
void nsso_add_cookie(request_rec *r, const nsso_srv_conf *c, const char *name,
                     const char *value, long max_age, nsso_samesite_t samesite);
void nsso_clear_cookie(request_rec *r, const nsso_srv_conf *c, const char *name);

void nsso_no_store(request_rec *r);

/* A short HTML page with this status, sent now; returns OK for a handler. */
int nsso_error_page(request_rec *r, int status, const char *title, const char *message);

/* The fields of a small application/x-www-form-urlencoded POST body (read
 * once): at most 16 fields, values over 4 KB and repeated names dropped
 * (the first counts). Empty when the body is not such a form. */
apr_table_t *nsso_read_form(request_rec *r);

#endif
