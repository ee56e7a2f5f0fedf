/*
 * bench_put_parse.c - the PutLogEvents body parser alone, in MB of body per CPU-second.
 *
 *   bench_put_parse [seconds-per-figure [DECODER]]   (default 1; with avx512, ssse3 or
 *                                                     portable: stop after that one, to profile)
 *
 * Builds one request body of 1,000 CloudTrail-shaped events of ~1 KB (each message is a JSON
 * record, so every quote in it arrives escaped, as from the CloudWatch agent or an SDK), then
 * times logs_put_parse with each string decoder the CPU has (AVX-512, SSSE3, portable). For scale it prints
 * what the same body costs in memcpy and in SHA-256 (what SigV4 pays to check the body hash)
 * on the same core in the same run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs_int.h"
#include "trailstream/ts_core.h"

#define EVENTS 1000

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* One CloudTrail-shaped record, JSON-escaped as the value of "message". */
static size_t escaped_record(char *o, size_t cap, long long t_ms)
{
    static const char *names[] = {"ConsoleLogin", "GetObject", "PutObject", "AssumeRole",
                                  "CreateUser", "AttachRolePolicy", "StopLogging"};
    char rec[1400];
    int n = snprintf(
        rec, sizeof(rec),
        "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":"
        "\"AIDA%08X%08X\",\"arn\":\"arn:aws:iam::222222222222:user/developer\",\"accountId\":"
        "\"222222222222\",\"accessKeyId\":\"AKIA%08X%08X\",\"userName\":\"developer\"},"
        "\"eventTime\":\"2026-11-28T12:00:%02uZ\",\"eventSource\":\"iam.amazonaws.com\","
        "\"eventName\":\"%s\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"203.0.113.%u\","
        "\"userAgent\":\"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 "
        "prompt/off\",\"requestParameters\":{\"userName\":\"user-%u\",\"policyArn\":"
        "\"arn:aws:iam::aws:policy/ReadOnlyAccess\"},\"responseElements\":null,\"requestID\":"
        "\"%08x-%04x-4%03x-8%03x-%08x%04x\",\"eventID\":\"%08x-%04x-4%03x-8%03x-%08x%04x\","
        "\"readOnly\":false,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
        "\"recipientAccountId\":\"222222222222\",\"eventCategory\":\"Management\","
        "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":"
        "\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"iam.amazonaws.com\"}}",
        rnd(~0u), rnd(~0u), rnd(~0u), rnd(~0u), (unsigned)(t_ms / 1000 % 60), names[rnd(7)],
        rnd(256), rnd(10000), rnd(~0u), rnd(0xFFFF), rnd(0xFFF), rnd(0xFFF), rnd(~0u),
        rnd(0xFFFF), rnd(~0u), rnd(0xFFFF), rnd(0xFFF), rnd(0xFFF), rnd(~0u), rnd(0xFFFF));
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < cap; i++) {
        if (rec[i] == '"' || rec[i] == '\\') {
            o[k++] = '\\';
        }
        o[k++] = rec[i];
    }
    return k;
}

static double rate(const char *name, const void *body, size_t len, double seconds,
                   void (*fn)(const void *, size_t))
{
    uint64_t t0 = cpu_ns(), t;
    size_t runs = 0;
    do {
        fn(body, len);
        runs++;
        t = cpu_ns();
    } while (t - t0 < (uint64_t)(seconds * 1e9));
    double mbs = (double)len * (double)runs / ((double)(t - t0) / 1e9) / 1e6;
    printf("%-28s %8.0f MB/s  (%.3f ms per 1,000-event body)\n", name, mbs,
           (double)len / mbs / 1e3);
    return mbs;
}

static void run_parse(const void *body, size_t len)
{
    struct logs_put_input in;
    struct ts_aws_error err;
    if (logs_put_parse(body, len, &in, &err) != 0 || in.n != EVENTS) {
        fprintf(stderr, "bench_put_parse: the body does not parse: %s\n", err.message);
        exit(1);
    }
    logs_put_input_free(&in);
}

static char *copy_dst;

static void run_memcpy(const void *body, size_t len)
{
    memcpy(copy_dst, body, len);
    __asm__ volatile("" ::"r"(copy_dst) : "memory");
}

static void run_sha256(const void *body, size_t len)
{
    uint8_t h[TS_SHA256_LEN];
    ts_sha256(body, len, h);
    __asm__ volatile("" ::"r"(h) : "memory");
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    size_t cap = (size_t)EVENTS * 3000 + 256;
    char *body = malloc(cap);
    copy_dst = malloc(cap);
    if (!body || !copy_dst) {
        return 1;
    }
    size_t k = (size_t)sprintf(body, "{\"logGroupName\":\"bench\",\"logStreamName\":\"s1\","
                                     "\"logEvents\":[");
    for (int i = 0; i < EVENTS; i++) {
        long long t = 1795000000000LL + i;
        k += (size_t)sprintf(body + k, "%s{\"timestamp\":%lld,\"message\":\"", i ? "," : "", t);
        k += escaped_record(body + k, cap - k - 64, t);
        k += (size_t)sprintf(body + k, "\"}");
    }
    k += (size_t)sprintf(body + k, "]}");
    printf("PutLogEvents body: %d events, %zu bytes, one core (CPU time)\n", EVENTS, k);
    const char *best = logs_put_parse_decoder(NULL);
    static const char *decoders[] = {"avx512", "ssse3", "portable"};
    double figures[3] = {0, 0, 0};
    for (int d = 0; d < 3; d++) {
        char label[64];
        snprintf(label, sizeof(label), "parse (%s decoder)", decoders[d]);
        if (!logs_put_parse_decoder(decoders[d])) {
            printf("%-28s not available on this CPU\n", label);
            continue;
        }
        figures[d] = rate(label, body, k, seconds, run_parse);
        if (argc > 2 && strcmp(argv[2], decoders[d]) == 0) {
            return 0;
        }
    }
    logs_put_parse_decoder(best);
    double mem = rate("peer: memcpy", body, k, seconds, run_memcpy);
    double sha = rate("peer: SHA-256 (SigV4 body)", body, k, seconds, run_sha256);
    double top = figures[0] > 0 ? figures[0] : figures[1] > 0 ? figures[1] : figures[2];
    printf("default decoder: %s; ratio parse/memcpy: %.2f  parse/SHA-256: %.2f  "
           "best/portable: %.2f\n",
           best, top / mem, top / sha, top / figures[2]);
    free(body);
    free(copy_dst);
    return 0;
}
