/*
 * kinesis_records.c - the data plane: PutRecord, PutRecords, GetShardIterator, GetRecords, and
 * the in-process producer API (ts_kinesis_put_batch).
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html
 *
 * A record is stored as one store record: version (1) | partition key length (2, big-endian) |
 * partition key (UTF-8) | data. Its store offset is its position in the shard, its store
 * append time its ApproximateArrivalTimestamp.
 */
#include "kinesis_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define READ_CHUNK ((size_t)1 << 20)
#define READ_RECS 1024
#define MIB (1024u * 1024u)

static int oom(struct ts_aws_error *err)
{
    return ts_aws_fail(err, "InternalFailure", "Internal Service Failure");
}

/* ------------------------------------------------------------------ appending */

struct put_rec {
    const char *pk;
    size_t pk_len;
    const char *b64; /* API: base64 data */
    size_t b64_len;
    const void *raw; /* in-process producers: raw data */
    size_t data_len;
    kin_u128 hash;
    struct kin_shard *shard;
    const uint8_t *stored; /* framed record in the arena */
    size_t stored_len;
    int rc;
    uint64_t offset;
};

/* Counts code points of valid UTF-8. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += ((uint8_t)s[i] & 0xc0) != 0x80;
    }
    return c;
}

static size_t b64_decoded_len(const char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    size_t pad = (s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    return n / 4 * 3 - pad;
}

/* The member path of record idx in error messages: "" for PutRecord (idx 0), else
 * "records.N.member." (built only when an error is reported). */
static const char *where_of(size_t idx, char buf[48])
{
    if (idx == 0) {
        return "";
    }
    snprintf(buf, 48, "records.%zu.member.", idx);
    return buf;
}

/* Validates one record; idx is 0 for PutRecord, else the 1-based PutRecords entry. */
static int check_record(struct put_rec *r, const char *ehk, size_t idx, struct ts_aws_error *err)
{
    char wb[48];
    size_t chars = utf8_chars(r->pk, r->pk_len);
    if (chars < 1 || chars > KIN_PARTITION_KEY_MAX) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.*s' at '%spartitionKey' "
                           "failed to satisfy constraint: Member must have length %s",
                           (int)TS_MIN(r->pk_len, 300), r->pk, where_of(idx, wb),
                           chars < 1 ? "greater than or equal to 1"
                                     : "less than or equal to 256");
    }
    if (r->b64 && (r->b64_len % 4) != 0) {
        return ts_aws_fail(err, "SerializationException",
                           "Base64 encoded data at '%sdata' is not valid.", where_of(idx, wb));
    }
    if (r->b64) {
        r->data_len = b64_decoded_len(r->b64, r->b64_len);
    }
    if (r->data_len > KIN_RECORD_MAX_MODEL) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value at '%sdata' failed to satisfy "
                           "constraint: Member must have length less than or equal to %u",
                           where_of(idx, wb), KIN_RECORD_MAX_MODEL);
    }
    if (ehk) {
        size_t n = strlen(ehk);
        bool digits = n > 0 && n <= 39 && !(n > 1 && ehk[0] == '0');
        for (size_t i = 0; digits && i < n; i++) {
            digits = ehk[i] >= '0' && ehk[i] <= '9';
        }
        if (!digits) {
            return ts_aws_fail(err, "ValidationException",
                               "1 validation error detected: Value '%.100s' at "
                               "'%sexplicitHashKey' failed to satisfy constraint: Member must "
                               "satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
                               ehk, where_of(idx, wb));
        }
        if (kin_u128_parse(ehk, &r->hash) != 0) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                               "[0, 2^128-1]. Specified value was %.100s",
                               ehk);
        }
    } else {
        r->hash = kin_hash_key(r->pk, r->pk_len);
    }
    return 0;
}

/* The record size limit of the stream (data + partition key). */
static int check_size(const struct kin_stream *s, const struct put_rec *r, size_t idx,
                      struct ts_aws_error *err)
{
    char wb[48];
    if (r->data_len + r->pk_len > s->max_record_bytes) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value at '%sdata' failed to satisfy "
                           "constraint: Member must have length less than or equal to %u",
                           where_of(idx, wb), s->max_record_bytes - (uint32_t)r->pk_len);
    }
    return 0;
}

/*
 * Routes, frames and appends n records to stream s; the caller holds s->lock for reading and
 * has checked s->deleted. Records of one shard are appended as one atomic batch in request
 * order. Each record's rc/offset is filled in; returns 0 or TS_ENOMEM/TS_EINVAL (nothing
 * appended).
 *
 * Durability order: ts_partition_append returns only once the batch is durable under the
 * store's fsync policy; callers acknowledge a record only after that.
 */
