/* test_kinesis_service.c - the Kinesis operations over a real store with an injected clock:
 * routing, iterator types, expiry, retention, throttling, restart, deletion, internal puts. */
#include "kinesis_fixture.h"

/* Data of record i as base64 ("rec-<i>"). */
static const char *b64(const char *s, char *out, size_t len)
{
    struct ts_buf b;
    ts_buf_init(&b, len - 1);
    ts_base64_encode(s, strlen(s), &b);
    ts_strlcpy(out, b.data ? b.data : "", len);
    ts_buf_free(&b);
    return out;
}

static int put(struct fx *f, const char *stream, const char *pk, const char *data, char *seq,
               char *shard)
{
    char d[256];
    cJSON *o = fx_call(f, "PutRecord", "{\"StreamName\":\"%s\",\"PartitionKey\":\"%s\","
                                       "\"Data\":\"%s\"}",
                       stream, pk, b64(data, d, sizeof(d)));
    if (!o) {
        return -1;
    }
    if (seq) {
        ts_strlcpy(seq, fx_str(o, "SequenceNumber"), KIN_SEQ_LEN + 1);
    }
    if (shard) {
        ts_strlcpy(shard, fx_str(o, "ShardId"), TS_KINESIS_SHARD_ID_MAX);
    }
    cJSON_Delete(o);
    return 0;
}

/* Reads records with iterator it (consumed); returns the Records array's count and fills
 * the decoded data of the first one into first (if any). *next gets NextShardIterator. */
static int get(struct fx *f, const char *it, char *first, char **next, int limit)
{
    cJSON *o = limit ? fx_call(f, "GetRecords", "{\"ShardIterator\":\"%s\",\"Limit\":%d}", it,
                               limit)
                     : fx_call(f, "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    if (!o) {
        return -1;
    }
    cJSON *recs = cJSON_GetObjectItemCaseSensitive(o, "Records");
    int n = cJSON_GetArraySize(recs);
    if (first) {
        first[0] = '\0';
        if (n > 0) {
            const char *d = fx_str(cJSON_GetArrayItem(recs, 0), "Data");
            struct ts_buf b;
            ts_buf_init(&b, 1024);
            ts_base64_decode(d, strlen(d), &b);
            ts_strlcpy(first, b.data ? b.data : "", 256);
            ts_buf_free(&b);
        }
    }
    if (next) {
        const char *nx = fx_str(o, "NextShardIterator");
        *next = nx ? ts_strdup(nx) : NULL;
    }
    cJSON_Delete(o);
    return n;
}

static void test_explicit_hash_keys(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":3}");
    static const struct {
        const char *key;
        const char *shard;
    } v[] = {
        {"0", "shardId-000000000000"},
        {"113427455640312821154458202477256070484", "shardId-000000000000"},
        {"113427455640312821154458202477256070485", "shardId-000000000001"},
        {"226854911280625642308916404954512140969", "shardId-000000000001"},
        {"226854911280625642308916404954512140970", "shardId-000000000002"},
        {"340282366920938463463374607431768211455", "shardId-000000000002"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(v); i++) {
        cJSON *o = fx_call(&f, "PutRecord", "{\"StreamName\":\"s\",\"PartitionKey\":\"a\","
                                            "\"ExplicitHashKey\":\"%s\",\"Data\":\"\"}",
                           v[i].key);
        TEST_CHECK_(o && strcmp(fx_str(o, "ShardId"), v[i].shard) == 0, "key %s", v[i].key);
        cJSON_Delete(o);
    }
    FX_FAIL(&f, "InvalidArgumentException", "PutRecord",
            "{\"StreamName\":\"s\",\"PartitionKey\":\"a\",\"Data\":\"\","
            "\"ExplicitHashKey\":\"340282366920938463463374607431768211456\"}");
    FX_FAIL(&f, "ValidationException", "PutRecord",
            "{\"StreamName\":\"s\",\"PartitionKey\":\"a\",\"Data\":\"\","
            "\"ExplicitHashKey\":\"-1\"}");
    FX_FAIL(&f, "ValidationException", "PutRecord",
            "{\"StreamName\":\"s\",\"PartitionKey\":\"\",\"Data\":\"\"}");
    FX_FAIL(&f, "ResourceNotFoundException", "PutRecord",
            "{\"StreamName\":\"nope\",\"PartitionKey\":\"a\",\"Data\":\"\"}");
    fx_close(&f);
}

