/* test_kinesis_seq.c - sequence number encoding and ordering, sealed tokens (tampering). */
#include "kinesis_int.h"
#include "ts_test.h"

static struct ts_kinesis *fake_service(uint8_t fill)
{
    static struct ts_kinesis k[2];
    struct ts_kinesis *s = &k[fill & 1];
    memset(s, 0, sizeof(*s));
    uint8_t secret[32];
    memset(secret, fill, sizeof(secret));
    ts_hmac_sha256(secret, 32, "x", 1, s->token_key);
    return s;
}

static void test_format_parse(void)
{
    struct kin_stream s;
    struct kin_shard sh;
    memset(&s, 0, sizeof(s));
    memset(&sh, 0, sizeof(sh));
    sh.created_ms = 1700000000123;
    sh.index = 42;
    kin_seq_prefix(&sh);
    s.check = 123456789;
    snprintf(s.seq_suffix, sizeof(s.seq_suffix), "%09u", s.check);
    char seq[KIN_SEQ_LEN + 1];
    kin_seq_format(&s, &sh, 987654321, seq);
    TEST_CHECK(strlen(seq) == KIN_SEQ_LEN);
    TEST_CHECK(strcmp(seq, "49170000000012300000000004200000000000987654321123456789") == 0);
    int64_t c;
    uint32_t idx, chk;
    uint64_t off;
    TEST_CHECK(kin_seq_parse(seq, &c, &idx, &off, &chk) == 0);
    TEST_CHECK(c == sh.created_ms && idx == 42 && off == 987654321 && chk == 123456789);
    kin_seq_format(&s, &sh, UINT64_MAX, seq);
    TEST_CHECK(kin_seq_parse(seq, &c, &idx, &off, &chk) == 0 && off == UINT64_MAX);
    TEST_CHECK(kin_seq_parse("1", &c, &idx, &off, &chk) != 0);
    TEST_CHECK(kin_seq_parse("39170000000012300000000004200000000000987654321123456789", &c,
                             &idx, &off, &chk) != 0);
    TEST_CHECK(kin_seq_parse("4917000000001230000000000420000000000098765432112345678x", &c,
                             &idx, &off, &chk) != 0);
}

/* Within a shard numbers increase with the offset; a child shard (created later, higher
 * index) numbers above every record of its parent; string order == numeric order. */
static void test_ordering(void)
{
    struct kin_stream s;
    struct kin_shard parent, child;
    memset(&s, 0, sizeof(s));
    memset(&parent, 0, sizeof(parent));
    memset(&child, 0, sizeof(child));
    snprintf(s.seq_suffix, sizeof(s.seq_suffix), "%09u", 999999999u);
    parent.created_ms = 1700000000000;
    parent.index = 7;
    child.created_ms = parent.created_ms + 1;
    child.index = 8;
    kin_seq_prefix(&parent);
    kin_seq_prefix(&child);
    char a[KIN_SEQ_LEN + 1], b[KIN_SEQ_LEN + 1];
    uint64_t off = 0;
    for (int i = 0; i < 100000; i++) {
        kin_seq_format(&s, &parent, off, a);
        off += 1 + (uint64_t)(i % 7) * ((uint64_t)1 << (i % 40));
        kin_seq_format(&s, &parent, off, b);
        if (!TEST_CHECK(strcmp(a, b) < 0 && strlen(a) == strlen(b))) {
            break;
        }
    }
    kin_seq_format(&s, &parent, UINT64_MAX, a);
    kin_seq_format(&s, &child, 0, b);
    TEST_CHECK(strcmp(a, b) < 0);
}

