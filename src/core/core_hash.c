/* core_hash.c - SHA-256, HMAC-SHA256 and MD5 over OpenSSL, CRC32C, hex, base64, randomness
 * (getrandom). */
#include "trailstream/ts_core.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <nmmintrin.h>
#include <wmmintrin.h>
#endif

/* Digests through EVP with the algorithms fetched once: EVP_sha256()/EVP_md5() and HMAC() fetch
 * the implementation on every call in OpenSSL 3, under a process-wide lock, and HMAC() also
 * builds a MAC context each time. A per-thread EVP_MD_CTX is reused. HMAC-SHA256 is RFC 2104
 * over that digest (checked against RFC 4231 in test_core_codec). */
static EVP_MD *md_sha256, *md_md5;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_ctx_key; /* the thread's EVP_MD_CTX, freed when the thread exits */
static bool md_ctx_key_ok;

static void md_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_ctx_key_ok = pthread_key_create(&md_ctx_key, md_ctx_free) == 0;
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (!md_ctx_key_ok) {
        return NULL;
    }
    EVP_MD_CTX *ctx = pthread_getspecific(md_ctx_key);
    if (!ctx && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(md_ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* One digest of up to two pieces (a || b) with the fetched md; falls back to EVP_Digest with
 * the built-in method if fetching or the context failed. */
static void digest2(const EVP_MD *md, const EVP_MD *fallback, const void *a, size_t an,
                    const void *b, size_t bn, uint8_t *out)
{
    unsigned int len = 0;
    EVP_MD_CTX *ctx = thread_ctx();
    if (md && ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
        EVP_DigestUpdate(ctx, a, an) == 1 && (!bn || EVP_DigestUpdate(ctx, b, bn) == 1) &&
        EVP_DigestFinal_ex(ctx, out, &len) == 1) {
        return;
    }
    EVP_MD_CTX *tmp = EVP_MD_CTX_new();
    if (tmp) {
        EVP_DigestInit_ex(tmp, fallback, NULL);
        EVP_DigestUpdate(tmp, a, an);
        if (bn) {
            EVP_DigestUpdate(tmp, b, bn);
        }
        EVP_DigestFinal_ex(tmp, out, &len);
        EVP_MD_CTX_free(tmp);
    }
}

void ts_sha256(const void *p, size_t n, uint8_t out[TS_SHA256_LEN])
{
    pthread_once(&md_once, md_init);
    digest2(md_sha256, EVP_sha256(), p, n, NULL, 0, out);
}

void ts_md5(const void *p, size_t n, uint8_t out[TS_MD5_LEN])
{
    pthread_once(&md_once, md_init);
    digest2(md_md5, EVP_md5(), p, n, NULL, 0, out);
}

void ts_hmac_sha256(const void *key, size_t key_len, const void *p, size_t n,
                    uint8_t out[TS_SHA256_LEN])
{
    enum { BLOCK = 64 };
    pthread_once(&md_once, md_init);
    uint8_t k[BLOCK] = {0}, pad[BLOCK], inner[TS_SHA256_LEN];
    if (key_len > BLOCK) {
        digest2(md_sha256, EVP_sha256(), key, key_len, NULL, 0, k);
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < BLOCK; i++) {
        pad[i] = (uint8_t)(k[i] ^ 0x36);
    }
    digest2(md_sha256, EVP_sha256(), pad, BLOCK, p, n, inner);
    for (int i = 0; i < BLOCK; i++) {
        pad[i] = (uint8_t)(k[i] ^ 0x5c);
    }
    digest2(md_sha256, EVP_sha256(), pad, BLOCK, inner, sizeof(inner), out);
    /* the key material does not outlive the call */
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}

/* ---- CRC32C: slicing-by-8 tables in software, SSE4.2 crc32 instructions when present, and
 * for buffers of 256 bytes and more, carry-less folding with 512-bit VPCLMULQDQ where the CPU
 * has it (crc_fold_run below: ~2.5x the three-lane loop on 1 KB records).
 *
 * The crc32 instruction has a latency of 3 cycles and a throughput of 1: one dependent chain
 * uses a third of it. Buffers of 192 bytes and more are cut into three lanes of equal length,
 * run as three independent chains, and joined by linearity: the CRC state over A||B is the
 * state over A multiplied by x^(8|B|) (mod P), xor the state over B from zero. The multiply
 * is one carry-less multiplication by a constant of the lane length (crc_shift_k, computed and
 * checked against the plain instruction loop at start-up) and one crc32 reduction. */

#define CRC3_MIN 192           /* shorter buffers use one chain */
#define CRC3_MAX_LANE 4096     /* bytes per lane; longer buffers loop */

static uint32_t crc_table[8][256];
static int crc_hw = -1;
static int crc_3way;
static uint32_t crc_shift_k[CRC3_MAX_LANE / 8 + 1]; /* [lane/8] */

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t crc, const uint8_t *p,
                                                             size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) {
        c32 = _mm_crc32_u8(c32, *p++);
    }
    return c32;
}
#endif

