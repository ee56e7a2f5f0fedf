/*
 * logs_put_parse.c - the PutLogEvents request body, parsed straight into store records.
 *
 * PutLogEvents is the ingestion hot path: a 1 MB body of 10,000 events would cost a DOM of
 * 30,000 nodes and as many allocations. This strict JSON parser (RFC 8259) walks the body
 * once and decodes each message directly into the record buffer that is appended to the
 * store: [8-byte little-endian timestamp][message bytes] per event. Unknown members are
 * validated and skipped. See docs/logs.md.
 */
#include <pthread.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_BLOCK_DECODER 1
#endif

#include "logs_int.h"

#define MAX_DEPTH 64

struct parser {
    const char *start;
    const char *p;
    const char *end;
    struct ts_aws_error *err;
    int depth;
    int decoder; /* the string decoder, chosen once per body (DECODER_*) */
};

static int syntax(struct parser *ps, const char *what)
{
    return ts_aws_fail(ps->err, "SerializationException",
                       "Request body is not valid JSON: %s at byte %ld.", what,
                       (long)(ps->p - ps->start));
}

static void ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

#if defined(HAVE_BLOCK_DECODER)
/* ---- Block decoders: 64 bytes of string per step, escapes removed without branches.
 *
 * A CloudTrail record sent as a log message is JSON inside a JSON string: every quote of the
 * record arrives as \", one every 5-15 bytes. Decoding escape by escape costs a search, a copy
 * and a branch each. Instead, each 64-byte block yields bit masks (backslash, quote, solidus,
 * control character); block_plan turns them into the bytes to keep, and the kept bytes are
 * compacted in one step: VPCOMPRESSB where the CPU has AVX-512 VBMI2, else 8 bytes at a time
 * with PSHUFB and a 256-entry table of shuffle indices (SSSE3). A block is processed up to the
 * first byte the scalar path must see: the closing quote, a control character, or an escape
 * other than \" \\ \/ (\n, \u..., a bad escape). The CPU is checked at run time. */

enum { DECODER_PORTABLE, DECODER_SSSE3, DECODER_AVX512 };

static uint64_t keep_shuffle[256]; /* byte i: index of the i-th kept byte of an 8-byte lane */
static int decoder_best, decoder_used;
static pthread_once_t decoder_once = PTHREAD_ONCE_INIT;

static void decoder_init(void)
{
    for (unsigned m = 0; m < 256; m++) {
        uint64_t idx = 0;
        unsigned k = 0;
        for (unsigned b = 0; b < 8; b++) {
            if (m & (1u << b)) {
                idx |= (uint64_t)b << (8 * k++);
            }
        }
        keep_shuffle[m] = idx;
    }
    __builtin_cpu_init();
    decoder_best = DECODER_PORTABLE;
    if (__builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt")) {
        decoder_best = DECODER_SSSE3;
    }
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2")) {
        decoder_best = DECODER_AVX512;
    }
    decoder_used = decoder_best;
}

/* From one block's masks (bit i = byte i): the bytes to decode (*len, 63 or 64 unless a stop
 * comes first), which of them to keep (the escaping backslashes are dropped), and the stop
 * mask (nonzero: the block ends at its first bit, where the scalar path takes over). */
static inline uint64_t block_plan(uint64_t bs, uint64_t qt, uint64_t sl, uint64_t ct,
                                  uint64_t *keep, unsigned *len)
{
    /* The escaping backslashes: in each run of backslashes, those at the run's start parity
     * (the first, third, ...). Runs starting on an even bit are found by adding their start
     * bits to the run mask: the carry clears exactly those runs. */
    const uint64_t even = 0x5555555555555555ull;
    uint64_t starts = bs & ~(bs << 1);
    uint64_t even_runs = ((bs + (starts & even)) ^ bs) & bs;
    uint64_t removed = (even_runs & even) | (bs & ~even_runs & ~even);
    uint64_t escaped = removed << 1;
    unsigned n = 64;
    if (removed >> 63) {
        n = 63; /* its escaped byte is in the next block: start there */
        removed &= ~(1ull << 63);
    }
    uint64_t stop = (qt & ~escaped) | ct | ((escaped & ~(bs | qt | sl)) >> 1);
    if (stop) {
        n = (unsigned)__builtin_ctzll(stop); /* below 63 unless n was 64 */
    }
    *keep = ~removed & (n == 64 ? ~0ull : (1ull << n) - 1);
    *len = n;
    return stop;
}

