/* test_directives.c - the directive table (src/directives.def): its rows
 * are consistent, the simple kinds parse with their bounds, reset and merge
 * cover the fields, required directives are found, NomisSSOPassClaim's
 * names are checked, docs/directives.md says what the table says (every
 * directive, its default, bounds and where it is valid) and
 * conf.d/nomis_sso.conf is exactly what the table makes (sample_conf.c), so
 * neither can drift from the code. `test_directives --sample-conf` prints
 * the sample (make sample-conf). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "directives.h"
#include "sample_conf.h"
#include "util.h"

#ifndef NSSO_TOP_SRCDIR
#define NSSO_TOP_SRCDIR "."
#endif

#include "unit_pool.h"

static const nsso_directive_t *row(int id)
{
    return &nsso_directive_table[id];
}

/* ---- the table itself ------------------------------------------------------ */

static void test_names_unique_and_found(void **state)
{
    int i, j;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const char *n = nsso_directive_table[i].name;
        assert_int_equal(strncmp(n, "NomisSSO", 8), 0);
        for (j = i + 1; j < NSSO_D_COUNT; j++)
            assert_int_not_equal(strcasecmp(n, nsso_directive_table[j].name), 0);
        assert_ptr_equal(nsso_directive_find(n), &nsso_directive_table[i]);
    }
    assert_ptr_equal(nsso_directive_find("nomissso" "clockskew"), row(NSSO_D_CLOCK_SKEW));
    assert_null(nsso_directive_find("NomisSSONoSuchThing"));
    assert_null(nsso_directive_find(NULL));
}

static void test_rows_consistent(void **state)
{
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        switch (d->kind) {
        case NSSO_DK_INT:
            assert_true(d->min <= d->idef && d->idef <= d->max);
            assert_int_equal(d->ftype, NSSO_DF_INT);
            break;
        case NSSO_DK_FLAG:
            assert_true(d->idef == 0 || d->idef == 1);
            break;
        case NSSO_DK_ENUM:
            assert_non_null(d->enums->v[0].name);
            assert_non_null(d->enums->v[1].name);
            /* the help names the default */
            assert_non_null(strstr(d->help, d->enums->v[0].name));
            break;
        default:
            /* a default value is named in the help; no value and no
             * documented absence means required, which needs a pointer
             * field to tell set from unset */
            if (d->sdef)
                assert_non_null(strstr(d->help, d->sdef));
            assert_null(d->sdef && d->no_default ? "both" : NULL);
            if (nsso_directive_required(d))
                assert_int_not_equal(d->kind, NSSO_DK_PATH);
            break;
        }
        /* the per-directory and global structs hold only their own rows */
        if (d->context == NSSO_DC_AUTHCFG || d->context == NSSO_DC_ACCESS)
            assert_int_equal(d->in, NSSO_DS_DIR);
        else if (d->context == NSSO_DC_GLOBAL)
            assert_int_equal(d->in, NSSO_DS_GLOBAL);
        else
            assert_int_equal(d->in, NSSO_DS_SERVER);
    }
}

