/*
 * ts_logs.h - the CloudWatch Logs service (awsJson1.1, Logs_20140328) over the store.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html
 *
 * Log groups and streams are ts_meta documents; each log stream's events are one store
 * partition. See docs/logs.md for the mapping, limits and token formats.
 */
#ifndef TS_LOGS_H
#define TS_LOGS_H

#include "trailstream/ts_services.h"

/* Limits chosen (see docs/logs.md). */
#define TS_LOGS_MAX_BATCH_BYTES 1048576   /* sum of (UTF-8 message bytes + 26) per call */
#define TS_LOGS_EVENT_OVERHEAD 26
#define TS_LOGS_MAX_EVENT_BYTES 1048576   /* one event, overhead included (current AWS limit) */
#define TS_LOGS_MAX_BATCH_EVENTS 10000
#define TS_LOGS_MAX_FUTURE_MS (2LL * 3600 * 1000)
#define TS_LOGS_MAX_AGE_MS (14LL * 86400 * 1000)
#define TS_LOGS_MAX_SPAN_MS (24LL * 3600 * 1000)

struct ts_logs;

struct ts_logs_opts {
    int64_t retention_sweep_ms; /* how often expired segments are deleted [60000]; <0 = never */
};

/* One stored log event as the delivery layer sees it. */
struct ts_logs_event {
    int64_t timestamp;     /* event time, ms */
    int64_t ingestion_ms;  /* when it was accepted */
    uint64_t offset;       /* position in its stream's partition */
    const char *message;   /* not NUL-terminated */
    size_t message_len;
};

/* Creates the service over ctx (borrowed). Starts the retention sweeper thread. Returns 0,
 * TS_ENOMEM or a thread error. */
int ts_logs_create(const struct ts_services_ctx *ctx, const struct ts_logs_opts *opts,
                   struct ts_logs **out);
/* Stops the sweeper and frees the service. NULL-safe. */
void ts_logs_destroy(struct ts_logs *l);
/* The operations table to register with the router. */
const struct ts_aws_service *ts_logs_service(struct ts_logs *l);

/* Decodes one stored record of a log stream partition into ev (message points into data).
 * Returns 0 or TS_ECORRUPT. */
int ts_logs_decode_record(const uint8_t *data, size_t len, int64_t ingestion_ms,
                          uint64_t offset, struct ts_logs_event *ev);
/* Formats the 56-digit event id AWS-style for an event of the stream with the given id. */
void ts_logs_event_id(uint64_t stream_id, int64_t timestamp, uint64_t offset, char out[57]);
/* The store partition name of a log stream into out. The stream id (random, chosen when the
 * stream is created) is part of it, so a stream deleted and created again never sees the old
 * stream's data. Returns 0 or TS_ETOOBIG. */
int ts_logs_partition_name(const char *account, const char *region, const char *group,
                           const char *stream, uint64_t stream_id, char *out, size_t out_len);

#endif
