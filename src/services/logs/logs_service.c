/*
 * logs_service.c - the CloudWatch Logs operations table, shared validation, documents, the
 * group-info cache and the retention sweeper.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs_int.h"

/* ------------------------------------------------------------------ validation */

int logs_check_group_name(const char *name, struct ts_aws_error *err, const char *member)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= LOGS_GROUP_NAME_MAX;
    for (const char *p = name; ok && *p; p++) {
        char c = *p;
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == '_' || c == '/' || c == '#';
    }
    if (!ok) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.600s' at '%s' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "[\\.\\-_/#A-Za-z0-9]+",
                           name, member);
    }
    return 0;
}

int logs_check_stream_name(const char *name, struct ts_aws_error *err, const char *member)
{
    size_t n = strlen(name);
    if (n < 1 || n > LOGS_STREAM_NAME_MAX || strpbrk(name, ":*")) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.600s' at '%s' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "[^:*]*",
                           name, member);
    }
    return 0;
}

int logs_opt_string(const cJSON *in, const char *member, const char **out,
                    struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, member);
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (!cJSON_IsString(v)) {
        return ts_aws_fail(err, "SerializationException",
                           "Member '%s' must be a string.", member);
    }
    *out = v->valuestring;
    return 1;
}

int logs_opt_int(const cJSON *in, const char *member, int64_t *out, struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, member);
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    /* JSON numbers are doubles in cJSON: integers are exact up to 2^53, which covers every
     * millisecond timestamp and count this API takes. */
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble > 9007199254740992.0 || v->valuedouble < -9007199254740992.0) {
        return ts_aws_fail(err, "SerializationException",
                           "Member '%s' must be an integer.", member);
    }
    *out = (int64_t)v->valuedouble;
    return 1;
}

int logs_opt_bool(const cJSON *in, const char *member, bool *out, struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, member);
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (!cJSON_IsBool(v)) {
        return ts_aws_fail(err, "SerializationException", "Member '%s' must be a boolean.",
                           member);
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

int logs_group_arg(struct ts_aws_req *req, char *name, size_t name_len, bool identifier_allowed,
                   struct ts_aws_error *err)
{
    const char *byname = NULL, *ident = NULL;
    int rc = logs_opt_string(req->input, "logGroupName", &byname, err);
    if (rc < 0) {
        return rc;
    }
    if (identifier_allowed) {
        rc = logs_opt_string(req->input, "logGroupIdentifier", &ident, err);
        if (rc < 0) {
            return rc;
        }
    }
    if (byname && ident) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
    }
    if (!byname && !ident) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Should provide either name or ARN of the log group.");
    }
    if (ident && strncmp(ident, "arn:", 4) == 0) {
        /* arn:aws:logs:<region>:<account>:log-group:<name>[:*] */
        char region[32], account[16];
        const char *p = ident;
        const char *parts[6];
        for (int i = 0; i < 6; i++) {
            parts[i] = p;
            p = strchr(p, ':');
            if (!p) {
                return ts_aws_fail(err, "InvalidParameterException",
                                   "'%.300s' is not a valid log group ARN.", ident);
            }
            p++;
        }
        snprintf(region, sizeof(region), "%.*s", (int)(parts[4] - parts[3] - 1), parts[3]);
        snprintf(account, sizeof(account), "%.*s", (int)(parts[5] - parts[4] - 1), parts[4]);
        if (strncmp(parts[2], "logs:", 5) != 0 || strncmp(parts[5], "log-group:", 10) != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "'%.300s' is not a valid log group ARN.", ident);
        }
        const char *gname = parts[5] + 10;
        size_t glen = strlen(gname);
        if (glen >= 2 && strcmp(gname + glen - 2, ":*") == 0) {
            glen -= 2;
        }
        if (strcmp(account, req->caller.account) != 0 || strcmp(region, req->region) != 0) {
            /* Cross-account reads need observability links, which are not offered. */
            return ts_aws_fail(err, "ResourceNotFoundException",
                               "The specified log group does not exist.");
        }
        if (glen >= name_len) {
            return ts_aws_fail(err, "InvalidParameterException", "Log group name too long.");
        }
        memcpy(name, gname, glen);
        name[glen] = '\0';
    } else {
        const char *given = byname ? byname : ident;
        if (strlen(given) >= name_len) {
            /* never truncate: a cut name would address another group */
            return ts_aws_fail(err, "InvalidParameterException",
                               "1 validation error detected: Value at '%s' failed to satisfy "
                               "constraint: Member must have length less than or equal to %zu",
                               byname ? "logGroupName" : "logGroupIdentifier", name_len - 1);
        }
        ts_strlcpy(name, given, name_len);
    }
    return logs_check_group_name(name, err, byname ? "logGroupName" : "logGroupIdentifier");
}

