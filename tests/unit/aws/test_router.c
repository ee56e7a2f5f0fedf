/*
 * test_router.c - ts_aws_router_handle end to end: routing by protocol, SigV4 (requests are
 * signed here in C), body parsing, required members, and the exact error envelope of each
 * protocol. STS is registered as shipped, plus a test-only awsJson1.1 service and an S3-like
 * rest-xml service without operations. Time comes from an injected ts_clock.
 *
 * Protocols: https://smithy.io/2.0/aws/protocols/index.html
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "trailstream/ts_aws.h"
#include "trailstream/ts_services.h"
#include "ts_test.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"
#define KEY_ALICE "AKIATESTALICE0000001"
#define SECRET_ALICE "aliceSecret/0000000000000000000000001"
#define KEY_ROOT_A "AKIATESTROOTA0000001"
#define SECRET_ROOT_A "rootASecret+0000000000000000000000001"
#define KEY_BOB "AKIATESTBOB000000001"
#define SECRET_BOB "bobSecret/000000000000000000000000001"
#define REGION "us-east-1"
#define JSON_CT "application/x-amz-json-1.1"
#define MISMATCH_MSG                                                                               \
    "The request signature we calculated does not match the signature you provided. Check "        \
    "your AWS Secret Access Key and signing method. Consult the service documentation for "        \
    "details."

/* 2024-03-01T12:00:00Z */
#define T0 ((int64_t)1709294400000)
#define MINUTE ((int64_t)60000)

/* ------------------------------------------------------------------ fixture */

struct test_clock {
    int64_t now;
};

static int64_t test_now(void *ctx)
{
    return ((struct test_clock *)ctx)->now;
}

/* What the completion hook saw for the last authenticated operation. */
struct completion {
    int calls;
    char account[16];
    char arn[TS_AWS_ARN_MAX];
    char op[64];
    int status;
    int refused; /* completions of calls SigV4 refused (known key) */
};

static void on_complete(void *ctx, const struct ts_aws_req *req, int status,
                        const struct ts_aws_error *err)
{
    struct completion *c = ctx;
    if (req->auth_failed) {
        /* Refused by SigV4 (audited for CloudTrail): no operation ran; counted apart. */
        c->refused++;
        return;
    }
    c->calls++;
    ts_strlcpy(c->account, req->caller.account, sizeof(c->account));
    ts_strlcpy(c->arn, req->caller.arn, sizeof(c->arn));
    ts_strlcpy(c->op, req->op->name, sizeof(c->op));
    c->status = status;
    TS_UNUSED(err);
}

/* The test JSON service: Echo (Name required) echoes Name and the caller; Fail fails with a
 * service error; Whoami returns the caller. */
static int op_echo(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                   struct ts_aws_error *err)
{
    TS_UNUSED(ctx);
    TS_UNUSED(err);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(req->input, "Name");
    resp->output = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->output, "Name", cJSON_IsString(name) ? name->valuestring : "");
    cJSON_AddStringToObject(resp->output, "Account", req->caller.account);
    return 0;
}

static int op_fail(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                   struct ts_aws_error *err)
{
    TS_UNUSED(ctx);
    TS_UNUSED(req);
    TS_UNUSED(resp);
    return ts_aws_fail(err, "ResourceNotFoundException", "Thing %s does not exist.", "x");
}

static int op_whoami(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                     struct ts_aws_error *err)
{
    TS_UNUSED(ctx);
    TS_UNUSED(err);
    resp->output = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->output, "Account", req->caller.account);
    cJSON_AddStringToObject(resp->output, "Arn", req->caller.arn);
    return 0;
}

static const char *const echo_required[] = {"Name", NULL};
static const char *const fail_required[] = {"Name", "Count", NULL};

static const struct ts_aws_op test_ops[] = {
    {"Echo", op_echo, echo_required},
    {"Fail", op_fail, fail_required},
    {"Whoami", op_whoami, NULL},
};

static const struct ts_aws_service test_json_service = {
    .name = "testsvc",
    .signing_name = "testsvc",
    .protocol = TS_AWS_JSON,
    .target_prefix = "TestSvc_20240101",
    .content_type = JSON_CT,
    .validation_code = "ValidationException",
    .ops = test_ops,
    .n_ops = TS_ARRAY_LEN(test_ops),
};

/* rest-xml (S3) with no operations: enough to see the S3 error envelope. */
static const struct ts_aws_service test_s3_service = {
    .name = "s3",
    .signing_name = "s3",
    .protocol = TS_AWS_REST_XML,
    .ops = NULL,
    .n_ops = 0,
};

struct fixture {
    struct test_clock clock;
    struct ts_clock ts_clock;
    struct ts_aws_accounts *accounts;
    struct ts_aws_router *router;
    struct completion done;
};

