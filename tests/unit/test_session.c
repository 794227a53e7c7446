/* test_session.c - sessions built from claims, their JSON round trip, the
 * strict parser, and session id shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "session.h"
#include "store.h"

#include "unit_pool.h"

static apr_array_header_t *strings(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(pool, 2, sizeof(const char *));
    if (a) APR_ARRAY_PUSH(arr, const char *) = a;
    if (b) APR_ARRAY_PUSH(arr, const char *) = b;
    return arr;
}

static nsso_claims_t spo_claims(void)
{
    nsso_claims_t c;
    memset(&c, 0, sizeof(c));
    c.sub = "ALLOC_SPO";
    c.user_name = "ALLOC_SPO";
    c.auth_source = "nomis";
    c.client_id = "allocation-manager";
    c.name = "Alloc Spo";
    c.user_id = "485412";
    c.jti = "jti-1";
    c.authorities = strings("ROLE_ALLOC_MGR", "ROLE_POM");
    c.scope = strings("read", "write");
    c.exp = 2000000000;
    return c;
}

static void test_from_claims(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", "RT", 1700000000);

    assert_non_null(s);
    assert_string_equal(s->user, "ALLOC_SPO");
    assert_string_equal(s->name, "Alloc Spo");
    assert_string_equal(s->auth_source, "nomis");
    assert_int_equal(s->roles->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(s->roles, 1, const char *), "ROLE_POM");
    assert_int_equal(s->expires, 2000000000);
    assert_int_equal(s->created, 1700000000);
    assert_string_equal(s->refresh_token, "RT");
}

/* A member of staff's token: user_name, user_id and a real auth_source,
 * from any grant but client_credentials (or none named). */
static void test_staff_token(void **state)
{
    static const char *const grants[] = { NULL, "authorization_code", "refresh_token",
                                          "password" };
    nsso_claims_t c = spo_claims();
    apr_size_t i;

    for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        nsso_session_t *s;
        c.grant_type = grants[i];
        assert_false(nsso_claims_client(&c));
        s = nsso_session_from_claims(pool, &c, "AT", NULL, 1);
        assert_non_null(s);
        assert_false(s->client_credentials);
        assert_string_equal(s->user, "ALLOC_SPO");
        assert_string_equal(s->user_id, "485412");
        assert_string_equal(s->auth_source, "nomis");
        assert_string_equal(s->client_id, "allocation-manager");
        assert_null(s->on_behalf_of);
    }
    /* the client that signed the user in need not be named */
    c.client_id = NULL;
    assert_false(nsso_session_from_claims(pool, &c, "AT", NULL, 1)->client_credentials);
}

/* What HMPPS Auth gives a client asking for client_credentials with
 * username=ALLOC_SPO&auth_source=nomis: the user's name, the client's roles. */
static nsso_claims_t client_claims(void)
{
    nsso_claims_t c;
    memset(&c, 0, sizeof(c));
    c.sub = "ALLOC_SPO";
    c.user_name = "ALLOC_SPO";
    c.auth_source = "nomis";
    c.client_id = "allocation-manager";
    c.grant_type = "client_credentials";
    c.jti = "jti-2";
    c.authorities = strings("ROLE_SYSTEM_USER", NULL);
    c.scope = strings("read", NULL);
    c.exp = 2000000000;
    return c;
}

static void assert_client_session(const nsso_claims_t *c, const char *on_behalf_of)
{
    nsso_session_t *s = nsso_session_from_claims(pool, c, "AT", NULL, 1);

    assert_true(nsso_claims_client(c));
    assert_non_null(s);
    assert_true(s->client_credentials);
    assert_string_equal(s->user, c->client_id);
    assert_string_equal(s->client_id, c->client_id);
    if (on_behalf_of)
        assert_string_equal(s->on_behalf_of, on_behalf_of);
    else
        assert_null(s->on_behalf_of);
    /* nothing of a member of staff's identity */
    assert_null(s->name);
    assert_null(s->user_id);
    assert_null(s->auth_source);
    /* the roles and scope are the client's, and stay */
    assert_int_equal(s->roles->nelts, c->authorities->nelts);
    assert_int_equal(s->scope->nelts, c->scope->nelts);
}

