/* test_logs_put_parse.c - the PutLogEvents body parser decodes every message exactly.
 *
 * Random messages (quotes, backslashes, solidus, control characters, multi-byte UTF-8, long
 * plain runs) are JSON-encoded with randomly chosen but valid escapes (\" \\ \/ \n \u00XX,
 * surrogate pairs), placed at every alignment against the 64-byte blocks of the fast decoders,
 * and parsed with every decoder this CPU has (portable, SSSE3, AVX-512): each must return the
 * original bytes. Broken strings (a raw control character, a bad escape, an unpaired
 * surrogate, a missing closing quote) placed at every offset must fail with
 * SerializationException with every decoder. The tests fail if a decoder drops, duplicates or
 * mistranslates one byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"
#include "ts_test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* A random message: mostly what CloudTrail-shaped JSON is made of, with every kind of byte
 * that needs an escape, and multi-byte UTF-8. */
static size_t random_message(char *m, size_t cap)
{
    size_t n = 0, want = next() % 400;
    while (n < want && n + 4 < cap) {
        uint32_t r = next() % 100;
        if (r < 20) {
            m[n++] = '"';
        } else if (r < 26) {
            m[n++] = '\\';
        } else if (r < 29) {
            m[n++] = '/';
        } else if (r < 32) {
            m[n++] = (char)(next() % 0x20); /* a control character */
        } else if (r < 35) {
            m[n++] = (char)0xC3; /* U+00E9 */
            m[n++] = (char)0xA9;
        } else if (r < 37) {
            m[n++] = (char)0xF0; /* U+1F600 */
            m[n++] = (char)0x9F;
            m[n++] = (char)0x98;
            m[n++] = (char)0x80;
        } else if (r < 42) {
            /* a long plain run crosses whole blocks */
            size_t run = next() % 150;
            for (size_t i = 0; i < run && n + 4 < cap; i++) {
                m[n++] = (char)('a' + next() % 26);
            }
        } else {
            m[n++] = (char)(' ' + next() % 95); /* printable ASCII */
        }
    }
    return n;
}

static size_t put_u(char *o, unsigned cp)
{
    static const char hx[] = "0123456789abcdef";
    o[0] = '\\';
    o[1] = 'u';
    for (int i = 0; i < 4; i++) {
        o[2 + i] = hx[(cp >> (12 - 4 * i)) & 0xF];
    }
    return 6;
}

/* JSON-encodes m with a random valid choice of escape for every byte that allows one. */
static size_t encode(const char *m, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        uint32_t r = next() % 8;
        if (c == '"' || c == '\\') {
            if (r == 0) {
                k += put_u(o + k, c);
            } else {
                o[k++] = '\\';
                o[k++] = (char)c;
            }
        } else if (c == '/') {
            if (r < 3) {
                o[k++] = '\\';
                o[k++] = '/';
            } else {
                o[k++] = '/';
            }
        } else if (c < 0x20) {
            if (c == '\n' && r < 4) {
                o[k++] = '\\';
                o[k++] = 'n';
            } else if (c == '\t' && r < 4) {
                o[k++] = '\\';
                o[k++] = 't';
            } else {
                k += put_u(o + k, c);
            }
        } else if (c == 0xC3 && r == 0) {
            k += put_u(o + k, 0xC0u | ((unsigned char)m[i + 1] & 0x3Fu)); /* C3 xx */
            i++;
        } else if (c == 0xF0 && r == 0) {
            k += put_u(o + k, 0xD83D); /* U+1F600 as a surrogate pair */
            k += put_u(o + k, 0xDE00);
            i += 3;
        } else {
            o[k++] = (char)c;
        }
    }
    return k;
}

/* Builds {"logGroupName":"g","logStreamName":"s","logEvents":[{...},...]} with `pad` spaces
 * before the first message to shift the alignment. */
static size_t body_of(char *b, size_t pad, char **enc, size_t *enc_len, size_t n)
{
    size_t k = (size_t)sprintf(b, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",%*s"
                                  "\"logEvents\":[", (int)pad, "");
    for (size_t i = 0; i < n; i++) {
        k += (size_t)sprintf(b + k, "%s{\"timestamp\":%zu,\"message\":\"", i ? "," : "", i + 1);
        memcpy(b + k, enc[i], enc_len[i]);
        k += enc_len[i];
        b[k++] = '"';
        b[k++] = '}';
    }
    k += (size_t)sprintf(b + k, "]}");
    return k;
}

