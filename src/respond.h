/* respond.h - building blocks of the module's own responses: base URL,
 * Set-Cookie (the one place that writes or clears a cookie), no-store, and
 * the one renderer of every HTML page the module writes. */
#ifndef NSSO_RESPOND_H
#define NSSO_RESPOND_H

#include "config.h"
#include <jansson.h>

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

/* Page flags. Every page: Cache-Control no-store, text/html; charset=utf-8,
 * nosniff and CSP default-src 'none'; style-src 'unsafe-inline'. A page
 * with a form is never framed (frame-ancestors 'none', X-Frame-Options
 * DENY); NSSO_PAGE_FORM_SELF adds form-action 'self' for a form whose
 * answer stays on this site (sign-out's leads on to HMPPS Auth, so not). */
#define NSSO_PAGE_FORM 1
#define NSSO_PAGE_FORM_SELF 3   /* includes NSSO_PAGE_FORM */

/* Sets the headers above (in err_headers_out: they survive error answers). */
void nsso_page_headers(request_rec *r, int flags);
/* The page skeleton: title is text (escaped here), body HTML (escaped by
 * the caller). */
const char *nsso_page_html(apr_pool_t *p, const char *title, const char *body);
/* Sends the page now with status (headers and skeleton as above); returns
 * OK for a handler. A refusal (status >= 400, no form) is logged with the
 * request id (NSSO1520) and, when the sysadmin set an ErrorDocument for
 * status, not sent: the status is returned so httpd serves theirs. Else the
 * page gains the request id paragraph (nsso_page_reference). */
int nsso_page_send(request_rec *r, int status, const char *title, const char *body,
                   int flags);

/* The sysadmin's ErrorDocument for status (text, local path or URL), or
 * NULL when none applies to r. */
const char *nsso_sysadmin_page(request_rec *r, int status);
/* The paragraph giving the request id for the service desk (HTML). */
const char *nsso_page_reference(request_rec *r);
/* Logs a refusal's status and title with the request id (NSSO1520). */
void nsso_page_log_refusal(request_rec *r, int status, const char *title);

/* A short page: heading title, one paragraph of message (both text), a
 * link back to the service. Sent now (OK), or status for the sysadmin's
 * ErrorDocument (see nsso_page_send): a handler returns what it gets. */
int nsso_error_page(request_rec *r, int status, const char *title, const char *message);

/* doc (its reference taken, NULL: out of memory) as the whole answer,
 * compact, in the order it was built, not to be stored: OK, or 500. */
int nsso_send_json(request_rec *r, int status, json_t *doc);

/* The session store cannot be reached: 503 with Retry-After. The page is
 * sent now from a handler; from check_authn, which answers with a status,
 * it becomes the custom response for HTTP_SERVICE_UNAVAILABLE (returned)
 * unless the sysadmin set an ErrorDocument 503. */
int nsso_store_down_page(request_rec *r);
int nsso_store_down_status(request_rec *r);

/* 1 when the request can follow a redirect to a sign-in page (a browser's
 * top-level GET), 0 for scripts and API callers (they get a 401). */
int nsso_wants_html(request_rec *r);

/* The fields of a small application/x-www-form-urlencoded POST body (read
 * once): at most 16 fields, values over 4 KB and repeated names dropped
 * (the first counts). Empty when the body is not such a form. */
apr_table_t *nsso_read_form(request_rec *r);

#endif
