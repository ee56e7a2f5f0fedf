/*
 * kinesis_admin.c - stream settings and resharding: Increase/DecreaseStreamRetentionPeriod,
 * the tag operations, UpdateShardCount, and the background retention pass.
 *
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html
 * https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-resharding.html
 */
#include "kinesis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(struct ts_aws_error *err)
{
    return ts_aws_fail(err, "InternalFailure", "Internal Service Failure");
}

/* Saves s after a change made under its write lock. If the document cannot be written the
 * cached copy no longer matches what is durable: it is retired, so the next request reloads
 * the previous state from the metadata store. */
static int save_or_retire(struct ts_kinesis *k, struct kin_stream *s, struct ts_aws_error *err)
{
    int rc = kin__stream_save(k, s, false);
    if (rc) {
        s->deleted = true;
        return kin_store_fail(err, rc);
    }
    return 0;
}

/* ------------------------------------------------------------------ retention */

static int change_retention(void *ctx, struct ts_aws_req *req, struct ts_aws_error *err,
                            bool increase)
{
    struct ts_kinesis *k = ctx;
    int64_t hours = 0;
    bool has;
    if (kin_get_int(req->input, "RetentionPeriodHours", &hours, &has, err)) {
        return TS_EINVAL;
    }
    if (!has) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'retentionPeriodHours' "
                           "failed to satisfy constraint: Member must not be null");
    }
    if (hours < KIN_DEFAULT_RETENTION_H) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Minimum allowed retention period is %d hours. Requested retention "
                           "period (%lld hours) is too short.",
                           KIN_DEFAULT_RETENTION_H, (long long)hours);
    }
    if (hours > KIN_MAX_RETENTION_H) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Maximum allowed retention period is %d hours. Requested retention "
                           "period (%lld hours) is too long.",
                           KIN_MAX_RETENTION_H, (long long)hours);
    }
    struct kin_stream *s;
    pthread_mutex_lock(&k->ctl);
    int rc = kin__get_for_op(k, req,
                             increase ? "kinesis:IncreaseStreamRetentionPeriod"
                                      : "kinesis:DecreaseStreamRetentionPeriod",
                             &s, err);
    if (rc) {
        pthread_mutex_unlock(&k->ctl);
        return rc;
    }
    pthread_rwlock_wrlock(&s->lock);
    int cur = s->retention_hours;
    if (increase && hours < cur) {
        rc = ts_aws_fail(err, "InvalidArgumentException",
                         "Requested retention period (%lld hours) for stream %s can not be "
                         "shorter than existing retention period (%d hours). Use "
                         "DecreaseRetentionPeriod API.",
                         (long long)hours, s->name, cur);
    } else if (!increase && hours > cur) {
        rc = ts_aws_fail(err, "InvalidArgumentException",
                         "Requested retention period (%lld hours) for stream %s can not be "
                         "longer than existing retention period (%d hours). Use "
                         "IncreaseRetentionPeriod API.",
                         (long long)hours, s->name, cur);
    } else if (hours != cur) {
        /* Reads apply the new period at once (records older than it are skipped); whole
         * segments are deleted by the next retention pass. */
        s->retention_hours = (int)hours;
        rc = save_or_retire(k, s, err);
        if (rc) {
            s->retention_hours = cur;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (s->deleted) {
        kin__cache_remove(k, s);
    }
    pthread_mutex_unlock(&k->ctl);
    kin_stream_put(s);
    return rc;
}

int kin_op_increase_retention(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    return change_retention(ctx, req, err, true);
}

int kin_op_decrease_retention(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    return change_retention(ctx, req, err, false);
}

/* ------------------------------------------------------------------ tags */

/* Runs fn on the stream named by the request (or by `arn` when given) under the control lock
 * and the stream's write lock, then saves the document if fn changed something. */
typedef int (*tag_fn)(struct kin_stream *s, const cJSON *in, bool *changed,
                      struct ts_aws_resp *resp, struct ts_aws_error *err);

static int with_stream(struct ts_kinesis *k, struct ts_aws_req *req, const char *action,
                       const char *arn, tag_fn fn, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct kin_stream *s;
    pthread_mutex_lock(&k->ctl);
    int rc;
    if (arn) {
        char account[TS_AWS_ACCOUNT_ID_LEN + 1], region[32], name[TS_AWS_NAME_MAX + 1];
        rc = kin_resolve_arn(k, req, action, arn, account, region, name, err);
        if (!rc) {
            rc = kin_stream_get(k, account, region, name, &s);
            rc = rc == TS_ENOTFOUND ? kin_not_found(err, account, name)
                 : rc               ? kin_store_fail(err, rc)
                                    : 0;
        }
    } else {
        rc = kin__get_for_op(k, req, action, &s, err);
    }
    if (rc) {
        pthread_mutex_unlock(&k->ctl);
        return rc;
    }
    pthread_rwlock_wrlock(&s->lock);
    bool changed = false;
    cJSON *saved = cJSON_Duplicate(s->tags, true);
    rc = saved ? fn(s, req->input, &changed, resp, err) : oom(err);
    if (!rc && changed) {
        rc = save_or_retire(k, s, err);
        if (rc) {
            cJSON_Delete(s->tags);
            s->tags = saved;
            saved = NULL;
        }
    }
    cJSON_Delete(saved);
    pthread_rwlock_unlock(&s->lock);
    if (s->deleted) {
        kin__cache_remove(k, s);
    }
    pthread_mutex_unlock(&k->ctl);
    kin_stream_put(s);
    return rc;
}

static int add_tags(struct kin_stream *s, const cJSON *in, bool *changed,
                    struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
    if (!cJSON_IsObject(tags) || !tags->child) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'tags' failed to satisfy "
                           "constraint: Member must not be null");
    }
    if (kin__validate_tags(tags, err)) {
        return TS_EINVAL;
    }
    int total = cJSON_GetArraySize(s->tags);
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        if (!cJSON_GetObjectItemCaseSensitive(s->tags, t->string)) {
            total++;
        }
    }
    if (total > KIN_MAX_TAGS) {
        return ts_aws_fail(err, "InvalidArgumentException",
                           "Failed to add tags to stream %s under account %s because a given "
                           "stream cannot have more than %d tags.",
                           s->name, s->account, KIN_MAX_TAGS);
    }
    cJSON_ArrayForEach(t, tags)
    {
        cJSON *v = cJSON_CreateString(t->valuestring);
        if (!v) {
            return oom(err);
        }
        if (cJSON_GetObjectItemCaseSensitive(s->tags, t->string)) {
            cJSON_ReplaceItemInObjectCaseSensitive(s->tags, t->string, v);
        } else {
            cJSON_AddItemToObject(s->tags, t->string, v);
        }
    }
    *changed = true;
    return 0;
}

