/*
 * kinesis_service.c - the Kinesis Data Streams service object: its operations table (awsJson
 * 1.1, target prefix Kinesis_20131202, also CBOR), creation and the retention thread.
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_Operations.html
 */
#include "kinesis_int.h"

#include <string.h>
#include <time.h>

#include "trailstream/ts_cbor.h"

/* PutRecords parses its own body (raw_body): the DOM of 500 records costs more than the rest
 * of the request. */
static const struct ts_aws_op kinesis_ops[] = {
    {.name = "AddTagsToStream", .fn = kin_op_add_tags},
    {.name = "CreateStream", .fn = kin_op_create_stream},
    {.name = "DecreaseStreamRetentionPeriod", .fn = kin_op_decrease_retention},
    {.name = "DeleteStream", .fn = kin_op_delete_stream},
    {.name = "DescribeStream", .fn = kin_op_describe_stream},
    {.name = "DescribeStreamSummary", .fn = kin_op_describe_stream_summary},
    {.name = "GetRecords", .fn = kin_op_get_records},
    {.name = "GetShardIterator", .fn = kin_op_get_shard_iterator},
    {.name = "IncreaseStreamRetentionPeriod", .fn = kin_op_increase_retention},
    {.name = "ListShards", .fn = kin_op_list_shards},
    {.name = "ListStreams", .fn = kin_op_list_streams},
    {.name = "ListTagsForResource", .fn = kin_op_list_tags_for_resource},
    {.name = "ListTagsForStream", .fn = kin_op_list_tags},
    {.name = "PutRecord", .fn = kin_op_put_record},
    {.name = "PutRecords", .fn = kin_op_put_records, .raw_body = true},
    {.name = "RemoveTagsFromStream", .fn = kin_op_remove_tags},
    {.name = "TagResource", .fn = kin_op_tag_resource},
    {.name = "UntagResource", .fn = kin_op_untag_resource},
    {.name = "UpdateShardCount", .fn = kin_op_update_shard_count},
};

/* Members that CBOR carries as byte strings and as tag-1 timestamps (every Kinesis shape). */
static const char *const cbor_blobs[] = {"Data", NULL};
static const char *const cbor_timestamps[] = {"ApproximateArrivalTimestamp",
                                              "StreamCreationTimestamp", "Timestamp", NULL};
static const struct ts_cbor_schema cbor_schema = {cbor_blobs, cbor_timestamps};

static void *retention_main(void *arg)
{
    ts_thread_name("ts-kin-retain");
    struct ts_kinesis *k = arg;
    pthread_mutex_lock(&k->stop_mu);
    while (!k->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)(k->opts.retention_interval_ms % 1000) * 1000000;
        ts.tv_sec += k->opts.retention_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&k->stop_cv, &k->stop_mu, &ts);
        if (k->stopping) {
            break;
        }
        pthread_mutex_unlock(&k->stop_mu);
        int rc = ts_kinesis_retain_now(k);
        if (rc) {
            TS_LOG_WARN("kinesis", "retention pass: %s", ts_strerror(rc));
        }
        pthread_mutex_lock(&k->stop_mu);
    }
    pthread_mutex_unlock(&k->stop_mu);
    return NULL;
}

int ts_kinesis_create(const struct ts_services_ctx *ctx, const struct ts_kinesis_opts *opts,
                      struct ts_kinesis **out)
{
    if (!ctx || !ctx->store || !ctx->meta || !ctx->secret) {
        return TS_EINVAL;
    }
    struct ts_kinesis *k = ts_calloc(1, sizeof(*k));
    if (!k) {
        return TS_ENOMEM;
    }
    k->ctx = *ctx;
    if (!k->ctx.clock) {
        k->ctx.clock = &ts_clock_real;
    }
    if (opts) {
        k->opts = *opts;
    }
    if (k->opts.retention_interval_ms == 0) {
        k->opts.retention_interval_ms = 60000;
    }
    if (k->opts.shard_limit <= 0) {
        k->opts.shard_limit = 500;
    }
    static const char label[] = "trailstream kinesis tokens v1";
    ts_hmac_sha256(ctx->secret, 32, label, sizeof(label) - 1, k->token_key);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    /* Recursive: cache misses take it too, also from inside control-plane operations. */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&k->ctl, &a);
    pthread_mutexattr_destroy(&a);
    pthread_mutex_init(&k->cache_mu, NULL);
    pthread_mutex_init(&k->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    k->service = (struct ts_aws_service){
        .name = "kinesis",
        .signing_name = "kinesis",
        .protocol = TS_AWS_JSON,
        .target_prefix = "Kinesis_20131202",
        .content_type = "application/x-amz-json-1.1",
        .validation_code = "ValidationException",
        .cbor = &cbor_schema,
        .ops = kinesis_ops,
        .n_ops = TS_ARRAY_LEN(kinesis_ops),
        .ctx = k,
    };
    /* Appends mostly wait on fsync: a few more threads than cores is right. */
    k->pool = kin_pool_create(8);
    if (k->opts.retention_interval_ms > 0) {
        if (pthread_create(&k->thread, NULL, retention_main, k) != 0) {
            ts_kinesis_destroy(k);
            return TS_ENOMEM;
        }
        k->thread_started = true;
    }
    *out = k;
    return 0;
}

void ts_kinesis_destroy(struct ts_kinesis *k)
{
    if (!k) {
        return;
    }
    if (k->thread_started) {
        pthread_mutex_lock(&k->stop_mu);
        k->stopping = true;
        pthread_cond_signal(&k->stop_cv);
        pthread_mutex_unlock(&k->stop_mu);
        pthread_join(k->thread, NULL);
    }
    kin_pool_destroy(k->pool);
    kin__cache_clear(k);
    pthread_cond_destroy(&k->stop_cv);
    pthread_mutex_destroy(&k->stop_mu);
    pthread_mutex_destroy(&k->cache_mu);
    pthread_mutex_destroy(&k->ctl);
    ts_free(k);
}

const struct ts_aws_service *ts_kinesis_service(struct ts_kinesis *k)
{
    return &k->service;
}

bool ts_kinesis_stream_exists(struct ts_kinesis *k, const char *arn)
{
    char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
    struct kin_stream *s;
    if (kin_parse_arn(arn, account, region, name) != 0 ||
        kin_stream_get(k, account, region, name, &s) != 0) {
        return false;
    }
    bool exists = !s->deleted;
    kin_stream_put(s);
    return exists;
}