static void test_iterator_types_and_expiry(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":1}");
    const char *sh = "shardId-000000000000";
    char seq[10][KIN_SEQ_LEN + 1], data[256], name[16];
    int64_t t5 = 0;
    for (int i = 0; i < 10; i++) {
        f.now += 10;
        if (i == 5) {
            t5 = f.now;
        }
        snprintf(name, sizeof(name), "rec-%d", i);
        TEST_ASSERT(put(&f, "s", "pk", name, seq[i], NULL) == 0);
        TEST_CHECK(i == 0 || strcmp(seq[i - 1], seq[i]) < 0);
    }
    char *it = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 10 && strcmp(data, "rec-0") == 0);
    ts_free(it);
    char extra[200];
    snprintf(extra, sizeof(extra), ",\"StartingSequenceNumber\":\"%s\"", seq[3]);
    it = fx_iterator(&f, "s", sh, "AT_SEQUENCE_NUMBER", extra);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 7 && strcmp(data, "rec-3") == 0);
    ts_free(it);
    it = fx_iterator(&f, "s", sh, "AFTER_SEQUENCE_NUMBER", extra);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 6 && strcmp(data, "rec-4") == 0);
    ts_free(it);
    snprintf(extra, sizeof(extra), ",\"Timestamp\":%.3f", (double)t5 / 1000.0);
    it = fx_iterator(&f, "s", sh, "AT_TIMESTAMP", extra);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 5 && strcmp(data, "rec-5") == 0);
    ts_free(it);
    /* LATEST sees only what comes after it. */
    it = fx_iterator(&f, "s", sh, "LATEST", NULL);
    char *next = NULL;
    TEST_CHECK(get(&f, it, NULL, &next, 0) == 0 && next);
    TEST_ASSERT(put(&f, "s", "pk", "rec-10", NULL, NULL) == 0);
    TEST_CHECK(get(&f, next, data, NULL, 0) == 1 && strcmp(data, "rec-10") == 0);
    ts_free(next);
    /* Limit and MillisBehindLatest. */
    char *it2 = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    cJSON *o = fx_call(&f, "GetRecords", "{\"ShardIterator\":\"%s\",\"Limit\":2}", it2);
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Records")) == 2);
    TEST_CHECK(o && cJSON_GetObjectItem(o, "MillisBehindLatest")->valuedouble > 0);
    cJSON_Delete(o);
    /* Expiry: valid for exactly 5 minutes after issue, even after use. */
    f.now += 300000;
    TEST_CHECK(get(&f, it, NULL, NULL, 0) == 1);
    f.now += 1;
    FX_FAIL(&f, "ExpiredIteratorException", "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    TEST_CHECK(strstr(f.message, "tolerated delay of 300000 milliseconds") != NULL);
    ts_free(it);
    ts_free(it2);
    /* Bad combinations. */
    FX_FAIL(&f, "InvalidArgumentException", "GetShardIterator",
            "{\"StreamName\":\"s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\"}",
            sh);
    FX_FAIL(&f, "InvalidArgumentException", "GetShardIterator",
            "{\"StreamName\":\"s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"AT_TIMESTAMP\"}", sh);
    FX_FAIL(&f, "InvalidArgumentException", "GetShardIterator",
            "{\"StreamName\":\"s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"AT_TIMESTAMP\","
            "\"Timestamp\":%.3f}",
            sh, (double)(f.now + 60000) / 1000.0);
    FX_FAIL(&f, "ResourceNotFoundException", "GetShardIterator",
            "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000009\","
            "\"ShardIteratorType\":\"LATEST\"}");
    FX_FAIL(&f, "InvalidArgumentException", "GetRecords", "{\"ShardIterator\":\"AAAA\"}");
    fx_close(&f);
}