static int remove_tags(struct kin_stream *s, const cJSON *in, bool *changed,
                       struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(in, "TagKeys");
    if (!cJSON_IsArray(keys) || !keys->child) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'tagKeys' failed to "
                           "satisfy constraint: Member must not be null");
    }
    if (cJSON_GetArraySize(keys) > 50) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value at 'tagKeys' failed to satisfy "
                           "constraint: Member must have length less than or equal to 50");
    }
    const cJSON *key;
    cJSON_ArrayForEach(key, keys)
    {
        if (!cJSON_IsString(key)) {
            return ts_aws_fail(err, "SerializationException", "Unexpected type for TagKeys.");
        }
        cJSON_DeleteItemFromObjectCaseSensitive(s->tags, key->valuestring);
    }
    *changed = true;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a;
    const cJSON *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* The tags of s as [{Key, Value}] in key order, after `after`, at most limit. */
static cJSON *sorted_tags(const struct kin_stream *s, const char *after, int64_t limit,
                          bool *more)
{
    size_t n = (size_t)cJSON_GetArraySize(s->tags);
    const cJSON **v = ts_calloc(n ? n : 1, sizeof(*v));
    cJSON *list = cJSON_CreateArray();
    if (!v || !list) {
        ts_free(v);
        cJSON_Delete(list);
        return NULL;
    }
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, s->tags)
    {
        v[i++] = t;
    }
    qsort(v, n, sizeof(*v), cmp_key);
    int64_t count = 0;
    *more = false;
    for (i = 0; i < n; i++) {
        if (after && strcmp(v[i]->string, after) <= 0) {
            continue;
        }
        if (count == limit) {
            *more = true;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "Key", v[i]->string);
            cJSON_AddStringToObject(o, "Value", v[i]->valuestring);
            cJSON_AddItemToArray(list, o);
        }
        count++;
    }
    ts_free(v);
    return list;
}

