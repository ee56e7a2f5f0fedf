/*
 * bench_kinesis.c - Kinesis load driver for bench/kinesis/run.sh: signed awsJson 1.1 requests
 * over libcurl (keep-alive), so any Kinesis endpoint can be measured (trailstream, moto_server,
 * AWS itself).
 *
 *   bench_kinesis put     URL STREAM SHARDS SECONDS PRODUCERS   PutRecords, 500 x 1 KiB per call
 *   bench_kinesis get     URL STREAM SECONDS SERVER_PID         GetRecords (Limit 10000), all
 *                                                               shards, re-reading from
 *                                                               TRIM_HORIZON when caught up
 *   bench_kinesis latency URL STREAM COUNT                      PutRecord ack -> GetRecords loop
 *
 * Credentials: BENCH_KEY / BENCH_SECRET (any for moto); region us-east-1.
 * Output: one "key=value ..." line per run, parsed by run.sh.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trailstream/ts_aws.h"

#define REGION "us-east-1"
#define RECORD_BYTES 1024
#define BATCH 500

static const char *g_url, *g_key, *g_secret;
static char g_host[256];

struct conn {
    CURL *curl;
    struct ts_buf resp;
    /* signature cache: same body + same second = same signature */
    char sig_date[17];
    char sig_op[64];
    uint8_t body_hash[TS_SHA256_LEN];
    const void *sig_body;
    size_t sig_len;
    char auth[512];
};

static double now_s(void)
{
    return (double)ts_mono_ns() / 1e9;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct conn *c = arg;
    return ts_buf_add(&c->resp, p, size * n) == 0 ? size * n : 0;
}

static void conn_init(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->curl = curl_easy_init();
    ts_buf_init(&c->resp, (size_t)64 << 20);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
}

static void conn_free(struct conn *c)
{
    curl_easy_cleanup(c->curl);
    ts_buf_free(&c->resp);
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
    ts_hex(p, n, out);
}

/* Sends one signed request; returns the HTTP status (body in c->resp) or -1. A body passed
 * with `constant` set is the same bytes on every call (PutRecords): its hash and signature are
 * reused within the second, as a real SDK client could not, so the driver stays cheap. */
static int call_c(struct conn *c, const char *op, const char *body, size_t len, bool constant)
{
    char date[17];
    ts_time_fmt_basic(ts_clock_now_ms(&ts_clock_real), date);
    if (!constant || strcmp(date, c->sig_date) != 0 || strcmp(op, c->sig_op) != 0 ||
        body != c->sig_body || len != c->sig_len) {
        if (!constant || body != c->sig_body || len != c->sig_len) {
            ts_sha256(body, len, c->body_hash);
        }
        char ph[65], creq[1024], crh[65], sts[512], sig[65], date8[9];
        hexs(c->body_hash, TS_SHA256_LEN, ph);
        snprintf(creq, sizeof(creq),
                 "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-date:%s\n"
                 "x-amz-target:Kinesis_20131202.%s\n\ncontent-type;host;x-amz-date;x-amz-target\n%s",
                 g_host, date, op, ph);
        uint8_t h[TS_SHA256_LEN], key[TS_SHA256_LEN];
        ts_sha256(creq, strlen(creq), h);
        hexs(h, sizeof(h), crh);
        memcpy(date8, date, 8);
        date8[8] = '\0';
        snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/kinesis/aws4_request\n%s", date,
                 date8, REGION, crh);
        ts_sigv4_signing_key(g_secret, date8, REGION, "kinesis", key);
        ts_hmac_sha256(key, sizeof(key), sts, strlen(sts), h);
        hexs(h, sizeof(h), sig);
        snprintf(c->auth, sizeof(c->auth),
                 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/kinesis/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s",
                 g_key, date8, REGION, sig);
        memcpy(c->sig_date, date, sizeof(date));
        snprintf(c->sig_op, sizeof(c->sig_op), "%s", op);
        c->sig_body = body;
        c->sig_len = len;
    }
    char target[128], xdate[64];
    snprintf(target, sizeof(target), "X-Amz-Target: Kinesis_20131202.%s", op);
    snprintf(xdate, sizeof(xdate), "X-Amz-Date: %s", date);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/x-amz-json-1.1");
    hd = curl_slist_append(hd, target);
    hd = curl_slist_append(hd, xdate);
    hd = curl_slist_append(hd, c->auth);
    hd = curl_slist_append(hd, "Expect:");
    ts_buf_reset(&c->resp);
    curl_easy_setopt(c->curl, CURLOPT_URL, g_url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(hd);
    long status = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    }
    return (int)status;
}

