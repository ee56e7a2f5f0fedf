/* test_pattern.c - the filter pattern engine: reference vectors, CIS patterns against
 * CloudTrail-shaped records, invalid patterns, the and/or property test against a cJSON
 * oracle, field extraction, limits and robustness. Data files live next to this file
 * (TS_PATTERN_DATA_DIR). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trailstream/ts_core.h"
#include "trailstream/ts_pattern.h"
#include "ts_test.h"

#ifndef TS_PATTERN_DATA_DIR
#define TS_PATTERN_DATA_DIR "."
#endif

static struct ts_pattern *compile_s(const char *s, char *err, size_t err_len)
{
    struct ts_pattern *p = NULL;
    if (ts_pattern_compile(s, strlen(s), &p, err, err_len) != 0) {
        return NULL;
    }
    return p;
}

/* 1 match, 0 no match, -1 compile error. */
static int run(const char *pat, const char *msg)
{
    char err[TS_PATTERN_ERR_LEN];
    struct ts_pattern *p = compile_s(pat, err, sizeof(err));
    if (!p) {
        return -1;
    }
    int r = ts_pattern_match(p, msg, strlen(msg)) ? 1 : 0;
    ts_pattern_destroy(p);
    return r;
}

static char *slurp(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", TS_PATTERN_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    struct ts_buf b;
    ts_buf_init(&b, 1 << 26);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (ts_buf_add(&b, chunk, n) != 0) {
            break;
        }
    }
    fclose(f);
    size_t len;
    return ts_buf_take(&b, &len);
}

static int collect(void *ctx, const char *key, size_t key_len, const char *val, size_t val_len)
{
    char k[300], *v = ts_strndup(val, val_len);
    snprintf(k, sizeof(k), "%.*s", (int)key_len, key);
    cJSON_AddStringToObject((cJSON *)ctx, k, v);
    ts_free(v);
    return 0;
}

/* ------------------------------------------------------------ reference vectors */

static void test_reference_vectors(void)
{
    char *text = slurp("vectors.jsonl");
    TEST_ASSERT(text != NULL);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *v = cJSON_Parse(line);
        TEST_ASSERT(v != NULL);
        const char *id = cJSON_GetObjectItem(v, "id")->valuestring;
        const char *pat = cJSON_GetObjectItem(v, "pattern")->valuestring;
        const char *ev = cJSON_GetObjectItem(v, "event")->valuestring;
        const cJSON *exp = cJSON_GetObjectItem(v, "expected");
        const cJSON *ex = cJSON_GetObjectItem(v, "extracted");
        char err[TS_PATTERN_ERR_LEN];
        struct ts_pattern *p = compile_s(pat, err, sizeof(err));
        if (cJSON_IsString(exp)) {
            TEST_CHECK_(p == NULL && err[0] != '\0', "%s: %s must be rejected", id, pat);
        } else {
            TEST_CHECK_(p != NULL, "%s: %s failed to compile: %s", id, pat, err);
        }
        if (p) {
            bool m = ts_pattern_match(p, ev, strlen(ev));
            TEST_CHECK_(m == cJSON_IsTrue(exp), "%s: %s on %s: got %d", id, pat, ev, m);
            if (ex) {
                cJSON *got = cJSON_CreateObject();
                int r = ts_pattern_test(p, ev, strlen(ev), collect, got);
                char *gs = cJSON_PrintUnformatted(got);
                TEST_CHECK_(r == 1 && cJSON_Compare(got, ex, 1), "%s: extracted %s", id, gs);
                cJSON_free(gs);
                cJSON_Delete(got);
            }
            ts_pattern_destroy(p);
        }
        cJSON_Delete(v);
        n++;
    }
    TEST_CHECK_(n >= 90, "only %d vectors", n);
    ts_free(text);
}

/* ------------------------------------------------------------ CIS */

struct cis_event {
    char id[64];
    char *msg;
};

static int load_cis_events(struct cis_event *evs, int cap)
{
    char *text = slurp("cis_events.jsonl");
    int n = 0;
    if (!text) {
        return 0;
    }
    for (char *line = strtok(text, "\n"); line && n < cap; line = strtok(NULL, "\n")) {
        cJSON *v = cJSON_Parse(line);
        if (!v) {
            continue;
        }
        ts_strlcpy(evs[n].id, cJSON_GetObjectItem(v, "id")->valuestring, sizeof(evs[n].id));
        evs[n].msg = ts_strdup(cJSON_GetObjectItem(v, "message")->valuestring);
        n++;
        cJSON_Delete(v);
    }
    ts_free(text);
    return n;
}

static bool in_list(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; (p = strstr(p, id)) != NULL; p += n) {
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) {
            return true;
        }
    }
    return false;
}

static void test_cis_patterns(void)
{
    struct cis_event evs[64];
    int ne = load_cis_events(evs, 64);
    TEST_ASSERT(ne == 30);
    char *text = slurp("cis_patterns.tsv");
    TEST_ASSERT(text != NULL);
    int np = 0, checks = 0;
    char *save;
    strtok_r(text, "\n", &save); /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *id = line;
        char *topic = strchr(id, '\t');
        TEST_ASSERT(topic != NULL);
        *topic++ = '\0';
        char *expected = strchr(topic, '\t');
        *expected++ = '\0';
        char *pat = strchr(expected, '\t');
        *pat++ = '\0';
        char err[TS_PATTERN_ERR_LEN];
        struct ts_pattern *p = compile_s(pat, err, sizeof(err));
        TEST_CHECK_(p != NULL, "%s does not compile: %s", id, err);
        if (!p) {
            continue;
        }
        for (int k = 0; k < ne; k++) {
            bool want = in_list(expected, evs[k].id);
            bool got = ts_pattern_match(p, evs[k].msg, strlen(evs[k].msg));
            TEST_CHECK_(got == want, "%s on %s: got %d want %d", id, evs[k].id, got, want);
            checks++;
        }
        ts_pattern_destroy(p);
        np++;
    }
    TEST_CHECK_(np == 34, "%d CIS pattern variants", np);
    TEST_MSG("%d CIS variants x %d events = %d checks", np, ne, checks);
    for (int k = 0; k < ne; k++) {
        ts_free(evs[k].msg);
    }
    ts_free(text);
}

