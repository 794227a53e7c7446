/* scrape.h - the metrics endpoint: SetHandler nomis-sso-metrics answers
 * every counter in the Prometheus text format. */
#ifndef NSSO_SCRAPE_H
#define NSSO_SCRAPE_H

#include "nsso.h"

#define NSSO_METRICS_HANDLER "nomis-sso-metrics"

int nsso_scrape_handler(request_rec *r);

#endif
