/*
 * logs_internal.c - appends from inside trailstream (trail delivery) through the very path
 * of PutLogEvents, so metric filters, retention and subscription dispatch see those events
 * exactly as they see a client's.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
#include <stdio.h>
#include <string.h>

#include "logs_int.h"

/* Appends s as a JSON string literal (quotes included). */
static int add_json_string(struct ts_buf *b, const char *s, size_t n)
{
    int rc = ts_buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        rc = ts_buf_add(b, s + run, i - run);
        run = i + 1;
        if (rc) {
            break;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = ts_buf_add(b, e, 2);
        } else {
            rc = ts_buf_addf(b, "\\u%04x", c);
        }
    }
    rc = rc ? rc : ts_buf_add(b, s + run, n - run);
    return rc ? rc : ts_buf_addc(b, '"');
}

/* One PutLogEvents (or CreateLogStream) call on behalf of `account`, as the account's root. */
static int call_op(struct ts_logs *l, ts_aws_op_fn fn, const char *account, const char *region,
                   const char *body, size_t len, cJSON *input, struct ts_aws_error *err)
{
    struct ts_http_request http;
    memset(&http, 0, sizeof(http));
    http.method = "POST";
    http.uri = "/";
    http.path = "/";
    http.query = "";
    http.body = (const uint8_t *)body;
    http.body_len = len;
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
    int rc = fn(l, &req, &resp, err);
    cJSON_Delete(resp.output);
    ts_buf_free(&resp.json);
    ts_buf_free(&resp.xml);
    return rc;
}

static int put_chunk(struct ts_logs *l, const char *account, const char *region,
                     const char *group, const char *stream, const char *const *messages,
                     const size_t *lens, const int64_t *timestamps, size_t n)
{
    struct ts_buf b;
    size_t total = 256 + strlen(group) * 2 + strlen(stream) * 2;
    for (size_t i = 0; i < n; i++) {
        total += lens[i] * 6 + 48;
    }
    ts_buf_init(&b, total);
    int rc = ts_buf_adds(&b, "{\"logGroupName\":");
    rc = rc ? rc : add_json_string(&b, group, strlen(group));
    rc = rc ? rc : ts_buf_adds(&b, ",\"logStreamName\":");
    rc = rc ? rc : add_json_string(&b, stream, strlen(stream));
    rc = rc ? rc : ts_buf_adds(&b, ",\"logEvents\":[");
    int64_t prev = INT64_MIN;
    for (size_t i = 0; !rc && i < n; i++) {
        /* PutLogEvents needs chronological order within a batch. */
        int64_t t = TS_MAX(timestamps[i], prev);
        prev = t;
        rc = ts_buf_addf(&b, "%s{\"timestamp\":%lld,\"message\":", i ? "," : "", (long long)t);
        rc = rc ? rc : add_json_string(&b, messages[i], lens[i]);
        rc = rc ? rc : ts_buf_addc(&b, '}');
    }
    rc = rc ? rc : ts_buf_adds(&b, "]}");
    struct ts_aws_error err;
    for (int attempt = 0; !rc && attempt < 2; attempt++) {
        rc = call_op(l, logs_op_put_log_events, account, region, b.data, b.len, NULL, &err);
        if (!rc || strcmp(err.code, "ResourceNotFoundException") != 0 || attempt) {
            break;
        }
        /* The stream is created on first use, as CloudTrail does. */
        cJSON *in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "logGroupName", group);
        cJSON_AddStringToObject(in, "logStreamName", stream);
        rc = in ? call_op(l, logs_op_create_log_stream, account, region, NULL, 0, in, &err)
                : TS_ENOMEM;
        cJSON_Delete(in);
        if (rc && strcmp(err.code, "ResourceAlreadyExistsException") == 0) {
            rc = 0;
        }
    }
    if (rc && strcmp(err.code, "ResourceNotFoundException") == 0) {
        rc = TS_ENOTFOUND;
    } else if (rc && rc != TS_ENOMEM && rc != TS_ETOOBIG) {
        rc = strcmp(err.code, "InvalidParameterException") == 0 ? TS_EINVAL : TS_EIO;
    }
    ts_buf_free(&b);
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