static int call(struct conn *c, const char *op, const char *body, size_t len)
{
    return call_c(c, op, body, len, false);
}

/* Finds the string value of "name" in a JSON text (with or without spaces); copies it. */
static bool json_str(const char *text, size_t len, const char *name, char *out, size_t out_len,
                     bool from_end)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", name);
    const char *p = NULL;
    if (from_end) {
        /* the member follows the (large) Records array: search the tail first */
        size_t tail = len > 4096 ? 4096 : len;
        p = memmem(text + len - tail, tail, pat, strlen(pat));
    }
    if (!p) {
        p = memmem(text, len, pat, strlen(pat));
    }
    if (!p) {
        return false;
    }
    p += strlen(pat);
    while (*p == ' ' || *p == ':') {
        p++;
    }
    if (*p != '"') {
        return false;
    }
    const char *e = strchr(++p, '"');
    if (!e || (size_t)(e - p) >= out_len) {
        return false;
    }
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

static size_t count(const char *text, size_t len, const char *pat)
{
    size_t n = 0, pl = strlen(pat);
    const char *p = text, *end = text + len;
    while ((p = memmem(p, (size_t)(end - p), pat, pl)) != NULL) {
        n++;
        p += pl;
    }
    return n;
}

static void create_stream(const char *stream, int shards)
{
    struct conn c;
    conn_init(&c);
    char body[256];
    snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":%d}", stream, shards);
    int st = call(&c, "CreateStream", body, strlen(body));
    if (st != 200 && !strstr(c.resp.data ? c.resp.data : "", "ResourceInUse")) {
        fprintf(stderr, "CreateStream: %d %s\n", st, c.resp.data ? c.resp.data : "");
        exit(1);
    }
    snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", stream);
    for (int i = 0; i < 100; i++) {
        call(&c, "DescribeStreamSummary", body, strlen(body));
        if (c.resp.data && strstr(c.resp.data, "ACTIVE")) {
            break;
        }
        usleep(100000);
    }
    conn_free(&c);
}

/* ------------------------------------------------------------------ put */

struct put_arg {
    const char *stream;
    int id;
    double deadline;
    long calls;
    long records;
    long errors;
};

static char *put_body(const char *stream, int id, size_t *len)
{
    struct ts_buf b;
    ts_buf_init(&b, (size_t)4 << 20);
    uint8_t raw[RECORD_BYTES];
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    ts_buf_addf(&b, "{\"StreamName\":\"%s\",\"Records\":[", stream);
    for (int i = 0; i < BATCH; i++) {
        for (size_t j = 0; j < sizeof(raw); j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw[j] = (uint8_t)x;
        }
        ts_buf_addf(&b, "%s{\"PartitionKey\":\"pk-%d-%d\",\"Data\":\"", i ? "," : "", id, i);
        ts_base64_encode(raw, sizeof(raw), &b);
        ts_buf_adds(&b, "\"}");
    }
    ts_buf_adds(&b, "]}");
    return ts_buf_take(&b, len);
}

static void *put_main(void *arg)
{
    struct put_arg *a = arg;
    struct conn c;
    conn_init(&c);
    size_t len;
    char *body = put_body(a->stream, a->id, &len);
    while (now_s() < a->deadline) {
        int st = call_c(&c, "PutRecords", body, len, true);
        a->calls++;
        if (st != 200) {
            a->errors++;
            continue;
        }
        size_t failed = 0;
        const char *f = memmem(c.resp.data, c.resp.len, "\"FailedRecordCount\"", 19);
        if (f) {
            f += 19;
            while (*f == ' ' || *f == ':') {
                f++;
            }
            failed = (size_t)strtoul(f, NULL, 10);
        }
        a->records += BATCH - (long)failed;
    }
    ts_free(body);
    conn_free(&c);
    return NULL;
}