#define EVENTS 12
#define MSG_CAP 2048

static const char *decoders[] = {"portable", "ssse3", "avx512"};
#define N_DECODERS 3

/* Selects decoder d; false (with a note) when this CPU lacks it. */
static bool use_decoder(int d)
{
    if (!logs_put_parse_decoder(decoders[d])) {
        printf("    (decoder %s: not on this CPU, skipped)\n", decoders[d]);
        return false;
    }
    return true;
}

static void check_round_trip(int d)
{
    if (!use_decoder(d)) {
        return;
    }
    char *msg[EVENTS], *enc[EVENTS];
    size_t msg_len[EVENTS], enc_len[EVENTS];
    char *body = malloc(EVENTS * (6 * MSG_CAP + 64) + 256);
    TEST_ASSERT(body != NULL);
    for (int i = 0; i < EVENTS; i++) {
        msg[i] = malloc(MSG_CAP);
        enc[i] = malloc(6 * MSG_CAP);
    }
    int bad = 0;
    for (int round = 0; round < 3000 && !bad; round++) {
        for (int i = 0; i < EVENTS; i++) {
            msg_len[i] = random_message(msg[i], MSG_CAP);
            enc_len[i] = encode(msg[i], msg_len[i], enc[i]);
        }
        size_t len = body_of(body, (size_t)round % 64, enc, enc_len, EVENTS);
        struct logs_put_input in;
        struct ts_aws_error err = {0};
        int rc = logs_put_parse(body, len, &in, &err);
        if (!TEST_CHECK_(rc == 0, "round %d parses (%s: %s)", round, err.code, err.message)) {
            bad = 1;
        } else if (!TEST_CHECK(in.n == EVENTS)) {
            bad = 1;
        } else {
            for (size_t i = 0; i < in.n && !bad; i++) {
                if (!TEST_CHECK_(in.len[i] == msg_len[i] &&
                                     memcmp(in.payload.data + in.off[i], msg[i],
                                            msg_len[i]) == 0,
                                 "round %d event %zu decodes to its message", round, i) ||
                    !TEST_CHECK(in.ts[i] == (int64_t)i + 1)) {
                    bad = 1;
                }
            }
        }
        logs_put_input_free(&in);
    }
    for (int i = 0; i < EVENTS; i++) {
        free(msg[i]);
        free(enc[i]);
    }
    free(body);
}

static void test_round_trip(void)
{
    const char *best = logs_put_parse_decoder(NULL);
    for (int d = 0; d < N_DECODERS; d++) {
        check_round_trip(d);
    }
    TEST_CHECK(logs_put_parse_decoder(best) != NULL);
}

/* A flaw at every offset of a long escaped message must be refused on both paths. */
static void test_flaws_everywhere(void)
{
    static const char *flaws[] = {"\x01", "\\x", "\\u12G4", "\\uD83D", "\\uDE00x", "\\'",
                                  "\x1f", "\\uD83D\\u0041"};
    char base[300], body[1024];
    size_t bl = 0;
    while (bl < 200) {
        bl += (size_t)sprintf(base + bl, "\\\"k%zu\\\":\\\"v\\/\\\\\\\"", bl % 7);
    }
    const char *best = logs_put_parse_decoder(NULL);
    for (int d = 0; d < N_DECODERS; d++) {
        if (!use_decoder(d)) {
            continue;
        }
        for (size_t f = 0; f < sizeof(flaws) / sizeof(flaws[0]); f++) {
            for (size_t at = 0; at <= bl; at++) {
                /* keep escapes whole: only cut before a backslash pair or a plain byte */
                size_t k = (size_t)sprintf(body, "{\"logGroupName\":\"g\",\"logStreamName\":"
                                                 "\"s\",\"logEvents\":[{\"timestamp\":1,"
                                                 "\"message\":\"");
                memcpy(body + k, base, at);
                k += at;
                size_t back = 0;
                for (size_t j = at; j > 0 && base[j - 1] == '\\'; j--) {
                    back++;
                }
                if (back % 2) {
                    continue; /* would split an escape */
                }
                k += (size_t)sprintf(body + k, "%s", flaws[f]);
                memcpy(body + k, base + at, bl - at);
                k += bl - at;
                k += (size_t)sprintf(body + k, "\"}]}");
                struct logs_put_input in;
                struct ts_aws_error err = {0};
                int rc = logs_put_parse(body, k, &in, &err);
                TEST_CHECK_(rc != 0 && strcmp(err.code, "SerializationException") == 0,
                            "flaw %zu at %zu (%s decoder) is refused", f, at, decoders[d]);
                logs_put_input_free(&in);
            }
        }
    }
    logs_put_parse_decoder(best);
}