static void test_defaults(void **state)
{
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_CLOCK_SKEW)), 30);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_SSL_VERIFY)), 1);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_TRUST_FORWARDED)), 0);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_SAMESITE)), NSSO_SAMESITE_LAX);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_PASS)),
                     NSSO_PASS_HEADERS | NSSO_PASS_ENV);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_UNAUTH_ACTION)), NSSO_UNAUTH_AUTH);
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_VERIFY_FAILURE)), 0); /* fail-closed */
    assert_int_equal(nsso_directive_default_int(row(NSSO_D_GRANT_TYPE)), 0);
    assert_int_equal(nsso_directive_or_default(NSSO_UNSET, NSSO_D_INACTIVITY), 1200);
    assert_int_equal(nsso_directive_or_default(0, NSSO_D_INACTIVITY), 0);
    assert_string_equal(nsso_directive_or_default_str(NULL, NSSO_D_LOGOUT_URI),
                        "/nomis-sso/logout");
    assert_string_equal(nsso_directive_or_default_str("/x", NSSO_D_LOGOUT_URI), "/x");
    assert_null(nsso_directive_or_default_str(NULL, NSSO_D_INFO_URI));
    assert_string_equal(nsso_directive_default_doc(pool, row(NSSO_D_MAX_DURATION)), " `43200`");
    assert_string_equal(nsso_directive_default_doc(pool, row(NSSO_D_NO_STORE)), " `On`");
    assert_string_equal(nsso_directive_default_doc(pool, row(NSSO_D_PASS)), " `both`");
    assert_string_equal(nsso_directive_default_doc(pool, row(NSSO_D_VERIFY_URL)), ": off");
    assert_null(nsso_directive_default_doc(pool, row(NSSO_D_CLIENT_ID)));
}

/* ---- parsing ---------------------------------------------------------------- */

static void test_parse_int_bounds(void **state)
{
    nsso_srv_conf c;
    const nsso_directive_t *d = row(NSSO_D_CLOCK_SKEW);
    static const char *const bad[] = { "", "-1", "601", "30s", "0x10", "1e2",
                                       "99999999999999999999", NULL };
    int i;

    c.clock_skew = NSSO_UNSET;
    assert_null(nsso_directive_parse(pool, d, "0", &c));
    assert_int_equal(c.clock_skew, 0);
    assert_null(nsso_directive_parse(pool, d, "600", &c));
    assert_int_equal(c.clock_skew, 600);
    for (i = 0; bad[i]; i++) {
        const char *why = nsso_directive_parse(pool, d, bad[i], &c);
        assert_non_null(why);
        assert_non_null(strstr(why, "from 0 to 600"));
        assert_int_equal(c.clock_skew, 600); /* untouched */
    }
}

static void test_parse_enum(void **state)
{
    nsso_srv_conf c;
    nsso_dir_conf d;
    const char *why;

    assert_null(nsso_directive_parse(pool, row(NSSO_D_SAMESITE), "strict", &c));
    assert_int_equal(c.samesite, NSSO_SAMESITE_STRICT);
    why = nsso_directive_parse(pool, row(NSSO_D_SAMESITE), "Lux", &c);
    assert_string_equal(why, "must be Lax, Strict or None");
    assert_null(nsso_directive_parse(pool, row(NSSO_D_PASS), "NONE", &d));
    assert_int_equal(d.pass, 0);
    assert_null(nsso_directive_parse(pool, row(NSSO_D_UNAUTH_ACTION), "401", &d));
    assert_int_equal(d.unauth_action, NSSO_UNAUTH_401);
    assert_null(nsso_directive_parse(pool, row(NSSO_D_VERIFY_FAILURE), "Fail-Closed", &c));
    assert_int_equal(c.verify_fail_open, 0);
    /* grant types are case-sensitive */
    assert_null(nsso_directive_parse(pool, row(NSSO_D_GRANT_TYPE), "password", &c));
    assert_int_equal(c.password_grant, 1);
    assert_non_null(nsso_directive_parse(pool, row(NSSO_D_GRANT_TYPE), "Password", &c));
    assert_int_equal(c.password_grant, 1);
}

static void test_parse_path(void **state)
{
    nsso_srv_conf c = { 0 };
    static const char *const bad[] = { "", "x", "//evil", "/\\evil", "/a?b", "/a#b",
                                       "/a b", "/a\tb", "https://x/", NULL };
    int i;

    assert_null(nsso_directive_parse(pool, row(NSSO_D_INFO_URI), "/nomis-sso/info", &c));
    assert_string_equal(c.info_uri, "/nomis-sso/info");
    for (i = 0; bad[i]; i++)
        assert_non_null(nsso_directive_parse(pool, row(NSSO_D_INFO_URI), bad[i], &c));
    assert_string_equal(c.info_uri, "/nomis-sso/info");
    assert_non_null(nsso_directive_parse(pool, row(NSSO_D_CLIENT_ID), "x", &c));
}