/* ------------------------------------------------------------ invalid patterns */

static void test_invalid_patterns(void)
{
    static const struct {
        const char *pat;
        const char *names; /* a substring the message must contain */
    } cases[] = {
        {"#Cloud", "Invalid character(s) in term '#Cloud'"},
        {"ERROR:", "Invalid character(s) in term 'ERROR:'"},
        {"\"unterminated", "Unterminated quoted string"},
        {"?", "Empty term after '?'"},
        {"{", "Expected a condition"},
        {"{ $.a = 1", "missing '}'"},
        {"{ $.a = 1 } x", "after the closing '}'"},
        {"{}", "Empty JSON pattern"},
        {"{ a = 1 }", "Expected a selector"},
        {"{ $a = 1 }", "'$' must be followed by '.property'"},
        {"{ $[0] = 1 }", "'$' must be followed by '.property'"},
        {"{ $.a. = 1 }", "empty property name"},
        {"{ $.a[x] = 1 }", "Invalid array index"},
        {"{ $.a }", "Expected an operator"},
        {"{ $.a == 1 }", "Expected a value after operator '='"},
        {"{ $.a = }", "Expected a value after operator '='"},
        {"{ $.a > \"x\" }", "Operator '>' requires a numeric value"},
        {"{ $.a <= abc }", "Operator '<=' requires a numeric value, got 'abc'"},
        {"{ $.a IS NOT NULL }", "'IS NOT' is not supported"},
        {"{ $.a EXISTS }", "'EXISTS' is not supported"},
        {"{ $.a IS MAYBE }", "Expected NULL, TRUE or FALSE"},
        {"{ $.a NOT THERE }", "Expected EXISTS"},
        {"{ ($.a = 1 }", "Expected ')'"},
        {"{ $.a = 1) }", "Unbalanced ')'"},
        {"{ $.a = 1 & $.b = 2 }", "Invalid operator '&'"},
        {"{ $.a = 1, $.b = 2 }", "Unexpected ','"},
        {"{ $.a ! 1 }", "Invalid operator '!'"},
        {"{ $.a = a#b }", "Invalid character(s) in term 'a#b'"},
        {"{ $.a = %x% || $.b = %y% || $.c = %z% }", "Too many regular expressions"},
        {"{ $.a > %x% }", "cannot be used with a regular expression"},
        {"[", "missing ']'"},
        {"[]", "Empty space-delimited pattern"},
        {"[a, b", "missing ']'"},
        {"[a, a]", "Duplicate field name 'a'"},
        {"[..., a, ...]", "Only one '...'"},
        {"[a = 1 || zz = 2, b]", "Unknown field name 'zz'"},
        {"[a > x, b]", "requires a numeric value"},
        {"[$.a = 1]", "only valid in JSON patterns"},
        {"[a b]", "Expected an operator"},
        {"%something!%", "Invalid character '!' in regular expression"},
        {"%(ab)+%", "groups '(' ')' are not supported"},
        {"%%", "Empty regular expression"},
        {"%abc", "Unterminated regular expression"},
        {"%a% b%", "must be the whole pattern"},
        {"%*a%", "Nothing to repeat"},
        {"%a**%", "Nested quantifier"},
        {"%a{2,1}%", "Invalid repetition range"},
        {"%a{x}%", "Invalid repetition"},
        {"%[abc%", "Unterminated '['"},
        {"%[z-a]%", "Invalid range"},
        {"%a|%", "Empty alternative"},
        {"%^*%", "Anchor cannot be repeated"},
        {"%a{1000}{2}%", "Nested quantifier"},
        {"%a{1000}b{1000}c{100}%", "too complex"},
        {"%caf\xc3\xa9%", "multibyte characters are not supported"},
        {"%a b%", "Invalid character ' ' in regular expression"},
        {"\xff", "not valid UTF-8"},
    };
    for (size_t k = 0; k < TS_ARRAY_LEN(cases); k++) {
        char err[TS_PATTERN_ERR_LEN];
        struct ts_pattern *p = compile_s(cases[k].pat, err, sizeof(err));
        TEST_CHECK_(p == NULL, "'%s' must be rejected", cases[k].pat);
        TEST_CHECK_(p != NULL || strstr(err, cases[k].names) != NULL,
                    "'%s': message '%s' lacks '%s'", cases[k].pat, err, cases[k].names);
        ts_pattern_destroy(p);
    }
    /* the position is named */
    char err[TS_PATTERN_ERR_LEN];
    TEST_CHECK(compile_s("{ $.a = 1 && $.b > \"x\" }", err, sizeof(err)) == NULL);
    TEST_CHECK_(strstr(err, "(at position 20)") != NULL, "%s", err);
    /* a NULL err buffer is fine */
    struct ts_pattern *p = NULL;
    TEST_CHECK(ts_pattern_compile("{", 1, &p, NULL, 0) == TS_EINVAL && p == NULL);
}

