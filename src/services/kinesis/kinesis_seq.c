/*
 * kinesis_seq.c - sequence numbers and sealed tokens (shard iterators, NextTokens).
 *
 * Sequence numbers are 56 decimal digits, like AWS's, so they compare the same numerically and
 * as strings:
 *
 *   49 | shard creation time, ms (13) | shard index (12) | store offset (20) | stream check (9)
 *
 * Within a shard only the offset changes, and store offsets strictly increase, so numbers
 * strictly increase in write order; they are a pure function of durable state, so they survive
 * restarts. Children of a reshard are created later than their parents, so their numbers are
 * larger than any of their parents'. The check is random per stream incarnation: a number from
 * a deleted and recreated stream of the same name is refused.
 *
 * Tokens are base64 of: version (1) | kind (1) | issued ms (8) | payload | HMAC-SHA256 (first
 * 16 bytes) keyed by a key derived from the data directory's secret. A shard iterator's payload
 * binds it to its stream (name, creation time, check), owner account, region, shard and offset.
 */
#include "kinesis_int.h"

#include <stdio.h>
#include <string.h>

#define TOKEN_VERSION 1
#define TOKEN_MAC_LEN 16
#define TOKEN_PAYLOAD_MAX 400
#define TOKEN_HDR 10

void kin_seq_prefix(struct kin_shard *sh)
{
    snprintf(sh->seq_prefix, sizeof(sh->seq_prefix), "49%013lld%012u",
             (long long)sh->created_ms, sh->index);
}

void kin_seq_format(const struct kin_stream *s, const struct kin_shard *sh, uint64_t offset,
                    char *out)
{
    /* Hot path (every record of PutRecords and GetRecords): no printf. */
    memcpy(out, sh->seq_prefix, 27);
    char *p = out + 27 + 20;
    for (int i = 0; i < 20; i++) {
        *--p = (char)('0' + (int)(offset % 10));
        offset /= 10;
    }
    memcpy(out + 47, s->seq_suffix, 9);
    out[KIN_SEQ_LEN] = '\0';
}

static bool digits_to_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int kin_seq_parse(const char *seq, int64_t *created_ms, uint32_t *index, uint64_t *offset,
                  uint32_t *check)
{
    uint64_t c, i, o, k;
    if (!seq || strlen(seq) != KIN_SEQ_LEN || seq[0] != '4' || seq[1] != '9' ||
        !digits_to_u64(seq + 2, 13, &c) || !digits_to_u64(seq + 15, 12, &i) ||
        !digits_to_u64(seq + 27, 20, &o) || !digits_to_u64(seq + 47, 9, &k) ||
        i > UINT32_MAX) {
        return TS_EINVAL;
    }
    *created_ms = (int64_t)c;
    *index = (uint32_t)i;
    *offset = o;
    *check = (uint32_t)k;
    return 0;
}

/* ------------------------------------------------------------------ tokens */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int kin_token_seal(const struct ts_kinesis *k, enum kin_token_kind kind, int64_t issued_ms,
                   const void *payload, size_t len, char *out, size_t out_len)
{
    uint8_t raw[TOKEN_HDR + TOKEN_PAYLOAD_MAX + TS_SHA256_LEN];
    if (len > TOKEN_PAYLOAD_MAX) {
        return TS_EINVAL;
    }
    raw[0] = TOKEN_VERSION;
    raw[1] = (uint8_t)kind;
    put_u64(raw + 2, (uint64_t)issued_ms);
    memcpy(raw + TOKEN_HDR, payload, len);
    uint8_t mac[TS_SHA256_LEN];
    ts_hmac_sha256(k->token_key, sizeof(k->token_key), raw, TOKEN_HDR + len, mac);
    memcpy(raw + TOKEN_HDR + len, mac, TOKEN_MAC_LEN);
    size_t total = TOKEN_HDR + len + TOKEN_MAC_LEN;
    if ((total + 2) / 3 * 4 + 1 > out_len) {
        return TS_EINVAL;
    }
    struct ts_buf b;
    ts_buf_init(&b, out_len - 1);
    int rc = ts_base64_encode(raw, total, &b);
    if (!rc) {
        memcpy(out, b.data, b.len + 1);
    }
    ts_buf_free(&b);
    return rc ? TS_EINVAL : 0;
}