static void test_client_credentials_naming_a_user(void **state)
{
    nsso_claims_t c = client_claims();

    assert_client_session(&c, "ALLOC_SPO");
    /* even with everything a user's token has: the grant decides */
    c.user_id = "485412";
    c.name = "Alloc Spo";
    assert_client_session(&c, "ALLOC_SPO");
    c.grant_type = "CLIENT_CREDENTIALS";
    assert_client_session(&c, "ALLOC_SPO");
    /* naming no user: sub is the client id */
    c = client_claims();
    c.user_name = NULL;
    c.sub = "allocation-manager";
    c.auth_source = "none";
    assert_client_session(&c, NULL);
}

/* Without grant_type (older servers), or with another one, a token lacking
 * any of user_name, user_id, a real auth_source is a client's. */
static void test_client_without_grant_type(void **state)
{
    static const char *const grants[] = { NULL, "authorization_code", "password" };
    apr_size_t i;

    for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        nsso_claims_t c = spo_claims();
        c.grant_type = grants[i];
        c.user_id = NULL;                  /* what a client token lacks */
        assert_client_session(&c, "ALLOC_SPO");
        c = spo_claims();
        c.grant_type = grants[i];
        c.user_id = "";
        assert_client_session(&c, "ALLOC_SPO");
        c = spo_claims();
        c.grant_type = grants[i];
        c.auth_source = "none";
        assert_client_session(&c, "ALLOC_SPO");
        c.auth_source = "NONE";
        assert_client_session(&c, "ALLOC_SPO");
        c.auth_source = NULL;
        assert_client_session(&c, "ALLOC_SPO");
        c = spo_claims();
        c.grant_type = grants[i];
        c.user_name = NULL;
        assert_client_session(&c, NULL);
        c.user_name = "";
        assert_client_session(&c, NULL);
    }
}

static void test_unusable_names_refused(void **state)
{
    nsso_claims_t c = client_claims();
    char *longname = apr_palloc(pool, 258);

    /* a client token that names no client cannot be anyone */
    c.client_id = NULL;
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    c.client_id = "";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    c.client_id = "svc\r\nX-Injected: yes";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    /* the user it names goes into a header too */
    c = client_claims();
    c.user_name = "EVIL\r\nX-Injected: yes";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    memset(longname, 'A', 257);
    longname[257] = '\0';
    c.user_name = longname;
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    longname[256] = '\0';                 /* 256 bytes: as for user names */
    assert_client_session(&c, longname);
    /* sub never stands in for a user name */
    c = spo_claims();
    c.user_name = NULL;
    c.client_id = NULL;
    c.sub = "CLIENT_SUB";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    /* a member of staff's name that could split a header downstream */
    c = spo_claims();
    c.user_name = "EVIL\r\nX-Injected: yes";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
    c.user_name = "TAB\tUSER";
    assert_null(nsso_session_from_claims(pool, &c, "AT", NULL, 1));
}