static bool fixture_init(struct fixture *f, bool with_s3)
{
    memset(f, 0, sizeof(*f));
    f->clock.now = T0;
    f->ts_clock.now_ms = test_now;
    f->ts_clock.ctx = &f->clock;
    if (ts_metrics_init() != 0) {
        return false;
    }
    f->accounts = ts_aws_accounts_create();
    if (!f->accounts || ts_aws_accounts_add(f->accounts, ACCT_A, "alpha") ||
        ts_aws_accounts_add(f->accounts, ACCT_B, "bravo") ||
        ts_aws_accounts_add_user(f->accounts, ACCT_A, "alice") ||
        ts_aws_accounts_add_user(f->accounts, ACCT_B, "bob") ||
        ts_aws_accounts_add_key(f->accounts, ACCT_A, "alice", KEY_ALICE, SECRET_ALICE) ||
        ts_aws_accounts_add_key(f->accounts, ACCT_A, NULL, KEY_ROOT_A, SECRET_ROOT_A) ||
        ts_aws_accounts_add_key(f->accounts, ACCT_B, "bob", KEY_BOB, SECRET_BOB)) {
        return false;
    }
    f->router = ts_aws_router_create(f->accounts, &f->ts_clock);
    if (!f->router || ts_aws_router_add_service(f->router, ts_sts_service()) ||
        ts_aws_router_add_service(f->router, &test_json_service)) {
        return false;
    }
    if (with_s3 && ts_aws_router_add_service(f->router, &test_s3_service)) {
        return false;
    }
    ts_aws_router_on_complete(f->router, on_complete, &f->done);
    return true;
}

static void fixture_free(struct fixture *f)
{
    ts_aws_router_destroy(f->router);
    ts_aws_accounts_destroy(f->accounts);
    ts_metrics_shutdown();
}

/* ------------------------------------------------------------------ requests */

#define MAX_TEST_HEADERS 16

struct treq {
    char method[16];
    char path[256];
    char query[8192];
    char uri[8448];
    char names[MAX_TEST_HEADERS][64];
    char values[MAX_TEST_HEADERS][1024];
    struct ts_http_header headers[MAX_TEST_HEADERS];
    size_t n;
    const uint8_t *body;
    size_t body_len;
    struct ts_http_request http;
};

static void treq_header(struct treq *t, const char *name, const char *value)
{
    TS_ASSERT(t->n < MAX_TEST_HEADERS);
    ts_strlcpy(t->names[t->n], name, sizeof(t->names[0]));
    ts_strlcpy(t->values[t->n], value, sizeof(t->values[0]));
    t->n++;
}

/* Points the ts_http_request at the current fields (call after every change). */
static const struct ts_http_request *treq_http(struct treq *t)
{
    for (size_t i = 0; i < t->n; i++) {
        t->headers[i].name = t->names[i];
        t->headers[i].value = t->values[i];
    }
    snprintf(t->uri, sizeof(t->uri), "%s%s%s", t->path, t->query[0] ? "?" : "", t->query);
    memset(&t->http, 0, sizeof(t->http));
    t->http.method = t->method;
    t->http.uri = t->uri;
    t->http.path = t->path;
    t->http.query = t->query;
    t->http.headers = t->headers;
    t->http.n_headers = t->n;
    t->http.body = t->body ? t->body : (const uint8_t *)"";
    t->http.body_len = t->body_len;
    t->http.remote_addr = "127.0.0.1";
    return &t->http;
}

static void treq_init(struct treq *t, const char *method, const char *path, const char *query,
                      const void *body, size_t body_len)
{
    memset(t, 0, sizeof(*t));
    ts_strlcpy(t->method, method, sizeof(t->method));
    ts_strlcpy(t->path, path, sizeof(t->path));
    ts_strlcpy(t->query, query, sizeof(t->query));
    t->body = body;
    t->body_len = body_len;
    treq_header(t, "Host", "localhost:4600");
}

/* A JSON-protocol request to the test service. */
static void treq_json(struct treq *t, const char *target, const char *body)
{
    treq_init(t, "POST", "/", "", body, strlen(body));
    treq_header(t, "Content-Type", JSON_CT);
    treq_header(t, "X-Amz-Target", target);
}

