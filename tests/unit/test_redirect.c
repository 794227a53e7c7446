/* test_redirect.c - the open-redirect guard: local paths accepted, every
 * form a browser could turn into another host refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <apr_general.h>
#include "redirect.h"

#include "unit_pool.h"

static void test_local_paths_accepted(void **state)
{
    static const char *const ok[] = {
        "/", "/allocations", "/allocations/LEI?sort=name&page=2",
        "/a/b/c.html#frag", "/prisoners/A1234BC/allocate", "/search?q=smith%20john",
        "/a%2Fb", "/caf%C3%A9", "/path;param", "/~user/", "/a//b", NULL
    };
    for (int i = 0; ok[i]; i++) {
        if (!nsso_redirect_path_ok(ok[i]))
            fail_msg("refused local path %s", ok[i]);
    }
}

static void test_other_hosts_refused(void **state)
{
    static const char *const bad[] = {
        "//evil.example", "//evil.example/path", "/\\evil.example", "\\/evil.example",
        "\\\\evil.example", "https://evil.example", "http:evil.example", "https:evil",
        "javascript:alert(1)", "evil.example", "", "/%2Fevil.example", "/%2fevil.example",
        "/%5Cevil.example", "/%252Fevil.example", "/\tevil", "/\t/evil.example",
        "/\n/evil.example", "/\r\nLocation: http://evil", " /path", "/path with space",
        "/%0d%0aSet-Cookie:x=y", "/%00", "/\x7f", "/caf\xc3\xa9", "/%zz", "/%2",
        "/a\\b", "/%5C", NULL
    };
    for (int i = 0; bad[i]; i++) {
        if (nsso_redirect_path_ok(bad[i]))
            fail_msg("accepted unsafe target '%s'", bad[i]);
    }
    assert_false(nsso_redirect_path_ok(NULL));
}

static void test_overlong_refused(void **state)
{
    char buf[5000];
    memset(buf, 'a', sizeof(buf) - 1);
    buf[0] = '/';
    buf[sizeof(buf) - 1] = '\0';
    assert_false(nsso_redirect_path_ok(buf));
    buf[4096] = '\0';
    assert_true(nsso_redirect_path_ok(buf));
}

static void test_return_url(void **state)
{
    assert_string_equal(nsso_redirect_return_url(pool, "/a?b=c"), "/a?b=c");
    assert_string_equal(nsso_redirect_return_url(pool, "/a?b=c#top"), "/a?b=c");
    assert_string_equal(nsso_redirect_return_url(pool, "//evil.example/x"), "/");
    assert_string_equal(nsso_redirect_return_url(pool, "http://evil.example/"), "/");
    assert_string_equal(nsso_redirect_return_url(pool, NULL), "/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_paths_accepted),
        cmocka_unit_test(test_other_hosts_refused),
        cmocka_unit_test(test_overlong_refused),
        cmocka_unit_test(test_return_url),
    };
    return cmocka_run_group_tests(tests, unit_setup, unit_teardown);
}
