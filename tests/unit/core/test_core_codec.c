/* test_core_codec.c - hashes, CRC32C, base64, time formats, metrics rendering. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "trailstream/ts_core.h"
#include "ts_test.h"

static void test_sha256_hmac_md5(void)
{
    uint8_t h[32];
    char hex[65];
    ts_sha256("", 0, h);
    ts_hex(h, 32, hex);
    TEST_CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    /* RFC 4231 test case 2 */
    ts_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, h);
    ts_hex(h, 32, hex);
    TEST_CHECK(strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0);
    /* RFC 4231 test case 1, and 6 (a key longer than the block is hashed first) */
    uint8_t k1[20], k6[131];
    memset(k1, 0x0b, sizeof(k1));
    memset(k6, 0xaa, sizeof(k6));
    ts_hmac_sha256(k1, sizeof(k1), "Hi There", 8, h);
    ts_hex(h, 32, hex);
    TEST_CHECK(strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0);
    ts_hmac_sha256(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                   h);
    ts_hex(h, 32, hex);
    TEST_CHECK(strcmp(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54") == 0);
    /* Against OpenSSL's own HMAC() for every key length 0-200 and several message lengths. */
    uint8_t key[200], msg[300];
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t)(i * 31 + 7);
        key[i % sizeof(key)] = (uint8_t)(i * 17 + 1);
    }
    int bad = 0;
    for (size_t kl = 0; kl <= sizeof(key) && bad < 3; kl++) {
        size_t ml = (kl * 7) % sizeof(msg);
        uint8_t want[32];
        unsigned int wl = 0;
        HMAC(EVP_sha256(), key, (int)kl, msg, ml, want, &wl);
        ts_hmac_sha256(key, kl, msg, ml, h);
        if (!TEST_CHECK_(memcmp(h, want, 32) == 0, "HMAC, key of %zu bytes", kl)) {
            bad++;
        }
    }
    uint8_t m[16];
    char mhex[33];
    ts_md5("abc", 3, m);
    ts_hex(m, 16, mhex);
    TEST_CHECK(strcmp(mhex, "900150983cd24fb0d6963f7d28e17f72") == 0);
}

static void test_crc32c(void)
{
    /* Standard check value of CRC-32C. */
    TEST_CHECK(ts_crc32c(0, "123456789", 9) == 0xE3069283u);
    /* RFC 3720 B.4: 32 bytes of zeros. */
    uint8_t z[32] = {0};
    TEST_CHECK(ts_crc32c(0, z, sizeof(z)) == 0x8A9136AAu);
    /* Chaining equals one pass, for every split point and odd lengths. */
    char buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (char)(i * 7 + 3);
    }
    uint32_t whole = ts_crc32c(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
        TEST_CHECK(ts_crc32c(ts_crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut) == whole);
    }
    /* Long buffers (the three-lane path joins lanes by multiplication) equal the same bytes
     * fed in pieces shorter than its 192-byte threshold, at every length to 10,000 bytes and
     * at lengths around each lane size. */
    static uint8_t big[20000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(big); i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(x >> 16);
    }
    int bad = 0;
    for (size_t n = 0; n <= sizeof(big) && bad < 5; n += n < 10000 ? 1 : 997) {
        uint32_t pieces = 0;
        for (size_t at = 0; at < n; at += 100) {
            pieces = ts_crc32c(pieces, big + at, n - at < 100 ? n - at : 100);
        }
        if (!TEST_CHECK_(ts_crc32c(0, big, n) == pieces, "crc32c of %zu bytes", n)) {
            bad++;
        }
    }
    /* Combining: the CRC of A || B from the CRCs of A and B, for B of every length to 2,100
     * (each 8-byte multiple and remainder) and across the 7-bit digits of the shift. */
    bad = 0;
    for (size_t nb = 0; nb <= 2100 && bad < 5; nb += nb < 300 ? 1 : 7) {
        size_t na = (nb * 13) % 97;
        uint32_t want = ts_crc32c(0, big, na + nb);
        uint32_t got = ts_crc32c_combine(ts_crc32c(0, big, na), ts_crc32c(0, big + na, nb), nb);
        if (!TEST_CHECK_(got == want, "combine %zu + %zu bytes", na, nb)) {
            bad++;
        }
    }
    {
        /* shifts past one, two and three digits (1 KiB, 128 KiB and 16 MiB of zeros) */
        static const size_t lens[] = {1024, 131072 + 9, 16u * 1024 * 1024 + 5};
        uint8_t *zeros = calloc(1, lens[2]);
        TEST_ASSERT(zeros != NULL);
        for (size_t i = 0; i < TS_ARRAY_LEN(lens); i++) {
            uint32_t a = ts_crc32c(0, "header", 6);
            TEST_CHECK_(ts_crc32c_combine(a, ts_crc32c(0, zeros, lens[i]), lens[i]) ==
                            ts_crc32c(a, zeros, lens[i]),
                        "combine across %zu zero bytes", lens[i]);
        }
        free(zeros);
    }
    /* The folding path is the one running wherever the CPU can: its constants are checked
     * at start-up, and a wrong derivation would silently fall back without this. */
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("vpclmulqdq")) {
        TEST_CHECK(strcmp(ts_crc32c_impl(), "vpclmulqdq") == 0);
        TEST_MSG("implementation: %s", ts_crc32c_impl());
    }
