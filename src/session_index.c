/* session_index.c - one user's sessions in one realm (see session_index.h):
 * the record, its bounds, the device hint, the handle, and its load, save
 * and lock through the store interface (get/set/add/del only, so every
 * store provider keeps it the same way, shared by every server that
 * shares the store). */
#include "session_index.h"
#include "session.h"
#include "util.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_VERSION "nssoix1"
#define INDEX_USER_MAX 255
#define LOCK_STEP apr_time_from_msec(10)

nsso_index_t *nsso_index_make(apr_pool_t *p, const char *user)
{
    nsso_index_t *ix = apr_pcalloc(p, sizeof(*ix));

    ix->user = user;
    ix->entries = apr_array_make(p, NSSO_INDEX_MAX + 1, sizeof(nsso_index_entry_t));
    return ix;
}

/* 1 when v has no byte below 0x20 (tab and newline are the separators). */
static int text_ok(const char *v)
{
    for (; v && *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v == 0x7f)
            return 0;
    return v != NULL;
}

/* v cut to max bytes, control characters and non-ASCII made '?'. */
static const char *safe_text(apr_pool_t *p, const char *v, apr_size_t max)
{
    apr_size_t n = v ? strlen(v) : 0, i;
    char *out;

    if (n > max)
        n = max;
    out = apr_pstrmemdup(p, v ? v : "", n);
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    return out;
}

apr_status_t nsso_index_encode(apr_pool_t *p, const nsso_index_t *ix, char **out,
                               apr_size_t *len)
{
    apr_array_header_t *parts = apr_array_make(p, 4 + ix->entries->nelts, sizeof(char *));
    int i;

    if (!ix->user || !*ix->user || strlen(ix->user) > INDEX_USER_MAX || !text_ok(ix->user)
        || ix->entries->nelts > NSSO_INDEX_MAX)
        return APR_EINVAL;
    APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(p, INDEX_VERSION "\n", ix->user, "\n",
                                                      NULL);
    for (i = 0; i < ix->entries->nelts; i++) {
        const nsso_index_entry_t *e = &APR_ARRAY_IDX(ix->entries, i, nsso_index_entry_t);
        if (!nsso_session_id_ok(e->id) || e->created < 0 || !text_ok(e->server)
            || !text_ok(e->device) || strlen(e->server) > NSSO_INDEX_SERVER_MAX
            || strlen(e->device) > NSSO_INDEX_DEVICE_MAX)
            return APR_EINVAL;
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(p, "%s\t%" APR_INT64_T_FMT
                                                           "\t%s\t%s\n", e->id, e->created,
                                                           e->server, e->device);
    }
    *out = apr_array_pstrcat(p, parts, 0);
    *len = strlen(*out);
    return APR_SUCCESS;
}

/* One entry line (NUL-terminated, no newline) into e. */
static int entry_parse(apr_pool_t *p, char *line, nsso_index_entry_t *e)
{
    char *f[4], *end;
    int n = 0;

    f[n++] = line;
    for (; *line && n <= 4; line++)
        if (*line == '\t') {
            *line = '\0';
            if (n == 4)
                return 0;
            f[n++] = line + 1;
        }
    if (n != 4 || !nsso_session_id_ok(f[0]) || !apr_isdigit(f[1][0]))
        return 0;
    e->created = apr_strtoi64(f[1], &end, 10);
    if (*end || e->created < 0 || strlen(f[2]) > NSSO_INDEX_SERVER_MAX
        || strlen(f[3]) > NSSO_INDEX_DEVICE_MAX || !text_ok(f[2]) || !text_ok(f[3]))
        return 0;
    e->id = apr_pstrdup(p, f[0]);
    e->server = apr_pstrdup(p, f[2]);
    e->device = apr_pstrdup(p, f[3]);
    return 1;
}

