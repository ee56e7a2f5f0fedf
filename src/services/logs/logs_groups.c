/*
 * logs_groups.c - log groups: create, delete, describe, retention and tags.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
 */
#include <stdio.h>
#include <string.h>

#include "logs_int.h"

static const int retention_days[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150, 180,
                                     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

/* ------------------------------------------------------------------ read-modify-write */

struct update {
    struct ts_logs *l;
    const char *account;
    const char *key;
    logs_update_fn fn;
    void *arg;
    struct ts_aws_error *err;
    bool failed_op; /* fn refused: err holds the reason */
};

static int update_txn(struct ts_meta *m, void *arg)
{
    struct update *u = arg;
    struct ts_buf b;
    ts_buf_init(&b, LOGS_DOC_MAX);
    int rc = ts_meta_get(m, "log_group", u->account, u->key, &b);
    cJSON *doc = rc ? NULL : cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    if (rc == TS_ENOTFOUND) {
        u->failed_op = true;
        return ts_aws_fail(u->err, "ResourceNotFoundException",
                           "The specified log group does not exist.");
    }
    if (rc || !doc) {
        return rc ? rc : TS_ECORRUPT;
    }
    rc = u->fn(doc, u->arg, u->err);
    if (rc) {
        u->failed_op = true;
        cJSON_Delete(doc);
        return rc;
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!text) {
        return TS_ENOMEM;
    }
    rc = ts_meta_put(m, "log_group", u->account, u->key, text);
    cJSON_free(text);
    return rc;
}

int logs_update_group(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                      logs_update_fn fn, void *arg, struct ts_aws_error *err)
{
    char key[LOGS_KEY_MAX];
    logs_group_key(req->region, group, key);
    struct update u = {l, req->caller.account, key, fn, arg, err, false};
    int rc = ts_meta_txn(l->ctx.meta, update_txn, &u);
    /* The cache is invalidated after the commit, so a reload sees the new document. */
    logs_group_info_invalidate(l, req->caller.account, key);
    if (rc && !u.failed_op) {
        return logs_storage_error(err, rc);
    }
    return rc;
}

/* ------------------------------------------------------------------ tags */

/* Validates a tags object: 1-50 entries (when require_some), keys 1-128, values 0-256. */
static int check_tags(const cJSON *tags, bool require_some, struct ts_aws_error *err)
{
    if (!cJSON_IsObject(tags)) {
        return ts_aws_fail(err, "SerializationException", "Member 'tags' must be a map.");
    }
    int n = cJSON_GetArraySize(tags);
    if ((require_some && n < 1) || n > 50) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'tags' failed to satisfy "
                           "constraint: Member must have length between 1 and 50");
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        size_t kl = strlen(t->string);
        if (kl < 1 || kl > 128 || !cJSON_IsString(t) || strlen(t->valuestring) > 256 ||
            strncmp(t->string, "aws:", 4) == 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Invalid tag '%.128s': keys are 1-128 characters not starting "
                               "with 'aws:', values strings of at most 256 characters.",
                               t->string);
        }
    }
    return 0;
}

static int merge_tags(cJSON *doc, void *arg, struct ts_aws_error *err)
{
    const cJSON *tags = arg;
    cJSON *have = cJSON_GetObjectItemCaseSensitive(doc, "tags");
    if (!have) {
        have = cJSON_AddObjectToObject(doc, "tags");
        if (!have) {
            return TS_ENOMEM;
        }
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(have, t->string);
        if (!cJSON_AddStringToObject(have, t->string, t->valuestring)) {
            return TS_ENOMEM;
        }
    }
    if (cJSON_GetArraySize(have) > 50) {
        return ts_aws_fail(err, "TooManyTagsException",
                           "A resource can have no more than 50 tags.");
    }
    return 0;
}

static int remove_tags(cJSON *doc, void *arg, struct ts_aws_error *err)
{
    const cJSON *keys = arg;
    cJSON *have = cJSON_GetObjectItemCaseSensitive(doc, "tags");
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        if (!cJSON_IsString(k)) {
            return ts_aws_fail(err, "SerializationException", "Tag keys must be strings.");
        }
        if (have) {
            cJSON_DeleteItemFromObjectCaseSensitive(have, k->valuestring);
        }
    }
    return 0;
}