#endif
}

static void test_base64(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (size_t i = 0; i < TS_ARRAY_LEN(plain); i++) {
        struct ts_buf b;
        ts_buf_init(&b, 64);
        TEST_CHECK(ts_base64_encode(plain[i], strlen(plain[i]), &b) == 0);
        TEST_CHECK(strcmp(b.data ? b.data : "", enc[i]) == 0);
        ts_buf_reset(&b);
        TEST_CHECK(ts_base64_decode(enc[i], strlen(enc[i]), &b) == 0);
        TEST_CHECK(b.len == strlen(plain[i]) && memcmp(b.data ? b.data : "", plain[i], b.len) == 0);
        ts_buf_free(&b);
    }
    struct ts_buf b;
    ts_buf_init(&b, 64);
    TEST_CHECK(ts_base64_decode("Zm9", 3, &b) == TS_EINVAL);
    TEST_CHECK(ts_base64_decode("Zm=v", 4, &b) == TS_EINVAL);
    TEST_CHECK(ts_base64_decode("Zm9v!A==", 8, &b) == TS_EINVAL);
    TEST_CHECK(ts_base64_decode("Zg==Zg==", 8, &b) == TS_EINVAL);
    ts_buf_free(&b);
}

/* The calendar arithmetic against glibc's gmtime_r/strftime/timegm as the oracle: every day
 * boundary around leap days and centuries, and random instants from 1900 to 2200. */
