/*
 * logs_int.h - internals shared by the CloudWatch Logs service files.
 */
#ifndef TS_LOGS_INT_H
#define TS_LOGS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "trailstream/ts_logs.h"
#include "trailstream/ts_pattern.h"

#define LOGS_KEY_MAX 1200       /* "<region>:<group>:<stream>" */
#define LOGS_DOC_MAX (1u << 20) /* one metadata document */
#define LOGS_GROUP_NAME_MAX 512
#define LOGS_STREAM_NAME_MAX 512
#define LOGS_MAX_METRIC_FILTERS 100

/* A compiled metric filter of a log group, cached for PutLogEvents. */
struct logs_metric_filter {
    char name[LOGS_STREAM_NAME_MAX + 1];
    struct ts_pattern *pattern;
    char metric_name[256];
    char metric_namespace[256];
    char metric_value[101];  /* literal number or $.field / $name */
    bool has_default;
    double default_value;
    char dims[3][2][256];    /* dimension name, value selector */
    int n_dims;
    int value_ref;           /* reference id of metric_value when it is a $reference */
    int dim_ref[3];          /* reference ids of the dimension values */
};

/* What PutLogEvents needs of a group, cached until the group's document changes. */
struct logs_group_info {
    struct logs_group_info *next;
    char account[13];
    char key[LOGS_KEY_MAX];  /* "<region>:<group>" */
    int retention_days;      /* 0 = never expire */
    struct logs_metric_filter *filters;
    int n_filters;
    int refs;
    /* Stream ids of recently written streams (logs_group_info_stream), under ts_logs.lock.
     * Deleting a stream invalidates its group's entry, so an id is never stale. */
    struct {
        char name[LOGS_STREAM_NAME_MAX + 1];
        uint64_t id;
    } streams[4];
    unsigned n_streams;
};

struct ts_logs {
    struct ts_services_ctx ctx;
    struct ts_logs_opts opts;
    struct ts_aws_service service;
    pthread_mutex_t lock;             /* guards the cache and the sweeper state */
    pthread_cond_t cond;
    struct logs_group_info *cache;
    uint64_t cache_gen;               /* bumped by every invalidation */
    pthread_t sweeper;
    bool sweeper_started;
    bool stopping;
    struct ts_logs_targets targets;   /* subscription targets (zeroed when none) */
    _Atomic uint64_t sub_gen;         /* bumped when filters or destinations change */
};

/* logs_service.c: names, lookups, documents */
int logs_check_group_name(const char *name, struct ts_aws_error *err, const char *member);
int logs_check_stream_name(const char *name, struct ts_aws_error *err, const char *member);
/* Resolves logGroupName / logGroupIdentifier (exactly one) into the group's name. */
int logs_group_arg(struct ts_aws_req *req, char *name, size_t name_len, bool identifier_allowed,
                   struct ts_aws_error *err);
void logs_group_key(const char *region, const char *group, char out[LOGS_KEY_MAX]);
void logs_stream_key(const char *region, const char *group, const char *stream,
                     char out[LOGS_KEY_MAX]);
/* Loads the group's document (parsed). Returns 0, or fills err with ResourceNotFound. */
int logs_load_group(struct ts_logs *l, struct ts_aws_req *req, const char *group, cJSON **doc,
                    struct ts_aws_error *err);
int logs_load_stream(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                     const char *stream, cJSON **doc, struct ts_aws_error *err);
/* Stores a document (printed from cJSON). Fills err on failure. */
int logs_put_doc(struct ts_logs *l, const char *kind, const char *account, const char *key,
                 const cJSON *doc, bool create, struct ts_aws_error *err);
/* The stream id recorded in a stream document (hex string member "streamId"). */
uint64_t logs_stream_id_of(const char *json);
/* One page of metadata documents for a Describe* call: lists `kind` documents of the caller
 * under key_prefix in key order, resumes after the position sealed in `token` (bound to
 * token_kind and scope), turns each document into its API view with view_fn (NULL = the
 * document itself; a NULL view skips it), adds at most `limit` of them to resp->output's array
 * `member`, and sets nextToken when more remain. Returns 0 or fills err. */
