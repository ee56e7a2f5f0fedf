/*
 * ts_cloudtrail.h - CloudTrail over the store: every API call becomes a CloudTrail record,
 * trails deliver records into CloudWatch Logs log groups, LookupEvents reads event history.
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/Welcome.html
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
 *     cloudtrail-event-reference-record-contents.html
 *
 * Recording: apps/ registers ts_cloudtrail_record_request as the router's completion hook. It
 * builds the record and queues it; a recorder thread appends the queued records in batches to
 * the store partition "cloudtrail/<account>/<region>/events" (the response does not wait for
 * the fsync; a kill -9 can lose the records still queued, a graceful stop loses none: see
 * docs/cloudtrail.md). A trail-writer thread tails those partitions from durable
 * cursors (ts_meta "checkpoint") and puts the records into each logging trail's log group
 * through the sink table apps/ gives (implemented over Logs). See docs/cloudtrail.md.
 */
#ifndef TS_CLOUDTRAIL_H
#define TS_CLOUDTRAIL_H

#include "trailstream/ts_services.h"

#define TS_CT_EVENT_VERSION "1.09"
#define TS_CT_RECORD_MAX (256 * 1024)  /* AWS never delivers a larger event */
#define TS_CT_PARAMS_MAX (100 * 1024)  /* requestParameters / responseElements */
#define TS_CT_FIELD_MAX 1024           /* userAgent, errorCode, errorMessage */

/* Stored record header flags (first byte of every stored record, before the JSON). */
#define TS_CT_F_DATA 0x01     /* a data event (recorded only for trails selecting it) */
#define TS_CT_F_READONLY 0x02 /* readOnly: true */
#define TS_CT_F_EXTERNAL 0x04 /* from PutAuditEvents or an imported file, not an API call */

struct ts_cloudtrail;

/* Where trail records go. CloudTrail never includes Logs: apps/ fills this table. */
struct ts_cloudtrail_sink {
    /* Appends n messages (records, in order) with their timestamps (non-decreasing) to the
     * log stream `stream` of group `group` of `account` in `region`, creating the stream when
     * absent, through the same path as PutLogEvents. Returns only when durable: 0,
     * TS_ENOTFOUND (no such group) or a storage error. Any thread. */
    int (*put)(void *ctx, const char *account, const char *region, const char *group,
               const char *stream, const char *const *messages, const size_t *lens,
               const int64_t *timestamps, size_t n);
    void *ctx;
};

struct ts_cloudtrail_opts {
    const struct ts_cloudtrail_sink *sink; /* copied; NULL: trails record but deliver nothing */
    bool no_writer;                        /* do not start the trail writer (tests) */
};

/* Creates the service over ctx (borrowed) and starts the trail writer. Returns 0, TS_ENOMEM
 * or a thread error. */
int ts_cloudtrail_create(const struct ts_services_ctx *ctx, const struct ts_cloudtrail_opts *o,
                         struct ts_cloudtrail **out);
/* Drains the recorder queue (every record queued so far becomes durable: call it before the
 * store closes, after the last request), stops the writer (its cursors are committed) and
 * frees the service. NULL-safe. */
void ts_cloudtrail_destroy(struct ts_cloudtrail *ct);
/* The CloudTrail operations table (awsJson1.1). */
const struct ts_aws_service *ts_cloudtrail_service(struct ts_cloudtrail *ct);
/* The CloudTrail Lake ingestion service (cloudtrail-data, rest-json). */
const struct ts_aws_service *ts_cloudtrail_data_service(struct ts_cloudtrail *ct);

/* The router's completion hook: records the call (ctx is the ts_cloudtrail) by queueing its
 * record for the recorder thread; waits only while the queue is full (back-pressure), and for
 * StopLogging/DeleteTrail until their record is durable. Never fails the request and never
 * drops a queued record (failed appends are retried); a record that cannot be built is counted
 * in ts_cloudtrail_record_errors_total and logged. Any request thread. */
void ts_cloudtrail_record_request(void *ctx, const struct ts_aws_req *req, int status,
                                  const struct ts_aws_error *err);
/* The store's append hook part: wakes the trail writer when `partition_name` is a CloudTrail
 * partition. Cheap; any thread. */
void ts_cloudtrail_notify(struct ts_cloudtrail *ct, const char *partition_name);

/* Appends already-built records (JSON objects, one each) of `account`/`region` to the event
 * partition with the given flags (TS_CT_F_EXTERNAL is added), durably; used by PutAuditEvents
 * and `trailstream import`. Returns 0, TS_EINVAL (a record over TS_CT_RECORD_MAX) or a store
 * error. Any thread. */
int ts_cloudtrail_append(struct ts_cloudtrail *ct, const char *account, const char *region,
                         const char *const *records, const size_t *lens, const uint8_t *flags,
                         size_t n);
/* Waits until every record queued so far is durable, then until the trail writer has
 * delivered everything appended so far (or timeout_ms for each). Returns 0 or TS_ETIMEDOUT. */
int ts_cloudtrail_flush(struct ts_cloudtrail *ct, int timeout_ms);

/* ---------------------------------------------------------------- record building */

/* What the record builder knows of an event (all strings borrowed; NULL = absent). */
struct ts_ct_event {
    const struct ts_aws_caller *caller;
    const char *event_source;   /* "logs.amazonaws.com" */
    const char *event_name;     /* "CreateLogGroup" */
    const char *region;
    const char *source_ip;
    const char *user_agent;
    const char *request_id;
    const char *event_id;       /* UUID; NULL: a fresh one */
    int64_t time_ms;
    const cJSON *request;       /* request parameters as sent (redacted by the builder) */
    const cJSON *response;      /* response elements (redacted; dropped for read-only) */
    const char *error_code;
    const char *error_message;
    const char *tls_version;    /* tlsDetails when the call came over TLS */
    const char *tls_cipher;
    const char *host;
    const char *recipient_account; /* default: the caller's account */
};

/* Classification of an operation: its event source and whether it is read-only or a data
 * event (Kinesis PutRecord(s)/GetRecords/GetShardIterator, Logs PutLogEvents/GetLogEvents/
 * FilterLogEvents, S3 object operations...). `service` is the router's service name. */
struct ts_ct_class {
    const char *event_source;
    const char *resource_type; /* data events: "AWS::Kinesis::Stream" ...; else NULL */
    bool data;
    bool read_only;
};
void ts_ct_classify(const char *service, const char *op, struct ts_ct_class *out);

/* Builds the record JSON of an event into out (capped at TS_CT_RECORD_MAX; oversized
 * requestParameters/responseElements are replaced as AWS does). Secrets (secret keys, tokens,
 * passwords, policies' credentials) and bulk data (log messages, record data, audit payloads)
 * are never copied. Returns 0 or a buffer error. Any thread. */
int ts_cloudtrail_record_build(const struct ts_ct_event *ev, const struct ts_ct_class *cls,
                               struct ts_buf *out);
/* Returns a redacted deep copy of a request or response object for `op` (NULL on OOM). */
cJSON *ts_ct_redact(const char *op, const cJSON *in);

#endif