apr_status_t nsso_index_decode(apr_pool_t *p, const char *data, apr_size_t len,
                               nsso_index_t **out)
{
    char *text, *line, *nl;
    nsso_index_t *ix;

    if (!data || memchr(data, '\0', len))
        return APR_EINVAL;
    text = apr_pstrmemdup(p, data, len);
    if (strncmp(text, INDEX_VERSION "\n", sizeof(INDEX_VERSION)) || text[len - 1] != '\n')
        return APR_EINVAL;
    line = text + sizeof(INDEX_VERSION);
    if (!(nl = strchr(line, '\n')))
        return APR_EINVAL;     /* the version line alone: no user */
    *nl = '\0';
    if (!*line || strlen(line) > INDEX_USER_MAX || !text_ok(line))
        return APR_EINVAL;
    ix = nsso_index_make(p, apr_pstrdup(p, line));
    for (line = nl + 1; *line; line = nl + 1) {
        nsso_index_entry_t e;
        nl = strchr(line, '\n');
        *nl = '\0';
        if (ix->entries->nelts == NSSO_INDEX_MAX || !entry_parse(p, line, &e))
            return APR_EINVAL;
        APR_ARRAY_PUSH(ix->entries, nsso_index_entry_t) = e;
    }
    *out = ix;
    return APR_SUCCESS;
}

int nsso_index_remove(nsso_index_t *ix, const char *id)
{
    apr_array_header_t *a = ix->entries;
    int i;

    for (i = 0; i < a->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(a, i, nsso_index_entry_t).id, id)) {
            memmove(&APR_ARRAY_IDX(a, i, nsso_index_entry_t),
                    &APR_ARRAY_IDX(a, i + 1, nsso_index_entry_t),
                    (size_t)(a->nelts - i - 1) * sizeof(nsso_index_entry_t));
            a->nelts--;
            return 1;
        }
    return 0;
}

/* The index of the oldest entry (the first of equal ages). */
static int oldest(const apr_array_header_t *a)
{
    int i, at = 0;

    for (i = 1; i < a->nelts; i++)
        if (APR_ARRAY_IDX(a, i, nsso_index_entry_t).created
            < APR_ARRAY_IDX(a, at, nsso_index_entry_t).created)
            at = i;
    return at;
}

int nsso_index_insert(apr_pool_t *p, nsso_index_t *ix, const nsso_index_entry_t *e,
                      int max, apr_array_header_t *evicted)
{
    nsso_index_entry_t add;
    int n = 0;

    if (max < 1 || max > NSSO_INDEX_MAX)
        max = NSSO_INDEX_MAX;
    add.id = apr_pstrdup(p, e->id);
    add.created = e->created;
    add.server = safe_text(p, e->server, NSSO_INDEX_SERVER_MAX);
    add.device = safe_text(p, e->device, NSSO_INDEX_DEVICE_MAX);
    nsso_index_remove(ix, add.id);
    APR_ARRAY_PUSH(ix->entries, nsso_index_entry_t) = add;
    while (ix->entries->nelts > max) {
        int at = oldest(ix->entries);
        nsso_index_entry_t gone = APR_ARRAY_IDX(ix->entries, at, nsso_index_entry_t);
        if (evicted)
            APR_ARRAY_PUSH(evicted, nsso_index_entry_t) = gone;
        nsso_index_remove(ix, gone.id);
        n++;
    }
    return n;
}

/* ---- device hint ---------------------------------------------------------------- */

typedef struct {
    const char *marker;    /* found anywhere in the User-Agent */
    const char *name;
} ua_rule;

/* First match wins: Edge and Opera say Chrome too, Chrome says Safari. */
static const ua_rule browsers[] = {
    { "Edg/", "Edge" }, { "Edge/", "Edge" }, { "OPR/", "Opera" },
    { "SamsungBrowser/", "Samsung Internet" }, { "Firefox/", "Firefox" },
    { "FxiOS/", "Firefox" }, { "CriOS/", "Chrome" }, { "HeadlessChrome/", "Chrome" },
    { "Chromium/", "Chromium" }, { "Chrome/", "Chrome" }, { "Trident/", "Internet Explorer" },
    { "MSIE ", "Internet Explorer" }, { "Safari/", "Safari" }, { "curl/", "curl" },
    { "python-requests/", "python-requests" }, { "Wget/", "Wget" }, { NULL, NULL }
};