/* ---- reset, merge, required ------------------------------------------------------ */

static void test_reset_and_merge_server(void **state)
{
    nsso_srv_conf base = { 0 }, add = { 0 }, m;

    nsso_directives_reset(&base, NSSO_DS_SERVER);
    nsso_directives_reset(&add, NSSO_DS_SERVER);
    /* every int field a server directive sets starts unset */
    assert_int_equal(base.clock_skew, NSSO_UNSET);
    assert_int_equal(base.samesite, NSSO_UNSET);
    assert_int_equal(base.ssl_verify, NSSO_UNSET);
    assert_int_equal(base.verify_fail_open, NSSO_UNSET);
    assert_int_equal(base.password_grant, NSSO_UNSET);
    assert_int_equal(base.password_allow_http, NSSO_UNSET);
    assert_int_equal(base.max_duration, NSSO_UNSET);

    base.auth_url = "https://base/auth";
    base.clock_skew = 5;
    base.ssl_verify = 0;
    base.algs = apr_array_make(pool, 1, sizeof(const char *));
    add.cookie_name = "vhost";
    add.clock_skew = 0;     /* set to 0 in the vhost: 0 wins, it is not "unset" */
    memset(&m, 0x5a, sizeof(m));
    nsso_directives_merge(&m, &base, &add, NSSO_DS_SERVER);
    assert_string_equal(m.auth_url, "https://base/auth");
    assert_string_equal(m.cookie_name, "vhost");
    assert_int_equal(m.clock_skew, 0);
    assert_int_equal(m.ssl_verify, 0);
    assert_ptr_equal(m.algs, base.algs);
    assert_null(m.issuer);
    assert_int_equal(m.samesite, NSSO_UNSET);
}

static void test_reset_and_merge_dir(void **state)
{
    nsso_dir_conf base = { 0 }, add = { 0 }, m;

    nsso_directives_reset(&base, NSSO_DS_DIR);
    nsso_directives_reset(&add, NSSO_DS_DIR);
    assert_int_equal(base.unauth_action, NSSO_UNSET);
    assert_int_equal(base.pass, NSSO_UNSET);
    assert_int_equal(base.pass_token, NSSO_UNSET);
    assert_int_equal(base.accept_bearer, NSSO_UNSET);
    assert_int_equal(base.no_store, NSSO_UNSET);
    base.no_store = 0;
    base.bearer_clients = apr_array_make(pool, 1, sizeof(const char *));
    add.bearer_clients = apr_array_make(pool, 1, sizeof(const char *));
    add.pass = NSSO_PASS_ENV;
    nsso_directives_merge(&m, &base, &add, NSSO_DS_DIR);
    assert_int_equal(m.no_store, 0);
    assert_int_equal(m.pass, NSSO_PASS_ENV);
    assert_ptr_equal(m.bearer_clients, add.bearer_clients); /* nearest list, no union */
}

static void test_reset_global_to_defaults(void **state)
{
    nsso_global_conf g = { 1, 2, "x" };

    nsso_directives_reset(&g, NSSO_DS_GLOBAL);
    assert_int_equal(g.cache_entries, 10000);
    assert_int_equal(g.cache_entry_size, 8192);
    assert_null(g.store_spec);
}

static void test_missing_in_order(void **state)
{
    nsso_srv_conf c = { 0 };

    assert_string_equal(nsso_directive_missing(&c), "NomisSSOAuthURL");
    c.auth_url = "https://a/auth";
    assert_string_equal(nsso_directive_missing(&c), "NomisSSOClientID");
    c.client_id = "id";
    assert_string_equal(nsso_directive_missing(&c), "NomisSSOClientSecret");
    c.client_secret = "s";
    assert_string_equal(nsso_directive_missing(&c), "NomisSSOCryptoPassphrase");
    c.passphrases[0] = "p";
    c.npassphrases = 1;
    assert_null(nsso_directive_missing(&c));
}

