/* test_kinesis_reshard.c - UpdateShardCount: the resulting open shards are the M equal ranges,
 * the lineage is complete (splits and merges), parents are closed with their ending sequence
 * numbers, and reading parents before children keeps every key's order. */
#include "kinesis_fixture.h"

static void check_structure(struct fx *f, uint32_t m)
{
    struct kin_stream *s;
    TEST_ASSERT(kin_stream_get(f->k, "111111111111", "us-east-1", "s", &s) == 0);
    TEST_CHECK_(s->n_open == m, "%zu open, want %u", s->n_open, m);
    for (size_t i = 0; i < s->n_open && i < m; i++) {
        TEST_CHECK(s->open[i]->start_hash == kin_range_start((uint32_t)i, m));
        TEST_CHECK(s->open[i]->end_hash == kin_range_end((uint32_t)i, m));
    }
    for (size_t i = 0; i < s->n_shards; i++) {
        const struct kin_shard *sh = s->shards[i];
        /* every parent of a shard is closed and adjacent in the hash space */
        if (sh->parent >= 0) {
            const struct kin_shard *p = kin_stream_shard(s, (uint32_t)sh->parent);
            TEST_CHECK(p && p->closed_ms && p->index < sh->index &&
                       p->created_ms <= sh->created_ms);
            if (sh->adjacent >= 0) {
                const struct kin_shard *a = kin_stream_shard(s, (uint32_t)sh->adjacent);
                TEST_CHECK(a && a->closed_ms && p->end_hash + 1 == a->start_hash &&
                           sh->start_hash == p->start_hash && sh->end_hash == a->end_hash);
            } else {
                TEST_CHECK(p->start_hash <= sh->start_hash && sh->end_hash <= p->end_hash);
            }
        }
        /* every closed shard's children cover exactly its range */
        if (sh->closed_ms) {
            kin_u128 lo = KIN_U128_MAX, hi = 0;
            int children = 0;
            for (size_t j = 0; j < s->n_shards; j++) {
                const struct kin_shard *c = s->shards[j];
                if (c->parent == (int64_t)sh->index && c->adjacent < 0) {
                    lo = c->start_hash < lo ? c->start_hash : lo;
                    hi = c->end_hash > hi ? c->end_hash : hi;
                    children++;
                } else if (c->parent == (int64_t)sh->index || c->adjacent == (int64_t)sh->index) {
                    lo = sh->start_hash;
                    hi = sh->end_hash;
                    children++;
                }
            }
            TEST_CHECK_(children >= 1 && lo <= sh->start_hash && hi >= sh->end_hash,
                        "children of %s", sh->id);
        }
    }
    kin_stream_put(s);
}

/* Reads every shard in lineage order (a shard after its parents) and checks that each key's
 * values come back in the order written. */
static void check_order(struct fx *f, int keys, int rounds)
{
    struct kin_stream *s;
    TEST_ASSERT(kin_stream_get(f->k, "111111111111", "us-east-1", "s", &s) == 0);
    int *last = ts_calloc((size_t)keys, sizeof(int));
    int total = 0;
    for (int k = 0; k < keys; k++) {
        last[k] = -1;
    }
    /* shards are created after their parents, so index order is a lineage order */
    for (size_t i = 0; i < s->n_shards; i++) {
        char *it = fx_iterator(f, "s", s->shards[i]->id, "TRIM_HORIZON", NULL);
        cJSON *o = fx_call(f, "GetRecords", "{\"ShardIterator\":\"%s\"}", it);
        ts_free(it);
        TEST_ASSERT(o != NULL);
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "Records"))
        {
            int key = (int)strtol(fx_str(r, "PartitionKey") + 1, NULL, 10); /* "k<n>" */
            struct ts_buf b;
            ts_buf_init(&b, 64);
            const char *d = fx_str(r, "Data");
            ts_base64_decode(d, strlen(d), &b);
            int round = (int)strtol(b.data, NULL, 10);
            ts_buf_free(&b);
            TEST_CHECK_(round > last[key], "key %d: round %d after %d", key, round, last[key]);
            last[key] = round;
            total++;
        }
        if (s->shards[i]->closed_ms) {
            TEST_CHECK(cJSON_GetObjectItem(o, "NextShardIterator") == NULL);
            TEST_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "ChildShards")) >= 1);
        }
        cJSON_Delete(o);
    }
    TEST_CHECK_(total == keys * rounds, "%d records, want %d", total, keys * rounds);
    ts_free(last);
    kin_stream_put(s);
}

