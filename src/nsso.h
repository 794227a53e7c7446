/* nsso.h - what every httpd-facing file of mod_nomis_sso shares: the module
 * record declaration (for APLOG_USE_MODULE and config lookups) and the
 * export macro. Pure-logic files (libnsso) do not include this. */
#ifndef NSSO_NSSO_H
#define NSSO_NSSO_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#define NSSO_AUTH_TYPE "nomis-sso"
#define NSSO_BEARER_AUTH_TYPE "nomis-bearer"
#define NSSO_EXPORT __attribute__((visibility("default")))

extern NSSO_EXPORT module AP_MODULE_DECLARE_DATA nomis_sso_module;

/* A log line's stable number, the first word of its message:
 * NSSO_LOGNO(0301) "text" logs "NSSO0301: text". Four digits, unique
 * (tools/lognos checks), each listed with its cause in docs/operations.md.
 * Blocks by the file that first logged it; a number never changes meaning. */
#define NSSO_LOGNO(n) "NSSO" #n ": "

/* every httpd-facing file logs as this module */
APLOG_USE_MODULE(nomis_sso);

#endif