static int put_core(struct ts_kinesis *k, struct kin_stream *s, struct put_rec *r, size_t n,
                    int64_t now)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        r[i].shard = kin_stream_route(s, r[i].hash);
        if (!r[i].shard) {
            return TS_ECORRUPT; /* open shards always cover the space: a broken document */
        }
        total += KIN_RECORD_HDR + r[i].pk_len + r[i].data_len;
    }
    /* base64 decoding reserves up to 2 padding bytes beyond the decoded length. */
    struct ts_buf arena;
    ts_buf_init(&arena, total + 8);
    int rc = ts_buf_reserve(&arena, total + 8);
    size_t *order = rc ? NULL : ts_malloc(n * sizeof(*order));
    size_t *counts = order ? ts_calloc(s->n_open + 1, sizeof(*counts)) : NULL;
    struct ts_record_in *in = counts ? ts_malloc(n * sizeof(*in)) : NULL;
    struct kin_append *apps = NULL;
    if (!in) {
        rc = TS_ENOMEM;
        goto out;
    }
    /* Frame every record into one arena (reserved up front, so pointers stay valid). */
    for (size_t i = 0; i < n; i++) {
        size_t start = arena.len;
        uint8_t hdr[KIN_RECORD_HDR] = {KIN_RECORD_VERSION, (uint8_t)(r[i].pk_len >> 8),
                                       (uint8_t)r[i].pk_len};
        rc = ts_buf_add(&arena, hdr, sizeof(hdr));
        rc = rc ? rc : ts_buf_add(&arena, r[i].pk, r[i].pk_len);
        if (!rc && r[i].b64) {
            /* Decoded straight into the reserved arena (checked lengths add up to total). */
            size_t got = 0;
            rc = kin_b64_decode(r[i].b64, r[i].b64_len, (uint8_t *)arena.data + arena.len, &got);
            arena.len += rc ? 0 : got;
            rc = rc ? TS_EPARSE : 0;
        } else if (!rc) {
            rc = ts_buf_add(&arena, r[i].raw ? r[i].raw : "", r[i].data_len);
        }
        if (rc) {
            goto out;
        }
        r[i].stored = (const uint8_t *)arena.data + start;
        r[i].stored_len = arena.len - start;
        r[i].rc = 0;
        if (k->opts.limits_aws &&
            !kin_limits_write(r[i].shard, r[i].pk_len + r[i].data_len, now)) {
            r[i].rc = TS_EAGAIN;
            continue;
        }
        counts[r[i].shard->open_pos + 1]++;
    }
    /* Stable bucket order by shard: per-shard batches keep request order. */
    for (size_t j = 1; j <= s->n_open; j++) {
        counts[j] += counts[j - 1];
    }
    size_t used = counts[s->n_open];
    for (size_t i = 0; i < n; i++) {
        if (r[i].rc == 0) {
            order[counts[r[i].shard->open_pos]++] = i;
        }
    }
    /* One batch per shard; several shards are appended in parallel (kinesis_pool.c). */
    apps = ts_calloc(s->n_open ? s->n_open : 1, sizeof(*apps));
    if (!apps) {
        rc = TS_ENOMEM;
        goto out;
    }
    size_t n_apps = 0;
    for (size_t a = 0; a < used;) {
        struct kin_shard *sh = r[order[a]].shard;
        size_t b = a;
        while (b < used && r[order[b]].shard == sh) {
            in[b].data = r[order[b]].stored;
            in[b].len = r[order[b]].stored_len;
            b++;
        }
        apps[n_apps++] = (struct kin_append){sh->part, in + a, b - a, now, 0, 0};
        a = b;
    }
    kin_pool_append(k->pool, apps, n_apps);
    size_t x = 0;
    for (size_t j = 0; j < n_apps; j++) {
        for (size_t m = 0; m < apps[j].n; m++, x++) {
            r[order[x]].rc = apps[j].rc;
            r[order[x]].offset = apps[j].first + m;
        }
    }
out:
    ts_free(apps);
    ts_free(in);
    ts_free(counts);
    ts_free(order);
    ts_buf_free(&arena);
    return rc;
}

/* Maps a request-level failure of put_core. */
static int put_fail(struct ts_aws_error *err, int rc)
{
    if (rc == TS_EPARSE) {
        return ts_aws_fail(err, "SerializationException", "Base64 encoded data is not valid.");
    }
    return rc == TS_ENOMEM ? oom(err) : rc ? kin_store_fail(err, rc) : 0;
}

static int throttled(struct ts_aws_error *err, const struct kin_stream *s,
                     const struct kin_shard *sh)
{
    return ts_aws_fail(err, "ProvisionedThroughputExceededException",
                       "Rate exceeded for shard %s in stream %s under account %s.", sh->id,
                       s->name, s->account);
}

/* Takes the stream for a data-plane call: reference + read lock, not deleted. */
static int lock_stream(struct ts_kinesis *k, const char *account, const char *region,
                       const char *name, struct kin_stream **out, struct ts_aws_error *err)
{
    struct kin_stream *s;
    int rc = kin_stream_get(k, account, region, name, &s);
    if (rc == TS_ENOTFOUND) {
        return kin_not_found(err, account, name);
    }
    if (rc) {
        return kin_store_fail(err, rc);
    }
    pthread_rwlock_rdlock(&s->lock);
    if (s->deleted) {
        pthread_rwlock_unlock(&s->lock);
        kin_stream_put(s);
        return kin_not_found(err, account, name);
    }
    *out = s;
    return 0;
}

static void unlock_stream(struct kin_stream *s)
{
    pthread_rwlock_unlock(&s->lock);
    kin_stream_put(s);
}

/* Fills r from a JSON entry {Data, PartitionKey, ExplicitHashKey}. */
static int parse_entry(const cJSON *e, struct put_rec *r, size_t idx, struct ts_aws_error *err)
{
    char wb[48];
    const char *where = "";
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "Data");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(e, "PartitionKey");
    const cJSON *ehk = cJSON_GetObjectItemCaseSensitive(e, "ExplicitHashKey");
    if (!cJSON_IsString(data) || !cJSON_IsString(pk) || (ehk && !cJSON_IsNull(ehk) &&
                                                         !cJSON_IsString(ehk))) {
        where = where_of(idx, wb);
    }
    if (!data || cJSON_IsNull(data)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at '%sdata' failed to "
                           "satisfy constraint: Member must not be null",
                           where);
    }
    if (!pk || cJSON_IsNull(pk)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at '%spartitionKey' failed "
                           "to satisfy constraint: Member must not be null",
                           where);
    }
    if (!cJSON_IsString(data) || !cJSON_IsString(pk) ||
        (ehk && !cJSON_IsNull(ehk) && !cJSON_IsString(ehk))) {
        return ts_aws_fail(err, "SerializationException",
                           "Unexpected value type in record at '%s'.", where);
    }
    memset(r, 0, sizeof(*r));
    r->pk = pk->valuestring;
    r->pk_len = strlen(pk->valuestring);
    r->b64 = data->valuestring;
    r->b64_len = strlen(data->valuestring);
    return check_record(r, cJSON_IsString(ehk) ? ehk->valuestring : NULL, idx, err);
}

