/* authz.h - `Require nomis-role|nomis-user|nomis-auth-source|nomis-scope|
 * nomis-caseload|nomis-client` authorization providers, and the page or
 * redirect a member of staff gets when one of them denies. */
#ifndef NSSO_AUTHZ_H
#define NSSO_AUTHZ_H

#include "nsso.h"

void nsso_authz_register(apr_pool_t *p);

/* insert_error_filter: turns mod_authz_core's denial of a signed-in user
 * into NomisSSOUnauthzAction's answer (403 page by default). */
void nsso_authz_insert_error_filter(request_rec *r);

/* note_auth_failure for a signed-in user mod_authz_core is about to refuse:
 * remembers the sysadmin's ErrorDocument for the denial's status and keeps
 * httpd from serving its 401 one instead (the error filter answers). */
void nsso_authz_note_failure(request_rec *r);

#endif