static void test_round_trip(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000), *back;
    const char *err = NULL;
    char *json;
    apr_size_t len;

    s->caseload = "LEI";
    assert_int_equal(nsso_session_serialize(pool, s, &json, &len), APR_SUCCESS);
    assert_true(len > 0);
    assert_int_equal(nsso_session_parse(pool, json, len, &back, &err), APR_SUCCESS);
    assert_string_equal(back->user, "ALLOC_SPO");
    assert_string_equal(back->caseload, "LEI");
    assert_string_equal(back->access_token, "AT");
    assert_null(back->refresh_token);
    assert_int_equal(back->roles->nelts, 2);
    assert_int_equal(back->scope->nelts, 2);
    assert_int_equal(back->expires, 2000000000);
    assert_int_equal(back->last_access, 1700000000);
    assert_int_equal(back->verified_at, 1700000000);
    assert_false(back->client_credentials);
    assert_null(back->realm);
    assert_null(back->on_behalf_of);

    /* version 4 keeps the realm and the user a client token names */
    s->realm = "abcdefghijk";
    s->on_behalf_of = "ALLOC_SPO";
    s->client_credentials = 1;
    assert_int_equal(nsso_session_serialize(pool, s, &json, &len), APR_SUCCESS);
    assert_int_equal(json[0], 5);
    assert_int_equal(nsso_session_parse(pool, json, len, &back, &err), APR_SUCCESS);
    assert_string_equal(back->realm, "abcdefghijk");
    assert_string_equal(back->on_behalf_of, "ALLOC_SPO");
    assert_true(back->client_credentials);
    assert_null(back->user_uuid);
    assert_int_equal(back->caseloads->nelts, 0);
    assert_int_equal(back->claims->nelts, 0);
}

/* Version 5 keeps the user_uuid, every caseload and the passed claims. */
static void test_round_trip_v5_fields(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s, *back;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    c.user_uuid = "6a0a7d5e-3c1b-4f7a-9a52-0c6f1a9d2b41";
    c.picked = strings("establishment", "LEI");
    s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000);
    assert_string_equal(s->user_uuid, c.user_uuid);
    assert_string_equal(nsso_session_claim(s, "establishment"), "LEI");
    assert_null(nsso_session_claim(s, "LEI"));
    s->caseloads = strings("LEI", "MDI");
    assert_int_equal(nsso_session_serialize(pool, s, &data, &len), APR_SUCCESS);
    assert_int_equal(nsso_session_parse(pool, data, len, &back, &err), APR_SUCCESS);
    assert_string_equal(back->user_uuid, c.user_uuid);
    assert_int_equal(back->caseloads->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(back->caseloads, 1, const char *), "MDI");
    assert_string_equal(nsso_session_claim(back, "establishment"), "LEI");

    /* claims are pairs: an odd list is refused */
    c.picked = strings("establishment", NULL);
    s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000);
    assert_int_equal(nsso_session_serialize(pool, s, &data, &len), APR_SUCCESS);
    assert_int_not_equal(nsso_session_parse(pool, data, len, &back, &err), APR_SUCCESS);
}

/* A version-4 record (before user_uuid, caseloads, claims) still parses. */
static void test_reads_version_4(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000), *back;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    s->realm = "abcdefghijk";
    assert_int_equal(nsso_session_serialize(pool, s, &data, &len), APR_SUCCESS);
    /* v5 minus its absent string and two empty lists is exactly v4 */
    data[0] = 4;
    assert_int_equal(nsso_session_parse(pool, data, len - 12, &back, &err), APR_SUCCESS);
    assert_string_equal(back->realm, "abcdefghijk");
    assert_null(back->user_uuid);
    assert_non_null(back->caseloads);
    assert_int_equal(back->claims->nelts, 0);
    /* a v5 record cut short of them is refused */
    data[0] = 5;
    assert_int_not_equal(nsso_session_parse(pool, data, len - 12, &back, &err), APR_SUCCESS);
}

/* A version-3 record (before realms) still parses, with neither field. */
static void test_reads_version_3(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", NULL, 1700000000), *back;
    const char *err = NULL;
    char *data;
    apr_size_t len;

    s->realm = NULL;
    s->on_behalf_of = NULL;
    assert_int_equal(nsso_session_serialize(pool, s, &data, &len), APR_SUCCESS);
    /* v5 minus its five trailing absent strings and empty lists is v3 */
    data[0] = 3;
    assert_int_equal(nsso_session_parse(pool, data, len - 20, &back, &err), APR_SUCCESS);
    assert_null(back->realm);
    assert_string_equal(back->user, "ALLOC_SPO");
    /* and a v4 record cut short of its two is refused */
    assert_int_not_equal(nsso_session_parse(pool, data + 0, len - 16, &back, &err), APR_SUCCESS);
    data[0] = 4;
    assert_int_not_equal(nsso_session_parse(pool, data, len - 20, &back, &err), APR_SUCCESS);
}

