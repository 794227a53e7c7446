/* unit_pool.h - the group set-up most unit tests share: APR started, one
 * pool for the whole group (`pool`), both undone at the end. Included by a
 * test file after cmocka.h; its main() passes unit_setup/unit_teardown to
 * cmocka_run_group_tests. */
#ifndef NSSO_UNIT_POOL_H
#define NSSO_UNIT_POOL_H

#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *pool;

static int unit_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS)
        return -1;
    return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int unit_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

#endif