static void test_limits(void)
{
    char buf[4200];
    char err[TS_PATTERN_ERR_LEN];
    /* exactly 1024 characters compile; 1025 do not */
    memset(buf, 'a', 1024);
    buf[1024] = '\0';
    struct ts_pattern *p = compile_s(buf, err, sizeof(err));
    TEST_CHECK(p != NULL);
    ts_pattern_destroy(p);
    buf[1024] = 'a';
    buf[1025] = '\0';
    TEST_CHECK(compile_s(buf, err, sizeof(err)) == NULL && strstr(err, "too long"));
    /* 1024 two-byte characters are 1024 characters */
    for (int k = 0; k < 1024; k++) {
        buf[2 * k] = (char)0xc3;
        buf[2 * k + 1] = (char)0xa9;
    }
    buf[2048] = '\0';
    p = compile_s(buf, err, sizeof(err));
    TEST_CHECK_(p != NULL, "%s", err);
    ts_pattern_destroy(p);
    /* parenthesis nesting: 32 levels fine, 33 rejected */
    for (int depth = 32; depth <= 33; depth++) {
        size_t o = 0;
        buf[o++] = '{';
        for (int k = 0; k < depth; k++) {
            buf[o++] = '(';
        }
        memcpy(buf + o, "$.a=1", 5);
        o += 5;
        for (int k = 0; k < depth; k++) {
            buf[o++] = ')';
        }
        buf[o++] = '}';
        buf[o] = '\0';
        p = compile_s(buf, err, sizeof(err));
        TEST_CHECK_((p != NULL) == (depth == 32), "depth %d: %s", depth, err);
        if (p) {
            TEST_CHECK(ts_pattern_match(p, "{\"a\":1}", 7));
        }
        ts_pattern_destroy(p);
    }
    /* a deeply nested message is not a match and does not crash */
    size_t n = 0;
    static char deep[300000];
    n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
    for (int k = 0; k < 100000; k++) {
        deep[n++] = '[';
    }
    deep[n] = '\0';
    p = compile_s("{ $.a NOT EXISTS }", err, sizeof(err));
    TEST_CHECK(!ts_pattern_match(p, deep, n));
    ts_pattern_destroy(p);
    /* selector depth cap */
    n = 0;
    n += (size_t)snprintf(buf, sizeof(buf), "{ $");
    for (int k = 0; k < 65; k++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".a");
    }
    snprintf(buf + n, sizeof(buf) - n, " = 1 }");
    TEST_CHECK(compile_s(buf, err, sizeof(err)) == NULL && strstr(err, "too deep"));
}

/* ------------------------------------------------------------ semantics */

static void test_terms_and_kinds(void)
{
    char err[TS_PATTERN_ERR_LEN];
    static const struct {
        const char *pat;
        enum ts_pattern_kind kind;
        bool all;
    } kinds[] = {
        {"", TS_PATTERN_MATCH_ALL, true},      {"   ", TS_PATTERN_MATCH_ALL, true},
        {"\" \"", TS_PATTERN_TERMS, true},     {"\"\"", TS_PATTERN_TERMS, true},
        {"ERROR", TS_PATTERN_TERMS, false},    {"{ $.a = 1 }", TS_PATTERN_JSON, false},
        {"[a, b]", TS_PATTERN_SPACE, false},   {"[...]", TS_PATTERN_SPACE, true},
        {"%ab%", TS_PATTERN_REGEX, false},     {"?x ?\" \"", TS_PATTERN_TERMS, true},
    };
    for (size_t k = 0; k < TS_ARRAY_LEN(kinds); k++) {
        struct ts_pattern *p = compile_s(kinds[k].pat, err, sizeof(err));
        TEST_ASSERT(p != NULL);
        TEST_CHECK_(ts_pattern_kind(p) == kinds[k].kind, "%s", kinds[k].pat);
        TEST_CHECK_(ts_pattern_is_match_all(p) == kinds[k].all, "%s", kinds[k].pat);
        if (kinds[k].all) {
            TEST_CHECK(ts_pattern_match(p, "", 0));
            TEST_CHECK(ts_pattern_match(p, "x", 1));
        }
        ts_pattern_destroy(p);
    }
    TEST_CHECK(run("\" \"", "nospace") == 1);
    TEST_CHECK(run("-ERROR", "all good") == 1);
    TEST_CHECK(run("-ERROR", "an ERROR") == 0);
    TEST_CHECK(run("ERROR ?WARN ?INFO x", "WARN") == 1);
    TEST_CHECK(run("ERROR ?WARN ?INFO x", "INFO") == 0);
    TEST_CHECK(run("ERROR ?WARN ?INFO x", "INFO x") == 1);
    TEST_CHECK(run("\"a \\\"quoted\\\" b\"", "say a \"quoted\" b") == 1);
    TEST_CHECK(run("\"C:\\\\dir\"", "C:\\dir") == 1);
    TEST_CHECK(run("caf\xc3\xa9", "un caf\xc3\xa9") == 1);
    static const struct {
        const char *pat;
        int n;
    } rx[] = {{"x", 0}, {"%a%", 1}, {"{ $.a = %a% && $.b != %b% }", 2}, {"[a = %x%, b]", 1}};
    for (size_t k = 0; k < TS_ARRAY_LEN(rx); k++) {
        struct ts_pattern *p = compile_s(rx[k].pat, err, sizeof(err));
        TEST_ASSERT(p != NULL);
        TEST_CHECK_(ts_pattern_regex_count(p) == rx[k].n, "%s", rx[k].pat);
        ts_pattern_destroy(p);
    }
}