/* An STS query-protocol request with a form body. */
static void treq_form(struct treq *t, const char *form)
{
    treq_init(t, "POST", "/", "", form, strlen(form));
    treq_header(t, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Signs the request as botocore does (X-Amz-Date and every header present signed) with the
 * given key, scope and time, adding X-Amz-Date and Authorization. */
static void treq_sign(struct treq *t, const char *key_id, const char *secret, const char *service,
                      int64_t when_ms)
{
    char stamp[17];
    ts_time_fmt_basic(when_ms, stamp);
    treq_header(t, "X-Amz-Date", stamp);
    char lower[MAX_TEST_HEADERS][64];
    const char *sorted[MAX_TEST_HEADERS];
    for (size_t i = 0; i < t->n; i++) {
        size_t k = 0;
        for (; t->names[i][k]; k++) {
            char c = t->names[i][k];
            lower[i][k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        lower[i][k] = '\0';
        sorted[i] = lower[i];
    }
    qsort(sorted, t->n, sizeof(sorted[0]), cmp_str);
    char signed_headers[1024] = "";
    for (size_t i = 0; i < t->n; i++) {
        size_t used = strlen(signed_headers);
        snprintf(signed_headers + used, sizeof(signed_headers) - used, "%s%s", i ? ";" : "",
                 sorted[i]);
    }
    uint8_t h[TS_SHA256_LEN];
    char payload[2 * TS_SHA256_LEN + 1], canon_hex[2 * TS_SHA256_LEN + 1];
    ts_sha256(t->body_len ? t->body : (const uint8_t *)"", t->body_len, h);
    ts_hex(h, sizeof(h), payload);
    struct ts_buf canon, sts;
    ts_buf_init(&canon, 1 << 20);
    ts_buf_init(&sts, 4096);
    TS_ASSERT(ts_sigv4_canonical_request(treq_http(t), signed_headers, payload, false, false,
                                         &canon) == 0);
    ts_sha256(canon.data, canon.len, h);
    ts_hex(h, sizeof(h), canon_hex);
    TS_ASSERT(ts_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", stamp, stamp,
                          REGION, service, canon_hex) == 0);
    uint8_t key[TS_SHA256_LEN], sig[TS_SHA256_LEN];
    char date8[9];
    snprintf(date8, sizeof(date8), "%.8s", stamp);
    ts_sigv4_signing_key(secret, date8, REGION, service, key);
    ts_hmac_sha256(key, sizeof(key), sts.data, sts.len, sig);
    char sig_hex[2 * TS_SHA256_LEN + 1];
    ts_hex(sig, sizeof(sig), sig_hex);
    char auth[1024];
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
             "Signature=%s",
             key_id, date8, REGION, service, signed_headers, sig_hex);
    treq_header(t, "Authorization", auth);
    ts_buf_free(&canon);
    ts_buf_free(&sts);
}

/* ------------------------------------------------------------------ responses */

struct result {
    struct ts_http_response resp;
    cJSON *json;
};

static void handle(struct fixture *f, struct treq *t, struct result *r)
{
    ts_http_response_init(&r->resp, 1 << 20);
    ts_aws_router_handle(f->router, treq_http(t), &r->resp);
    r->json = cJSON_ParseWithLength(r->resp.body.data ? r->resp.body.data : "", r->resp.body.len);
}

static void result_free(struct result *r)
{
    cJSON_Delete(r->json);
    ts_http_response_free(&r->resp);
}

static const char *resp_header(const struct result *r, const char *name)
{
    for (size_t i = 0; i < r->resp.n_headers; i++) {
        if (ts_str_eq_nocase(r->resp.headers[i].name, name)) {
            return r->resp.headers[i].value;
        }
    }
    return NULL;
}

static const char *body_of(const struct result *r)
{
    return r->resp.body.data ? r->resp.body.data : "";
}

static const char *json_str(const struct result *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i])) {
            return false;
        }
    }
    return true;
}

/* Checks the awsJson envelope: status, exactly {"__type", "message"}, Content-Type and a
 * request id; message is compared only when given. */
static void check_json_error(const struct result *r, int status, const char *code,
                             const char *content_type, const char *message)
{
    TEST_CHECK_(r->resp.status == status, "status %d, expected %d (body %s)", r->resp.status,
                status, body_of(r));
    TEST_CHECK_(cJSON_IsObject(r->json), "body is a JSON object: %s", body_of(r));
    TEST_CHECK_(cJSON_GetArraySize(r->json) == 2, "envelope has exactly __type and message: %s",
                body_of(r));
    const char *type = json_str(r, "__type");
    TEST_CHECK_(type && strcmp(type, code) == 0, "__type %s, expected %s", type ? type : "(none)",
                code);
    const char *msg = json_str(r, "message");
    TEST_CHECK_(msg != NULL, "message present");
    if (message && msg) {
        TEST_CHECK_(strcmp(msg, message) == 0, "message '%s', expected '%s'", msg, message);
    }
    const char *ct = resp_header(r, "Content-Type");
    TEST_CHECK_(ct && strcmp(ct, content_type) == 0, "Content-Type %s, expected %s",
                ct ? ct : "(none)", content_type);
    TEST_CHECK_(is_uuid(resp_header(r, "x-amzn-RequestId")), "x-amzn-RequestId is a uuid");
    const char *et = resp_header(r, "x-amzn-ErrorType");
    TEST_CHECK_(et && strcmp(et, code) == 0, "x-amzn-ErrorType %s", et ? et : "(none)");
}

/* Checks the query-protocol ErrorResponse byte for byte. */
static void check_query_error(const struct result *r, int status, const char *type,
                              const char *code, const char *message)
{
    TEST_CHECK_(r->resp.status == status, "status %d, expected %d (body %s)", r->resp.status,
                status, body_of(r));
    const char *rid = resp_header(r, "x-amzn-RequestId");
    TEST_CHECK_(is_uuid(rid), "x-amzn-RequestId is a uuid");
    const char *ct = resp_header(r, "Content-Type");
    TEST_CHECK_(ct && strcmp(ct, "text/xml") == 0, "Content-Type %s", ct ? ct : "(none)");
    if (!message) {
        /* Only the shape and code: the message varies (it echoes request details). */
        char want[256];
        snprintf(want, sizeof(want), "<Type>%s</Type>\n    <Code>%s</Code>\n    <Message>", type,
                 code);
        TEST_CHECK_(strstr(body_of(r), want) != NULL, "body %s has %s", body_of(r), want);
        TEST_CHECK_(ts_str_has_prefix(body_of(r), "<ErrorResponse xmlns=\"https://sts.amazonaws"
                                                  ".com/doc/2011-06-15/\">\n  <Error>\n"),
                    "ErrorResponse envelope: %s", body_of(r));
        return;
    }
    char want[2048];
    snprintf(want, sizeof(want),
             "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
             "  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n"
             "  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
             type, code, message, rid ? rid : "");
    TEST_CHECK_(strcmp(body_of(r), want) == 0, "body\n%s\nexpected\n%s", body_of(r), want);
}