__attribute__((target("ssse3,popcnt"))) static inline uint64_t
byte_mask(__m128i v0, __m128i v1, __m128i v2, __m128i v3, __m128i c)
{
    return (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, c)) |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, c)) << 16 |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v2, c)) << 32 |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v3, c)) << 48;
}

/* unsigned byte < 0x20, as a signed compare with both sides flipped by 0x80 */
__attribute__((target("ssse3,popcnt"))) static inline uint64_t
ctl_mask(__m128i v0, __m128i v1, __m128i v2, __m128i v3)
{
    const __m128i sign = _mm_set1_epi8((char)0x80), lim = _mm_set1_epi8((char)(0x20 ^ 0x80));
    return (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_xor_si128(v0, sign), lim)) |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_xor_si128(v1, sign), lim))
               << 16 |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_xor_si128(v2, sign), lim))
               << 32 |
           (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_xor_si128(v3, sign), lim))
               << 48;
}

/* Writes the bytes of v whose bits are set in keep (16 bits) at o; returns the new o. Writes
 * up to 16 bytes: the caller guarantees the room (output never outruns input). */
__attribute__((target("ssse3,popcnt"))) static inline char *compact16(char *o, __m128i v,
                                                                     unsigned keep)
{
    unsigned lo = keep & 0xFF, hi = keep >> 8;
    __m128i shuf = _mm_set_epi64x((long long)(keep_shuffle[hi] + 0x0808080808080808ull),
                                  (long long)keep_shuffle[lo]);
    __m128i r = _mm_shuffle_epi8(v, shuf);
    _mm_storel_epi64((__m128i *)(void *)o, r);
    o += __builtin_popcount(lo);
    _mm_storel_epi64((__m128i *)(void *)o, _mm_srli_si128(r, 8));
    return o + __builtin_popcount(hi);
}

/* The decoders: whole 64-byte blocks of string text from *pp (inside a string) into *op while
 * at least 64 bytes of body remain, up to the first byte the scalar path must handle. Both
 * advance the pointers past what they decoded. Output writes may run up to 64 bytes past the
 * decoded text: the output has as much room as the input has bytes left. */
__attribute__((target("ssse3,popcnt"))) static void decode_ssse3(const char **pp,
                                                                 const char *end, char **op)
{
    const char *p = *pp;
    char *o = *op;
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    const __m128i solidus = _mm_set1_epi8('/');
    while (end - p >= 64) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
        __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
        uint64_t bs = byte_mask(v0, v1, v2, v3, slash);
        uint64_t qt = byte_mask(v0, v1, v2, v3, quote);
        uint64_t ct = ctl_mask(v0, v1, v2, v3);
        if ((bs | qt | ct) == 0) {
            _mm_storeu_si128((__m128i *)(void *)o, v0);
            _mm_storeu_si128((__m128i *)(void *)(o + 16), v1);
            _mm_storeu_si128((__m128i *)(void *)(o + 32), v2);
            _mm_storeu_si128((__m128i *)(void *)(o + 48), v3);
            o += 64;
            p += 64;
            continue;
        }
        uint64_t keep;
        unsigned len;
        uint64_t stop = block_plan(bs, qt, byte_mask(v0, v1, v2, v3, solidus), ct, &keep, &len);
        o = compact16(o, v0, (unsigned)(keep & 0xFFFF));
        o = compact16(o, v1, (unsigned)((keep >> 16) & 0xFFFF));
        o = compact16(o, v2, (unsigned)((keep >> 32) & 0xFFFF));
        o = compact16(o, v3, (unsigned)(keep >> 48));
        p += len;
        if (stop) {
            break;
        }
    }
    *pp = p;
    *op = o;
}