/* Resolves a resourceArn of a log group of the caller into its name. */
static int group_from_arn(struct ts_aws_req *req, char *name, size_t len,
                          struct ts_aws_error *err)
{
    const char *arn = cJSON_GetObjectItemCaseSensitive(req->input, "resourceArn")->valuestring;
    if (!arn) {
        return ts_aws_fail(err, "SerializationException", "resourceArn must be a string.");
    }
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "arn:aws:logs:%s:%s:log-group:", req->region,
             req->caller.account);
    if (strncmp(arn, prefix, strlen(prefix)) != 0) {
        if (strncmp(arn, "arn:aws:logs:", 13) == 0) {
            return ts_aws_fail(err, "ResourceNotFoundException",
                               "The specified resource does not exist.");
        }
        return ts_aws_fail(err, "InvalidParameterException",
                           "'%.300s' is not a valid log group ARN.", arn);
    }
    const char *g = arn + strlen(prefix);
    size_t gl = strlen(g);
    if (gl >= 2 && strcmp(g + gl - 2, ":*") == 0) {
        gl -= 2;
    }
    if (gl == 0 || gl >= len) {
        return ts_aws_fail(err, "InvalidParameterException", "Invalid log group ARN.");
    }
    memcpy(name, g, gl);
    name[gl] = '\0';
    return logs_check_group_name(name, err, "resourceArn");
}

static int tags_output(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                       struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    cJSON *doc = NULL;
    int rc = logs_load_group(l, req, group, &doc, err);
    if (rc) {
        return rc;
    }
    cJSON *tags = cJSON_DetachItemFromObjectCaseSensitive(doc, "tags");
    cJSON_Delete(doc);
    resp->output = cJSON_CreateObject();
    if (!resp->output) {
        cJSON_Delete(tags);
        return logs_storage_error(err, TS_ENOMEM);
    }
    cJSON_AddItemToObject(resp->output, "tags", tags ? tags : cJSON_CreateObject());
    return 0;
}

int logs_op_tag_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = group_from_arn(req, group, sizeof(group), err);
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "tags");
    if (!rc) {
        rc = check_tags(tags, true, err);
    }
    return rc ? rc : logs_update_group(c, req, group, merge_tags, tags, err);
}

int logs_op_untag_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = group_from_arn(req, group, sizeof(group), err);
    cJSON *keys = cJSON_GetObjectItemCaseSensitive(req->input, "tagKeys");
    if (!rc && !cJSON_IsArray(keys)) {
        rc = ts_aws_fail(err, "SerializationException", "tagKeys must be a list.");
    }
    return rc ? rc : logs_update_group(c, req, group, remove_tags, keys, err);
}

int logs_op_list_tags_for_resource(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = group_from_arn(req, group, sizeof(group), err);
    return rc ? rc : tags_output(c, req, group, resp, err);
}

int logs_op_tag_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "tags");
    if (!rc) {
        rc = check_tags(tags, true, err);
    }
    return rc ? rc : logs_update_group(c, req, group, merge_tags, tags, err);
}

int logs_op_list_tags_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    return rc ? rc : tags_output(c, req, group, resp, err);
}

/* ------------------------------------------------------------------ create / delete */