/* Checks the S3 <Error> document byte for byte. */
static void check_s3_error(const struct result *r, int status, const char *code,
                           const char *message)
{
    TEST_CHECK_(r->resp.status == status, "status %d, expected %d (body %s)", r->resp.status,
                status, body_of(r));
    const char *rid = resp_header(r, "x-amzn-RequestId");
    TEST_CHECK_(is_uuid(rid), "x-amzn-RequestId is a uuid");
    const char *ct = resp_header(r, "Content-Type");
    TEST_CHECK_(ct && strcmp(ct, "application/xml") == 0, "Content-Type %s", ct ? ct : "(none)");
    char want[2048];
    snprintf(want, sizeof(want),
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s"
             "</Message><RequestId>%s</RequestId><HostId>%s</HostId></Error>",
             code, message, rid ? rid : "", rid ? rid : "");
    TEST_CHECK_(strcmp(body_of(r), want) == 0, "body\n%s\nexpected\n%s", body_of(r), want);
}

/* ------------------------------------------------------------------ JSON protocol */

static void test_json_success(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct treq t;
    struct result r;
    treq_json(&t, "TestSvc_20240101.Echo", "{\"Name\":\"h\\u00e9llo\"}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    TEST_CHECK_(r.resp.status == 200, "status %d: %s", r.resp.status, body_of(&r));
    TEST_CHECK_(strcmp(body_of(&r), "{\"Name\":\"h\xc3\xa9llo\",\"Account\":\"" ACCT_A "\"}") == 0,
                "body %s", body_of(&r));
    const char *ct = resp_header(&r, "Content-Type");
    TEST_CHECK(ct && strcmp(ct, JSON_CT) == 0);
    TEST_CHECK(is_uuid(resp_header(&r, "x-amzn-RequestId")));
    TEST_CHECK(f.done.calls == 1 && strcmp(f.done.op, "Echo") == 0 && f.done.status == 200);
    result_free(&r);

    /* An empty body is an empty object. */
    treq_json(&t, "TestSvc_20240101.Whoami", "");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    TEST_CHECK_(r.resp.status == 200, "status %d: %s", r.resp.status, body_of(&r));
    TEST_CHECK(json_str(&r, "Arn") &&
               strcmp(json_str(&r, "Arn"), "arn:aws:iam::" ACCT_A ":user/alice") == 0);
    result_free(&r);
    fixture_free(&f);
}

static void test_json_unknown_operation(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct treq t;
    struct result r;
    /* Known prefix, unknown operation: after authentication. */
    treq_json(&t, "TestSvc_20240101.DeleteEverything", "{}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "UnknownOperationException", JSON_CT,
                     "The operation DeleteEverything is not supported by testsvc.");
    result_free(&r);

    /* Unknown prefix: no service claims it, so the generic JSON envelope. */
    treq_json(&t, "Nope_20200101.List", "{}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "UnknownOperationException", "application/x-amz-json-1.1",
                     "No service handles the target 'Nope_20200101.List'.");
    result_free(&r);

    /* A target without a dot, and an empty one. */
    treq_json(&t, "TestSvc_20240101", "{}");
    handle(&f, &t, &r);
    check_json_error(&r, 400, "UnknownOperationException", "application/x-amz-json-1.1", NULL);
    result_free(&r);
    treq_json(&t, "", "{}");
    handle(&f, &t, &r);
    check_json_error(&r, 400, "UnknownOperationException", "application/x-amz-json-1.1", NULL);
    result_free(&r);
    TEST_CHECK_(f.done.calls == 0, "no operation completed (%d)", f.done.calls);
    fixture_free(&f);
}

static void test_json_serialization(void)
{
    static const struct {
        const char *body;
        size_t len;
        const char *message;
    } cases[] = {
        {"{\"Name\":", 8, "Request body is not valid JSON."},
        {"{not json}", 10, "Request body is not valid JSON."},
        {"[1,2,3]", 7, "Request body must be a JSON object."},
        {"\"Name\"", 6, "Request body must be a JSON object."},
        {"42", 2, "Request body must be a JSON object."},
        {"null", 4, "Request body must be a JSON object."},
        {"{\"Name\":\"\xff\xfe\"}", 13, "Request body is not valid UTF-8."},
        {"{\"Name\":\"\xc0\xaf\"}", 13, "Request body is not valid UTF-8."},     /* overlong */
        {"{\"Name\":\"\xed\xa0\x80\"}", 14, "Request body is not valid UTF-8."}, /* surrogate */
        /* One JSON value and nothing after it but whitespace. */
        {"{\"Name\":\"a\"} garbage", 20, "Request body is not valid JSON."},
        {"{\"Name\":\"a\"}{\"Name\":\"b\"}", 24, "Request body is not valid JSON."},
        {"{\"Name\":\"a\"}\0garbage", 20, "Request body is not valid JSON."},
    };
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        struct treq t;
        struct result r;
        treq_init(&t, "POST", "/", "", cases[i].body, cases[i].len);
        treq_header(&t, "Content-Type", JSON_CT);
        treq_header(&t, "X-Amz-Target", "TestSvc_20240101.Echo");
        treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
        handle(&f, &t, &r);
        if (r.resp.status != 400) {
            TEST_MSG("case %zu", i);
        }
        check_json_error(&r, 400, "SerializationException", JSON_CT, cases[i].message);
        result_free(&r);
    }
    TEST_CHECK(f.done.calls == 0);
    fixture_free(&f);
}

