/* sample_conf.h - conf.d/nomis_sso.conf as the directive table makes it
 * (sample_conf.c): `make sample-conf` writes it, test_directives checks it. */
#ifndef NSSO_SAMPLE_CONF_H
#define NSSO_SAMPLE_CONF_H

#include <apr_pools.h>
#include "directives.h"

/* The whole sample configuration; NULL with *err when a directive has
 * neither a default value nor an example, or a section names no directive. */
const char *nsso_sample_conf(apr_pool_t *p, const char **err);

#endif