int logs_op_create_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                             struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc) {
        return rc;
    }
    if (strncmp(group, "aws/", 4) == 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Log groups starting with AWS/ are reserved for AWS.");
    }
    const char *kms = NULL, *cls = NULL;
    bool protect = false;
    if (logs_opt_string(req->input, "kmsKeyId", &kms, err) < 0 ||
        logs_opt_string(req->input, "logGroupClass", &cls, err) < 0 ||
        logs_opt_bool(req->input, "deletionProtectionEnabled", &protect, err) < 0) {
        return TS_EINVAL;
    }
    if (kms && strlen(kms) > 256) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "kmsKeyId must be at most 256 characters.");
    }
    if (cls && strcmp(cls, "STANDARD") != 0 && strcmp(cls, "INFREQUENT_ACCESS") != 0 &&
        strcmp(cls, "DELIVERY") != 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.64s' at 'logGroupClass' failed "
                           "to satisfy constraint: Member must satisfy enum value set: "
                           "[STANDARD, INFREQUENT_ACCESS, DELIVERY]",
                           cls);
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "tags");
    if (tags && (rc = check_tags(tags, true, err)) != 0) {
        return rc;
    }
    cJSON *doc = cJSON_CreateObject();
    if (!doc) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    cJSON_AddStringToObject(doc, "logGroupName", group);
    cJSON_AddNumberToObject(doc, "creationTime", (double)req->now_ms);
    cJSON_AddStringToObject(doc, "logGroupClass", cls ? cls : "STANDARD");
    if (kms) {
        cJSON_AddStringToObject(doc, "kmsKeyId", kms);
    }
    cJSON_AddBoolToObject(doc, "deletionProtectionEnabled", protect);
    cJSON_AddItemToObject(doc, "tags", tags ? cJSON_Duplicate(tags, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(doc, "metricFilters", cJSON_CreateArray());
    char key[LOGS_KEY_MAX];
    logs_group_key(req->region, group, key);
    rc = logs_put_doc(l, "log_group", req->caller.account, key, doc, true, err);
    cJSON_Delete(doc);
    logs_group_info_invalidate(l, req->caller.account, key);
    return rc;
}

int logs_op_delete_log_group(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                             struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    cJSON *doc = NULL;
    if (!rc) {
        rc = logs_load_group(l, req, group, &doc, err);
    }
    if (rc) {
        return rc;
    }
    bool protect = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "deletionProtectionEnabled"));
    cJSON_Delete(doc);
    if (protect) {
        return ts_aws_fail(err, "OperationAbortedException",
                           "Log group %.512s has deletion protection enabled.", group);
    }
    /* The group document goes first: from then on the group does not exist for any call;
     * then its streams' documents and partitions. A crash in between leaves streams that
     * are invisible and removed again by the next DeleteLogGroup of the same name. */
    char key[LOGS_KEY_MAX];
    logs_group_key(req->region, group, key);
    rc = ts_meta_delete(l->ctx.meta, "log_group", req->caller.account, key);
    logs_group_info_invalidate(l, req->caller.account, key);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified log group does not exist.");
    }
    if (!rc) {
        rc = logs_delete_group_streams(l, req->caller.account, req->region, group);
    }
    if (!rc) {
        /* Its subscription filters go with it (their delivery cursors follow at the
         * dispatcher's next reload). */
        rc = logs_delete_group_subscriptions(l, req->caller.account, req->region, group);
    }
    return rc ? logs_storage_error(err, rc) : 0;
}

/* ------------------------------------------------------------------ retention */

static int set_retention(cJSON *doc, void *arg, struct ts_aws_error *err)
{
    int64_t days = *(int64_t *)arg;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "retentionInDays");
    if (days > 0 && !cJSON_AddNumberToObject(doc, "retentionInDays", (double)days)) {
        return TS_ENOMEM;
    }
    return 0;
}

int logs_op_put_retention_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int64_t days = 0;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || (rc = logs_opt_int(req->input, "retentionInDays", &days, err)) < 0) {
        return rc;
    }
    bool valid = false;
    for (size_t i = 0; i < TS_ARRAY_LEN(retention_days); i++) {
        valid |= retention_days[i] == days;
    }
    if (!valid) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'retentionInDays' failed "
                           "to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, "
                           "7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
                           "2192, 2557, 2922, 3288, 3653]",
                           (long long)days);
    }
    return logs_update_group(c, req, group, set_retention, &days, err);
}

int logs_op_delete_retention_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int64_t days = 0;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    return rc ? rc : logs_update_group(c, req, group, set_retention, &days, err);
}

/* ------------------------------------------------------------------ describe */

struct describe {
    struct ts_logs *l;
    struct ts_aws_req *req;
    const char *after;      /* key to continue after, or NULL */
    const char *pattern;    /* logGroupNamePattern substring, or NULL */
    size_t region_len;
    int64_t limit;
    int64_t count;
    cJSON *items;
    char last_key[LOGS_KEY_MAX];
    bool more;
    int rc;
};

