/*
 * kinesis_int.h - internals shared by the files of the Kinesis service: the stream cache, the
 * 128-bit hash key arithmetic, sequence numbers, sealed tokens (shard iterators, NextTokens)
 * and the throughput limiter.
 *
 * Locking, outermost first:
 *   k->ctl      serialises control-plane operations (create, delete, reshard, retention,
 *               tags) against each other; held across their meta and store calls.
 *   s->lock     (rwlock per stream) read-held by every data-plane call while it routes and
 *               appends; write-held by control-plane changes of the shard list, status and
 *               retention. A reshard therefore waits for in-flight appends, and no record can
 *               reach a parent shard after its children exist (per-key order across reshards).
 *   k->cache_mu protects the name -> stream table only; held for lookups, never across I/O.
 */
#ifndef KINESIS_INT_H
#define KINESIS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "trailstream/ts_kinesis.h"

__extension__ typedef unsigned __int128 kin_u128;
#define KIN_U128_MAX (~(kin_u128)0)
#define KIN_U128_DIGITS 40 /* 2^128-1 has 39 digits */

#define KIN_ITERATOR_TTL_MS (5 * 60 * 1000)
#define KIN_TOKEN_TTL_MS (5 * 60 * 1000)
#define KIN_SEQ_LEN 56
#define KIN_DEFAULT_RETENTION_H 24
#define KIN_MAX_RETENTION_H 8760
#define KIN_ON_DEMAND_SHARDS 4
#define KIN_MAX_SHARDS_PER_STREAM 10000
#define KIN_RECORD_MAX_DEFAULT (1024u * 1024)   /* data + partition key, per record */
#define KIN_RECORD_MAX_MODEL (10u * 1024 * 1024) /* the model's Data maximum */
#define KIN_PUT_RECORDS_MAX 500
#define KIN_PUT_RECORDS_BYTES (5u * 1024 * 1024)  /* per request, default streams */
#define KIN_PUT_RECORDS_BYTES_LARGE (10u * 1024 * 1024)
#define KIN_GET_RECORDS_MAX 10000
#define KIN_GET_RECORDS_BYTES (10u * 1024 * 1024)
#define KIN_PARTITION_KEY_MAX 256
#define KIN_MAX_TAGS 50
#define KIN_RECORD_VERSION 1
#define KIN_RECORD_HDR 3 /* version byte + 16-bit partition key length */

/* A token bucket (used only when limits_aws is on). */
struct kin_bucket {
    double tokens;
    double rate;  /* tokens per second */
    double burst; /* capacity */
    int64_t last_ms;
};

struct kin_shard {
    uint32_t index;             /* shardId-<index, 12 digits> */
    char id[TS_KINESIS_SHARD_ID_MAX];
    int64_t parent;             /* shard index or -1 */
    int64_t adjacent;           /* shard index or -1 */
    kin_u128 start_hash, end_hash;
    int64_t created_ms;         /* the sequence-number epoch of the shard */
    int64_t closed_ms;          /* 0 while open */
    uint64_t end_offset;        /* closed: one past its last record */
    struct ts_partition *part;
    size_t open_pos;            /* position in kin_stream.open while open */
    char seq_prefix[28];        /* "49" + created (13 digits) + index (12 digits) */
    pthread_mutex_t lim_mu;     /* the buckets below */
    struct kin_bucket w_recs, w_bytes, r_calls, r_bytes;
};

struct kin_stream {
    atomic_int refs;
    char account[TS_AWS_ACCOUNT_ID_LEN + 1];
    char region[32];
    char name[TS_AWS_NAME_MAX + 1];
    char arn[TS_AWS_ARN_MAX];
    int64_t created_ms;
    uint32_t check;             /* random 9-digit incarnation check, last digits of seq nums */
    char seq_suffix[10];
    pthread_rwlock_t lock;      /* see the top of this file */
    bool deleted;
    int retention_hours;
    bool on_demand;
    uint32_t max_record_bytes;
    int max_record_kib;         /* as created (0 = not given) */
    cJSON *tags;                /* {key: value}, under lock */
    struct kin_shard **shards;  /* every shard (open and closed) by position = creation order */
    size_t n_shards;
    struct kin_shard **open;    /* the open shards in hash-key order (routing) */
    size_t n_open;
    struct kin_stream *next;    /* cache chain */
};

