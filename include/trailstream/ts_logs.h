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

/* One record of a batched put (ts_logs_targets.put_batch): inputs borrowed, rc filled. */
struct ts_logs_target_record {
    const char *partition_key;
    const void *data;
    size_t len;
    int rc;
};

#define TS_LOGS_TARGET_BATCH 16
#define TS_LOGS_TARGET_BATCH_BYTES (4u * 1024 * 1024)

/* Where subscription payloads go. Logs never includes another service: apps/ registers this
 * table (implemented over Kinesis) at start-up. All callbacks may be called from any thread. */
struct ts_logs_targets {
    /* True if `stream_arn` ("arn:aws:kinesis:<region>:<account>:stream/<name>") exists. */
    bool (*stream_exists)(void *ctx, const char *stream_arn);
    /* Appends one record to the stream and returns only when it is durable: 0, TS_ENOTFOUND
     * (no such stream), TS_EAGAIN (throttled), TS_EINVAL (record refused) or a store error. */
    int (*put)(void *ctx, const char *stream_arn, const char *partition_key, const void *data,
               size_t len);
    /* Optional: appends n (1..TS_LOGS_TARGET_BATCH) records, at most TS_LOGS_TARGET_BATCH_BYTES
     * in all, in one call (one sync), like PutRecords. Returns 0 when the call was accepted,
     * each record's rc then saying whether it is durable (0) or not, or an error for the
     * whole batch (nothing appended). NULL: records are put one by one. */
    int (*put_batch)(void *ctx, const char *stream_arn, struct ts_logs_target_record *recs,
                     size_t n);
    void *ctx;
};

struct ts_logs_opts {
    int64_t retention_sweep_ms; /* how often expired segments are deleted [60000]; <0 = never */
    const struct ts_logs_targets *targets; /* copied; NULL: subscription filters and
                                              destinations are refused (no target service) */
    /* Called (from a request thread, no lock held) after subscription filters or
     * destinations changed, so the dispatcher reloads at once [none]. */
    void (*on_change)(void *ctx);
    void *change_ctx;
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
/* Runs one retention pass now (what the sweeper thread does every retention_sweep_ms):
 * deletes the store segments of every log stream whose records are all older than the
 * group's retention. Any thread. */
void ts_logs_retain_now(struct ts_logs *l);
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

/* Appends n events (messages with their timestamps, each message at most
 * TS_LOGS_MAX_EVENT_BYTES) to `stream` of `group` of `account` in `region` on behalf of
 * trailstream itself (trail delivery), creating the stream when absent, through the same path
 * as PutLogEvents (so metric filters and subscriptions see them); split into calls within
 * PutLogEvents' limits, timestamps made non-decreasing. Events outside the accepted time
 * window are dropped as PutLogEvents drops them. Returns only when durable: 0, TS_ENOTFOUND
 * (no such group), TS_EINVAL (refused) or a storage error. Any thread. */
int ts_logs_put_internal(struct ts_logs *l, const char *account, const char *region,
                         const char *group, const char *stream, const char *const *messages,
                         const size_t *lens, const int64_t *timestamps, size_t n);

/* ---------------------------------------------------------------- subscriptions */

/* Kinesis records hold at most 1 MiB (data and partition key); payloads stay under this. */
#define TS_LOGS_PAYLOAD_MAX (1024 * 1024 - 256)

/* One subscription filter as the delivery layer sees it; strings valid during the callback. */
struct ts_logs_subscription {
    const char *account;         /* owner of the log group (the payload's "owner") */
    const char *region;
    const char *group;
    const char *filter_name;
    const char *filter_pattern;
    const char *destination_arn; /* as given: a Kinesis stream or a Logs destination */
    const char *target_arn;      /* the Kinesis stream the payloads go to */
    const char *id;              /* random, fixed at creation: names the delivery cursors */
    bool random;                 /* distribution Random (else ByLogStream) */
    int64_t creation_ms;         /* events ingested before this are not delivered */
    const char *disabled;        /* NULL, or why delivery is paused (the destination was
                                    deleted, or its policy no longer allows the account) */
    const char *drain_key;       /* NULL, or the filter was deleted and drains: its document
                                    key, for ts_logs_subscription_drained */
    int64_t delete_ms;           /* draining: when DeleteSubscriptionFilter was answered */
    const char *delete_request_id; /* draining: that call's request id (may be NULL) */
};

typedef int (*ts_logs_subscription_fn)(void *arg, const struct ts_logs_subscription *s);
/* Calls fn for every subscription filter of every account, resolving Logs destinations to
 * their target stream and re-checking their access policy. A non-zero return stops and is
 * returned. Returns 0 or a storage error. Any thread (reads the metadata store). */
int ts_logs_each_subscription(struct ts_logs *l, ts_logs_subscription_fn fn, void *arg);
/* Removes the document of a draining filter (drain_key of ts_logs_subscription) once the
 * delivery layer has delivered everything it owed. Returns 0 (also when already gone),
 * TS_EINVAL (not a draining key) or a storage error. Any thread. */
int ts_logs_subscription_drained(struct ts_logs *l, const char *account, const char *drain_key);
/* A counter bumped by every change to subscription filters or destinations. Any thread. */
uint64_t ts_logs_subscriptions_gen(struct ts_logs *l);

/* Calls fn(arg, stream name, stream id) for every log stream of a group, in name order.
 * Returns 0, fn's non-zero result, or a storage error. Any thread. */
typedef int (*ts_logs_stream_fn)(void *arg, const char *stream, uint64_t stream_id);
int ts_logs_each_stream(struct ts_logs *l, const char *account, const char *region,
                        const char *group, ts_logs_stream_fn fn, void *arg);
/* The store partition name prefix shared by every stream of a group into out ("logs/<account>/
 * <region>/<group>:"). Returns 0 or TS_ETOOBIG. */
int ts_logs_group_partition_prefix(const char *account, const char *region, const char *group,
                                   char *out, size_t out_len);

#endif