__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) static void
decode_avx512(const char **pp, const char *end, char **op)
{
    const char *p = *pp;
    char *o = *op;
    const __m512i quote = _mm512_set1_epi8('"'), slash = _mm512_set1_epi8('\\');
    const __m512i solidus = _mm512_set1_epi8('/'), space = _mm512_set1_epi8(0x20);
    while (end - p >= 64) {
        /* By now the body is out of the near caches (SHA-256 has read all of it since it
         * arrived), and with the hardware prefetcher alone the loads waited: 1 KiB ahead cut
         * this loop's share of the server's CPU from ~7.7% to ~6.7%. */
        _mm_prefetch(p + 1024, _MM_HINT_T0);
        __m512i v = _mm512_loadu_si512((const void *)p);
        uint64_t bs = _mm512_cmpeq_epi8_mask(v, slash);
        uint64_t qt = _mm512_cmpeq_epi8_mask(v, quote);
        uint64_t ct = _mm512_cmplt_epu8_mask(v, space);
        if ((bs | qt | ct) == 0) {
            _mm512_storeu_si512((void *)o, v);
            o += 64;
            p += 64;
            continue;
        }
        uint64_t keep;
        unsigned len;
        uint64_t stop = block_plan(bs, qt, _mm512_cmpeq_epi8_mask(v, solidus), ct, &keep, &len);
        _mm512_storeu_si512((void *)o, _mm512_maskz_compress_epi8(keep, v));
        o += __builtin_popcountll(keep);
        p += len;
        if (stop) {
            break;
        }
    }
    *pp = p;
    *op = o;
}
#endif

/* Parses a string at ps->p (which is at the opening quote). Decoded bytes are appended to out
 * when out is not NULL; *n gets the decoded length either way. The caller has reserved room
 * in out for the rest of the body: a decoded string is never longer than its JSON text, so
 * bytes are written without per-byte capacity checks. */
static int parse_string(struct parser *ps, struct ts_buf *out, size_t *n)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        return syntax(ps, "expected a string");
    }
    ps->p++;
    size_t count = 0;
    char *o = NULL;
    if (out) {
        if ((size_t)(ps->end - ps->p) > out->cap - out->len - 1) {
            return ts_aws_fail(ps->err, "InvalidParameterException",
                               "Upload too large: the request exceeds the batch limit.");
        }
        o = out->data + out->len;
    }
#if defined(HAVE_BLOCK_DECODER)
    int decoder = o ? ps->decoder : DECODER_PORTABLE;
#endif
    for (;;) {
#if defined(HAVE_BLOCK_DECODER)
        if (decoder != DECODER_PORTABLE && ps->end - ps->p >= 64) {
            char *w = o + count;
            if (decoder == DECODER_AVX512) {
                decode_avx512(&ps->p, ps->end, &w);
            } else {
                decode_ssse3(&ps->p, ps->end, &w);
            }
            count = (size_t)(w - o);
        }
#endif
        /* the run of plain characters is copied in one go */
        const char *run = ps->p;
        const char *end = ps->end;
        const char *q = run;
#if defined(__SSE2__)
        /* 16 bytes at a time: find the first '"', '\\' or control character */
        {
            const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
            const __m128i space = _mm_set1_epi8(0x20), sign = _mm_set1_epi8((char)0x80);
            while (end - q >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
                /* unsigned v < 0x20 as a signed compare of both sides flipped by 0x80 */
                __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, sign),
                                             _mm_xor_si128(space, sign));
                __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                        _mm_cmpeq_epi8(v, slash)),
                                           ctl);
                int mask = _mm_movemask_epi8(hit);
                if (mask) {
                    q += __builtin_ctz((unsigned)mask);
                    break;
                }
                q += 16;
            }
        }
