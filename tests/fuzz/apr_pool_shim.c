/* apr_pool_shim.c - an AddressSanitizer-friendly stand-in for APR's pools,
 * linked into the fuzz targets only.
 *
 * Real APR pools carve many small allocations out of 8 KB blocks and keep
 * freed blocks for reuse, so ASan cannot see a read or write past the end of
 * one apr_palloc() result (it lands in the next one) nor a use after
 * apr_pool_destroy() (the block is recycled, not freed). Most of what the
 * module parses lives in pool memory, so the fuzz targets replace the pool
 * functions with these: every apr_palloc() is its own malloc() (exact size,
 * ASan redzones on both sides) and apr_pool_clear()/apr_pool_destroy() free
 * them at once.
 *
 * This works because the fuzz binaries define every function that
 * libapr-1's apr_pools.c exports: the dynamic linker then binds all callers,
 * libapr's own (apr_pstrdup, apr_array_push, apr_initialize, ...) included,
 * to these definitions, and libapr's real pool code is never reached.
 * Semantics follow APR 1.7: children are destroyed before the pool's own
 * cleanups run, cleanups run last-registered first, pre-cleanups before
 * everything. Single-threaded only (libFuzzer runs one input at a time).
 * Building with NSSO_FUZZ_REAL_POOLS=1 (tests/fuzz/build) leaves it out. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr.h>
#include <apr_pools.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#undef apr_pcalloc
#undef apr_palloc
#undef apr_pool_create
#undef apr_pool_create_core_ex
#undef apr_pool_create_unmanaged_ex

typedef struct shim_block {
    struct shim_block *next;
    void *mem;
} shim_block;

typedef struct shim_cleanup {
    struct shim_cleanup *next;
    const void *data;
    apr_status_t (*plain)(void *);
    apr_status_t (*child)(void *);
} shim_cleanup;

typedef struct shim_userdata {
    struct shim_userdata *next;
    char *key;
    void *data;
    apr_status_t (*cleanup)(void *);
} shim_userdata;

struct apr_pool_t {
    struct apr_pool_t *parent, *child, *sibling;
    shim_block *blocks;
    shim_cleanup *cleanups, *pre_cleanups;
    shim_userdata *userdata;
    apr_abortfunc_t abort_fn;
    const char *tag;
};

/* Parentless pools, so LeakSanitizer sees them as reachable. */
static apr_pool_t *shim_roots;

static void shim_oom(apr_pool_t *p)
{
    if (p && p->abort_fn)
        p->abort_fn(APR_ENOMEM);
    abort();
}

/* ---- allocation ---------------------------------------------------------- */

APR_DECLARE(void *) apr_palloc(apr_pool_t *p, apr_size_t size)
{
    shim_block *b = malloc(sizeof(*b));
    void *mem = malloc(size);

    if (b == NULL || mem == NULL) {
        free(b);
        free(mem);
        shim_oom(p);
        return NULL;
    }
    b->mem = mem;
    b->next = p->blocks;
    p->blocks = b;
    return mem;
}

APR_DECLARE(void *) apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    return memset(apr_palloc(p, size), 0, size);
}

APR_DECLARE(void *) apr_palloc_debug(apr_pool_t *p, apr_size_t size,
                                     const char *file_line)
{
    return apr_palloc(p, size);
}

APR_DECLARE(void *) apr_pcalloc_debug(apr_pool_t *p, apr_size_t size,
                                      const char *file_line)
{
    return apr_pcalloc(p, size);
}

/* ---- formatted strings -------------------------------------------------- */

typedef struct {
    apr_vformatter_buff_t vb;
    char *start;
    apr_size_t total;
} shim_count_buff;

/* First pass: count the output using a small scratch buffer. */
static int shim_count_flush(apr_vformatter_buff_t *vb)
{
    shim_count_buff *cb = (shim_count_buff *)vb;

    cb->total += (apr_size_t)(vb->curpos - cb->start);
    vb->curpos = cb->start;
    return 0;
}

/* Second pass writes into an exact-size buffer: it never fills up. */
static int shim_fail_flush(apr_vformatter_buff_t *vb)
{
    return -1;
}

APR_DECLARE(char *) apr_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap)
{
    char scratch[256];
    shim_count_buff cb;
    apr_vformatter_buff_t vb;
    va_list ap2;
    char *out;

    cb.start = scratch;
    cb.total = 0;
    cb.vb.curpos = scratch;
    cb.vb.endpos = scratch + sizeof(scratch);
    va_copy(ap2, ap);
    if (apr_vformatter(shim_count_flush, &cb.vb, fmt, ap2) < 0) {
        va_end(ap2);
        return NULL;
    }
    va_end(ap2);
    cb.total += (apr_size_t)(cb.vb.curpos - cb.start);
    out = apr_palloc(p, cb.total + 1);
    vb.curpos = out;
    vb.endpos = out + cb.total;
    if (apr_vformatter(shim_fail_flush, &vb, fmt, ap) < 0)
        return NULL;
    *vb.curpos = '\0';
    return out;
}