int kin_op_put_record(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    struct put_rec r;
    const char *order;
    if (parse_entry(req->input, &r, 0, err) ||
        kin_get_str(req->input, "SequenceNumberForOrdering", &order, err)) {
        return TS_EINVAL;
    }
    kin_u128 ignored;
    if (order && strcmp(order, "0") != 0 && (strlen(order) > 129 || order[0] == '0' ||
                                             (strlen(order) <= 39 &&
                                              kin_u128_parse(order, &ignored) != 0))) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.140s' at "
                           "'sequenceNumberForOrdering' failed to satisfy constraint: Member "
                           "must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
                           order);
    }
    char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
    struct kin_stream *s;
    if (kin_resolve(k, req, "kinesis:PutRecord", account, region, name, err) ||
        lock_stream(k, account, region, name, &s, err)) {
        return TS_EINVAL;
    }
    int rc = check_size(s, &r, 0, err);
    if (!rc) {
        /* Sequence numbers of a shard always increase, so SequenceNumberForOrdering holds. */
        rc = put_fail(err, put_core(k, s, &r, 1, req->now_ms));
    }
    if (!rc && r.rc == TS_EAGAIN) {
        rc = throttled(err, s, r.shard);
    } else if (!rc && r.rc == TS_ECLOSED) {
        rc = kin_not_found(err, account, name);
    } else if (!rc && r.rc) {
        rc = kin_store_fail(err, r.rc);
    }
    if (!rc) {
        char seq[KIN_SEQ_LEN + 1];
        kin_seq_format(s, r.shard, r.offset + 1, seq);
        cJSON *out = cJSON_CreateObject();
        if (!out || !cJSON_AddStringToObject(out, "ShardId", r.shard->id) ||
            !cJSON_AddStringToObject(out, "SequenceNumber", seq)) {
            cJSON_Delete(out);
            rc = oom(err);
        } else {
            resp->output = out;
        }
    }
    unlock_stream(s);
    return rc;
}

/* Renders the PutRecords response body (entries in request order) straight into out. */
static int render_put_records(const struct kin_stream *s, const struct put_rec *r, size_t n,
                              struct ts_buf *out)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed += r[i].rc != 0;
    }
    int rc = ts_buf_reserve(out, 64 + n * 512);
    if (rc) {
        return rc;
    }
    char num[24];
    rc = ts_buf_adds(out, "{\"FailedRecordCount\":");
    rc = rc ? rc : ts_buf_add(out, num, kin_fmt_u64(failed, num));
    rc = rc ? rc : ts_buf_adds(out, ",\"Records\":[");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = i ? ts_buf_addc(out, ',') : 0;
        if (rc) {
            break;
        }
        if (r[i].rc == 0) {
            /* ~60k of these per second under load: no printf */
            char e[128];
            size_t m = 0;
            memcpy(e, "{\"SequenceNumber\":\"", 19);
            m += 19;
            kin_seq_format(s, r[i].shard, r[i].offset + 1, e + m);
            m += KIN_SEQ_LEN;
            memcpy(e + m, "\",\"ShardId\":\"", 13);
            m += 13;
            size_t idl = strlen(r[i].shard->id);
            memcpy(e + m, r[i].shard->id, idl);
            m += idl;
            memcpy(e + m, "\"}", 2);
            m += 2;
            rc = ts_buf_add(out, e, m);
        } else if (r[i].rc == TS_EAGAIN) {
            rc = ts_buf_addf(out,
                             "{\"ErrorCode\":\"ProvisionedThroughputExceededException\","
                             "\"ErrorMessage\":\"Rate exceeded for shard %s in stream %s under "
                             "account %s.\"}",
                             r[i].shard->id, s->name, s->account);
        } else {
            rc = ts_buf_adds(out, "{\"ErrorCode\":\"InternalFailure\","
                                  "\"ErrorMessage\":\"Internal service failure.\"}");
        }
    }
    return rc ? rc : ts_buf_adds(out, "]}");
}

/* What a PutRecords body holds, parsed without a DOM: spans into the body or, for strings
 * with escapes, into the scratch buffer (reserved up front, so spans stay valid). */
struct raw_put {
    const char *sn;
    const char *arn;
    struct put_rec *r;
    char (*ehk)[64];
    size_t n;
    bool too_many;
};

static int raw_str(struct kin_json *j, struct ts_buf *scratch, const char **s, size_t *n,
                   bool nul)
{
    bool esc;
    if (kin_json_string(j, s, n, &esc)) {
        return TS_EPARSE;
    }
    if (!esc && !nul) {
        return 0;
    }
    char *w = scratch->data + scratch->len;
    size_t len = *n;
    if (esc && kin_json_unescape(*s, *n, w, &len)) {
        return TS_EPARSE;
    }
    if (!esc) {
        memcpy(w, *s, len);
    }
    w[len] = '\0';
    scratch->len += len + 1;
    *s = w;
    *n = len;
    return 0;
}

static int raw_record(struct kin_json *j, struct ts_buf *scratch, struct put_rec *r,
                      char ehk[64])
{
    if (kin_json_peek(j) != '{') {
        return TS_EPARSE;
    }
    j->p++;
    memset(r, 0, sizeof(*r));
    ehk[0] = '\0';
    bool has_data = false, has_pk = false;
    if (kin_json_peek(j) == '}') {
        j->p++;
        return TS_ENOENT;
    }
    for (;;) {
        const char *key, *v;
        size_t kl, vl;
        bool esc;
        if (kin_json_string(j, &key, &kl, &esc) || kin_json_peek(j) != ':') {
            return TS_EPARSE;
        }
        j->p++;
        if (kin_json_null(j)) {
            /* absent */
        } else if (kl == 4 && memcmp(key, "Data", 4) == 0) {
            if (raw_str(j, scratch, &r->b64, &r->b64_len, false)) {
                return TS_EPARSE;
            }
            has_data = true;
        } else if (kl == 12 && memcmp(key, "PartitionKey", 12) == 0) {
            if (raw_str(j, scratch, &r->pk, &r->pk_len, false)) {
                return TS_EPARSE;
            }
            has_pk = true;
        } else if (kl == 15 && memcmp(key, "ExplicitHashKey", 15) == 0) {
            if (raw_str(j, scratch, &v, &vl, false)) {
                return TS_EPARSE;
            }
            size_t m = TS_MIN(vl, (size_t)63);
            memcpy(ehk, v, m);
            ehk[m] = '\0';
            if (m == 0) {
                ehk[0] = ' '; /* present but empty: fails the pattern */
                ehk[1] = '\0';
            }
        } else if (kin_json_skip(j)) {
            return TS_EPARSE;
        }
        char d = kin_json_peek(j);
        j->p++;
        if (d == '}') {
            break;
        }
        if (d != ',') {
            return TS_EPARSE;
        }
    }
    return !has_data ? TS_ENOENT : !has_pk ? TS_ENOSPC : 0;
}

