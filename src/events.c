/* events.c - one event, counted and audited. The counter and the audit
 * line come from the same call so the metrics and the audit log can never
 * disagree about what happened. */
#include "events.h"
#include "audit.h"

static const char *const audit_names[] = {
    [NSSO_EV_SIGN_IN] = "sign-in",
    [NSSO_EV_SIGN_IN_FAILED] = "sign-in-failed",
    [NSSO_EV_SIGN_OUT] = "sign-out",
    [NSSO_EV_DENIED] = "denied",
    [NSSO_EV_EXPIRED] = "expired",
    [NSSO_EV_REFRESHED] = NULL,
    [NSSO_EV_REFRESH_FAILED] = "refresh-failed",
    [NSSO_EV_REVOKED] = "revoked",
    [NSSO_EV_BEARER_ACCEPTED] = NULL,
    [NSSO_EV_BEARER_REFUSED] = "bearer-refused",
    [NSSO_EV_SESSIONS_ENDED] = "sessions-ended",
};

/* Count ev; its reason's label for the audit line (NULL: none). */
static const char *count(nsso_event_t ev, int reason, int n)
{
    switch (ev) {
    case NSSO_EV_SIGN_IN:
        nsso_metrics_count(NSSO_M_SIGN_INS);
        break;
    case NSSO_EV_SIGN_IN_FAILED:
        nsso_metrics_sign_in_failed((nsso_fail_reason_t)reason);
        return nsso_fail_reason_name((nsso_fail_reason_t)reason);
    case NSSO_EV_SIGN_OUT:
        nsso_metrics_count(NSSO_M_SIGN_OUTS);
        break;
    case NSSO_EV_DENIED:
        nsso_metrics_count(NSSO_M_DENIALS);
        break;
    case NSSO_EV_REFRESHED:
        nsso_metrics_refresh(NSSO_REFRESH_OK);
        break;
    case NSSO_EV_REFRESH_FAILED:
        nsso_metrics_refresh((nsso_refresh_result_t)reason);
        return nsso_refresh_result_name((nsso_refresh_result_t)reason);
    case NSSO_EV_BEARER_ACCEPTED:
        nsso_metrics_bearer(NSSO_BEARER_ACCEPTED);
        break;
    case NSSO_EV_BEARER_REFUSED:
        nsso_metrics_bearer((nsso_bearer_result_t)reason);
        return nsso_bearer_result_name((nsso_bearer_result_t)reason);
    case NSSO_EV_SESSIONS_ENDED:
        nsso_metrics_sessions_ended(reason != 0, n);
        return reason ? "administrator" : "all-devices";
    case NSSO_EV_EXPIRED:
    case NSSO_EV_REVOKED:
        break;
    }
    return NULL;
}

void nsso_event(request_rec *r, nsso_event_t ev, const nsso_event_info_t *info)
{
    nsso_audit_entry_t e = { 0 };

    e.reason = count(ev, info->reason, info->count);
    if ((unsigned)ev >= sizeof(audit_names) / sizeof(audit_names[0]) || !audit_names[ev])
        return;
    e.event = audit_names[ev];
    e.session = info->session;
    e.user = info->user;
    e.session_id = info->session_id;
    e.rule = info->rule;
    e.target = info->target;
    e.count = ev == NSSO_EV_SESSIONS_ENDED ? info->count : -1;
    nsso_audit_write(r, &e);
}
