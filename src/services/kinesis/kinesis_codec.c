/*
 * kinesis_codec.c - the byte-level codecs of the data plane, written for throughput: base64
 * straight into and out of caller buffers (no intermediate copies), JSON string escaping, and
 * the decimal numbers of a GetRecords/PutRecords body.
 *
 * Base64: RFC 4648 section 4, standard alphabet with padding (what the AWS SDKs send).
 */
#include "kinesis_int.h"

#include <pthread.h>
#include <string.h>

static const char enc_table[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static const uint8_t dec_table[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* Pairs of output characters for every 12-bit input value: two lookups per 3 input bytes
 * instead of four (base64 encoding is half of GetRecords' CPU). Built once. */
static uint16_t enc_pairs[4096];
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

static void enc_pairs_init(void)
{
    for (int i = 0; i < 4096; i++) {
        char two[2] = {enc_table[i >> 6], enc_table[i & 63]};
        memcpy(&enc_pairs[i], two, 2);
    }
}

size_t kin_b64_encode(const uint8_t *p, size_t n, char *out)
{
    pthread_once(&enc_once, enc_pairs_init);
    char *w = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(w, &enc_pairs[v >> 12], 2);
        memcpy(w + 2, &enc_pairs[v & 4095], 2);
        w += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        w[0] = enc_table[v >> 18];
        w[1] = enc_table[(v >> 12) & 63];
        w[2] = i + 1 < n ? enc_table[(v >> 6) & 63] : '=';
        w[3] = '=';
        w += 4;
    }
    return (size_t)(w - out);
}

/* Decoding tables: each input character's 6 bits already shifted into place for its position
 * in a quad, invalid characters flagged with bit 24 - one OR per quad checks all four. */
#define DEC_BAD 0x01000000u
static uint32_t dec0[256], dec1[256], dec2[256], dec3[256];
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void dec_init(void)
{
    for (int c = 0; c < 256; c++) {
        uint32_t v = dec_table[c];
        bool bad = v > 63;
        dec0[c] = bad ? DEC_BAD : v << 18;
        dec1[c] = bad ? DEC_BAD : v << 12;
        dec2[c] = bad ? DEC_BAD : v << 6;
        dec3[c] = bad ? DEC_BAD : v;
    }
}

int kin_b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
    pthread_once(&dec_once, dec_init);
    const uint8_t *in = (const uint8_t *)s;
    if (n % 4 != 0) {
        return TS_EINVAL;
    }
    if (n == 0) {
        *out_len = 0;
        return 0;
    }
    size_t pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    size_t full = n - 4; /* the last quad may carry padding */
    uint8_t *w = out;
    for (size_t i = 0; i < full; i += 4) {
        uint32_t v = dec0[in[i]] | dec1[in[i + 1]] | dec2[in[i + 2]] | dec3[in[i + 3]];
        if (v & DEC_BAD) {
            return TS_EINVAL;
        }
        w[0] = (uint8_t)(v >> 16);
        w[1] = (uint8_t)(v >> 8);
        w[2] = (uint8_t)v;
        w += 3;
    }
    uint32_t a = dec_table[in[full]], b = dec_table[in[full + 1]];
    uint32_t c = pad >= 2 ? 0 : dec_table[in[full + 2]];
    uint32_t d = pad >= 1 ? 0 : dec_table[in[full + 3]];
    if ((a | b | c | d) > 63 || (pad == 1 && in[full + 2] == '=')) {
        return TS_EINVAL;
    }
    uint32_t v = a << 18 | b << 12 | c << 6 | d;
    w[0] = (uint8_t)(v >> 16);
    if (pad < 2) {
        w[1] = (uint8_t)(v >> 8);
    }
    if (pad < 1) {
        w[2] = (uint8_t)v;
    }
    *out_len = (size_t)(w - out) + 3 - pad;
    return 0;
}

size_t kin_json_escape(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *w = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = (char)c;
        }
    }
    return (size_t)(w - out);
}

size_t kin_fmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