void logs_group_key(const char *region, const char *group, char out[LOGS_KEY_MAX])
{
    snprintf(out, LOGS_KEY_MAX, "%s:%s", region, group);
}

void logs_stream_key(const char *region, const char *group, const char *stream,
                     char out[LOGS_KEY_MAX])
{
    snprintf(out, LOGS_KEY_MAX, "%s:%s:%s", region, group, stream);
}

void logs_group_arn(const struct ts_aws_req *req, const char *group, bool star, char *out,
                    size_t out_len)
{
    snprintf(out, out_len, "arn:aws:logs:%s:%s:log-group:%s%s", req->region, req->caller.account,
             group, star ? ":*" : "");
}

int ts_logs_partition_name(const char *account, const char *region, const char *group,
                           const char *stream, uint64_t stream_id, char *out, size_t out_len)
{
    /* ':' appears in neither group nor stream names, so the name is unambiguous. */
    int n = snprintf(out, out_len, "logs/%s/%s/%s:%s:%016llx", account, region, group, stream,
                     (unsigned long long)stream_id);
    return n < 0 || (size_t)n >= out_len ? TS_ETOOBIG : 0;
}

int logs_storage_error(struct ts_aws_error *err, int rc)
{
    return ts_aws_fail(err, "ServiceUnavailableException",
                       "The service cannot complete the request: storage error (%s).",
                       ts_strerror(rc));
}

static int load_doc(struct ts_logs *l, const char *kind, const char *account, const char *key,
                    cJSON **doc)
{
    struct ts_buf b;
    ts_buf_init(&b, LOGS_DOC_MAX);
    int rc = ts_meta_get(l->ctx.meta, kind, account, key, &b);
    if (rc == 0) {
        *doc = cJSON_ParseWithLength(b.data, b.len);
        rc = *doc ? 0 : TS_ECORRUPT;
    }
    ts_buf_free(&b);
    return rc;
}

int logs_load_group(struct ts_logs *l, struct ts_aws_req *req, const char *group, cJSON **doc,
                    struct ts_aws_error *err)
{
    char key[LOGS_KEY_MAX];
    logs_group_key(req->region, group, key);
    int rc = load_doc(l, "log_group", req->caller.account, key, doc);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified log group does not exist.");
    }
    return rc ? logs_storage_error(err, rc) : 0;
}

int logs_load_stream(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                     const char *stream, cJSON **doc, struct ts_aws_error *err)
{
    char key[LOGS_KEY_MAX];
    logs_stream_key(req->region, group, stream, key);
    int rc = load_doc(l, "log_stream", req->caller.account, key, doc);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified log stream does not exist.");
    }
    return rc ? logs_storage_error(err, rc) : 0;
}

int logs_put_doc(struct ts_logs *l, const char *kind, const char *account, const char *key,
                 const cJSON *doc, bool create, struct ts_aws_error *err)
{
    char *text = cJSON_PrintUnformatted(doc);
    if (!text) {
        return ts_aws_fail(err, "ServiceUnavailableException", "Out of memory.");
    }
    int rc = create ? ts_meta_create(l->ctx.meta, kind, account, key, text)
                    : ts_meta_put(l->ctx.meta, kind, account, key, text);
    cJSON_free(text);
    if (rc == TS_EEXIST) {
        return ts_aws_fail(err, "ResourceAlreadyExistsException",
                           "The specified %s already exists.",
                           strcmp(kind, "log_group") == 0 ? "log group" : "log stream");
    }
    return rc ? logs_storage_error(err, rc) : 0;
}

uint64_t logs_stream_id_of(const char *json)
{
    cJSON *doc = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "streamId");
    uint64_t v = 0;
    if (cJSON_IsString(id)) {
        v = strtoull(id->valuestring, NULL, 16);
    }
    cJSON_Delete(doc);
    return v;
}

/* ------------------------------------------------------------------ tokens */

