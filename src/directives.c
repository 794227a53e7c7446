/* directives.c - owns the table of NomisSSO* directives built from
 * directives.def, and what is pure about them: parsing the simple kinds
 * (whole numbers with bounds, On/Off, one of a list, local paths), resetting
 * and merging the fields the table describes, the defaults, which
 * required directive a server lacks, and NomisSSOPassClaim's names. */
#include "directives.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

static const nsso_enum_t samesite_values = { 0, {
    { "Lax", NSSO_SAMESITE_LAX }, { "Strict", NSSO_SAMESITE_STRICT },
    { "None", NSSO_SAMESITE_NONE }, { NULL, 0 } } };
static const nsso_enum_t unauth_values = { 0, {
    { "auth", NSSO_UNAUTH_AUTH }, { "401", NSSO_UNAUTH_401 },
    { "pass", NSSO_UNAUTH_PASS }, { NULL, 0 } } };
static const nsso_enum_t pass_values = { 0, {
    { "both", NSSO_PASS_HEADERS | NSSO_PASS_ENV }, { "headers", NSSO_PASS_HEADERS },
    { "environment", NSSO_PASS_ENV }, { "none", 0 }, { NULL, 0 } } };
static const nsso_enum_t verify_failure_values = { 0, {
    { "fail-closed", 0 }, { "fail-open", 1 }, { NULL, 0 } } };
/* OAuth2 grant types are case-sensitive (RFC 6749 section 8.3) */
static const nsso_enum_t grant_type_values = { 1, {
    { "authorization_code", 0 }, { "password", 1 }, { NULL, 0 } } };

#define IN_SERVER(f) NSSO_DS_SERVER, offsetof(nsso_srv_conf, f)
#define IN_GLOBAL(f) NSSO_DS_GLOBAL, offsetof(nsso_global_conf, f)
#define IN_AUTHCFG(f) NSSO_DS_DIR, offsetof(nsso_dir_conf, f)
#define IN_ACCESS(f) NSSO_DS_DIR, offsetof(nsso_dir_conf, f)
#define FLAG_On 1
#define FLAG_Off 0