static void test_retention(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":1}");
    const char *sh = "shardId-000000000000";
    TEST_ASSERT(put(&f, "s", "pk", "old", NULL, NULL) == 0);
    f.now += 23 * 3600000LL;
    TEST_ASSERT(put(&f, "s", "pk", "newer", NULL, NULL) == 0);
    f.now += 2 * 3600000LL; /* "old" is 25 h old, "newer" 2 h */
    char data[256];
    char *it = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 1 && strcmp(data, "newer") == 0);
    ts_free(it);
    FX_FAIL(&f, "InvalidArgumentException", "IncreaseStreamRetentionPeriod",
            "{\"StreamName\":\"s\",\"RetentionPeriodHours\":8761}");
    FX_FAIL(&f, "InvalidArgumentException", "DecreaseStreamRetentionPeriod",
            "{\"StreamName\":\"s\",\"RetentionPeriodHours\":23}");
    FX_OK(&f, "IncreaseStreamRetentionPeriod", "{\"StreamName\":\"s\",\"RetentionPeriodHours\":48}");
    FX_FAIL(&f, "InvalidArgumentException", "IncreaseStreamRetentionPeriod",
            "{\"StreamName\":\"s\",\"RetentionPeriodHours\":30}");
    /* With 48 h the old record is visible again (nothing was deleted yet). */
    it = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 2 && strcmp(data, "old") == 0);
    ts_free(it);
    FX_OK(&f, "DecreaseStreamRetentionPeriod", "{\"StreamName\":\"s\",\"RetentionPeriodHours\":24}");
    it = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 1 && strcmp(data, "newer") == 0);
    ts_free(it);
    /* The retention pass deletes whole expired segments from disk. */
    f.now += 30 * 3600000LL;
    TEST_CHECK(ts_kinesis_retain_now(f.k) == 0);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(f.store, "kinesis/111111111111/us-east-1/s/shardId-000000000000",
                                   false, &p) == 0);
    struct ts_partition_stats st;
    ts_partition_stats(p, &st);
    TEST_CHECK_(st.start_offset == 2 && st.end_offset == 2, "start %llu end %llu",
                (unsigned long long)st.start_offset, (unsigned long long)st.end_offset);
    TEST_ASSERT(put(&f, "s", "pk", "after", NULL, NULL) == 0);
    it = fx_iterator(&f, "s", sh, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 1 && strcmp(data, "after") == 0);
    ts_free(it);
    fx_close(&f);
}

static void test_throttling(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, true) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":1}");
    /* 1,000 records/s per shard: two full batches pass, the third is throttled per record. */
    static char body[200000];
    size_t n = 0;
    n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"StreamName\":\"s\",\"Records\":[");
    for (int i = 0; i < 500; i++) {
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"PartitionKey\":\"k%d\","
                              "\"Data\":\"AAAA\"}", i ? "," : "", i);
    }
    snprintf(body + n, sizeof(body) - n, "]}");
    for (int round = 0; round < 3; round++) {
        cJSON *o = fx_call(&f, "PutRecords", "%s", body);
        TEST_ASSERT(o != NULL);
        int failed = (int)cJSON_GetObjectItem(o, "FailedRecordCount")->valuedouble;
        TEST_CHECK_(failed == (round < 2 ? 0 : 500), "round %d: %d failed", round, failed);
        if (round == 2) {
            cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "Records"), 0);
            TEST_CHECK(strcmp(fx_str(r0, "ErrorCode"),
                              "ProvisionedThroughputExceededException") == 0);
            TEST_CHECK(strstr(fx_str(r0, "ErrorMessage"), "Rate exceeded for shard") != NULL);
            TEST_CHECK(!cJSON_GetObjectItem(r0, "SequenceNumber"));
        }
        cJSON_Delete(o);
    }
    FX_FAIL(&f, "ProvisionedThroughputExceededException", "PutRecord",
            "{\"StreamName\":\"s\",\"PartitionKey\":\"a\",\"Data\":\"AAAA\"}");
    f.now += 1000;
    FX_OK(&f, "PutRecord", "{\"StreamName\":\"s\",\"PartitionKey\":\"a\",\"Data\":\"AAAA\"}");
    /* Reads: 5 GetRecords per second per shard. */
    char *it = fx_iterator(&f, "s", "shardId-000000000000", "LATEST", NULL);
    for (int i = 0; i < 5; i++) {
        FX_OK(&f, "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    }
    FX_FAIL(&f, "ProvisionedThroughputExceededException", "GetRecords",
            "{\"ShardIterator\":\"%s\"}", it);
    f.now += 1000;
    FX_OK(&f, "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    ts_free(it);
    fx_close(&f);
}

static void test_restart_and_recreate(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":2}");
    char seq1[KIN_SEQ_LEN + 1], seq2[KIN_SEQ_LEN + 1], shard[TS_KINESIS_SHARD_ID_MAX];
    TEST_ASSERT(put(&f, "s", "pk", "one", seq1, shard) == 0);
    fx_stop(&f);
    TEST_ASSERT(fx_start(&f, false) == 0);
    f.now += 5;
    TEST_ASSERT(put(&f, "s", "pk", "two", seq2, NULL) == 0);
    TEST_CHECK(strcmp(seq1, seq2) < 0);
    char extra[200], data[256];
    snprintf(extra, sizeof(extra), ",\"StartingSequenceNumber\":\"%s\"", seq1);
    char *it = fx_iterator(&f, "s", shard, "AT_SEQUENCE_NUMBER", extra);
    TEST_CHECK(get(&f, it, data, NULL, 0) == 2 && strcmp(data, "one") == 0);
    ts_free(it);
    /* Delete and re-create: old numbers and iterators no longer apply. */
    char *old = fx_iterator(&f, "s", shard, "TRIM_HORIZON", NULL);
    FX_OK(&f, "DeleteStream", "{\"StreamName\":\"s\"}");
    FX_FAIL(&f, "ResourceNotFoundException", "DescribeStream", "{\"StreamName\":\"s\"}");
    FX_FAIL(&f, "ResourceNotFoundException", "GetRecords", "{\"ShardIterator\":\"%s\"}", old);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":2}");
    FX_FAIL(&f, "ResourceInUseException", "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":2}");
    FX_FAIL(&f, "ResourceNotFoundException", "GetRecords", "{\"ShardIterator\":\"%s\"}", old);
    FX_FAIL(&f, "InvalidArgumentException", "GetShardIterator",
            "{\"StreamName\":\"s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\""
            "%s}",
            shard, extra);
    it = fx_iterator(&f, "s", shard, "TRIM_HORIZON", NULL);
    TEST_CHECK(get(&f, it, NULL, NULL, 0) == 0);
    ts_free(it);
    ts_free(old);
    fx_close(&f);
}