#endif
        /* 8 bytes at a time while none is '"', '\\' or a control character (SWAR tests) */
        while (end - q >= 8) {
            uint64_t w;
            memcpy(&w, q, 8);
            uint64_t quote = w ^ 0x2222222222222222ull, slash = w ^ 0x5c5c5c5c5c5c5c5cull;
            uint64_t hit = ((quote - 0x0101010101010101ull) & ~quote) |
                           ((slash - 0x0101010101010101ull) & ~slash) |
                           ((w - 0x2020202020202020ull) & ~w);
            if (hit & 0x8080808080808080ull) {
                break;
            }
            q += 8;
        }
        while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) {
            q++;
        }
        size_t rl = (size_t)(q - run);
        ps->p = q;
        if (rl) {
            if (o) {
#if defined(__SSE2__)
                /* Short runs (the norm between escaped quotes) move as one 16-byte store;
                 * the bytes past the run are overwritten by what follows. The output has at
                 * least as much room as input remains, so 16 bytes always fit here. */
                if (rl <= 16 && end - run >= 16) {
                    _mm_storeu_si128((__m128i *)(void *)(o + count),
                                     _mm_loadu_si128((const __m128i *)(const void *)run));
                } else {
                    memcpy(o + count, run, rl);
                }
#else
                memcpy(o + count, run, rl);
#endif
            }
            count += rl;
        }
        if (ps->p >= ps->end) {
            return syntax(ps, "unterminated string");
        }
        char c = *ps->p;
        if (c == '"') {
            ps->p++;
            *n = count;
            if (out) {
                out->len += count;
                out->data[out->len] = '\0';
            }
            return 0;
        }
        if ((unsigned char)c < 0x20) {
            return syntax(ps, "control character in a string");
        }
        /* an escape */
        if (ps->end - ps->p < 2) {
            return syntax(ps, "truncated escape");
        }
        char e = ps->p[1];
        if (e == '"' || e == '\\' || e == '/') {
            /* the common escapes, without the general path */
            if (o) {
                o[count] = e;
            }
            count++;
            ps->p += 2;
            continue;
        }
        char one = 0;
        uint8_t utf8[4];
        size_t ul = 0;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            one = e;
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp) != 0) {
                return syntax(ps, "bad \\u escape");
            }
            ps->p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    return syntax(ps, "unpaired surrogate");
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return syntax(ps, "unpaired surrogate");
            }
            if (cp < 0x80) {
                utf8[ul++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                utf8[ul++] = (uint8_t)(0xC0 | (cp >> 6));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                utf8[ul++] = (uint8_t)(0xE0 | (cp >> 12));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else {
                utf8[ul++] = (uint8_t)(0xF0 | (cp >> 18));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return syntax(ps, "bad escape");
        }
        if (e != 'u') {
            ps->p += 2;
            utf8[0] = (uint8_t)one;
            ul = 1;
        }
        /* every escape is at least as long as its UTF-8 encoding, so the room suffices */
        if (o) {
            memcpy(o + count, utf8, ul);
        }
        count += ul;
    }
}

/* Parses a JSON number; *integral tells whether it is a whole number fitting in int64. */
static int parse_number(struct parser *ps, int64_t *out, bool *integral)
{
    const char *s = ps->p;
    bool neg = false;
    if (ps->p < ps->end && *ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        return syntax(ps, "bad number");
    }
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9') {
        return syntax(ps, "leading zero");
    }
    uint64_t v = 0;
    bool overflow = false;
    const char *d = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        ps->p++;
    }
    if (ps->p - d <= 19) {
        /* 19 digits stay below 10^19 < 2^64: no check per digit */
        for (; d < ps->p; d++) {
            v = v * 10 + (unsigned)(*d - '0');
        }
    } else {
        overflow = true; /* over 19 digits (without a leading zero) exceeds INT64_MAX */
    }
    bool frac = false;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            return syntax(ps, "bad fraction");
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            frac |= *ps->p != '0';
            ps->p++;
        }
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) {
            ps->p++;
        }
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            return syntax(ps, "bad exponent");
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            ps->p++;
        }
        frac = true; /* exponents are not used for timestamps: treat as non-integral */
    }
    *integral = !frac && !overflow && v <= (uint64_t)INT64_MAX;
    *out = *integral ? (neg ? -(int64_t)v : (int64_t)v) : 0;
    TS_UNUSED(s);
    return 0;
}

static int skip_value(struct parser *ps);

static int expect_literal(struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) {
        return syntax(ps, "unexpected token");
    }
    ps->p += n;
    return 0;
}

static int skip_container(struct parser *ps, char close)
{
    if (++ps->depth > MAX_DEPTH) {
        return syntax(ps, "nested too deeply");
    }
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        int rc;
        if (close == '}') {
            size_t n;
            if ((rc = parse_string(ps, NULL, &n)) != 0) {
                return rc;
            }
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                return syntax(ps, "expected ':'");
            }
            ps->p++;
            ws(ps);
        }
        if ((rc = skip_value(ps)) != 0) {
            return rc;
        }
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return syntax(ps, "expected ',' or a closing bracket");
    }
}