int kin_token_open(const struct ts_kinesis *k, enum kin_token_kind kind, const char *text,
                   int64_t *issued_ms, void *payload, size_t cap, size_t *len)
{
    size_t tlen = text ? strlen(text) : 0;
    if (tlen < 4 || tlen > 1024) {
        return TS_EINVAL;
    }
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    int rc = ts_base64_decode(text, tlen, &b);
    if (rc || b.len < TOKEN_HDR + TOKEN_MAC_LEN) {
        ts_buf_free(&b);
        return TS_EINVAL;
    }
    const uint8_t *raw = (const uint8_t *)b.data;
    size_t plen = b.len - TOKEN_HDR - TOKEN_MAC_LEN;
    uint8_t mac[TS_SHA256_LEN];
    ts_hmac_sha256(k->token_key, sizeof(k->token_key), raw, TOKEN_HDR + plen, mac);
    bool ok = ts_mem_eq_ct(mac, raw + TOKEN_HDR + plen, TOKEN_MAC_LEN) &&
              raw[0] == TOKEN_VERSION && raw[1] == (uint8_t)kind && plen <= cap;
    if (ok) {
        *issued_ms = (int64_t)get_u64(raw + 2);
        memcpy(payload, raw + TOKEN_HDR, plen);
        *len = plen;
    }
    ts_buf_free(&b);
    return ok ? 0 : TS_EINVAL;
}

/* Iterator payload: offset (8) | shard index (4) | shard created (8) | stream created (8) |
 * check (4) | account (12) | region length (1) + region | name length (1) + name. */
int kin_iter_seal(const struct ts_kinesis *k, const struct kin_iter *it, char *out,
                  size_t out_len)
{
    uint8_t p[TOKEN_PAYLOAD_MAX];
    size_t rl = strlen(it->region), nl = strlen(it->stream);
    if (strlen(it->account) != TS_AWS_ACCOUNT_ID_LEN || rl > 31 || nl > TS_AWS_NAME_MAX) {
        return TS_EINVAL;
    }
    size_t n = 0;
    put_u64(p + n, it->offset);
    n += 8;
    put_u32(p + n, it->shard_index);
    n += 4;
    put_u64(p + n, (uint64_t)it->shard_created_ms);
    n += 8;
    put_u64(p + n, (uint64_t)it->stream_created_ms);
    n += 8;
    put_u32(p + n, it->stream_check);
    n += 4;
    memcpy(p + n, it->account, TS_AWS_ACCOUNT_ID_LEN);
    n += TS_AWS_ACCOUNT_ID_LEN;
    p[n++] = (uint8_t)rl;
    memcpy(p + n, it->region, rl);
    n += rl;
    p[n++] = (uint8_t)nl;
    memcpy(p + n, it->stream, nl);
    n += nl;
    return kin_token_seal(k, KIN_TOKEN_ITERATOR, it->issued_ms, p, n, out, out_len);
}

int kin_iter_open(const struct ts_kinesis *k, const char *text, struct kin_iter *it)
{
    uint8_t p[TOKEN_PAYLOAD_MAX];
    size_t len;
    memset(it, 0, sizeof(*it));
    if (kin_token_open(k, KIN_TOKEN_ITERATOR, text, &it->issued_ms, p, sizeof(p), &len) != 0) {
        return TS_EINVAL;
    }
    size_t fixed = 8 + 4 + 8 + 8 + 4 + TS_AWS_ACCOUNT_ID_LEN;
    if (len < fixed + 2) {
        return TS_EINVAL;
    }
    size_t n = 0;
    it->offset = get_u64(p + n);
    n += 8;
    it->shard_index = get_u32(p + n);
    n += 4;
    it->shard_created_ms = (int64_t)get_u64(p + n);
    n += 8;
    it->stream_created_ms = (int64_t)get_u64(p + n);
    n += 8;
    it->stream_check = get_u32(p + n);
    n += 4;
    memcpy(it->account, p + n, TS_AWS_ACCOUNT_ID_LEN);
    n += TS_AWS_ACCOUNT_ID_LEN;
    size_t rl = p[n++];
    if (rl > 31 || n + rl + 1 > len) {
        return TS_EINVAL;
    }
    memcpy(it->region, p + n, rl);
    n += rl;
    size_t nl = p[n++];
    if (nl > TS_AWS_NAME_MAX || n + nl != len) {
        return TS_EINVAL;
    }
    memcpy(it->stream, p + n, nl);
    return 0;
}