int logs_token_make(struct ts_logs *l, const char *kind, const struct ts_aws_req *req,
                    const char *scope, const char *position, cJSON *out_obj, const char *member)
{
    /* The token binds the operation, the caller's account and region and the listing's scope
     * (group, prefix) to a position, so it cannot be replayed elsewhere. */
    struct ts_buf payload, tok;
    ts_buf_init(&payload, 4096);
    ts_buf_init(&tok, 8192);
    int rc = ts_buf_addf(&payload, "%s\n%s\n%s\n%s\n%s", kind, req->caller.account, req->region,
                         scope, position);
    if (!rc) {
        rc = ts_aws_token_seal(l->ctx.secret, payload.data, payload.len, &tok);
    }
    if (!rc && !cJSON_AddStringToObject(out_obj, member, tok.data)) {
        rc = TS_ENOMEM;
    }
    ts_buf_free(&payload);
    ts_buf_free(&tok);
    return rc;
}

int logs_token_read(struct ts_logs *l, const char *kind, const struct ts_aws_req *req,
                    const char *scope, const char *token, char *position, size_t pos_len,
                    struct ts_aws_error *err)
{
    struct ts_buf b, want;
    ts_buf_init(&b, 8192);
    ts_buf_init(&want, 4096);
    int rc = ts_aws_token_open(l->ctx.secret, token, &b);
    if (!rc) {
        rc = ts_buf_addf(&want, "%s\n%s\n%s\n%s\n", kind, req->caller.account, req->region,
                         scope);
    }
    if (!rc && (b.len < want.len || memcmp(b.data, want.data, want.len) != 0 ||
                b.len - want.len >= pos_len)) {
        rc = TS_EINVAL;
    }
    if (!rc) {
        memcpy(position, b.data + want.len, b.len - want.len);
        position[b.len - want.len] = '\0';
    }
    ts_buf_free(&b);
    ts_buf_free(&want);
    if (rc) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "The specified nextToken is invalid.");
    }
    return 0;
}

/* ------------------------------------------------------------------ describe pages */

struct page {
    const char *after;
    int64_t limit;
    logs_view_fn view_fn;
    cJSON *items;
    char last[LOGS_KEY_MAX];
    bool more;
};

static int page_one(void *arg, const char *account, const char *key, const char *json)
{
    struct page *pg = arg;
    TS_UNUSED(account);
    if (pg->after && strcmp(key, pg->after) <= 0) {
        return 0;
    }
    if (cJSON_GetArraySize(pg->items) >= pg->limit) {
        pg->more = true;
        return 1;
    }
    cJSON *doc = cJSON_Parse(json);
    cJSON *view = doc;
    if (doc && pg->view_fn) {
        view = pg->view_fn(doc);
        cJSON_Delete(doc);
    }
    if (view) {
        cJSON_AddItemToArray(pg->items, view);
        ts_strlcpy(pg->last, key, sizeof(pg->last));
    }
    return 0;
}

int logs_describe_page(struct ts_logs *l, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       const char *kind, const char *key_prefix, const char *token_kind,
                       const char *scope, const char *token, int64_t limit,
                       logs_view_fn view_fn, const char *member, struct ts_aws_error *err)
{
    char after[LOGS_KEY_MAX] = "";
    if (token &&
        logs_token_read(l, token_kind, req, scope, token, after, sizeof(after), err) != 0) {
        return TS_EINVAL;
    }
    struct page pg = {after[0] ? after : NULL, limit, view_fn, NULL, "", false};
    resp->output = cJSON_CreateObject();
    pg.items = resp->output ? cJSON_AddArrayToObject(resp->output, member) : NULL;
    if (!pg.items) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    int rc = ts_meta_list(l->ctx.meta, kind, req->caller.account, key_prefix, page_one, &pg);
    if (rc < 0) {
        return logs_storage_error(err, rc);
    }
    if (pg.more &&
        logs_token_make(l, token_kind, req, scope, pg.last, resp->output, "nextToken") != 0) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    return 0;
}

/* ------------------------------------------------------------------ group info cache */

static void group_info_free(struct logs_group_info *gi)
{
    for (int i = 0; i < gi->n_filters; i++) {
        logs_metric_free(&gi->filters[i]);
    }
    ts_free(gi->filters);
    ts_free(gi);
}

