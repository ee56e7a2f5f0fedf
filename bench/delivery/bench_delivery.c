/*
 * bench_delivery.c - end-to-end latency and throughput of subscription delivery, in process:
 * the real store, metadata store, Logs and Kinesis services and the dispatcher, wired as
 * `trailstream serve` wires them, with operations called through their tables (no HTTP).
 *
 *   latency:    a paced producer calls PutLogEvents (CloudTrail-shaped events) at --rate
 *               events/s; a reader loops GetRecords on every shard of the security stream;
 *               latency = record returned by GetRecords - PutLogEvents returned (0 when the
 *               record was readable before the call returned).
 *   throughput: --backlog events are put while the dispatcher is not running, then it starts
 *               and the time until every cursor is committed at the end is measured
 *               (delivery alone); then producers and the dispatcher run together (sustained).
 *
 * usage: bench_delivery [--fsync group|interval|always] [--rate N] [--seconds S]
 *                       [--backlog N] [--match all|quarter] [--dir DIR]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trailstream/ts_aws.h"
#include "trailstream/ts_delivery.h"
#include "trailstream/ts_kinesis.h"
#include "trailstream/ts_logs.h"

#define SEC "111111111111"
#define SRC "222222222222"
#define REGION "us-east-1"
#define N_STREAMS 4

static struct ts_store *g_store;
static struct ts_meta *g_meta;
static struct ts_kinesis *g_kin;
static struct ts_logs *g_logs;
static struct ts_delivery *_Atomic g_delivery;
static struct ts_aws_accounts *g_accounts;
static char g_stream_arn[256];

static int64_t *g_ack_ns;   /* per seq: when PutLogEvents returned */
static int64_t *g_read_ns;  /* per seq: when GetRecords returned it */
static size_t g_max_seq;
static atomic_size_t g_read_count;

static void on_append(void *ctx, struct ts_partition *p, uint64_t end)
{
    TS_UNUSED(ctx);
    ts_delivery_notify(atomic_load(&g_delivery), p, end);
}

static void on_change(void *ctx)
{
    TS_UNUSED(ctx);
    ts_delivery_changed(atomic_load(&g_delivery));
}

static bool t_exists(void *ctx, const char *arn)
{
    TS_UNUSED(ctx);
    return ts_kinesis_stream_exists(g_kin, arn);
}

static int t_put(void *ctx, const char *arn, const char *key, const void *data, size_t len)
{
    TS_UNUSED(ctx);
    return ts_kinesis_put_internal(g_kin, "", "", arn, key, data, len, NULL, NULL);
}

static int t_put_batch(void *ctx, const char *arn, struct ts_logs_target_record *recs, size_t n)
{
    struct ts_kinesis_entry e[TS_LOGS_TARGET_BATCH];
    TS_UNUSED(ctx);
    memset(e, 0, sizeof(e));
    for (size_t i = 0; i < n; i++) {
        e[i].partition_key = recs[i].partition_key;
        e[i].data = recs[i].data;
        e[i].len = recs[i].len;
    }
    int rc = ts_kinesis_put_batch(g_kin, "", "", arn, e, n);
    for (size_t i = 0; !rc && i < n; i++) {
        recs[i].rc = e[i].rc;
    }
    return rc;
}

static const struct ts_logs_targets g_targets = {t_exists, t_put, t_put_batch, NULL};

