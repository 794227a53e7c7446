/* fuzz_session_index.c - nsso_index_decode of any record (a user's session
 * index, which whoever can write to a shared store such as Redis could
 * plant), and nsso_device_hint of any User-Agent. Invariants: an accepted
 * record has a user and at most NSSO_INDEX_MAX entries of well-formed ids,
 * encodes again, and that encoding decodes to the same index; a device hint
 * is never empty nor longer than the index keeps. Seeds: corpus/session_index. */
#include "fuzz_common.h"
#include "session_index.h"
#include "session.h"

#include <string.h>

#define T "session_index"

static int same(const nsso_index_t *a, const nsso_index_t *b)
{
    int i;

    if (strcmp(a->user, b->user) || a->entries->nelts != b->entries->nelts)
        return 0;
    for (i = 0; i < a->entries->nelts; i++) {
        const nsso_index_entry_t *x = &APR_ARRAY_IDX(a->entries, i, nsso_index_entry_t);
        const nsso_index_entry_t *y = &APR_ARRAY_IDX(b->entries, i, nsso_index_entry_t);
        if (strcmp(x->id, y->id) || x->created != y->created || strcmp(x->server, y->server)
            || strcmp(x->device, y->device))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = nsso_fuzz_pool();
    nsso_index_t *ix = NULL, *back = NULL;
    const char *hint;
    char *rec = NULL;
    apr_size_t len = 0;
    int i;

    if (nsso_index_decode(p, (const char *)data, size, &ix) == APR_SUCCESS) {
        NSSO_FUZZ_CHECK(T, ix != NULL && ix->user != NULL && *ix->user);
        NSSO_FUZZ_CHECK(T, ix->entries->nelts <= NSSO_INDEX_MAX);
        for (i = 0; i < ix->entries->nelts; i++)
            NSSO_FUZZ_CHECK(T, nsso_session_id_ok(
                APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t).id));
        NSSO_FUZZ_CHECK(T, nsso_index_encode(p, ix, &rec, &len) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, nsso_index_decode(p, rec, len, &back) == APR_SUCCESS);
        NSSO_FUZZ_CHECK(T, same(ix, back));
    }
    hint = nsso_device_hint(p, nsso_fuzz_cstr(p, data, size));
    NSSO_FUZZ_CHECK(T, hint && *hint && strlen(hint) <= NSSO_INDEX_DEVICE_MAX);
    apr_pool_destroy(p);
    return 0;
}