static int list_tags(struct kin_stream *s, const cJSON *in, bool *changed,
                     struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    TS_UNUSED(changed);
    const char *after;
    int64_t limit = KIN_MAX_TAGS;
    bool has_limit;
    if (kin_get_str(in, "ExclusiveStartTagKey", &after, err) ||
        kin_get_int(in, "Limit", &limit, &has_limit, err)) {
        return TS_EINVAL;
    }
    if (has_limit && (limit < 1 || limit > 50)) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 50",
                           (long long)limit);
    }
    bool more;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = out ? sorted_tags(s, after, limit, &more) : NULL;
    if (!list) {
        cJSON_Delete(out);
        return oom(err);
    }
    cJSON_AddItemToObject(out, "Tags", list);
    cJSON_AddBoolToObject(out, "HasMoreTags", more);
    resp->output = out;
    return 0;
}

static int list_tags_for_resource(struct kin_stream *s, const cJSON *in, bool *changed,
                                  struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    TS_UNUSED(changed);
    TS_UNUSED(in);
    bool more;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = out ? sorted_tags(s, NULL, KIN_MAX_TAGS, &more) : NULL;
    if (!list) {
        cJSON_Delete(out);
        return oom(err);
    }
    cJSON_AddItemToObject(out, "Tags", list);
    resp->output = out;
    return 0;
}

int kin_op_add_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct ts_aws_error *err)
{
    return with_stream(ctx, req, "kinesis:AddTagsToStream", NULL, add_tags, resp, err);
}

int kin_op_remove_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    return with_stream(ctx, req, "kinesis:RemoveTagsFromStream", NULL, remove_tags, resp, err);
}

int kin_op_list_tags(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                     struct ts_aws_error *err)
{
    return with_stream(ctx, req, "kinesis:ListTagsForStream", NULL, list_tags, resp, err);
}

static int resource_arn(const struct ts_aws_req *req, const char **arn, struct ts_aws_error *err)
{
    if (kin_get_str(req->input, "ResourceARN", arn, err)) {
        return TS_EINVAL;
    }
    if (!*arn) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'resourceARN' failed to "
                           "satisfy constraint: Member must not be null");
    }
    return 0;
}

int kin_op_tag_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err)
{
    const char *arn;
    return resource_arn(req, &arn, err)
               ? TS_EINVAL
               : with_stream(ctx, req, "kinesis:TagResource", arn, add_tags, resp, err);
}

int kin_op_untag_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err)
{
    const char *arn;
    return resource_arn(req, &arn, err)
               ? TS_EINVAL
               : with_stream(ctx, req, "kinesis:UntagResource", arn, remove_tags, resp, err);
}

int kin_op_list_tags_for_resource(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                  struct ts_aws_error *err)
{
    const char *arn;
    return resource_arn(req, &arn, err) ? TS_EINVAL
                                        : with_stream(ctx, req, "kinesis:ListTagsForResource",
                                                      arn, list_tags_for_resource, resp, err);
}

/* ------------------------------------------------------------------ UpdateShardCount */

/*
 * Uniform scaling from N to M open shards, expressed as AWS expresses it: a sequence of splits
 * (one parent, two children) and merges (parent + adjacent parent, one child).
 *   1. Every open shard that contains a boundary of the M equal target ranges is split at that
 *      boundary (repeatedly, if it holds several); the pieces now line up with the boundaries.
 *   2. The pieces inside each target range are merged left to right into one shard.
 * Intermediate shards (a split child merged at once, a merge result merged again) are created
 * and closed immediately with no records; they stay visible, so consumers following
 * ParentShardId/AdjacentParentShardId see a complete lineage. Every new shard gets the same
 * creation time, later than any existing shard, and a higher index than its parents, so its
 * sequence numbers are larger than its parents'.
 */
