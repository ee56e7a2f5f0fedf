/*
 * kinesis_streams.c - streams: the metadata document, the in-memory stream cache the data plane
 * runs on, request helpers, and the stream-level control plane (CreateStream, DeleteStream,
 * DescribeStream, DescribeStreamSummary, ListStreams, ListShards).
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_ListShards.html
 *
 * Storage: one ts_meta document of kind "kinesis_stream" per stream, key "<region>/<name>",
 * holding the attributes and the whole shard list; one store partition per shard named
 * "kinesis/<account>/<region>/<stream>/<shardId>" (docs/kinesis.md).
 */
#include "kinesis_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_MAX ((size_t)16 << 20)
#define KIND "kinesis_stream"

/* ------------------------------------------------------------------ small helpers */

void kin_shard_id(uint32_t index, char out[TS_KINESIS_SHARD_ID_MAX])
{
    snprintf(out, TS_KINESIS_SHARD_ID_MAX, "shardId-%012u", index);
}

void kin_partition_name(const char *account, const char *region, const char *name,
                        uint32_t index, char *out, size_t out_len)
{
    snprintf(out, out_len, "kinesis/%s/%s/%s/shardId-%012u", account, region, name, index);
}

static void stream_key(const char *region, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", region, name);
}

int kin_not_found(struct ts_aws_error *err, const char *account, const char *name)
{
    return ts_aws_fail(err, "ResourceNotFoundException", "Stream %s under account %s not found.",
                       name, account);
}

int kin_store_fail(struct ts_aws_error *err, int rc)
{
    if (rc == TS_ENOSPC) {
        return ts_aws_fail(err, "ServiceUnavailableException",
                           "The service is unavailable: no space left for stream data.");
    }
    return ts_aws_fail(err, "InternalFailure", "Internal Service Failure");
}

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TS_AWS_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int serialization(struct ts_aws_error *err, const char *name)
{
    return ts_aws_fail(err, "SerializationException", "Unexpected type for member %s.", name);
}

int kin_get_str(const cJSON *in, const char *name, const char **out, struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        return serialization(err, name);
    }
    *out = v->valuestring;
    return 0;
}

int kin_get_int(const cJSON *in, const char *name, int64_t *out, bool *present,
                struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    *present = false;
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 9.0e15) {
        return serialization(err, name);
    }
    *out = (int64_t)v->valuedouble;
    *present = true;
    return 0;
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]". */
static int parse_iso(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19) {
        return TS_EINVAL;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t frac = 0;
    const char *p = s + 19;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3) {
                frac = frac * 10 + (*p - '0');
            }
        }
        for (; digits < 3; digits++) {
            frac *= 10;
        }
    }
    int64_t off_s = 0;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6) {
            return TS_EINVAL;
        }
        off_s = (*p == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
    } else if (!((*p == 'Z' && p[1] == '\0') || *p == '\0')) {
        return TS_EINVAL;
    }
    *ms = ((int64_t)timegm(&tm) - off_s) * 1000 + frac;
    return 0;
}

int kin_get_time(const cJSON *in, const char *name, int64_t *out_ms, bool *present,
                 struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    *present = false;
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        *out_ms = (int64_t)llround(v->valuedouble * 1000.0);
    } else if (cJSON_IsString(v) && v->valuestring) {
        char *end = NULL;
        double d = strtod(v->valuestring, &end);
        if (end && end != v->valuestring && *end == '\0') {
            *out_ms = (int64_t)llround(d * 1000.0);
        } else if (parse_iso(v->valuestring, out_ms) != 0) {
            return serialization(err, name);
        }
    } else {
        return serialization(err, name);
    }
    *present = true;
    return 0;
}

cJSON *kin_add_time(cJSON *obj, const char *name, int64_t ms)
{
    return cJSON_AddNumberToObject(obj, name, (double)ms / 1000.0);
}

int kin_parse_arn(const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                  char name[TS_AWS_NAME_MAX + 1])
{
    /* arn:<partition>:kinesis:<region>:<12 digits>:stream/<name> */
    if (!arn || strncmp(arn, "arn:aws", 7) != 0) {
        return TS_EINVAL;
    }
    const char *p = strchr(arn + 4, ':');
    if (!p || strncmp(p, ":kinesis:", 9) != 0) {
        return TS_EINVAL;
    }
    p += 9;
    const char *q = strchr(p, ':');
    if (!q || q == p || (size_t)(q - p) >= 32) {
        return TS_EINVAL;
    }
    memcpy(region, p, (size_t)(q - p));
    region[q - p] = '\0';
    p = q + 1;
    for (int i = 0; i < TS_AWS_ACCOUNT_ID_LEN; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return TS_EINVAL;
        }
    }
    if (strncmp(p + TS_AWS_ACCOUNT_ID_LEN, ":stream/", 8) != 0) {
        return TS_EINVAL;
    }
    memcpy(account, p, TS_AWS_ACCOUNT_ID_LEN);
    account[TS_AWS_ACCOUNT_ID_LEN] = '\0';
    const char *n = p + TS_AWS_ACCOUNT_ID_LEN + 8;
    if (!valid_name(n)) {
        return TS_EINVAL;
    }
    ts_strlcpy(name, n, TS_AWS_NAME_MAX + 1);
    return 0;
}

int kin_resolve_arn(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                    const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                    char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err)
{
    if (kin_parse_arn(arn, account, region, name) != 0) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.300s' at 'streamARN' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
                           arn);
    }
    if (strcmp(region, req->region) != 0) {
        return kin_not_found(err, account, name);
    }
    if (strcmp(account, req->caller.account) != 0 &&
        !(k->opts.authorize &&
          k->opts.authorize(k->opts.authorize_ctx, &req->caller, action, arn))) {
        return ts_aws_fail(err, "AccessDeniedException",
                           "User: %s is not authorized to perform: %s on resource: %.300s "
                           "because no resource-based policy allows the %s action",
                           req->caller.arn, action, arn, action);
    }
    return 0;
}

int kin_resolve(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                char account[TS_AWS_ACCOUNT_ID_LEN + 1], char region[32],
                char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err)
{
    const char *sn, *arn;
    if (kin_get_str(req->input, "StreamName", &sn, err) ||
        kin_get_str(req->input, "StreamARN", &arn, err)) {
        return TS_EINVAL;
    }
    return kin_resolve_names(k, req, action, sn, arn, account, region, name, err);
}

