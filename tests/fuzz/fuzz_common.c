/* fuzz_common.c - pool and input helpers of the fuzz targets. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

static apr_pool_t *root;

apr_pool_t *nsso_fuzz_root(void)
{
    if (root == NULL) {
        if (apr_initialize() != APR_SUCCESS
            || apr_pool_create(&root, NULL) != APR_SUCCESS) {
            fprintf(stderr, "fuzz: cannot initialise APR\n");
            abort();
        }
    }
    return root;
}

apr_pool_t *nsso_fuzz_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, nsso_fuzz_root()) != APR_SUCCESS)
        abort();
    return p;
}

char *nsso_fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);

    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void nsso_fuzz_fail(const char *target, const char *what)
{
    fprintf(stderr, "fuzz_%s: invariant broken: %s\n", target, what);
    abort();
}