static void test_json_semantics(void)
{
    const char *ev = "{\"s\":\"a\\\"b\\u0041\\u00e9\",\"k\\u0065y\":\"v\",\"t\":true,\"f\":false,"
                     "\"n\":null,\"num\":-1.5e2,\"dup\":1,\"dup\":2,"
                     "\"o\":{\"a\":[1,{\"b\":\"x\"}]},"
                     "\"e\":\"\",\"big\":12345678901234567890}";
    TEST_CHECK(run("{ $.s = \"a\\\"bA\xc3\xa9\" }", ev) == 1);
    TEST_CHECK(run("{ $.key = v }", ev) == 1);     /* escaped member name */
    TEST_CHECK(run("{ $.t = true }", ev) == 1);    /* booleans compare by text */
    TEST_CHECK(run("{ $.t IS TRUE && $.f IS FALSE }", ev) == 1);
    TEST_CHECK(run("{ $.n IS NULL }", ev) == 1);
    TEST_CHECK(run("{ $.n = * }", ev) == 0);
    TEST_CHECK(run("{ $.n != x }", ev) == 0);
    TEST_CHECK(run("{ $.num < -100 && $.num >= -150 }", ev) == 1);
    TEST_CHECK(run("{ $.num = \"-1.5e2\" }", ev) == 1);
    TEST_CHECK(run("{ $.dup = 1 }", ev) == 1); /* first occurrence wins */
    TEST_CHECK(run("{ $.o.a[1].b = x }", ev) == 1);
    TEST_CHECK(run("{ $.o.a[0] = 1 && $.o.a[2] NOT EXISTS }", ev) == 1);
    TEST_CHECK(run("{ $.o.a.b NOT EXISTS }", ev) == 1);
    TEST_CHECK(run("{ $.e = \"\" && $.e = * }", ev) == 1);
    TEST_CHECK(run("{ $.big > 1e19 }", ev) == 1);
    TEST_CHECK(run("{ $.missing != x }", ev) == 0);
    TEST_CHECK(run("{ $.s = %^a% }", ev) == 1);
    TEST_CHECK(run("{ $.s != %^b% }", ev) == 1);
    TEST_CHECK(run("{ $.a = 1 }", "[1,2]") == 0);
    TEST_CHECK(run("{ $.a NOT EXISTS }", "not json") == 0);
    TEST_CHECK(run("{ $.a NOT EXISTS }", "{\"b\":1") == 0);      /* truncated */
    TEST_CHECK(run("{ $.a NOT EXISTS }", "{\"b\":01}") == 0);    /* bad number */
    TEST_CHECK(run("{ $.a NOT EXISTS }", "{\"b\":1} x") == 0);   /* trailing text */
    TEST_CHECK(run("{ $.a NOT EXISTS }", "  {\"b\":1}\n") == 1);
    TEST_CHECK(run("{ $.a NOT EXISTS }", "{\"b\":\"\x01\"}") == 0);
    /* lazy: once every selector is settled the rest is not read */
    TEST_CHECK(run("{ $.a = 1 }", "{\"a\":1, garbage") == 1);
    TEST_CHECK(run("{ $.a = 1 }", "{\"b\": garbage, \"a\":1}") == 0);
    /* decided before the malformed tail: TestMetricFilter agrees with matching */
    TEST_CHECK(run("{ $.a = 1 || $.b = 2 }", "{\"a\":1, garbage") == 1);
    TEST_CHECK(run("{ $.a = 2 && $.b = 2 }", "{\"a\":1, garbage") == 0);
    struct ts_pattern *p = compile_s("{ $.a = 1 || $.b = 2 }", NULL, 0);
    cJSON *got = cJSON_CreateObject();
    TEST_CHECK(ts_pattern_test(p, "{\"a\":1, garbage", 15, collect, got) == 1);
    TEST_CHECK(cJSON_GetArraySize(got) == 1);
    cJSON_Delete(got);
    ts_pattern_destroy(p);
    /* long escaped strings decode on the heap */
    static char big[10000];
    size_t o = (size_t)snprintf(big, sizeof(big), "{\"s\":\"");
    for (int k = 0; k < 1200; k++) {
        o += (size_t)snprintf(big + o, sizeof(big) - o, "\\u0041");
    }
    snprintf(big + o, sizeof(big) - o, "Z\"}");
    TEST_CHECK(run("{ $.s = *AZ }", big) == 1);
    TEST_CHECK(run("{ $.s = AAA* }", big) == 1);
}

static void test_space_semantics(void)
{
    TEST_CHECK(run("[a, b]", "x y") == 1);
    TEST_CHECK(run("[a, b]", "  x \t y  ") == 1);
    TEST_CHECK(run("[a, b]", "x") == 0);
    TEST_CHECK(run("[a, b]", "x y z") == 0);
    TEST_CHECK(run("[a, ..., z = 9]", "1 2 3 4 9") == 1);
    TEST_CHECK(run("[a, ..., z = 9]", "1 9") == 1);
    TEST_CHECK(run("[a, ..., z = 9]", "9") == 0);
    TEST_CHECK(run("[..., y = 3, z]", "1 2 3 4") == 1);
    TEST_CHECK(run("[a = \"x y\", b]", "\"x y\" z") == 1);
    TEST_CHECK(run("[a = x*, b = %^[0-9]+$%]", "xyz 123") == 1);
    TEST_CHECK(run("[a = x*, b = %^[0-9]+$%]", "xyz 12a") == 0);
    TEST_CHECK(run("[a, b = 1 || a = q]", "q 2") == 1);
    TEST_CHECK(run("[a, (b = 1 || b = 2) && a != q]", "p 2") == 1);
    TEST_CHECK(run("[a, (b = 1 || b = 2) && a != q]", "q 2") == 0);
    TEST_CHECK(run("[a, b >= 10]", "x 1e1") == 1);
    TEST_CHECK(run("[a, b >= 10]", "x ten") == 0);
    TEST_CHECK(run("[a, b]", "[unterminated x") == 0);
    TEST_CHECK(run("[a]", "[unterminated x") == 1);
}