static void test_iterator_seal(void)
{
    struct ts_kinesis *k = fake_service(1);
    struct kin_iter it, back;
    memset(&it, 0, sizeof(it));
    it.issued_ms = 1700000000000;
    it.offset = 12345;
    it.shard_index = 3;
    it.shard_created_ms = 1690000000000;
    it.stream_created_ms = 1680000000000;
    it.stream_check = 424242;
    ts_strlcpy(it.account, "111111111111", sizeof(it.account));
    ts_strlcpy(it.region, "eu-west-1", sizeof(it.region));
    memset(it.stream, 'n', TS_AWS_NAME_MAX);
    char text[512];
    TEST_ASSERT(kin_iter_seal(k, &it, text, sizeof(text)) == 0);
    TEST_CHECK(strlen(text) <= 512);
    TEST_ASSERT(kin_iter_open(k, text, &back) == 0);
    TEST_CHECK(memcmp(&it, &back, sizeof(it)) == 0);
    /* Any single bit flipped in the sealed bytes is refused. */
    struct ts_buf raw, enc;
    ts_buf_init(&raw, 1024);
    TEST_ASSERT(ts_base64_decode(text, strlen(text), &raw) == 0);
    int refused = 0;
    for (size_t i = 0; i < raw.len * 8; i++) {
        raw.data[i / 8] ^= (char)(1 << (i % 8));
        ts_buf_init(&enc, 1024);
        ts_base64_encode(raw.data, raw.len, &enc);
        refused += kin_iter_open(k, enc.data, &back) != 0;
        ts_buf_free(&enc);
        raw.data[i / 8] ^= (char)(1 << (i % 8));
    }
    TEST_CHECK_(refused == (int)(raw.len * 8), "%d of %zu flips refused", refused, raw.len * 8);
    ts_buf_free(&raw);
    /* Another data directory's key, garbage, truncation, another token kind. */
    TEST_CHECK(kin_iter_open(fake_service(2), text, &back) != 0);
    TEST_CHECK(kin_iter_open(k, "AAAA", &back) != 0);
    TEST_CHECK(kin_iter_open(k, "not base64!", &back) != 0);
    text[strlen(text) - 8] = '\0';
    TEST_CHECK(kin_iter_open(k, text, &back) != 0);
    char tok[600];
    TEST_ASSERT(kin_token_seal(k, KIN_TOKEN_LIST_SHARDS, 1, "abc", 3, tok, sizeof(tok)) == 0);
    TEST_CHECK(kin_iter_open(k, tok, &back) != 0);
    int64_t issued;
    size_t len;
    char payload[16];
    TEST_CHECK(kin_token_open(k, KIN_TOKEN_LIST_SHARDS, tok, &issued, payload, sizeof(payload),
                              &len) == 0 &&
               len == 3 && issued == 1 && memcmp(payload, "abc", 3) == 0);
}

/* The hot-path base64 agrees with the core codec on every length, and refuses what it
 * refuses; JSON escaping and time formatting. */
static void test_codecs(void)
{
    uint8_t raw[300], back[300];
    char enc[500];
    for (size_t i = 0; i < sizeof(raw); i++) {
        raw[i] = (uint8_t)(i * 97 + 13);
    }
    for (size_t n = 0; n <= sizeof(raw); n++) {
        size_t el = kin_b64_encode(raw, n, enc);
        struct ts_buf ref;
        ts_buf_init(&ref, 1024);
        ts_base64_encode(raw, n, &ref);
        bool same = el == ref.len && memcmp(enc, ref.data ? ref.data : "", el) == 0;
        ts_buf_free(&ref);
        size_t dl = 0;
        if (!TEST_CHECK_(same && kin_b64_decode(enc, el, back, &dl) == 0 && dl == n &&
                             memcmp(raw, back, n) == 0,
                         "length %zu", n)) {
            break;
        }
    }
    static const char *const bad[] = {"A", "AB=C", "A===", "====", "AB*D", "ABC=ABCD",
                                      "AB\n=", "ABCDAB==x"};
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        size_t dl;
        TEST_CHECK_(kin_b64_decode(bad[i], strlen(bad[i]), back, &dl) != 0, "'%s'", bad[i]);
    }
    char esc[64];
    size_t el = kin_json_escape("a\"b\\c\x01\xc3\xa9", 8, esc);
    TEST_CHECK(el == 15 && memcmp(esc, "a\\\"b\\\\c\\u0001\xc3\xa9", el) == 0);
    char t[32];
    size_t tl = kin_fmt_time(1732800000007, t);
    TEST_CHECK(tl == 14 && memcmp(t, "1732800000.007", tl) == 0);
}

TEST_LIST = {
    {"codecs", test_codecs},
    {"format_parse", test_format_parse},
    {"ordering", test_ordering},
    {"iterator_seal", test_iterator_seal},
    {NULL, NULL},
};
