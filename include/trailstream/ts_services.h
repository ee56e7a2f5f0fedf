/*
 * ts_services.h - the AWS services trailstream implements. Each service is a folder under
 * src/services/ that exposes a `struct ts_aws_service` (its operations table) for apps/ to
 * register with the router; operations are functions over the store, never over HTTP.
 *
 * Storage mapping (documented in docs/services.md): control-plane entities are ts_meta
 * documents keyed by (kind, account, "<region>/<name>..."); data lives in store partitions
 * named "<service>/<account>/<region>/<resource path>".
 */
#ifndef TS_SERVICES_H
#define TS_SERVICES_H

#include "trailstream/ts_aws.h"
#include "trailstream/ts_store.h"

/* What every stateful service is created with; all borrowed, all outliving the service. */
struct ts_services_ctx {
    struct ts_store *store;                  /* data partitions */
    struct ts_meta *meta;                    /* control-plane documents */
    const struct ts_clock *clock;            /* time of appends, retention, expiry */
    const struct ts_aws_accounts *accounts;  /* who exists (for cross-account checks) */
    const uint8_t *secret;                   /* 32 bytes of per-data-directory key material
                                                (MACs of tokens and iterators) */
};

/* AWS Security Token Service (query protocol): GetCallerIdentity. Stateless. */
const struct ts_aws_service *ts_sts_service(void);

#endif
