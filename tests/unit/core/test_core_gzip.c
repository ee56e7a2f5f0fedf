/* test_core_gzip.c - gzip round trips, the CloudWatch Logs payload vectors, caps, corruption. */
#include <string.h>

#include "trailstream/ts_core.h"
#include "ts_test.h"

/* shared/reference/cloudwatch-logs.md section 5: the decoder test vectors. */
static const char data_vector[] =
    "H4sIAAAAAAACA51R0WqDMBT9lzyri66sW96k7YqwjVFlD5ulZBokoIkksdKV/vuuUaeMsoddgsI9556ce3JGFdOaFi"
    "w51QwRtA6T8PC8ieNwu0EOkq1gCtr+rKBdymKrZFMDsiplkyeK8vIGuroHY6MYrX7NHSbqodEuo9q4nZhuPnWmeG24"
    "FI+8NExpRD7QTkoTZoYfuTmhvZXdHJkwHXhGPAf12yX+V8GlhsPehlawgr/EC3y3DCzkjHmA/DlFrLvxDRyBtxSRFP"
    "kevk+Rk6JGMxXlgII9QIBrIEHL6ZxbTq24yHhNyyjvh2dlCVT1qvAntNWE04qQOYuoUYtmmWyEuap0cQanCWxl8QAH"
    "Cxf7cBKMiT3vVsbSYtmorCdqXgguPFrRLynAgpfJaiK+0EFvJYWWJXuSBRe9nVbvWDGm8vOcFtNWPnoN81xBmL3hh8"
    "DDXuD5k3i0tsj4KO6Vz1CzoWQMOWz1YCqGFaLelWIQNwda+Fda6LK/fAM5gHai+AIAAA==";
static const char control_vector[] =
    "H4sIAAAAAAACAzWOQQuCQBCF/8qy5wiLKPAWYh6yghQ6RMSmkw7pruysSYj/vd20uX28x5uv5zUQiQLSTwPc58HpmJ5P8f"
    "0QJsk2CvmMq06Cdkml2rwTJitjVZANKlVEWrWNzUZKjAZRj0jtgzKNjUEld1gZ0MT96+3XC98gjcOeYz7WDVoNI2o7tt"
    "h4K2+9WXruZn89J3CJ2aTHJj2fBSVkL5QFK0FUpmTqyXK7hFK4z2yPEgiJ0U9tzofb8AVBkha88gAAAA==";

static void decode_vector(const char *b64, struct ts_buf *json)
{
    struct ts_buf gz;
    ts_buf_init(&gz, 1 << 20);
    TEST_CHECK(ts_base64_decode(b64, strlen(b64), &gz) == 0);
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, json) == 0);
    ts_buf_free(&gz);
}

static void test_reference_vectors(void)
{
    struct ts_buf json;
    ts_buf_init(&json, 1 << 20);
    decode_vector(data_vector, &json);
    TEST_CHECK(json.len == 760);
    uint8_t h[TS_SHA256_LEN];
    char hex[2 * TS_SHA256_LEN + 1];
    ts_sha256(json.data, json.len, h);
    ts_hex(h, sizeof(h), hex);
    TEST_CHECK(strcmp(hex, "8bdd744b6d33ca17db2ca4b93d31c569e9425d4641a718489b0ae0ea7df4f9e4") == 0);
    TEST_CHECK(strstr(json.data, "\"messageType\":\"DATA_MESSAGE\"") != NULL);
    ts_buf_reset(&json);
    decode_vector(control_vector, &json);
    TEST_CHECK(strstr(json.data, "CWL CONTROL MESSAGE: Checking health of destination Kinesis "
                                 "stream.") != NULL);
    TEST_CHECK(strstr(json.data, "\"timestamp\":1704067200000") != NULL);
    ts_buf_free(&json);
}

static void test_round_trip_and_levels(void)
{
    static char text[200000];
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = "{\"eventName\":\"ConsoleLogin\",\"x\":1}"[i % 34];
    }
    for (int level = 0; level <= 12; level += 3) {
        struct ts_gzip *z = ts_gzip_create(level);
        TEST_ASSERT(z != NULL);
        struct ts_buf gz, back;
        ts_buf_init(&gz, 1 << 20);
        ts_buf_init(&back, 1 << 20);
        TEST_CHECK(ts_gzip_compress(z, text, sizeof(text), &gz) == 0);
        TEST_CHECK((uint8_t)gz.data[0] == 0x1f && (uint8_t)gz.data[1] == 0x8b);
        TEST_CHECK(gz.data[4] == 0 && gz.data[5] == 0 && gz.data[6] == 0 && gz.data[7] == 0);
        TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == 0);
        TEST_CHECK(back.len == sizeof(text) && memcmp(back.data, text, back.len) == 0);
        ts_buf_free(&gz);
        ts_buf_free(&back);
        ts_gzip_destroy(z);
    }
    /* NULL compressor: one-off; empty input is a valid member. */
    struct ts_buf gz, back;
    ts_buf_init(&gz, 1024);
    ts_buf_init(&back, 1024);
    TEST_CHECK(ts_gzip_compress(NULL, "", 0, &gz) == 0);
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == 0 && back.len == 0);
    ts_buf_free(&gz);
    ts_buf_free(&back);
    TEST_CHECK(ts_gzip_create(13) == NULL);
    ts_gzip_destroy(NULL);
}

static void test_concatenated_members(void)
{
    struct ts_buf gz, back;
    ts_buf_init(&gz, 4096);
    ts_buf_init(&back, 4096);
    TEST_CHECK(ts_gzip_compress(NULL, "hello ", 6, &gz) == 0);
    TEST_CHECK(ts_gzip_compress(NULL, "world", 5, &gz) == 0);
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == 0);
    TEST_CHECK(strcmp(back.data, "hello world") == 0);
    ts_buf_free(&gz);
    ts_buf_free(&back);
}

static void test_caps_and_corruption(void)
{
    char text[5000];
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = (char)((i * 2654435761u) >> 13);
    }
    struct ts_buf small, gz, back;
    ts_buf_init(&small, 100);
    TEST_CHECK(ts_gzip_compress(NULL, text, sizeof(text), &small) == TS_ETOOBIG);
    TEST_CHECK(small.len == 0);
    ts_buf_free(&small);
    ts_buf_init(&gz, 1 << 16);
    TEST_CHECK(ts_gzip_compress(NULL, text, sizeof(text), &gz) == 0);
    /* Output cap: the content does not fit. */
    ts_buf_init(&back, 4999);
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == TS_ETOOBIG);
    TEST_CHECK(back.len == 0);
    ts_buf_free(&back);
    /* A flipped byte in the body or the CRC, truncation, garbage. */
    ts_buf_init(&back, 1 << 16);
    gz.data[gz.len / 2] ^= 0x55;
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == TS_EPARSE);
    gz.data[gz.len / 2] ^= 0x55;
    gz.data[gz.len - 6] ^= 1;
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == TS_EPARSE);
    gz.data[gz.len - 6] ^= 1;
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len - 3, &back) == TS_EPARSE);
    TEST_CHECK(ts_gzip_decompress("not gzip at all, not at all", 27, &back) == TS_EPARSE);
    TEST_CHECK(ts_gzip_decompress(gz.data, gz.len, &back) == 0 && back.len == sizeof(text));
    ts_buf_free(&back);
    ts_buf_free(&gz);
}

TEST_LIST = {
    {"reference_vectors", test_reference_vectors},
    {"round_trip_and_levels", test_round_trip_and_levels},
    {"concatenated_members", test_concatenated_members},
    {"caps_and_corruption", test_caps_and_corruption},
    {NULL, NULL},
};