int kin_resolve_names(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                      const char *sn, const char *arn, char account[TS_AWS_ACCOUNT_ID_LEN + 1],
                      char region[32], char name[TS_AWS_NAME_MAX + 1], struct ts_aws_error *err)
{
    if (!sn && !arn) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Either StreamName or StreamARN should be provided.");
    }
    if (sn && !valid_name(sn)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.200s' at 'streamName' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [a-zA-Z0-9_.-]+",
                           sn);
    }
    if (!arn) {
        ts_strlcpy(account, req->caller.account, TS_AWS_ACCOUNT_ID_LEN + 1);
        ts_strlcpy(region, req->region, 32);
        ts_strlcpy(name, sn, TS_AWS_NAME_MAX + 1);
        return 0;
    }
    if (kin_resolve_arn(k, req, action, arn, account, region, name, err)) {
        return TS_EINVAL;
    }
    if (sn && strcmp(sn, name) != 0) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "StreamARN %.300s does not match StreamName %.200s.", arn, sn);
    }
    return 0;
}

/* ------------------------------------------------------------------ shards and streams */

int kin__shard_new(struct ts_kinesis *k, struct kin_stream *s, uint32_t index, int64_t parent,
                     int64_t adjacent, kin_u128 start, kin_u128 end, int64_t created_ms,
                     struct kin_shard **out)
{
    struct kin_shard *sh = ts_calloc(1, sizeof(*sh));
    if (!sh) {
        return TS_ENOMEM;
    }
    sh->index = index;
    kin_shard_id(index, sh->id);
    sh->parent = parent;
    sh->adjacent = adjacent;
    sh->start_hash = start;
    sh->end_hash = end;
    sh->created_ms = created_ms;
    kin_seq_prefix(sh);
    pthread_mutex_init(&sh->lim_mu, NULL);
    kin_limits_init(sh, kin_now(k));
    char pname[TS_STORE_NAME_MAX];
    kin_partition_name(s->account, s->region, s->name, index, pname, sizeof(pname));
    /* Creating the partition is durable before the document naming it is written. */
    int rc = ts_store_partition(k->ctx.store, pname, true, &sh->part);
    if (rc) {
        pthread_mutex_destroy(&sh->lim_mu);
        ts_free(sh);
        return rc;
    }
    *out = sh;
    return 0;
}

void kin__shard_free(struct kin_shard *sh)
{
    if (sh) {
        pthread_mutex_destroy(&sh->lim_mu);
        ts_free(sh);
    }
}

static void stream_free(struct kin_stream *s)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        kin__shard_free(s->shards[i]);
    }
    ts_free(s->shards);
    ts_free(s->open);
    cJSON_Delete(s->tags);
    pthread_rwlock_destroy(&s->lock);
    ts_free(s);
}

void kin_stream_put(struct kin_stream *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        stream_free(s);
    }
}

static struct kin_stream *stream_alloc(const char *account, const char *region,
                                       const char *name)
{
    struct kin_stream *s = ts_calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    atomic_init(&s->refs, 1);
    ts_strlcpy(s->account, account, sizeof(s->account));
    ts_strlcpy(s->region, region, sizeof(s->region));
    ts_strlcpy(s->name, name, sizeof(s->name));
    snprintf(s->arn, sizeof(s->arn), "arn:aws:kinesis:%s:%s:stream/%s", region, account, name);
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* Writers (reshards, deletes) must not starve behind a steady stream of appends. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &a);
    pthread_rwlockattr_destroy(&a);
    s->tags = cJSON_CreateObject();
    if (!s->tags) {
        pthread_rwlock_destroy(&s->lock);
        ts_free(s);
        return NULL;
    }
    return s;
}

/* Adds a shard at the end of s->shards (indices only grow). */
int kin__stream_add_shard(struct kin_stream *s, struct kin_shard *sh)
{
    struct kin_shard **a = ts_realloc(s->shards, (s->n_shards + 1) * sizeof(*a));
    if (!a) {
        return TS_ENOMEM;
    }
    a[s->n_shards++] = sh;
    s->shards = a;
    return 0;
}

static int cmp_start(const void *a, const void *b)
{
    const struct kin_shard *x = *(struct kin_shard *const *)a;
    const struct kin_shard *y = *(struct kin_shard *const *)b;
    return x->start_hash < y->start_hash ? -1 : x->start_hash > y->start_hash ? 1 : 0;
}

/* Rebuilds the routing table of open shards. Caller holds the write lock (or owns s). */
int kin__stream_rebuild_open(struct kin_stream *s)
{
    struct kin_shard **o = ts_calloc(s->n_shards ? s->n_shards : 1, sizeof(*o));
    if (!o) {
        return TS_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_shards; i++) {
        if (!s->shards[i]->closed_ms) {
            o[n++] = s->shards[i];
        }
    }
    qsort(o, n, sizeof(*o), cmp_start);
    for (size_t i = 0; i < n; i++) {
        o[i]->open_pos = i;
    }
    ts_free(s->open);
    s->open = o;
    s->n_open = n;
    return 0;
}

struct kin_shard *kin_stream_route(struct kin_stream *s, kin_u128 h)
{
    size_t lo = 0, hi = s->n_open;
    if (hi == 0) {
        return NULL;
    }
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->open[mid]->start_hash <= h) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    struct kin_shard *sh = s->open[lo];
    return sh->start_hash <= h && h <= sh->end_hash ? sh : NULL;
}

struct kin_shard *kin_stream_shard(struct kin_stream *s, uint32_t index)
{
    size_t lo = 0, hi = s->n_shards;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->shards[mid]->index == index) {
            return s->shards[mid];
        }
        if (s->shards[mid]->index < index) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ the document */

static cJSON *add_u128(cJSON *o, const char *name, kin_u128 v)
{
    char buf[KIN_U128_DIGITS + 1];
    kin_u128_format(v, buf);
    return cJSON_AddStringToObject(o, name, buf);
}

/* Builds the metadata document of s (caller holds its lock or owns it). */
static cJSON *stream_doc(const struct kin_stream *s)
{
    cJSON *d = cJSON_CreateObject();
    cJSON *shards = d ? cJSON_AddArrayToObject(d, "shards") : NULL;
    if (!shards) {
        cJSON_Delete(d);
        return NULL;
    }
    cJSON_AddNumberToObject(d, "v", 1);
    cJSON_AddStringToObject(d, "name", s->name);
    cJSON_AddStringToObject(d, "region", s->region);
    cJSON_AddStringToObject(d, "arn", s->arn);
    cJSON_AddNumberToObject(d, "created_ms", (double)s->created_ms);
    cJSON_AddNumberToObject(d, "check", s->check);
    cJSON_AddStringToObject(d, "mode", s->on_demand ? "ON_DEMAND" : "PROVISIONED");
    cJSON_AddNumberToObject(d, "retention_hours", s->retention_hours);
    cJSON_AddNumberToObject(d, "max_record_kib", s->max_record_kib);
    cJSON_AddItemToObject(d, "tags", cJSON_Duplicate(s->tags, true));
    for (size_t i = 0; i < s->n_shards; i++) {
        const struct kin_shard *sh = s->shards[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            cJSON_Delete(d);
            return NULL;
        }
        cJSON_AddItemToArray(shards, o);
        cJSON_AddNumberToObject(o, "i", sh->index);
        cJSON_AddNumberToObject(o, "parent", (double)sh->parent);
        cJSON_AddNumberToObject(o, "adjacent", (double)sh->adjacent);
        add_u128(o, "start", sh->start_hash);
        add_u128(o, "end", sh->end_hash);
        cJSON_AddNumberToObject(o, "created_ms", (double)sh->created_ms);
        cJSON_AddNumberToObject(o, "closed_ms", (double)sh->closed_ms);
        cJSON_AddNumberToObject(o, "end_offset", (double)sh->end_offset);
    }
    return d;
}