struct reshard {
    struct ts_kinesis *k;
    struct kin_stream *s;
    int64_t t;
    uint32_t next_index;
    struct kin_shard **created;
    size_t n_created;
    struct kin_shard **closing;
    size_t n_closing;
    size_t cap;
};

static int reshard_push(struct kin_shard ***arr, size_t *n, struct kin_shard *sh)
{
    struct kin_shard **a = ts_realloc(*arr, (*n + 1) * sizeof(*a));
    if (!a) {
        return TS_ENOMEM;
    }
    a[(*n)++] = sh;
    *arr = a;
    return 0;
}

static int reshard_new(struct reshard *r, int64_t parent, int64_t adjacent, kin_u128 start,
                       kin_u128 end, struct kin_shard **out)
{
    int rc = kin__shard_new(r->k, r->s, r->next_index, parent, adjacent, start, end, r->t, out);
    if (rc) {
        return rc;
    }
    r->next_index++;
    rc = reshard_push(&r->created, &r->n_created, *out);
    if (rc) {
        kin__shard_free(*out);
    }
    return rc;
}

static int plan_reshard(struct reshard *r, uint32_t m, struct kin_shard ***pieces_out,
                        size_t *n_pieces_out)
{
    struct kin_stream *s = r->s;
    struct kin_shard **pieces = NULL;
    size_t np = 0;
    int rc = 0;
    /* 1. splits */
    for (size_t i = 0; !rc && i < s->n_open; i++) {
        struct kin_shard *cur = s->open[i];
        for (uint32_t j = 1; !rc && j < m; j++) {
            kin_u128 c = kin_range_start(j, m);
            if (!(cur->start_hash < c && c <= cur->end_hash)) {
                continue;
            }
            struct kin_shard *left, *right;
            rc = reshard_new(r, cur->index, -1, cur->start_hash, c - 1, &left);
            rc = rc ? rc : reshard_new(r, cur->index, -1, c, cur->end_hash, &right);
            rc = rc ? rc : reshard_push(&r->closing, &r->n_closing, cur);
            rc = rc ? rc : reshard_push(&pieces, &np, left);
            if (!rc) {
                cur = right;
            }
        }
        rc = rc ? rc : reshard_push(&pieces, &np, cur);
    }
    /* 2. merges, target range by target range (pieces are in hash order) */
    struct kin_shard **result = NULL;
    size_t nr = 0, p = 0;
    for (uint32_t j = 0; !rc && j < m; j++) {
        kin_u128 end = kin_range_end(j, m);
        struct kin_shard *acc = pieces[p++];
        while (!rc && acc->end_hash < end && p < np) {
            struct kin_shard *next = pieces[p++], *merged;
            rc = reshard_new(r, acc->index, next->index, acc->start_hash, next->end_hash,
                             &merged);
            rc = rc ? rc : reshard_push(&r->closing, &r->n_closing, acc);
            rc = rc ? rc : reshard_push(&r->closing, &r->n_closing, next);
            if (!rc) {
                acc = merged;
            }
        }
        rc = rc ? rc : reshard_push(&result, &nr, acc);
    }
    ts_free(pieces);
    *pieces_out = result;
    *n_pieces_out = nr;
    return rc;
}