/* Parses a PutRecords body. 0, or fills err (SerializationException / ValidationException). */
static int parse_put_records_raw(const struct ts_http_request *http, struct raw_put *out,
                                 struct ts_buf *scratch, struct ts_aws_error *err)
{
    struct kin_json j = {(const char *)http->body, (const char *)http->body + http->body_len};
    memset(out, 0, sizeof(*out));
    int rc = ts_buf_reserve(scratch, http->body_len + 1024);
    out->r = rc ? NULL : ts_calloc(KIN_PUT_RECORDS_MAX, sizeof(*out->r));
    out->ehk = out->r ? ts_calloc(KIN_PUT_RECORDS_MAX, sizeof(*out->ehk)) : NULL;
    if (!out->ehk) {
        return oom(err);
    }
    if (kin_json_peek(&j) != '{') {
        goto bad;
    }
    j.p++;
    bool first = true;
    while (kin_json_peek(&j) != '}') {
        if (!first) {
            if (kin_json_peek(&j) != ',') {
                goto bad;
            }
            j.p++;
        }
        first = false;
        const char *key;
        size_t kl;
        bool esc;
        if (kin_json_string(&j, &key, &kl, &esc) || kin_json_peek(&j) != ':') {
            goto bad;
        }
        j.p++;
        size_t vl;
        if (kin_json_null(&j)) {
            continue;
        }
        if (kl == 10 && memcmp(key, "StreamName", 10) == 0) {
            if (raw_str(&j, scratch, &out->sn, &vl, true)) {
                goto bad;
            }
        } else if (kl == 9 && memcmp(key, "StreamARN", 9) == 0) {
            if (raw_str(&j, scratch, &out->arn, &vl, true)) {
                goto bad;
            }
        } else if (kl == 7 && memcmp(key, "Records", 7) == 0) {
            if (kin_json_peek(&j) != '[') {
                goto bad;
            }
            j.p++;
            if (kin_json_peek(&j) == ']') {
                j.p++;
                continue;
            }
            for (;;) {
                if (out->n == KIN_PUT_RECORDS_MAX) {
                    out->too_many = true;
                    if (kin_json_skip(&j)) {
                        goto bad;
                    }
                } else {
                    int e = raw_record(&j, scratch, &out->r[out->n], out->ehk[out->n]);
                    if (e == TS_EPARSE) {
                        goto bad;
                    }
                    if (e) {
                        return ts_aws_fail(err, "ValidationException",
                                           "1 validation error detected: Value null at "
                                           "'records.%zu.member.%s' failed to satisfy "
                                           "constraint: Member must not be null",
                                           out->n + 1, e == TS_ENOENT ? "data" : "partitionKey");
                    }
                    out->n++;
                }
                char d = kin_json_peek(&j);
                j.p++;
                if (d == ']') {
                    break;
                }
                if (d != ',') {
                    goto bad;
                }
            }
        } else if (kin_json_skip(&j)) {
            goto bad;
        }
    }
    j.p++;
    if (kin_json_peek(&j) != 0) {
        goto bad;
    }
    return 0;
bad:
    return ts_aws_fail(err, "SerializationException", "Request body is not valid JSON.");
}

static void raw_put_free(struct raw_put *rp)
{
    ts_free(rp->r);
    ts_free(rp->ehk);
}

/* The part of PutRecords after parsing: r[0..n) are validated records (check_record). */
static int put_records_common(struct ts_kinesis *k, struct ts_aws_req *req, const char *sn,
                              const char *arn, struct put_rec *r, size_t n,
                              struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
    struct kin_stream *s = NULL;
    if (kin_resolve_names(k, req, "kinesis:PutRecords", sn, arn, account, region, name, err) ||
        lock_stream(k, account, region, name, &s, err)) {
        return TS_EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += r[i].data_len + r[i].pk_len;
    }
    size_t cap = s->max_record_bytes > KIN_RECORD_MAX_DEFAULT ? KIN_PUT_RECORDS_BYTES_LARGE
                                                              : KIN_PUT_RECORDS_BYTES;
    int rc = 0;
    if (total > cap) {
        rc = ts_aws_fail(err, "InvalidArgumentException", "Records size exceeds %zu MB limit",
                         cap / MIB);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        rc = check_size(s, &r[i], i + 1, err);
    }
    if (!rc) {
        rc = put_fail(err, put_core(k, s, r, n, req->now_ms));
    }
    if (!rc) {
        rc = render_put_records(s, r, n, &resp->json) ? oom(err) : 0;
    }
    unlock_stream(s);
    return rc;
}

static int records_count_error(size_t n, struct ts_aws_error *err)
{
    return ts_aws_fail(err, "ValidationException",
                       "1 validation error detected: Value '[...]' at 'records' failed to "
                       "satisfy constraint: Member must have length %s",
                       n < 1 ? "greater than or equal to 1" : "less than or equal to 500");
}

/* PutRecords from the raw JSON body (the router leaves req->input NULL: raw_body). */
static int put_records_raw(struct ts_kinesis *k, struct ts_aws_req *req,
                           struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    struct raw_put rp;
    struct ts_buf scratch;
    ts_buf_init(&scratch, req->http->body_len + 1024);
    int rc = parse_put_records_raw(req->http, &rp, &scratch, err);
    if (!rc && (rp.too_many || rp.n == 0)) {
        rc = records_count_error(rp.too_many ? KIN_PUT_RECORDS_MAX + 1 : 0, err);
    }
    for (size_t i = 0; !rc && i < rp.n; i++) {
        rc = check_record(&rp.r[i], rp.ehk[i][0] ? rp.ehk[i] : NULL, i + 1, err);
    }
    if (!rc) {
        rc = put_records_common(k, req, rp.sn, rp.arn, rp.r, rp.n, resp, err);
    }
    raw_put_free(&rp);
    ts_buf_free(&scratch);
    return rc;
}