/* A message that ends without its closing quote, at every length around the block size. */
static void test_unterminated(void)
{
    char body[512];
    const char *best = logs_put_parse_decoder(NULL);
    for (int d = 0; d < N_DECODERS; d++) {
        if (!use_decoder(d)) {
            continue;
        }
        for (size_t n = 0; n < 200; n++) {
            size_t k = (size_t)sprintf(body, "{\"logEvents\":[{\"timestamp\":1,\"message\":\"");
            for (size_t i = 0; i < n; i++) {
                body[k++] = i % 5 == 4 ? '/' : 'x';
            }
            struct logs_put_input in;
            struct ts_aws_error err = {0};
            TEST_CHECK_(logs_put_parse(body, k, &in, &err) != 0 &&
                            strcmp(err.code, "SerializationException") == 0,
                        "%zu bytes without a closing quote are refused", n);
            logs_put_input_free(&in);
        }
    }
    logs_put_parse_decoder(best);
}

/* The payload is a framed batch as the store takes it: per event [header room][time][message],
 * back to back, with the CRC of [time][message], whatever the member order (time first, time
 * after the message, a second time after the message), and messages long enough for every
 * CRC path. */
static void test_frames(void)
{
    static char body[32768];
    size_t k = (size_t)sprintf(body, "{\"logGroupName\":\"g\",\"logStreamName\":\"s\","
                                     "\"logEvents\":[");
    for (int i = 0; i < 12; i++) {
        char msg[1500];
        int mlen = (i * 131) % 1400 + 1;
        for (int j = 0; j < mlen; j++) {
            msg[j] = (char)('a' + (i + j) % 26);
        }
        msg[mlen] = '\0';
        const char *sep = i ? "," : "";
        if (i % 3 == 0) {
            k += (size_t)sprintf(body + k, "%s{\"timestamp\":%d,\"message\":\"%s\\\"q\"}", sep,
                                 100 + i, msg);
        } else if (i % 3 == 1) {
            k += (size_t)sprintf(body + k, "%s{\"message\":\"%s\\\"q\",\"timestamp\":%d}", sep,
                                 msg, 100 + i);
        } else {
            k += (size_t)sprintf(body + k,
                                 "%s{\"timestamp\":1,\"message\":\"%s\\\"q\",\"timestamp\":%d}",
                                 sep, msg, 100 + i);
        }
    }
    k += (size_t)sprintf(body + k, "]}");
    struct logs_put_input in;
    struct ts_aws_error err = {0};
    TEST_CHECK_(logs_put_parse(body, k, &in, &err) == 0, "%s", err.message);
    TEST_ASSERT(in.n == 12);
    for (size_t i = 0; i < in.n; i++) {
        const uint8_t *rec = (const uint8_t *)in.payload.data + in.off[i] - 8;
        int64_t t = 0;
        for (int b = 0; b < 8; b++) {
            t |= (int64_t)rec[b] << (8 * b);
        }
        TEST_CHECK_(t == 100 + (int64_t)i && in.ts[i] == t, "event %zu time %lld", i,
                    (long long)t);
        TEST_CHECK_(in.crc[i] == ts_crc32c(0, rec, 8 + in.len[i]), "event %zu crc", i);
        TEST_CHECK(in.off[i] >= 8 + TS_STORE_RECORD_OVERHEAD);
        if (i > 0) {
            TEST_CHECK_(in.off[i] - 8 - TS_STORE_RECORD_OVERHEAD == in.off[i - 1] + in.len[i - 1],
                        "event %zu is not right after the one before", i);
        }
    }
    logs_put_input_free(&in);
}

/* Timestamps: every integer that fits in int64 is taken, digit counts around the unchecked
 * accumulation's limit included; past it, fractions and exponents are refused. */