static int doc_int(const cJSON *o, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v)) {
        return TS_ECORRUPT;
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int doc_u128(const cJSON *o, const char *name, kin_u128 *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && kin_u128_parse(v->valuestring, out) == 0 ? 0 : TS_ECORRUPT;
}

/* Saves the document of s: every change of the control plane is durable (SQLite,
 * synchronous=FULL) before it is acknowledged. */
int kin__stream_save(struct ts_kinesis *k, const struct kin_stream *s, bool create)
{
    cJSON *d = stream_doc(s);
    char *text = d ? cJSON_PrintUnformatted(d) : NULL;
    cJSON_Delete(d);
    if (!text) {
        return TS_ENOMEM;
    }
    char key[200];
    stream_key(s->region, s->name, key, sizeof(key));
    int rc = create ? ts_meta_create(k->ctx.meta, KIND, s->account, key, text)
                    : ts_meta_put(k->ctx.meta, KIND, s->account, key, text);
    cJSON_free(text);
    return rc;
}

static int stream_from_doc(struct ts_kinesis *k, const char *account, const cJSON *d,
                           struct kin_stream **out)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
    const cJSON *region = cJSON_GetObjectItemCaseSensitive(d, "region");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(d, "mode");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(d, "shards");
    if (!cJSON_IsString(name) || !cJSON_IsString(region) || !cJSON_IsArray(shards)) {
        return TS_ECORRUPT;
    }
    struct kin_stream *s = stream_alloc(account, region->valuestring, name->valuestring);
    if (!s) {
        return TS_ENOMEM;
    }
    int64_t created = 0, check = 0, ret = 0, kib = 0;
    int rc = doc_int(d, "created_ms", &created);
    rc = rc ? rc : doc_int(d, "check", &check);
    rc = rc ? rc : doc_int(d, "retention_hours", &ret);
    rc = rc ? rc : doc_int(d, "max_record_kib", &kib);
    s->created_ms = created;
    s->check = (uint32_t)check;
    snprintf(s->seq_suffix, sizeof(s->seq_suffix), "%09u", s->check % 1000000000u);
    s->retention_hours = (int)ret;
    s->on_demand = cJSON_IsString(mode) && strcmp(mode->valuestring, "ON_DEMAND") == 0;
    s->max_record_kib = (int)kib;
    s->max_record_bytes = kib ? (uint32_t)kib * 1024u : KIN_RECORD_MAX_DEFAULT;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(d, "tags");
    if (!rc && cJSON_IsObject(tags)) {
        cJSON *dup = cJSON_Duplicate(tags, true);
        if (dup) {
            cJSON_Delete(s->tags);
            s->tags = dup;
        }
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, shards)
    {
        if (rc) {
            break;
        }
        int64_t idx = 0, parent = -1, adjacent = -1, sc = 0, closed = 0, end_off = 0;
        kin_u128 start = 0, end = 0;
        rc = doc_int(o, "i", &idx);
        rc = rc ? rc : doc_int(o, "parent", &parent);
        rc = rc ? rc : doc_int(o, "adjacent", &adjacent);
        rc = rc ? rc : doc_u128(o, "start", &start);
        rc = rc ? rc : doc_u128(o, "end", &end);
        rc = rc ? rc : doc_int(o, "created_ms", &sc);
        rc = rc ? rc : doc_int(o, "closed_ms", &closed);
        rc = rc ? rc : doc_int(o, "end_offset", &end_off);
        struct kin_shard *sh = NULL;
        rc = rc ? rc
                : kin__shard_new(k, s, (uint32_t)idx, parent, adjacent, start, end, sc, &sh);
        if (!rc) {
            sh->closed_ms = closed;
            sh->end_offset = (uint64_t)end_off;
            rc = kin__stream_add_shard(s, sh);
            if (rc) {
                kin__shard_free(sh);
            }
        }
    }
    rc = rc ? rc : kin__stream_rebuild_open(s);
    if (rc) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------ the cache */

static unsigned cache_slot(const char *account, const char *region, const char *name)
{
    uint32_t h = 2166136261u;
    const char *parts[3] = {account, region, name};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++) {
            h = (h ^ (uint8_t)*p) * 16777619u;
        }
        h = (h ^ '/') * 16777619u;
    }
    return h % 64;
}

static struct kin_stream *cache_find_locked(struct ts_kinesis *k, const char *account,
                                            const char *region, const char *name)
{
    for (struct kin_stream *s = k->cache[cache_slot(account, region, name)]; s; s = s->next) {
        if (strcmp(s->name, name) == 0 && strcmp(s->account, account) == 0 &&
            strcmp(s->region, region) == 0) {
            return s;
        }
    }
    return NULL;
}

/* Inserts s (taking over one reference of the caller for the cache). */
static void cache_insert(struct ts_kinesis *k, struct kin_stream *s)
{
    pthread_mutex_lock(&k->cache_mu);
    unsigned slot = cache_slot(s->account, s->region, s->name);
    s->next = k->cache[slot];
    k->cache[slot] = s;
    pthread_mutex_unlock(&k->cache_mu);
}

/* Unlinks s and drops the cache's reference. */
void kin__cache_remove(struct ts_kinesis *k, struct kin_stream *s)
{
    pthread_mutex_lock(&k->cache_mu);
    struct kin_stream **pp = &k->cache[cache_slot(s->account, s->region, s->name)];
    bool found = false;
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&k->cache_mu);
    if (found) {
        kin_stream_put(s);
    }
}

void kin__cache_clear(struct ts_kinesis *k)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(k->cache); i++) {
        while (k->cache[i]) {
            struct kin_stream *s = k->cache[i];
            k->cache[i] = s->next;
            kin_stream_put(s);
        }
    }
}