static int cmd_put(int argc, char **argv)
{
    if (argc != 6) {
        return 2;
    }
    const char *stream = argv[2];
    int shards = (int)strtol(argv[3], NULL, 10), producers = (int)strtol(argv[5], NULL, 10);
    double seconds = strtod(argv[4], NULL);
    create_stream(stream, shards);
    pthread_t t[64];
    struct put_arg a[64];
    double start = now_s();
    for (int i = 0; i < producers && i < 64; i++) {
        a[i] = (struct put_arg){stream, i, start + seconds, 0, 0, 0};
        pthread_create(&t[i], NULL, put_main, &a[i]);
    }
    long records = 0, calls = 0, errors = 0;
    for (int i = 0; i < producers && i < 64; i++) {
        pthread_join(t[i], NULL);
        records += a[i].records;
        calls += a[i].calls;
        errors += a[i].errors;
    }
    double el = now_s() - start;
    printf("put records=%ld calls=%ld errors=%ld seconds=%.2f records_per_s=%.0f mb_per_s=%.1f\n",
           records, calls, errors, el, records / el, records * (double)RECORD_BYTES / el / 1e6);
    return 0;
}

/* ------------------------------------------------------------------ get */

static double proc_cpu_s(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    return 0;
}

static int get_iterator(struct conn *c, const char *stream, const char *shard, const char *type,
                        char *out, size_t len)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"StreamName\":\"%s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"%s\"}", stream,
             shard, type);
    if (call(c, "GetShardIterator", body, strlen(body)) != 200) {
        fprintf(stderr, "GetShardIterator: %s\n", c->resp.data ? c->resp.data : "");
        return -1;
    }
    return json_str(c->resp.data, c->resp.len, "ShardIterator", out, len, false) ? 0 : -1;
}

static int cmd_get(int argc, char **argv)
{
    if (argc != 5) {
        return 2;
    }
    const char *stream = argv[2];
    double seconds = strtod(argv[3], NULL);
    long pid = strtol(argv[4], NULL, 10);
    struct conn c;
    conn_init(&c);
    char body[2048], shards[64][32];
    int n_shards = 0;
    snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", stream);
    if (call(&c, "ListShards", body, strlen(body)) != 200) {
        fprintf(stderr, "ListShards failed\n");
        return 1;
    }
    const char *p = c.resp.data;
    while (n_shards < 64 && (p = strstr(p, "shardId-")) != NULL) {
        snprintf(shards[n_shards], sizeof(shards[0]), "%.20s", p);
        bool dup = n_shards > 0 && strcmp(shards[n_shards - 1], shards[n_shards]) == 0;
        n_shards += !dup;
        p += 20;
    }
    char it[1024];
    long records = 0, calls = 0;
    double bytes = 0, cpu0 = proc_cpu_s(pid), start = now_s();
    int s = 0;
    if (get_iterator(&c, stream, shards[s], "TRIM_HORIZON", it, sizeof(it))) {
        return 1;
    }
    while (now_s() - start < seconds) {
        snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\",\"Limit\":10000}", it);
        if (call(&c, "GetRecords", body, strlen(body)) != 200) {
            fprintf(stderr, "GetRecords: %.300s\n", c.resp.data ? c.resp.data : "");
            return 1;
        }
        calls++;
        size_t n = count(c.resp.data, c.resp.len, "\"PartitionKey\"");
        records += (long)n;
        bytes += (double)n * RECORD_BYTES;
        bool more = n > 0 && json_str(c.resp.data, c.resp.len, "NextShardIterator", it,
                                      sizeof(it), true);
        if (!more) {
            /* caught up: next shard, from its start again (the data is in the page cache) */
            s = (s + 1) % n_shards;
            if (get_iterator(&c, stream, shards[s], "TRIM_HORIZON", it, sizeof(it))) {
                return 1;
            }
        }
    }
    double el = now_s() - start, cpu = proc_cpu_s(pid) - cpu0;
    printf("get records=%ld calls=%ld seconds=%.2f mb_per_s=%.1f server_cpu_s=%.2f "
           "mb_per_server_cpu_s=%.1f\n",
           records, calls, el, bytes / el / 1e6, cpu, cpu > 0 ? bytes / cpu / 1e6 : 0.0);
    conn_free(&c);
    return 0;
}