static int update_shard_count_locked(struct ts_kinesis *k, struct kin_stream *s, int64_t target,
                                     struct ts_aws_req *req, struct ts_aws_resp *resp,
                                     struct ts_aws_error *err)
{
    int64_t n = (int64_t)s->n_open;
    if (s->on_demand) {
        return ts_aws_fail(err, "ValidationException",
                           "UpdateShardCount is not supported for stream %s under account %s "
                           "in ON_DEMAND mode.",
                           s->name, s->account);
    }
    if (target > 2 * n) {
        return ts_aws_fail(err, "LimitExceededException",
                           "UpdateShardCount cannot scale up over double your current open "
                           "shard count. Current open shard count: %lld Target shard count: "
                           "%lld",
                           (long long)n, (long long)target);
    }
    if (target < (n + 1) / 2) {
        return ts_aws_fail(err, "LimitExceededException",
                           "UpdateShardCount cannot scale down below half your current open "
                           "shard count. Current open shard count: %lld Target shard count: "
                           "%lld",
                           (long long)n, (long long)target);
    }
    if (target > KIN_MAX_SHARDS_PER_STREAM) {
        return ts_aws_fail(err, "LimitExceededException", "A stream can have at most %d shards.",
                           KIN_MAX_SHARDS_PER_STREAM);
    }
    int64_t open_all = 0;
    int rc = kin__count_open_shards(k, s->account, s->region, &open_all);
    if (rc) {
        return kin_store_fail(err, rc);
    }
    if (open_all - n + target > k->opts.shard_limit) {
        return ts_aws_fail(err, "LimitExceededException",
                           "This request would exceed the shard limit for the account %s in "
                           "%s. Current shard count for the account: %lld. Limit: %d. Number of "
                           "additional shards that would have resulted from this request: %lld.",
                           s->account, s->region, (long long)open_all, k->opts.shard_limit,
                           (long long)(target - n));
    }
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        return oom(err);
    }
    cJSON_AddStringToObject(out, "StreamName", s->name);
    cJSON_AddNumberToObject(out, "CurrentShardCount", (double)n);
    cJSON_AddNumberToObject(out, "TargetShardCount", (double)target);
    cJSON_AddStringToObject(out, "StreamARN", s->arn);
    if (target == n) {
        resp->output = out;
        return 0;
    }
    struct reshard r = {k, s, req->now_ms, 0, NULL, 0, NULL, 0, 0};
    for (size_t i = 0; i < s->n_shards; i++) {
        if (s->shards[i]->created_ms >= r.t) {
            r.t = s->shards[i]->created_ms + 1;
        }
        if (s->shards[i]->index >= r.next_index) {
            r.next_index = s->shards[i]->index + 1;
        }
    }
    struct kin_shard **result = NULL;
    size_t nr = 0;
    rc = plan_reshard(&r, (uint32_t)target, &result, &nr);
    ts_free(result);
    /* Apply: the parents' end offsets are final because we hold the write lock (no append is
     * in flight). Nothing is visible to readers before the document is durable. */
    struct kin_shard **grown = NULL;
    if (!rc) {
        grown = ts_realloc(s->shards, (s->n_shards + r.n_created) * sizeof(*grown));
        rc = grown ? 0 : TS_ENOMEM;
    }
    if (rc) {
        for (size_t i = 0; i < r.n_created; i++) {
            kin__shard_free(r.created[i]);
        }
    } else {
        s->shards = grown;
        for (size_t i = 0; i < r.n_created; i++) {
            s->shards[s->n_shards++] = r.created[i];
        }
        for (size_t i = 0; i < r.n_closing; i++) {
            struct kin_shard *sh = r.closing[i];
            sh->closed_ms = r.t;
            sh->end_offset = ts_partition_end_offset(sh->part);
        }
        rc = kin__stream_rebuild_open(s);
        if (rc) {
            s->deleted = true; /* half-applied in memory: retire it, reload from meta */
        }
    }
    ts_free(r.created);
    ts_free(r.closing);
    if (rc) {
        cJSON_Delete(out);
        return kin_store_fail(err, rc);
    }
    rc = save_or_retire(k, s, err);
    if (rc) {
        cJSON_Delete(out);
        return rc;
    }
    resp->output = out;
    return 0;
}

