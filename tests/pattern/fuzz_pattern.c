/*
 * fuzz_pattern.c - libFuzzer target for the filter pattern compiler and evaluator.
 *
 * Input: "<pattern>\n<message>" (no newline: the whole input is the pattern, matched against
 * itself). Every pattern goes through the compiler; a compiled one is matched against the
 * message, asked for references (JSON and space-delimited ones) and run through
 * ts_pattern_test, so the scanner, tokenizer, regex NFA and extraction all see fuzzed data.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trailstream/ts_core.h"
#include "trailstream/ts_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const char *key, size_t key_len, const char *val, size_t val_len)
{
    size_t *total = ctx;
    *total += key_len + val_len + (key_len ? (unsigned char)key[0] : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t plen = nl ? (size_t)(nl - text) : size;
    const char *msg = nl ? nl + 1 : text;
    size_t mlen = nl ? size - plen - 1 : size;
    struct ts_pattern *p = NULL;
    char err[TS_PATTERN_ERR_LEN];
    int r = ts_pattern_compile(text, plen, &p, err, sizeof(err));
    if (r != 0) {
        if (r == TS_EINVAL && err[0] == '\0') {
            __builtin_trap(); /* every rejection must name the problem */
        }
        return 0;
    }
    bool m = ts_pattern_match(p, msg, mlen);
    static const char *const refs[] = {"$.a", "$.a.b[1]", "$1", "$2", "$a", "$b"};
    for (size_t k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
        (void)ts_pattern_add_ref(p, refs[k], strlen(refs[k]), err, sizeof(err));
    }
    struct ts_pattern_value vals[8];
    if (ts_pattern_match_refs(p, msg, mlen, vals, 8) != m) {
        __builtin_trap(); /* references never change the outcome */
    }
    if (m) {
        char out[64];
        double d;
        for (int k = 0; k < ts_pattern_ref_count(p); k++) {
            (void)ts_pattern_value_text(&vals[k], out, sizeof(out), NULL);
            (void)ts_pattern_value_number(&vals[k], &d);
        }
    }
    size_t total = 0;
    r = ts_pattern_test(p, msg, mlen, sink, &total);
    if (r >= 0 && (r == 1) != m) {
        __builtin_trap(); /* TestMetricFilter agrees with matching */
    }
    ts_pattern_destroy(p);
    return 0;
}