struct kin_pool;

struct ts_kinesis {
    struct ts_services_ctx ctx;
    struct kin_pool *pool;      /* parallel appends to several shards */
    struct ts_kinesis_opts opts;
    struct ts_aws_service service;
    uint8_t token_key[TS_SHA256_LEN];
    pthread_mutex_t ctl;
    pthread_mutex_t cache_mu;
    struct kin_stream *cache[64];
    /* retention thread */
    pthread_t thread;
    bool thread_started;
    bool stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
};

static inline int64_t kin_now(const struct ts_kinesis *k)
{
    return ts_clock_now_ms(k->ctx.clock);
}

/* ---- kinesis_hash.c: 128-bit hash keys */

/* Parses a decimal 0..2^128-1 (no sign, no leading zeros except "0"). 0 or TS_EINVAL. */
int kin_u128_parse(const char *s, kin_u128 *out);
/* Formats v in decimal into out (at least KIN_U128_DIGITS bytes). */
void kin_u128_format(kin_u128 v, char *out);
/* MD5 (RFC 1321). */
void kin_md5(const void *data, size_t len, uint8_t out[TS_MD5_LEN]);
/* MD5 of the UTF-8 bytes of a partition key as a big-endian 128-bit integer. */
kin_u128 kin_hash_key(const char *pk, size_t len);
/* Start of range i of n equal ranges of the hash space (n >= 1, i <= n; i == n gives 0 after
 * wrap and is never used as a start). */
kin_u128 kin_range_start(uint32_t i, uint32_t n);
/* Inclusive end of range i of n. */
kin_u128 kin_range_end(uint32_t i, uint32_t n);

/* ---- kinesis_seq.c: sequence numbers and sealed tokens */

/* Fills shard->seq_prefix from shard->created_ms and shard->index. */
void kin_seq_prefix(struct kin_shard *sh);
/* Writes the 56-digit sequence number with offset field `field` in `sh` of `s` (out:
 * KIN_SEQ_LEN + 1). The field of the record at store offset o is o + 1; field 0 is the shard's
 * StartingSequenceNumber (before every record), and a closed shard's EndingSequenceNumber has
 * the field of its last record (its end offset). */
void kin_seq_format(const struct kin_stream *s, const struct kin_shard *sh, uint64_t offset,
                    char *out);
/* Decodes a sequence number of this format: shard creation time, shard index, offset, stream
 * check. Returns 0 or TS_EINVAL when it is not one of ours. */
int kin_seq_parse(const char *seq, int64_t *created_ms, uint32_t *index, uint64_t *field,
                  uint32_t *check);

enum kin_token_kind {
    KIN_TOKEN_ITERATOR = 1,
    KIN_TOKEN_LIST_SHARDS = 2,
    KIN_TOKEN_LIST_STREAMS = 3,
};

/* What a shard iterator is bound to. */
struct kin_iter {
    int64_t issued_ms;
    uint64_t offset;
    uint32_t shard_index;
    int64_t shard_created_ms;
    int64_t stream_created_ms;
    uint32_t stream_check;
    char account[TS_AWS_ACCOUNT_ID_LEN + 1];
    char region[32];
    char stream[TS_AWS_NAME_MAX + 1];
};

/* Seals an iterator: binary fields + truncated HMAC-SHA256, base64. out >= 512 bytes.
 * Returns 0 or TS_EINVAL (a field too long). */
int kin_iter_seal(const struct ts_kinesis *k, const struct kin_iter *it, char *out,
                  size_t out_len);
/* Opens an iterator sealed by kin_iter_seal: 0, or TS_EINVAL when it is malformed or its MAC
 * does not verify (tampered, or from another data directory). Expiry is the caller's check. */
int kin_iter_open(const struct ts_kinesis *k, const char *text, struct kin_iter *it);

/* Generic sealed token: kind + issued time + an opaque payload (<= 400 bytes). */
int kin_token_seal(const struct ts_kinesis *k, enum kin_token_kind kind, int64_t issued_ms,
                   const void *payload, size_t len, char *out, size_t out_len);