int kin__load_doc(struct ts_kinesis *k, const char *account, const char *region,
                    const char *name, cJSON **out)
{
    char key[200];
    stream_key(region, name, key, sizeof(key));
    struct ts_buf b;
    ts_buf_init(&b, DOC_MAX);
    int rc = ts_meta_get(k->ctx.meta, KIND, account, key, &b);
    if (!rc) {
        *out = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        rc = *out ? 0 : TS_ECORRUPT;
    }
    ts_buf_free(&b);
    return rc;
}

int kin_stream_get(struct ts_kinesis *k, const char *account, const char *region,
                   const char *name, struct kin_stream **out)
{
    pthread_mutex_lock(&k->cache_mu);
    struct kin_stream *s = cache_find_locked(k, account, region, name);
    if (s) {
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&k->cache_mu);
    if (s) {
        *out = s;
        return 0;
    }
    /* A miss loads under the control lock, so it cannot race a delete or a reshard (which
     * would otherwise let a stale copy, or re-created partitions, into the cache). */
    pthread_mutex_lock(&k->ctl);
    pthread_mutex_lock(&k->cache_mu);
    s = cache_find_locked(k, account, region, name);
    if (s) {
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&k->cache_mu);
    int rc = 0;
    if (!s) {
        cJSON *d = NULL;
        rc = kin__load_doc(k, account, region, name, &d);
        if (!rc) {
            rc = stream_from_doc(k, account, d, &s);
            cJSON_Delete(d);
        }
        if (!rc) {
            atomic_fetch_add(&s->refs, 1);
            cache_insert(k, s);
        }
    }
    pthread_mutex_unlock(&k->ctl);
    if (!rc) {
        *out = s;
    }
    return rc;
}

/* Gets a stream for an operation, failing with ResourceNotFoundException. */
static int get_for_op(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                      struct kin_stream **out, struct ts_aws_error *err)
{
    char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
    if (kin_resolve(k, req, action, account, region, name, err)) {
        return TS_EINVAL;
    }
    int rc = kin_stream_get(k, account, region, name, out);
    if (rc == TS_ENOTFOUND) {
        return kin_not_found(err, account, name);
    }
    if (rc) {
        return kin_store_fail(err, rc);
    }
    return 0;
}

int kin__get_for_op(struct ts_kinesis *k, const struct ts_aws_req *req, const char *action,
                    struct kin_stream **out, struct ts_aws_error *err)
{
    return get_for_op(k, req, action, out, err);
}

/* ------------------------------------------------------------------ shapes */

/* A closed shard whose close is older than the retention period is expired: not listed. */
static bool shard_expired(const struct kin_stream *s, const struct kin_shard *sh, int64_t now)
{
    return sh->closed_ms && sh->closed_ms + (int64_t)s->retention_hours * 3600000 < now;
}

cJSON *kin__shard_json(const struct kin_stream *s, const struct kin_shard *sh)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return NULL;
    }
    char id[TS_KINESIS_SHARD_ID_MAX], seq[KIN_SEQ_LEN + 1];
    cJSON_AddStringToObject(o, "ShardId", sh->id);
    if (sh->parent >= 0) {
        kin_shard_id((uint32_t)sh->parent, id);
        cJSON_AddStringToObject(o, "ParentShardId", id);
    }
    if (sh->adjacent >= 0) {
        kin_shard_id((uint32_t)sh->adjacent, id);
        cJSON_AddStringToObject(o, "AdjacentParentShardId", id);
    }
    cJSON *hr = cJSON_AddObjectToObject(o, "HashKeyRange");
    if (hr) {
        add_u128(hr, "StartingHashKey", sh->start_hash);
        add_u128(hr, "EndingHashKey", sh->end_hash);
    }
    cJSON *sr = cJSON_AddObjectToObject(o, "SequenceNumberRange");
    if (sr) {
        kin_seq_format(s, sh, 0, seq);
        cJSON_AddStringToObject(sr, "StartingSequenceNumber", seq);
        if (sh->closed_ms) {
            kin_seq_format(s, sh, sh->end_offset, seq);
            cJSON_AddStringToObject(sr, "EndingSequenceNumber", seq);
        }
    }
    return o;
}

static void add_mode(cJSON *o, const struct kin_stream *s)
{
    cJSON *m = cJSON_AddObjectToObject(o, "StreamModeDetails");
    if (m) {
        cJSON_AddStringToObject(m, "StreamMode", s->on_demand ? "ON_DEMAND" : "PROVISIONED");
    }
}

static void add_monitoring(cJSON *o)
{
    cJSON *em = cJSON_AddArrayToObject(o, "EnhancedMonitoring");
    cJSON *e = cJSON_CreateObject();
    if (em && e) {
        cJSON_AddArrayToObject(e, "ShardLevelMetrics");
        cJSON_AddItemToArray(em, e);
    } else {
        cJSON_Delete(e);
    }
}

static int oom(struct ts_aws_error *err)
{
    return ts_aws_fail(err, "InternalFailure", "Internal Service Failure");
}

/* Parses a "shardId-<digits>" id into its index. */
int kin__parse_shard_id(const char *id, uint32_t *index)
{
    if (!id || strncmp(id, "shardId-", 8) != 0 || !id[8] || strlen(id + 8) > 12) {
        return TS_EINVAL;
    }
    uint64_t v = 0;
    for (const char *p = id + 8; *p; p++) {
        if (*p < '0' || *p > '9') {
            return TS_EINVAL;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX) {
        return TS_EINVAL;
    }
    *index = (uint32_t)v;
    return 0;
}

/* ------------------------------------------------------------------ CreateStream */

struct count_ctx {
    int64_t open_shards;
};

static int count_open(void *arg, const char *account, const char *key, const char *json)
{
    struct count_ctx *c = arg;
    cJSON *d = cJSON_Parse(json);
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(d, "shards");
    const cJSON *o;
    cJSON_ArrayForEach(o, shards)
    {
        const cJSON *closed = cJSON_GetObjectItemCaseSensitive(o, "closed_ms");
        if (cJSON_IsNumber(closed) && closed->valuedouble == 0) {
            c->open_shards++;
        }
    }
    cJSON_Delete(d);
    return 0;
}

/* Open shards of the account in the region (for the shard quota). */
int kin__count_open_shards(struct ts_kinesis *k, const char *account, const char *region,
                           int64_t *out)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "%s/", region);
    struct count_ctx c = {0};
    int rc = ts_meta_list(k->ctx.meta, KIND, account, prefix, count_open, &c);
    *out = c.open_shards;
    return rc;
}


/* Deletes every partition of the stream `name` (leftovers of a delete or create that crashed
 * half-way). Caller holds k->ctl. */