int kin_op_put_records(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    if (!req->input) {
        return put_records_raw(k, req, resp, err);
    }
    /* CBOR requests (and in-process callers) arrive as a tree. */
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(req->input, "Records");
    if (!list || cJSON_IsNull(list)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'records' failed to "
                           "satisfy constraint: Member must not be null");
    }
    if (!cJSON_IsArray(list)) {
        return ts_aws_fail(err, "SerializationException", "Records must be a list.");
    }
    int n = cJSON_GetArraySize(list);
    if (n < 1 || n > KIN_PUT_RECORDS_MAX) {
        return records_count_error((size_t)n, err);
    }
    const char *sn, *arn;
    if (kin_get_str(req->input, "StreamName", &sn, err) ||
        kin_get_str(req->input, "StreamARN", &arn, err)) {
        return TS_EINVAL;
    }
    struct put_rec *r = ts_calloc((size_t)n, sizeof(*r));
    if (!r) {
        return oom(err);
    }
    int rc = 0, i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        rc = parse_entry(e, &r[i], (size_t)i + 1, err);
        if (rc) {
            break;
        }
        i++;
    }
    if (!rc) {
        rc = put_records_common(k, req, sn, arn, r, (size_t)n, resp, err);
    }
    ts_free(r);
    return rc;
}

/* ------------------------------------------------------------------ in-process producers */

int ts_kinesis_put_batch(struct ts_kinesis *k, const char *account, const char *region,
                         const char *stream, struct ts_kinesis_entry *entries, size_t n)
{
    char acct[TS_AWS_ACCOUNT_ID_LEN + 1], reg[32], name[TS_AWS_NAME_MAX + 1];
    if (n < 1 || n > KIN_PUT_RECORDS_MAX) {
        return TS_EINVAL;
    }
    if (ts_str_has_prefix(stream, "arn:")) {
        if (kin_parse_arn(stream, acct, reg, name) != 0) {
            return TS_EINVAL;
        }
    } else {
        ts_strlcpy(acct, account, sizeof(acct));
        ts_strlcpy(reg, region, sizeof(reg));
        ts_strlcpy(name, stream, sizeof(name));
    }
    struct put_rec *r = ts_calloc(n, sizeof(*r));
    if (!r) {
        return TS_ENOMEM;
    }
    struct ts_aws_error err;
    int rc = 0;
    size_t total = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        r[i].pk = entries[i].partition_key ? entries[i].partition_key : "";
        r[i].pk_len = strlen(r[i].pk);
        r[i].raw = entries[i].data;
        r[i].data_len = entries[i].len;
        if (!ts_utf8_valid(r[i].pk, r[i].pk_len) ||
            check_record(&r[i], entries[i].explicit_hash_key, 0, &err) != 0) {
            rc = TS_EINVAL;
        }
        total += r[i].pk_len + r[i].data_len;
    }
    struct kin_stream *s = NULL;
    if (!rc) {
        rc = kin_stream_get(k, acct, reg, name, &s);
    }
    if (rc) {
        ts_free(r);
        return rc;
    }
    pthread_rwlock_rdlock(&s->lock);
    size_t cap = s->max_record_bytes > KIN_RECORD_MAX_DEFAULT ? KIN_PUT_RECORDS_BYTES_LARGE
                                                              : KIN_PUT_RECORDS_BYTES;
    rc = s->deleted ? TS_ENOTFOUND : total > cap ? TS_EINVAL : 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = check_size(s, &r[i], 0, &err) ? TS_EINVAL : 0;
    }
    rc = rc ? rc : put_core(k, s, r, n, kin_now(k));
    for (size_t i = 0; !rc && i < n; i++) {
        entries[i].rc = r[i].rc == TS_ECLOSED ? TS_ENOTFOUND : r[i].rc;
        ts_strlcpy(entries[i].shard_id, r[i].shard->id, sizeof(entries[i].shard_id));
        entries[i].sequence_number[0] = '\0';
        if (r[i].rc == 0) {
            kin_seq_format(s, r[i].shard, r[i].offset + 1, entries[i].sequence_number);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    kin_stream_put(s);
    ts_free(r);
    return rc;
}

int ts_kinesis_put_internal(struct ts_kinesis *k, const char *account, const char *region,
                            const char *stream, const char *partition_key, const void *data,
                            size_t len, char shard_id[TS_KINESIS_SHARD_ID_MAX],
                            char sequence_number[TS_KINESIS_SEQ_MAX])
{
    struct ts_kinesis_entry e;
    memset(&e, 0, sizeof(e));
    e.partition_key = partition_key;
    e.data = data;
    e.len = len;
    int rc = ts_kinesis_put_batch(k, account, region, stream, &e, 1);
    rc = rc ? rc : e.rc;
    if (!rc && shard_id) {
        ts_strlcpy(shard_id, e.shard_id, TS_KINESIS_SHARD_ID_MAX);
    }
    if (!rc && sequence_number) {
        ts_strlcpy(sequence_number, e.sequence_number, TS_KINESIS_SEQ_MAX);
    }
    return rc;
}

/* ------------------------------------------------------------------ GetShardIterator */

/* The first offset a reader may see: records older than the retention period are hidden at
 * once (DecreaseStreamRetentionPeriod), even before their segments are deleted. */
static uint64_t trim_horizon(const struct kin_stream *s, struct kin_shard *sh, int64_t now)
{
    int64_t cutoff = now - (int64_t)s->retention_hours * 3600000;
    uint64_t start = ts_partition_start_offset(sh->part);
    struct ts_partition_stats st;
    ts_partition_stats(sh->part, &st);
    uint64_t off = start;
    if (st.first_ts_ms >= 0 && st.first_ts_ms < cutoff &&
        ts_partition_find_time(sh->part, cutoff, &off) != 0) {
        off = start;
    }
    return off < start ? start : off;
}

static int bad_start_seq(struct ts_aws_error *err, const char *seq, const struct kin_stream *s,
                         const struct kin_shard *sh)
{
    return ts_aws_fail(err, "InvalidArgumentException",
                       "StartingSequenceNumber %.140s used in GetShardIterator on shard %s in "
                       "stream %s under account %s is invalid because it did not come from this "
                       "stream.",
                       seq, sh->id, s->name, s->account);
}

/* Computes the iterator's offset for type/seq/ts on shard sh (caller holds s->lock). */
static int iterator_offset(const struct kin_stream *s, struct kin_shard *sh, const char *type,
                           const char *seq, bool has_ts, int64_t ts, int64_t now,
                           uint64_t *out, struct ts_aws_error *err)
{
    bool at = strcmp(type, "AT_SEQUENCE_NUMBER") == 0;
    bool after = strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0;
    bool trim = strcmp(type, "TRIM_HORIZON") == 0;
    bool latest = strcmp(type, "LATEST") == 0;
    bool at_ts = strcmp(type, "AT_TIMESTAMP") == 0;
    if (!(at || after || trim || latest || at_ts)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.64s' at 'shardIteratorType' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           "[AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, LATEST, "
                           "TRIM_HORIZON]",
                           type);
    }
    if ((at || after) != (seq != NULL)) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER "
                           "and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                           "StartingSequenceNumber. Request specified %s and %s "
                           "StartingSequenceNumber.",
                           type, seq ? "also a" : "no");
    }
    uint64_t end = sh->closed_ms ? sh->end_offset : ts_partition_end_offset(sh->part);
    uint64_t th = trim_horizon(s, sh, now);
    if (th > end) {
        th = end;
    }
    if (at_ts) {
        if (!has_ts) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Must specify timestampInMillis parameter for iterator of type "
                               "AT_TIMESTAMP. Current request has no timestamp parameter.");
        }
        if (ts > now) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "The timestampInMillis parameter cannot be greater than the "
                               "currentTimestampInMillis. timestampInMillis: %lld, "
                               "currentTimestampInMillis: %lld",
                               (long long)ts, (long long)now);
        }
        uint64_t off = end;
        int rc = ts_partition_find_time(sh->part, ts, &off);
        if (rc) {
            return kin_store_fail(err, rc);
        }
        *out = off < th ? th : off > end ? end : off;
        return 0;
    }
    if (trim) {
        *out = th;
        return 0;
    }
    if (latest) {
        *out = end;
        return 0;
    }
    int64_t created;
    uint32_t index, check;
    uint64_t off;
    if (kin_seq_parse(seq, &created, &index, &off, &check) != 0 || check != s->check) {
        kin_u128 v;
        bool numeric = strlen(seq) > 39 || kin_u128_parse(seq, &v) == 0;
        for (const char *p = seq; numeric && *p; p++) {
            numeric = *p >= '0' && *p <= '9';
        }
        if (!numeric || (seq[0] == '0' && seq[1])) {
            return ts_aws_fail(err, "ValidationException",
                               "1 validation error detected: Value '%.140s' at "
                               "'startingSequenceNumber' failed to satisfy constraint: Member "
                               "must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
                               seq);
        }
        return bad_start_seq(err, seq, s, sh);
    }
    if (index != sh->index || created != sh->created_ms) {
        char other[TS_KINESIS_SHARD_ID_MAX];
        kin_shard_id(index, other);
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Invalid StartingSequenceNumber. It encodes %s, while it was used in "
                           "a call to a shard with %s",
                           other, sh->id);
    }
    /* The number's field is the record's offset + 1 (0 = the shard's StartingSequenceNumber,
     * before its first record), so the largest valid field is the end offset. */
    if (off > end) {
        return bad_start_seq(err, seq, s, sh);
    }
    uint64_t pos = after ? off : off ? off - 1 : 0;
    *out = pos < th ? th : pos;
    return 0;
}

