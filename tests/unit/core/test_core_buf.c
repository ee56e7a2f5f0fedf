/* test_core_buf.c - capped buffers, strings, allocation failure handling. */
#include <string.h>

#include "trailstream/ts_core.h"
#include "ts_test.h"

static void test_buf_cap(void)
{
    struct ts_buf b;
    ts_buf_init(&b, 10);
    TEST_CHECK(ts_buf_adds(&b, "hello") == 0);
    TEST_CHECK(ts_buf_adds(&b, "world") == 0);
    TEST_CHECK(b.len == 10 && strcmp(b.data, "helloworld") == 0);
    /* one byte past the cap fails and changes nothing */
    TEST_CHECK(ts_buf_addc(&b, '!') == TS_ETOOBIG);
    TEST_CHECK(b.len == 10 && strcmp(b.data, "helloworld") == 0);
    TEST_CHECK(ts_buf_addf(&b, "%d", 1) == TS_ETOOBIG);
    TEST_CHECK(b.len == 10);
    ts_buf_reset(&b);
    TEST_CHECK(b.len == 0 && b.data[0] == '\0');
    TEST_CHECK(ts_buf_addf(&b, "%s-%03d", "ab", 7) == 0 && strcmp(b.data, "ab-007") == 0);
    ts_buf_free(&b);
    ts_buf_free(&b); /* idempotent */
}

static void test_buf_xml_and_take(void)
{
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    TEST_CHECK(ts_buf_add_xml(&b, "a<b>&\"c'") == 0);
    TEST_CHECK(strcmp(b.data, "a&lt;b&gt;&amp;&quot;c&apos;") == 0);
    size_t n;
    char *p = ts_buf_take(&b, &n);
    TEST_CHECK(p && n == strlen(p));
    TEST_CHECK(b.data == NULL && b.len == 0);
    ts_free(p);
    p = ts_buf_take(&b, &n); /* an empty buffer still yields a string */
    TEST_CHECK(p && n == 0 && p[0] == '\0');
    ts_free(p);
}

static void test_alloc_failure(void)
{
    struct ts_buf b;
    ts_buf_init(&b, 1 << 20);
    ts_mem_fail_after(1);
    TEST_CHECK(ts_buf_adds(&b, "x") == TS_ENOMEM);
    TEST_CHECK(ts_strdup("abc") == NULL);
    ts_mem_fail_after(0);
    TEST_CHECK(ts_buf_adds(&b, "x") == 0);
    ts_buf_free(&b);
}

static void test_parse_i64(void)
{
    int64_t v;
    TEST_CHECK(ts_parse_i64("0", &v) == 0 && v == 0);
    TEST_CHECK(ts_parse_i64("-42", &v) == 0 && v == -42);
    TEST_CHECK(ts_parse_i64("9223372036854775807", &v) == 0 && v == INT64_MAX);
    TEST_CHECK(ts_parse_i64("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    TEST_CHECK(ts_parse_i64("9223372036854775808", &v) == TS_ERANGE);
    TEST_CHECK(ts_parse_i64("", &v) == TS_EINVAL);
    TEST_CHECK(ts_parse_i64("12a", &v) == TS_EINVAL);
    TEST_CHECK(ts_parse_i64(" 1", &v) == TS_EINVAL);
}

static void test_url_coding(void)
{
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    TEST_CHECK(ts_url_decode("a%20b+c%2", 9, true, &b) == 0);
    TEST_CHECK(strcmp(b.data, "a b c%2") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_url_decode("%zz%41", 6, false, &b) == 0 && strcmp(b.data, "%zzA") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_uri_encode("a b/~*\xc3\xa9", 8, true, &b) == 0);
    TEST_CHECK(strcmp(b.data, "a%20b/~%2A%C3%A9") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_uri_encode("/x", 2, false, &b) == 0 && strcmp(b.data, "%2Fx") == 0);
    ts_buf_free(&b);
}

static void test_utf8(void)
{
    TEST_CHECK(ts_utf8_valid("plain", 5));
    /* ts_ascii_prefix: every length and position of the first non-ASCII byte, across the
     * 64- and 16-byte blocks and the tail. */
    {
        char b[200];
        memset(b, 'a', sizeof(b));
        for (size_t n = 0; n <= sizeof(b); n++) {
            TEST_CHECK(ts_ascii_prefix(b, n) == n);
        }
        for (size_t at = 0; at < sizeof(b); at++) {
            b[at] = (char)0x80;
            TEST_CHECK_(ts_ascii_prefix(b, sizeof(b)) == at, "first high byte at %zu", at);
            TEST_CHECK(ts_ascii_prefix(b, at) == at);
            b[at] = (char)0xff;
            TEST_CHECK(ts_ascii_prefix(b, sizeof(b)) == at);
            TEST_CHECK(ts_utf8_valid(b, at) && !ts_utf8_valid(b, sizeof(b)));
            b[at] = 'a';
        }
    }
    TEST_CHECK(ts_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    TEST_CHECK(!ts_utf8_valid("\xc3", 1));            /* truncated */
    TEST_CHECK(!ts_utf8_valid("\xc0\xaf", 2));        /* overlong */
    TEST_CHECK(!ts_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    TEST_CHECK(!ts_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    TEST_CHECK(!ts_utf8_valid("\xff", 1));
    /* A bad byte at every position of a long ASCII buffer (the 64- and 16-byte fast paths
     * must hand over to the byte-wise check wherever it is), and a good sequence likewise. */
    char buf[300];
    memset(buf, 'a', sizeof(buf));
    for (size_t at = 0; at < sizeof(buf); at++) {
        TEST_CHECK(ts_utf8_valid(buf, sizeof(buf)));
        buf[at] = (char)0xff;
        TEST_CHECK_(!ts_utf8_valid(buf, sizeof(buf)), "0xff at %zu", at);
        buf[at] = 'a';
        if (at + 2 <= sizeof(buf)) {
            memcpy(buf + at, "\xc3\xa9", 2);
            TEST_CHECK_(ts_utf8_valid(buf, sizeof(buf)), "U+00E9 at %zu", at);
            TEST_CHECK_(!ts_utf8_valid(buf, at + 1), "U+00E9 cut at %zu", at);
            memset(buf + at, 'a', 2);
        }
    }
}

TEST_LIST = {
    {"buf_cap", test_buf_cap},
    {"buf_xml_and_take", test_buf_xml_and_take},
    {"alloc_failure", test_alloc_failure},
    {"parse_i64", test_parse_i64},
    {"url_coding", test_url_coding},
    {"utf8", test_utf8},
    {NULL, NULL},
};
