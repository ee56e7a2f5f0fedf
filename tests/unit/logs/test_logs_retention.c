/* test_logs_retention.c - retention deletes old data: with an injected clock, events older
 * than the group's retention are hidden from reads at once and their store segments are
 * deleted by the retention pass, while a group without retention keeps everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trailstream/ts_logs.h"
#include "ts_test.h"

#define ACCOUNT "123456789012"
#define DAY_MS (86400LL * 1000)

static int64_t fake_now = 1800000000000LL;

static int64_t fake_clock_now(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static const struct ts_clock fake_clock = {fake_clock_now, NULL};

struct fixture {
    char dir[256];
    struct ts_store *store;
    struct ts_meta *meta;
    struct ts_aws_accounts *accounts;
    struct ts_logs *logs;
    uint8_t secret[32];
};

static bool setup(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "%s/ts-logs-ret-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir)) {
        return false;
    }
    struct ts_store_opts so;
    memset(&so, 0, sizeof(so));
    so.clock = &fake_clock;
    char meta[300];
    snprintf(meta, sizeof(meta), "%s/meta.db", f->dir);
    f->accounts = ts_aws_accounts_create();
    if (ts_store_open(f->dir, &so, &f->store) != 0 || ts_meta_open(meta, &f->meta) != 0 ||
        !f->accounts || ts_aws_accounts_add(f->accounts, ACCOUNT, "test") != 0) {
        return false;
    }
    struct ts_services_ctx ctx = {f->store, f->meta, &fake_clock, f->accounts, f->secret};
    struct ts_logs_opts lo = {.retention_sweep_ms = -1}; /* passes are run by the test */
    return ts_logs_create(&ctx, &lo, &f->logs) == 0;
}

static void teardown(struct fixture *f)
{
    ts_logs_destroy(f->logs);
    ts_meta_close(f->meta);
    ts_store_close(f->store);
    ts_aws_accounts_destroy(f->accounts);
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", f->dir);
    }
}

/* Calls one operation as the account's root with a JSON body; returns the op's result and
 * puts the response object (or NULL) into *out. */
static int call(struct fixture *f, const char *op_name, const char *body, cJSON **out)
{
    const struct ts_aws_service *svc = ts_logs_service(f->logs);
    const struct ts_aws_op *op = NULL;
    for (size_t i = 0; i < svc->n_ops; i++) {
        if (strcmp(svc->ops[i].name, op_name) == 0) {
            op = &svc->ops[i];
        }
    }
    if (!op) {
        return -1;
    }
    struct ts_http_request http;
    memset(&http, 0, sizeof(http));
    http.method = "POST";
    http.uri = http.path = "/";
    http.query = "";
    http.body = (const uint8_t *)body;
    http.body_len = strlen(body);
    http.remote_addr = "127.0.0.1";
    struct ts_aws_req req;
    struct ts_aws_resp resp;
    struct ts_aws_error err;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    memset(&err, 0, sizeof(err));
    ts_buf_init(&resp.xml, 0);
    ts_buf_init(&resp.json, 0);
    req.http = &http;
    req.service = svc;
    req.op = op;
    req.protocol = TS_AWS_JSON;
    ts_strlcpy(req.caller.account, ACCOUNT, sizeof(req.caller.account));
    snprintf(req.caller.arn, sizeof(req.caller.arn), "arn:aws:iam::%s:root", ACCOUNT);
    ts_strlcpy(req.region, "us-east-1", sizeof(req.region));
    req.now_ms = fake_now;
    req.input = op->raw_body ? NULL : cJSON_Parse(body);
    int rc = op->fn(svc->ctx, &req, &resp, &err);
    if (rc) {
        fprintf(stderr, "    %s: %s: %s\n", op_name, err.code, err.message);
    }
    cJSON_Delete(req.input);
    if (out) {
        *out = resp.output;
    } else {
        cJSON_Delete(resp.output);
    }
    ts_buf_free(&resp.json);
    ts_buf_free(&resp.xml);
    return rc;
}

