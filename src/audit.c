/* audit.c - the JSON audit log. The parent opens every target once per
 * configuration cycle (in pconf, so children inherit the descriptor and a
 * restart reopens it); a child writes each line with one write() on an
 * O_APPEND file or a pipe, and keeps lines under PIPE_BUF, so lines from
 * many children never interleave. Fields are bounded and reduced to
 * printable ASCII for that reason too: the log is for people and SIEMs, not
 * a faithful copy of what a client sent. */
#include "audit.h"

#include <apr_strings.h>
#include <apr_hash.h>
#include <http_log.h>
#include <jansson.h>

#define FIELD_MAX 128   /* user, client, auth source, rule, ... */
#define AGENT_MAX 256
#define PATH_MAX_LEN 512
#define SESSION_PREFIX 6
/* every field at its bound, every byte escaped twice over, stays below
 * PIPE_BUF (4096, the least POSIX allows) */

static int is_pipe(const char *target)
{
    return *target == '|';
}

static apr_int32_t open_flags(void)
{
    return APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE | APR_FOPEN_LARGEFILE;
}

int nsso_audit_check_config(apr_pool_t *ptemp, server_rec *main_s)
{
    server_rec *s;
    apr_file_t *f;
    apr_status_t rv;
    int rc = OK;

    for (s = main_s; s; s = s->next) {
        const char *target = nsso_srv(s)->audit_log;

        if (!target || is_pipe(target))
            continue;
        rv = apr_file_open(&f, target, open_flags(), APR_FPROT_UREAD | APR_FPROT_UWRITE
                           | APR_FPROT_GREAD, ptemp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(1350) "NomisSSOAuditLog: "
                         "cannot open %s for appending", target);
            rc = !OK;
            continue;
        }
        apr_file_close(f);
    }
    return rc;
}

/* "|program" and "||program" run it directly, "|$program" through the shell. */
static apr_status_t open_pipe(apr_pool_t *pconf, const char *target, apr_file_t **f)
{
    apr_cmdtype_e how = APR_PROGRAM_ENV;
    piped_log *pl;

    target++;
    if (*target == '$') {
        how = APR_SHELLCMD_ENV;
        target++;
    } else if (*target == '|') {
        target++;
    }
    pl = ap_open_piped_log_ex(pconf, target, how);
    if (!pl)
        return APR_EGENERAL;
    *f = ap_piped_log_write_fd(pl);
    return APR_SUCCESS;
}

int nsso_audit_post_config(apr_pool_t *pconf, server_rec *main_s)
{
    apr_hash_t *opened = apr_hash_make(pconf);
    server_rec *s;
    apr_status_t rv;

    for (s = main_s; s; s = s->next) {
        nsso_srv_conf *c = nsso_srv(s);
        apr_file_t *f;

        c->audit = NULL;
        if (!c->audit_log)
            continue;
        f = apr_hash_get(opened, c->audit_log, APR_HASH_KEY_STRING);
        if (!f) {
            rv = is_pipe(c->audit_log)
                 ? open_pipe(pconf, c->audit_log, &f)
                 : apr_file_open(&f, c->audit_log, open_flags(), APR_FPROT_UREAD
                                 | APR_FPROT_UWRITE | APR_FPROT_GREAD, pconf);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NSSO_LOGNO(1351)
                             "NomisSSOAuditLog: cannot open %s", c->audit_log);
                return !OK;
            }
            apr_hash_set(opened, c->audit_log, APR_HASH_KEY_STRING, f);
        }
        c->audit = f;
    }
    return OK;
}

/* v cut to max bytes of printable ASCII ('?' for anything else). */
static const char *clean(apr_pool_t *p, const char *v, apr_size_t max)
{
    apr_size_t n, i;
    char *out;

    if (!v)
        return NULL;
    n = strlen(v);
    if (n > max)
        n = max;
    out = apr_pstrmemdup(p, v, n);
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    return out;
}

static void set(json_t *o, apr_pool_t *p, const char *key, const char *v, apr_size_t max)
{
    v = clean(p, v, max);
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static const char *rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", x.tm_year + 1900,
                        x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec,
                        x.tm_usec / 1000);
}

static const char *request_id(request_rec *r)
{
    const char *id = apr_table_get(r->subprocess_env, "UNIQUE_ID");

    if (!id && r->main)
        id = apr_table_get(r->main->subprocess_env, "UNIQUE_ID");
    return id ? id : r->log_id;
}

char *nsso_audit_line(request_rec *r, const nsso_audit_entry_t *e, apr_time_t now)
{
    const nsso_session_t *s = e->session;
    const char *user = s ? s->user : e->user;
    json_t *o = json_object();
    char *text, *line;

    if (!o)
        return NULL;
    if (!user && r->user && *r->user)
        user = r->user;
    set(o, r->pool, "time", rfc3339(r->pool, now), FIELD_MAX);
    set(o, r->pool, "event", e->event, FIELD_MAX);
    set(o, r->pool, "user", user, FIELD_MAX);
    set(o, r->pool, "authSource", s ? s->auth_source : NULL, FIELD_MAX);
    set(o, r->pool, "client", s ? s->client_id : NULL, FIELD_MAX);
    set(o, r->pool, "clientIp", r->useragent_ip, FIELD_MAX);
    set(o, r->pool, "userAgent", apr_table_get(r->headers_in, "User-Agent"), AGENT_MAX);
    set(o, r->pool, "path", r->parsed_uri.path ? r->parsed_uri.path : r->uri, PATH_MAX_LEN);
    if (e->rule)
        set(o, r->pool, "rule", e->rule, FIELD_MAX);
    if (e->reason)
        set(o, r->pool, "reason", e->reason, FIELD_MAX);
    if (e->target)
        set(o, r->pool, "target", e->target, FIELD_MAX);
    if (e->target && e->count >= 0)
        json_object_set_new(o, "count", json_integer(e->count));
    set(o, r->pool, "session", e->session_id, SESSION_PREFIX);
    set(o, r->pool, "requestId", request_id(r), FIELD_MAX);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return NULL;
    line = apr_pstrdup(r->pool, text);
    free(text);
    return line;
}

void nsso_audit_write(request_rec *r, const nsso_audit_entry_t *e)
{
    apr_file_t *f = nsso_srv(r->server)->audit;
    const char *line;
    apr_size_t len, want;
    apr_status_t rv;

    if (!f)
        return;
    line = nsso_audit_line(r, e, apr_time_now());
    if (!line)
        return;
    line = apr_pstrcat(r->pool, line, "\n", NULL);
    want = len = strlen(line);
    rv = apr_file_write(f, line, &len); /* unbuffered: one write() */
    if (rv != APR_SUCCESS || len != want)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NSSO_LOGNO(1352) "NomisSSOAuditLog: "
                      "cannot write the %s event (%" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
                      " bytes written)", e->event, len, want);
}