typedef cJSON *(*logs_view_fn)(const cJSON *doc);
int logs_describe_page(struct ts_logs *l, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       const char *kind, const char *key_prefix, const char *token_kind,
                       const char *scope, const char *token, int64_t limit,
                       logs_view_fn view_fn, const char *member, struct ts_aws_error *err);
/* Turns a store/meta error into ServiceUnavailableException. */
int logs_storage_error(struct ts_aws_error *err, int rc);
/* Optional integer member: 0 absent (*out untouched), 1 present, <0 wrong type (err set). */
int logs_opt_int(const cJSON *in, const char *member, int64_t *out, struct ts_aws_error *err);
int logs_opt_string(const cJSON *in, const char *member, const char **out,
                    struct ts_aws_error *err);
int logs_opt_bool(const cJSON *in, const char *member, bool *out, struct ts_aws_error *err);
/* ARNs */
void logs_group_arn(const struct ts_aws_req *req, const char *group, bool star, char *out,
                    size_t out_len);
/* Group info cache */
/* Returns the group's info (retention, compiled metric filters), loading the group document
 * when not cached; NULL with err set when the group does not exist or storage fails. Release
 * with logs_group_info_put. */
struct logs_group_info *logs_group_info_get(struct ts_logs *l, const char *account,
                                            const char *key, struct ts_aws_error *err);
void logs_group_info_put(struct ts_logs *l, struct logs_group_info *gi);
void logs_group_info_invalidate(struct ts_logs *l, const char *account, const char *key);
/* The id of stream `stream` of gi's group if gi remembers it, else 0; and remembering one. */
uint64_t logs_group_info_stream(struct ts_logs *l, struct logs_group_info *gi,
                                const char *stream);
void logs_group_info_set_stream(struct ts_logs *l, struct logs_group_info *gi,
                                const char *stream, uint64_t id);
/* Pagination tokens over the per-directory key */
int logs_token_make(struct ts_logs *l, const char *kind, const struct ts_aws_req *req,
                    const char *scope, const char *position, cJSON *out_obj,
                    const char *member);
int logs_token_read(struct ts_logs *l, const char *kind, const struct ts_aws_req *req,
                    const char *scope, const char *token, char *position, size_t pos_len,
                    struct ts_aws_error *err);

/* logs_groups.c */
/* Runs fn on the group's document inside one metadata transaction and stores the result;
 * fn returns 0 or fills err. Invalidates the group's cached info afterwards. */
typedef int (*logs_update_fn)(cJSON *doc, void *arg, struct ts_aws_error *err);
int logs_update_group(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                      logs_update_fn fn, void *arg, struct ts_aws_error *err);
int logs_op_create_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                             struct ts_aws_error *err);
int logs_op_delete_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                             struct ts_aws_error *err);
int logs_op_describe_log_groups(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                struct ts_aws_error *err);
int logs_op_put_retention_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err);
int logs_op_delete_retention_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err);
int logs_op_tag_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err);
int logs_op_untag_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);
int logs_op_list_tags_for_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err);
int logs_op_tag_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err);
int logs_op_list_tags_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                struct ts_aws_error *err);

/* logs_streams.c */
int logs_op_create_log_stream(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int logs_op_delete_log_stream(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int logs_op_describe_log_streams(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err);
/* Deletes every stream (documents and partitions) of a group. */
int logs_delete_group_streams(struct ts_logs *l, const char *account, const char *region,
                              const char *group);
/* Calls fn for each stream of a group with its name and stream id. */
typedef int (*logs_stream_fn)(void *arg, const char *stream, uint64_t stream_id);
int logs_each_stream(struct ts_logs *l, const char *account, const char *region,
                     const char *group, const char *name_prefix, logs_stream_fn fn, void *arg);

/* logs_events.c */
int logs_op_put_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);
int logs_op_get_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);
int logs_op_filter_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);

/* logs_subscriptions.c */
int logs_op_put_subscription_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err);
int logs_op_describe_subscription_filters(void *c, struct ts_aws_req *req,
                                          struct ts_aws_resp *resp, struct ts_aws_error *err);
int logs_op_delete_subscription_filter(void *c, struct ts_aws_req *req,
                                       struct ts_aws_resp *resp, struct ts_aws_error *err);
/* Deletes every subscription filter of a group (DeleteLogGroup). */
int logs_delete_group_subscriptions(struct ts_logs *l, const char *account, const char *region,
                                    const char *group);