static int find_shard(struct kin_stream *s, const char *shard_id, struct kin_shard **out,
                      struct ts_aws_error *err)
{
    uint32_t index;
    struct kin_shard *sh = NULL;
    if (kin__parse_shard_id(shard_id, &index) == 0) {
        sh = kin_stream_shard(s, index);
    }
    if (!sh) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "Shard %.128s in stream %s under account %s does not exist", shard_id,
                           s->name, s->account);
    }
    *out = sh;
    return 0;
}

int kin_op_get_shard_iterator(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    const char *shard_id, *type, *seq;
    int64_t ts = 0;
    bool has_ts;
    if (kin_get_str(req->input, "ShardId", &shard_id, err) ||
        kin_get_str(req->input, "ShardIteratorType", &type, err) ||
        kin_get_str(req->input, "StartingSequenceNumber", &seq, err) ||
        kin_get_time(req->input, "Timestamp", &ts, &has_ts, err)) {
        return TS_EINVAL;
    }
    if (!shard_id || !type) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at '%s' failed to satisfy "
                           "constraint: Member must not be null",
                           shard_id ? "shardIteratorType" : "shardId");
    }
    char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
    struct kin_stream *s;
    if (kin_resolve(k, req, "kinesis:GetShardIterator", account, region, name, err) ||
        lock_stream(k, account, region, name, &s, err)) {
        return TS_EINVAL;
    }
    struct kin_shard *sh = NULL;
    struct kin_iter it;
    memset(&it, 0, sizeof(it));
    int rc = find_shard(s, shard_id, &sh, err);
    rc = rc ? rc
            : iterator_offset(s, sh, type, seq, has_ts, ts, req->now_ms, &it.offset, err);
    if (!rc) {
        it.issued_ms = req->now_ms;
        it.shard_index = sh->index;
        it.shard_created_ms = sh->created_ms;
        it.stream_created_ms = s->created_ms;
        it.stream_check = s->check;
        ts_strlcpy(it.account, s->account, sizeof(it.account));
        ts_strlcpy(it.region, s->region, sizeof(it.region));
        ts_strlcpy(it.stream, s->name, sizeof(it.stream));
    }
    unlock_stream(s);
    if (rc) {
        return rc;
    }
    char text[512];
    cJSON *out = cJSON_CreateObject();
    if (!out || kin_iter_seal(k, &it, text, sizeof(text)) != 0 ||
        !cJSON_AddStringToObject(out, "ShardIterator", text)) {
        cJSON_Delete(out);
        return oom(err);
    }
    resp->output = out;
    return 0;
}

/* ------------------------------------------------------------------ GetRecords */

static void fmt_aws_time(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%a %b %d %H:%M:%S UTC %Y", &tm);
}

