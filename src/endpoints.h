/* endpoints.h - where a server's HMPPS Auth endpoints are (authorize,
 * token, JWKS): the documented defaults under NomisSSOAuthURL /
 * NomisSSOAuthInternalURL, replaced by what HMPPS Auth's discovery document
 * says once it has been read (discovery.h), except where a directive names
 * the place explicitly. */
#ifndef NSSO_ENDPOINTS_H
#define NSSO_ENDPOINTS_H

#include "config.h"
#include <apr_hash.h>

/* post_config, for every server with NomisSSOAuthURL: the server's
 * endpoints on the defaults, then (not in httpd's first, trial pass) read
 * the discovery document once per distinct HMPPS Auth, in the parent, so
 * every child starts with it. A failure is logged and never stops httpd:
 * the defaults stay and the children retry. seen: ptemp hash shared by the
 * servers of one pass. */
void nsso_endpoints_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                         apr_hash_t *seen);

/* child_init: the lock that lets request threads read while a refresh
 * writes. */
void nsso_endpoints_child_init(apr_pool_t *pchild, nsso_srv_conf *c);

/* Read the document again if it was never read, or was read at least
 * NomisSSOJWKSRefetchInterval seconds ago; called before each JWKS fetch
 * (so at most as often, one thread at a time per server). 1 when the
 * endpoints in use come from a document (or discovery is off), 0 while on
 * the defaults. */
int nsso_endpoints_refresh(apr_pool_t *p, server_rec *s);

/* The endpoints now in use (copied into p). */
const char *nsso_endpoints_authorize(apr_pool_t *p, const nsso_srv_conf *c);
const char *nsso_endpoints_token(apr_pool_t *p, const nsso_srv_conf *c);
const char *nsso_endpoints_jwks(apr_pool_t *p, const nsso_srv_conf *c);

#endif