static void test_regex(void)
{
    TEST_CHECK(run("%\\d{3}%", "code 404") == 1);
    TEST_CHECK(run("%\\d{3}%", "code 40") == 0);
    TEST_CHECK(run("%^\\w+@\\w+\\.com$%", "john@example.com") == 1);
    TEST_CHECK(run("%^\\w+@\\w+\\.com$%", "john@example.com.") == 0);
    TEST_CHECK(run("%^a|b$%", "xxb") == 1);
    TEST_CHECK(run("%^a|b$%", "xax") == 0);
    TEST_CHECK(run("%^.$%", "\xc3\xa9") == 1); /* one code point */
    TEST_CHECK(run("%^[^a]$%", "\xe2\x82\xac") == 1);
    TEST_CHECK(run("%^\\W$%", "\xe2\x82\xac") == 1);
    TEST_CHECK(run("%^a{2,}$%", "aaaa") == 1);
    TEST_CHECK(run("%^a{2,}$%", "a") == 0);
    TEST_CHECK(run("%^$%", "") == 1);
    TEST_CHECK(run("%x*%", "") == 1);
    TEST_CHECK(run("%[]a]%", "]") == 1);
    TEST_CHECK(run("%[a\\-z]%", "-") == 1);
    TEST_CHECK(run("%[a\\-z]%", "m") == 0);
    TEST_CHECK(run("%a.c%", "abc") == 1);
    TEST_CHECK(run("%a\\.c%", "abc") == 0);
    /* no exponential blow-up: (a?){n}a{n} on a^n */
    static char pat[200], msg[64];
    size_t o = 0;
    pat[o++] = '%';
    for (int k = 0; k < 30; k++) {
        pat[o++] = 'a';
        pat[o++] = '?';
    }
    for (int k = 0; k < 30; k++) {
        pat[o++] = 'a';
    }
    pat[o++] = '%';
    pat[o] = '\0';
    memset(msg, 'a', 30);
    msg[30] = '\0';
    TEST_CHECK(run(pat, msg) == 1);
}

/* ------------------------------------------------------------ extraction */

