/* test_kinesis_cbor.c - CBOR decoding (RFC 8949 Appendix A vectors) and encoding round trips
 * with the Kinesis blob/timestamp members. */
#include "trailstream/ts_cbor.h"
#include "ts_test.h"

#include <math.h>

static int hexval(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Decodes hex CBOR and returns the compact JSON text (caller frees), or NULL on error. */
static char *decode_hex(const char *hex, int *rc)
{
    uint8_t buf[256];
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    }
    cJSON *v = NULL;
    *rc = ts_cbor_decode(buf, n, &v);
    if (*rc) {
        return NULL;
    }
    char *s = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return s;
}

static void test_rfc_vectors(void)
{
    static const struct {
        const char *hex;
        const char *json;
    } v[] = {
        {"00", "0"},
        {"17", "23"},
        {"1818", "24"},
        {"1903e8", "1000"},
        {"1a000f4240", "1000000"},
        {"20", "-1"},
        {"3903e7", "-1000"},
        {"f93c00", "1"},
        {"f93e00", "1.5"},
        {"fa47c35000", "100000"},
        {"fb3ff199999999999a", "1.1"},
        {"f4", "false"},
        {"f5", "true"},
        {"f6", "null"},
        {"60", "\"\""},
        {"6161", "\"a\""},
        {"62c3bc", "\"\xc3\xbc\""},
        {"4401020304", "\"AQIDBA==\""},
        {"80", "[]"},
        {"83010203", "[1,2,3]"},
        {"a26161016162820203", "{\"a\":1,\"b\":[2,3]}"},
        {"9f018202039f0405ffff", "[1,[2,3],[4,5]]"},
        {"7f657374726561646d696e67ff", "\"streaming\""},
        {"5f42010243030405ff", "\"AQIDBAU=\""},
        {"bf6346756ef563416d7421ff", "{\"Fun\":true,\"Amt\":-2}"},
        {"c11a514b67b0", "1363896240"},
        {"c1fb41d452d9ec200000", "1363896240.5"},
        {"c11b0000013d8e8d2508", "1363896247.56"}, /* milliseconds, as AWS SDKs send */
        {"d82076687474703a2f2f7777772e6578616d706c652e636f6d", "\"http://www.example.com\""},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(v); i++) {
        int rc;
        char *s = decode_hex(v[i].hex, &rc);
        TEST_CHECK_(s && strcmp(s, v[i].json) == 0, "%s -> %s (want %s)", v[i].hex,
                    s ? s : "error", v[i].json);
        cJSON_free(s);
    }
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "",           /* empty */
        "18",         /* truncated argument */
        "62c3",       /* truncated string */
        "0000",       /* trailing bytes */
        "a10102",     /* non-text key */
        "1c",         /* reserved additional information */
        "f8ff",       /* simple value without JSON counterpart */
        "62c328",     /* invalid UTF-8 */
        "9f01",       /* unterminated indefinite array */
        "5f6161ff",   /* text chunk inside a byte string */
        "c16161",     /* tag 1 on a string */
        "ff",         /* lone break */
        "9b00000000ffffffff", /* huge count */
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        int rc;
        char *s = decode_hex(bad[i], &rc);
        TEST_CHECK_(s == NULL && rc == TS_EPARSE, "'%s' accepted: %s", bad[i], s ? s : "");
        cJSON_free(s);
    }
    /* nesting limit */
    uint8_t deep[200];
    memset(deep, 0x81, sizeof(deep));
    deep[sizeof(deep) - 1] = 0x00;
    cJSON *v = NULL;
    TEST_CHECK(ts_cbor_decode(deep, sizeof(deep), &v) == TS_EPARSE && v == NULL);
}

static void test_round_trip(void)
{
    static const char *const blobs[] = {"Data", NULL};
    static const char *const stamps[] = {"ApproximateArrivalTimestamp", NULL};
    const struct ts_cbor_schema schema = {blobs, stamps};
    const char *json = "{\"Records\":[{\"SequenceNumber\":\"4960\",\"ApproximateArrivalTimestamp\":"
                       "1732800000.123,\"Data\":\"AP8BAgM=\",\"PartitionKey\":\"k\"}],"
                       "\"MillisBehindLatest\":0,\"f\":-2.25,\"big\":4294967296,\"t\":true,"
                       "\"n\":null,\"e\":{}}";
    cJSON *in = cJSON_Parse(json);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    TEST_ASSERT(ts_cbor_encode(in, &schema, &b) == 0);
    /* Data is a byte string of 5 bytes; the timestamp tag 1 + integer milliseconds. */
    TEST_CHECK(memmem(b.data, b.len, "\x64" "Data" "\x45\x00\xff\x01\x02\x03", 11) != NULL);
    TEST_CHECK(memmem(b.data, b.len, "\xc1\x1b\x00\x00\x01\x93\x72\xed\xb0\x7b", 10) != NULL);
    cJSON *back = NULL;
    TEST_ASSERT(ts_cbor_decode(b.data, b.len, &back) == 0);
    TEST_CHECK(cJSON_Compare(in, back, true));
    char *s = cJSON_PrintUnformatted(back);
    TEST_CHECK_(cJSON_Compare(in, back, true), "%s", s);
    cJSON_free(s);
    cJSON_Delete(back);
    /* a blob member that is not base64 */
    cJSON *badb = cJSON_Parse("{\"Data\":\"***\"}");
    ts_buf_reset(&b);
    TEST_CHECK(ts_cbor_encode(badb, &schema, &b) == TS_EINVAL && b.len == 0);
    cJSON_Delete(badb);
    /* the output cap */
    struct ts_buf small;
    ts_buf_init(&small, 8);
    TEST_CHECK(ts_cbor_encode(in, &schema, &small) == TS_ETOOBIG);
    ts_buf_free(&small);
    cJSON_Delete(in);
    ts_buf_free(&b);
}

TEST_LIST = {
    {"rfc_vectors", test_rfc_vectors},
    {"malformed", test_malformed},
    {"round_trip", test_round_trip},
    {NULL, NULL},
};
