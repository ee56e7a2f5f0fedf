/*
 * logs_internal.c - appends from inside trailstream (trail delivery) through the very path
 * of PutLogEvents after its body parser (logs_put_events: the same limits, the durable append,
 * metric filters), so retention, metric filters and subscription dispatch see those events
 * exactly as they see a client's. The batch is handed over as the parser would have built
 * it: no JSON is written or parsed on this path.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
#include <stdio.h>
#include <string.h>

#include "logs_int.h"

/* One call on behalf of `account`, as the account's root: CreateLogStream through its
 * operation (input), or PutLogEvents through logs_put_events with the batch already built
 * (put_in), which skips JSON entirely. */
static int call_op(struct ts_logs *l, ts_aws_op_fn fn, const char *account, const char *region,
                   struct logs_put_input *put_in, cJSON *input, struct ts_aws_error *err)
{
    struct ts_http_request http;
    memset(&http, 0, sizeof(http));
    http.method = "POST";
    http.uri = "/";
    http.path = "/";
    http.query = "";
    http.remote_addr = "";
    struct ts_aws_req req;
    struct ts_aws_resp resp;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    ts_buf_init(&resp.json, 0);
    ts_buf_init(&resp.xml, 0);
    req.http = &http;
    req.service = &l->service;
    req.protocol = TS_AWS_JSON;
    ts_strlcpy(req.caller.account, account, sizeof(req.caller.account));
    snprintf(req.caller.arn, sizeof(req.caller.arn), "arn:aws:iam::%s:root", account);
    ts_strlcpy(req.caller.user_id, account, sizeof(req.caller.user_id));
    req.caller.root = true;
    ts_strlcpy(req.region, region, sizeof(req.region));
    ts_uuid4(req.request_id);
    req.now_ms = ts_clock_now_ms(l->ctx.clock);
    req.input = input;
    memset(err, 0, sizeof(*err));
    int rc = put_in ? logs_put_events(l, &req, &resp, put_in, err) : fn(l, &req, &resp, err);
    cJSON_Delete(resp.output);
    ts_buf_free(&resp.json);
    ts_buf_free(&resp.xml);
    return rc;
}

/* The batch as the PutLogEvents parser would have left it: per event [8-byte little-endian
 * time][message] in one payload buffer, times made non-decreasing (PutLogEvents needs
 * chronological order within a batch). */
static int build_input(struct logs_put_input *in, const char *group, const char *stream,
                       const char *const *messages, const size_t *lens,
                       const int64_t *timestamps, size_t n)
{
    memset(in, 0, sizeof(*in));
    ts_strlcpy(in->group, group, sizeof(in->group));
    ts_strlcpy(in->stream, stream, sizeof(in->stream));
    in->have_group = in->have_stream = in->have_events = true;
    in->group_too_long = strlen(group) > LOGS_GROUP_NAME_MAX;
    in->stream_too_long = strlen(stream) > LOGS_STREAM_NAME_MAX;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += TS_STORE_RECORD_OVERHEAD + 8 + lens[i];
    }
    in->ts = ts_malloc((n ? n : 1) * sizeof(*in->ts));
    in->off = ts_malloc((n ? n : 1) * sizeof(*in->off));
    in->len = ts_malloc((n ? n : 1) * sizeof(*in->len));
    in->crc = ts_malloc((n ? n : 1) * sizeof(*in->crc));
    ts_buf_init(&in->payload, total + 1);
    if (!in->ts || !in->off || !in->len || !in->crc ||
        ts_buf_reserve(&in->payload, total + 1) != 0) {
        return TS_ENOMEM;
    }
    in->cap = n;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t t = TS_MAX(timestamps[i], prev);
        prev = t;
        uint8_t le[8];
        for (int b = 0; b < 8; b++) {
            le[b] = (uint8_t)((uint64_t)t >> (8 * b));
        }
        static const uint8_t hdr[TS_STORE_RECORD_OVERHEAD] = {0}; /* filled in by the store */
        ts_buf_add(&in->payload, hdr, sizeof(hdr));
        ts_buf_add(&in->payload, le, 8);
        in->off[i] = in->payload.len;
        ts_buf_add(&in->payload, messages[i], lens[i]);
        in->len[i] = lens[i];
        in->crc[i] = ts_crc32c(0, in->payload.data + in->off[i] - 8, 8 + lens[i]);
        in->ts[i] = t;
    }
    in->n = n;
    return 0;
}

static int put_chunk(struct ts_logs *l, const char *account, const char *region,
                     const char *group, const char *stream, const char *const *messages,
                     const size_t *lens, const int64_t *timestamps, size_t n)
{
    struct logs_put_input in;
    int rc = build_input(&in, group, stream, messages, lens, timestamps, n);
    struct ts_aws_error err = {0};
    for (int attempt = 0; !rc && attempt < 2; attempt++) {
        rc = call_op(l, NULL, account, region, &in, NULL, &err);
        if (!rc || strcmp(err.code, "ResourceNotFoundException") != 0 || attempt) {
            break;
        }
        /* The stream is created on first use, as CloudTrail does. */
        cJSON *cin = cJSON_CreateObject();
        cJSON_AddStringToObject(cin, "logGroupName", group);
        cJSON_AddStringToObject(cin, "logStreamName", stream);
        rc = cin ? call_op(l, logs_op_create_log_stream, account, region, NULL, cin, &err)
                 : TS_ENOMEM;
        cJSON_Delete(cin);
        if (rc && strcmp(err.code, "ResourceAlreadyExistsException") == 0) {
            rc = 0;
        }
    }
    if (rc && strcmp(err.code, "ResourceNotFoundException") == 0) {
        rc = TS_ENOTFOUND;
    } else if (rc && rc != TS_ENOMEM && rc != TS_ETOOBIG) {
        rc = strcmp(err.code, "InvalidParameterException") == 0 ? TS_EINVAL : TS_EIO;
    }
    logs_put_input_free(&in);
    return rc;
}

int ts_logs_put_internal(struct ts_logs *l, const char *account, const char *region,
                         const char *group, const char *stream, const char *const *messages,
                         const size_t *lens, const int64_t *timestamps, size_t n)
{
    size_t start = 0;
    while (start < n) {
        /* Chunks within PutLogEvents' limits (count and bytes). */
        size_t bytes = 0, end = start;
        while (end < n && end - start < TS_LOGS_MAX_BATCH_EVENTS &&
               (end == start ||
                bytes + lens[end] + TS_LOGS_EVENT_OVERHEAD <= TS_LOGS_MAX_BATCH_BYTES)) {
            bytes += lens[end] + TS_LOGS_EVENT_OVERHEAD;
            end++;
        }
        int rc = put_chunk(l, account, region, group, stream, messages + start, lens + start,
                           timestamps + start, end - start);
        if (rc) {
            return rc;
        }
        start = end;
    }
    return 0;
}
