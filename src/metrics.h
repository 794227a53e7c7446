/* metrics.h - the module's Prometheus counters: one block of counters per
 * child slot in a shared-memory segment kept across graceful restarts,
 * bumped with lock-free atomic adds on the request path and summed over
 * every block when scraped (the text format is rendered here; the
 * nomis-sso-metrics handler is scrape.c). */
#ifndef NSSO_METRICS_H
#define NSSO_METRICS_H

#include "nsso.h"
#include "store.h"

/* What nomis_sso_sign_in_failures_total{reason} counts. */
typedef enum {
    NSSO_FAIL_STATE,            /* callback without a valid, unused state */
    NSSO_FAIL_CANCELLED,        /* HMPPS Auth answered access_denied */
    NSSO_FAIL_AUTH_ERROR,       /* HMPPS Auth answered another error */
    NSSO_FAIL_CODE_REFUSED,     /* the token endpoint refused the code, or the password */
    NSSO_FAIL_AUTH_UNAVAILABLE, /* the token endpoint failed or could not be reached */
    NSSO_FAIL_TOKEN_REFUSED,    /* its access token did not verify or names no staff */
    NSSO_FAIL_STORE,            /* the session could not be stored */
    NSSO_FAIL_N
} nsso_fail_reason_t;

/* nomis_sso_refreshes_total{result} */
typedef enum {
    NSSO_REFRESH_OK, NSSO_REFRESH_REJECTED, NSSO_REFRESH_FAILED, NSSO_REFRESH_N
} nsso_refresh_result_t;

/* nomis_sso_bearer_tokens_total{result} */
typedef enum {
    NSSO_BEARER_ACCEPTED,
    NSSO_BEARER_INVALID,      /* malformed, bad signature, wrong issuer, names no one */
    NSSO_BEARER_EXPIRED,
    NSSO_BEARER_WRONG_CLIENT, /* issued to a client NomisSSOBearerClients does not list */
    NSSO_BEARER_UNAVAILABLE,  /* HMPPS Auth's keys could not be fetched */
    NSSO_BEARER_N
} nsso_bearer_result_t;

/* Plain counters. */
typedef enum {
    NSSO_M_SIGN_INS, NSSO_M_DENIALS, NSSO_M_SIGN_OUTS, NSSO_M_JWKS_REFRESHES,
    NSSO_M_STORE_UNAVAILABLE,   /* requests answered 503: the store could not answer */
    NSSO_M_STORE_FAILOVERS,     /* the Redis primary found gone or demoted */
    NSSO_M_STORE_REPLICA_SHORT, /* new sessions fewer replicas acknowledged than asked */
    NSSO_M_ENDED_BY_USER,     /* sessions ended by "sign out of all devices" */
    NSSO_M_ENDED_BY_ADMIN,    /* sessions ended at the nomis-sso-sessions page */
    NSSO_M_INDEX_EVICTIONS,   /* sessions ended: more than a user's index holds */
    NSSO_M_N
} nsso_counter_t;

/* Label values, for the audit log too. */
const char *nsso_fail_reason_name(nsso_fail_reason_t why);
const char *nsso_refresh_result_name(nsso_refresh_result_t res);
const char *nsso_bearer_result_name(nsso_bearer_result_t res);

/* Counting: no lock, nothing when metrics are off or before post_config. */
void nsso_metrics_count(nsso_counter_t m);
void nsso_metrics_sign_in_failed(nsso_fail_reason_t why);
void nsso_metrics_refresh(nsso_refresh_result_t res);
void nsso_metrics_bearer(nsso_bearer_result_t res);
/* n sessions ended elsewhere, by an administrator (admin 1) or the user. */
void nsso_metrics_sessions_ended(int admin, int n);

/* Create (or keep, across graceful restarts) the segment: one block per
 * child slot the MPM may use. Also installs the HTTP observer that counts
 * calls to HMPPS Auth. NomisSSOMetrics Off: no segment. */
apr_status_t nsso_metrics_post_config(server_rec *s);
/* Each child finds its own block at its first count. */
void nsso_metrics_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 when counting is on (the segment exists). */
int nsso_metrics_on(void);

/* The Prometheus text (format 0.0.4) of every counter, summed over every
 * block; store gauges from st when st is not NULL. */
char *nsso_metrics_render(apr_pool_t *p, const nsso_store_stats_t *st);

#endif