static void put_round(struct fx *f, int keys, int round)
{
    for (int k = 0; k < keys; k++) {
        char data[32];
        struct ts_buf b;
        ts_buf_init(&b, 64);
        snprintf(data, sizeof(data), "%d", round);
        ts_base64_encode(data, strlen(data), &b);
        FX_OK(f, "PutRecord", "{\"StreamName\":\"s\",\"PartitionKey\":\"k%d\",\"Data\":\"%s\"}",
              k, b.data);
        ts_buf_free(&b);
    }
}

static void test_uniform_scaling(void)
{
    static const uint32_t steps[][8] = {
        {1, 2, 4, 3, 5, 7, 4, 2}, {3, 5, 3, 6, 12, 6, 0, 0}, {8, 4, 2, 1, 2, 0, 0, 0},
    };
    for (size_t t = 0; t < TS_ARRAY_LEN(steps); t++) {
        struct fx f;
        TEST_ASSERT(fx_open(&f, false) == 0);
        FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":%u}", steps[t][0]);
        int rounds = 0;
        put_round(&f, 20, rounds++);
        for (size_t i = 1; i < 8 && steps[t][i]; i++) {
            f.now += 1000;
            cJSON *o = fx_call(&f, "UpdateShardCount",
                               "{\"StreamName\":\"s\",\"TargetShardCount\":%u,"
                               "\"ScalingType\":\"UNIFORM_SCALING\"}",
                               steps[t][i]);
            TEST_CHECK_(o && cJSON_GetObjectItem(o, "TargetShardCount")->valuedouble ==
                                 steps[t][i],
                        "%u -> %u: %s", steps[t][i - 1], steps[t][i], f.message);
            cJSON_Delete(o);
            check_structure(&f, steps[t][i]);
            put_round(&f, 20, rounds++);
        }
        check_order(&f, 20, rounds);
        /* The lineage survives a restart. */
        fx_stop(&f);
        TEST_ASSERT(fx_start(&f, false) == 0);
        check_order(&f, 20, rounds);
        fx_close(&f);
    }
}

static void test_limits(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f, false) == 0);
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"s\",\"ShardCount\":4}");
    FX_FAIL(&f, "LimitExceededException", "UpdateShardCount",
            "{\"StreamName\":\"s\",\"TargetShardCount\":9,\"ScalingType\":\"UNIFORM_SCALING\"}");
    FX_FAIL(&f, "LimitExceededException", "UpdateShardCount",
            "{\"StreamName\":\"s\",\"TargetShardCount\":1,\"ScalingType\":\"UNIFORM_SCALING\"}");
    FX_FAIL(&f, "ValidationException", "UpdateShardCount",
            "{\"StreamName\":\"s\",\"TargetShardCount\":2,\"ScalingType\":\"OTHER\"}");
    FX_OK(&f, "CreateStream", "{\"StreamName\":\"od\",\"StreamModeDetails\":"
                              "{\"StreamMode\":\"ON_DEMAND\"}}");
    FX_FAIL(&f, "ValidationException", "UpdateShardCount",
            "{\"StreamName\":\"od\",\"TargetShardCount\":2,\"ScalingType\":\"UNIFORM_SCALING\"}");
    /* ListShards filters and paging over a resharded stream. */
    FX_OK(&f, "UpdateShardCount",
          "{\"StreamName\":\"s\",\"TargetShardCount\":2,\"ScalingType\":\"UNIFORM_SCALING\"}");
    cJSON *o = fx_call(&f, "ListShards", "{\"StreamName\":\"s\",\"ShardFilter\":"
                                         "{\"Type\":\"AT_LATEST\"}}");
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Shards")) == 2);
    cJSON_Delete(o);
    o = fx_call(&f, "ListShards", "{\"StreamName\":\"s\",\"MaxResults\":4}");
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Shards")) == 4);
    char tok[1024];
    ts_strlcpy(tok, o ? fx_str(o, "NextToken") : "", sizeof(tok));
    cJSON_Delete(o);
    o = fx_call(&f, "ListShards", "{\"NextToken\":\"%s\"}", tok);
    TEST_CHECK(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "Shards")) == 2 &&
               !cJSON_GetObjectItem(o, "NextToken"));
    cJSON_Delete(o);
    FX_FAIL(&f, "InvalidArgumentException", "ListShards",
            "{\"NextToken\":\"%s\",\"StreamName\":\"s\"}", tok);
    f.now += 300001;
    FX_FAIL(&f, "ExpiredNextTokenException", "ListShards", "{\"NextToken\":\"%s\"}", tok);
    fx_close(&f);
}

TEST_LIST = {
    {"uniform_scaling", test_uniform_scaling},
    {"limits", test_limits},
    {NULL, NULL},
};