/* ---- NomisSSOPassClaim ------------------------------------------------------ */

static void test_pass_claim_add(void **state)
{
    apr_array_header_t *list = NULL;
    const nsso_pass_claim_t *pc;
    int i;

    assert_null(nsso_pass_claim_add(pool, &list, "establishment_code", "ESTABLISHMENT_CODE"));
    pc = &APR_ARRAY_IDX(list, 0, nsso_pass_claim_t);
    assert_string_equal(pc->claim, "establishment_code");
    assert_string_equal(pc->env, "NOMIS_SSO_ESTABLISHMENT_CODE");
    assert_string_equal(pc->header, "X-Nomis-Establishment-Code");
    assert_null(nsso_pass_claim_add(pool, &list, "x", "A1_2B"));
    assert_string_equal(APR_ARRAY_IDX(list, 1, nsso_pass_claim_t).header, "X-Nomis-A1-2b");
    /* names: [A-Z0-9_], bounded, never one of the module's own */
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "lower"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "A-B"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", ""));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "ROLES"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "USER"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "USER_UUID"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "CASELOADS"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "y", "ACCESS_TOKEN"));
    /* claims: no space or control character, each once; names once */
    assert_non_null(nsso_pass_claim_add(pool, &list, "a b", "AB"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "a\nb", "AB"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "", "AB"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "establishment_code", "OTHER"));
    assert_non_null(nsso_pass_claim_add(pool, &list, "other", "ESTABLISHMENT_CODE"));
    assert_int_equal(list->nelts, 2);
    /* at most NSSO_MAX_PASS_CLAIMS */
    for (i = 2; i < NSSO_MAX_PASS_CLAIMS; i++)
        assert_null(nsso_pass_claim_add(pool, &list, apr_psprintf(pool, "c%d", i),
                                        apr_psprintf(pool, "C%d", i)));
    assert_non_null(nsso_pass_claim_add(pool, &list, "one_more", "ONE_MORE"));
    assert_int_equal(list->nelts, NSSO_MAX_PASS_CLAIMS);
}

/* ---- docs/directives.md against the table ------------------------------------------- */

/* The paragraph under "### <name>" (to the next blank line), newlines made
 * spaces, and the "## " section it is in; NULL when the doc has no such
 * heading. */
static const char *doc_paragraph(apr_pool_t *p, const char *doc, const char *name,
                                 const char **section)
{
    const char *h = apr_pstrcat(p, "\n### ", name, "\n", NULL);
    const char *at = strstr(doc, h), *end, *s;
    char *para, *q;

    if (!at)
        return NULL;
    *section = "";
    for (s = doc; (s = strstr(s, "\n## ")) && s < at; s++)
        *section = apr_pstrndup(p, s + 4, strcspn(s + 4, "\n"));
    at += strlen(h);
    end = strstr(at, "\n\n");
    para = end ? apr_pstrndup(p, at, end - at) : apr_pstrdup(p, at);
    for (q = para; *q; q++)
        if (*q == '\n')
            *q = ' ';
    return para;
}

#define PER_LOCATION "Per-location behaviour"