/* ChildShards of shard `parent` (caller holds s->lock). */
static cJSON *child_shards(const struct kin_stream *s, uint32_t parent)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < s->n_shards; i++) {
        const struct kin_shard *c = s->shards[i];
        if (c->parent != (int64_t)parent && c->adjacent != (int64_t)parent) {
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON *parents = o ? cJSON_AddArrayToObject(o, "ParentShards") : NULL;
        if (!parents) {
            cJSON_Delete(o);
            continue;
        }
        char id[TS_KINESIS_SHARD_ID_MAX], num[KIN_U128_DIGITS + 1];
        cJSON_AddStringToObject(o, "ShardId", c->id);
        kin_shard_id((uint32_t)c->parent, id);
        cJSON_AddItemToArray(parents, cJSON_CreateString(id));
        if (c->adjacent >= 0) {
            kin_shard_id((uint32_t)c->adjacent, id);
            cJSON_AddItemToArray(parents, cJSON_CreateString(id));
        }
        cJSON *hr = cJSON_AddObjectToObject(o, "HashKeyRange");
        if (hr) {
            kin_u128_format(c->start_hash, num);
            cJSON_AddStringToObject(hr, "StartingHashKey", num);
            kin_u128_format(c->end_hash, num);
            cJSON_AddStringToObject(hr, "EndingHashKey", num);
        }
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

/* What GetRecords needs of the shard, copied under the stream lock. */
struct read_view {
    struct kin_shard *sh;
    bool closed;
    uint64_t end_offset;
    int64_t retention_ms;
    cJSON *children; /* closed shards only */
};

static int open_iterator(struct ts_kinesis *k, struct ts_aws_req *req, struct kin_iter *it,
                         struct kin_stream **out_s, struct read_view *v,
                         struct ts_aws_error *err)
{
    const char *text, *arn;
    if (kin_get_str(req->input, "ShardIterator", &text, err) ||
        kin_get_str(req->input, "StreamARN", &arn, err)) {
        return TS_EINVAL;
    }
    if (!text) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'shardIterator' failed "
                           "to satisfy constraint: Member must not be null");
    }
    if (strlen(text) > 512 || kin_iter_open(k, text, it) != 0 ||
        strcmp(it->region, req->region) != 0) {
        return ts_aws_fail(err, "InvalidArgumentException", "Invalid ShardIterator.");
    }
    if (req->now_ms - it->issued_ms > KIN_ITERATOR_TTL_MS) {
        char then[64], now[64];
        fmt_aws_time(it->issued_ms, then, sizeof(then));
        fmt_aws_time(req->now_ms, now, sizeof(now));
        return ts_aws_fail(err, "ExpiredIteratorException",
                           "Iterator expired. The iterator was created at time %s while right "
                           "now it is %s which is further in the future than the tolerated "
                           "delay of %d milliseconds.",
                           then, now, KIN_ITERATOR_TTL_MS);
    }
    char stream_arn[TS_AWS_ARN_MAX];
    snprintf(stream_arn, sizeof(stream_arn), "arn:aws:kinesis:%s:%s:stream/%s", it->region,
             it->account, it->stream);
    if (arn && strcmp(arn, stream_arn) != 0) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "StreamARN %.300s does not match the stream of the ShardIterator.",
                           arn);
    }
    if (strcmp(it->account, req->caller.account) != 0 &&
        !(k->opts.authorize && k->opts.authorize(k->opts.authorize_ctx, &req->caller,
                                                 "kinesis:GetRecords", stream_arn))) {
        return ts_aws_fail(err, "AccessDeniedException",
                           "User: %s is not authorized to perform: kinesis:GetRecords on "
                           "resource: %s because no resource-based policy allows the "
                           "kinesis:GetRecords action",
                           req->caller.arn, stream_arn);
    }
    struct kin_stream *s;
    if (lock_stream(k, it->account, it->region, it->stream, &s, err)) {
        return TS_EINVAL;
    }
    if (s->created_ms != it->stream_created_ms || s->check != it->stream_check) {
        unlock_stream(s);
        return kin_not_found(err, it->account, it->stream);
    }
    struct kin_shard *sh = kin_stream_shard(s, it->shard_index);
    if (!sh || sh->created_ms != it->shard_created_ms) {
        char id[TS_KINESIS_SHARD_ID_MAX];
        kin_shard_id(it->shard_index, id);
        int rc = ts_aws_fail(err, "ResourceNotFoundException",
                             "Shard %s in stream %s under account %s does not exist", id,
                             s->name, s->account);
        unlock_stream(s);
        return rc;
    }
    v->sh = sh;
    v->closed = sh->closed_ms != 0;
    v->end_offset = sh->end_offset;
    v->retention_ms = (int64_t)s->retention_hours * 3600000;
    v->children = v->closed ? child_shards(s, sh->index) : NULL;
    /* The shard stays valid while we hold the reference: shards are freed with the stream. */
    pthread_rwlock_unlock(&s->lock);
    *out_s = s;
    return 0;
}

/* Renders one stored record into the Records array of out (a separating comma unless first).
 * Returns its data + key bytes; 0 and nothing rendered for a malformed record (not one of
 * ours); sets *fail on a buffer error. */
static size_t emit_record(const struct kin_stream *s, const struct kin_shard *sh,
                          const struct ts_record *rec, bool first, struct ts_buf *out,
                          int *fail)
{
    if (rec->len < KIN_RECORD_HDR || rec->data[0] != KIN_RECORD_VERSION) {
        return 0;
    }
    size_t pk_len = (size_t)rec->data[1] << 8 | rec->data[2];
    if (pk_len > rec->len - KIN_RECORD_HDR || pk_len > 4 * KIN_PARTITION_KEY_MAX) {
        return 0;
    }
    size_t dlen = rec->len - KIN_RECORD_HDR - pk_len;
    const char *pk = (const char *)rec->data + KIN_RECORD_HDR;
    /* Everything is written into reserved room: no per-record allocation. */
    int rc = ts_buf_reserve(out, 160 + 6 * pk_len + (dlen + 2) / 3 * 4);
    if (rc) {
        *fail = rc;
        return 0;
    }
    char *w = out->data + out->len;
    static const char k_seq[] = "{\"SequenceNumber\":\"";
    static const char k_ts[] = "\",\"ApproximateArrivalTimestamp\":";
    static const char k_data[] = ",\"Data\":\"";
    static const char k_pk[] = "\",\"PartitionKey\":\"";
    if (!first) {
        *w++ = ',';
    }
    memcpy(w, k_seq, sizeof(k_seq) - 1);
    w += sizeof(k_seq) - 1;
    kin_seq_format(s, sh, rec->offset + 1, w);
    w += KIN_SEQ_LEN;
    memcpy(w, k_ts, sizeof(k_ts) - 1);
    w += sizeof(k_ts) - 1;
    w += kin_fmt_time(rec->ts_ms, w);
    memcpy(w, k_data, sizeof(k_data) - 1);
    w += sizeof(k_data) - 1;
    w += kin_b64_encode(rec->data + KIN_RECORD_HDR + pk_len, dlen, w);
    memcpy(w, k_pk, sizeof(k_pk) - 1);
    w += sizeof(k_pk) - 1;
    w += kin_json_escape(pk, pk_len, w);
    *w++ = '"';
    *w++ = '}';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return dlen + pk_len;
}

