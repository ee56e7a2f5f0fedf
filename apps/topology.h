/*
 * topology.h - provisions the config file's `topology:` section at start: Kinesis streams,
 * Logs destinations and their access policies, log groups, trails, StartLogging and
 * subscription filters, each as a signed call of the owning account through the router (so
 * every rule and every audit record is exactly that of the same call made with the AWS CLI).
 */
#ifndef TS_APP_TOPOLOGY_H
#define TS_APP_TOPOLOGY_H

#include "config.h"
#include "trailstream/ts_aws.h"

/* What a provisioning run found ready, and how many write calls it had to make. */
struct ts_topology_counts {
    size_t streams;
    size_t destinations;
    size_t log_groups;
    size_t trails;
    size_t filters;
    size_t changes; /* create/put/start calls that changed something; 0 on an idempotent rerun */
};

/* Provisions every resource of c->topology, phase by phase across all entries (streams,
 * destinations + policies, log groups, trails, StartLogging, subscription filters), so entries
 * may reference each other in any order. An existing resource is success: creates that find
 * it are not repeated, and upserts are skipped when the resource already matches, so running
 * twice with the same config changes nothing. Returns 0 and fills counts, or a negative code
 * with "FILE:LINE: topology.<list>: problem" (the line of the failing item) in err.
 * Call once the services are registered and before serving starts (the caller's thread). */
int ts_topology_provision(const struct ts_config *c, struct ts_aws_router *router,
                          struct ts_topology_counts *counts, char *err, size_t err_len);

/* Writes the one-line summary ("topology: 1 stream, ... ready (N changes)") into out. */
void ts_topology_summary(const struct ts_topology_counts *n, char *out, size_t len);

#endif
