/*
 * ct_int.h - internals shared by the CloudTrail service files.
 */
#ifndef TS_CT_INT_H
#define TS_CT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "trailstream/ts_cloudtrail.h"

#define CT_KEY_MAX 512
#define CT_DOC_MAX (1u << 20)
#define CT_MAX_TRAILS_PER_REGION 5 /* AWS quota: 5 trails per region */
#define CT_INDEX_ACCOUNT "*"       /* ts_meta "trail" index: key "<owner>/<region>/<name>" */
#define CT_HISTORY_MS (90LL * 86400 * 1000)
#define CT_QUEUE_MAX_RECORDS 65536        /* recorder queue bound (records)... */
#define CT_QUEUE_MAX_BYTES ((size_t)16 << 20) /* ...and bytes: the hook waits beyond */

#define CT_STOP_RECORD_WAIT_MS 30000  /* StopLogging/DeleteTrail wait for their record */

struct ct_rec_item;

struct ts_cloudtrail {
    struct ts_services_ctx ctx;
    struct ts_cloudtrail_sink sink;
    bool have_sink;
    struct ts_aws_service service;
    struct ts_aws_service data_service;
    _Atomic uint64_t trails_gen;   /* bumped by every trail change: the writer reloads */
    _Atomic int data_trails;       /* trails whose selectors include data events */
    _Atomic uint64_t appended;     /* records appended (for flush) */
    _Atomic bool writer_busy;      /* the writer has a trail to deliver for: appends wake it */
    /* writer */
    pthread_mutex_t lock;
    pthread_cond_t cond;           /* wakes the writer */
    pthread_cond_t idle_cond;      /* signalled when the writer caught up */
    uint64_t wakeups;              /* guarded by lock */
    uint64_t delivered_upto;       /* value of `appended` the writer last caught up with */
    bool stopping;
    bool writer_started;
    pthread_t writer;
    /* recorder queue (ct_recorder.c), all guarded by q_lock */
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;         /* wakes the recorder */
    pthread_cond_t q_space;        /* signalled when a pass freed room */
    pthread_cond_t q_done_cond;    /* signalled when a pass is durable */
    struct ct_rec_item *q_head;
    struct ct_rec_item *q_tail;
    size_t q_records;              /* queued + being appended */
    size_t q_bytes;
    uint64_t q_enqueued;           /* records ever enqueued (sequence of the last one) */
    uint64_t q_done;               /* every record with sequence <= q_done is durable */
    bool q_stopping;
    bool recorder_started;
    pthread_t recorder;
};

/* ct_service.c */
/* Appends n records with one header (per-record flags) in one durable batch. */
int ct_append_batch(struct ts_cloudtrail *ct, const char *account, const char *region,
                    const uint8_t *flags, const char *rtype, const char *rarn,
                    const char *const *records, const size_t *lens, size_t n);
/* Splits a stored record; returns 0 or TS_ECORRUPT. */
int ct_split_record(const uint8_t *data, size_t len, uint8_t *flags, const char **rtype,
                    const char **rarn, const char **json, size_t *json_len);
/* Bumps the trail generation and wakes the writer. */
void ct_trails_changed(struct ts_cloudtrail *ct);
void ct_events_partition(const char *account, const char *region, char *out, size_t out_len);

/* ct_trails.c: the trail API */
int ct_op_create_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int ct_op_update_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int ct_op_delete_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int ct_op_describe_trails(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err);
int ct_op_get_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct ts_aws_error *err);
int ct_op_list_trails(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err);
int ct_op_get_trail_status(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);
int ct_op_start_logging(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err);
int ct_op_stop_logging(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int ct_op_put_event_selectors(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int ct_op_get_event_selectors(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
/* Counts trails whose selectors ask for data events (at start-up). */
int ct_count_data_trails(struct ts_cloudtrail *ct);
/* Whether a trail document's event selectors select an event. */
bool ct_trail_selects(const cJSON *trail, uint8_t flags, const char *rtype, const char *rarn);

/* ct_lookup.c */
int ct_op_lookup_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err);

/* ct_recorder.c: the recorder queue and thread */
/* Frames a record and queues it for the recorder; waits while the queue is full. *seq (may be
 * NULL) receives its sequence for ct_recorder_wait. Returns 0, TS_EINVAL (over
 * TS_CT_RECORD_MAX) or TS_ENOMEM. Any thread. */
int ct_recorder_enqueue(struct ts_cloudtrail *ct, const char *account, const char *region,
                        uint8_t flags, const char *rtype, const char *rarn, const char *json,
                        size_t len, uint64_t *seq);
/* Waits until the record of sequence `seq` (UINT64_MAX: everything queued now) is durable.
 * Returns 0 or TS_ETIMEDOUT (also when the recorder is not running). */
int ct_recorder_wait(struct ts_cloudtrail *ct, uint64_t seq, int timeout_ms);
/* Records durable so far (sequence), for the writer's stop logic. */
uint64_t ct_recorder_done(struct ts_cloudtrail *ct);
uint64_t ct_recorder_enqueued(struct ts_cloudtrail *ct);
void *ct_recorder_main(void *arg);

/* ct_writer.c: the trail writer thread */
void *ct_writer_main(void *arg);

/* ct_channels.c: channels and PutAuditEvents */
int ct_op_create_channel(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err);
int ct_op_get_channel(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err);
int ct_op_list_channels(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err);
int ct_op_put_audit_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);

#endif
