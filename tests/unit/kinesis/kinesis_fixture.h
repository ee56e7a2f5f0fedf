/*
 * kinesis_fixture.h - runs Kinesis operations without a socket: a real store and metadata
 * database in a temporary directory, a fake clock the test moves, and a caller per account.
 */
#ifndef KINESIS_FIXTURE_H
#define KINESIS_FIXTURE_H

#include "kinesis_int.h"
#include "store_test_util.h"
#include "ts_test.h"

#include <stdarg.h>

struct fx {
    char dir[256];
    struct ts_store *store;
    struct ts_meta *meta;
    int64_t now;
    struct ts_clock clock;
    uint8_t secret[32];
    struct ts_kinesis *k;
    const struct ts_aws_service *svc;
    char account[13];
    char region[32];
    bool raw;          /* pass bodies to raw_body operations as the router does */
    char code[64];     /* error code of the last call, "" on success */
    char message[1024];
};

static int64_t fx_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static int fx_start(struct fx *f, bool limits)
{
    struct ts_store_opts so;
    memset(&so, 0, sizeof(so));
    so.clock = &f->clock;
    char path[400];
    snprintf(path, sizeof(path), "%s/store", f->dir);
    mkdir(path, 0700);
    if (ts_store_open(path, &so, &f->store) != 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    if (ts_meta_open(path, &f->meta) != 0) {
        return -1;
    }
    struct ts_services_ctx ctx = {f->store, f->meta, &f->clock, NULL, f->secret};
    struct ts_kinesis_opts ko;
    memset(&ko, 0, sizeof(ko));
    ko.limits_aws = limits;
    ko.retention_interval_ms = -1;
    ko.shard_limit = 1000;
    if (ts_kinesis_create(&ctx, &ko, &f->k) != 0) {
        return -1;
    }
    f->svc = ts_kinesis_service(f->k);
    return 0;
}

static void fx_stop(struct fx *f)
{
    ts_kinesis_destroy(f->k);
    ts_meta_close(f->meta);
    ts_store_close(f->store);
    f->k = NULL;
    f->meta = NULL;
    f->store = NULL;
}

static int fx_open(struct fx *f, bool limits)
{
    memset(f, 0, sizeof(*f));
    if (tu_mkdtemp(f->dir, sizeof(f->dir), "kinesis") != 0) {
        return -1;
    }
    f->now = 1700000000000;
    f->clock.now_ms = fx_clock;
    f->clock.ctx = &f->now;
    memset(f->secret, 7, sizeof(f->secret));
    ts_strlcpy(f->account, "111111111111", sizeof(f->account));
    ts_strlcpy(f->region, "us-east-1", sizeof(f->region));
    return fx_start(f, limits);
}

static void fx_close(struct fx *f)
{
    fx_stop(f);
    tu_rmrf(f->dir);
}

/* Runs operation `op` with the JSON input built from fmt; returns the output (caller deletes;
 * NULL on error, then f->code/f->message say why). */
__attribute__((format(printf, 3, 4))) static cJSON *fx_call(struct fx *f, const char *op,
                                                            const char *fmt, ...)
{
    static char text[1 << 20];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct ts_aws_req req;
    struct ts_aws_resp resp;
    struct ts_aws_error err;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    memset(&err, 0, sizeof(err));
    ts_buf_init(&resp.json, (size_t)64 << 20); /* as the router does */
    ts_strlcpy(req.caller.account, f->account, sizeof(req.caller.account));
    snprintf(req.caller.arn, sizeof(req.caller.arn), "arn:aws:iam::%s:root", f->account);
    ts_strlcpy(req.region, f->region, sizeof(req.region));
    req.now_ms = f->now;
    struct ts_http_request http;
    memset(&http, 0, sizeof(http));
    http.body = (const uint8_t *)text;
    http.body_len = strlen(text);
    req.http = &http;
    req.input = cJSON_Parse(text);
    f->code[0] = '\0';
    f->message[0] = '\0';
    const struct ts_aws_op *o = NULL;
    for (size_t i = 0; i < f->svc->n_ops; i++) {
        if (strcmp(f->svc->ops[i].name, op) == 0) {
            o = &f->svc->ops[i];
        }
    }
    if (o && o->raw_body && f->raw) {
        cJSON_Delete(req.input); /* the operation parses http.body itself */
        req.input = NULL;
    } else if (!o || !req.input) {
        ts_strlcpy(f->code, "TestSetup", sizeof(f->code));
        cJSON_Delete(req.input);
        return NULL;
    }
    int rc = o->fn(f->svc->ctx, &req, &resp, &err);
    cJSON_Delete(req.input);
    if (rc) {
        ts_strlcpy(f->code, err.code[0] ? err.code : "Unset", sizeof(f->code));
        ts_strlcpy(f->message, err.message, sizeof(f->message));
        cJSON_Delete(resp.output);
        ts_buf_free(&resp.json);
        return NULL;
    }
    if (!resp.output && resp.json.len) {
        /* a pre-rendered body must be valid JSON */
        resp.output = cJSON_ParseWithLength(resp.json.data, resp.json.len);
        if (!resp.output) {
            ts_strlcpy(f->code, "BadJSON", sizeof(f->code));
        }
    } else if (!resp.output) {
        resp.output = cJSON_CreateObject();
    }
    ts_buf_free(&resp.json);
    return resp.output;
}

/* The same, expecting success; the output is discarded. */
#define FX_OK(f, op, ...)                                                                         \
    do {                                                                                          \
        cJSON *o_ = fx_call((f), (op), __VA_ARGS__);                                              \
        TEST_CHECK_(o_ != NULL, "%s failed: %s %s", (op), (f)->code, (f)->message);               \
        cJSON_Delete(o_);                                                                         \
    } while (0)

/* Expects the call to fail with `code`. */
#define FX_FAIL(f, code_, op, ...)                                                                \
    do {                                                                                          \
        cJSON *o_ = fx_call((f), (op), __VA_ARGS__);                                              \
        TEST_CHECK_(o_ == NULL && strcmp((f)->code, (code_)) == 0, "%s: got '%s' (%s), want %s",  \
                    (op), (f)->code, (f)->message, (code_));                                     \
        cJSON_Delete(o_);                                                                         \
    } while (0)

static const char *fx_str(const cJSON *o, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A shard iterator of `type` (extra: more JSON members, e.g. ",\"Timestamp\":1"), copied. */
static char *fx_iterator(struct fx *f, const char *stream, const char *shard, const char *type,
                         const char *extra)
{
    cJSON *o = fx_call(f, "GetShardIterator",
                       "{\"StreamName\":\"%s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"%s\"%s}",
                       stream, shard, type, extra ? extra : "");
    char *it = o && fx_str(o, "ShardIterator") ? ts_strdup(fx_str(o, "ShardIterator")) : NULL;
    cJSON_Delete(o);
    return it;
}

#endif
