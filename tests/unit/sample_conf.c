/* sample_conf.c - writes conf.d/nomis_sso.conf from the directive table
 * (src/directives.def): every directive, commented out, with its help and
 * its default, in sections. What the table cannot say lives here: which
 * section a directive is shown in, and an example value for the directives
 * without a default value of their own. `make sample-conf` writes the file;
 * tests/unit/test_directives fails when the file differs from what this
 * makes, so the sample cannot drift from the code. */
#include "sample_conf.h"

#include <string.h>
#include <apr_strings.h>

#define WIDTH 78          /* longest comment line */
#define INDENT "    "

typedef struct {
    const char *title;
    const char *intro;            /* NULL: none */
    const char *const names[16];  /* ends at NULL */
} section;

/* Sections, in the order of docs/directives.md. A directive named in none
 * is shown under "Other settings" at the end, so a new row never goes
 * missing from the sample: it just asks to be placed here. */
static const section sections[] = {
    { "Connection to HMPPS Auth",
      "Keep the client secret out of this file: env:NAME reads an environment "
      "variable (see /etc/apache2/envvars), file:/path the first line of a file.",
      { "NomisSSOAuthURL", "NomisSSOAuthInternalURL", "NomisSSOClientID",
        "NomisSSOClientSecret", "NomisSSORedirectURI", "NomisSSOIssuer",
        "NomisSSOTokenAlgorithms", "NomisSSOClockSkew", "NomisSSOJWKSRefetchInterval",
        "NomisSSOSSLVerify", "NomisSSOCACertificateFile", "NomisSSOHTTPTimeout",
        "NomisSSODiscovery", "NomisSSOJWKSURL", NULL } },
    { "Cookies and sign-in state",
      "The passphrase protects the state and session cookies: at least 32 characters, "
      "e.g. from `openssl rand -base64 32`. To change it without signing everyone "
      "out, put the new one first and the old one second until old cookies expire.",
      { "NomisSSOCryptoPassphrase", "NomisSSOCookieName", "NomisSSOCookieSameSite",
        "NomisSSOStateTimeout", "NomisSSOStateCookieLimit",
        "NomisSSOTrustForwardedHeaders", NULL } },
    { "Session store (main server only)",
      "With refresh a session lives up to NomisSSOSessionMaxDuration: size the store "
      "for everyone who signs in over that time, plus room for sign-ins in progress "
      "and cached bearer tokens (docs/operations.md, Sizing the session store).",
      { "NomisSSOSessionStore", "NomisSSOSessionCacheEntries",
        "NomisSSOSessionCacheEntrySize", "NomisSSOSessionStorePassword",
        "NomisSSOSessionStoreCACertificateFile", "NomisSSOSessionStoreCertificateFile",
        "NomisSSOSessionStoreCertificateKeyFile", NULL } },
    { "Session lifetime, refresh and revocation", NULL,
      { "NomisSSORefreshBeforeExpiry", "NomisSSOSessionInactivityTimeout",
        "NomisSSOSessionMaxDuration", "NomisSSOTokenVerificationURL",
        "NomisSSOTokenVerificationInterval", "NomisSSOTokenVerificationFailure", NULL } },
    { "Sign-out", NULL,
      { "NomisSSOLogoutURI", "NomisSSOPostLogoutURL", "NomisSSORedirectURLsAllowed",
        "NomisSSOAuthSignOutPath", NULL } },
    { "What handlers behind the module receive", NULL,
      { "NomisSSOPass", "NomisSSOPassAccessToken", "NomisSSOPassClaim",
        "NomisSSOCaseloadURL", "NomisSSOInfoURI", NULL } },
    { "Per location (set here: the server's default)", NULL,
      { "NomisSSOUnauthAction", "NomisSSOUnauthzAction", "NomisSSOAcceptBearer",
        "NomisSSOBearerClients", "NomisSSONoStore", NULL } },
    { "Metrics and audit log", NULL,
      { "NomisSSOMetrics", "NomisSSOAuditLog", NULL } },
    { "Password-grant fallback (off by default)", NULL,
      { "NomisSSOGrantType", "NomisSSOPasswordFormURI", "NomisSSOPasswordAllowHTTP",
        NULL } },
};

typedef struct {
    const char *name;
    int fill;           /* 1: "#Name value", a value to put in when used;
                         * 0: "# Name value", an example beside the default */
    const char *value;
} example;