static char *record(nsso_session_t *s, apr_size_t *len)
{
    char *data;

    assert_int_equal(nsso_session_serialize(pool, s, &data, len), APR_SUCCESS);
    return data;
}

static int parses(const char *data, apr_size_t len)
{
    nsso_session_t *s;
    const char *err = NULL;
    apr_status_t rv = nsso_session_parse(pool, data, len, &s, &err);

    if (rv != APR_SUCCESS)
        assert_non_null(err);
    return rv == APR_SUCCESS;
}

static void test_parse_rejects(void **state)
{
    nsso_claims_t c = spo_claims();
    nsso_session_t *s = nsso_session_from_claims(pool, &c, "AT", "RT", 1700000000);
    apr_size_t len, i;
    char *good = record(s, &len), *bad;

    assert_true(parses(good, len));
    /* every truncation, and one byte too many */
    for (i = 0; i < len; i++)
        if (parses(good, i))
            fail_msg("accepted a record truncated to %lu of %lu bytes",
                     (unsigned long)i, (unsigned long)len);
    bad = apr_palloc(pool, len + 1);
    memcpy(bad, good, len);
    bad[len] = 'x';
    assert_false(parses(bad, len + 1));
    /* another version */
    memcpy(bad, good, len);
    bad[0] = 1;
    assert_false(parses(bad, len));
    /* a length that runs past the end (the user's, right after the version) */
    memcpy(bad, good, len);
    bad[4] = 0x7f;
    assert_false(parses(bad, len));
    /* a NUL inside a string */
    memcpy(bad, good, len);
    bad[5] = '\0';
    assert_false(parses(bad, len));
    /* a string without its terminating NUL (the user's, 9 bytes at 5) */
    memcpy(bad, good, len);
    assert_int_equal(bad[5 + 9], '\0');
    bad[5 + 9] = 'x';
    assert_false(parses(bad, len));
    /* garbage */
    assert_false(parses("", 0));
    assert_false(parses(NULL, 0));
    assert_false(parses("\x02\xff\xff\xff\xff", 5));
    /* no user, or no access token */
    s->user = "";
    good = record(s, &len);
    assert_false(parses(good, len));
    s->user = "ALLOC_SPO";
    s->access_token = NULL;
    good = record(s, &len);
    assert_false(parses(good, len));
}

/* A version 2 record (strings without a NUL after them), as a store filled
 * before an upgrade holds, still parses, to copies. */
static void test_reads_version_2(void **state)
{
    static const char rec[] =
        "\x02"
        "\x01\x00\x00\x00U"                  /* user */
        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" /* name, source, client_id */
        "\xff\xff\xff\xff\xff\xff\xff\xff" /* user_id, jti */
        "\x03\x00\x00\x00LEI"                /* caseload */
        "\x01\x00\x00\x00" "\x0d\x00\x00\x00ROLE_POM_USER" /* roles */
        "\x00\x00\x00\x00"                   /* scope */
        "\x02\x00\x00\x00" "AT"             /* access token */
        "\xff\xff\xff\xff"                   /* refresh token */
        "\x00\x94\x35\x77\x00\x00\x00\x00" /* expires 2000000000 */
        "\x00\xf1\x53\x65\x00\x00\x00\x00" /* created 1700000000 */
        "\x00\xf1\x53\x65\x00\x00\x00\x00" /* last_access */
        "\x00\xf1\x53\x65\x00\x00\x00\x00" /* verified_at */
        "\x00\x00\x00\x00";                  /* not client credentials */
    nsso_session_t *s;
    const char *err = NULL;

    assert_int_equal(nsso_session_parse(pool, rec, sizeof(rec) - 1, &s, &err), APR_SUCCESS);
    assert_string_equal(s->user, "U");
    assert_string_equal(s->caseload, "LEI");
    assert_string_equal(APR_ARRAY_IDX(s->roles, 0, const char *), "ROLE_POM_USER");
    assert_string_equal(s->access_token, "AT");
    assert_null(s->refresh_token);
    assert_int_equal(s->expires, 2000000000);
    assert_int_equal(s->created, 1700000000);
    /* a NUL inside one of its strings is still refused */
    {
        char bad[sizeof(rec)];
        memcpy(bad, rec, sizeof(rec));
        bad[5] = '\0';
        assert_false(parses(bad, sizeof(rec) - 1));
    }
}