struct logs_group_info *logs_group_info_get(struct ts_logs *l, const char *account,
                                            const char *key, struct ts_aws_error *err)
{
    pthread_mutex_lock(&l->lock);
    for (struct logs_group_info *gi = l->cache; gi; gi = gi->next) {
        if (strcmp(gi->account, account) == 0 && strcmp(gi->key, key) == 0) {
            gi->refs++;
            pthread_mutex_unlock(&l->lock);
            return gi;
        }
    }
    uint64_t gen = l->cache_gen;
    pthread_mutex_unlock(&l->lock);

    /* Load and compile outside the lock: compiling patterns is the expensive part. */
    cJSON *doc = NULL;
    int rc = load_doc(l, "log_group", account, key, &doc);
    if (rc) {
        if (rc == TS_ENOTFOUND) {
            ts_aws_fail(err, "ResourceNotFoundException",
                        "The specified log group does not exist.");
        } else {
            logs_storage_error(err, rc);
        }
        return NULL;
    }
    struct logs_group_info *gi = ts_calloc(1, sizeof(*gi));
    if (!gi) {
        cJSON_Delete(doc);
        logs_storage_error(err, TS_ENOMEM);
        return NULL;
    }
    ts_strlcpy(gi->account, account, sizeof(gi->account));
    ts_strlcpy(gi->key, key, sizeof(gi->key));
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(doc, "retentionInDays");
    gi->retention_days = cJSON_IsNumber(ret) ? ret->valueint : 0;
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(doc, "metricFilters");
    int n = cJSON_GetArraySize(filters);
    if (n > 0) {
        gi->filters = ts_calloc((size_t)n, sizeof(*gi->filters));
        if (!gi->filters) {
            ts_free(gi);
            cJSON_Delete(doc);
            logs_storage_error(err, TS_ENOMEM);
            return NULL;
        }
        const cJSON *f;
        cJSON_ArrayForEach(f, filters)
        {
            struct ts_aws_error e;
            if (logs_metric_compile(f, &gi->filters[gi->n_filters], &e) == 0) {
                gi->n_filters++;
            }
        }
    }
    cJSON_Delete(doc);
    gi->refs = 1;
    pthread_mutex_lock(&l->lock);
    /* Cache it only if nothing changed meanwhile; a stale entry must never be kept. */
    if (l->cache_gen == gen) {
        gi->refs++;
        gi->next = l->cache;
        l->cache = gi;
    }
    pthread_mutex_unlock(&l->lock);
    return gi;
}

void logs_group_info_put(struct ts_logs *l, struct logs_group_info *gi)
{
    if (!gi) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    bool last = --gi->refs == 0;
    pthread_mutex_unlock(&l->lock);
    if (last) {
        group_info_free(gi);
    }
}

void logs_group_info_invalidate(struct ts_logs *l, const char *account, const char *key)
{
    pthread_mutex_lock(&l->lock);
    l->cache_gen++;
    struct logs_group_info **pp = &l->cache;
    while (*pp) {
        struct logs_group_info *gi = *pp;
        if (strcmp(gi->account, account) == 0 && strcmp(gi->key, key) == 0) {
            *pp = gi->next;
            if (--gi->refs == 0) {
                group_info_free(gi);
            }
            continue;
        }
        pp = &gi->next;
    }
    pthread_mutex_unlock(&l->lock);
}