/* Calls an operation of a service through its table; returns the parsed output (or NULL). */
static cJSON *call(const struct ts_aws_service *svc, const char *op, const char *account,
                   cJSON *input, int *rc_out)
{
    const struct ts_aws_op *o = NULL;
    for (size_t i = 0; i < svc->n_ops; i++) {
        if (strcmp(svc->ops[i].name, op) == 0) {
            o = &svc->ops[i];
        }
    }
    if (!o) {
        fprintf(stderr, "no op %s\n", op);
        exit(1);
    }
    struct ts_aws_req req;
    memset(&req, 0, sizeof(req));
    req.service = svc;
    req.op = o;
    req.protocol = TS_AWS_JSON;
    ts_strlcpy(req.caller.account, account, sizeof(req.caller.account));
    snprintf(req.caller.arn, sizeof(req.caller.arn), "arn:aws:iam::%s:root", account);
    req.caller.root = true;
    ts_strlcpy(req.region, REGION, sizeof(req.region));
    req.now_ms = ts_clock_now_ms(&ts_clock_real);
    req.input = input;
    /* Operations that parse their own body (raw_body) read it from the HTTP request. */
    struct ts_http_request http;
    memset(&http, 0, sizeof(http));
    char *body = o->raw_body ? cJSON_PrintUnformatted(input) : NULL;
    http.method = "POST";
    http.uri = http.path = "/";
    http.query = "";
    http.body = (const uint8_t *)body;
    http.body_len = body ? strlen(body) : 0;
    req.http = &http;
    if (o->raw_body) {
        req.input = NULL;
    }
    struct ts_aws_resp resp;
    memset(&resp, 0, sizeof(resp));
    ts_buf_init(&resp.json, 64u << 20);
    struct ts_aws_error err;
    memset(&err, 0, sizeof(err));
    int rc = o->fn(svc->ctx, &req, &resp, &err);
    cJSON_free(body);
    if (rc_out) {
        *rc_out = rc;
    } else if (rc) {
        fprintf(stderr, "%s failed: %s: %s\n", op, err.code, err.message);
        exit(1);
    }
    cJSON *out = resp.output;
    if (!out && resp.json.len) {
        out = cJSON_ParseWithLength(resp.json.data, resp.json.len);
    }
    ts_buf_free(&resp.json);
    return out;
}

static cJSON *obj(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    if (!o) {
        fprintf(stderr, "bad json %s\n", text);
        exit(1);
    }
    return o;
}

static void call_text(const struct ts_aws_service *svc, const char *op, const char *account,
                      const char *json)
{
    cJSON *in = obj(json);
    cJSON_Delete(call(svc, op, account, in, NULL));
    cJSON_Delete(in);
}

static int64_t mono(void)
{
    return (int64_t)ts_mono_ns();
}

/* One CloudTrail-shaped record (about 1 KB) with its sequence number. */
static void ct_event(char *out, size_t len, size_t seq, bool login)
{
    snprintf(out, len,
             "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\","
             "\"principalId\":\"AIDAJ45Q7YFFAREXAMPLE\",\"arn\":\"arn:aws:iam::" SRC
             ":user/developer\",\"accountId\":\"" SRC "\",\"accessKeyId\":\"AKIAIOSFODNN7EXAMPLE"
             "\",\"userName\":\"developer\"},\"eventTime\":\"2024-01-01T00:00:00Z\","
             "\"eventSource\":\"%s\",\"eventName\":\"%s\",\"awsRegion\":\"us-east-1\","
             "\"sourceIPAddress\":\"192.0.2.%zu\",\"userAgent\":\"Mozilla/5.0 (X11; Linux "
             "x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\","
             "\"requestParameters\":{\"bucketName\":\"audit-logs-%zu\",\"key\":\"AWSLogs/" SRC
             "/CloudTrail/us-east-1/2024/01/01/file.json.gz\"},\"responseElements\":null,"
             "\"additionalEventData\":{\"MFAUsed\":\"Yes\",\"LoginTo\":\"https://console.aws."
             "amazon.com/console/home\",\"MobileVersion\":\"No\"},\"requestID\":\"%08zx-1234-"
             "5678-9abc-def012345678\",\"eventID\":\"%08zx-aaaa-bbbb-cccc-ddddeeeeffff\","
             "\"readOnly\":false,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
             "\"recipientAccountId\":\"" SRC "\",\"eventCategory\":\"Management\",\"tlsDetails\":"
             "{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\","
             "\"clientProvidedHostHeader\":\"signin.aws.amazon.com\"},\"seq\":%zu}",
             login ? "signin.amazonaws.com" : "s3.amazonaws.com",
             login ? "ConsoleLogin" : "GetObject", seq % 250, seq % 97, seq, seq * 7, seq);
}

static bool g_quarter; /* only every 4th event matches */