#if defined(__x86_64__)
/* c * x^(8 lane) mod P for the state c, with k = crc_shift_k[lane / 8]. */
__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_shift(uint32_t c, uint32_t k)
{
    __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c), _mm_cvtsi32_si128((int)k), 0);
    return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(prod));
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_hw_run3(uint32_t crc,
                                                                     const uint8_t *p, size_t n)
{
    while (n >= CRC3_MIN) {
        size_t lane = n / 3 / 8 * 8;
        lane = lane > CRC3_MAX_LANE ? CRC3_MAX_LANE : lane;
        uint64_t a = crc, b = 0, c = 0;
        const uint8_t *pb = p + lane, *pc = p + 2 * lane;
        for (size_t i = 0; i < lane; i += 8) {
            uint64_t va, vb, vc;
            memcpy(&va, p + i, 8);
            memcpy(&vb, pb + i, 8);
            memcpy(&vc, pc + i, 8);
            a = _mm_crc32_u64(a, va);
            b = _mm_crc32_u64(b, vb);
            c = _mm_crc32_u64(c, vc);
        }
        uint32_t k = crc_shift_k[lane / 8];
        crc = crc_shift(crc_shift((uint32_t)a, k) ^ (uint32_t)b, k) ^ (uint32_t)c;
        p += 3 * lane;
        n -= 3 * lane;
    }
    return crc_hw_run(crc, p, n);
}

/* x^e mod P in the reflected representation (bit 31 - i holds the coefficient of x^i). */
static uint32_t crc_xpow_times(uint32_t r, uint64_t e)
{
    while (e--) {
        r = (r >> 1) ^ ((r & 1) ? 0x82F63B78u : 0);
    }
    return r;
}

/* Shifts by any byte count, for ts_crc32c_combine: c * x^(8n) (mod P) as up to three
 * crc_shift multiplications, one per 7-bit digit of n / 8 (crc_pow_k[level][digit] shifts by
 * 8 * digit * 128^level bytes), then the crc32 instruction over the n % 8 last zero bytes.
 * Built from the 8-byte constant by multiplying constants: shifting the constant for a bytes
 * by b bytes gives the constant for a + b. */
#define CRC_POW_DIGITS 3
static uint32_t crc_pow_k[CRC_POW_DIGITS][128];
static uint32_t crc_pow_top; /* shifts by 8 * 128^3 bytes */
static int crc_pow_ok;

static void crc_combine_init(void)
{
    uint32_t unit = crc_shift_k[1]; /* 8 bytes */
    for (int l = 0; l < CRC_POW_DIGITS; l++) {
        crc_pow_k[l][1] = unit;
        for (int d = 2; d < 128; d++) {
            crc_pow_k[l][d] = crc_shift(crc_pow_k[l][d - 1], unit);
        }
        unit = crc_shift(crc_pow_k[l][127], unit); /* 128 times this level's unit */
    }
    crc_pow_top = unit;
    crc_pow_ok = 1;
}

/* c * x^(8n) mod P: the raw state c run over n zero bytes. */
__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_shift_bytes(uint32_t c,
                                                                          uint64_t n)
{
    uint64_t m = n / 8;
    while (m >> (7 * CRC_POW_DIGITS)) {
        c = crc_shift(c, crc_pow_top);
        m -= (uint64_t)1 << (7 * CRC_POW_DIGITS);
    }
    for (int l = 0; l < CRC_POW_DIGITS; l++, m >>= 7) {
        if (m & 127) {
            c = crc_shift(c, crc_pow_k[l][m & 127]);
        }
    }
    for (n %= 8; n; n--) {
        c = _mm_crc32_u8(c, 0);
    }
    return c;
}

