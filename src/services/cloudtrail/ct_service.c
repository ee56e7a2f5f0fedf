/*
 * ct_service.c - the CloudTrail service: operations tables, the recording hook, stored
 * record framing, and the trail writer's lifecycle.
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/Welcome.html
 *
 * A stored event record is [1 byte flags][resource type]\0[resource ARN]\0[record JSON]; the
 * header lets the trail writer apply event selectors without parsing the JSON.
 */
#include <stdio.h>
#include <string.h>

#include "ct_int.h"

void ct_events_partition(const char *account, const char *region, char *out, size_t out_len)
{
    snprintf(out, out_len, "cloudtrail/%s/%s/events", account, region);
}

int ct_split_record(const uint8_t *data, size_t len, uint8_t *flags, const char **rtype,
                    const char **rarn, const char **json, size_t *json_len)
{
    if (len < 3) {
        return TS_ECORRUPT;
    }
    const char *p = (const char *)data + 1;
    const char *end = (const char *)data + len;
    const char *z1 = memchr(p, '\0', (size_t)(end - p));
    const char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
    if (!z2) {
        return TS_ECORRUPT;
    }
    *flags = data[0];
    *rtype = p;
    *rarn = z1 + 1;
    *json = z2 + 1;
    *json_len = (size_t)(end - z2 - 1);
    return 0;
}

int ct_append_batch(struct ts_cloudtrail *ct, const char *account, const char *region,
                    const uint8_t *flags, const char *rtype, const char *rarn,
                    const char *const *records, const size_t *lens, size_t n)
{
    char pname[256];
    ct_events_partition(account, region, pname, sizeof(pname));
    struct ts_partition *p = NULL;
    int rc = n ? ts_store_partition(ct->ctx.store, pname, true, &p) : 0;
    if (rc || !n) {
        return rc;
    }
    size_t hl = strlen(rtype) + strlen(rarn) + 3, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > TS_CT_RECORD_MAX) {
            return TS_EINVAL;
        }
        total += lens[i] + hl;
    }
    struct ts_record_in *recs = ts_calloc(n, sizeof(*recs));
    size_t *offs = ts_calloc(n, sizeof(size_t));
    struct ts_buf b;
    ts_buf_init(&b, total + 16);
    rc = recs && offs ? ts_buf_reserve(&b, total + 1) : TS_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        offs[i] = b.len;
        rc = ts_buf_addc(&b, (char)(flags ? flags[i] : 0));
        rc = rc ? rc : ts_buf_add(&b, rtype, strlen(rtype) + 1);
        rc = rc ? rc : ts_buf_add(&b, rarn, strlen(rarn) + 1);
        rc = rc ? rc : ts_buf_add(&b, records[i], lens[i]);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        recs[i].data = b.data + offs[i];
        recs[i].len = lens[i] + hl;
    }
    /* Durability: the batch is durable (all or nothing) when this returns 0. */
    uint64_t first = 0;
    rc = rc ? rc : ts_partition_append(p, recs, n, 0, &first);
    if (!rc) {
        atomic_fetch_add(&ct->appended, n);
    }
    ts_free(offs);
    ts_free(recs);
    ts_buf_free(&b);
    return rc;
}

int ts_cloudtrail_append(struct ts_cloudtrail *ct, const char *account, const char *region,
                         const char *const *records, const size_t *lens, const uint8_t *flags,
                         size_t n)
{
    uint8_t *f = ts_malloc(n ? n : 1);
    if (!f) {
        return TS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        f[i] = (uint8_t)((flags ? flags[i] : 0) | TS_CT_F_EXTERNAL);
    }
    int rc = ct_append_batch(ct, account, region, f, "", "", records, lens, n);
    ts_free(f);
    return rc;
}

/* ------------------------------------------------------------------ recording */