/* What is wrong with doc for directive d, or NULL. */
static const char *doc_problem(apr_pool_t *p, const char *doc, const nsso_directive_t *d)
{
    const char *section, *para = doc_paragraph(p, doc, d->name, &section);
    const char *def = nsso_directive_default_doc(p, d);
    int per_location = d->context == NSSO_DC_AUTHCFG || d->context == NSSO_DC_ACCESS;

    if (!para)
        return "no \"### name\" section";
    if (strncmp(para, apr_pstrcat(p, "`", d->name, " ", NULL), strlen(d->name) + 2)
        && strncmp(para, apr_pstrcat(p, "`", d->name, "`", NULL), strlen(d->name) + 2))
        return "the section does not start with `name ...`";
    if (!def ? !strstr(para, "**required")
             : !strstr(para, apr_pstrcat(p, "default", def, NULL)))
        return def ? apr_pstrcat(p, "does not say \"default", def, "\"", NULL)
                   : "does not say it is **required**";
    if (d->kind == NSSO_DK_INT
        && !strstr(para, apr_psprintf(p, "%d to %d", d->min, d->max)))
        return apr_psprintf(p, "does not give the bounds \"%d to %d\"", d->min, d->max);
    if ((d->context == NSSO_DC_GLOBAL) != (strstr(para, "main server only") != NULL))
        return d->context == NSSO_DC_GLOBAL ? "does not say \"main server only\""
                                            : "says \"main server only\"";
    if (per_location != !strcmp(section, PER_LOCATION))
        return per_location ? "is not under \"## " PER_LOCATION "\""
                            : "is under \"## " PER_LOCATION "\" but is not valid there";
    return NULL;
}

/* Every problem of doc, one per line ("" when none). */
static const char *doc_problems(apr_pool_t *p, const char *doc)
{
    const char *out = "", *s;
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const char *why = doc_problem(p, doc, &nsso_directive_table[i]);
        if (why)
            out = apr_pstrcat(p, out, nsso_directive_table[i].name, ": ", why, "\n", NULL);
    }
    /* and nothing documented that the table lacks */
    for (s = doc; (s = strstr(s, "\n### ")); s++) {
        const char *name = apr_pstrndup(p, s + 5, strcspn(s + 5, "\n"));
        if (!nsso_directive_find(name))
            out = apr_pstrcat(p, out, name, ": documented but not a directive\n", NULL);
    }
    return out;
}

static const char *read_doc(apr_pool_t *p)
{
    const char *path = NSSO_TOP_SRCDIR "/docs/directives.md";
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_READ, 0, p), APR_SUCCESS);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 2);
    buf[0] = '\n'; /* a heading on the first line is found like the others */
    assert_int_equal(apr_file_read_full(f, buf + 1, n, &n), APR_SUCCESS);
    buf[n + 1] = '\0';
    apr_file_close(f);
    return buf;
}

static void test_doc_matches_table(void **state)
{
    const char *problems = doc_problems(pool, read_doc(pool));

    if (*problems)
        fprintf(stderr, "docs/directives.md disagrees with src/directives.def:\n%s", problems);
    assert_string_equal(problems, "");
}

/* The check itself catches a wrong default, a wrong bound, a missing and
 * an unknown directive. */
static void test_doc_check_catches_drift(void **state)
{
    const char *doc = read_doc(pool);

    {
        char *edited = apr_pstrdup(pool, doc), *at = strstr(edited, "default `30`, 0 to 600");
        assert_non_null(at);
        at[9] = '4';  /* default `40` */
        assert_non_null(strstr(doc_problems(pool, edited),
                               "NomisSSOClockSkew: does not say \"default `30`\""));
        at[9] = '3';
        at[19] = '5'; /* 0 to 500 */
        assert_non_null(strstr(doc_problems(pool, edited), "NomisSSOClockSkew: does not give"));
    }
    {
        char *edited = apr_pstrdup(pool, doc), *at = strstr(edited, "\n### NomisSSOInfoURI\n");
        at[5] = 'X';
        assert_non_null(strstr(doc_problems(pool, edited),
                               "NomisSSOInfoURI: no \"### name\" section"));
        assert_non_null(strstr(doc_problems(pool, edited),
                               "XomisSSOInfoURI: documented but not a directive"));
    }
}

/* ---- conf.d/nomis_sso.conf against the table ------------------------------------- */