/* Fills crc_shift_k and enables the three-lane loop only if every constant shifts exactly as
 * running the instruction over that many zero bytes does. The exponent's offset from 8 * lane
 * depends on the bit conventions of the two instructions; it is found, not assumed. */
static void crc3_init(void)
{
    static const uint8_t zeros[CRC3_MAX_LANE];
    const uint32_t probe[] = {0x1u, 0x80000000u, 0xDEADBEEFu, 0x12345678u};
    for (unsigned off = 30; off <= 36; off++) {
        uint32_t k = crc_xpow_times(0x80000000u, 64 - off); /* lane = 8 bytes */
        bool ok = true;
        for (size_t lane = 8; lane <= CRC3_MAX_LANE; lane += 8) {
            crc_shift_k[lane / 8] = k;
            k = crc_xpow_times(k, 64);
        }
        for (size_t lane = 8; ok && lane <= CRC3_MAX_LANE; lane += 8) {
            for (size_t i = 0; ok && i < sizeof(probe) / sizeof(probe[0]); i++) {
                ok = crc_shift(probe[i], crc_shift_k[lane / 8]) ==
                     crc_hw_run(probe[i], zeros, lane);
            }
        }
        if (ok) {
            crc_3way = 1;
            crc_combine_init();
            return;
        }
    }
}

/* Folding. A message M = A || B, with A a 128-bit piece and B the |B| bits after it, has
 * M(x) = A(x) x^|B| + B(x). Replacing A by F = A(x) x^D (mod P), placed D bits further on,
 * leaves the CRC unchanged: F x^(|B| - D) = A x^|B| (mod P). Split A = H x^64 + L (H its
 * first 8 bytes); then F = H x^(D+64) + L x^D (mod P), two 64 x 32-bit carry-less products,
 * each under 97 bits, so F fits the 128-bit piece it is xored into. In the reflected order
 * of the crc32 instruction (bit i of a 64-bit word is the coefficient of x^(63-i)), PCLMULQDQ
 * yields the product times x, so the constants are x^(D+63) and x^(D-1) (mod P), each in the
 * high half of its 64-bit word.
 *
 * Four 512-bit accumulators (16 pieces) run 256 bytes apart; at the end they fold into the
 * last one, which folds on 64 bytes at a time. The remaining 64 bytes of F and the tail
 * (< 64 bytes) go through the crc32 instruction from a zero state: M and its folded form
 * are equal mod P, so their CRCs are equal. The initial state is xored into the first 4
 * bytes, as the instruction itself does. The constants are computed at start-up and the
 * path is enabled only if it matches the instruction loop on test buffers. */
#define CRC_FOLD_MIN 256
static int crc_fold;
static uint64_t crc_fold_k[4][2]; /* D = 2048, 1536, 1024, 512 bits: {x^(D+63), x^(D-1)} */

#define CRC_FOLD_TARGET "avx512f,avx512bw,vpclmulqdq,pclmul,sse4.2"

__attribute__((target(CRC_FOLD_TARGET))) static inline __m512i crc_fold_k512(int d)
{
    return _mm512_broadcast_i32x4(
        _mm_set_epi64x((long long)crc_fold_k[d][1], (long long)crc_fold_k[d][0]));
}

/* x (64 bytes of pieces) folded D bits ahead (constants k) and xored into next. */
__attribute__((target(CRC_FOLD_TARGET))) static inline __m512i crc_fold1(__m512i x, __m512i k,
                                                                          __m512i next)
{
    __m512i h = _mm512_clmulepi64_epi128(x, k, 0x00);
    __m512i l = _mm512_clmulepi64_epi128(x, k, 0x11);
    return _mm512_ternarylogic_epi64(h, l, next, 0x96);
}