/* Tells the dispatcher that filters or destinations changed. */
void logs_subscriptions_changed(struct ts_logs *l);
/* Gzips the CONTROL_MESSAGE AWS sends to check a destination and puts it to the stream.
 * Returns 0 or the target's error. */
int logs_send_control_message(struct ts_logs *l, const char *stream_arn, int64_t now_ms);
/* Checks "arn:aws:iam::<12 digits>:role/<name>"; fills err (InvalidParameterException). */
int logs_check_role_arn(const char *arn, struct ts_aws_error *err);
/* Splits "arn:aws:kinesis:<region>:<account>:stream/<name>": 0 or TS_EINVAL. */
int logs_parse_stream_arn(const char *arn, char region[32], char account[16]);

/* logs_destinations.c */
int logs_op_put_destination(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                            struct ts_aws_error *err);
int logs_op_put_destination_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err);
int logs_op_describe_destinations(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                  struct ts_aws_error *err);
int logs_op_delete_destination(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                               struct ts_aws_error *err);
/* Loads a destination document by its ARN (any account). Returns 0, TS_ENOTFOUND, TS_EINVAL
 * (not a destination ARN) or a storage error; *owner gets the ARN's account. */
int logs_load_destination(struct ts_logs *l, const char *arn, char owner[16], char region[32],
                          cJSON **doc);
/* The destination's access policy decision for a caller (same account: always allowed). */
bool logs_destination_allows(const cJSON *doc, const char *owner, const char *dest_arn,
                             const char *account, const char *caller_arn);

/* logs_put_parse.c: the PutLogEvents body, decoded straight into store records */
struct logs_put_input {
    char group[LOGS_GROUP_NAME_MAX + 1];
    char stream[LOGS_STREAM_NAME_MAX + 1];
    bool have_group, have_stream, have_events;
    bool group_too_long, stream_too_long;
    size_t n, cap;          /* events */
    int64_t *ts;            /* event timestamps */
    size_t *off, *len;      /* message position in payload (after its 8-byte time) */
    uint32_t *crc;          /* ts_crc32c of each event's [time][message] */
    /* per event, back to back: [TS_STORE_RECORD_OVERHEAD bytes for the store's header][8-byte
     * little-endian timestamp][message]: a run of events is a framed batch as is
     * (ts_partition_append_framed) */
    struct ts_buf payload;
};
/* Parses the body (strict JSON). Returns 0, or fills err (SerializationException for bad
 * JSON or types, InvalidParameterException for a null member or too many events). Free with
 * logs_put_input_free in every case. */
int logs_put_parse(const char *body, size_t len, struct logs_put_input *in,
                   struct ts_aws_error *err);
void logs_put_input_free(struct logs_put_input *in);
/* PutLogEvents after parsing: validates the batch, appends it durably, evaluates metric
 * filters and fills the response. Used by the operation and by ts_logs_put_internal, which
 * builds `in` directly. Does not free `in`; fills in the header room of its payload. */
int logs_put_events(struct ts_logs *l, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct logs_put_input *in, struct ts_aws_error *err);
/* The string decoder of logs_put_parse: "portable", "ssse3" or "avx512" (64-byte blocks, see
 * logs_put_parse.c). The best one the CPU has is used by default. With a name, selects that
 * decoder and returns the name, or NULL if this CPU or build lacks it; with NULL, returns the
 * decoder in use. For tests and benchmarks: not thread-safe against concurrent parses. */
const char *logs_put_parse_decoder(const char *name);

/* logs_metric.c */
int logs_op_put_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int logs_op_describe_metric_filters(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err);
int logs_op_delete_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err);
int logs_op_test_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                               struct ts_aws_error *err);
/* Evaluates a group's metric filters over accepted events (events[i], n). */
void logs_metric_apply(struct ts_logs *l, const char *account, const char *region,
                       const struct logs_group_info *gi, const struct ts_logs_event *events,
                       size_t n);
/* Compiles a metric filter document entry into mf. Returns 0 or fills err. */
int logs_metric_compile(const cJSON *entry, struct logs_metric_filter *mf,
                        struct ts_aws_error *err);
void logs_metric_free(struct logs_metric_filter *mf);

#endif