/* Adds one log group's description from its document. */
static int describe_group(void *arg, const char *account, const char *key, const char *json)
{
    struct describe *d = arg;
    if (d->after && strcmp(key, d->after) <= 0) {
        return 0;
    }
    const char *name = key + d->region_len + 1;
    if (d->pattern && !strstr(name, d->pattern)) {
        return 0;
    }
    if (d->count == d->limit) {
        d->more = true;
        return 1;
    }
    cJSON *doc = cJSON_Parse(json);
    cJSON *g = cJSON_CreateObject();
    if (!doc || !g) {
        cJSON_Delete(doc);
        cJSON_Delete(g);
        d->rc = TS_ENOMEM;
        return 1;
    }
    char arn[LOGS_KEY_MAX + 128];
    cJSON_AddStringToObject(g, "logGroupName", name);
    cJSON *ct = cJSON_GetObjectItemCaseSensitive(doc, "creationTime");
    cJSON_AddNumberToObject(g, "creationTime", ct ? ct->valuedouble : 0);
    logs_group_arn(d->req, name, true, arn, sizeof(arn));
    cJSON_AddStringToObject(g, "arn", arn);
    if (!d->pattern) {
        cJSON *rd = cJSON_GetObjectItemCaseSensitive(doc, "retentionInDays");
        if (rd) {
            cJSON_AddNumberToObject(g, "retentionInDays", rd->valuedouble);
        }
        cJSON_AddNumberToObject(g, "metricFilterCount",
                                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                                    doc, "metricFilters")));
        cJSON_AddNumberToObject(g, "storedBytes", 0);
        cJSON *kms = cJSON_GetObjectItemCaseSensitive(doc, "kmsKeyId");
        if (kms) {
            cJSON_AddStringToObject(g, "kmsKeyId", kms->valuestring);
        }
        cJSON *cls = cJSON_GetObjectItemCaseSensitive(doc, "logGroupClass");
        cJSON_AddStringToObject(g, "logGroupClass", cls ? cls->valuestring : "STANDARD");
        logs_group_arn(d->req, name, false, arn, sizeof(arn));
        cJSON_AddStringToObject(g, "logGroupArn", arn);
        cJSON_AddBoolToObject(g, "deletionProtectionEnabled",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                  doc, "deletionProtectionEnabled")));
    }
    cJSON_Delete(doc);
    cJSON_AddItemToArray(d->items, g);
    ts_strlcpy(d->last_key, key, sizeof(d->last_key));
    d->count++;
    TS_UNUSED(account);
    return 0;
}

int logs_op_describe_log_groups(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *prefix = NULL, *pattern = NULL, *token = NULL;
    int64_t limit = 50;
    if (logs_opt_string(req->input, "logGroupNamePrefix", &prefix, err) < 0 ||
        logs_opt_string(req->input, "logGroupNamePattern", &pattern, err) < 0 ||
        logs_opt_string(req->input, "nextToken", &token, err) < 0 ||
        logs_opt_int(req->input, "limit", &limit, err) < 0) {
        return TS_EINVAL;
    }
    if (prefix && pattern) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "LogGroup name prefix and LogGroup name pattern are mutually "
                           "exclusive parameters.");
    }
    if (limit < 1 || limit > 50) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 50",
                           (long long)limit);
    }
    if (prefix && *prefix && logs_check_group_name(prefix, err, "logGroupNamePrefix")) {
        return TS_EINVAL;
    }
    char scope[LOGS_KEY_MAX + 8];
    snprintf(scope, sizeof(scope), "%s|%s", prefix ? prefix : "", pattern ? pattern : "");
    char after[LOGS_KEY_MAX] = "";
    if (token &&
        logs_token_read(l, "groups", req, scope, token, after, sizeof(after), err) != 0) {
        return TS_EINVAL;
    }
    char key_prefix[LOGS_KEY_MAX];
    snprintf(key_prefix, sizeof(key_prefix), "%s:%s", req->region, prefix ? prefix : "");
    struct describe d = {.l = l,
                         .req = req,
                         .after = after[0] ? after : NULL,
                         .pattern = pattern && *pattern ? pattern : NULL,
                         .region_len = strlen(req->region),
                         .limit = limit};
    resp->output = cJSON_CreateObject();
    d.items = cJSON_AddArrayToObject(resp->output, "logGroups");
    if (!d.items) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    int rc = ts_meta_list(l->ctx.meta, "log_group", req->caller.account, key_prefix,
                          describe_group, &d);
    if (d.rc || (rc < 0)) {
        return logs_storage_error(err, d.rc ? d.rc : rc);
    }
    if (d.more && logs_token_make(l, "groups", req, scope, d.last_key, resp->output,
                                  "nextToken") != 0) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    return 0;
}