static void test_refs(void)
{
    char err[TS_PATTERN_ERR_LEN];
    struct ts_pattern *p = compile_s("{ $.eventName = Console* }", err, sizeof(err));
    TEST_ASSERT(p != NULL);
    TEST_CHECK(ts_pattern_add_ref(p, "$.latency", 9, err, sizeof(err)) == 0);
    TEST_CHECK(ts_pattern_add_ref(p, "$.user.name", 11, err, sizeof(err)) == 1);
    TEST_CHECK(ts_pattern_add_ref(p, "$.latency", 9, err, sizeof(err)) == 0);
    TEST_CHECK(ts_pattern_add_ref(p, "$.eventName", 11, err, sizeof(err)) == 2);
    TEST_CHECK(ts_pattern_add_ref(p, "$.obj", 5, err, sizeof(err)) == 3);
    TEST_CHECK(ts_pattern_add_ref(p, "$name", 5, err, sizeof(err)) == TS_EINVAL);
    TEST_CHECK(ts_pattern_add_ref(p, "$.a..b", 6, err, sizeof(err)) == TS_EINVAL);
    TEST_CHECK(ts_pattern_ref_count(p) == 4);
    const char *ev = "{\"latency\":12.5,\"eventName\":\"ConsoleLogin\",\"obj\":{},"
                     "\"user\":{\"name\":\"J\\u00f6rg\"}}";
    struct ts_pattern_value v[4];
    TEST_ASSERT(ts_pattern_match_refs(p, ev, strlen(ev), v, 4));
    double d;
    char text[64];
    size_t used;
    TEST_CHECK(ts_pattern_value_number(&v[0], &d) == 0 && d == 12.5);
    TEST_CHECK(ts_pattern_value_text(&v[1], text, sizeof(text), &used) == 0);
    TEST_CHECK(strcmp(text, "J\xc3\xb6rg") == 0 && used == 5);
    TEST_CHECK(ts_pattern_value_text(&v[1], text, 3, &used) == TS_ETOOBIG);
    TEST_CHECK(ts_pattern_value_text(&v[2], text, sizeof(text), NULL) == 0);
    TEST_CHECK(strcmp(text, "ConsoleLogin") == 0);
    TEST_CHECK(ts_pattern_value_number(&v[2], &d) == TS_EINVAL);
    TEST_CHECK(v[3].type == TS_PATTERN_VALUE_OBJECT);
    TEST_CHECK(ts_pattern_value_text(&v[3], text, sizeof(text), NULL) == TS_ENOTFOUND);
    const char *ev2 = "{\"eventName\":\"ConsoleLogin\"}";
    TEST_ASSERT(ts_pattern_match_refs(p, ev2, strlen(ev2), v, 4));
    TEST_CHECK(v[0].type == TS_PATTERN_VALUE_NONE);
    TEST_CHECK(ts_pattern_value_number(&v[0], &d) == TS_ENOTFOUND);
    ts_pattern_destroy(p);

    /* references never change the outcome, even past malformed JSON the match never read */
    p = compile_s("{ $.a = 1 }", err, sizeof(err));
    TEST_ASSERT(p != NULL);
    TEST_CHECK(ts_pattern_add_ref(p, "$.z", 3, err, sizeof(err)) == 0);
    TEST_CHECK(ts_pattern_add_ref(p, "$.a", 3, err, sizeof(err)) == 1);
    const char *bad = "{\"a\":1, garbage";
    TEST_CHECK(ts_pattern_match_refs(p, bad, strlen(bad), v, 2));
    TEST_CHECK(v[0].type == TS_PATTERN_VALUE_NONE && v[1].type == TS_PATTERN_VALUE_NUMBER);
    const char *good = "{\"a\":1,\"z\":\"q\"}";
    TEST_CHECK(ts_pattern_match_refs(p, good, strlen(good), v, 2));
    TEST_CHECK(v[0].type == TS_PATTERN_VALUE_STRING && v[0].raw_len == 1);
    ts_pattern_destroy(p);

    p = compile_s("[ip, user, ..., status = 4*, bytes]", err, sizeof(err));
    TEST_ASSERT(p != NULL);
    TEST_CHECK(ts_pattern_add_ref(p, "$bytes", 6, err, sizeof(err)) == 0);
    TEST_CHECK(ts_pattern_add_ref(p, "$3", 2, err, sizeof(err)) == 1);
    TEST_CHECK(ts_pattern_add_ref(p, "$user", 5, err, sizeof(err)) == 2);
    TEST_CHECK(ts_pattern_add_ref(p, "$nope", 5, err, sizeof(err)) == TS_EINVAL);
    TEST_CHECK(ts_pattern_add_ref(p, "$0", 2, err, sizeof(err)) == TS_EINVAL);
    TEST_CHECK(ts_pattern_add_ref(p, "$.x", 3, err, sizeof(err)) == TS_EINVAL);
    const char *line = "10.0.0.1 bob \"GET /\" x y 404 1534";
    TEST_ASSERT(ts_pattern_match_refs(p, line, strlen(line), v, 3));
    TEST_CHECK(ts_pattern_value_number(&v[0], &d) == 0 && d == 1534);
    TEST_CHECK(ts_pattern_value_text(&v[1], text, sizeof(text), NULL) == 0);
    TEST_CHECK_(strcmp(text, "GET /") == 0, "%s", text);
    TEST_CHECK(ts_pattern_value_text(&v[2], text, sizeof(text), NULL) == 0);
    TEST_CHECK(strcmp(text, "bob") == 0);
    /* a short line: $3 is the status field, resolved through the tail */
    line = "10.0.0.1 bob 404 1";
    TEST_ASSERT(ts_pattern_match_refs(p, line, strlen(line), v, 3));
    TEST_CHECK(ts_pattern_value_text(&v[1], text, sizeof(text), NULL) == 0);
    TEST_CHECK(strcmp(text, "404") == 0);
    ts_pattern_destroy(p);

    p = compile_s("ERROR", err, sizeof(err));
    TEST_CHECK(ts_pattern_add_ref(p, "$.a", 3, err, sizeof(err)) == TS_EINVAL);
    cJSON *got = cJSON_CreateObject();
    TEST_CHECK(ts_pattern_test(p, "an ERROR", 8, collect, got) == 1);
    TEST_CHECK(cJSON_GetArraySize(got) == 0);
    TEST_CHECK(ts_pattern_test(p, "fine", 4, collect, got) == 0);
    cJSON_Delete(got);
    ts_pattern_destroy(p);

    /* JSON extractedValues: the selectors the pattern uses that hold scalars */
    p = compile_s("{ $.a = 1 && ($.b.c = * || $.d NOT EXISTS) && $.o NOT EXISTS }", err,
                  sizeof(err));
    TEST_ASSERT(p != NULL);
    got = cJSON_CreateObject();
    const char *jev = "{\"a\":1,\"b\":{\"c\":\"x\\ty\"}}";
    TEST_CHECK(ts_pattern_test(p, jev, strlen(jev), collect, got) == 1);
    char *s = cJSON_PrintUnformatted(got);
    TEST_CHECK_(strcmp(s, "{\"$.a\":\"1\",\"$.b.c\":\"x\\ty\"}") == 0, "%s", s);
    cJSON_free(s);
    cJSON_Delete(got);
    ts_pattern_destroy(p);
}

/* ------------------------------------------------------------ property test */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const KEYS[] = {"a", "b", "c", "eventName", "x-y", "n"};
static const char *const STRS[] = {"", "ab", "abc", "Console", "ConsoleLogin", "b c", "12",
                                   "x\\\"y", "caf\\u00e9"};
static const char *const NUMS[] = {"0", "12", "12.0", "-3", "1e2", "7.25", "100"};

static void gen_scalar(struct ts_buf *b)
{
    switch (rnd(6)) {
    case 0:
    case 1:
        ts_buf_addf(b, "\"%s\"", STRS[rnd(TS_ARRAY_LEN(STRS))]);
        break;
    case 2:
    case 3:
        ts_buf_adds(b, NUMS[rnd(TS_ARRAY_LEN(NUMS))]);
        break;
    case 4:
        ts_buf_adds(b, rnd(2) ? "true" : "false");
        break;
    default:
        ts_buf_adds(b, "null");
        break;
    }
}

static void gen_value(struct ts_buf *b, int depth);

static void gen_object(struct ts_buf *b, int depth)
{
    int n = (int)rnd(5);
    ts_buf_addc(b, '{');
    for (int k = 0; k < n; k++) {
        ts_buf_addf(b, "%s%s\"%s\"%s:%s", k ? "," : "", rnd(4) ? "" : " ",
                    KEYS[rnd(TS_ARRAY_LEN(KEYS))], rnd(4) ? "" : " ", rnd(4) ? "" : "\n");
        gen_value(b, depth + 1);
    }
    ts_buf_addc(b, '}');
}