/* Opens a token of `kind`: fills payload (up to cap) and *len, *issued_ms. 0 or TS_EINVAL. */
int kin_token_open(const struct ts_kinesis *k, enum kin_token_kind kind, const char *text,
                   int64_t *issued_ms, void *payload, size_t cap, size_t *len);

/* ---- kinesis_streams.c: the stream cache and the control plane */

/* Finds a stream (loading it from meta on a cache miss) and returns it with a reference the
 * caller drops with kin_stream_put. 0, TS_ENOTFOUND, or a meta/store error. */
int kin_stream_get(struct ts_kinesis *k, const char *account, const char *region,
                   const char *name, struct kin_stream **out);
void kin_stream_put(struct kin_stream *s);
/* The open shard whose hash range holds h; caller holds s->lock. NULL only if none (a bug). */
struct kin_shard *kin_stream_route(struct kin_stream *s, kin_u128 h);
/* The shard with `index`; caller holds s->lock. NULL if absent. */
struct kin_shard *kin_stream_shard(struct kin_stream *s, uint32_t index);

/* Resolves StreamName / StreamARN of a request into (owner account, region, name), checking
 * that they agree and that the caller may act on it (`action` like "kinesis:PutRecord").
 * Fills err and returns TS_EINVAL on refusal. */
int kin_resolve(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err);
/* The same with the StreamName / StreamARN values given (NULL = absent). */
int kin_resolve_names(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                      const char *sn, const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1],
                      char region[32], char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err);
/* The same for an ARN given in another member (TagResource's ResourceARN). */
int kin_resolve_arn(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                    const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                    char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err);
/* Parses "arn:aws:kinesis:<region>:<account>:stream/<name>"; 0 or TS_EINVAL. */
int kin_parse_arn(const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                  char name[TS_AWS_NAME_MAX + 1]);
/* Maps a store error of a data-plane call to the AWS error. Returns TS_EINVAL (err filled). */
int kin_store_fail(struct ts_aws_error *err, int rc);
/* Fails with ResourceNotFoundException for a missing stream. */
int kin_not_found(struct ts_aws_error *err, const char *account, const char *name);

/* Stream and shard plumbing shared by kinesis_streams.c and kinesis_admin.c; the caller holds
 * k->ctl for everything that writes the document or creates partitions. */
int kin__shard_new(struct ts_kinesis *k, struct kin_stream *s, uint32_t index, int64_t parent,
                   int64_t adjacent, kin_u128 start, kin_u128 end, int64_t created_ms,
                   struct kin_shard **out);
void kin__shard_free(struct kin_shard *sh);
int kin__stream_add_shard(struct kin_stream *s, struct kin_shard *sh);
int kin__stream_rebuild_open(struct kin_stream *s);
int kin__stream_save(struct ts_kinesis *k, const struct kin_stream *s, bool create);
void kin__cache_remove(struct ts_kinesis *k, struct kin_stream *s);
void kin__cache_clear(struct ts_kinesis *k);
int kin__load_doc(struct ts_kinesis *k, const char *account, const char *region,
                  const char *name, cJSON **out);
int kin__get_for_op(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                    struct kin_stream **out, struct ts_aws_error *err);
cJSON *kin__shard_json(const struct kin_stream *s, const struct kin_shard *sh);
int kin__parse_shard_id(const char *id, uint32_t *index);
int kin__count_open_shards(struct ts_kinesis *k, const char *account, const char *region,
                           int64_t *out);
int kin__delete_partitions(struct ts_kinesis *k, const char *account, const char *region,
                           const char *name);
int kin__validate_tags(const cJSON *tags, struct ts_aws_error *err);

/* Control-plane operations (kinesis_streams.c, kinesis_admin.c). */
int kin_op_create_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err);
int kin_op_delete_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err);
int kin_op_describe_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err);
int kin_op_describe_stream_summary(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err);
int kin_op_list_streams(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err);
int kin_op_list_shards(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int kin_op_increase_retention(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int kin_op_decrease_retention(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int kin_op_add_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct ts_aws_error *err);
int kin_op_remove_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int kin_op_list_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                     struct ts_aws_error *err);
int kin_op_tag_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err);
int kin_op_untag_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err);
int kin_op_list_tags_for_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                  struct ts_aws_error *err);
int kin_op_update_shard_count(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);

/* ---- kinesis_records.c: the data plane */

