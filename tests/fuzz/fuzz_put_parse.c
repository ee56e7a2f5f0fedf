/*
 * fuzz_put_parse.c - libFuzzer target: the PutLogEvents body parser, every string decoder.
 *
 * The input is a request body. It is parsed with each decoder this CPU has (portable, SSSE3,
 * AVX-512; see logs_put_parse.c): all must agree exactly, on success or failure, on the error
 * code, and on every event's timestamp and decoded message bytes. Any difference aborts.
 * Sanitizers check the decoders' reads and writes (a block decoder reads and writes 64 bytes
 * at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const DECODERS[] = {"portable", "ssse3", "avx512"};

struct outcome {
    int rc;
    struct ts_aws_error err;
    struct logs_put_input in;
};

static void same(const struct outcome *a, const struct outcome *b, const char *name)
{
    bool ok = a->rc == b->rc && strcmp(a->err.code, b->err.code) == 0;
    if (ok && a->rc == 0) {
        ok = a->in.n == b->in.n && strcmp(a->in.group, b->in.group) == 0 &&
             strcmp(a->in.stream, b->in.stream) == 0 &&
             a->in.group_too_long == b->in.group_too_long &&
             a->in.stream_too_long == b->in.stream_too_long;
        for (size_t i = 0; ok && i < a->in.n; i++) {
            ok = a->in.ts[i] == b->in.ts[i] && a->in.len[i] == b->in.len[i] &&
                 memcmp(a->in.payload.data + a->in.off[i], b->in.payload.data + b->in.off[i],
                        a->in.len[i]) == 0;
        }
    }
    if (!ok) {
        fprintf(stderr, "decoder %s disagrees with the portable one: rc %d/%d code '%s'/'%s'\n",
                name, a->rc, b->rc, a->err.code, b->err.code);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *best = logs_put_parse_decoder(NULL);
    struct outcome ref;
    memset(&ref, 0, sizeof(ref));
    logs_put_parse_decoder("portable");
    ref.rc = logs_put_parse((const char *)data, size, &ref.in, &ref.err);
    for (size_t d = 1; d < sizeof(DECODERS) / sizeof(DECODERS[0]); d++) {
        if (!logs_put_parse_decoder(DECODERS[d])) {
            continue;
        }
        struct outcome o;
        memset(&o, 0, sizeof(o));
        o.rc = logs_put_parse((const char *)data, size, &o.in, &o.err);
        same(&o, &ref, DECODERS[d]);
        logs_put_input_free(&o.in);
    }
    logs_put_input_free(&ref.in);
    logs_put_parse_decoder(best);
    return 0;
}