/* ------------------------------------------------------------------ latency */

#define LAT_MAX 100000

struct lat {
    const char *stream;
    int count;
    double acked[LAT_MAX];
    double seen[LAT_MAX];
    volatile int done;
    volatile int ready;
};

static void *reader_main(void *arg)
{
    struct lat *l = arg;
    struct conn c;
    conn_init(&c);
    char it[1024], body[1200];
    if (get_iterator(&c, l->stream, "shardId-000000000000", "LATEST", it, sizeof(it))) {
        exit(1);
    }
    l->ready = 1;
    int seen = 0;
    while (seen < l->count) {
        snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\"}", it);
        if (call(&c, "GetRecords", body, strlen(body)) != 200) {
            fprintf(stderr, "GetRecords: %.300s\n", c.resp.data ? c.resp.data : "");
            exit(1);
        }
        double t = now_s();
        /* each record's data is base64 of "lat-<index>" padded: decode the index */
        const char *p = c.resp.data, *end = c.resp.data + c.resp.len;
        while ((p = memmem(p, (size_t)(end - p), "\"PartitionKey\"", 14)) != NULL) {
            p += 14;
            while (*p == ' ' || *p == ':' || *p == '"') {
                p++;
            }
            int idx = (int)strtol(p, NULL, 10);
            if (idx >= 0 && idx < l->count && l->seen[idx] == 0) {
                l->seen[idx] = t;
                seen++;
            }
        }
        json_str(c.resp.data, c.resp.len, "NextShardIterator", it, sizeof(it), true);
    }
    conn_free(&c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_latency(int argc, char **argv)
{
    if (argc != 4) {
        return 2;
    }
    static struct lat l;
    l.stream = argv[2];
    l.count = (int)strtol(argv[3], NULL, 10);
    if (l.count > LAT_MAX) {
        l.count = LAT_MAX;
    }
    create_stream(l.stream, 1);
    pthread_t t;
    pthread_create(&t, NULL, reader_main, &l);
    while (!l.ready) {
        usleep(1000);
    }
    struct conn c;
    conn_init(&c);
    for (int i = 0; i < l.count; i++) {
        char body[256];
        /* the partition key carries the index: the reader needs no base64 */
        snprintf(body, sizeof(body),
                 "{\"StreamName\":\"%s\",\"PartitionKey\":\"%d\",\"Data\":\"bGF0ZW5jeQ==\"}",
                 l.stream, i);
        if (call(&c, "PutRecord", body, strlen(body)) != 200) {
            fprintf(stderr, "PutRecord: %s\n", c.resp.data ? c.resp.data : "");
            return 1;
        }
        l.acked[i] = now_s();
        usleep(2000);
    }
    pthread_join(t, NULL);
    static double d[LAT_MAX];
    for (int i = 0; i < l.count; i++) {
        double v = l.seen[i] - l.acked[i];
        d[i] = v < 0 ? 0 : v; /* seen before the ack reached the producer */
    }
    qsort(d, (size_t)l.count, sizeof(double), cmp_double);
    printf("latency count=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", l.count,
           d[l.count / 2] * 1e3, d[(int)(l.count * 0.99)] * 1e3, d[l.count - 1] * 1e3);
    conn_free(&c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_kinesis put|get|latency URL ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    g_url = argv[2];
    g_key = getenv("BENCH_KEY") ? getenv("BENCH_KEY") : "AKIDBENCH";
    g_secret = getenv("BENCH_SECRET") ? getenv("BENCH_SECRET") : "secret";
    const char *h = strstr(g_url, "://");
    snprintf(g_host, sizeof(g_host), "%s", h ? h + 3 : g_url);
    char *slash = strchr(g_host, '/');
    if (slash) {
        *slash = '\0';
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = strcmp(cmd, "put") == 0       ? cmd_put(argc - 1, argv + 1)
             : strcmp(cmd, "get") == 0     ? cmd_get(argc - 1, argv + 1)
             : strcmp(cmd, "latency") == 0 ? cmd_latency(argc - 1, argv + 1)
                                           : 2;
    if (rc == 2) {
        fprintf(stderr, "bad arguments\n");
    }
    curl_global_cleanup();
    return rc;
}