int kin_op_put_record(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err);
int kin_op_put_records(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);
int kin_op_get_shard_iterator(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err);
int kin_op_get_records(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err);

/* ---- kinesis_pool.c: parallel appends */

/* One append of a multi-shard request. */
struct kin_append {
    struct ts_partition *part;
    const struct ts_record_in *recs;
    size_t n;
    int64_t ts_ms;
    uint64_t first; /* out */
    int rc;         /* out */
};

struct kin_pool *kin_pool_create(size_t n_threads);
void kin_pool_destroy(struct kin_pool *p);
/* Runs the n appends concurrently (the first on the calling thread) and returns when all of
 * them have returned, each with its rc/first filled in. p == NULL runs them in turn. */
void kin_pool_append(struct kin_pool *p, struct kin_append *a, size_t n);

/* ---- kinesis_limits.c: throughput buckets (only with limits_aws) */

void kin_limits_init(struct kin_shard *sh, int64_t now_ms);
/* Takes one record of `bytes` from the write buckets; false if throttled. */
bool kin_limits_write(struct kin_shard *sh, size_t bytes, int64_t now_ms);
/* Admits a GetRecords call (false if throttled); kin_limits_read_done charges its bytes. */
bool kin_limits_read(struct kin_shard *sh, int64_t now_ms);
void kin_limits_read_done(struct kin_shard *sh, size_t bytes, int64_t now_ms);

/* ---- kinesis_codec.c: hot-path codecs */

/* Base64 of p[0..n) into out (room for (n + 2) / 3 * 4 bytes, no NUL); returns the length. */
size_t kin_b64_encode(const uint8_t *p, size_t n, char *out);
/* Strict padded base64 into out (room for n / 4 * 3 bytes): 0 or TS_EINVAL. */
int kin_b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len);
/* JSON string escaping of n bytes of UTF-8 into out (room for 6 * n); returns the length. */
size_t kin_json_escape(const char *s, size_t n, char *out);
/* Decimal of v (room for 20); returns the length. */
size_t kin_fmt_u64(uint64_t v, char *out);
/* Epoch seconds with millisecond fraction, "1732800000.123" (room for 24). */
size_t kin_fmt_time(int64_t ms, char *out);

/* A minimal JSON scanner for bodies parsed without a DOM (PutRecords). */
struct kin_json {
    const char *p;
    const char *end;
};
/* Skips whitespace; returns the next character or 0 at the end. */
char kin_json_peek(struct kin_json *j);
/* A string at j->p: its raw contents (between the quotes) and whether it holds escapes.
 * 0 or TS_EPARSE. */
int kin_json_string(struct kin_json *j, const char **s, size_t *n, bool *escaped);
/* Skips any value (depth-limited). 0 or TS_EPARSE. */
int kin_json_skip(struct kin_json *j);
/* Consumes the literal null if it is next (true) or not (false). */
bool kin_json_null(struct kin_json *j);
/* Decodes the escapes of a raw string into out (room for n bytes); 0 or TS_EPARSE (bad escape
 * or lone surrogate). */
int kin_json_unescape(const char *s, size_t n, char *out, size_t *out_len);

/* ---- input helpers (kinesis_streams.c) */

/* Member as string / integer, with validation errors filled in. `present` tells if it was
 * there (optional members). Return TS_EINVAL with err set on a type error. */
int kin_get_str(const cJSON *in, const char *name, const char **out, struct ts_aws_error *err);
int kin_get_int(const cJSON *in, const char *name, int64_t *out, bool *present,
                struct ts_aws_error *err);
/* Timestamp member (epoch seconds number, or ISO-8601 / numeric string): ms. */
int kin_get_time(const cJSON *in, const char *name, int64_t *out_ms, bool *present,
                 struct ts_aws_error *err);
/* Adds a timestamp (epoch seconds with millisecond fraction) member. */
cJSON *kin_add_time(cJSON *obj, const char *name, int64_t ms);
/* The partition name of a shard: "kinesis/<account>/<region>/<stream>/<shardId>". */
void kin_partition_name(const char *account, const char *region, const char *name,
                        uint32_t index, char *out, size_t out_len);
void kin_shard_id(uint32_t index, char out[TS_KINESIS_SHARD_ID_MAX]);

#endif