APR_DECLARE_NONSTD(char *) apr_psprintf(apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- life cycle ---------------------------------------------------------- */

static void shim_run_cleanups(shim_cleanup **list)
{
    shim_cleanup *c;

    /* A cleanup may register more; they run too. */
    while ((c = *list) != NULL) {
        *list = c->next;
        c->plain((void *)c->data);
        free(c);
    }
}

static void shim_unlink(apr_pool_t **head, apr_pool_t *p)
{
    apr_pool_t **pp;

    for (pp = head; *pp != NULL; pp = &(*pp)->sibling) {
        if (*pp == p) {
            *pp = p->sibling;
            return;
        }
    }
}

static void shim_release(apr_pool_t *p)
{
    shim_block *b;
    shim_userdata *u;

    shim_run_cleanups(&p->pre_cleanups);
    while (p->child != NULL)
        apr_pool_destroy(p->child);
    shim_run_cleanups(&p->cleanups);
    while ((b = p->blocks) != NULL) {
        p->blocks = b->next;
        free(b->mem);
        free(b);
    }
    while ((u = p->userdata) != NULL) {
        p->userdata = u->next;
        free(u->key);
        free(u);
    }
}

APR_DECLARE(void) apr_pool_clear(apr_pool_t *p)
{
    shim_release(p);
}

APR_DECLARE(void) apr_pool_destroy(apr_pool_t *p)
{
    shim_release(p);
    shim_unlink(p->parent ? &p->parent->child : &shim_roots, p);
    free(p);
}

APR_DECLARE(void) apr_pool_clear_debug(apr_pool_t *p, const char *file_line)
{
    apr_pool_clear(p);
}

APR_DECLARE(void) apr_pool_destroy_debug(apr_pool_t *p, const char *file_line)
{
    apr_pool_destroy(p);
}

static apr_status_t shim_create(apr_pool_t **newpool, apr_pool_t *parent,
                                apr_abortfunc_t abort_fn)
{
    apr_pool_t *p = calloc(1, sizeof(*p));

    *newpool = NULL;
    if (p == NULL) {
        if (abort_fn)
            abort_fn(APR_ENOMEM);
        return APR_ENOMEM;
    }
    p->parent = parent;
    p->abort_fn = abort_fn ? abort_fn : parent ? parent->abort_fn : NULL;
    if (parent) {
        p->sibling = parent->child;
        parent->child = p;
    }
    else {
        p->sibling = shim_roots;
        shim_roots = p;
    }
    *newpool = p;
    return APR_SUCCESS;
}

APR_DECLARE(apr_status_t) apr_pool_create_ex(apr_pool_t **newpool,
                                             apr_pool_t *parent,
                                             apr_abortfunc_t abort_fn,
                                             apr_allocator_t *allocator)
{
    return shim_create(newpool, parent, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_create_ex_debug(apr_pool_t **newpool,
                                                   apr_pool_t *parent,
                                                   apr_abortfunc_t abort_fn,
                                                   apr_allocator_t *allocator,
                                                   const char *file_line)
{
    return shim_create(newpool, parent, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_create_unmanaged_ex(apr_pool_t **newpool,
                                                       apr_abortfunc_t abort_fn,
                                                       apr_allocator_t *allocator)
{
    return shim_create(newpool, NULL, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_create_unmanaged_ex_debug(apr_pool_t **newpool,
                                                             apr_abortfunc_t abort_fn,
                                                             apr_allocator_t *allocator,
                                                             const char *file_line)
{
    return shim_create(newpool, NULL, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_create_core_ex(apr_pool_t **newpool,
                                                  apr_abortfunc_t abort_fn,
                                                  apr_allocator_t *allocator)
{
    return shim_create(newpool, NULL, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_create_core_ex_debug(apr_pool_t **newpool,
                                                        apr_abortfunc_t abort_fn,
                                                        apr_allocator_t *allocator,
                                                        const char *file_line)
{
    return shim_create(newpool, NULL, abort_fn);
}

APR_DECLARE(apr_status_t) apr_pool_initialize(void)
{
    return APR_SUCCESS;
}

APR_DECLARE(void) apr_pool_terminate(void)
{
    while (shim_roots != NULL)
        apr_pool_destroy(shim_roots);
}

/* ---- properties ---------------------------------------------------------- */

APR_DECLARE(void) apr_pool_abort_set(apr_abortfunc_t abortfunc, apr_pool_t *pool)
{
    pool->abort_fn = abortfunc;
}

APR_DECLARE(apr_abortfunc_t) apr_pool_abort_get(apr_pool_t *pool)
{
    return pool->abort_fn;
}

APR_DECLARE(apr_pool_t *) apr_pool_parent_get(apr_pool_t *pool)
{
    return pool->parent;
}

APR_DECLARE(apr_allocator_t *) apr_pool_allocator_get(apr_pool_t *pool)
{
    return NULL; /* no APR allocator behind these pools */
}

APR_DECLARE(int) apr_pool_is_ancestor(apr_pool_t *a, apr_pool_t *b)
{
    if (a == NULL)
        return 1;
    for (; b != NULL; b = b->parent)
        if (a == b)
            return 1;
    return 0;
}

APR_DECLARE(void) apr_pool_tag(apr_pool_t *pool, const char *tag)
{
    pool->tag = tag;
}

/* ---- user data ----------------------------------------------------------- */

static shim_userdata *shim_ud_find(apr_pool_t *pool, const char *key)
{
    shim_userdata *u;

    for (u = pool->userdata; u != NULL; u = u->next)
        if (strcmp(u->key, key) == 0)
            return u;
    return NULL;
}

APR_DECLARE(apr_status_t) apr_pool_userdata_set(const void *data, const char *key,
                                                apr_status_t (*cleanup)(void *),
                                                apr_pool_t *pool)
{
    shim_userdata *u = shim_ud_find(pool, key);

    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        if (u == NULL || (u->key = strdup(key)) == NULL) {
            free(u);
            return APR_ENOMEM;
        }
        u->next = pool->userdata;
        pool->userdata = u;
    }
    u->data = (void *)data;
    if (cleanup)
        apr_pool_cleanup_register(pool, data, cleanup, cleanup);
    return APR_SUCCESS;
}

APR_DECLARE(apr_status_t) apr_pool_userdata_setn(const void *data, const char *key,
                                                 apr_status_t (*cleanup)(void *),
                                                 apr_pool_t *pool)
{
    return apr_pool_userdata_set(data, key, cleanup, pool);
}

APR_DECLARE(apr_status_t) apr_pool_userdata_get(void **data, const char *key,
                                                apr_pool_t *pool)
{
    shim_userdata *u = shim_ud_find(pool, key);

    *data = u ? u->data : NULL;
    return APR_SUCCESS;
}

/* ---- cleanups ------------------------------------------------------------ */

static void shim_push(shim_cleanup **list, const void *data,
                      apr_status_t (*plain)(void *),
                      apr_status_t (*child)(void *))
{
    shim_cleanup *c = malloc(sizeof(*c));

    if (c == NULL)
        abort();
    c->data = data;
    c->plain = plain;
    c->child = child;
    c->next = *list;
    *list = c;
}

APR_DECLARE(void) apr_pool_cleanup_register(apr_pool_t *p, const void *data,
                                            apr_status_t (*plain)(void *),
                                            apr_status_t (*child)(void *))
{
    if (p != NULL)
        shim_push(&p->cleanups, data, plain, child);
}

APR_DECLARE(void) apr_pool_pre_cleanup_register(apr_pool_t *p, const void *data,
                                                apr_status_t (*plain)(void *))
{
    if (p != NULL)
        shim_push(&p->pre_cleanups, data, plain, apr_pool_cleanup_null);
}

static shim_cleanup **shim_find(shim_cleanup **list, const void *data,
                                apr_status_t (*plain)(void *))
{
    for (; *list != NULL; list = &(*list)->next)
        if ((*list)->data == data && (*list)->plain == plain)
            return list;
    return NULL;
}

APR_DECLARE(void) apr_pool_cleanup_kill(apr_pool_t *p, const void *data,
                                        apr_status_t (*plain)(void *))
{
    shim_cleanup **cp, *c;

    if (p == NULL)
        return;
    cp = shim_find(&p->cleanups, data, plain);
    if (cp == NULL)
        cp = shim_find(&p->pre_cleanups, data, plain);
    if (cp != NULL) {
        c = *cp;
        *cp = c->next;
        free(c);
    }
}

APR_DECLARE(apr_status_t) apr_pool_cleanup_run(apr_pool_t *p, void *data,
                                               apr_status_t (*cleanup)(void *))
{
    apr_pool_cleanup_kill(p, data, cleanup);
    return cleanup(data);
}

APR_DECLARE(void) apr_pool_child_cleanup_set(apr_pool_t *p, const void *data,
                                             apr_status_t (*plain)(void *),
                                             apr_status_t (*child)(void *))
{
    shim_cleanup **cp;

    if (p != NULL && (cp = shim_find(&p->cleanups, data, plain)) != NULL)
        (*cp)->child = child;
}

APR_DECLARE_NONSTD(apr_status_t) apr_pool_cleanup_null(void *data)
{
    return APR_SUCCESS;
}

APR_DECLARE(void) apr_pool_cleanup_for_exec(void)
{
    /* the fuzz targets never exec */
}

APR_DECLARE(void) apr_pool_note_subprocess(apr_pool_t *a, apr_proc_t *proc,
                                           apr_kill_conditions_e how)
{
    /* the fuzz targets never spawn processes */
}