static void test_json_validation(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    static const char *const bodies[] = {"{}", "{\"Name\":null}", "{\"name\":\"x\"}", ""};
    for (size_t i = 0; i < TS_ARRAY_LEN(bodies); i++) {
        struct treq t;
        struct result r;
        treq_json(&t, "TestSvc_20240101.Echo", bodies[i]);
        treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
        handle(&f, &t, &r);
        check_json_error(&r, 400, "ValidationException", JSON_CT,
                         "1 validation error detected: Value null at 'Name' failed to satisfy "
                         "constraint: Member must not be null");
        result_free(&r);
    }
    /* The second required member is named when the first is present. */
    struct treq t;
    struct result r;
    treq_json(&t, "TestSvc_20240101.Fail", "{\"Name\":\"x\"}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "ValidationException", JSON_CT,
                     "1 validation error detected: Value null at 'Count' failed to satisfy "
                     "constraint: Member must not be null");
    result_free(&r);
    /* All present: the operation's own error, with its status from the code table. */
    treq_json(&t, "TestSvc_20240101.Fail", "{\"Name\":\"x\",\"Count\":0}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "ResourceNotFoundException", JSON_CT, "Thing x does not exist.");
    /* Validation failures are authenticated operations too: 4 + 1 + this one. */
    TEST_CHECK(f.done.calls == 6 && f.done.status == 400 && strcmp(f.done.op, "Fail") == 0);
    result_free(&r);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ authentication */

static void test_auth_json(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct treq t;
    struct result r;

    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    handle(&f, &t, &r);
    check_json_error(&r, 400, "MissingAuthenticationTokenException", JSON_CT,
                     "Missing Authentication Token");
    result_free(&r);

    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    treq_sign(&t, KEY_ALICE, "wrongSecret/00000000000000000000000000", "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "InvalidSignatureException", JSON_CT, MISMATCH_MSG);
    result_free(&r);

    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    treq_sign(&t, "AKIAUNKNOWNKEY000001", SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "UnrecognizedClientException", JSON_CT,
                     "The security token included in the request is invalid.");
    result_free(&r);

    /* Signed for another service. */
    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "logs", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "InvalidSignatureException", JSON_CT,
                     "Credential should be scoped to correct service: 'testsvc'. ");
    result_free(&r);

    /* Signed, then the body changed. */
    treq_json(&t, "TestSvc_20240101.Echo", "{\"Name\":\"a\"}");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
    t.body = (const uint8_t *)"{\"Name\":\"b\"}";
    handle(&f, &t, &r);
    check_json_error(&r, 400, "InvalidSignatureException", JSON_CT, MISMATCH_MSG);
    result_free(&r);
    TEST_CHECK_(f.done.calls == 0, "no operation ran for a refused request");
    TEST_CHECK_(f.done.refused > 0, "refused calls of a known key reach the audit hook");
    fixture_free(&f);
}

static void test_auth_skew(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    static const struct {
        int64_t clock_offset; /* server clock minus the request's time */
        const char *message;  /* NULL = accepted */
    } cases[] = {
        {0, NULL},
        {15 * MINUTE, NULL},
        {-15 * MINUTE, NULL},
        {15 * MINUTE + 1000, "Signature expired: 20240301T120000Z is now earlier than "
                             "20240301T120001Z (20240301T121501Z - 15 min.)"},
        {-15 * MINUTE - 1000, "Signature not yet current: 20240301T120000Z is still later than "
                              "20240301T115959Z (20240301T114459Z + 15 min.)"},
        {6 * 60 * MINUTE, "Signature expired: 20240301T120000Z is now earlier than "
                          "20240301T174500Z (20240301T180000Z - 15 min.)"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        struct treq t;
        struct result r;
        f.clock.now = T0 + cases[i].clock_offset;
        treq_json(&t, "TestSvc_20240101.Whoami", "{}");
        treq_sign(&t, KEY_ALICE, SECRET_ALICE, "testsvc", T0);
        handle(&f, &t, &r);
        if (cases[i].message) {
            check_json_error(&r, 400, "InvalidSignatureException", JSON_CT, cases[i].message);
        } else {
            TEST_CHECK_(r.resp.status == 200, "status %d: %s", r.resp.status, body_of(&r));
        }
        result_free(&r);
    }
    /* The query protocol names the same failure SignatureDoesNotMatch (403). */
    struct treq t;
    struct result r;
    f.clock.now = T0 + 16 * MINUTE;
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 403, "Sender", "SignatureDoesNotMatch",
                      "Signature expired: 20240301T120000Z is now earlier than 20240301T120100Z "
                      "(20240301T121600Z - 15 min.)");
    result_free(&r);
    fixture_free(&f);
}

static void test_body_too_large(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, true));
    struct treq t;
    struct result r;
    /* JSON: refused before authentication, so an unsigned request gets 413 too. */
    treq_json(&t, "TestSvc_20240101.Echo", "");
    treq_http(&t);
    t.http.body_too_large = true;
    ts_http_response_init(&r.resp, 1 << 20);
    ts_aws_router_handle(f.router, &t.http, &r.resp);
    r.json = cJSON_ParseWithLength(body_of(&r), r.resp.body.len);
    check_json_error(&r, 413, "RequestEntityTooLargeException", JSON_CT,
                     "Request body is larger than the configured limit.");
    result_free(&r);

    /* Query: the XML ErrorResponse. */
    treq_form(&t, "");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    treq_http(&t);
    t.http.body_too_large = true;
    ts_http_response_init(&r.resp, 1 << 20);
    ts_aws_router_handle(f.router, &t.http, &r.resp);
    r.json = NULL;
    check_query_error(&r, 413, "Sender", "RequestEntityTooLarge",
                      "Request body is larger than the configured limit.");
    result_free(&r);

    /* S3: the <Error> document. */
    treq_init(&t, "PUT", "/bucket/key", "", "", 0);
    treq_http(&t);
    t.http.body_too_large = true;
    ts_http_response_init(&r.resp, 1 << 20);
    ts_aws_router_handle(f.router, &t.http, &r.resp);
    r.json = NULL;
    check_s3_error(&r, 400, "EntityTooLarge", "Request body is larger than the configured limit.");
    result_free(&r);
    TEST_CHECK(f.done.calls == 0);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ query protocol (STS) */

static void check_caller_identity(const struct result *r, const char *arn, const char *user_id,
                                  const char *account)
{
    TEST_CHECK_(r->resp.status == 200, "status %d: %s", r->resp.status, body_of(r));
    const char *rid = resp_header(r, "x-amzn-RequestId");
    TEST_CHECK(is_uuid(rid));
    const char *ct = resp_header(r, "Content-Type");
    TEST_CHECK(ct && strcmp(ct, "text/xml") == 0);
    char want[2048];
    snprintf(want, sizeof(want),
             "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
             "  <GetCallerIdentityResult>\n"
             "    <Arn>%s</Arn>\n"
             "    <UserId>%s</UserId>\n"
             "    <Account>%s</Account>\n"
             "  </GetCallerIdentityResult>\n"
             "  <ResponseMetadata>\n"
             "    <RequestId>%s</RequestId>\n"
             "  </ResponseMetadata>\n"
             "</GetCallerIdentityResponse>\n",
             arn, user_id, account, rid ? rid : "");
    TEST_CHECK_(strcmp(body_of(r), want) == 0, "body\n%s\nexpected\n%s", body_of(r), want);
}

static void test_sts_get_caller_identity(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct ts_aws_caller alice;
    TEST_ASSERT(ts_aws_accounts_lookup(f.accounts, KEY_ALICE, &alice, NULL, 0) == 0);
    TEST_CHECK(ts_str_has_prefix(alice.user_id, "AIDA") && strlen(alice.user_id) == 21);
    struct treq t;
    struct result r;

    /* A user, form body. */
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_caller_identity(&r, "arn:aws:iam::" ACCT_A ":user/alice", alice.user_id, ACCT_A);
    TEST_CHECK(f.done.calls == 1 && strcmp(f.done.account, ACCT_A) == 0);
    result_free(&r);

    /* The root of the account: the account id is the user id. */
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    treq_sign(&t, KEY_ROOT_A, SECRET_ROOT_A, "sts", T0);
    handle(&f, &t, &r);
    check_caller_identity(&r, "arn:aws:iam::" ACCT_A ":root", ACCT_A, ACCT_A);
    result_free(&r);

    /* GET with the parameters in the query string. */
    treq_init(&t, "GET", "/", "Version=2011-06-15&Action=GetCallerIdentity", "", 0);
    treq_sign(&t, KEY_BOB, SECRET_BOB, "sts", T0);
    handle(&f, &t, &r);
    struct ts_aws_caller bob;
    TEST_ASSERT(ts_aws_accounts_lookup(f.accounts, KEY_BOB, &bob, NULL, 0) == 0);
    check_caller_identity(&r, "arn:aws:iam::" ACCT_B ":user/bob", bob.user_id, ACCT_B);
    result_free(&r);
    fixture_free(&f);
}

static void test_query_errors(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct treq t;
    struct result r;

    treq_form(&t, "Action=AssumeRoot&Version=2011-06-15");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 400, "Sender", "InvalidAction",
                      "The operation AssumeRoot is not supported by sts.");
    result_free(&r);

    treq_form(&t, "Version=2011-06-15");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 400, "Sender", "InvalidAction",
                      "The operation (none) is not supported by sts.");
    result_free(&r);

    treq_form(&t, "Action=GetCallerIdentity&Version=2010-05-08");
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 400, "Sender", "InvalidAction",
                      "Could not find operation GetCallerIdentity for version 2010-05-08");
    result_free(&r);

    /* Authentication failures under their query-protocol names. */
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    handle(&f, &t, &r);
    check_query_error(&r, 403, "Sender", "MissingAuthenticationToken",
                      "Missing Authentication Token");
    result_free(&r);
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    treq_sign(&t, KEY_ALICE, SECRET_BOB, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 403, "Sender", "SignatureDoesNotMatch", MISMATCH_MSG);
    result_free(&r);
    treq_form(&t, "Action=GetCallerIdentity&Version=2011-06-15");
    treq_sign(&t, "AKIAUNKNOWNKEY000001", SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 403, "Sender", "InvalidClientTokenId",
                      "The security token included in the request is invalid.");
    result_free(&r);

    /* More than 1000 parameters: MalformedQueryString. */
    static char form[16384];
    size_t used = (size_t)snprintf(form, sizeof(form), "Action=GetCallerIdentity");
    for (int i = 0; i < 1001; i++) {
        used += (size_t)snprintf(form + used, sizeof(form) - used, "&p=%d", i % 10);
    }
    TEST_ASSERT(used < sizeof(form));
    treq_form(&t, form);
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "sts", T0);
    handle(&f, &t, &r);
    check_query_error(&r, 400, "Sender", "MalformedQueryString",
                      "The query string or form body is malformed.");
    result_free(&r);
    TEST_CHECK(f.done.calls == 0); /* no operation was found, so none completed */
    fixture_free(&f);
}

