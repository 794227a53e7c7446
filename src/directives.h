/* directives.h - one source for every NomisSSO* directive fact: the
 * settings structs the directives fill (per server, per directory, global)
 * and the table of directives (rows in directives.def: name, where valid,
 * field, kind and bounds, default, help). config.c builds httpd's command
 * table, the create/merge functions and the effective-value getters from
 * it; tests/unit/test_directives checks docs/directives.md against it.
 * Pure: no httpd dependency (libnsso). */
#ifndef NSSO_DIRECTIVES_H
#define NSSO_DIRECTIVES_H

#include <apr_pools.h>
#include <apr_file_io.h>
#include <apr_tables.h>
#include "cookie.h"
#include "crypto.h"
#include "jwt.h"
#include "redis.h"

#define NSSO_UNSET (-1)

/* One NomisSSOPassClaim: the token claim and the names it is passed as. */
typedef struct {
    const char *claim;             /* top-level claim name */
    const char *env;               /* NOMIS_SSO_<NAME> */
    const char *header;            /* X-Nomis-<Name> */
} nsso_pass_claim_t;

typedef struct {
    /* where the directive values came from, to name them in errors */
    const char *auth_url;          /* browser-facing base, no trailing '/' */
    const char *internal_url;      /* server-to-server base; NULL: auth_url */
    const char *client_id;
    const char *client_secret;     /* resolved */
    const char *redirect_uri;      /* path or absolute URL */
    const char *passphrases[2];    /* resolved */
    int npassphrases;
    const char *issuer;            /* NULL: <auth_url>/issuer */
    apr_array_header_t *algs;      /* allowed JWS algs; NULL: RS256 */
    int clock_skew;                /* seconds */
    const char *cookie_name;
    int samesite;                  /* nsso_samesite_t, NSSO_UNSET */
    int ssl_verify;                /* NSSO_UNSET / 0 / 1 */
    int http_timeout;              /* seconds */
    int state_timeout;             /* seconds a login may take */
    int max_state_cookies;
    int jwks_refetch;              /* seconds between unknown-kid refetches */
    const char *ca_file;
    const char *info_uri;          /* session-info JSON path; NULL: off */
    const char *caseload_url;      /* NULL: <internal>/api/user/me; "" : off */
    int trust_forwarded;           /* NSSO_UNSET / 0 / 1 */
    int refresh_before;            /* seconds; 0: never refresh */
    int inactivity_timeout;        /* seconds */
    int max_duration;              /* seconds */
    const char *logout_uri;        /* path */
    const char *post_logout_url;   /* path or absolute URL; NULL: "/" */
    apr_array_header_t *redirect_allowed; /* ap_regex_t * */
    const char *signout_path;      /* at HMPPS Auth; NULL: /sign-out */
    const char *verify_url;        /* token verification API base; NULL: off */
    int verify_interval;           /* seconds */
    int verify_fail_open;          /* NSSO_UNSET / 0 / 1 */
    int password_grant;            /* NomisSSOGrantType password: 1 */
    const char *password_uri;      /* our sign-in form; NULL: /nomis-sso/sign-in */
    int password_allow_http;       /* NSSO_UNSET / 0 / 1 */
    int discovery;                 /* NSSO_UNSET / 0 / 1 (default 1) */
    const char *jwks_url;          /* NULL: discovered or <internal>/.well-known/jwks.json */
    apr_array_header_t *pass_claims; /* nsso_pass_claim_t; NULL: none */
    int any_set;                   /* some NomisSSO* directive appears here */
    const char *audit_log;         /* file (ServerRoot-relative) or "|program"; NULL: off */

    /* built in post_config / child_init */
    nsso_crypto *crypto;
    const char *realm;             /* realm id (realm.h): in every store key */
    nsso_jwks_cache *jwks;         /* per child process */
    struct nsso_endpoints *endpoints; /* endpoints.h: defaults or discovered */
    apr_uint32_t missing_logged;   /* apr_time_sec of the last "directive
                                    * missing" log line (this process) */
    apr_file_t *audit;             /* NomisSSOAuditLog, opened in post_config */
} nsso_srv_conf;

/* What to do with a request that has no session. */
typedef enum { NSSO_UNAUTH_AUTH = 1, NSSO_UNAUTH_401, NSSO_UNAUTH_PASS } nsso_unauth_t;

#define NSSO_PASS_HEADERS 1
#define NSSO_PASS_ENV 2

/* Per-directory (<Location>, <Directory>, .htaccess) settings. */
typedef struct {
    int unauth_action;        /* nsso_unauth_t or NSSO_UNSET (auth) */
    int unauthz_status;       /* 403 / 401 / 302 (to unauthz_url), NSSO_UNSET: 403 */
    const char *unauthz_url;
    int pass;                 /* NSSO_PASS_* bits, NSSO_UNSET: both */
    int pass_token;           /* NSSO_UNSET / 0 / 1 */
    int accept_bearer;        /* NSSO_UNSET / 0 / 1 */
    int no_store;             /* NSSO_UNSET / 0 / 1 (default 1) */
    apr_array_header_t *bearer_clients; /* client_ids a bearer token may come
                                         * from; NULL: any */
} nsso_dir_conf;

/* Global (main server only) settings. */
typedef struct {
    int cache_entries;
    int cache_entry_size;
    const char *store_spec;   /* NULL: shm; else "provider[:args]" of socache */
    nsso_redis_settings redis; /* redis.url set: our own Redis client */
    int metrics;              /* NomisSSOMetrics: count for nomis-sso-metrics */
} nsso_global_conf;