const nsso_directive_t nsso_directive_table[NSSO_D_COUNT] = {
#define NSSO_INT(id, name, ctx, field, lo, hi, def, help) \
    { name, NSSO_DK_INT, NSSO_DC_##ctx, IN_##ctx(field), NSSO_DF_INT, lo, hi, def, \
      NULL, NULL, NULL, help " (default " #def ")" },
#define NSSO_FLAG(id, name, ctx, field, def, help) \
    { name, NSSO_DK_FLAG, NSSO_DC_##ctx, IN_##ctx(field), NSSO_DF_INT, 0, 1, FLAG_##def, \
      NULL, NULL, NULL, help " (default " #def ")" },
#define NSSO_ENUM(id, name, ctx, field, values, help) \
    { name, NSSO_DK_ENUM, NSSO_DC_##ctx, IN_##ctx(field), NSSO_DF_INT, 0, 0, 0, \
      NULL, NULL, &(values), help },
#define NSSO_PATH(id, name, ctx, field, def, nodef, help) \
    { name, NSSO_DK_PATH, NSSO_DC_##ctx, IN_##ctx(field), NSSO_DF_PTR, 0, 0, 0, \
      def, nodef, NULL, help },
#define NSSO_CUSTOM(id, name, args, ctx, ftype, field, setter, def, nodef, help) \
    { name, NSSO_DK_CUSTOM, NSSO_DC_##ctx, IN_##ctx(field), NSSO_DF_##ftype, 0, 0, 0, \
      def, nodef, NULL, help },
#include "directives.def"
#undef NSSO_INT
#undef NSSO_FLAG
#undef NSSO_ENUM
#undef NSSO_PATH
#undef NSSO_CUSTOM
};

const nsso_directive_t *nsso_directive_find(const char *name)
{
    int i;

    for (i = 0; name && i < NSSO_D_COUNT; i++)
        if (!strcasecmp(nsso_directive_table[i].name, name))
            return &nsso_directive_table[i];
    return NULL;
}

int nsso_directive_default_int(const nsso_directive_t *d)
{
    return d->kind == NSSO_DK_ENUM ? d->enums->v[0].value : d->idef;
}

const char *nsso_directive_default_doc(apr_pool_t *p, const nsso_directive_t *d)
{
    switch (d->kind) {
    case NSSO_DK_INT:
        return apr_psprintf(p, " `%d`", d->idef);
    case NSSO_DK_FLAG:
        return d->idef ? " `On`" : " `Off`";
    case NSSO_DK_ENUM:
        return apr_psprintf(p, " `%s`", d->enums->v[0].name);
    default:
        if (d->sdef)
            return apr_psprintf(p, " `%s`", d->sdef);
        return d->no_default ? apr_pstrcat(p, ": ", d->no_default, NULL) : NULL;
    }
}

/* Fields are reached by offset; pointers are copied with memcpy so that an
 * apr_array_header_t * and a const char * field read alike without
 * aliasing one as the other. */
static int *int_field(const nsso_directive_t *d, void *conf)
{
    return (int *)((char *)conf + d->offset);
}

static int int_value(const nsso_directive_t *d, const void *conf)
{
    return *(const int *)((const char *)conf + d->offset);
}

static void *ptr_value(const nsso_directive_t *d, const void *conf)
{
    void *v;

    memcpy(&v, (const char *)conf + d->offset, sizeof(v));
    return v;
}

static void set_ptr(const nsso_directive_t *d, void *conf, const void *v)
{
    memcpy((char *)conf + d->offset, &v, sizeof(v));
}

int nsso_directive_required(const nsso_directive_t *d)
{
    return (d->kind == NSSO_DK_PATH || d->kind == NSSO_DK_CUSTOM)
           && !d->sdef && !d->no_default;
}

void nsso_directive_set_int(const nsso_directive_t *d, void *conf, int v)
{
    *int_field(d, conf) = v;
}

static const char *parse_int(apr_pool_t *p, const nsso_directive_t *d, const char *arg,
                             void *conf)
{
    char *end;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || v < d->min || v > d->max)
        return apr_psprintf(p, "'%s' is not a whole number from %d to %d", arg,
                            d->min, d->max);
    *int_field(d, conf) = (int)v;
    return NULL;
}

/* "must be a, b or c" */
static const char *enum_choices(apr_pool_t *p, const nsso_enum_t *e)
{
    const char *s = "must be ";
    int i;

    for (i = 0; e->v[i].name; i++)
        s = apr_pstrcat(p, s, i == 0 ? "" : e->v[i + 1].name ? ", " : " or ",
                        e->v[i].name, NULL);
    return s;
}

static const char *parse_enum(apr_pool_t *p, const nsso_directive_t *d, const char *arg,
                              void *conf)
{
    const nsso_enum_t *e = d->enums;
    int i;

    for (i = 0; e->v[i].name; i++)
        if (e->exact ? !strcmp(arg, e->v[i].name) : !strcasecmp(arg, e->v[i].name)) {
            *int_field(d, conf) = e->v[i].value;
            return NULL;
        }
    return enum_choices(p, e);
}

const char *nsso_directive_parse(apr_pool_t *p, const nsso_directive_t *d,
                                 const char *arg, void *conf)
{
    switch (d->kind) {
    case NSSO_DK_INT:
        return parse_int(p, d, arg, conf);
    case NSSO_DK_ENUM:
        return parse_enum(p, d, arg, conf);
    case NSSO_DK_PATH:
        if (!nsso_is_local_path(arg, 0))
            return "must be a local path such as /nomis-sso/logout: one '/' first, "
                   "no query, fragment, space or control character";
        set_ptr(d, conf, arg);
        return NULL;
    default:
        return "has no generic parser"; /* a table error: config.c uses its setter */
    }
}

void nsso_directives_reset(void *conf, nsso_dstruct_t in)
{
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        if (d->in != in)
            continue;
        if (d->ftype == NSSO_DF_INT)
            *int_field(d, conf) = in == NSSO_DS_GLOBAL ? nsso_directive_default_int(d)
                                                       : NSSO_UNSET;
        else if (d->ftype == NSSO_DF_PTR)
            set_ptr(d, conf, NULL);
    }
}

