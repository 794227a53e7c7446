/* health.h - SetHandler nomis-sso-health: is this server able to sign
 * people in (HMPPS Auth reachable, session store reachable)? */
#ifndef NSSO_HEALTH_H
#define NSSO_HEALTH_H

#include "config.h"

#define NSSO_HEALTH_HANDLER "nomis-sso-health"

/* How long one child reuses a health result, so probes (load balancers,
 * Kubernetes) never hammer HMPPS Auth. */
#define NSSO_HEALTH_CACHE_SECONDS 5

/* The content handler: DECLINED unless r->handler is nomis-sso-health. */
int nsso_health_handler(request_rec *r);

/* The per-child cache and its mutex. */
void nsso_health_child_init(apr_pool_t *pchild, server_rec *s);

#endif