static int skip_value(struct parser *ps)
{
    if (ps->p >= ps->end) {
        return syntax(ps, "unexpected end");
    }
    size_t n;
    int64_t v;
    bool integral;
    switch (*ps->p) {
    case '"':
        return parse_string(ps, NULL, &n);
    case '{':
        return skip_container(ps, '}');
    case '[':
        return skip_container(ps, ']');
    case 't':
        return expect_literal(ps, "true");
    case 'f':
        return expect_literal(ps, "false");
    case 'n':
        return expect_literal(ps, "null");
    default:
        return parse_number(ps, &v, &integral);
    }
}

/* Decodes the string at ps->p into buf when it fits; a longer string is consumed and
 * reported through *too_long (buf then holds "") so callers can refuse or ignore it. */
static int small_string(struct parser *ps, char *buf, size_t buf_len, bool *too_long)
{
    const char *at = ps->p;
    /* The common case, a short name or value without escapes, is copied as it stands. */
    if (at < ps->end && *at == '"') {
        const char *q = at + 1;
        const char *lim = ps->end - q > (ptrdiff_t)buf_len ? q + buf_len : ps->end;
        while (q < lim && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) {
            q++;
        }
        if (q < lim && *q == '"' && (size_t)(q - at - 1) < buf_len) {
            memcpy(buf, at + 1, (size_t)(q - at - 1));
            buf[q - at - 1] = '\0';
            *too_long = false;
            ps->p = q + 1;
            return 0;
        }
    }
    size_t n;
    int rc = parse_string(ps, NULL, &n);
    if (rc) {
        return rc;
    }
    *too_long = n >= buf_len;
    buf[0] = '\0';
    if (*too_long) {
        return 0;
    }
    /* Decode again, bounded to the string's own text, into a buffer of that size. */
    struct parser sub = *ps;
    sub.p = at;
    sub.end = ps->p;
    struct ts_buf b;
    ts_buf_init(&b, (size_t)(sub.end - sub.p));
    rc = ts_buf_reserve(&b, b.max);
    rc = rc ? rc : parse_string(&sub, &b, &n);
    if (!rc) {
        ts_strlcpy(buf, b.data ? b.data : "", buf_len);
    }
    ts_buf_free(&b);
    return rc;
}

/* A member name: an unknown long name reads as "" and is skipped by the callers. */
static int member_name(struct parser *ps, char *buf, size_t buf_len)
{
    bool too_long;
    return small_string(ps, buf, buf_len, &too_long);
}

static bool is_null(struct parser *ps)
{
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        return true;
    }
    return false;
}

/* A string member into a fixed buffer; *too_long is set (and buf left empty) when the value
 * does not fit, for the caller's length check. */
static int string_member(struct parser *ps, char *buf, size_t buf_len, bool *too_long,
                         const char *member)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        return ts_aws_fail(ps->err, "SerializationException", "Member '%s' must be a string.",
                           member);
    }
    return small_string(ps, buf, buf_len, too_long);
}

static int grow_events(struct logs_put_input *in)
{
    size_t cap = in->cap ? in->cap * 2 : 256;
    int64_t *ts = ts_realloc(in->ts, cap * sizeof(*ts));
    if (!ts) {
        return TS_ENOMEM;
    }
    in->ts = ts;
    size_t *off = ts_realloc(in->off, cap * sizeof(*off));
    if (!off) {
        return TS_ENOMEM;
    }
    in->off = off;
    size_t *len = ts_realloc(in->len, cap * sizeof(*len));
    if (!len) {
        return TS_ENOMEM;
    }
    in->len = len;
    uint32_t *crc = ts_realloc(in->crc, cap * sizeof(*crc));
    if (!crc) {
        return TS_ENOMEM;
    }
    in->crc = crc;
    in->cap = cap;
    return 0;
}

/* The 8-byte little-endian time in front of a message. */
static void put_time(char *at, int64_t ts)
{
    for (int b = 0; b < 8; b++) {
        at[b] = (char)((uint64_t)ts >> (8 * b));
    }
}