/* The raw CRC state crc over p[0, n), n >= CRC_FOLD_MIN. */
__attribute__((target(CRC_FOLD_TARGET))) static uint32_t crc_fold_run(uint32_t crc,
                                                                       const uint8_t *p,
                                                                       size_t n)
{
    __m512i x0 = _mm512_loadu_si512((const void *)p);
    __m512i x1 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i x2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i x3 = _mm512_loadu_si512((const void *)(p + 192));
    x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    p += 256;
    n -= 256;
    __m512i k = crc_fold_k512(0);
    while (n >= 256) {
        __m512i y0 = _mm512_loadu_si512((const void *)p);
        __m512i y1 = _mm512_loadu_si512((const void *)(p + 64));
        __m512i y2 = _mm512_loadu_si512((const void *)(p + 128));
        __m512i y3 = _mm512_loadu_si512((const void *)(p + 192));
        x0 = crc_fold1(x0, k, y0);
        x1 = crc_fold1(x1, k, y1);
        x2 = crc_fold1(x2, k, y2);
        x3 = crc_fold1(x3, k, y3);
        p += 256;
        n -= 256;
    }
    __m512i k64 = crc_fold_k512(3);
    __m512i x = crc_fold1(x0, crc_fold_k512(1), x3);
    x = crc_fold1(x1, crc_fold_k512(2), x);
    x = crc_fold1(x2, k64, x);
    while (n >= 64) {
        __m512i y = _mm512_loadu_si512((const void *)p);
        x = crc_fold1(x, k64, y);
        p += 64;
        n -= 64;
    }
    uint8_t last[64];
    _mm512_storeu_si512((void *)last, x);
    return crc_hw_run(crc_hw_run(0, last, 64), p, n);
}

static void crc_fold_init(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("vpclmulqdq")) {
        return;
    }
    static const unsigned dist[4] = {2048, 1536, 1024, 512};
    for (int i = 0; i < 4; i++) {
        crc_fold_k[i][0] = (uint64_t)crc_xpow_times(0x80000000u, dist[i] + 63) << 32;
        crc_fold_k[i][1] = (uint64_t)crc_xpow_times(0x80000000u, dist[i] - 1) << 32;
    }
    /* checked against the instruction loop: every length class of the loops and the tail */
    static uint8_t probe[4096 + 64 + 63];
    uint32_t r = 0x9E3779B9u;
    for (size_t i = 0; i < sizeof(probe); i++) {
        r = r * 1103515245u + 12345u;
        probe[i] = (uint8_t)(r >> 16);
    }
    static const size_t lens[] = {256, 257, 319, 320, 511, 512, 575, 1028, 4096 + 64 + 63};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (crc_fold_run(0xDEADBEEFu, probe, lens[i]) !=
            crc_hw_run(0xDEADBEEFu, probe, lens[i])) {
            return;
        }
    }
    crc_fold = 1;
}
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
        }
    }
#if defined(__x86_64__)
    unsigned a, b, c, d;
    bool cpuid = __get_cpuid(1, &a, &b, &c, &d);
    crc_hw = (cpuid && (c & bit_SSE4_2)) ? 1 : 0;
    if (crc_hw && (c & bit_PCLMUL)) {
        crc3_init();
        crc_fold_init();
    }
#else
    crc_hw = 0;
#endif
}

static uint32_t crc_sw_run(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
              crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
    }
    return crc;
}

/* Multiplication mod P in the reflected order (bit 31 - i holds x^i), one bit at a time:
 * the portable path of ts_crc32c_combine. */
static uint32_t crc_mulmod(uint32_t a, uint32_t b)
{
    uint32_t prod = 0;
    for (uint32_t m = 0x80000000u; m; m >>= 1) {
        if (a & m) {
            prod ^= b;
        }
        b = (b >> 1) ^ ((b & 1) ? 0x82F63B78u : 0);
    }
    return prod;
}