static void gen_value(struct ts_buf *b, int depth)
{
    uint32_t r = rnd(10);
    if (depth < 3 && r < 2) {
        gen_object(b, depth);
    } else if (depth < 3 && r < 3) {
        int n = (int)rnd(4);
        ts_buf_addc(b, '[');
        for (int k = 0; k < n; k++) {
            if (k) {
                ts_buf_addc(b, ',');
            }
            gen_value(b, depth + 1);
        }
        ts_buf_addc(b, ']');
    } else {
        gen_scalar(b);
    }
}

static void gen_selector(struct ts_buf *b)
{
    int parts = 1 + (int)rnd(2);
    ts_buf_adds(b, "$");
    for (int k = 0; k < parts; k++) {
        if (k && rnd(4) == 0) {
            ts_buf_addf(b, "[%u]", rnd(3));
        } else {
            ts_buf_addf(b, ".%s", KEYS[rnd(TS_ARRAY_LEN(KEYS))]);
        }
    }
}

static void gen_condition(struct ts_buf *b)
{
    static const char *const VALS[] = {"ab", "\"ab\"", "Console*", "*Login", "*on*", "*",
                                       "\"*\"", "12", "\"12\"", "12.0", "\"12.0\"", "true",
                                       "\"\"", "-3", "1e2", "%^C%", "%b$%"};
    static const char *const NUM_VALS[] = {"0", "12", "-3", "100", "7.25", "+1", "1e1"};
    gen_selector(b);
    switch (rnd(8)) {
    case 0:
        ts_buf_adds(b, " NOT EXISTS");
        break;
    case 1:
        ts_buf_adds(b, rnd(3) == 0 ? " IS NULL" : (rnd(2) ? " IS TRUE" : " IS FALSE"));
        break;
    case 2:
    case 3: {
        static const char *const OPS[] = {"<", "<=", ">", ">=", "=", "!="};
        ts_buf_addf(b, " %s %s", OPS[rnd(6)], NUM_VALS[rnd(TS_ARRAY_LEN(NUM_VALS))]);
        break;
    }
    default:
        ts_buf_addf(b, " %s %s", rnd(3) ? "=" : "!=", VALS[rnd(TS_ARRAY_LEN(VALS))]);
        break;
    }
}

static bool match_text(const char *pattern, const char *ev)
{
    char err[TS_PATTERN_ERR_LEN];
    struct ts_pattern *p = compile_s(pattern, err, sizeof(err));
    if (!p) {
        TEST_CHECK_(false, "generated pattern %s: %s", pattern, err);
        return false;
    }
    bool m = ts_pattern_match(p, ev, strlen(ev));
    ts_pattern_destroy(p);
    return m;
}

/* The oracle for one condition, over a cJSON DOM: resolves the selector the slow way. */
static const cJSON *oracle_resolve(const cJSON *doc, const char *sel, bool *missing)
{
    const cJSON *cur = doc;
    const char *s = sel + 1;
    *missing = false;
    while (*s == '.' || *s == '[') {
        if (*s == '.') {
            char name[64];
            size_t n = 0;
            s++;
            while (*s && *s != '.' && *s != '[' && *s != ' ' && n < sizeof(name) - 1) {
                name[n++] = *s++;
            }
            name[n] = '\0';
            cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, name) : NULL;
        } else {
            int idx = (int)strtol(s + 1, NULL, 10);
            s = strchr(s, ']') + 1;
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, idx) : NULL;
        }
        if (!cur) {
            *missing = true;
            return NULL;
        }
    }
    return cur;
}

static void test_property_and_or(void)
{
    struct ts_buf ev, a, b, pat;
    ts_buf_init(&ev, 1 << 16);
    ts_buf_init(&a, 1024);
    ts_buf_init(&b, 1024);
    ts_buf_init(&pat, 4096);
    int oracle_checks = 0;
    for (int iter = 0; iter < 1500; iter++) {
        ts_buf_reset(&ev);
        ts_buf_reset(&a);
        ts_buf_reset(&b);
        gen_object(&ev, 0);
        gen_condition(&a);
        gen_condition(&b);
        ts_buf_reset(&pat);
        ts_buf_addf(&pat, "{ %s }", a.data);
        bool ma = match_text(pat.data, ev.data);
        ts_buf_reset(&pat);
        ts_buf_addf(&pat, "{ %s }", b.data);
        bool mb = match_text(pat.data, ev.data);
        ts_buf_reset(&pat);
        ts_buf_addf(&pat, "{ %s && %s }", a.data, b.data);
        TEST_CHECK_(match_text(pat.data, ev.data) == (ma && mb), "%s on %s", pat.data,
                    ev.data);
        ts_buf_reset(&pat);
        ts_buf_addf(&pat, "{ %s || %s }", a.data, b.data);
        TEST_CHECK_(match_text(pat.data, ev.data) == (ma || mb), "%s on %s", pat.data,
                    ev.data);
        /* the longer forms repeat conditions; skip them past the 2-regex quota */
        int ra = strchr(a.data, '%') ? 1 : 0, rb = strchr(b.data, '%') ? 1 : 0;
        if (2 * (ra + rb) <= TS_PATTERN_MAX_REGEX) {
            ts_buf_reset(&pat);
            ts_buf_addf(&pat, "{ (%s) && ((%s)) || %s && %s }", a.data, b.data, b.data, a.data);
            TEST_CHECK_(match_text(pat.data, ev.data) == (ma && mb), "%s", pat.data);
        }
        if (2 * ra + rb <= TS_PATTERN_MAX_REGEX) {
            ts_buf_reset(&pat);
            ts_buf_addf(&pat, "{ %s || %s && %s }", a.data, a.data, b.data);
            TEST_CHECK_(match_text(pat.data, ev.data) == ma, "precedence %s", pat.data);
        }

        /* cJSON oracle for conditions with plain string/existence semantics */
        cJSON *doc = cJSON_Parse(ev.data);
        TEST_ASSERT(doc != NULL);
        bool missing;
        const cJSON *v = oracle_resolve(doc, a.data, &missing);
        const char *op = strchr(a.data, ' ') + 1;
        int want = -1;
        if (strcmp(op, "NOT EXISTS") == 0) {
            want = missing;
        } else if (strcmp(op, "IS NULL") == 0) {
            want = v && cJSON_IsNull(v);
        } else if (strcmp(op, "IS TRUE") == 0) {
            want = v && cJSON_IsTrue(v);
        } else if (strcmp(op, "= \"ab\"") == 0 || strcmp(op, "= ab") == 0) {
            want = v && cJSON_IsString(v) && strcmp(v->valuestring, "ab") == 0;
        } else if (strcmp(op, "= Console*") == 0) {
            want = v && cJSON_IsString(v) && strncmp(v->valuestring, "Console", 7) == 0;
        } else if (strcmp(op, "> 7.25") == 0) {
            want = v && cJSON_IsNumber(v) && v->valuedouble > 7.25;
        } else if (strcmp(op, "= *") == 0) {
            want = v && !cJSON_IsNull(v) && !cJSON_IsObject(v) && !cJSON_IsArray(v);
        }
        if (want >= 0) {
            ts_buf_reset(&pat);
            ts_buf_addf(&pat, "{ %s }", a.data);
            TEST_CHECK_(ma == (want == 1), "oracle: %s on %s", pat.data, ev.data);
            oracle_checks++;
        }
        cJSON_Delete(doc);
    }
    TEST_MSG("%d oracle checks", oracle_checks);
    TEST_CHECK(oracle_checks > 100);
    ts_buf_free(&ev);
    ts_buf_free(&a);
    ts_buf_free(&b);
    ts_buf_free(&pat);
}