/* Values for the directives without a default value of their own. */
static const example examples[] = {
    { "NomisSSOAuthURL", 1, "https://sign-in-dev.hmpps.service.justice.gov.uk/auth" },
    { "NomisSSOAuthInternalURL", 1, "http://hmpps-auth.internal:8080/auth" },
    { "NomisSSOClientID", 1, "allocation-manager" },
    { "NomisSSOClientSecret", 1, "file:/etc/apache2/nomis-sso/client-secret" },
    { "NomisSSOCryptoPassphrase", 1, "file:/etc/apache2/nomis-sso/passphrase" },
    { "NomisSSOIssuer", 0, "https://sign-in-dev.hmpps.service.justice.gov.uk/auth/issuer" },
    { "NomisSSOCACertificateFile", 0, "/etc/ssl/certs/ca-certificates.crt" },
    { "NomisSSOTokenVerificationURL", 0,
      "https://token-verification-api-dev.prison.service.justice.gov.uk" },
    { "NomisSSORedirectURLsAllowed", 0, "^https://[a-z0-9-]+\\.hmpps\\.service\\.justice\\.gov\\.uk/" },
    { "NomisSSOPassClaim", 0, "passed_mfa PASSED_MFA" },
    { "NomisSSOCaseloadURL", 0,
      "https://manage-users-api-dev.hmpps.service.justice.gov.uk/users/me/caseloads" },
    { "NomisSSOInfoURI", 0, "/nomis-sso/info" },
    { "NomisSSOBearerClients", 0, "allocation-manager-api" },
    { "NomisSSOJWKSURL", 0,
      "https://sign-in-dev.hmpps.service.justice.gov.uk/auth/.well-known/jwks.json" },
    { "NomisSSOSessionStorePassword", 0, "file:/etc/apache2/nomis-sso/redis-password" },
    { "NomisSSOSessionStoreSentinelPassword", 0, "file:/etc/apache2/nomis-sso/sentinel-password" },
    { "NomisSSOSessionStoreCACertificateFile", 0, "/etc/ssl/certs/ca-certificates.crt" },
    { "NomisSSOSessionStoreCertificateFile", 0, "/etc/apache2/nomis-sso/redis-client.crt" },
    { "NomisSSOSessionStoreCertificateKeyFile", 0, "/etc/apache2/nomis-sso/redis-client.key" },
    { "NomisSSOAuditLog", 0, "/var/log/apache2/nomis-sso-audit.log" },
};

static const char header[] =
    "# mod_nomis_sso - example configuration (Debian: /etc/apache2/mods-available/).\n"
    "# Enable with `a2enmod nomis_sso`, fill in the four values marked required\n"
    "# below, then `apachectl configtest && systemctl reload apache2`.\n"
    "#\n"
    "# Every NomisSSO* directive is listed, commented out, with one line of help.\n"
    "# \"#Directive value\" shows its default, or for a required one an example to\n"
    "# replace: uncomment it to change it. \"# Directive value\" is an example for a\n"
    "# directive that is off, or derived from another, unless set.\n"
    "# docs/directives.md says more about each.\n"
    "#\n"
    "# Generated from src/directives.def by `make sample-conf` (sections and\n"
    "# examples: tests/unit/sample_conf.c); `make check` fails when they differ.\n"
    "\n"
    "<IfModule nomis_sso_module>\n";

static const char trailer[] =
    "</IfModule>\n"
    "\n"
    "# Then protect what needs protecting, e.g. the whole allocation manager:\n"
    "#\n"
    "#<Location />\n"
    "#    AuthType nomis-sso\n"
    "#    Require valid-user\n"
    "#</Location>\n"
    "#\n"
    "# Handlers behind it receive REMOTE_USER (the NOMIS username), AUTH_TYPE\n"
    "# (nomis-sso) and NOMIS_SSO_USER, NOMIS_SSO_NAME, NOMIS_SSO_AUTH_SOURCE,\n"
    "# NOMIS_SSO_ROLES (e.g. ALLOC_MGR,POM), NOMIS_SSO_CASELOAD, NOMIS_SSO_CASELOADS,\n"
    "# NOMIS_SSO_USER_ID, NOMIS_SSO_USER_UUID, NOMIS_SSO_EXPIRES, and for a client's\n"
    "# own token NOMIS_SSO_CLIENT_CREDENTIALS and NOMIS_SSO_ON_BEHALF_OF; proxied\n"
    "# applications the same as X-Nomis-* headers (docs/directives.md).\n"
    "#\n"
    "# Administrators can list a member of staff's sessions on every server and\n"
    "# end one or all of them (docs/operations.md, Signing out everywhere); staff\n"
    "# themselves use NomisSSOLogoutURI?scope=all (\"Sign out of all devices\"):\n"
    "#\n"
    "#<Location /admin/sessions>\n"
    "#    SetHandler nomis-sso-sessions\n"
    "#    AuthType nomis-sso\n"
    "#    Require nomis-role MOIC_ADMIN\n"
    "#</Location>\n";

