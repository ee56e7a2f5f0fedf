/* test_kinesis_hash.c - MD5 routing of partition keys and the even split of the hash space,
 * against the vectors of shared/reference/kinesis.md (verified against AWS output). */
#include "kinesis_int.h"
#include "ts_test.h"

static const char *u128s(kin_u128 v, char *buf)
{
    kin_u128_format(v, buf);
    return buf;
}

static void test_parse_format(void)
{
    char buf[KIN_U128_DIGITS + 1];
    kin_u128 v;
    TEST_CHECK(kin_u128_parse("0", &v) == 0 && v == 0);
    TEST_CHECK(kin_u128_parse("340282366920938463463374607431768211455", &v) == 0 &&
               v == KIN_U128_MAX);
    TEST_CHECK(strcmp(u128s(KIN_U128_MAX, buf), "340282366920938463463374607431768211455") == 0);
    TEST_CHECK(kin_u128_parse("340282366920938463463374607431768211456", &v) != 0);
    TEST_CHECK(kin_u128_parse("1000000000000000000000000000000000000000", &v) != 0);
    TEST_CHECK(kin_u128_parse("01", &v) != 0);
    TEST_CHECK(kin_u128_parse("", &v) != 0);
    TEST_CHECK(kin_u128_parse("-1", &v) != 0);
    TEST_CHECK(kin_u128_parse("12a", &v) != 0);
    TEST_CHECK(strcmp(u128s(0, buf), "0") == 0);
    TEST_CHECK(kin_u128_parse("123456789012345678901234567890", &v) == 0);
    TEST_CHECK(strcmp(u128s(v, buf), "123456789012345678901234567890") == 0);
}

static uint32_t shard_of(kin_u128 h, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (kin_range_start(i, n) <= h && h <= kin_range_end(i, n)) {
            return i;
        }
    }
    return UINT32_MAX;
}

static void test_md5_vectors(void)
{
    static const struct {
        const char *pk;
        const char *dec;
        uint32_t shard[4];
    } v[] = {
        {"a", "16955237001963240173058271559858726497", {0, 0, 0, 0}},
        {"1", "261578874264819908609102035485573088411", {0, 1, 2, 3}},
        {"pk1", "329398341438914906102347661116985167824", {0, 1, 2, 3}},
        {"partitionKey", "193318062818912349798954611745638949166", {0, 1, 1, 2}},
        {"123456789012", "69242346072485417350830287283699855471", {0, 0, 0, 0}},
        {"\xc3\xa9t\xc3\xa9", "295999419373203071729176520050689792210", {0, 1, 2, 3}},
    };
    char buf[KIN_U128_DIGITS + 1];
    for (size_t i = 0; i < TS_ARRAY_LEN(v); i++) {
        kin_u128 h = kin_hash_key(v[i].pk, strlen(v[i].pk));
        TEST_CHECK_(strcmp(u128s(h, buf), v[i].dec) == 0, "hash of %s: %s", v[i].pk, buf);
        for (uint32_t n = 1; n <= 4; n++) {
            TEST_CHECK_(shard_of(h, n) == v[i].shard[n - 1], "%s with %u shards", v[i].pk, n);
        }
    }
}

static void test_ranges(void)
{
    char buf[KIN_U128_DIGITS + 1];
    TEST_CHECK(strcmp(u128s(kin_range_end(0, 3), buf),
                      "113427455640312821154458202477256070484") == 0);
    TEST_CHECK(strcmp(u128s(kin_range_start(1, 3), buf),
                      "113427455640312821154458202477256070485") == 0);
    TEST_CHECK(strcmp(u128s(kin_range_end(1, 3), buf),
                      "226854911280625642308916404954512140969") == 0);
    TEST_CHECK(strcmp(u128s(kin_range_start(2, 3), buf),
                      "226854911280625642308916404954512140970") == 0);
    TEST_CHECK(kin_range_end(2, 3) == KIN_U128_MAX);
    TEST_CHECK(strcmp(u128s(kin_range_start(1, 2), buf),
                      "170141183460469231731687303715884105728") == 0);
    TEST_CHECK(strcmp(u128s(kin_range_start(1, 4), buf),
                      "85070591730234615865843651857942052864") == 0);
    TEST_CHECK(strcmp(u128s(kin_range_start(3, 4), buf),
                      "255211775190703847597530955573826158592") == 0);
    /* every split covers the space without gaps or overlaps */
    for (uint32_t n = 1; n <= 300; n++) {
        TEST_CHECK(kin_range_start(0, n) == 0 && kin_range_end(n - 1, n) == KIN_U128_MAX);
        for (uint32_t i = 1; i < n; i++) {
            if (!TEST_CHECK(kin_range_start(i, n) == kin_range_end(i - 1, n) + 1)) {
                break;
            }
        }
    }
}

/* The internal MD5 agrees with OpenSSL's on every length around the block boundaries. */
static void test_md5_vs_openssl(void)
{
    uint8_t buf[300], a[TS_MD5_LEN], b[TS_MD5_LEN];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 131 + 7);
    }
    for (size_t n = 0; n <= sizeof(buf); n++) {
        kin_md5(buf, n, a);
        ts_md5(buf, n, b);
        if (!TEST_CHECK_(memcmp(a, b, sizeof(a)) == 0, "length %zu", n)) {
            break;
        }
    }
}

TEST_LIST = {
    {"md5_vs_openssl", test_md5_vs_openssl},
    {"u128_parse_format", test_parse_format},
    {"md5_vectors", test_md5_vectors},
    {"ranges", test_ranges},
    {NULL, NULL},
};