/* One {"timestamp": N, "message": "..."} object. */
static int parse_event(struct parser *ps, struct logs_put_input *in)
{
    if (ps->p >= ps->end || *ps->p != '{') {
        return ts_aws_fail(ps->err, "SerializationException",
                           "Each log event must be an object.");
    }
    if (in->n == TS_LOGS_MAX_BATCH_EVENTS) {
        return ts_aws_fail(ps->err, "InvalidParameterException",
                           "1 validation error detected: Value at 'logEvents' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10000");
    }
    if (in->n == in->cap && grow_events(in) != 0) {
        return ts_aws_fail(ps->err, "ServiceUnavailableException", "Out of memory.");
    }
    size_t i = in->n;
    bool have_ts = false, have_msg = false;
    int64_t ts = 0;
    uint32_t msg_crc = 0;
    bool crc_done = false; /* in->crc[i] covers [time][message] already */
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            enum { OTHER, TIMESTAMP, MESSAGE } member;
            /* the two members of every event, as they are nearly always written */
            if (ps->end - ps->p >= 11 && memcmp(ps->p, "\"timestamp\"", 11) == 0) {
                member = TIMESTAMP;
                ps->p += 11;
            } else if (ps->end - ps->p >= 9 && memcmp(ps->p, "\"message\"", 9) == 0) {
                member = MESSAGE;
                ps->p += 9;
            } else {
                char name[32];
                int rc = member_name(ps, name, sizeof(name));
                if (rc) {
                    return rc;
                }
                member = strcmp(name, "timestamp") == 0 ? TIMESTAMP
                         : strcmp(name, "message") == 0 ? MESSAGE
                                                          : OTHER;
            }
            int rc;
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                return syntax(ps, "expected ':'");
            }
            ps->p++;
            ws(ps);
            if (is_null(ps)) {
                /* null is absent */
            } else if (member == TIMESTAMP) {
                bool integral;
                if (ps->p >= ps->end || !(*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu].timestamp must be a number.", i);
                }
                if ((rc = parse_number(ps, &ts, &integral)) != 0) {
                    return rc;
                }
                if (!integral || ts < 0) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu]: timestamp must be a non-negative "
                                       "integer.",
                                       i);
                }
                have_ts = true;
                if (crc_done) {
                    /* a second timestamp after the message: the CRC is taken again at the end */
                    crc_done = false;
                    msg_crc = ts_crc32c(0, in->payload.data + in->off[i], in->len[i]);
                }
            } else if (member == MESSAGE) {
                if (ps->p >= ps->end || *ps->p != '"' || have_msg) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu].message must be a string.", i);
                }
                /* room for the store's record header and the timestamp, then the message
                 * decoded in place */
                static const uint8_t zero[TS_STORE_RECORD_OVERHEAD + 8] = {0};
                if (ts_buf_add(&in->payload, zero, sizeof(zero)) != 0) {
                    return ts_aws_fail(ps->err, "InvalidParameterException",
                                       "Upload too large: the request exceeds the batch "
                                       "limit.");
                }
                in->off[i] = in->payload.len;
                size_t n;
                if ((rc = parse_string(ps, &in->payload, &n)) != 0) {
                    return rc;
                }
                in->len[i] = n;
                /* The CRC now, while the bytes just decoded are in cache: the store then writes
                 * them without reading them again. With the time known (it usually comes
                 * first), of [time][message] at once; else of the message, joined later. */
                if (have_ts) {
                    put_time(in->payload.data + in->off[i] - 8, ts);
                    in->crc[i] = ts_crc32c(0, in->payload.data + in->off[i] - 8, 8 + n);
                    crc_done = true;
                } else {
                    msg_crc = ts_crc32c(0, in->payload.data + in->off[i], n);
                }
                have_msg = true;
            } else if ((rc = skip_value(ps)) != 0) {
                return rc;
            }
            ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                ws(ps);
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return syntax(ps, "expected ',' or '}'");
        }
    }
    if (!have_ts || !have_msg) {
        return ts_aws_fail(ps->err, "InvalidParameterException",
                           "1 validation error detected: Value null at 'logEvents.%zu.member.%s' "
                           "failed to satisfy constraint: Member must not be null",
                           i + 1, have_ts ? "message" : "timestamp");
    }
    if (!crc_done) {
        put_time(in->payload.data + in->off[i] - 8, ts);
        in->crc[i] = ts_crc32c_combine(ts_crc32c(0, in->payload.data + in->off[i] - 8, 8),
                                       msg_crc, in->len[i]);
    }
    in->ts[i] = ts;
    in->n++;
    return 0;
}