int kin__delete_partitions(struct ts_kinesis *k, const char *account, const char *region,
                           const char *name)
{
    char prefix[TS_STORE_NAME_MAX];
    snprintf(prefix, sizeof(prefix), "kinesis/%s/%s/%s/", account, region, name);
    char **names = NULL;
    size_t n = 0;
    int rc = ts_store_names(k->ctx.store, prefix, &names, &n);
    for (size_t i = 0; i < n; i++) {
        int e = ts_store_partition_delete(k->ctx.store, names[i]);
        if (e && e != TS_ENOTFOUND && !rc) {
            rc = e;
        }
    }
    ts_store_names_free(names, n);
    return rc;
}

static int validate_tags(const cJSON *tags, struct ts_aws_error *err)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        size_t kl = strlen(t->string ? t->string : "");
        if (kl < 1 || kl > 128) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Tag key must be between 1 and 128 characters long.");
        }
        if (!cJSON_IsString(t) || strlen(t->valuestring) > 256) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Tag value must be a string of at most 256 characters.");
        }
    }
    return 0;
}

int kin__validate_tags(const cJSON *tags, struct ts_aws_error *err)
{
    return validate_tags(tags, err);
}

static int create_locked(struct ts_kinesis *k, struct ts_aws_req *req, const char *name,
                         int64_t shard_count, bool on_demand, int64_t kib, const cJSON *tags,
                         struct ts_aws_error *err)
{
    const char *account = req->caller.account;
    cJSON *existing = NULL;
    int rc = kin__load_doc(k, account, req->region, name, &existing);
    cJSON_Delete(existing);
    if (rc == 0) {
        return ts_aws_fail(err, "ResourceInUseException",
                           "Stream %s under account %s already exists.", name, account);
    }
    if (rc != TS_ENOTFOUND) {
        return kin_store_fail(err, rc);
    }
    int64_t open = 0;
    rc = kin__count_open_shards(k, account, req->region, &open);
    if (rc) {
        return kin_store_fail(err, rc);
    }
    if (open + shard_count > k->opts.shard_limit) {
        return ts_aws_fail(err, "LimitExceededException",
                           "This request would exceed the shard limit for the account %s in "
                           "%s. Current shard count for the account: %lld. Limit: %d. Number of "
                           "additional shards that would have resulted from this request: %lld.",
                           account, req->region, (long long)open, k->opts.shard_limit,
                           (long long)shard_count);
    }
    rc = kin__delete_partitions(k, account, req->region, name);
    if (rc) {
        return kin_store_fail(err, rc);
    }
    struct kin_stream *s = stream_alloc(account, req->region, name);
    if (!s) {
        return oom(err);
    }
    s->created_ms = req->now_ms;
    uint32_t r = 0;
    ts_random(&r, sizeof(r));
    s->check = r % 1000000000u;
    snprintf(s->seq_suffix, sizeof(s->seq_suffix), "%09u", s->check);
    s->retention_hours = KIN_DEFAULT_RETENTION_H;
    s->on_demand = on_demand;
    s->max_record_kib = (int)kib;
    s->max_record_bytes = kib ? (uint32_t)kib * 1024u : KIN_RECORD_MAX_DEFAULT;
    if (tags) {
        cJSON *dup = cJSON_Duplicate(tags, true);
        if (dup) {
            cJSON_Delete(s->tags);
            s->tags = dup;
        }
    }
    for (uint32_t i = 0; !rc && i < (uint32_t)shard_count; i++) {
        struct kin_shard *sh = NULL;
        rc = kin__shard_new(k, s, i, -1, -1, kin_range_start(i, (uint32_t)shard_count),
                       kin_range_end(i, (uint32_t)shard_count), s->created_ms, &sh);
        if (!rc) {
            rc = kin__stream_add_shard(s, sh);
            if (rc) {
                kin__shard_free(sh);
            }
        }
    }
    rc = rc ? rc : kin__stream_rebuild_open(s);
    /* Durability order: the shards' partitions exist before the document that names them. */
    rc = rc ? rc : kin__stream_save(k, s, true);
    if (rc) {
        stream_free(s);
        return kin_store_fail(err, rc);
    }
    cache_insert(k, s);
    return 0;
}

int kin_op_create_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    const char *name;
    int64_t shard_count = 0, kib = 0;
    bool has_count = false, has_kib = false;
    if (kin_get_str(req->input, "StreamName", &name, err) ||
        kin_get_int(req->input, "ShardCount", &shard_count, &has_count, err) ||
        kin_get_int(req->input, "MaxRecordSizeInKiB", &kib, &has_kib, err)) {
        return TS_EINVAL;
    }
    if (!name) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'streamName' failed to "
                           "satisfy constraint: Member must not be null");
    }
    if (!valid_name(name)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.200s' at 'streamName' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [a-zA-Z0-9_.-]+",
                           name);
    }
    bool on_demand = false;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(req->input, "StreamModeDetails");
    if (md && !cJSON_IsNull(md)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(md, "StreamMode");
        if (!cJSON_IsString(m) || (strcmp(m->valuestring, "ON_DEMAND") != 0 &&
                                   strcmp(m->valuestring, "PROVISIONED") != 0)) {
            return ts_aws_fail(err, "ValidationException",
                               "1 validation error detected: Value at 'streamModeDetails."
                               "streamMode' failed to satisfy constraint: Member must satisfy "
                               "enum value set: [PROVISIONED, ON_DEMAND]");
        }
        on_demand = strcmp(m->valuestring, "ON_DEMAND") == 0;
    }
    if (on_demand && has_count) {
        return ts_aws_fail(err, "ValidationException",
                           "ShardCount must not be specified for streams in ON_DEMAND mode.");
    }
    if (on_demand) {
        shard_count = KIN_ON_DEMAND_SHARDS;
    } else if (!has_count) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'shardCount' failed to "
                           "satisfy constraint: Member must not be null");
    }
    if (shard_count < 1) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'shardCount' failed to "
                           "satisfy constraint: Member must have value greater than or equal "
                           "to 1",
                           (long long)shard_count);
    }
    if (shard_count > KIN_MAX_SHARDS_PER_STREAM) {
        return ts_aws_fail(err, "LimitExceededException",
                           "A stream can have at most %d shards.", KIN_MAX_SHARDS_PER_STREAM);
    }
    if (has_kib && (kib < 1024 || kib > 10240)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'maxRecordSizeInKiB' "
                           "failed to satisfy constraint: Member must have value between 1024 "
                           "and 10240",
                           (long long)kib);
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "Tags");
    if (tags && !cJSON_IsNull(tags)) {
        if (!cJSON_IsObject(tags)) {
            return serialization(err, "Tags");
        }
        if (cJSON_GetArraySize(tags) > KIN_MAX_TAGS) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Failed to create stream %s under account %s because a given "
                               "stream cannot have more than %d tags.",
                               name, req->caller.account, KIN_MAX_TAGS);
        }
        if (validate_tags(tags, err)) {
            return TS_EINVAL;
        }
    } else {
        tags = NULL;
    }
    pthread_mutex_lock(&k->ctl);
    int rc = create_locked(k, req, name, shard_count, on_demand, has_kib ? kib : 0, tags, err);
    pthread_mutex_unlock(&k->ctl);
    TS_UNUSED(resp);
    return rc;
}