static const example *example_of(const char *name)
{
    apr_size_t i;

    for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        if (!strcmp(examples[i].name, name))
            return &examples[i];
    return NULL;
}

/* text as "    # " comment lines of at most WIDTH characters */
static const char *comment(apr_pool_t *p, const char *text)
{
    const char *out = "", *at = text;
    apr_size_t room = WIDTH - sizeof(INDENT "# ") + 1;

    while (*at) {
        apr_size_t n = strlen(at), cut = n;
        if (n > room) {
            /* break at a space, never just before a directive name: a
             * comment line starting "# NomisSSO..." reads as an example */
            for (cut = room; cut > 0 && (at[cut] != ' ' || !strncmp(at + cut + 1, "NomisSSO", 8));
                 cut--)
                ;
            if (cut == 0)
                cut = strcspn(at, " ");
        }
        out = apr_pstrcat(p, out, INDENT "# ", apr_pstrndup(p, at, cut), "\n", NULL);
        at += cut;
        while (*at == ' ')
            at++;
    }
    return out;
}

/* The directive's default as a value to write after its name, or NULL. */
static const char *default_value(apr_pool_t *p, const nsso_directive_t *d)
{
    switch (d->kind) {
    case NSSO_DK_INT:
        return apr_psprintf(p, "%d", d->idef);
    case NSSO_DK_FLAG:
        return d->idef ? "On" : "Off";
    case NSSO_DK_ENUM:
        return d->enums->v[0].name;
    default:
        return d->sdef;
    }
}

static const char *where(const nsso_directive_t *d)
{
    switch (d->context) {
    case NSSO_DC_GLOBAL:
        return " [main server only]";
    case NSSO_DC_AUTHCFG:
        return " [also <Location>, .htaccess]";
    case NSSO_DC_ACCESS:
        return " [also <Location>, not .htaccess]";
    default:
        return "";
    }
}

/* One directive: help, then the commented-out line. NULL with *err when
 * it has neither a default value nor an example. */
static const char *entry(apr_pool_t *p, const nsso_directive_t *d, const char **err)
{
    const char *value = default_value(p, d), *help;
    const example *ex = example_of(d->name);
    const char *line;

    if (value && !ex)
        line = apr_pstrcat(p, INDENT "#", d->name, " ", value, "\n", NULL);
    else if (ex && !value)
        line = apr_pstrcat(p, INDENT, ex->fill ? "#" : "# ", d->name, " ", ex->value, "\n",
                           NULL);
    else {
        *err = apr_pstrcat(p, d->name, value ? ": has a default and an example"
                                             : ": has neither a default nor an example", NULL);
        return NULL;
    }
    help = apr_pstrcat(p, d->help, nsso_directive_required(d) ? " (required)" : "",
                       where(d), NULL);
    return apr_pstrcat(p, "\n", comment(p, help), line, NULL);
}

static int in_a_section(const char *name)
{
    apr_size_t s;
    int i;

    for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
        for (i = 0; sections[s].names[i]; i++)
            if (!strcmp(sections[s].names[i], name))
                return 1;
    return 0;
}

static const char *heading(apr_pool_t *p, const char *title, const char *intro)
{
    const char *rule = apr_pstrcat(p, INDENT "# ---- ", title, " ", NULL);
    char dashes[WIDTH + 1];
    apr_size_t n = strlen(rule) < WIDTH ? WIDTH - strlen(rule) : 3;

    memset(dashes, '-', n);
    dashes[n] = '\0';
    return apr_pstrcat(p, "\n", rule, dashes, "\n", intro ? comment(p, intro) : "", NULL);
}

const char *nsso_sample_conf(apr_pool_t *p, const char **err)
{
    const char *out = header, *e;
    const nsso_directive_t *d;
    apr_size_t s;
    int i, other = 0;

    *err = NULL;
    for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
        out = apr_pstrcat(p, out, heading(p, sections[s].title, sections[s].intro), NULL);
        for (i = 0; sections[s].names[i]; i++) {
            if (!(d = nsso_directive_find(sections[s].names[i]))) {
                *err = apr_pstrcat(p, sections[s].names[i], ": in a section, not a directive",
                                   NULL);
                return NULL;
            }
            if (!(e = entry(p, d, err)))
                return NULL;
            out = apr_pstrcat(p, out, e, NULL);
        }
    }
    for (i = 0; i < NSSO_D_COUNT; i++) {
        d = &nsso_directive_table[i];
        if (in_a_section(d->name))
            continue;
        if (!other++)
            out = apr_pstrcat(p, out, heading(p, "Other settings", NULL), NULL);
        if (!(e = entry(p, d, err)))
            return NULL;
        out = apr_pstrcat(p, out, e, NULL);
    }
    return apr_pstrcat(p, out, trailer, NULL);
}
