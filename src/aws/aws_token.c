/*
 * aws_token.c - opaque, tamper-evident pagination tokens (nextToken and friends).
 *
 * A token is base64url(payload || tag) with tag = the first 16 bytes of
 * HMAC-SHA256(per-data-directory key, payload): clients cannot forge positions or replay a
 * token of another data directory, and services never trust a token's contents unchecked.
 */
#include "trailstream/ts_aws.h"

#include <string.h>

#define TOKEN_TAG_LEN 16
#define TOKEN_MAX_PAYLOAD 4096

int ts_aws_token_seal(const uint8_t key[32], const void *data, size_t len, struct ts_buf *out)
{
    if (len > TOKEN_MAX_PAYLOAD) {
        return TS_ETOOBIG;
    }
    uint8_t raw[TOKEN_MAX_PAYLOAD + TS_SHA256_LEN];
    memcpy(raw, data, len);
    uint8_t mac[TS_SHA256_LEN];
    ts_hmac_sha256(key, 32, data, len, mac);
    memcpy(raw + len, mac, TOKEN_TAG_LEN);
    size_t start = out->len;
    int rc = ts_base64_encode(raw, len + TOKEN_TAG_LEN, out);
    if (rc) {
        return rc;
    }
    /* base64url without padding, so tokens survive query strings and JSON unchanged */
    size_t end = out->len;
    for (size_t i = start; i < end; i++) {
        if (out->data[i] == '+') {
            out->data[i] = '-';
        } else if (out->data[i] == '/') {
            out->data[i] = '_';
        }
    }
    while (end > start && out->data[end - 1] == '=') {
        end--;
    }
    out->len = end;
    out->data[end] = '\0';
    return 0;
}

int ts_aws_token_open(const uint8_t key[32], const char *token, struct ts_buf *out)
{
    size_t n = strlen(token);
    if (n == 0 || n > (TOKEN_MAX_PAYLOAD + TOKEN_TAG_LEN) * 4 / 3 + 4) {
        return TS_EINVAL;
    }
    char std[(TOKEN_MAX_PAYLOAD + TOKEN_TAG_LEN) * 4 / 3 + 8];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = token[i];
        std[k++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (k % 4) {
        std[k++] = '=';
    }
    struct ts_buf raw;
    ts_buf_init(&raw, TOKEN_MAX_PAYLOAD + TOKEN_TAG_LEN);
    int rc = ts_base64_decode(std, k, &raw);
    if (rc || raw.len < TOKEN_TAG_LEN) {
        ts_buf_free(&raw);
        return TS_EINVAL;
    }
    size_t len = raw.len - TOKEN_TAG_LEN;
    uint8_t mac[TS_SHA256_LEN];
    ts_hmac_sha256(key, 32, raw.data, len, mac);
    if (!ts_mem_eq_ct(mac, raw.data + len, TOKEN_TAG_LEN)) {
        ts_buf_free(&raw);
        return TS_EINVAL;
    }
    rc = ts_buf_add(out, raw.data, len);
    ts_buf_free(&raw);
    return rc ? rc : 0;
}