void nsso_directives_merge(void *m, const void *base, const void *add, nsso_dstruct_t in)
{
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        if (d->in != in)
            continue;
        if (d->ftype == NSSO_DF_INT)
            *int_field(d, m) = int_value(d, add) != NSSO_UNSET ? int_value(d, add)
                                                                : int_value(d, base);
        else if (d->ftype == NSSO_DF_PTR)
            set_ptr(d, m, ptr_value(d, add) ? ptr_value(d, add) : ptr_value(d, base));
    }
}

const char *nsso_directive_missing(const nsso_srv_conf *c)
{
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        if (d->in == NSSO_DS_SERVER && nsso_directive_required(d) && !ptr_value(d, c))
            return d->name;
    }
    return NULL;
}

/* The names expose.c passes itself (NOMIS_SSO_<name>): a passed claim must
 * not pose as one of them. */
static const char *const reserved_names[] = {
    "USER", "NAME", "AUTH_SOURCE", "ROLES", "CASELOAD", "CASELOADS", "USER_ID",
    "USER_UUID", "EXPIRES", "CLIENT_CREDENTIALS", "ON_BEHALF_OF", "ACCESS_TOKEN", NULL
};

#define PASS_NAME_MAX 32
#define PASS_CLAIM_MAX 64

static int pass_name_ok(const char *name)
{
    apr_size_t n;

    for (n = 0; name[n]; n++)
        if (!((name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= '0' && name[n] <= '9')
              || name[n] == '_'))
            return 0;
    return n > 0 && n <= PASS_NAME_MAX;
}

static int pass_claim_ok(const char *claim)
{
    apr_size_t n;

    for (n = 0; claim[n]; n++)
        if ((unsigned char)claim[n] <= ' ' || claim[n] == 0x7f)
            return 0;
    return n > 0 && n <= PASS_CLAIM_MAX;
}

/* "ESTABLISHMENT_CODE" -> "X-Nomis-Establishment-Code" */
static const char *pass_header(apr_pool_t *p, const char *name)
{
    char *h = apr_pstrcat(p, "X-Nomis-", name, NULL), *c;
    int first = 1;

    for (c = h + sizeof("X-Nomis-") - 1; *c; c++) {
        if (*c == '_') {
            *c = '-';
            first = 1;
            continue;
        }
        if (!first && *c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
        first = 0;
    }
    return h;
}

const char *nsso_pass_claim_add(apr_pool_t *p, apr_array_header_t **list,
                                const char *claim, const char *name)
{
    nsso_pass_claim_t *pc;
    const char *env;
    int i;

    if (!pass_claim_ok(claim))
        return "the claim must be 1 to 64 characters, no space or control character";
    if (!pass_name_ok(name))
        return "the name must be 1 to 32 of A-Z, 0-9 and _ (it becomes NOMIS_SSO_<name>)";
    for (i = 0; reserved_names[i]; i++)
        if (!strcmp(name, reserved_names[i]))
            return apr_psprintf(p, "NOMIS_SSO_%s is passed by the module itself", name);
    env = apr_pstrcat(p, "NOMIS_SSO_", name, NULL);
    if (!*list)
        *list = apr_array_make(p, 4, sizeof(nsso_pass_claim_t));
    for (i = 0; i < (*list)->nelts; i++) {
        const nsso_pass_claim_t *e = &APR_ARRAY_IDX(*list, i, nsso_pass_claim_t);
        if (!strcmp(e->claim, claim) || !strcmp(e->env, env))
            return apr_psprintf(p, "claim %s or name %s is passed already", claim, name);
    }
    if ((*list)->nelts >= NSSO_MAX_PASS_CLAIMS)
        return apr_psprintf(p, "at most %d claims may be passed", NSSO_MAX_PASS_CLAIMS);
    pc = apr_array_push(*list);
    pc->claim = claim;
    pc->env = env;
    pc->header = pass_header(p, name);
    return NULL;
}