static void test_accounts_and_internal_put(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":1,\"Tags\":{\"a\":\"1\"}}");
    char sid[TS_KINESIS_SHARD_ID_MAX], seq[TS_KINESIS_SEQ_MAX];
    TEST_CHECK(ts_kinesis_put_internal(f.k, "111111111111", "us-east-1", "s", "pk", "bin\0x", 5,
                                       sid, seq) == 0);
    TEST_CHECK(strcmp(sid, "shardId-000000000000") == 0 && strlen(seq) == KIN_SEQ_LEN);
    TEST_CHECK(ts_kinesis_put_internal(f.k, NULL, NULL,
                                       "arn:aws:kinesis:us-east-1:111111111111:stream/s", "pk",
                                       "y", 1, NULL, NULL) == 0);
    TEST_CHECK(ts_kinesis_put_internal(f.k, "111111111111", "us-east-1", "nope", "pk", "y", 1,
                                       NULL, NULL) == TS_ENOTFOUND);
    TEST_CHECK(ts_kinesis_stream_exists(f.k, "arn:aws:kinesis:us-east-1:111111111111:stream/s"));
    TEST_CHECK(!ts_kinesis_stream_exists(f.k, "arn:aws:kinesis:us-east-1:111111111111:stream/x"));
    /* Another account sees nothing of it and may not use its ARN. */
    ts_strlcpy(f.account, "222222222222", sizeof(f.account));
    FX_FAIL(&f, "ResourceNotFoundException", "DescribeStreamSummary", "{\"StreamName\":\"s\"}");
    FX_FAIL(&f, "AccessDeniedException", "PutRecord",
            "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:111111111111:stream/s\","
            "\"PartitionKey\":\"a\",\"Data\":\"\"}");
    cJSON *o = fx_call(&f, "ListStreams", "{}");
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "StreamNames")) == 0);
    cJSON_Delete(o);
    ts_strlcpy(f.account, "111111111111", sizeof(f.account));
    char *it = fx_iterator(&f, "s", "shardId-000000000000", "TRIM_HORIZON", NULL);
    ts_strlcpy(f.account, "222222222222", sizeof(f.account));
    FX_FAIL(&f, "AccessDeniedException", "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    ts_strlcpy(f.account, "111111111111", sizeof(f.account));
    ts_strlcpy(f.region, "eu-west-1", sizeof(f.region));
    FX_FAIL(&f, "InvalidArgumentException", "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
    ts_strlcpy(f.region, "us-east-1", sizeof(f.region));
    char data[256];
    TEST_CHECK(get(&f, it, data, NULL, 0) == 2 && memcmp(data, "bin", 4) == 0);
    ts_free(it);
    /* Tags */
    FX_OK(&f, "AddTagsToStream", "{\"StreamName\":\"s\",\"Tags\":{\"b\":\"2\",\"a\":\"3\"}}");
    o = fx_call(&f, "ListTagsForStream", "{\"StreamName\":\"s\",\"Limit\":1}");
    TEST_CHECK(o && cJSON_IsTrue(cJSON_GetObjectItem(o, "HasMoreTags")));
    TEST_CHECK(o && strcmp(fx_str(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "Tags"), 0), "Value"),
                           "3") == 0);
    cJSON_Delete(o);
    FX_OK(&f, "RemoveTagsFromStream", "{\"StreamName\":\"s\",\"TagKeys\":[\"a\"]}");
    o = fx_call(&f, "ListTagsForResource",
                "{\"ResourceARN\":\"arn:aws:kinesis:us-east-1:111111111111:stream/s\"}");
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Tags")) == 1);
    cJSON_Delete(o);
    fx_close(&f);
}