size_t kin_fmt_time(int64_t ms, char *out)
{
    if (ms < 0) {
        ms = 0;
    }
    size_t n = kin_fmt_u64((uint64_t)(ms / 1000), out);
    int frac = (int)(ms % 1000);
    out[n] = '.';
    out[n + 1] = (char)('0' + frac / 100);
    out[n + 2] = (char)('0' + frac / 10 % 10);
    out[n + 3] = (char)('0' + frac % 10);
    return n + 4;
}

/* ------------------------------------------------------------------ JSON scanning */

#define JSON_MAX_DEPTH 64

char kin_json_peek(struct kin_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
    return j->p < j->end ? *j->p : 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int kin_json_string(struct kin_json *j, const char **s, size_t *n, bool *escaped)
{
    if (kin_json_peek(j) != '"') {
        return TS_EPARSE;
    }
    const char *start = ++j->p;
    *escaped = false;
    for (;;) {
        /* Long runs without escapes (base64 data) go at memchr speed. */
        const char *q = memchr(j->p, '"', (size_t)(j->end - j->p));
        if (!q) {
            return TS_EPARSE;
        }
        const char *bs = memchr(j->p, '\\', (size_t)(q - j->p));
        if (!bs) {
            j->p = q + 1;
            break;
        }
        *escaped = true;
        if (bs + 1 >= j->end) {
            return TS_EPARSE;
        }
        char e = bs[1];
        if (e == 'u') {
            if (j->end - bs < 6 || !is_hex(bs[2]) || !is_hex(bs[3]) || !is_hex(bs[4]) ||
                !is_hex(bs[5])) {
                return TS_EPARSE;
            }
            j->p = bs + 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            j->p = bs + 2;
        } else {
            return TS_EPARSE;
        }
    }
    /* Control characters must be escaped; branch-free so the compiler can vectorize it. */
    unsigned bad = 0;
    for (const unsigned char *c = (const unsigned char *)start; c < (const unsigned char *)j->p - 1;
         c++) {
        bad |= *c < 0x20;
    }
    if (bad) {
        return TS_EPARSE;
    }
    *s = start;
    *n = (size_t)(j->p - 1 - start);
    return 0;
}

bool kin_json_null(struct kin_json *j)
{
    if (kin_json_peek(j) == 'n' && j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return true;
    }
    return false;
}

static int skip_value(struct kin_json *j, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        return TS_EPARSE;
    }
    char c = kin_json_peek(j);
    const char *s;
    size_t n;
    bool esc;
    if (c == '"') {
        return kin_json_string(j, &s, &n, &esc);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (kin_json_peek(j) == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (kin_json_string(j, &s, &n, &esc) || kin_json_peek(j) != ':') {
                    return TS_EPARSE;
                }
                j->p++;
            }
            if (skip_value(j, depth + 1)) {
                return TS_EPARSE;
            }
            char d = kin_json_peek(j);
            j->p++;
            if (d == close) {
                return 0;
            }
            if (d != ',') {
                return TS_EPARSE;
            }
        }
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lits[i], l) == 0) {
            j->p += l;
            return 0;
        }
    }
    const char *start = j->p;
    while (j->p < j->end && strchr("+-0123456789.eE", *j->p) && *j->p) {
        j->p++;
    }
    return j->p > start ? 0 : TS_EPARSE;
}

int kin_json_skip(struct kin_json *j)
{
    return skip_value(j, 0);
}

static uint32_t hex4(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

int kin_json_unescape(const char *s, size_t n, char *out, size_t *out_len)
{
    char *w = out;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            *w++ = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        if (e != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            *w++ = to[strchr(from, e) - from];
            continue;
        }
        uint32_t cp = hex4(s + i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u') {
                return TS_EPARSE;
            }
            uint32_t lo = hex4(s + i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) {
                return TS_EPARSE;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return TS_EPARSE;
        }
        /* UTF-8 of cp: never longer than its 6- or 12-byte escape */
        if (cp < 0x80) {
            *w++ = (char)cp;
        } else if (cp < 0x800) {
            *w++ = (char)(0xC0 | cp >> 6);
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *w++ = (char)(0xE0 | cp >> 12);
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *w++ = (char)(0xF0 | cp >> 18);
            *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    *out_len = (size_t)(w - out);
    return 0;
}
