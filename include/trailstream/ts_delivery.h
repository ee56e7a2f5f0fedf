/*
 * ts_delivery.h - subscription dispatch: every CloudWatch Logs subscription filter tails its
 * log group from a durable cursor, and every matching event reaches the filter's Kinesis
 * stream as part of a gzipped DATA_MESSAGE payload, in order per log stream, at least once,
 * within milliseconds of PutLogEvents being acknowledged.
 *
 * Threads: one dispatcher thread (reads, matches, builds, compresses and puts payloads) and
 * one checkpointer thread (commits the cursors the dispatcher has made durable). Wake-ups come
 * from the store's append hook (ts_delivery_notify) and the Logs change hook
 * (ts_delivery_changed); a bounded timed wait is only a safety net. docs/delivery.md has the
 * payload format, ordering, the crash story and the metrics.
 *
 * Payload format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 */
#ifndef TS_DELIVERY_H
#define TS_DELIVERY_H

#include "trailstream/ts_logs.h"
#include "trailstream/ts_store.h"

struct ts_delivery;

/* What the dispatcher works with: all borrowed, all outliving it. Zero members mean the
 * defaults in brackets. */
struct ts_delivery_opts {
    struct ts_store *store;                /* log stream partitions [required] */
    struct ts_meta *meta;                  /* cursors, kind "checkpoint" [required] */
    struct ts_logs *logs;                  /* subscription filters, streams [required] */
    const struct ts_aws_accounts *accounts; /* every account, to sweep the cursors of filters
                                              deleted while stopped [none: no sweep] */
    const struct ts_logs_targets *targets; /* where payloads go (copied) [required] */
    const struct ts_clock *clock;          /* lag and backoff [real clock] */
    int safety_wait_ms;                    /* longest sleep without a wake-up [1000] */
    int backoff_min_ms;                    /* first retry delay after a failed put [100] */
    int backoff_max_ms;                    /* retry delay cap [5000] */
    int gzip_level;                        /* libdeflate level of payloads [1] */
    int drain_grace_ms;                    /* a deleted filter whose deletion record was not
                                              seen drains up to the streams' ends this long
                                              after the deletion [5000] */
    size_t payload_json_max;               /* uncompressed JSON per payload [1 MiB - 4 KiB];
                                              tests lower it to force splitting */
};

/* Creates the dispatcher, loads the subscriptions and starts its threads. Returns 0 and *out,
 * TS_EINVAL (a required member missing), TS_ENOMEM or a thread error. Call once at start-up,
 * after the store, the metadata store, Logs and the targets exist. */
int ts_delivery_create(const struct ts_delivery_opts *opts, struct ts_delivery **out);
/* Stops both threads (a put in progress finishes; cursors made durable are committed) and
 * frees everything. No notify/changed call may be running or follow. NULL-safe. */
void ts_delivery_destroy(struct ts_delivery *d);

/* The store's append hook (struct ts_store_opts.on_append): records of `p` below end_offset
 * are durable. Cheap: a name-prefix check and, for log streams, one mutex and a signal. Any
 * thread, including with the partition's writer lock held. NULL d is a no-op. */
void ts_delivery_notify(struct ts_delivery *d, struct ts_partition *p, uint64_t end_offset);
/* Logs' change hook: subscription filters or destinations changed; reload them now. Any
 * thread. NULL d is a no-op. */
void ts_delivery_changed(struct ts_delivery *d);

/* Waits until every subscription's cursors have reached the end of their log streams and
 * been committed, or timeout_ms passed. Returns 0 or TS_ETIMEDOUT. For tests, benchmarks and
 * graceful drains. Any thread but the dispatcher's. */
int ts_delivery_drain(struct ts_delivery *d, int timeout_ms);

#endif
