/*
 * ts_kinesis.h - Amazon Kinesis Data Streams over the store: streams are ts_meta documents of
 * kind "kinesis_stream", every shard is one store partition, records are appended durably
 * before they are acknowledged. docs/kinesis.md has the operations, limits, the sequence
 * number and iterator formats and the storage mapping.
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/Welcome.html
 */
#ifndef TS_KINESIS_H
#define TS_KINESIS_H

#include "trailstream/ts_services.h"

struct ts_kinesis;

/* Decides whether `caller` may run `action` ("kinesis:PutRecord", ...) on a stream owned by
 * another account (the stream's ARN is given). Without a hook, or when it returns false,
 * such requests get AccessDeniedException. Called from request threads. */
typedef bool (*ts_kinesis_authorize_fn)(void *ctx, const struct ts_aws_caller *caller,
                                        const char *action, const char *stream_arn);

/* Options; all-zero means the defaults in brackets. */
struct ts_kinesis_opts {
    bool limits_aws;             /* enforce AWS's per-shard read/write throughput limits
                                    (ProvisionedThroughputExceededException) [off] */
    int retention_interval_ms;   /* period of the background retention pass [60000];
                                    < 0: no thread (tests call ts_kinesis_retain_now) */
    int shard_limit;             /* open shards per account and region [500] */
    ts_kinesis_authorize_fn authorize; /* cross-account access [none: own account only] */
    void *authorize_ctx;
};

/* Creates the service over ctx (borrowed; store, meta, clock and secret must be set and
 * outlive the service) and starts the retention thread. Returns 0 and *out, TS_EINVAL
 * (missing context member) or TS_ENOMEM. Call from one thread at start-up. */
int ts_kinesis_create(const struct ts_services_ctx *ctx, const struct ts_kinesis_opts *opts,
                      struct ts_kinesis **out);
/* Stops the retention thread and frees the service. No request may be running. NULL-safe. */
void ts_kinesis_destroy(struct ts_kinesis *k);
/* The operations table to register with the router; valid until ts_kinesis_destroy. */
const struct ts_aws_service *ts_kinesis_service(struct ts_kinesis *k);

/* Runs one retention pass now (what the background thread does): deletes store segments of
 * every shard older than the stream's retention. Returns 0 or the first store error. */
int ts_kinesis_retain_now(struct ts_kinesis *k);

/* ---------------------------------------------------------------- internal producers */

#define TS_KINESIS_SHARD_ID_MAX 24 /* "shardId-" + 12 digits + NUL, rounded */
#define TS_KINESIS_SEQ_MAX 64      /* sequence numbers are 56 digits */

/* One record for ts_kinesis_put_batch: inputs borrowed, outputs filled by the call. */
struct ts_kinesis_entry {
    const char *partition_key;     /* 1..256 characters, UTF-8 */
    const char *explicit_hash_key; /* decimal 0..2^128-1, or NULL to hash the key */
    const void *data;
    size_t len;
    /* results */
    int rc;                        /* 0, TS_EAGAIN (throttled), or a store error */
    char shard_id[TS_KINESIS_SHARD_ID_MAX];
    char sequence_number[TS_KINESIS_SEQ_MAX];
};

/* Appends n (1..500) records to stream `stream` (a name or an ARN) of `account` in `region`
 * the way PutRecords does, for delivery code inside the process (subscriptions, destinations):
 * no authorization check, the stream's size and throughput limits apply. Returns 0 when the
 * request was accepted (each entry's rc then says whether that record is durable: only entries
 * with rc == 0 have a sequence number), TS_ENOTFOUND (no such stream), TS_EINVAL (a bad key,
 * hash key or size; nothing appended). Any thread; returns after the appends are durable under
 * the store's fsync policy. */
int ts_kinesis_put_batch(struct ts_kinesis *k, const char *account, const char *region,
                         const char *stream, struct ts_kinesis_entry *entries, size_t n);

/* One record: the same as a batch of one, returning the entry's result directly (0, TS_EAGAIN,
 * TS_ENOTFOUND, TS_EINVAL or a store error). shard_id/sequence_number may be NULL. */
int ts_kinesis_put_internal(struct ts_kinesis *k, const char *account, const char *region,
                            const char *stream, const char *partition_key, const void *data,
                            size_t len, char shard_id[TS_KINESIS_SHARD_ID_MAX],
                            char sequence_number[TS_KINESIS_SEQ_MAX]);

/* True if `arn` names an existing stream ("arn:aws:kinesis:<region>:<account>:stream/<name>").
 * For services that must validate a target (Logs destinations). Any thread. */
bool ts_kinesis_stream_exists(struct ts_kinesis *k, const char *arn);

#endif