/* ---- the table ------------------------------------------------------------ */

typedef enum {
    NSSO_DK_INT,      /* a whole number within [min, max] */
    NSSO_DK_FLAG,     /* On / Off */
    NSSO_DK_ENUM,     /* one of enums->v (the first is the default) */
    NSSO_DK_PATH,     /* a local path, no query */
    NSSO_DK_CUSTOM    /* parsed by its own setter in config.c */
} nsso_dkind_t;

/* Where a directive is valid (httpd's req_override, see directives.def). */
typedef enum {
    NSSO_DC_SERVER, NSSO_DC_GLOBAL, NSSO_DC_AUTHCFG, NSSO_DC_ACCESS
} nsso_dcontext_t;

/* Which settings struct a directive's field is in. */
typedef enum { NSSO_DS_SERVER, NSSO_DS_DIR, NSSO_DS_GLOBAL } nsso_dstruct_t;

/* The field's type: INT and PTR fields are unset and merged by the table;
 * NONE fields by config.c. */
typedef enum { NSSO_DF_NONE, NSSO_DF_INT, NSSO_DF_PTR } nsso_dfield_t;

typedef struct {
    const char *name;
    int value;
} nsso_enum_value_t;

typedef struct {
    int exact;                   /* names compared case-sensitively */
    nsso_enum_value_t v[6];      /* ends at a NULL name; v[0] is the default */
} nsso_enum_t;

typedef struct {
    const char *name;
    nsso_dkind_t kind;
    nsso_dcontext_t context;
    nsso_dstruct_t in;
    apr_size_t offset;           /* of the field in its struct */
    nsso_dfield_t ftype;
    int min, max;                /* NSSO_DK_INT */
    int idef;                    /* NSSO_DK_INT, NSSO_DK_FLAG default */
    const char *sdef;            /* NSSO_DK_PATH, NSSO_DK_CUSTOM default value */
    const char *no_default;      /* else what happens, as the docs say it */
    const nsso_enum_t *enums;    /* NSSO_DK_ENUM */
    const char *help;            /* as httpd shows it */
} nsso_directive_t;

enum {
#define NSSO_INT(id, ...) NSSO_D_##id,
#define NSSO_FLAG(id, ...) NSSO_D_##id,
#define NSSO_ENUM(id, ...) NSSO_D_##id,
#define NSSO_PATH(id, ...) NSSO_D_##id,
#define NSSO_CUSTOM(id, ...) NSSO_D_##id,
#include "directives.def"
#undef NSSO_INT
#undef NSSO_FLAG
#undef NSSO_ENUM
#undef NSSO_PATH
#undef NSSO_CUSTOM
    NSSO_D_COUNT
};

extern const nsso_directive_t nsso_directive_table[NSSO_D_COUNT];

/* The row named name (case-insensitive, as httpd), or NULL. */
const nsso_directive_t *nsso_directive_find(const char *name);

/* A directive's default as a number (INT, FLAG, ENUM). */
int nsso_directive_default_int(const nsso_directive_t *d);

/* v, or the directive id's default when v is NSSO_UNSET. */
static inline int nsso_directive_or_default(int v, int id)
{
    return v != NSSO_UNSET ? v : nsso_directive_default_int(&nsso_directive_table[id]);
}

/* p, or the directive id's default value (NULL when it has none). */
static inline const char *nsso_directive_or_default_str(const char *p, int id)
{
    return p ? p : nsso_directive_table[id].sdef;
}

/* The default as docs/directives.md writes it after "default": " `30`",
 * ": off"; NULL for a required directive. */
const char *nsso_directive_default_doc(apr_pool_t *p, const nsso_directive_t *d);

/* Parse arg for an INT, ENUM or PATH directive into its field of conf (the
 * struct d->in names). NULL on success, else why not (without the name). */
const char *nsso_directive_parse(apr_pool_t *p, const nsso_directive_t *d,
                                 const char *arg, void *conf);
/* Set an INT, FLAG or ENUM directive's field of conf to v. */
void nsso_directive_set_int(const nsso_directive_t *d, void *conf, int v);

/* Every INT field of struct in set to NSSO_UNSET (SERVER, DIR) or, for
 * GLOBAL, every field to its default; PTR fields NULL. */
void nsso_directives_reset(void *conf, nsso_dstruct_t in);
/* m's table fields: add's where set, else base's. */
void nsso_directives_merge(void *m, const void *base, const void *add, nsso_dstruct_t in);

/* 1 if the directive has neither a default nor a documented absence (its
 * field must then be a pointer, set when the directive is). */
int nsso_directive_required(const nsso_directive_t *d);
/* NomisSSOPassClaim claim NAME appended to *list (made when NULL): NULL,
 * else why not (without the directive's name). NAME is [A-Z0-9_], at most
 * 32 characters, not one the module passes itself (USER, ROLES, ...) nor
 * one given already; the claim a JSON name without control character or
 * space, at most 64 bytes, not given already; at most NSSO_MAX_PASS_CLAIMS
 * in all. "ESTABLISHMENT_CODE" becomes NOMIS_SSO_ESTABLISHMENT_CODE and
 * X-Nomis-Establishment-Code. */
const char *nsso_pass_claim_add(apr_pool_t *p, apr_array_header_t **list,
                                const char *claim, const char *name);

/* The first required directive c lacks, or NULL. */
const char *nsso_directive_missing(const nsso_srv_conf *c);

#endif