static void put_batch(const struct ts_aws_service *logs, int stream, size_t first, size_t n,
                      char *scratch)
{
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "logGroupName", "trail");
    char sname[16];
    snprintf(sname, sizeof(sname), "s%d", stream);
    cJSON_AddStringToObject(in, "logStreamName", sname);
    cJSON *evs = cJSON_AddArrayToObject(in, "logEvents");
    int64_t now = ts_clock_now_ms(&ts_clock_real);
    for (size_t i = 0; i < n; i++) {
        ct_event(scratch, 4096, first + i, !g_quarter || (first + i) % 4 == 0);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "timestamp", (double)now);
        cJSON_AddStringToObject(e, "message", scratch);
        cJSON_AddItemToArray(evs, e);
    }
    cJSON_Delete(call(logs, "PutLogEvents", SRC, in, NULL));
    cJSON_Delete(in);
}

/* ------------------------------------------------------------------ reader */

static atomic_bool g_reader_stop;

static size_t seq_of(const char *msg)
{
    const char *p = strstr(msg, "\"seq\":");
    return p ? (size_t)strtoull(p + 6, NULL, 10) : (size_t)-1;
}

static void *reader_main(void *arg)
{
    const struct ts_aws_service *kin = arg;
    cJSON *in = obj("{\"StreamName\":\"siem\"}");
    cJSON *shards = call(kin, "ListShards", SEC, in, NULL);
    cJSON_Delete(in);
    char its[16][512];
    int n = 0;
    const cJSON *sh;
    cJSON_ArrayForEach(sh, cJSON_GetObjectItem(shards, "Shards"))
    {
        char req[256];
        snprintf(req, sizeof(req), "{\"StreamName\":\"siem\",\"ShardId\":\"%s\","
                                   "\"ShardIteratorType\":\"TRIM_HORIZON\"}",
                 cJSON_GetObjectItem(sh, "ShardId")->valuestring);
        cJSON *r = obj(req);
        cJSON *o = call(kin, "GetShardIterator", SEC, r, NULL);
        ts_strlcpy(its[n++], cJSON_GetObjectItem(o, "ShardIterator")->valuestring, 512);
        cJSON_Delete(o);
        cJSON_Delete(r);
    }
    cJSON_Delete(shards);
    struct ts_buf raw, json;
    ts_buf_init(&raw, 2u << 20);
    ts_buf_init(&json, 16u << 20);
    while (!atomic_load(&g_reader_stop)) {
        bool any = false;
        for (int i = 0; i < n; i++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "ShardIterator", its[i]);
            cJSON *o = call(kin, "GetRecords", SEC, r, NULL);
            int64_t t = mono();
            cJSON_Delete(r);
            ts_strlcpy(its[i], cJSON_GetObjectItem(o, "NextShardIterator")->valuestring, 512);
            const cJSON *rec;
            cJSON_ArrayForEach(rec, cJSON_GetObjectItem(o, "Records"))
            {
                any = true;
                const char *b64 = cJSON_GetObjectItem(rec, "Data")->valuestring;
                ts_buf_reset(&raw);
                ts_buf_reset(&json);
                if (ts_base64_decode(b64, strlen(b64), &raw) != 0 ||
                    ts_gzip_decompress(raw.data, raw.len, &json) != 0) {
                    fprintf(stderr, "undecodable record\n");
                    exit(1);
                }
                cJSON *p = cJSON_ParseWithLength(json.data, json.len);
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "logEvents"))
                {
                    size_t seq = seq_of(cJSON_GetObjectItem(e, "message")->valuestring);
                    if (seq < g_max_seq && !g_read_ns[seq]) {
                        g_read_ns[seq] = t;
                        atomic_fetch_add(&g_read_count, 1);
                    }
                }
                cJSON_Delete(p);
            }
            cJSON_Delete(o);
        }
        if (!any) {
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ts_buf_free(&raw);
    ts_buf_free(&json);
    return NULL;
}

/* ------------------------------------------------------------------ setup */