int kin_op_update_shard_count(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_kinesis *k = ctx;
    int64_t target = 0;
    bool has;
    const char *type;
    if (kin_get_int(req->input, "TargetShardCount", &target, &has, err) ||
        kin_get_str(req->input, "ScalingType", &type, err)) {
        return TS_EINVAL;
    }
    if (!has) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'targetShardCount' "
                           "failed to satisfy constraint: Member must not be null");
    }
    if (!type || strcmp(type, "UNIFORM_SCALING") != 0) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%.64s' at 'scalingType' failed "
                           "to satisfy constraint: Member must satisfy enum value set: "
                           "[UNIFORM_SCALING]",
                           type ? type : "null");
    }
    if (target < 1) {
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'targetShardCount' "
                           "failed to satisfy constraint: Member must have value greater than "
                           "or equal to 1",
                           (long long)target);
    }
    struct kin_stream *s;
    pthread_mutex_lock(&k->ctl);
    int rc = kin__get_for_op(k, req, "kinesis:UpdateShardCount", &s, err);
    if (rc) {
        pthread_mutex_unlock(&k->ctl);
        return rc;
    }
    /* Waits for in-flight appends: none can land in a parent after its children exist. */
    pthread_rwlock_wrlock(&s->lock);
    rc = s->deleted ? kin_not_found(err, s->account, s->name)
                    : update_shard_count_locked(k, s, target, req, resp, err);
    pthread_rwlock_unlock(&s->lock);
    if (s->deleted) {
        kin__cache_remove(k, s);
    }
    pthread_mutex_unlock(&k->ctl);
    kin_stream_put(s);
    return rc;
}

/* ------------------------------------------------------------------ retention pass */


/* Splits "kinesis/<account>/<region>/<stream>/<shardId>" (in place). */
static bool split_name(char *name, char **account, char **region, char **stream)
{
    char *parts[5];
    char *p = name;
    for (int i = 0; i < 5; i++) {
        parts[i] = p;
        char *slash = strchr(p, '/');
        if (i < 4) {
            if (!slash) {
                return false;
            }
            *slash = '\0';
            p = slash + 1;
        }
    }
    *account = parts[1];
    *region = parts[2];
    *stream = parts[3];
    return strcmp(parts[0], "kinesis") == 0;
}

int ts_kinesis_retain_now(struct ts_kinesis *k)
{
    struct {
        char **names;
        size_t n;
    } l = {NULL, 0};
    int rc = ts_store_names(k->ctx.store, "kinesis/", &l.names, &l.n);
    char last[TS_STORE_NAME_MAX] = "";
    int64_t retention_ms = 0;
    bool orphan = false;
    for (size_t i = 0; i < l.n; i++) {
        char key[TS_STORE_NAME_MAX];
        ts_strlcpy(key, l.names[i], sizeof(key));
        char *slash = strrchr(key, '/');
        if (slash) {
            *slash = '\0'; /* key = the stream's prefix */
        }
        if (strcmp(key, last) != 0) {
            ts_strlcpy(last, key, sizeof(last));
            char tmp[TS_STORE_NAME_MAX], *account, *region, *stream;
            ts_strlcpy(tmp, key, sizeof(tmp));
            ts_strlcpy(tmp + strlen(tmp), "/x", sizeof(tmp) - strlen(tmp));
            orphan = false;
            retention_ms = 0;
            if (!split_name(tmp, &account, &region, &stream)) {
                continue;
            }
            /* Under the control lock a stream cannot be created or deleted meanwhile, so a
             * partition without a document really is a leftover. */
            pthread_mutex_lock(&k->ctl);
            cJSON *d = NULL;
            int e = kin__load_doc(k, account, region, stream, &d);
            if (e == TS_ENOTFOUND) {
                orphan = true;
                e = kin__delete_partitions(k, account, region, stream);
            } else if (!e) {
                const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "retention_hours");
                retention_ms = cJSON_IsNumber(h) ? (int64_t)h->valuedouble * 3600000 : 0;
            }
            cJSON_Delete(d);
            pthread_mutex_unlock(&k->ctl);
            if (e && !rc) {
                rc = e;
            }
        }
        if (orphan || retention_ms <= 0) {
            continue;
        }
        struct ts_partition *p;
        int e = ts_store_partition(k->ctx.store, l.names[i], false, &p);
        if (!e) {
            e = ts_partition_retain(p, retention_ms, 0, NULL);
        }
        if (e && e != TS_ENOTFOUND && e != TS_ECLOSED && !rc) {
            rc = e;
        }
    }
    ts_store_names_free(l.names, l.n);
    return rc;
}
