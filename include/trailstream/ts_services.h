/*
 * ts_services.h - the AWS services trailstream implements. Each service is a folder under
 * src/services/ that exposes a `struct ts_aws_service` (its operations table) for apps/ to
 * register with the router; operations are functions over the store, never over HTTP.
 */
#ifndef TS_SERVICES_H
#define TS_SERVICES_H

#include "trailstream/ts_aws.h"

/* AWS Security Token Service (query protocol): GetCallerIdentity. Stateless. */
const struct ts_aws_service *ts_sts_service(void);

#endif