static void setup(const char *dir, enum ts_fsync_policy fsync, bool start_delivery)
{
    char path[1200];
    struct ts_store_opts so;
    memset(&so, 0, sizeof(so));
    so.fsync = fsync;
    so.interval_ms = 100;
    so.on_append = on_append;
    snprintf(path, sizeof(path), "%s/store", dir);
    mkdir(path, 0750);
    if (ts_store_open(path, &so, &g_store) != 0) {
        fprintf(stderr, "store open failed\n");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    if (ts_meta_open(path, &g_meta) != 0) {
        exit(1);
    }
    g_accounts = ts_aws_accounts_create();
    ts_aws_accounts_add(g_accounts, SEC, "security");
    ts_aws_accounts_add(g_accounts, SRC, "source");
    static uint8_t secret[32];
    struct ts_services_ctx ctx = {g_store, g_meta, &ts_clock_real, g_accounts, secret};
    if (ts_kinesis_create(&ctx, NULL, &g_kin) != 0) {
        exit(1);
    }
    struct ts_logs_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.targets = &g_targets;
    lo.on_change = on_change;
    lo.retention_sweep_ms = -1;
    if (ts_logs_create(&ctx, &lo, &g_logs) != 0) {
        exit(1);
    }
    const struct ts_aws_service *kin = ts_kinesis_service(g_kin);
    const struct ts_aws_service *logs = ts_logs_service(g_logs);
    call_text(kin, "CreateStream", SEC, "{\"StreamName\":\"siem\",\"ShardCount\":4}");
    snprintf(g_stream_arn, sizeof(g_stream_arn), "arn:aws:kinesis:" REGION ":" SEC
                                                 ":stream/siem");
    char req[1024];
    snprintf(req, sizeof(req), "{\"destinationName\":\"d\",\"targetArn\":\"%s\","
                               "\"roleArn\":\"arn:aws:iam::" SEC ":role/r\"}",
             g_stream_arn);
    call_text(logs, "PutDestination", SEC, req);
    call_text(logs, "PutDestinationPolicy", SEC,
              "{\"destinationName\":\"d\",\"accessPolicy\":\"{\\\"Statement\\\":[{\\\"Effect"
              "\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":\\\"" SRC "\\\"},\\\"Action"
              "\\\":\\\"logs:PutSubscriptionFilter\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}");
    call_text(logs, "CreateLogGroup", SRC, "{\"logGroupName\":\"trail\"}");
    for (int i = 0; i < N_STREAMS; i++) {
        snprintf(req, sizeof(req), "{\"logGroupName\":\"trail\",\"logStreamName\":\"s%d\"}", i);
        call_text(logs, "CreateLogStream", SRC, req);
    }
    call_text(logs, "PutSubscriptionFilter", SRC,
              "{\"logGroupName\":\"trail\",\"filterName\":\"f\",\"filterPattern\":"
              "\"{ $.eventName = \\\"ConsoleLogin\\\" }\",\"destinationArn\":\"arn:aws:logs:"
              REGION ":" SEC ":destination:d\"}");
    if (start_delivery) {
        struct ts_delivery_opts dopts;
        memset(&dopts, 0, sizeof(dopts));
        dopts.store = g_store;
        dopts.meta = g_meta;
        dopts.logs = g_logs;
        dopts.accounts = g_accounts;
        dopts.targets = &g_targets;
        struct ts_delivery *d;
        if (ts_delivery_create(&dopts, &d) != 0) {
            exit(1);
        }
        atomic_store(&g_delivery, d);
    }
}

static void teardown(void)
{
    ts_delivery_destroy(atomic_exchange(&g_delivery, NULL));
    ts_logs_destroy(g_logs);
    ts_kinesis_destroy(g_kin);
    ts_meta_close(g_meta);
    ts_store_close(g_store);
    ts_aws_accounts_destroy(g_accounts);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void fresh_dir(const char *base, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s-%d", base, name, (int)getpid());
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", out, out);
    if (system(cmd) != 0) {
        exit(1);
    }
}

static void remove_dir(const char *dir)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
}

/* ------------------------------------------------------------------ latency */

static void latency(const char *base, enum ts_fsync_policy fsync, const char *fname, long rate,
                    int seconds)
{
    char dir[1200];
    fresh_dir(base, "lat", dir, sizeof(dir));
    g_quarter = false;
    setup(dir, fsync, true);
    const struct ts_aws_service *logs = ts_logs_service(g_logs);
    /* One event per call up to 1,000 events/s; above that 200 calls a second (what a trail
     * writer batching every 5 ms does), several events per call. */
    long per_call = rate > 1000 ? rate / 200 : 1;
    long calls = rate / per_call;
    g_max_seq = (size_t)(rate * seconds + per_call);
    g_ack_ns = ts_calloc(g_max_seq, sizeof(int64_t));
    g_read_ns = ts_calloc(g_max_seq, sizeof(int64_t));
    atomic_store(&g_read_count, 0);
    atomic_store(&g_reader_stop, false);
    pthread_t reader;
    pthread_create(&reader, NULL, reader_main, (void *)ts_kinesis_service(g_kin));
    char *scratch = ts_malloc(4096);
    int64_t interval = 1000000000LL / calls;
    int64_t start = mono();
    size_t seq = 0;
    for (long c = 0; c < calls * seconds; c++) {
        int64_t due = start + c * interval;
        while (mono() < due) {
            struct timespec ts = {0, 20 * 1000};
            nanosleep(&ts, NULL);
        }
        put_batch(logs, (int)(c % N_STREAMS), seq, (size_t)per_call, scratch);
        int64_t t = mono();
        for (long i = 0; i < per_call; i++) {
            g_ack_ns[seq + (size_t)i] = t;
        }
        seq += (size_t)per_call;
    }
    double achieved = (double)seq / ((double)(mono() - start) / 1e9);
    int64_t wait_until = mono() + 10000000000LL;
    while (atomic_load(&g_read_count) < seq && mono() < wait_until) {
        usleep(1000);
    }
    atomic_store(&g_reader_stop, true);
    pthread_join(reader, NULL);
    int64_t *lat = ts_malloc(seq * sizeof(int64_t));
    size_t n = 0, missing = 0;
    for (size_t i = 0; i < seq; i++) {
        if (!g_read_ns[i]) {
            missing++;
            continue;
        }
        int64_t l = g_read_ns[i] - g_ack_ns[i];
        lat[n++] = l < 0 ? 0 : l;
    }
    qsort(lat, n, sizeof(int64_t), cmp_i64);
    printf("latency  fsync=%-8s rate=%6ld ev/s (achieved %.0f, %ld/call)  events=%zu  "
           "p50=%.3f ms  p99=%.3f ms  max=%.3f ms  missing=%zu\n",
           fname, rate, achieved, per_call, seq, n ? lat[n / 2] / 1e6 : 0,
           n ? lat[(size_t)((double)n * 0.99)] / 1e6 : 0, n ? lat[n - 1] / 1e6 : 0, missing);
    fflush(stdout);
    ts_free(lat);
    ts_free(scratch);
    ts_free(g_ack_ns);
    ts_free(g_read_ns);
    teardown();
    remove_dir(dir);
}

/* ------------------------------------------------------------------ throughput */

struct producer {
    const struct ts_aws_service *logs;
    int stream;
    size_t first, count;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    char *scratch = ts_malloc(4096);
    for (size_t done = 0; done < p->count; done += 800) {
        put_batch(p->logs, p->stream, p->first + done, TS_MIN((size_t)800, p->count - done),
                  scratch);
    }
    ts_free(scratch);
    return NULL;
}

static double produce(size_t total)
{
    pthread_t th[N_STREAMS];
    struct producer ps[N_STREAMS];
    int64_t t0 = mono();
    for (int i = 0; i < N_STREAMS; i++) {
        ps[i] = (struct producer){ts_logs_service(g_logs), i, total / N_STREAMS * (size_t)i,
                                  total / N_STREAMS};
        pthread_create(&th[i], NULL, producer_main, &ps[i]);
    }
    for (int i = 0; i < N_STREAMS; i++) {
        pthread_join(th[i], NULL);
    }
    return (double)(mono() - t0) / 1e9;
}

static void start_delivery(void)
{
    struct ts_delivery_opts dopts;
    memset(&dopts, 0, sizeof(dopts));
    dopts.store = g_store;
    dopts.meta = g_meta;
    dopts.logs = g_logs;
    dopts.accounts = g_accounts;
    dopts.targets = &g_targets;
    struct ts_delivery *d;
    if (ts_delivery_create(&dopts, &d) != 0) {
        exit(1);
    }
    atomic_store(&g_delivery, d);
}

static void throughput(const char *base, enum ts_fsync_policy fsync, const char *fname,
                       size_t backlog, bool quarter)
{
    char dir[1200];
    fresh_dir(base, "tput", dir, sizeof(dir));
    g_quarter = quarter;
    setup(dir, fsync, false);
    double load_s = produce(backlog);
    int64_t t0 = mono();
    start_delivery();
    if (ts_delivery_drain(atomic_load(&g_delivery), 600000) != 0) {
        fprintf(stderr, "drain timed out\n");
    }
    double drain_s = (double)(mono() - t0) / 1e9;
    double payloads = ts_metric_get("ts_delivery_payloads_total",
                                    "subscription=\"" SRC ":trail:f\"");
    double delivered = ts_metric_get("ts_delivery_events_total",
                                     "subscription=\"" SRC ":trail:f\"");
    double bytes = ts_metric_get("ts_delivery_bytes_total", "subscription=\"" SRC ":trail:f\"");
    printf("backlog  fsync=%-8s match=%-7s events=%zu (ingest %.0f ev/s)  drained in %.2f s "
           "= %.0f events/s scanned, %.0f delivered/s, %.0f payloads, %.1f MB gzip\n",
           fname, quarter ? "quarter" : "all", backlog, (double)backlog / load_s, drain_s,
           (double)backlog / drain_s, delivered / drain_s, payloads, bytes / 1e6);
    /* Sustained: producers and the dispatcher together. */
    t0 = mono();
    double before = ts_metric_get("ts_delivery_events_total", "subscription=\"" SRC ":trail:f\"");
    produce(backlog);
    ts_delivery_drain(atomic_load(&g_delivery), 600000);
    double s = (double)(mono() - t0) / 1e9;
    double after = ts_metric_get("ts_delivery_events_total", "subscription=\"" SRC ":trail:f\"");
    printf("sustain  fsync=%-8s match=%-7s events=%zu put and delivered in %.2f s = %.0f "
           "events/s end to end (%.0f delivered/s)\n",
           fname, quarter ? "quarter" : "all", backlog, s, (double)backlog / s,
           (after - before) / s);
    fflush(stdout);
    teardown();
    ts_metrics_shutdown();
    ts_metrics_init();
    remove_dir(dir);
}

int main(int argc, char **argv)
{
    const char *fs = "group", *dir = "/tmp", *match = "all", *mode = "all";
    long rate = 0;
    int seconds = 5;
    size_t backlog = 200000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--fsync") == 0) {
            fs = argv[i + 1];
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = (int)strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--backlog") == 0) {
            backlog = (size_t)strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--match") == 0) {
            match = argv[i + 1];
        } else if (strcmp(argv[i], "--dir") == 0) {
            dir = argv[i + 1];
        } else if (strcmp(argv[i], "--mode") == 0) {
            mode = argv[i + 1];
        }
    }
    enum ts_fsync_policy fsync = strcmp(fs, "interval") == 0 ? TS_FSYNC_INTERVAL
                                 : strcmp(fs, "always") == 0 ? TS_FSYNC_ALWAYS
                                                             : TS_FSYNC_GROUP;
    ts_metrics_init();
    ts_log_set_level(TS_LOG_LEVEL_WARN);
    if (strcmp(mode, "latency") == 0 || strcmp(mode, "all") == 0) {
        if (rate) {
            latency(dir, fsync, fs, rate, seconds);
        } else {
            latency(dir, fsync, fs, 1000, seconds);
            latency(dir, fsync, fs, 20000, seconds);
        }
    }
    if (strcmp(mode, "throughput") == 0 || strcmp(mode, "all") == 0) {
        throughput(dir, fsync, fs, backlog, strcmp(match, "quarter") == 0);
    }
    ts_metrics_shutdown();
    return 0;
}