/* ------------------------------------------------------------------ DeleteStream */

int kin_op_delete_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    struct kin_stream *s;
    pthread_mutex_lock(&k->ctl);
    int rc = get_for_op(k, req, "kinesis:DeleteStream", &s, err);
    if (rc) {
        pthread_mutex_unlock(&k->ctl);
        return rc;
    }
    /* Waits for in-flight appends; afterwards every data-plane call sees `deleted`. */
    pthread_rwlock_wrlock(&s->lock);
    s->deleted = true;
    pthread_rwlock_unlock(&s->lock);
    kin__cache_remove(k, s);
    char key[200];
    stream_key(s->region, s->name, key, sizeof(key));
    /* The document goes first: once it is gone the stream is gone, whatever happens to the
     * partitions (leftovers are removed by the next CreateStream of the name). */
    rc = ts_meta_delete(k->ctx.meta, KIND, s->account, key);
    if (!rc || rc == TS_ENOTFOUND) {
        rc = kin__delete_partitions(k, s->account, s->region, s->name);
        if (rc) {
            TS_LOG_WARN("kinesis", "stream %s: partitions left behind: %s", s->arn,
                        ts_strerror(rc));
            rc = 0;
        }
    }
    pthread_mutex_unlock(&k->ctl);
    kin_stream_put(s);
    TS_UNUSED(resp);
    return rc ? kin_store_fail(err, rc) : 0;
}

/* ------------------------------------------------------------------ DescribeStream(Summary) */

/* Members DescribeStream and DescribeStreamSummary share. Caller holds s->lock. */
static void add_identity(cJSON *d, const struct kin_stream *s)
{
    cJSON_AddStringToObject(d, "StreamName", s->name);
    cJSON_AddStringToObject(d, "StreamARN", s->arn);
    cJSON_AddStringToObject(d, "StreamStatus", "ACTIVE");
    add_mode(d, s);
}

static void add_settings(cJSON *d, const struct kin_stream *s)
{
    cJSON_AddNumberToObject(d, "RetentionPeriodHours", s->retention_hours);
    kin_add_time(d, "StreamCreationTimestamp", s->created_ms);
    add_monitoring(d);
    cJSON_AddStringToObject(d, "EncryptionType", "NONE");
}

int kin_op_describe_stream(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    int64_t limit = 100;
    bool has_limit;
    const char *start_id;
    if (kin_get_int(req->input, "Limit", &limit, &has_limit, err) ||
        kin_get_str(req->input, "ExclusiveStartShardId", &start_id, err)) {
        return TS_EINVAL;
    }
    if (has_limit && (limit < 1 || limit > 10000)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value %s",
                           (long long)limit,
                           limit < 1 ? "greater than or equal to 1"
                                     : "less than or equal to 10000");
    }
    if (!has_limit || limit > 100) {
        limit = 100;
    }
    uint32_t after = 0;
    bool has_after = start_id && kin__parse_shard_id(start_id, &after) == 0;
    struct kin_stream *s;
    if (get_for_op(k, req, "kinesis:DescribeStream", &s, err)) {
        return TS_EINVAL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *d = out ? cJSON_AddObjectToObject(out, "StreamDescription") : NULL;
    if (!d) {
        cJSON_Delete(out);
        kin_stream_put(s);
        return oom(err);
    }
    pthread_rwlock_rdlock(&s->lock);
    add_identity(d, s);
    cJSON *shards = cJSON_AddArrayToObject(d, "Shards");
    int64_t n = 0;
    bool more = false;
    for (size_t i = 0; i < s->n_shards; i++) {
        const struct kin_shard *sh = s->shards[i];
        if (shard_expired(s, sh, req->now_ms) || (has_after && sh->index <= after)) {
            continue;
        }
        if (n == limit) {
            more = true;
            break;
        }
        cJSON_AddItemToArray(shards, kin__shard_json(s, sh));
        n++;
    }
    cJSON_AddBoolToObject(d, "HasMoreShards", more);
    add_settings(d, s);
    pthread_rwlock_unlock(&s->lock);
    kin_stream_put(s);
    resp->output = out;
    return 0;
}