/* Query-protocol parameters as requestParameters (Action and Version are not parameters). */
static cJSON *query_params(const struct ts_aws_req *req)
{
    cJSON *o = NULL;
    for (size_t i = 0; i < req->n_params; i++) {
        const char *n = req->params[i].name;
        if (strcmp(n, "Action") == 0 || strcmp(n, "Version") == 0) {
            continue;
        }
        o = o ? o : cJSON_CreateObject();
        char lower[128];
        ts_strlcpy(lower, n, sizeof(lower));
        lower[0] = (char)(lower[0] >= 'A' && lower[0] <= 'Z' ? lower[0] + 32 : lower[0]);
        cJSON_AddStringToObject(o, lower, req->params[i].value);
    }
    return o;
}

void ts_cloudtrail_record_request(void *ctx, const struct ts_aws_req *req, int status,
                                  const struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = ctx;
    TS_UNUSED(status);
    if (!ct || !req->op || !req->service) {
        return;
    }
    struct ts_ct_class cls;
    ts_ct_classify(req->service->name, req->op->name, &cls);
    /* Data events are kept only while some trail selects data events: they are not part of
     * event history, so without such a trail nobody could ever read them. */
    if (cls.data && atomic_load(&ct->data_trails) == 0) {
        return;
    }
    cJSON *parsed = NULL;
    const cJSON *request = req->input;
    if (!request && req->protocol == TS_AWS_QUERY) {
        request = parsed = query_params(req);
    } else if (!request && req->http->body_len && !req->auth_failed) {
        /* Operations that parse their own body (PutLogEvents, PutRecords): read the
         * parameters back; bulk members are dropped by the builder. */
        request = parsed = cJSON_ParseWithLength((const char *)req->http->body,
                                                 req->http->body_len);
    }
    const struct ts_http_request *http = req->http;
    struct ts_ct_event ev = {
        .caller = &req->caller,
        .event_name = req->op->name,
        .region = req->region[0] ? req->region : "us-east-1",
        .source_ip = http->remote_addr,
        .user_agent = ts_http_header_get(http, "user-agent"),
        .request_id = req->request_id,
        .time_ms = req->now_ms,
        .request = req->auth_failed ? NULL : request,
        .response = req->output,
        .error_code = err ? err->code : NULL,
        .error_message = err ? err->message : NULL,
    };
    struct ts_buf b;
    ts_buf_init(&b, TS_CT_RECORD_MAX);
    int rc = ts_cloudtrail_record_build(&ev, &cls, &b);
    char arn[TS_AWS_ARN_MAX * 2] = "";
    if (!rc && cls.data) {
        /* The resource ARN is in the record's resources[0].ARN. */
        const char *a = strstr(b.data, "\"ARN\":\"");
        if (a) {
            a += 7;
            const char *e = strchr(a, '"');
            size_t n = e ? (size_t)(e - a) : 0;
            if (n < sizeof(arn)) {
                memcpy(arn, a, n);
                arn[n] = '\0';
            }
        }
    }
    uint8_t flags = (uint8_t)((cls.data ? TS_CT_F_DATA : 0) | (cls.read_only ? TS_CT_F_READONLY
                                                                              : 0));
    /* Durability: the record is queued, not yet durable, when the response leaves; the
     * recorder appends it within one pass (see ct_recorder.c and docs/cloudtrail.md). */
    uint64_t seq = 0;
    rc = rc ? rc
            : ct_recorder_enqueue(ct, req->caller.account, ev.region, flags,
                                  cls.resource_type ? cls.resource_type : "", arn, b.data, b.len,
                                  &seq);
    if (rc) {
        ts_metric_add("ts_cloudtrail_record_errors_total", "", 1);
        TS_LOG_ERROR("cloudtrail", "cannot record %s for %s: %s", req->op->name,
                     req->caller.account, ts_strerror(rc));
    } else if (strcmp(req->service->name, "cloudtrail") == 0 &&
               (strcmp(req->op->name, "StopLogging") == 0 ||
                strcmp(req->op->name, "DeleteTrail") == 0)) {
        /* StopLogging and DeleteTrail are recorded first: they answer only once their record
         * (and every record queued before it) is durable, so the trail writer, which delivers
         * until it meets that record, finds it right after the stop (ct_writer.c). */
        ct_recorder_wait(ct, seq, CT_STOP_RECORD_WAIT_MS);
    }
    ts_buf_free(&b);
    cJSON_Delete(parsed);
}