int kin_op_get_records(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    int64_t limit = KIN_GET_RECORDS_MAX;
    bool has_limit;
    if (kin_get_int(req->input, "Limit", &limit, &has_limit, err)) {
        return TS_EINVAL;
    }
    if (has_limit && (limit < 1 || limit > KIN_GET_RECORDS_MAX)) {
        return ts_aws_fail(err, limit < 1 ? "ValidationException" : "InvalidArgumentException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value %s",
                           (long long)limit,
                           limit < 1 ? "greater than or equal to 1"
                                     : "less than or equal to 10000");
    }
    struct kin_iter it;
    struct kin_stream *s = NULL;
    struct read_view v;
    memset(&v, 0, sizeof(v));
    if (open_iterator(k, req, &it, &s, &v, err)) {
        return TS_EINVAL;
    }
    struct kin_shard *sh = v.sh;
    if (k->opts.limits_aws && !kin_limits_read(sh, req->now_ms)) {
        cJSON_Delete(v.children);
        int rc = throttled(err, s, sh);
        kin_stream_put(s);
        return rc;
    }
    /* The body is rendered straight into the response buffer (see struct ts_aws_resp). */
    struct ts_buf *out = &resp->json;
    size_t cap = READ_CHUNK + 64 * 1024;
    uint8_t *buf = ts_malloc(cap);
    struct ts_record *recs = buf ? ts_malloc(READ_RECS * sizeof(*recs)) : NULL;
    int rc = recs ? ts_buf_adds(out, "{\"Records\":[") : TS_ENOMEM;
    int64_t cutoff = req->now_ms - v.retention_ms;
    uint64_t off = it.offset;
    uint64_t start = ts_partition_start_offset(sh->part);
    struct ts_partition_stats st;
    ts_partition_stats(sh->part, &st);
    if (off < start) {
        off = start;
    }
    if (!rc && st.first_ts_ms >= 0 && st.first_ts_ms < cutoff) {
        /* Records older than the retention period are hidden before their segment goes. */
        uint64_t th;
        if (ts_partition_find_time(sh->part, cutoff, &th) == 0 && th > off) {
            off = th;
        }
    }
    int64_t n = 0, last_ts = -1;
    size_t bytes = 0, rendered = 0;
    bool stop = false;
    while (!rc && !stop && n < limit && bytes < KIN_GET_RECORDS_BYTES) {
        size_t want = (size_t)TS_MIN((int64_t)READ_RECS, limit - n), got = 0;
        uint64_t next = off;
        int e = ts_partition_read(sh->part, off, buf, cap, recs, want, &got, &next);
        if (e == TS_ETOOBIG && cap < KIN_RECORD_MAX_MODEL + 64 * 1024) {
            uint8_t *bigger = ts_realloc(buf, KIN_RECORD_MAX_MODEL + 64 * 1024);
            if (!bigger) {
                rc = TS_ENOMEM;
                break;
            }
            buf = bigger;
            cap = KIN_RECORD_MAX_MODEL + 64 * 1024;
            continue;
        }
        if (e == TS_ERANGE) {
            uint64_t first = ts_partition_start_offset(sh->part);
            if (off < first) {
                off = first; /* retention raced us */
                continue;
            }
            break;
        }
        if (e) {
            rc = e;
            break;
        }
        if (got == 0) {
            break;
        }
        for (size_t i = 0; i < got; i++) {
            const struct ts_record *rec = &recs[i];
            if (rec->gap) {
                off = rec->gap_end;
                continue;
            }
            if (rec->ts_ms < cutoff) {
                off = rec->offset + 1;
                continue;
            }
            if (n > 0 && bytes + rec->len > KIN_GET_RECORDS_BYTES) {
                stop = true; /* the 10 MiB response cap: this record starts the next call */
                break;
            }
            int fail = 0;
            size_t before = out->len;
            bytes += emit_record(s, sh, rec, rendered == 0, out, &fail);
            if (fail) {
                rc = fail;
                break;
            }
            rendered += out->len != before;
            n++;
            last_ts = rec->ts_ms;
            off = rec->offset + 1;
            if (n == limit) {
                break;
            }
        }
    }
    ts_free(recs);
    ts_free(buf);
    if (k->opts.limits_aws) {
        kin_limits_read_done(sh, bytes, req->now_ms);
    }
    ts_partition_stats(sh->part, &st);
    bool at_end = v.closed && off >= v.end_offset;
    rc = rc ? rc : ts_buf_adds(out, "]");
    if (!rc && !at_end) {
        struct kin_iter next = it;
        next.issued_ms = req->now_ms;
        next.offset = off;
        char text[512];
        rc = kin_iter_seal(k, &next, text, sizeof(text)) ? TS_ENOMEM : 0;
        rc = rc ? rc : ts_buf_addf(out, ",\"NextShardIterator\":\"%s\"", text);
    }
    int64_t behind = 0;
    if (off < st.end_offset && st.last_ts_ms >= 0) {
        /* From the tip: how far the last record returned is behind the newest one. */
        int64_t ref = last_ts >= 0 ? last_ts : st.first_ts_ms;
        behind = TS_MAX(st.last_ts_ms - ref, 0);
    }
    rc = rc ? rc : ts_buf_addf(out, ",\"MillisBehindLatest\":%lld", (long long)behind);
    if (!rc && at_end && v.children) {
        char *text = cJSON_PrintUnformatted(v.children);
        rc = text ? ts_buf_addf(out, ",\"ChildShards\":%s", text) : TS_ENOMEM;
        cJSON_free(text);
    }
    rc = rc ? rc : ts_buf_adds(out, "}");
    cJSON_Delete(v.children);
    if (rc) {
        ts_buf_reset(out);
        rc = rc == TS_ENOMEM || rc == TS_ETOOBIG ? oom(err)
             : rc == TS_ECLOSED                  ? kin_not_found(err, s->account, s->name)
                                                 : kin_store_fail(err, rc);
    }
    kin_stream_put(s);
    return rc;
}