int kin_op_describe_stream_summary(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    struct kin_stream *s;
    if (get_for_op(k, req, "kinesis:DescribeStreamSummary", &s, err)) {
        return TS_EINVAL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *d = out ? cJSON_AddObjectToObject(out, "StreamDescriptionSummary") : NULL;
    if (!d) {
        cJSON_Delete(out);
        kin_stream_put(s);
        return oom(err);
    }
    pthread_rwlock_rdlock(&s->lock);
    add_identity(d, s);
    add_settings(d, s);
    cJSON_AddNumberToObject(d, "OpenShardCount", (double)s->n_open);
    cJSON_AddNumberToObject(d, "ConsumerCount", 0);
    cJSON_AddNumberToObject(d, "MaxRecordSizeInKiB", s->max_record_bytes / 1024);
    pthread_rwlock_unlock(&s->lock);
    kin_stream_put(s);
    resp->output = out;
    return 0;
}

/* ------------------------------------------------------------------ ListStreams */

struct list_ctx {
    cJSON *names;
    cJSON *summaries;
    const char *after;
    int64_t limit;
    int64_t n;
    bool more;
    char last[TS_AWS_NAME_MAX + 1];
};

static int list_one(void *arg, const char *account, const char *key, const char *json)
{
    struct list_ctx *c = arg;
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    if (c->after && strcmp(name, c->after) <= 0) {
        return 0;
    }
    if (c->n == c->limit) {
        c->more = true;
        return 1;
    }
    cJSON *d = cJSON_Parse(json);
    cJSON *sum = cJSON_CreateObject();
    if (!d || !sum) {
        cJSON_Delete(d);
        cJSON_Delete(sum);
        return TS_ENOMEM;
    }
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(d, "arn");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(d, "mode");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(d, "created_ms");
    cJSON_AddItemToArray(c->names, cJSON_CreateString(name));
    cJSON_AddStringToObject(sum, "StreamName", name);
    cJSON_AddStringToObject(sum, "StreamARN", cJSON_IsString(arn) ? arn->valuestring : "");
    cJSON_AddStringToObject(sum, "StreamStatus", "ACTIVE");
    cJSON *m = cJSON_AddObjectToObject(sum, "StreamModeDetails");
    if (m) {
        cJSON_AddStringToObject(m, "StreamMode",
                                cJSON_IsString(mode) ? mode->valuestring : "PROVISIONED");
    }
    kin_add_time(sum, "StreamCreationTimestamp",
                 cJSON_IsNumber(created) ? (int64_t)created->valuedouble : 0);
    cJSON_AddItemToArray(c->summaries, sum);
    cJSON_Delete(d);
    ts_strlcpy(c->last, name, sizeof(c->last));
    c->n++;
    TS_UNUSED(account);
    return 0;
}

int kin_op_list_streams(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    int64_t limit = 100;
    bool has_limit;
    const char *after, *token;
    if (kin_get_int(req->input, "Limit", &limit, &has_limit, err) ||
        kin_get_str(req->input, "ExclusiveStartStreamName", &after, err) ||
        kin_get_str(req->input, "NextToken", &token, err)) {
        return TS_EINVAL;
    }
    if (has_limit && (limit < 1 || limit > 10000)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 10000",
                           (long long)limit);
    }
    if (!has_limit || limit > 100) {
        limit = 100;
    }
    char tok_after[TS_AWS_NAME_MAX + 1 + 48];
    if (token) {
        int64_t issued;
        size_t len;
        char payload[TS_AWS_NAME_MAX + 48];
        if (kin_token_open(k, KIN_TOKEN_LIST_STREAMS, token, &issued, payload,
                           sizeof(payload) - 1, &len) != 0) {
            return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
        }
        payload[len] = '\0';
        if (req->now_ms - issued > KIN_TOKEN_TTL_MS) {
            return ts_aws_fail(err, "ExpiredNextTokenException", "NextToken has expired.");
        }
        /* payload: "<account>/<region>/<last name>" */
        char expect[64];
        snprintf(expect, sizeof(expect), "%s/%s/", req->caller.account, req->region);
        if (!ts_str_has_prefix(payload, expect)) {
            return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
        }
        ts_strlcpy(tok_after, payload + strlen(expect), sizeof(tok_after));
        after = tok_after;
    }
    cJSON *out = cJSON_CreateObject();
    struct list_ctx c = {0};
    c.names = out ? cJSON_AddArrayToObject(out, "StreamNames") : NULL;
    c.summaries = cJSON_CreateArray();
    c.after = after;
    c.limit = limit;
    if (!c.names || !c.summaries) {
        cJSON_Delete(out);
        cJSON_Delete(c.summaries);
        return oom(err);
    }
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "%s/", req->region);
    int rc = ts_meta_list(k->ctx.meta, KIND, req->caller.account, prefix, list_one, &c);
    if (rc < 0) {
        cJSON_Delete(out);
        cJSON_Delete(c.summaries);
        return kin_store_fail(err, rc);
    }
    cJSON_AddBoolToObject(out, "HasMoreStreams", c.more);
    if (c.more) {
        char payload[TS_AWS_NAME_MAX + 48], tok[600];
        int n = snprintf(payload, sizeof(payload), "%s/%s/%s", req->caller.account,
                         req->region, c.last);
        if (kin_token_seal(k, KIN_TOKEN_LIST_STREAMS, req->now_ms, payload, (size_t)n, tok,
                           sizeof(tok)) == 0) {
            cJSON_AddStringToObject(out, "NextToken", tok);
        }
    }
    cJSON_AddItemToObject(out, "StreamSummaries", c.summaries);
    resp->output = out;
    return 0;
}

/* ------------------------------------------------------------------ ListShards */

enum shard_filter {
    F_FROM_TRIM_HORIZON = 0,
    F_AFTER_SHARD_ID,
    F_AT_TRIM_HORIZON,
    F_AT_LATEST,
    F_AT_TIMESTAMP,
    F_FROM_TIMESTAMP,
};

static const char *const filter_names[] = {"FROM_TRIM_HORIZON", "AFTER_SHARD_ID",
                                           "AT_TRIM_HORIZON",   "AT_LATEST",
                                           "AT_TIMESTAMP",      "FROM_TIMESTAMP"};

/* ListShards NextToken payload. */
struct shards_token {
    char account[TS_AWS_ACCOUNT_ID_LEN + 1];
    char region[32];
    char name[TS_AWS_NAME_MAX + 1];
    int64_t stream_created_ms;
    int64_t last_index;
    int32_t filter;
    int64_t filter_ts;
    int64_t filter_index;
    int64_t max_results;
};

static bool shard_matches(const struct kin_stream *s, const struct kin_shard *sh, int filter,
                          int64_t ts, int64_t after_index, int64_t now)
{
    int64_t th = now - (int64_t)s->retention_hours * 3600000;
    if (th < s->created_ms) {
        th = s->created_ms;
    }
    switch (filter) {
    case F_AFTER_SHARD_ID:
        return (int64_t)sh->index > after_index && !shard_expired(s, sh, now);
    case F_AT_TRIM_HORIZON:
        return sh->created_ms <= th && (!sh->closed_ms || sh->closed_ms >= th);
    case F_AT_LATEST:
        return !sh->closed_ms;
    case F_AT_TIMESTAMP:
        return sh->created_ms <= ts && (!sh->closed_ms || sh->closed_ms >= ts);
    case F_FROM_TIMESTAMP:
        return !sh->closed_ms || sh->closed_ms >= ts;
    default:
        return !shard_expired(s, sh, now);
    }
}

static int parse_shard_filter(struct ts_kinesis *k, const cJSON *f, struct shards_token *t,
                              struct ts_aws_error *err)
{
    TS_UNUSED(k);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "Type");
    if (!cJSON_IsString(type)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'shardFilter.type' "
                           "failed to satisfy constraint: Member must not be null");
    }
    t->filter = -1;
    for (size_t i = 0; i < TS_ARRAY_LEN(filter_names); i++) {
        if (strcmp(type->valuestring, filter_names[i]) == 0) {
            t->filter = (int32_t)i;
        }
    }
    if (t->filter < 0) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.64s' at 'shardFilter.type' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           "[AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, "
                           "AT_TIMESTAMP, FROM_TIMESTAMP]",
                           type->valuestring);
    }
    const char *sid;
    bool has_ts;
    if (kin_get_str(f, "ShardId", &sid, err) ||
        kin_get_time(f, "Timestamp", &t->filter_ts, &has_ts, err)) {
        return TS_EINVAL;
    }
    if (t->filter == F_AFTER_SHARD_ID) {
        uint32_t idx;
        if (!sid || kin__parse_shard_id(sid, &idx) != 0) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "Must specify a valid ShardId for ShardFilter type "
                               "AFTER_SHARD_ID.");
        }
        t->filter_index = idx;
    } else if (sid) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "ShardId may only be given for ShardFilter type AFTER_SHARD_ID.");
    }
    bool needs_ts = t->filter == F_AT_TIMESTAMP || t->filter == F_FROM_TIMESTAMP;
    if (needs_ts != has_ts) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           needs_ts ? "Must specify a Timestamp for ShardFilter type %s."
                                    : "Timestamp may not be given for ShardFilter type %s.",
                           filter_names[t->filter]);
    }
    return 0;
}

