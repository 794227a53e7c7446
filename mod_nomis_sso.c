/* mod_nomis_sso.c - the module record: directive table, per-server config
 * hooks and hook registration. All logic lives in src/. */
#include "nsso.h"
#include "config.h"
#include "audit.h"
#include "authz.h"
#include "bearer.h"
#include "expose.h"
#include "handlers.h"
#include "health.h"
#include "metrics.h"
#include "password.h"
#include "runtime.h"
#include "scrape.h"
#include "sessions.h"

#include <http_request.h>
#include <http_protocol.h>
#include <mod_auth.h>

static int nsso_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    int rc = nsso_config_check(pconf, plog, ptemp, s);

    return rc == OK ? nsso_audit_check_config(ptemp, s) : rc;
}

/* The audit logs and the metrics segment, whether or not a server signs
 * anyone in (a server may only scrape, or log for its virtual hosts). */
static int nsso_ops_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    if (nsso_metrics_post_config(s) != APR_SUCCESS)
        return !OK;
    return nsso_audit_post_config(pconf, s);
}

static void nsso_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(nsso_runtime_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(nsso_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(nsso_runtime_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* after the runtime: it warns for the servers the runtime gave keys */
    ap_hook_post_config(nsso_password_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_post_config(nsso_ops_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(nsso_expose_child_init, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_child_init(nsso_runtime_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(nsso_bearer_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(nsso_health_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(nsso_health_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(nsso_metrics_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(nsso_quick_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(nsso_scrape_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(nsso_sessions_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(nsso_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_post_read_request(nsso_expose_early, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_force_authn(nsso_expose_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(nsso_authz_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    nsso_authz_register(p);
    ap_hook_fixups(nsso_expose_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_note_auth_failure(nsso_note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
}

NSSO_EXPORT module AP_MODULE_DECLARE_DATA nomis_sso_module = {
    STANDARD20_MODULE_STUFF,
    nsso_create_dir_conf,
    nsso_merge_dir_conf,
    nsso_create_srv_conf,
    nsso_merge_srv_conf,
    nsso_directives,
    nsso_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