/* ------------------------------------------------------------------ S3 (rest-xml) */

static void test_s3_envelope(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, true));
    struct treq t;
    struct result r;

    treq_init(&t, "GET", "/bucket/key", "", "", 0);
    handle(&f, &t, &r);
    check_s3_error(&r, 403, "AccessDenied", "Access Denied");
    TEST_CHECK(is_uuid(resp_header(&r, "x-amz-request-id")));
    result_free(&r);

    treq_init(&t, "GET", "/bucket/key", "", "", 0);
    treq_header(&t, "x-amz-content-sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    treq_sign(&t, "AKIAUNKNOWNKEY000001", SECRET_ALICE, "s3", T0);
    handle(&f, &t, &r);
    check_s3_error(&r, 403, "InvalidAccessKeyId",
                   "The AWS Access Key Id you provided does not exist in our records.");
    result_free(&r);

    f.clock.now = T0 + 20 * MINUTE;
    treq_init(&t, "GET", "/bucket/key", "", "", 0);
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "s3", T0);
    handle(&f, &t, &r);
    check_s3_error(&r, 403, "RequestTimeTooSkewed",
                   "The difference between the request time and the current time is too large.");
    result_free(&r);
    f.clock.now = T0;

    /* Authenticated, but no operation exists: NotImplemented (501). */
    treq_init(&t, "GET", "/bucket/key", "", "", 0);
    treq_sign(&t, KEY_ALICE, SECRET_ALICE, "s3", T0);
    handle(&f, &t, &r);
    TEST_CHECK_(r.resp.status == 501, "status %d: %s", r.resp.status, body_of(&r));
    TEST_CHECK(strstr(body_of(&r), "<Code>NotImplemented</Code>") != NULL);
    result_free(&r);
    fixture_free(&f);

    /* Without any rest-xml service the same request still gets the S3 envelope. */
    TEST_ASSERT(fixture_init(&f, false));
    treq_init(&t, "GET", "/bucket/key", "", "", 0);
    handle(&f, &t, &r);
    check_s3_error(&r, 501, "NotImplemented",
                   "A header or request you provided implies functionality that is not "
                   "implemented.");
    result_free(&r);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ accounts */