/* ------------------------------------------------------------ robustness */

static void test_random_inputs(void)
{
    static const char *const seeds[] = {
        "{ ($.a = 1) && ($.b != \"x*\") || $.c[0].d NOT EXISTS }",
        "[ip, user, ..., status = 4* || status = %^5%, bytes > 10]",
        "?ERROR -WARN \"a b\" ?x",
        "%^[a-z]{2,4}\\d+$|x?y*%",
        "{ $.a IS NULL && $.b IS TRUE }",
    };
    static const char alphabet[] = "{}[]()$.*%\"\\ ,=!<>&|?-aZ09_\t\xc3\xa9";
    char err[TS_PATTERN_ERR_LEN];
    char buf[300];
    const char *msgs[] = {"{\"a\":1,\"b\":\"xy\",\"c\":[{\"d\":null}]}", "1.2.3.4 u a b 404 99",
                          "ERROR a b", "", "{", "[x \"y"};
    int compiled = 0;
    for (int iter = 0; iter < 20000; iter++) {
        const char *seed = seeds[rnd(TS_ARRAY_LEN(seeds))];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)rnd(4);
        for (int e = 0; e < edits; e++) {
            size_t at = rnd((uint32_t)n + 1);
            char ch = alphabet[rnd(sizeof(alphabet) - 1)];
            switch (rnd(3)) {
            case 0: /* replace */
                if (at < n) {
                    buf[at] = ch;
                }
                break;
            case 1: /* insert */
                if (n + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = ch;
                    n++;
                }
                break;
            default: /* delete */
                if (at < n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            }
        }
        struct ts_pattern *p = NULL;
        int r = ts_pattern_compile(buf, n, &p, err, sizeof(err));
        TEST_CHECK(r == 0 || (r == TS_EINVAL && err[0] && p == NULL));
        if (p) {
            compiled++;
            for (size_t k = 0; k < TS_ARRAY_LEN(msgs); k++) {
                ts_pattern_match(p, msgs[k], strlen(msgs[k]));
            }
            ts_pattern_destroy(p);
        }
    }
    TEST_MSG("%d of 20000 mutated patterns compiled", compiled);
}

static void test_alloc_failure(void)
{
    const char *pat = "{ ($.a.b = \"x*\") || ($.c[1] > 3) && $.d = %^a+$% }";
    char err[TS_PATTERN_ERR_LEN];
    for (long nth = 1; nth < 200; nth++) {
        struct ts_pattern *p = NULL;
        ts_mem_fail_after(nth);
        int r = ts_pattern_compile(pat, strlen(pat), &p, err, sizeof(err));
        ts_mem_fail_after(0);
        TEST_CHECK_(r == 0 || r == TS_ENOMEM, "nth %ld: %d", nth, r);
        if (r == 0) {
            TEST_CHECK(ts_pattern_match(p, "{\"a\":{\"b\":\"xz\"}}", 16));
            ts_pattern_destroy(p);
            break;
        }
    }
}

TEST_LIST = {
    {"reference_vectors", test_reference_vectors},
    {"cis_patterns", test_cis_patterns},
    {"invalid_patterns", test_invalid_patterns},
    {"limits", test_limits},
    {"terms_and_kinds", test_terms_and_kinds},
    {"json_semantics", test_json_semantics},
    {"space_semantics", test_space_semantics},
    {"regex", test_regex},
    {"refs_and_extraction", test_refs},
    {"property_and_or", test_property_and_or},
    {"random_inputs", test_random_inputs},
    {"alloc_failure", test_alloc_failure},
    {NULL, NULL},
};