static void test_timestamps(void)
{
    static const struct {
        const char *text;
        int64_t want; /* -1: refused */
    } cases[] = {
        {"0", 0},
        {"1", 1},
        {"1700000000000", 1700000000000},
        {"999999999999999999", 999999999999999999},      /* 18 digits */
        {"1000000000000000000", 1000000000000000000},    /* 19 */
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775808", -1},
        {"9999999999999999999", -1},                     /* 19 digits, over INT64_MAX */
        {"18446744073709551615", -1},                    /* 20 */
        {"18446744073709551616", -1},                    /* past UINT64_MAX */
        {"123456789012345678901234567890", -1},
        {"12.0", 12},
        {"12.5", -1},
        {"1e3", -1},
        {"-1", -1},
        {"-0", 0},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        char body[256];
        int n = snprintf(body, sizeof(body),
                         "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":"
                         "[{\"timestamp\":%s,\"message\":\"m\"}]}",
                         cases[i].text);
        struct logs_put_input in;
        struct ts_aws_error err = {0};
        int rc = logs_put_parse(body, (size_t)n, &in, &err);
        if (cases[i].want < 0) {
            TEST_CHECK_(rc != 0 && strcmp(err.code, "SerializationException") == 0,
                        "%s was taken", cases[i].text);
        } else {
            TEST_CHECK_(rc == 0 && in.n == 1 && in.ts[0] == cases[i].want, "%s: rc %d",
                        cases[i].text, rc);
        }
        logs_put_input_free(&in);
    }
}

/* The densest bodies (empty and one-byte messages, no whitespace, up to the event limit) fit
 * the room the parser reserves in front of each message. */
static void test_dense(void)
{
    static const char *const events[] = {"{\"message\":\"m\",\"timestamp\":1}",
                                         "{\"message\":\"\",\"timestamp\":0}"};
    static char body[400000];
    for (size_t e = 0; e < TS_ARRAY_LEN(events); e++) {
        for (size_t count = 1; count <= 10000; count = count < 10 ? count + 1 : count * 10) {
            size_t k = (size_t)sprintf(body, "{\"logEvents\":[");
            for (size_t i = 0; i < count; i++) {
                k += (size_t)sprintf(body + k, "%s%s", i ? "," : "", events[e]);
            }
            k += (size_t)sprintf(body + k, "]}");
            struct logs_put_input in;
            struct ts_aws_error err = {0};
            TEST_CHECK_(logs_put_parse(body, k, &in, &err) == 0 && in.n == count,
                        "%zu events %s: %s", count, events[e], err.message);
            logs_put_input_free(&in);
        }
    }
}

/* Member names and names of the group and stream: plain ones are copied as they stand,
 * escaped ones decoded, over-long ones flagged. */
static void test_names(void)
{
    static const char body[] =
        "{\"logGroupName\":\"g\\u0072oup\\/a\",\"logStreamName\":\"stream-1\","
        "\"logEvents\":[{\"time\\u0073tamp\":7,\"m\\u0065ssage\":\"hi\"},"
        "{\"timestamp\":8,\"message\":\"there\",\"unknownMember\":{\"a\":[1,\"x\"]}}]}";
    struct logs_put_input in;
    struct ts_aws_error err = {0};
    TEST_ASSERT(logs_put_parse(body, sizeof(body) - 1, &in, &err) == 0);
    TEST_CHECK(strcmp(in.group, "group/a") == 0);
    TEST_CHECK(strcmp(in.stream, "stream-1") == 0);
    TEST_CHECK(!in.group_too_long && !in.stream_too_long);
    TEST_CHECK(in.n == 2 && in.ts[0] == 7 && in.ts[1] == 8);
    TEST_CHECK(in.n == 2 && in.len[0] == 2 && memcmp(in.payload.data + in.off[0], "hi", 2) == 0);
    logs_put_input_free(&in);

    char big[2048];
    int k = sprintf(big, "{\"logGroupName\":\"");
    for (int i = 0; i < LOGS_GROUP_NAME_MAX + 1; i++) {
        big[k++] = 'g';
    }
    k += sprintf(big + k, "\",\"logStreamName\":\"s\",\"logEvents\":[]}");
    TEST_ASSERT(logs_put_parse(big, (size_t)k, &in, &err) == 0);
    TEST_CHECK(in.group_too_long && !in.stream_too_long);
    logs_put_input_free(&in);
}

TEST_LIST = {{"names", test_names},
             {"frames", test_frames},
             {"timestamps", test_timestamps},
             {"dense", test_dense},
             {"round_trip", test_round_trip},
             {"flaws_everywhere", test_flaws_everywhere},
             {"unterminated", test_unterminated},
             {NULL, NULL}};