const char *logs_put_parse_decoder(const char *name)
{
#if defined(HAVE_BLOCK_DECODER)
    static const char *names[] = {"portable", "ssse3", "avx512"};
    pthread_once(&decoder_once, decoder_init);
    if (name) {
        for (int d = DECODER_PORTABLE; d <= decoder_best; d++) {
            if (strcmp(name, names[d]) == 0) {
                decoder_used = d;
                return names[d];
            }
        }
        return NULL;
    }
    return names[decoder_used];
#else
    return name == NULL || strcmp(name, "portable") == 0 ? "portable" : NULL;
#endif
}

int logs_put_parse(const char *body, size_t len, struct logs_put_input *in,
                   struct ts_aws_error *err)
{
    memset(in, 0, sizeof(*in));
    /* Decoded messages never exceed the body, and each takes at least the 12 bytes of
     * "message":"" of it, which bounds the room in front of them; the batch limit is checked
     * afterwards. */
    size_t messages = TS_MIN((size_t)TS_LOGS_MAX_BATCH_EVENTS, len / 12 + 1);
    size_t room = len + (TS_STORE_RECORD_OVERHEAD + 8) * messages;
    ts_buf_init(&in->payload, room);
    if (ts_buf_reserve(&in->payload, room) != 0) {
        return ts_aws_fail(err, "ServiceUnavailableException", "Out of memory.");
    }
    struct parser ps = {body, body, body + len, err, 0, 0};
#if defined(HAVE_BLOCK_DECODER)
    pthread_once(&decoder_once, decoder_init);
    ps.decoder = decoder_used;
#endif
    ws(&ps);
    if (ps.p >= ps.end) {
        return 0; /* an empty body is an empty object: the required members are missing */
    }
    if (*ps.p != '{') {
        return ts_aws_fail(err, "SerializationException", "Request body must be a JSON object.");
    }
    ps.p++;
    ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            char name[32];
            int rc = member_name(&ps, name, sizeof(name));
            if (rc) {
                return rc;
            }
            ws(&ps);
            if (ps.p >= ps.end || *ps.p != ':') {
                return syntax(&ps, "expected ':'");
            }
            ps.p++;
            ws(&ps);
            if (is_null(&ps)) {
                /* absent */
            } else if (strcmp(name, "logGroupName") == 0) {
                rc = string_member(&ps, in->group, sizeof(in->group), &in->group_too_long,
                                   "logGroupName");
                in->have_group = true;
            } else if (strcmp(name, "logStreamName") == 0) {
                rc = string_member(&ps, in->stream, sizeof(in->stream), &in->stream_too_long,
                                   "logStreamName");
                in->have_stream = true;
            } else if (strcmp(name, "logEvents") == 0) {
                if (ps.p >= ps.end || *ps.p != '[') {
                    return ts_aws_fail(err, "SerializationException",
                                       "logEvents must be a list.");
                }
                in->have_events = true;
                ps.p++;
                ws(&ps);
                if (ps.p < ps.end && *ps.p == ']') {
                    ps.p++;
                } else {
                    for (;;) {
                        if ((rc = parse_event(&ps, in)) != 0) {
                            return rc;
                        }
                        ws(&ps);
                        if (ps.p < ps.end && *ps.p == ',') {
                            ps.p++;
                            ws(&ps);
                            continue;
                        }
                        if (ps.p < ps.end && *ps.p == ']') {
                            ps.p++;
                            break;
                        }
                        return syntax(&ps, "expected ',' or ']'");
                    }
                }
            } else {
                /* sequenceToken (ignored, as AWS now does), entity, and unknown members */
                rc = skip_value(&ps);
            }
            if (rc) {
                return rc;
            }
            ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                ws(&ps);
                continue;
            }
            if (ps.p < ps.end && *ps.p == '}') {
                ps.p++;
                break;
            }
            return syntax(&ps, "expected ',' or '}'");
        }
    }
    ws(&ps);
    if (ps.p != ps.end) {
        return syntax(&ps, "trailing characters after the object");
    }
    return 0;
}

void logs_put_input_free(struct logs_put_input *in)
{
    ts_free(in->ts);
    ts_free(in->off);
    ts_free(in->len);
    ts_free(in->crc);
    ts_buf_free(&in->payload);
    memset(in, 0, sizeof(*in));
}