/* ------------------------------------------------------------------ writer control */

void ct_trails_changed(struct ts_cloudtrail *ct)
{
    atomic_fetch_add(&ct->trails_gen, 1);
    pthread_mutex_lock(&ct->lock);
    ct->wakeups++;
    pthread_cond_signal(&ct->cond);
    pthread_mutex_unlock(&ct->lock);
}

void ts_cloudtrail_notify(struct ts_cloudtrail *ct, const char *partition_name)
{
    if (!ct || !ts_str_has_prefix(partition_name, "cloudtrail/") ||
        !atomic_load(&ct->writer_busy)) {
        return; /* with no trail to deliver for, appends need not wake the writer */
    }
    pthread_mutex_lock(&ct->lock);
    ct->wakeups++;
    pthread_cond_signal(&ct->cond);
    pthread_mutex_unlock(&ct->lock);
}

int ts_cloudtrail_flush(struct ts_cloudtrail *ct, int timeout_ms)
{
    int64_t deadline = ts_clock_now_ms(&ts_clock_real) + timeout_ms;
    /* First everything queued by the recorder so far, then its delivery. */
    if (ct->recorder_started && ct_recorder_wait(ct, UINT64_MAX, timeout_ms) != 0) {
        return TS_ETIMEDOUT;
    }
    uint64_t target = atomic_load(&ct->appended);
    pthread_mutex_lock(&ct->lock);
    ct->wakeups++;
    pthread_cond_signal(&ct->cond);
    int rc = 0;
    while (ct->delivered_upto < target && !ct->stopping) {
        int64_t left = deadline - ts_clock_now_ms(&ts_clock_real);
        if (left <= 0 || !ct->writer_started) {
            rc = TS_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (TS_MIN(left, 100) * 1000000LL);
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        pthread_cond_timedwait(&ct->idle_cond, &ct->lock, &ts);
    }
    pthread_mutex_unlock(&ct->lock);
    return rc;
}

/* ------------------------------------------------------------------ service tables */

static const char *const req_name[] = {"Name", NULL};
static const char *const req_create[] = {"Name", "S3BucketName", NULL};
static const char *const req_trail_name[] = {"TrailName", NULL};
static const char *const req_create_channel[] = {"Name", "Source", "Destinations", NULL};
static const char *const req_channel[] = {"Channel", NULL};
static const char *const req_audit[] = {"auditEvents", NULL};

static const struct ts_aws_op ct_ops[] = {
    {"CreateTrail", ct_op_create_trail, req_create, false},
    {"UpdateTrail", ct_op_update_trail, req_name, false},
    {"DeleteTrail", ct_op_delete_trail, req_name, false},
    {"DescribeTrails", ct_op_describe_trails, NULL, false},
    {"GetTrail", ct_op_get_trail, req_name, false},
    {"ListTrails", ct_op_list_trails, NULL, false},
    {"GetTrailStatus", ct_op_get_trail_status, req_name, false},
    {"StartLogging", ct_op_start_logging, req_name, false},
    {"StopLogging", ct_op_stop_logging, req_name, false},
    {"PutEventSelectors", ct_op_put_event_selectors, req_trail_name, false},
    {"GetEventSelectors", ct_op_get_event_selectors, req_trail_name, false},
    {"LookupEvents", ct_op_lookup_events, NULL, false},
    {"CreateChannel", ct_op_create_channel, req_create_channel, false},
    {"GetChannel", ct_op_get_channel, req_channel, false},
    {"ListChannels", ct_op_list_channels, NULL, false},
};

static const struct ts_aws_op ct_data_ops[] = {
    {"PutAuditEvents", ct_op_put_audit_events, req_audit, false},
};

static const struct ts_aws_route ct_data_routes[] = {
    {"POST", "/PutAuditEvents", "PutAuditEvents"},
};

int ts_cloudtrail_create(const struct ts_services_ctx *ctx, const struct ts_cloudtrail_opts *o,
                         struct ts_cloudtrail **out)
{
    *out = NULL;
    struct ts_cloudtrail *ct = ts_calloc(1, sizeof(*ct));
    if (!ct) {
        return TS_ENOMEM;
    }
    ct->ctx = *ctx;
    if (o && o->sink) {
        ct->sink = *o->sink;
        ct->have_sink = true;
    }
    ct->service = (struct ts_aws_service){
        .name = "cloudtrail",
        .signing_name = "cloudtrail",
        .protocol = TS_AWS_JSON,
        .target_prefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
        .content_type = "application/x-amz-json-1.1",
        .validation_code = "InvalidParameterException",
        .ops = ct_ops,
        .n_ops = TS_ARRAY_LEN(ct_ops),
        .ctx = ct,
    };
    ct->data_service = (struct ts_aws_service){
        .name = "cloudtrail-data",
        .signing_name = "cloudtrail-data",
        .protocol = TS_AWS_REST_JSON,
        .content_type = "application/json",
        .validation_code = "ValidationException",
        .ops = ct_data_ops,
        .n_ops = TS_ARRAY_LEN(ct_data_ops),
        .routes = ct_data_routes,
        .n_routes = TS_ARRAY_LEN(ct_data_routes),
        .ctx = ct,
    };
    pthread_mutex_init(&ct->lock, NULL);
    pthread_cond_init(&ct->cond, NULL);
    pthread_cond_init(&ct->idle_cond, NULL);
    pthread_mutex_init(&ct->q_lock, NULL);
    pthread_cond_init(&ct->q_cond, NULL);
    pthread_cond_init(&ct->q_space, NULL);
    pthread_cond_init(&ct->q_done_cond, NULL);
    atomic_store(&ct->data_trails, ct_count_data_trails(ct));
    int prc = pthread_create(&ct->recorder, NULL, ct_recorder_main, ct);
    if (prc) {
        ts_cloudtrail_destroy(ct);
        return -prc;
    }
    ct->recorder_started = true;
    if (!(o && o->no_writer)) {
        int rc = pthread_create(&ct->writer, NULL, ct_writer_main, ct);
        if (rc) {
            ts_cloudtrail_destroy(ct);
            return -rc;
        }
        ct->writer_started = true;
    }
    *out = ct;
    return 0;
}

void ts_cloudtrail_destroy(struct ts_cloudtrail *ct)
{
    if (!ct) {
        return;
    }
    if (ct->recorder_started) {
        /* Durability order: drain the recorder (every queued record becomes durable) before
         * the writer stops and before apps/ closes the store. */
        pthread_mutex_lock(&ct->q_lock);
        ct->q_stopping = true;
        pthread_cond_signal(&ct->q_cond);
        pthread_mutex_unlock(&ct->q_lock);
        pthread_join(ct->recorder, NULL);
    }
    if (ct->writer_started) {
        pthread_mutex_lock(&ct->lock);
        ct->stopping = true;
        pthread_cond_broadcast(&ct->cond);
        pthread_cond_broadcast(&ct->idle_cond);
        pthread_mutex_unlock(&ct->lock);
        pthread_join(ct->writer, NULL);
    }
    pthread_cond_destroy(&ct->cond);
    pthread_cond_destroy(&ct->idle_cond);
    pthread_mutex_destroy(&ct->lock);
    pthread_cond_destroy(&ct->q_cond);
    pthread_cond_destroy(&ct->q_space);
    pthread_cond_destroy(&ct->q_done_cond);
    pthread_mutex_destroy(&ct->q_lock);
    ts_free(ct);
}

const struct ts_aws_service *ts_cloudtrail_service(struct ts_cloudtrail *ct)
{
    return &ct->service;
}

const struct ts_aws_service *ts_cloudtrail_data_service(struct ts_cloudtrail *ct)
{
    return &ct->data_service;
}