static const ua_rule platforms[] = {
    { "Windows", "Windows" }, { "Android", "Android" }, { "iPhone", "iOS" },
    { "iPad", "iOS" }, { "CrOS", "ChromeOS" }, { "Mac OS X", "macOS" },
    { "Macintosh", "macOS" }, { "Linux", "Linux" }, { NULL, NULL }
};

static const char *match(const ua_rule *rules, const char *ua)
{
    for (; rules->marker; rules++)
        if (strstr(ua, rules->marker))
            return rules->name;
    return NULL;
}

const char *nsso_device_hint(apr_pool_t *p, const char *ua)
{
    const char *browser, *platform;

    if (!ua || !*ua)
        return "Unknown";
    browser = match(browsers, ua);
    platform = match(platforms, ua);
    if (!browser)
        return platform ? apr_pstrcat(p, "Unknown browser on ", platform, NULL) : "Unknown";
    return platform ? apr_pstrcat(p, browser, " on ", platform, NULL) : browser;
}

/* ---- keys and handles ------------------------------------------------------------- */

static const char *hex(apr_pool_t *p, const unsigned char *b, apr_size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, 2 * n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

const char *nsso_index_handle(apr_pool_t *p, const nsso_crypto *c, const char *id)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(p, "session-handle:", id, NULL); /* MAC domain */

    nsso_crypto_mac(c, in, strlen(in), mac);
    return hex(p, mac, NSSO_INDEX_HANDLE_LEN / 2);
}

const char *nsso_index_key(apr_pool_t *p, const nsso_crypto *c, char kind,
                           const char *realm, const char *user)
{
    unsigned char mac[32];
    const char *in = apr_pstrcat(p, "session-index:", user, NULL); /* MAC domain */

    nsso_crypto_mac(c, in, strlen(in), mac);
    return nsso_store_key(p, kind, realm, hex(p, mac, 16));
}

/* ---- in the store ------------------------------------------------------------------ */

apr_status_t nsso_index_load(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const char *user, nsso_index_t **out)
{
    char *val = NULL;
    apr_size_t len = 0;
    apr_status_t rv = nsso_store_get(st, p, nsso_index_key(p, c, NSSO_KEY_INDEX, realm, user),
                                     &val, &len);

    *out = NULL;
    if (rv == APR_SUCCESS && (nsso_index_decode(p, val, len, out) != APR_SUCCESS
                              || strcmp((*out)->user, user)))
        *out = NULL;   /* unreadable or another user's: start again */
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
        return rv;
    if (!*out)
        *out = nsso_index_make(p, user);
    return APR_SUCCESS;
}

apr_status_t nsso_index_save(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const nsso_index_t *ix, apr_time_t expiry)
{
    const char *key = nsso_index_key(p, c, NSSO_KEY_INDEX, realm, ix->user);
    char *val;
    apr_size_t len;
    apr_status_t rv;

    if (!ix->entries->nelts) {
        rv = nsso_store_del(st, key);
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    if ((rv = nsso_index_encode(p, ix, &val, &len)) != APR_SUCCESS)
        return rv;
    return nsso_store_set(st, key, val, len, expiry, NULL);
}

apr_status_t nsso_index_lock(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                             const char *realm, const char *user)
{
    const char *key = nsso_index_key(p, c, NSSO_KEY_INDEX_LOCK, realm, user);
    apr_time_t until = apr_time_now() + 2 * apr_time_from_msec(NSSO_INDEX_LOCK_MS);
    apr_status_t rv;

    for (;;) {
        rv = nsso_store_add(st, key, "1", 1,
                            apr_time_now() + apr_time_from_msec(NSSO_INDEX_LOCK_MS));
        if (rv != APR_EEXIST)
            return rv;
        if (apr_time_now() >= until)
            return APR_TIMEUP;
        apr_sleep(LOCK_STEP);
    }
}

void nsso_index_unlock(apr_pool_t *p, nsso_store *st, const nsso_crypto *c,
                       const char *realm, const char *user)
{
    nsso_store_del(st, nsso_index_key(p, c, NSSO_KEY_INDEX_LOCK, realm, user));
}