uint64_t logs_group_info_stream(struct ts_logs *l, struct logs_group_info *gi,
                                const char *stream)
{
    uint64_t id = 0;
    pthread_mutex_lock(&l->lock);
    unsigned n = TS_MIN(gi->n_streams, (unsigned)TS_ARRAY_LEN(gi->streams));
    for (unsigned i = 0; i < n && !id; i++) {
        if (strcmp(gi->streams[i].name, stream) == 0) {
            id = gi->streams[i].id;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return id;
}

void logs_group_info_set_stream(struct ts_logs *l, struct logs_group_info *gi,
                                const char *stream, uint64_t id)
{
    pthread_mutex_lock(&l->lock);
    unsigned slot = gi->n_streams++ % (unsigned)TS_ARRAY_LEN(gi->streams);
    ts_strlcpy(gi->streams[slot].name, stream, sizeof(gi->streams[slot].name));
    gi->streams[slot].id = id;
    pthread_mutex_unlock(&l->lock);
}

/* ------------------------------------------------------------------ retention sweeper */

struct sweep_ctx {
    struct ts_logs *l;
    int64_t now;
};

static int sweep_stream(void *arg, const char *account, const char *key, const char *json)
{
    struct sweep_ctx *sc = arg;
    /* key = "<region>:<group>:<stream>": find the group's retention. */
    char region[32], group[LOGS_GROUP_NAME_MAX + 1], stream[LOGS_STREAM_NAME_MAX + 1];
    const char *c1 = strchr(key, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || (size_t)(c1 - key) >= sizeof(region) ||
        (size_t)(c2 - c1 - 1) >= sizeof(group) || strlen(c2 + 1) >= sizeof(stream)) {
        return 0;
    }
    snprintf(region, sizeof(region), "%.*s", (int)(c1 - key), key);
    snprintf(group, sizeof(group), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    ts_strlcpy(stream, c2 + 1, sizeof(stream));
    char gkey[LOGS_KEY_MAX];
    logs_group_key(region, group, gkey);
    cJSON *doc = NULL;
    if (load_doc(sc->l, "log_group", account, gkey, &doc) != 0) {
        return 0;
    }
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(doc, "retentionInDays");
    int64_t days = cJSON_IsNumber(ret) ? (int64_t)ret->valuedouble : 0;
    cJSON_Delete(doc);
    if (days <= 0) {
        return 0;
    }
    char pname[TS_STORE_NAME_MAX];
    struct ts_partition *p;
    uint64_t sid = logs_stream_id_of(json);
    if (ts_logs_partition_name(account, region, group, stream, sid, pname, sizeof(pname)) == 0 &&
        ts_store_partition(sc->l->ctx.store, pname, false, &p) == 0) {
        uint64_t removed = 0;
        /* Whole segments whose every record was ingested before the retention horizon go;
         * readers additionally hide events whose timestamp is past it. */
        ts_partition_retain(p, days * 86400000LL, 0, &removed);
        if (removed) {
            ts_metric_add("ts_logs_retention_removed_events_total", "", (double)removed);
        }
    }
    return 0;
}

/* One retention pass over every account's log streams. */
static void logs_sweep_all(struct ts_logs *l, struct sweep_ctx *sc)
{
    if (!l->ctx.accounts) {
        return;
    }
    size_t n = ts_aws_accounts_count(l->ctx.accounts);
    for (size_t i = 0; i < n; i++) {
        const char *account = ts_aws_accounts_id_at(l->ctx.accounts, i);
        if (account) {
            ts_meta_list(l->ctx.meta, "log_stream", account, NULL, sweep_stream, sc);
        }
    }
}

void ts_logs_retain_now(struct ts_logs *l)
{
    struct sweep_ctx sc = {l, ts_clock_now_ms(l->ctx.clock)};
    logs_sweep_all(l, &sc);
}

static void *sweeper_main(void *arg)
{
    ts_thread_name("ts-logs-retain");
    struct ts_logs *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (l->opts.retention_sweep_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(l->opts.retention_sweep_ms / 1000) + (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
        if (l->stopping) {
            break;
        }
        pthread_mutex_unlock(&l->lock);
        struct sweep_ctx sc = {l, ts_clock_now_ms(l->ctx.clock)};
        logs_sweep_all(l, &sc);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* ------------------------------------------------------------------ service */

static const char *const req_group[] = {"logGroupName", NULL};
static const char *const req_group_stream[] = {"logGroupName", "logStreamName", NULL};
static const char *const req_stream[] = {"logStreamName", NULL};
static const char *const req_retention[] = {"logGroupName", "retentionInDays", NULL};
static const char *const req_metric_filter[] = {"logGroupName", "filterName", "filterPattern",
                                                "metricTransformations", NULL};
static const char *const req_group_filter[] = {"logGroupName", "filterName", NULL};
static const char *const req_test_filter[] = {"filterPattern", "logEventMessages", NULL};
static const char *const req_tag_resource[] = {"resourceArn", "tags", NULL};
static const char *const req_untag_resource[] = {"resourceArn", "tagKeys", NULL};
static const char *const req_resource[] = {"resourceArn", NULL};
static const char *const req_group_tags[] = {"logGroupName", "tags", NULL};
static const char *const req_sub_filter[] = {"logGroupName", "filterName", "filterPattern",
                                             "destinationArn", NULL};
static const char *const req_destination[] = {"destinationName", "targetArn", "roleArn", NULL};
static const char *const req_dest_policy[] = {"destinationName", "accessPolicy", NULL};
static const char *const req_dest_name[] = {"destinationName", NULL};

static const struct ts_aws_op logs_ops[] = {
    {"CreateLogGroup", logs_op_create_log_group, req_group, false},
    {"DeleteLogGroup", logs_op_delete_log_group, req_group, false},
    {"DescribeLogGroups", logs_op_describe_log_groups, NULL, false},
    {"CreateLogStream", logs_op_create_log_stream, req_group_stream, false},
    {"DeleteLogStream", logs_op_delete_log_stream, req_group_stream, false},
    {"DescribeLogStreams", logs_op_describe_log_streams, NULL, false},
    {"PutLogEvents", logs_op_put_log_events, NULL, true},
    {"GetLogEvents", logs_op_get_log_events, req_stream, false},
    {"FilterLogEvents", logs_op_filter_log_events, NULL, false},
    {"PutRetentionPolicy", logs_op_put_retention_policy, req_retention, false},
    {"DeleteRetentionPolicy", logs_op_delete_retention_policy, req_group, false},
    {"PutMetricFilter", logs_op_put_metric_filter, req_metric_filter, false},
    {"DescribeMetricFilters", logs_op_describe_metric_filters, NULL, false},
    {"DeleteMetricFilter", logs_op_delete_metric_filter, req_group_filter, false},
    {"TestMetricFilter", logs_op_test_metric_filter, req_test_filter, false},
    {"TagResource", logs_op_tag_resource, req_tag_resource, false},
    {"UntagResource", logs_op_untag_resource, req_untag_resource, false},
    {"ListTagsForResource", logs_op_list_tags_for_resource, req_resource, false},
    {"TagLogGroup", logs_op_tag_log_group, req_group_tags, false},
    {"ListTagsLogGroup", logs_op_list_tags_log_group, req_group, false},
    {"PutSubscriptionFilter", logs_op_put_subscription_filter, req_sub_filter, false},
    {"DescribeSubscriptionFilters", logs_op_describe_subscription_filters, req_group, false},
    {"DeleteSubscriptionFilter", logs_op_delete_subscription_filter, req_group_filter, false},
    {"PutDestination", logs_op_put_destination, req_destination, false},
    {"PutDestinationPolicy", logs_op_put_destination_policy, req_dest_policy, false},
    {"DescribeDestinations", logs_op_describe_destinations, NULL, false},
    {"DeleteDestination", logs_op_delete_destination, req_dest_name, false},
};

int ts_logs_create(const struct ts_services_ctx *ctx, const struct ts_logs_opts *opts,
                   struct ts_logs **out)
{
    struct ts_logs *l = ts_calloc(1, sizeof(*l));
    if (!l) {
        return TS_ENOMEM;
    }
    l->ctx = *ctx;
    if (!l->ctx.clock) {
        l->ctx.clock = &ts_clock_real;
    }
    if (opts) {
        l->opts = *opts;
        if (opts->targets) {
            l->targets = *opts->targets;
        }
    }
    l->opts.targets = NULL; /* copied into l->targets */
    l->opts.retention_sweep_ms = opts && opts->retention_sweep_ms ? opts->retention_sweep_ms
                                                                  : 60000;
    l->service = (struct ts_aws_service){
        .name = "logs",
        .signing_name = "logs",
        .protocol = TS_AWS_JSON,
        .target_prefix = "Logs_20140328",
        .content_type = "application/x-amz-json-1.1",
        .validation_code = "InvalidParameterException",
        .ops = logs_ops,
        .n_ops = TS_ARRAY_LEN(logs_ops),
        .ctx = l,
    };
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    ts_metric_describe("ts_logs_metric_filter_value_total", "counter",
                       "Sum of metric filter values produced by accepted log events.");
    ts_metric_describe("ts_logs_metric_filter_matches_total", "counter",
                       "Log events that matched a metric filter.");
    if (l->opts.retention_sweep_ms > 0) {
        int rc = pthread_create(&l->sweeper, NULL, sweeper_main, l);
        if (rc) {
            ts_logs_destroy(l);
            return -rc;
        }
        l->sweeper_started = true;
    }
    *out = l;
    return 0;
}

void ts_logs_destroy(struct ts_logs *l)
{
    if (!l) {
        return;
    }
    if (l->sweeper_started) {
        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->sweeper, NULL);
    }
    while (l->cache) {
        struct logs_group_info *gi = l->cache;
        l->cache = gi->next;
        group_info_free(gi);
    }
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    ts_free(l);
}

const struct ts_aws_service *ts_logs_service(struct ts_logs *l)
{
    return &l->service;
}