static void test_list_count_cannot_lie(void **state)
{
    nsso_session_t s;
    apr_size_t len, at = 1 + (4 + 1 + 1) + 6 * 4; /* version, "U\0", six absent strings */
    char *data;

    memset(&s, 0, sizeof(s));
    s.user = "U";
    s.access_token = "A";
    s.roles = apr_array_make(pool, 1, sizeof(const char *));
    data = record(&s, &len);
    assert_true(parses(data, len));
    /* then comes the roles count: claim two billion entries */
    assert_true(at + 4 <= len);
    assert_int_equal(data[at], 0);
    data[at] = (char)0xff;
    data[at + 1] = (char)0xff;
    data[at + 2] = (char)0xff;
    data[at + 3] = (char)0x7f;
    assert_false(parses(data, len));
}

static void test_ids(void **state)
{
    const char *a = nsso_session_id_new(pool), *b = nsso_session_id_new(pool);

    assert_non_null(a);
    assert_int_equal(strlen(a), NSSO_SESSION_ID_LEN);
    assert_true(nsso_session_id_ok(a));
    assert_string_not_equal(a, b);
    assert_false(nsso_session_id_ok(NULL));
    assert_false(nsso_session_id_ok(""));
    assert_false(nsso_session_id_ok(apr_pstrcat(pool, a, "x", NULL)));
    assert_false(nsso_session_id_ok(apr_pstrndup(pool, a, NSSO_SESSION_ID_LEN - 1)));
    assert_false(nsso_session_id_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa="));
    assert_false(nsso_session_id_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"));
    assert_false(nsso_session_id_ok(".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_false(nsso_session_id_ok("aaaaaaaaaaaaaaaaaaaa\001aaaaaaaaaaaaaaaaaaaaaa"));
    assert_true(nsso_session_id_ok("Az09-_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_string_equal(nsso_session_key(pool, "R0123456789", "abc"), "s:R0123456789:abc");
    /* the longest key fits the store: "s:" + realm + ":" + id */
    assert_true(strlen(nsso_session_key(pool, "R0123456789", a)) <= NSSO_STORE_MAX_KEY);
}

/* A record is good only in the realm that accepted it; one without a realm
 * (written before realms existed) is good in none. */
static void test_realm_check(void **state)
{
    nsso_session_t s = { 0 };

    (void)state;
    assert_false(nsso_session_realm_ok(&s, "R0123456789"));
    s.realm = "R0123456789";
    assert_true(nsso_session_realm_ok(&s, "R0123456789"));
    assert_false(nsso_session_realm_ok(&s, "R0123456788"));
    assert_false(nsso_session_realm_ok(&s, "R012345678"));
    assert_false(nsso_session_realm_ok(&s, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_claims),
        cmocka_unit_test(test_staff_token),
        cmocka_unit_test(test_client_credentials_naming_a_user),
        cmocka_unit_test(test_client_without_grant_type),
        cmocka_unit_test(test_unusable_names_refused),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_reads_version_2),
        cmocka_unit_test(test_reads_version_3),
        cmocka_unit_test(test_reads_version_4),
        cmocka_unit_test(test_round_trip_v5_fields),
        cmocka_unit_test(test_list_count_cannot_lie),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_realm_check),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