static int count_events(struct fixture *f, const char *group)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"logGroupName\":\"%s\"}", group);
    cJSON *out = NULL;
    if (call(f, "FilterLogEvents", body, &out) != 0) {
        return -1;
    }
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "events"));
    cJSON_Delete(out);
    return n;
}

static bool put(struct fixture *f, const char *group, int n)
{
    char body[4096];
    int off = snprintf(body, sizeof(body),
                       "{\"logGroupName\":\"%s\",\"logStreamName\":\"s\",\"logEvents\":[", group);
    for (int i = 0; i < n; i++) {
        off += snprintf(body + off, sizeof(body) - (size_t)off,
                        "%s{\"timestamp\":%lld,\"message\":\"event %d\"}", i ? "," : "",
                        (long long)fake_now, i);
    }
    snprintf(body + off, sizeof(body) - (size_t)off, "]}");
    return call(f, "PutLogEvents", body, NULL) == 0;
}

static bool make_group(struct fixture *f, const char *group)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"logGroupName\":\"%s\"}", group);
    if (call(f, "CreateLogGroup", body, NULL) != 0) {
        return false;
    }
    snprintf(body, sizeof(body), "{\"logGroupName\":\"%s\",\"logStreamName\":\"s\"}", group);
    return call(f, "CreateLogStream", body, NULL) == 0;
}

static uint64_t stored_records(struct fixture *f, const char *prefix)
{
    char **names = NULL;
    size_t n = 0;
    uint64_t total = 0;
    if (ts_store_names(f->store, prefix, &names, &n) != 0) {
        return UINT64_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        struct ts_partition *p;
        if (ts_store_partition(f->store, names[i], false, &p) == 0) {
            total += ts_partition_end_offset(p) - ts_partition_start_offset(p);
        }
    }
    ts_store_names_free(names, n);
    return total;
}

static void test_retention_deletes_old_data(void)
{
    struct fixture f;
    TEST_ASSERT(setup(&f));
    TEST_ASSERT(make_group(&f, "kept"));
    TEST_ASSERT(make_group(&f, "short"));
    TEST_ASSERT(put(&f, "kept", 20));
    TEST_ASSERT(put(&f, "short", 20));
    TEST_CHECK(call(&f, "PutRetentionPolicy",
                    "{\"logGroupName\":\"short\",\"retentionInDays\":1}", NULL) == 0);
    TEST_CHECK(count_events(&f, "short") == 20);
    TEST_CHECK(stored_records(&f, "logs/" ACCOUNT "/us-east-1/short:") == 20);

    /* Half a day later nothing has expired; a pass removes nothing. */
    fake_now += DAY_MS / 2;
    ts_logs_retain_now(f.logs);
    TEST_CHECK(count_events(&f, "short") == 20);
    TEST_CHECK(stored_records(&f, "logs/" ACCOUNT "/us-east-1/short:") == 20);

    /* Two days later: hidden from reads at once, and the pass deletes the data itself. */
    fake_now += 2 * DAY_MS;
    TEST_CHECK(count_events(&f, "short") == 0);
    TEST_CHECK(stored_records(&f, "logs/" ACCOUNT "/us-east-1/short:") == 20);
    ts_logs_retain_now(f.logs);
    TEST_CHECK(stored_records(&f, "logs/" ACCOUNT "/us-east-1/short:") == 0);
    /* The group without retention keeps everything. */
    TEST_CHECK(count_events(&f, "kept") == 20);
    TEST_CHECK(stored_records(&f, "logs/" ACCOUNT "/us-east-1/kept:") == 20);
    /* New events are accepted and kept after the pass. */
    TEST_ASSERT(put(&f, "short", 3));
    TEST_CHECK(count_events(&f, "short") == 3);
    teardown(&f);
}

TEST_LIST = {
    {"retention_deletes_old_data", test_retention_deletes_old_data},
    {NULL, NULL},
};