/* PutRecords parsed without a DOM (raw_body): escapes, unknown members, nulls, whitespace,
 * and the same answers as the tree path for bad bodies. */
static void test_put_records_raw_body(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":2}");
    for (int raw = 0; raw < 2; raw++) {
        f.raw = raw;
        cJSON *o = fx_call(&f, "PutRecords",
                           " { \"Unknown\" : {\"a\":[1,2.5e3,true,null,\"x\"]}, \"StreamName\":\"s\","
                           "\"StreamARN\":null, \"Records\" : [ {\"Data\":\"aGk\\/\",\"PartitionKey\":"
                           "\"k\\u00e9\\\"\\ud83d\\ude00\", \"ExplicitHashKey\":null},"
                           "{\"PartitionKey\":\"p\",\"Data\":\"\",\"ExplicitHashKey\":\"0\"} ] } ");
        TEST_CHECK_(o && cJSON_GetObjectItem(o, "FailedRecordCount")->valuedouble == 0,
                    "raw=%d: %s %s", raw, f.code, f.message);
        TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Records")) == 2);
        cJSON_Delete(o);
        FX_FAIL(&f, "SerializationException", "PutRecords",
                "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"a*==\",\"PartitionKey\":\"k\"}]}");
        FX_FAIL(&f, "ValidationException", "PutRecords",
                "{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"k\"}]}");
        FX_FAIL(&f, "ValidationException", "PutRecords", "{\"StreamName\":\"s\",\"Records\":[]}");
        FX_FAIL(&f, "ValidationException", "PutRecords",
                "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"\"}]}");
        FX_FAIL(&f, "ResourceNotFoundException", "PutRecords",
                "{\"StreamName\":\"t\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"}]}");
    }
    /* Bodies only the raw parser sees (the router's JSON parse would refuse them first). */
    f.raw = true;
    static const char *const bad[] = {
        "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"k\"}]",
        "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"\\ud800\"}]}",
        "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"\\q\"}]}",
        "{\"StreamName\":\"s\",\"Records\":{}}",
        "{\"StreamName\":\"s\",\"Records\":[{\"Data\":1,\"PartitionKey\":\"k\"}]}",
        "{\"StreamName\":\"s\"} x",
        "[]",
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        cJSON *o = fx_call(&f, "PutRecords", "%s", bad[i]);
        TEST_CHECK_(!o && strcmp(f.code, "SerializationException") == 0, "%s: %s", bad[i],
                    f.code);
        cJSON_Delete(o);
    }
    /* what was written reads back with the unescaped key */
    char *it = fx_iterator(&f, "s", "shardId-000000000000", "TRIM_HORIZON", NULL);
    char *it2 = fx_iterator(&f, "s", "shardId-000000000001", "TRIM_HORIZON", NULL);
    int found = 0;
    for (int i = 0; i < 2; i++) {
        cJSON *o = fx_call(&f, "GetRecords", "{\"ShardIterator\":\"%s\"}", i ? it2 : it);
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "Records"))
        {
            found += strcmp(fx_str(r, "PartitionKey"), "k\xc3\xa9\"\xf0\x9f\x98\x80") == 0 &&
                     strcmp(fx_str(r, "Data"), "aGk/") == 0;
        }
        cJSON_Delete(o);
    }
    TEST_CHECK(found == 2);
    ts_free(it);
    ts_free(it2);
    fx_close(&f);
}

TEST_LIST = {
    {"put_records_raw_body", test_put_records_raw_body},
    {"explicit_hash_keys", test_explicit_hash_keys},
    {"iterator_types_and_expiry", test_iterator_types_and_expiry},
    {"retention", test_retention},
    {"throttling", test_throttling},
    {"restart_and_recreate", test_restart_and_recreate},
    {"accounts_and_internal_put", test_accounts_and_internal_put},
    {NULL, NULL},
};
