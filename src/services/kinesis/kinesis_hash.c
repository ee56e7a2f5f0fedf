/*
 * kinesis_hash.c - the 128-bit hash key space: MD5 of partition keys, decimal hash keys and
 * the even split of the space into shard ranges.
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html (routing)
 */
#include "kinesis_int.h"

#include <string.h>

int kin_u128_parse(const char *s, kin_u128 *out)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 39 || (n > 1 && s[0] == '0')) {
        return TS_EINVAL;
    }
    kin_u128 v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return TS_EINVAL;
        }
        kin_u128 d = (kin_u128)(s[i] - '0');
        if (v > (KIN_U128_MAX - d) / 10) {
            return TS_EINVAL;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void kin_u128_format(kin_u128 v, char *out)
{
    char tmp[KIN_U128_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
}

/* MD5 (RFC 1321) for partition keys. OpenSSL's EVP_Digest costs ~5 us per call in context
 * set-up alone, which is most of a 500-record PutRecords; keys are at most 1 KiB, so a plain
 * implementation is ~20x faster. Checked against ts_md5 in tests/unit/kinesis. */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t md5_r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = d;
        d = c;
        c = b;
        uint32_t x = a + f + md5_k[i] + w[g];
        b = b + (x << md5_r[i] | x >> (32 - md5_r[i]));
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void kin_md5(const void *data, size_t len, uint8_t out[TS_MD5_LEN])
{
    const uint8_t *p = data;
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        md5_block(h, p + i);
    }
    uint8_t tail[128];
    size_t rest = len - i;
    memcpy(tail, p + i, rest);
    tail[rest] = 0x80;
    size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tlen - rest - 1);
    uint64_t bits = (uint64_t)len * 8;
    for (int b = 0; b < 8; b++) {
        tail[tlen - 8 + b] = (uint8_t)(bits >> (8 * b));
    }
    md5_block(h, tail);
    if (tlen == 128) {
        md5_block(h, tail + 64);
    }
    for (int j = 0; j < 4; j++) {
        for (int b = 0; b < 4; b++) {
            out[4 * j + b] = (uint8_t)(h[j] >> (8 * b));
        }
    }
}

kin_u128 kin_hash_key(const char *pk, size_t len)
{
    uint8_t md[TS_MD5_LEN];
    kin_md5(pk, len, md);
    kin_u128 v = 0;
    for (int i = 0; i < TS_MD5_LEN; i++) {
        v = v << 8 | md[i];
    }
    return v;
}

/* floor(2^128 / n) without 129-bit arithmetic: 2^128 = MAX + 1. */
static kin_u128 range_step(uint32_t n)
{
    kin_u128 q = KIN_U128_MAX / n;
    return q + (KIN_U128_MAX % n == (kin_u128)(n - 1) ? 1 : 0);
}

kin_u128 kin_range_start(uint32_t i, uint32_t n)
{
    return (kin_u128)i * range_step(n);
}

kin_u128 kin_range_end(uint32_t i, uint32_t n)
{
    if (i + 1 >= n) {
        return KIN_U128_MAX;
    }
    return (kin_u128)(i + 1) * range_step(n) - 1;
}