static void test_time_vs_libc(void)
{
    uint64_t x = 88172645463325252ull;
    int bad = 0;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        int64_t secs;
        if (i < 100000) {
            secs = -2208988800LL + (int64_t)i * 86400 - (i % 3); /* 1900-01-01 on, daily */
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            secs = -2208988800LL + (int64_t)(x % (300ull * 365 * 86400));
        }
        int64_t ms = secs * 1000 + (int64_t)(i % 1000);
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        char want_iso[32], want_basic[32], iso[21], basic[17];
        strftime(want_iso, sizeof(want_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
        strftime(want_basic, sizeof(want_basic), "%Y%m%dT%H%M%SZ", &tm);
        ts_time_fmt_iso(ms, iso);
        ts_time_fmt_basic(ms, basic);
        int64_t back;
        if (!TEST_CHECK_(strcmp(iso, want_iso) == 0 && strcmp(basic, want_basic) == 0,
                         "%lld s: %s / %s, want %s / %s", (long long)secs, iso, basic, want_iso,
                         want_basic) ||
            !TEST_CHECK_(ts_time_parse_basic(basic, &back) == 0 && back == secs * 1000,
                         "parse %s", basic)) {
            bad++;
        }
    }
}

static void test_time(void)
{
    char s[21];
    int64_t ms;
    TEST_CHECK(ts_time_parse_basic("20150830T123600Z", &ms) == 0 && ms == 1440938160000LL);
    ts_time_fmt_basic(ms, s);
    TEST_CHECK(strcmp(s, "20150830T123600Z") == 0);
    ts_time_fmt_iso(ms, s);
    TEST_CHECK(strcmp(s, "2015-08-30T12:36:00Z") == 0);
    TEST_CHECK(ts_time_parse_basic("20150830T123600", &ms) == TS_EINVAL);
    TEST_CHECK(ts_time_parse_basic("2015083XT123600Z", &ms) == TS_EINVAL);
    TEST_CHECK(ts_time_parse_basic("20151330T123600Z", &ms) == TS_EINVAL);
    TEST_CHECK(ts_time_parse_http("Sun, 30 Aug 2015 12:36:00 GMT", &ms) == 0 &&
               ms == 1440938160000LL);
    TEST_CHECK(ts_time_parse_http("Sun, 30 Foo 2015 12:36:00 GMT", &ms) == TS_EINVAL);
    char u[37], v[37];
    ts_uuid4(u);
    ts_uuid4(v);
    TEST_CHECK(strlen(u) == 36 && u[14] == '4' && strcmp(u, v) != 0);
    TEST_CHECK(u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
    TEST_CHECK(strchr("89ab", u[19]) != NULL);
    /* ts_random: per-thread pool and direct reads; 4,000 ids are all different, and every
     * bit position of the pool's output takes both values. */
    static char ids[4000][37];
    uint8_t or_bits[16] = {0}, and_bits[16];
    memset(and_bits, 0xFF, sizeof(and_bits));
    int dup = 0;
    for (int i = 0; i < 4000; i++) {
        uint8_t r[16];
        TEST_ASSERT(ts_random(r, sizeof(r)) == 0);
        for (int k = 0; k < 16; k++) {
            or_bits[k] |= r[k];
            and_bits[k] &= r[k];
        }
        ts_uuid4(ids[i]);
    }
    for (int k = 0; k < 16; k++) {
        TEST_CHECK(or_bits[k] == 0xFF && and_bits[k] == 0);
    }
    for (int i = 1; i < 4000; i++) {
        for (int j = 0; j < i && !dup; j++) {
            dup = strcmp(ids[i], ids[j]) == 0;
        }
    }
    TEST_CHECK(!dup);
    uint8_t big[1000], zero[1000] = {0};
    TEST_CHECK(ts_random(big, sizeof(big)) == 0 && memcmp(big, zero, sizeof(big)) != 0);
}

static void test_metrics(void)
{
    TEST_ASSERT(ts_metrics_init() == 0);
    ts_metric_describe("t_requests_total", "counter", "Requests.");
    ts_metric_add("t_requests_total", "op=\"a\"", 2);
    ts_metric_add("t_requests_total", "op=\"a\"", 1);
    ts_metric_set("t_gauge", "", 7);
    ts_metric_observe("t_latency_seconds", "", 0.003);
    TEST_CHECK(ts_metric_get("t_requests_total", "op=\"a\"") == 3);
    struct ts_buf b;
    ts_buf_init(&b, 1 << 20);
    TEST_ASSERT(ts_metrics_render(&b) == 0);
    TEST_CHECK(strstr(b.data, "# HELP t_requests_total Requests.\n") != NULL);
    TEST_CHECK(strstr(b.data, "t_requests_total{op=\"a\"} 3\n") != NULL);
    TEST_CHECK(strstr(b.data, "t_gauge 7\n") != NULL);
    TEST_CHECK(strstr(b.data, "t_latency_seconds_bucket{le=\"0.0025\"} 0\n") != NULL);
    TEST_CHECK(strstr(b.data, "t_latency_seconds_bucket{le=\"0.005\"} 1\n") != NULL);
    TEST_CHECK(strstr(b.data, "t_latency_seconds_count 1\n") != NULL);
    ts_buf_free(&b);
    ts_metrics_shutdown();
}

TEST_LIST = {
    {"sha256_hmac_md5", test_sha256_hmac_md5},
    {"crc32c", test_crc32c},
    {"time_vs_libc", test_time_vs_libc},
    {"base64", test_base64},
    {"time", test_time},
    {"metrics", test_metrics},
    {NULL, NULL},
};
