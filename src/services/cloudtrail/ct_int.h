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

struct ts_cloudtrail {
    struct ts_services_ctx ctx;
    struct ts_cloudtrail_sink sink;
    bool have_sink;
    struct ts_aws_service service;
    struct ts_aws_service data_service;
    _Atomic uint64_t trails_gen;   /* bumped by every trail change: the writer reloads */
    _Atomic int data_trails;       /* trails whose selectors include data events */
    _Atomic uint64_t appended;     /* records appended (for flush) */
    /* writer */
    pthread_mutex_t lock;
    pthread_cond_t cond;           /* wakes the writer */
    pthread_cond_t idle_cond;      /* signalled when the writer caught up */
    uint64_t wakeups;              /* guarded by lock */
    uint64_t delivered_upto;       /* value of `appended` the writer last caught up with */
    bool stopping;
    bool writer_started;
    pthread_t writer;
};

/* ct_service.c */
/* Appends one stored record: [flags][resource type]\0[resource ARN]\0[record JSON]. */
int ct_append_one(struct ts_cloudtrail *ct, const char *account, const char *region,
                  uint8_t flags, const char *rtype, const char *rarn, const char *json,
                  size_t len);
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