static const char *read_file(apr_pool_t *p, const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_READ, 0, p), APR_SUCCESS);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    assert_int_equal(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
    buf[n] = '\0';
    apr_file_close(f);
    return buf;
}

static const char *sample(void)
{
    const char *err = NULL, *conf = nsso_sample_conf(pool, &err);

    if (!conf)
        fail_msg("the sample configuration cannot be made: %s", err);
    return conf;
}

/* The first line where a and b differ, for the failure message. */
static const char *first_difference(apr_pool_t *p, const char *a, const char *b)
{
    int line = 1;
    apr_size_t i, start = 0;

    for (i = 0; a[i] && a[i] == b[i]; i++)
        if (a[i] == '\n') {
            line++;
            start = i + 1;
        }
    return apr_psprintf(p, "line %d: %.*s", line, (int)strcspn(b + start, "\n"), b + start);
}

static void test_sample_conf_matches_table(void **state)
{
    const char *want = sample();
    const char *have = read_file(pool, NSSO_TOP_SRCDIR "/conf.d/nomis_sso.conf");

    if (strcmp(want, have))
        fail_msg("conf.d/nomis_sso.conf is not what src/directives.def makes (%s): "
                 "run `make sample-conf`", first_difference(pool, want, have));
}

/* Every directive is shown once, commented out, with its default (or a
 * required one's example) on a line of its own. */
static void test_sample_conf_lists_every_directive(void **state)
{
    const char *conf = sample();
    int i;

    for (i = 0; i < NSSO_D_COUNT; i++) {
        const nsso_directive_t *d = &nsso_directive_table[i];
        const char *at = strstr(conf, apr_pstrcat(pool, "#", d->name, " ", NULL));
        const char *spaced = strstr(conf, apr_pstrcat(pool, "# ", d->name, " ", NULL));
        const char *def = nsso_directive_default_doc(pool, d);
        const char *named = apr_pstrcat(pool, d->name, " ", NULL), *q;
        int n = 0;

        for (q = conf; (q = strstr(q, named)); q++)
            if (q[-1] == '#' || (q[-1] == ' ' && q[-2] == '#'))
                n++;
        if (n != 1)
            fail_msg("%s shown %d times", d->name, n);
        if (nsso_directive_required(d) || (def && def[0] == ' '))
            assert_non_null(at);   /* uncommenting gives a working line */
        else
            assert_non_null(spaced ? spaced : at);
        /* a default value is the one written */
        if (def && def[0] == ' ') {
            const char *v = apr_pstrndup(pool, def + 2, strlen(def) - 3); /* " `v`" */
            assert_non_null(strstr(at, apr_pstrcat(pool, d->name, " ", v, "\n", NULL)));
        }
    }
    assert_non_null(strstr(conf, "<IfModule nomis_sso_module>\n"));
    assert_null(strstr(conf, "LoadModule"));   /* that is nomis_sso.load's */
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--sample-conf")) {
        const char *err = NULL, *conf;
        unit_setup(NULL);
        conf = nsso_sample_conf(pool, &err);
        if (!conf) {
            fprintf(stderr, "test_directives: %s\n", err);
            return 1;
        }
        fputs(conf, stdout);
        unit_teardown(NULL);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_found),
        cmocka_unit_test(test_rows_consistent),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_int_bounds),
        cmocka_unit_test(test_parse_enum),
        cmocka_unit_test(test_parse_path),
        cmocka_unit_test(test_reset_and_merge_server),
        cmocka_unit_test(test_reset_and_merge_dir),
        cmocka_unit_test(test_reset_global_to_defaults),
        cmocka_unit_test(test_missing_in_order),
        cmocka_unit_test(test_pass_claim_add),
        cmocka_unit_test(test_doc_matches_table),
        cmocka_unit_test(test_doc_check_catches_drift),
        cmocka_unit_test(test_sample_conf_matches_table),
        cmocka_unit_test(test_sample_conf_lists_every_directive),
    };

    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