/* c * x^(8n) mod P by squaring: x^(2^k) for each set bit k of 8n. */
static uint32_t crc_sw_shift(uint32_t c, uint64_t n)
{
    uint32_t x2k = 0x00800000u; /* x^8 (n counts bytes) */
    uint32_t r = 0x80000000u;   /* 1 */
    for (; n; n >>= 1) {
        if (n & 1) {
            r = crc_mulmod(r, x2k);
        }
        x2k = crc_mulmod(x2k, x2k);
    }
    return crc_mulmod(r, c);
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

uint32_t ts_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
    pthread_once(&crc_once, crc_init);
    /* For the raw update R (no inversions), R(s, B) = R(0, B) ^ R(s, 0^|B|), and the second
     * term is s * x^(8|B|); the inversions of ts_crc32c cancel out of the xor. */
#if defined(__x86_64__)
    if (crc_pow_ok) {
        return crc2 ^ crc_shift_bytes(crc1, len2);
    }
#endif
    return crc2 ^ crc_sw_shift(crc1, len2);
}

uint32_t ts_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_fold && n >= CRC_FOLD_MIN) {
        return ~crc_fold_run(crc, p, n);
    }
    if (crc_hw) {
        return ~(crc_3way ? crc_hw_run3(crc, p, n) : crc_hw_run(crc, p, n));
    }
#endif
    return ~crc_sw_run(crc, p, n);
}

const char *ts_crc32c_impl(void)
{
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
    if (crc_fold) {
        return "vpclmulqdq";
    }
    if (crc_hw) {
        return crc_3way ? "sse4.2-3way" : "sse4.2";
    }
#endif
    return "table";
}

void ts_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool ts_mem_eq_ct(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (uint8_t)(x[i] ^ y[i]);
    }
    return d == 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int ts_base64_encode(const void *src, size_t n, struct ts_buf *out)
{
    const uint8_t *p = src;
    size_t olen = (n + 2) / 3 * 4;
    int rc = ts_buf_reserve(out, olen);
    if (rc) {
        return rc;
    }
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len += olen;
    out->data[out->len] = '\0';
    return 0;
}

static int8_t dec[256];

static void b64_init(void)
{
    memset(dec, -1, sizeof(dec));
    for (int i = 0; i < 64; i++) {
        dec[(unsigned char)b64[i]] = (int8_t)i;
    }
}

int ts_base64_decode(const char *s, size_t n, struct ts_buf *out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, b64_init);
    if (n % 4) {
        return TS_EINVAL;
    }
    int rc = ts_buf_reserve(out, n / 4 * 3);
    if (rc) {
        return rc;
    }
    size_t start = out->len;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || dec[c] < 0) {
                out->len = start;
                out->data[start] = '\0';
                return TS_EINVAL;
            } else {
                v[k] = dec[c];
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        memcpy(out->data + out->len, bytes, (size_t)(3 - pad));
        out->len += (size_t)(3 - pad);
    }
    out->data[out->len] = '\0';
    return 0;
}

/* Random bytes from the kernel's CSPRNG (getrandom), served from a per-thread pool of 256
 * bytes so that the two ids of every request cost no system call and no lock. (OpenSSL's
 * RAND_bytes takes a process-wide write lock on every call, which request threads then
 * contend for.) Requests larger than the pool go straight to getrandom. */
#define RANDOM_POOL 256

static int random_fill(uint8_t *b, size_t n)
{
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return TS_EIO;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int ts_random(void *p, size_t n)
{
    static _Thread_local uint8_t pool[RANDOM_POOL];
    static _Thread_local size_t left;
    if (n > RANDOM_POOL / 4) {
        return random_fill(p, n);
    }
    if (left < n) {
        if (random_fill(pool, sizeof(pool)) != 0) {
            return TS_EIO;
        }
        left = sizeof(pool);
    }
    /* Served bytes are wiped from the pool: they exist only in the caller's buffer. */
    uint8_t *src = pool + sizeof(pool) - left;
    memcpy(p, src, n);
    memset(src, 0, n);
    left -= n;
    return 0;
}

void ts_uuid4(char out[37])
{
    uint8_t b[16];
    if (ts_random(b, sizeof(b))) {
        /* only if the kernel entropy source is broken; ids must still differ */
        uint64_t t = ts_mono_ns();
        memcpy(b, &t, 8);
        memcpy(b + 8, &t, 8);
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[k++] = '-';
        }
        out[k++] = hex[b[i] >> 4];
        out[k++] = hex[b[i] & 15];
    }
    out[k] = '\0';
}