static int shards_token_seal(struct ts_kinesis *k, const struct shards_token *t, int64_t now,
                             char *out, size_t len)
{
    char payload[400];
    int n = snprintf(payload, sizeof(payload), "%s\n%s\n%s\n%lld\n%lld\n%d\n%lld\n%lld\n%lld",
                     t->account, t->region, t->name, (long long)t->stream_created_ms,
                     (long long)t->last_index, t->filter, (long long)t->filter_ts,
                     (long long)t->filter_index, (long long)t->max_results);
    if (n < 0 || (size_t)n >= sizeof(payload)) {
        return TS_EINVAL;
    }
    return kin_token_seal(k, KIN_TOKEN_LIST_SHARDS, now, payload, (size_t)n, out, len);
}

static int shards_token_open(struct ts_kinesis *k, const char *text, int64_t now,
                             struct shards_token *t, struct ts_aws_error *err)
{
    char payload[401];
    size_t len;
    int64_t issued;
    if (kin_token_open(k, KIN_TOKEN_LIST_SHARDS, text, &issued, payload, sizeof(payload) - 1,
                       &len) != 0) {
        return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
    }
    payload[len] = '\0';
    if (now - issued > KIN_TOKEN_TTL_MS) {
        return ts_aws_fail(err, "ExpiredNextTokenException", "NextToken has expired.");
    }
    char *fields[9];
    char *p = payload;
    for (int i = 0; i < 9; i++) {
        fields[i] = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else if (i != 8) {
            return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
        }
    }
    ts_strlcpy(t->account, fields[0], sizeof(t->account));
    ts_strlcpy(t->region, fields[1], sizeof(t->region));
    ts_strlcpy(t->name, fields[2], sizeof(t->name));
    int64_t v[6];
    for (int i = 0; i < 6; i++) {
        if (ts_parse_i64(fields[3 + i], &v[i]) != 0) {
            return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
        }
    }
    t->stream_created_ms = v[0];
    t->last_index = v[1];
    t->filter = (int32_t)v[2];
    t->filter_ts = v[3];
    t->filter_index = v[4];
    t->max_results = v[5];
    return 0;
}

int kin_op_list_shards(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    const cJSON *in = req->input;
    const char *token, *sn, *arn, *start_id;
    int64_t max = 1000, created_ts = 0;
    bool has_max, has_created;
    if (kin_get_str(in, "NextToken", &token, err) || kin_get_str(in, "StreamName", &sn, err) ||
        kin_get_str(in, "StreamARN", &arn, err) ||
        kin_get_str(in, "ExclusiveStartShardId", &start_id, err) ||
        kin_get_int(in, "MaxResults", &max, &has_max, err) ||
        kin_get_time(in, "StreamCreationTimestamp", &created_ts, &has_created, err)) {
        return TS_EINVAL;
    }
    if (has_max && (max < 1 || max > 10000)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'maxResults' failed to "
                           "satisfy constraint: Member must have value between 1 and 10000",
                           (long long)max);
    }
    struct shards_token t;
    memset(&t, 0, sizeof(t));
    t.last_index = -1;
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(in, "ShardFilter");
    if (token) {
        if (sn || arn) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "NextToken and StreamName cannot be provided together.");
        }
        if (start_id || has_created) {
            return ts_aws_fail(err, "InvalidArgumentException",
                               "NextToken and %s cannot be provided together.",
                               start_id ? "ExclusiveStartShardId" : "StreamCreationTimestamp");
        }
        if (shards_token_open(k, token, req->now_ms, &t, err)) {
            return TS_EINVAL;
        }
        if (strcmp(t.account, req->caller.account) != 0 || strcmp(t.region, req->region)) {
            return ts_aws_fail(err, "InvalidArgumentException", "Invalid NextToken.");
        }
        if (!has_max) {
            max = t.max_results;
        }
    } else {
        if (kin_resolve(k, req, "kinesis:ListShards", t.account, t.region, t.name, err)) {
            return TS_EINVAL;
        }
        if (filter && !cJSON_IsNull(filter) && parse_shard_filter(k, filter, &t, err)) {
            return TS_EINVAL;
        }
        if (start_id) {
            uint32_t idx;
            if (kin__parse_shard_id(start_id, &idx) != 0) {
                return ts_aws_fail(err, "InvalidArgumentException",
                                   "Invalid ExclusiveStartShardId %.128s.", start_id);
            }
            t.last_index = idx;
        }
    }
    if (max > 1000) {
        max = 1000;
    }
    t.max_results = max;
    struct kin_stream *s;
    int rc = kin_stream_get(k, t.account, t.region, t.name, &s);
    if (rc == TS_ENOTFOUND) {
        return kin_not_found(err, t.account, t.name);
    }
    if (rc) {
        return kin_store_fail(err, rc);
    }
    if ((token && s->created_ms != t.stream_created_ms) ||
        (has_created && llabs(created_ts - s->created_ms) >= 1000)) {
        kin_stream_put(s);
        return kin_not_found(err, t.account, t.name);
    }
    t.stream_created_ms = s->created_ms;
    cJSON *out = cJSON_CreateObject();
    cJSON *shards = out ? cJSON_AddArrayToObject(out, "Shards") : NULL;
    if (!shards) {
        cJSON_Delete(out);
        kin_stream_put(s);
        return oom(err);
    }
    pthread_rwlock_rdlock(&s->lock);
    int64_t n = 0;
    bool more = false;
    for (size_t i = 0; i < s->n_shards; i++) {
        const struct kin_shard *sh = s->shards[i];
        if ((int64_t)sh->index <= t.last_index ||
            !shard_matches(s, sh, t.filter, t.filter_ts, t.filter_index, req->now_ms)) {
            continue;
        }
        if (n == max) {
            more = true;
            break;
        }
        cJSON_AddItemToArray(shards, kin__shard_json(s, sh));
        t.last_index = sh->index;
        n++;
    }
    pthread_rwlock_unlock(&s->lock);
    kin_stream_put(s);
    if (more) {
        char tok[700];
        if (shards_token_seal(k, &t, req->now_ms, tok, sizeof(tok)) == 0) {
            cJSON_AddStringToObject(out, "NextToken", tok);
        }
    }
    resp->output = out;
    return 0;
}