static void test_account_isolation(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    struct treq t;
    struct result r;
    static const struct {
        const char *key, *secret, *account, *arn;
    } who[] = {
        {KEY_ALICE, SECRET_ALICE, ACCT_A, "arn:aws:iam::" ACCT_A ":user/alice"},
        {KEY_ROOT_A, SECRET_ROOT_A, ACCT_A, "arn:aws:iam::" ACCT_A ":root"},
        {KEY_BOB, SECRET_BOB, ACCT_B, "arn:aws:iam::" ACCT_B ":user/bob"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(who); i++) {
        treq_json(&t, "TestSvc_20240101.Whoami", "{}");
        treq_sign(&t, who[i].key, who[i].secret, "testsvc", T0);
        handle(&f, &t, &r);
        TEST_CHECK_(r.resp.status == 200, "status %d", r.resp.status);
        TEST_CHECK_(json_str(&r, "Account") && strcmp(json_str(&r, "Account"), who[i].account) == 0,
                    "key %s acts for %s: %s", who[i].key, who[i].account, body_of(&r));
        TEST_CHECK(json_str(&r, "Arn") && strcmp(json_str(&r, "Arn"), who[i].arn) == 0);
        TEST_CHECK(strcmp(f.done.account, who[i].account) == 0);
        result_free(&r);
    }
    /* B's key id with A's secret, and A's key id with B's secret: never authenticated as
     * anyone. An account id placed in the request itself changes nothing either. */
    int before = f.done.calls;
    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    treq_sign(&t, KEY_BOB, SECRET_ALICE, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "InvalidSignatureException", JSON_CT, MISMATCH_MSG);
    result_free(&r);
    treq_json(&t, "TestSvc_20240101.Whoami", "{}");
    treq_sign(&t, KEY_ALICE, SECRET_BOB, "testsvc", T0);
    handle(&f, &t, &r);
    check_json_error(&r, 400, "InvalidSignatureException", JSON_CT, MISMATCH_MSG);
    result_free(&r);
    TEST_CHECK(f.done.calls == before);

    treq_json(&t, "TestSvc_20240101.Echo", "{\"Name\":\"x\",\"Account\":\"" ACCT_A "\"}");
    treq_header(&t, "X-Amz-Account-Id", ACCT_A);
    treq_sign(&t, KEY_BOB, SECRET_BOB, "testsvc", T0);
    handle(&f, &t, &r);
    TEST_CHECK(json_str(&r, "Account") && strcmp(json_str(&r, "Account"), ACCT_B) == 0);
    TEST_CHECK(strcmp(f.done.account, ACCT_B) == 0);
    result_free(&r);
    fixture_free(&f);
}

static void test_register(void)
{
    struct fixture f;
    TEST_ASSERT(fixture_init(&f, false));
    TEST_CHECK(ts_aws_router_add_service(f.router, ts_sts_service()) == TS_EEXIST);
    TEST_CHECK(ts_aws_router_add_service(f.router, &test_json_service) == TS_EEXIST);
    fixture_free(&f);
}

/* ts_sigv4_signing_key keeps the last few keys per thread: keys asked for in a mixed order,
 * many more than it keeps, must equal each one derived by a fresh thread (empty cache), and
 * the AWS example key must come out right whether cached or not. */
struct key_job {
    const char *secret, *date8, *region, *service;
    uint8_t key[TS_SHA256_LEN];
};

static void *derive_fresh(void *arg)
{
    struct key_job *j = arg;
    ts_sigv4_signing_key(j->secret, j->date8, j->region, j->service, j->key);
    return NULL;
}

static void test_signing_key_cache(void)
{
    static const char *secrets[] = {"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "s2", "s3"};
    static const char *dates[] = {"20150830", "20150831"};
    static const char *regions[] = {"us-east-1", "eu-west-1"};
    static const char *services[] = {"iam", "logs", "kinesis"};
    struct key_job jobs[36];
    int n = 0;
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 2; b++) {
            for (int c = 0; c < 2; c++) {
                for (int d = 0; d < 3; d++) {
                    jobs[n] = (struct key_job){secrets[a], dates[b], regions[c], services[d],
                                               {0}};
                    pthread_t t;
                    TEST_ASSERT(pthread_create(&t, NULL, derive_fresh, &jobs[n]) == 0);
                    pthread_join(t, NULL);
                    n++;
                }
            }
        }
    }
    for (int round = 0; round < 200; round++) {
        int i = (round * 7 + round / 5) % n; /* revisits recent and old entries */
        uint8_t k[TS_SHA256_LEN];
        ts_sigv4_signing_key(jobs[i].secret, jobs[i].date8, jobs[i].region, jobs[i].service, k);
        TEST_CHECK_(memcmp(k, jobs[i].key, sizeof(k)) == 0, "key %d in round %d", i, round);
    }
    char hex[65];
    for (int twice = 0; twice < 2; twice++) {
        uint8_t k[TS_SHA256_LEN];
        ts_sigv4_signing_key(secrets[0], "20120215", "us-east-1", "iam", k);
        ts_hex(k, sizeof(k), hex);
        TEST_CHECK(strcmp(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d") ==
                   0);
    }
}

TEST_LIST = {
    {"signing_key_cache", test_signing_key_cache},
    {"json_success", test_json_success},
    {"json_unknown_operation", test_json_unknown_operation},
    {"json_serialization", test_json_serialization},
    {"json_validation", test_json_validation},
    {"auth_json", test_auth_json},
    {"auth_skew", test_auth_skew},
    {"body_too_large", test_body_too_large},
    {"sts_get_caller_identity", test_sts_get_caller_identity},
    {"query_errors", test_query_errors},
    {"s3_envelope", test_s3_envelope},
    {"account_isolation", test_account_isolation},
    {"register", test_register},
    {NULL, NULL},
};
