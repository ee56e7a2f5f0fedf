/*
 * logs_subscriptions.c - subscription filters (PutSubscriptionFilter,
 * DescribeSubscriptionFilters, DeleteSubscriptionFilter), the CONTROL_MESSAGE and the view of
 * subscriptions the delivery layer reads (ts_logs_each_subscription).
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/
 *   API_PutSubscriptionFilter.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 *
 * A filter is a metadata document of kind "subscription_filter", key
 * "<region>:<group>:<filterName>", holding the API members plus three internal ones that are
 * never shown: "subscriptionId" (random; names the delivery cursors, so a filter deleted and
 * created again never inherits old cursors), "creatorAccount" and "creatorArn" (who
 * subscribed, for re-checking a destination's policy when it changes).
 *
 * DeleteSubscriptionFilter does not remove the document: in one transaction it moves it to
 * the draining key "~drain:<region>:<group>:<filterName>|<subscriptionId>" with the deletion
 * time and request id ("deleteTime", "deleteRequestId"). No region starts with '~', so the
 * listings by "<region>:<group>:" (Describe, the limit of two) never see a draining filter,
 * and a filter of the same name can be created at once (a new subscriptionId). The delivery
 * layer keeps delivering a draining filter until the call's own CloudTrail record has gone
 * out (docs/delivery.md, Deletion), then removes the document with
 * ts_logs_subscription_drained.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"

#define LOGS_MAX_SUBSCRIPTION_FILTERS 2 /* per log group (AWS hard limit) */
#define DRAIN_PREFIX "~drain:"

/* ------------------------------------------------------------------ helpers */

void logs_subscriptions_changed(struct ts_logs *l)
{
    atomic_fetch_add(&l->sub_gen, 1);
    if (l->opts.on_change) {
        l->opts.on_change(l->opts.change_ctx);
    }
}

uint64_t ts_logs_subscriptions_gen(struct ts_logs *l)
{
    return atomic_load(&l->sub_gen);
}

int ts_logs_each_stream(struct ts_logs *l, const char *account, const char *region,
                        const char *group, ts_logs_stream_fn fn, void *arg)
{
    return logs_each_stream(l, account, region, group, NULL, fn, arg);
}

int ts_logs_group_partition_prefix(const char *account, const char *region, const char *group,
                                   char *out, size_t out_len)
{
    /* Must agree with ts_logs_partition_name. */
    int n = snprintf(out, out_len, "logs/%s/%s/%s:", account, region, group);
    return n < 0 || (size_t)n >= out_len ? TS_ETOOBIG : 0;
}

int logs_check_role_arn(const char *arn, struct ts_aws_error *err)
{
    /* arn:aws:iam::<12 digits>:role/<path/name> */
    bool ok = arn && ts_str_has_prefix(arn, "arn:aws:iam::") && strlen(arn) <= 2048;
    if (ok) {
        const char *a = arn + 13;
        for (int i = 0; ok && i < TS_AWS_ACCOUNT_ID_LEN; i++) {
            ok = a[i] >= '0' && a[i] <= '9';
        }
        ok = ok && ts_str_has_prefix(a + TS_AWS_ACCOUNT_ID_LEN, ":role/") &&
             a[TS_AWS_ACCOUNT_ID_LEN + 6] != '\0';
    }
    if (!ok) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Invalid roleArn '%.300s': expected an IAM role ARN "
                           "(arn:aws:iam::<account>:role/<name>).",
                           arn ? arn : "");
    }
    return 0;
}

int logs_parse_stream_arn(const char *arn, char region[32], char account[16])
{
    /* arn:aws:kinesis:<region>:<account>:stream/<name> */
    if (!arn || !ts_str_has_prefix(arn, "arn:aws:kinesis:")) {
        return TS_EINVAL;
    }
    const char *r = arn + 16;
    const char *c1 = strchr(r, ':');
    if (!c1 || c1 == r || (size_t)(c1 - r) >= 32) {
        return TS_EINVAL;
    }
    const char *a = c1 + 1;
    const char *c2 = strchr(a, ':');
    if (!c2 || c2 - a != TS_AWS_ACCOUNT_ID_LEN || !ts_str_has_prefix(c2 + 1, "stream/") ||
        !c2[8] || strchr(c2 + 8, ':') || strchr(c2 + 8, '/')) {
        return TS_EINVAL;
    }
    for (const char *p = a; p < c2; p++) {
        if (*p < '0' || *p > '9') {
            return TS_EINVAL;
        }
    }
    memcpy(region, r, (size_t)(c1 - r));
    region[c1 - r] = '\0';
    memcpy(account, a, TS_AWS_ACCOUNT_ID_LEN);
    account[TS_AWS_ACCOUNT_ID_LEN] = '\0';
    return 0;
}

int logs_send_control_message(struct ts_logs *l, const char *stream_arn, int64_t now_ms)
{
    /* The shape AWS uses to probe a destination (shared/reference/cloudwatch-logs.md §5);
     * consumers recognise and skip it by messageType. */
    struct ts_buf json, gz;
    ts_buf_init(&json, 4096);
    ts_buf_init(&gz, 4096);
    int rc = ts_buf_addf(&json,
                         "{\"messageType\":\"CONTROL_MESSAGE\",\"owner\":\"CloudwatchLogs\","
                         "\"logGroup\":\"\",\"logStream\":\"\",\"subscriptionFilters\":[],"
                         "\"logEvents\":[{\"id\":\"\",\"timestamp\":%lld,\"message\":"
                         "\"CWL CONTROL MESSAGE: Checking health of destination Kinesis "
                         "stream.\"}]}",
                         (long long)now_ms);
    if (!rc) {
        rc = ts_gzip_compress(NULL, json.data, json.len, &gz);
    }
    if (!rc) {
        char key[37];
        ts_uuid4(key);
        rc = l->targets.put(l->targets.ctx, stream_arn, key, gz.data, gz.len);
    }
    ts_buf_free(&json);
    ts_buf_free(&gz);
    return rc;
}

static int need_targets(struct ts_logs *l, struct ts_aws_error *err)
{
    if (!l->targets.put || !l->targets.stream_exists) {
        return ts_aws_fail(err, "InvalidOperationException",
                           "Subscriptions are not available: no target service is configured.");
    }
    return 0;
}

static void filter_key(const char *region, const char *group, const char *name,
                       char out[LOGS_KEY_MAX])
{
    snprintf(out, LOGS_KEY_MAX, "%s:%s:%s", region, group, name);
}

static int check_filter_name(const char *name, struct ts_aws_error *err)
{
    size_t n = strlen(name);
    if (n < 1 || n > 512 || strpbrk(name, ":*")) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.600s' at 'filterName' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [^:*]*",
                           name);
    }
    return 0;
}

/* The document as DescribeSubscriptionFilters shows it. */
static cJSON *filter_view(const cJSON *doc)
{
    cJSON *v = cJSON_Duplicate(doc, 1);
    if (v) {
        cJSON_DeleteItemFromObjectCaseSensitive(v, "subscriptionId");
        cJSON_DeleteItemFromObjectCaseSensitive(v, "creatorAccount");
        cJSON_DeleteItemFromObjectCaseSensitive(v, "creatorArn");
    }
    return v;
}

/* ------------------------------------------------------------------ PutSubscriptionFilter */

struct put_filter {
    struct ts_logs *l;
    const char *account;
    char key[LOGS_KEY_MAX];
    char prefix[LOGS_KEY_MAX]; /* "<region>:<group>:" */
    cJSON *doc;                /* the new document */
    bool created;
    int count;
    struct ts_aws_error *err;
    bool limit_hit;
};

static int count_filters(void *arg, const char *account, const char *key, const char *json)
{
    struct put_filter *pf = arg;
    TS_UNUSED(account);
    if (strcmp(key, pf->key) == 0) {
        /* An update keeps the filter's identity, so its delivery cursors carry on. */
        cJSON *old = cJSON_Parse(json);
        const char *keep[] = {"subscriptionId", "creationTime"};
        for (size_t i = 0; old && i < TS_ARRAY_LEN(keep); i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(old, keep[i]);
            if (v) {
                cJSON_DeleteItemFromObjectCaseSensitive(pf->doc, keep[i]);
                cJSON_AddItemToObject(pf->doc, keep[i], v);
            }
        }
        cJSON_Delete(old);
        pf->created = false;
    }
    pf->count++;
    return 0;
}

static int put_filter_txn(struct ts_meta *m, void *arg)
{
    struct put_filter *pf = arg;
    pf->count = 0;
    pf->created = true;
    int rc = ts_meta_list(m, "subscription_filter", pf->account, pf->prefix, count_filters, pf);
    if (rc) {
        return rc;
    }
    if (pf->created && pf->count >= LOGS_MAX_SUBSCRIPTION_FILTERS) {
        pf->limit_hit = true;
        return TS_ETOOBIG;
    }
    char *text = cJSON_PrintUnformatted(pf->doc);
    if (!text) {
        return TS_ENOMEM;
    }
    rc = ts_meta_put(m, "subscription_filter", pf->account, pf->key, text);
    cJSON_free(text);
    return rc;
}

/* Resolves destinationArn: checks vendor, roleArn rules, the destination's policy and that the
 * target stream exists. Fills target_arn. */
static int resolve_destination(struct ts_logs *l, struct ts_aws_req *req, const char *dest,
                               const char *role, char *target_arn, size_t target_len,
                               struct ts_aws_error *err)
{
    char region[32], account[16];
    if (ts_str_has_prefix(dest, "arn:aws:kinesis:")) {
        if (!role) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "destinationArn for vendor kinesis cannot be used without "
                               "roleArn");
        }
        if (logs_parse_stream_arn(dest, region, account) != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Invalid destinationArn '%.300s'.", dest);
        }
        if (strcmp(account, req->caller.account) != 0 || strcmp(region, req->region) != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "The Kinesis stream must be in the log group's account and "
                               "region; deliver to another account through a destination.");
        }
        if (!l->targets.stream_exists(l->targets.ctx, dest)) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Could not deliver test message to specified Kinesis stream. "
                               "Check if the given kinesis stream is in ACTIVE state.");
        }
        ts_strlcpy(target_arn, dest, target_len);
        return 0;
    }
    if (ts_str_has_prefix(dest, "arn:aws:logs:")) {
        if (role) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "destinationArn for vendor logs cannot be used with roleArn");
        }
        cJSON *doc = NULL;
        int rc = logs_load_destination(l, dest, account, region, &doc);
        if (rc == TS_EINVAL) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Invalid destinationArn '%.300s'.", dest);
        }
        if (rc == TS_ENOTFOUND || (!rc && strcmp(region, req->region) != 0)) {
            cJSON_Delete(doc);
            return ts_aws_fail(err, "ResourceNotFoundException",
                               "The specified destination does not exist.");
        }
        if (rc) {
            return logs_storage_error(err, rc);
        }
        if (!logs_destination_allows(doc, account, dest, req->caller.account, req->caller.arn)) {
            cJSON_Delete(doc);
            return ts_aws_fail(err, "AccessDeniedException",
                               "User with accountId: %s is not authorized to perform: "
                               "logs:PutSubscriptionFilter on resource: %.400s",
                               req->caller.account, dest);
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "targetArn");
        bool ok = cJSON_IsString(t) && l->targets.stream_exists(l->targets.ctx, t->valuestring);
        if (ok) {
            ts_strlcpy(target_arn, t->valuestring, target_len);
        }
        cJSON_Delete(doc);
        if (!ok) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Could not deliver test message to specified destination. Check "
                               "if the destination is valid.");
        }
        return 0;
    }
    const char *vendor = ts_str_has_prefix(dest, "arn:aws:firehose:") ? "firehose"
                         : ts_str_has_prefix(dest, "arn:aws:lambda:") ? "lambda"
                                                                      : NULL;
    if (vendor) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "destinationArn for vendor %s is not supported: subscribe a Kinesis "
                           "stream or a Logs destination.",
                           vendor);
    }
    return ts_aws_fail(err, "InvalidParameterException", "Invalid destinationArn '%.300s'.",
                       dest);
}

int logs_op_put_subscription_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *name = NULL, *pattern = NULL, *dest = NULL, *role = NULL, *dist = NULL;
    const char *fields = NULL;
    bool transformed = false;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || (rc = logs_opt_string(req->input, "filterName", &name, err)) < 0 ||
        (rc = logs_opt_string(req->input, "filterPattern", &pattern, err)) < 0 ||
        (rc = logs_opt_string(req->input, "destinationArn", &dest, err)) < 0 ||
        (rc = logs_opt_string(req->input, "roleArn", &role, err)) < 0 ||
        (rc = logs_opt_string(req->input, "distribution", &dist, err)) < 0 ||
        (rc = logs_opt_string(req->input, "fieldSelectionCriteria", &fields, err)) < 0 ||
        (rc = logs_opt_bool(req->input, "applyOnTransformedLogs", &transformed, err)) < 0) {
        return rc ? rc : TS_EINVAL;
    }
    const cJSON *emit = cJSON_GetObjectItemCaseSensitive(req->input, "emitSystemFields");
    if (emit && !cJSON_IsNull(emit) && !cJSON_IsArray(emit)) {
        return ts_aws_fail(err, "SerializationException", "emitSystemFields must be a list.");
    }
    if (check_filter_name(name, err) || need_targets(l, err)) {
        return TS_EINVAL;
    }
    if (strlen(pattern) > TS_PATTERN_MAX_LEN) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'filterPattern' failed to "
                           "satisfy constraint: Member must have length less than or equal to "
                           "1024");
    }
    if (dist && strcmp(dist, "ByLogStream") != 0 && strcmp(dist, "Random") != 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.100s' at 'distribution' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           "[Random, ByLogStream]",
                           dist);
    }
    if (!dest[0]) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '' at 'destinationArn' failed to "
                           "satisfy constraint: Member must have length greater than or equal "
                           "to 1");
    }
    if (role && logs_check_role_arn(role, err)) {
        return TS_EINVAL;
    }
    char perr[TS_PATTERN_ERR_LEN];
    struct ts_pattern *compiled = NULL;
    rc = ts_pattern_compile(pattern, strlen(pattern), &compiled, perr, sizeof(perr));
    ts_pattern_destroy(compiled);
    if (rc == TS_ENOMEM) {
        return logs_storage_error(err, rc);
    }
    if (rc) {
        return ts_aws_fail(err, "InvalidParameterException", "%s", perr);
    }
    cJSON *gdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    char target[TS_AWS_ARN_MAX + 600];
    if ((rc = resolve_destination(l, req, dest, role, target, sizeof(target), err)) != 0) {
        return rc;
    }

    char sid[33];
    uint8_t rnd[16];
    if (ts_random(rnd, sizeof(rnd)) != 0) {
        return logs_storage_error(err, TS_EIO);
    }
    ts_hex(rnd, sizeof(rnd), sid);
    struct put_filter pf;
    memset(&pf, 0, sizeof(pf));
    pf.l = l;
    pf.account = req->caller.account;
    pf.err = err;
    filter_key(req->region, group, name, pf.key);
    snprintf(pf.prefix, sizeof(pf.prefix), "%s:%s:", req->region, group);
    cJSON *doc = pf.doc = cJSON_CreateObject();
    bool ok = doc && cJSON_AddStringToObject(doc, "filterName", name) &&
              cJSON_AddStringToObject(doc, "logGroupName", group) &&
              cJSON_AddStringToObject(doc, "filterPattern", pattern) &&
              cJSON_AddStringToObject(doc, "destinationArn", dest) &&
              (!role || cJSON_AddStringToObject(doc, "roleArn", role)) &&
              cJSON_AddStringToObject(doc, "distribution", dist ? dist : "ByLogStream") &&
              cJSON_AddBoolToObject(doc, "applyOnTransformedLogs", transformed) &&
              (!fields || cJSON_AddStringToObject(doc, "fieldSelectionCriteria", fields)) &&
              (!cJSON_IsArray(emit) ||
               cJSON_AddItemToObject(doc, "emitSystemFields", cJSON_Duplicate(emit, 1))) &&
              cJSON_AddNumberToObject(doc, "creationTime", (double)req->now_ms) &&
              cJSON_AddStringToObject(doc, "subscriptionId", sid) &&
              cJSON_AddStringToObject(doc, "creatorAccount", req->caller.account) &&
              cJSON_AddStringToObject(doc, "creatorArn", req->caller.arn);
    if (!ok) {
        cJSON_Delete(doc);
        return logs_storage_error(err, TS_ENOMEM);
    }
    /* Count and write in one transaction so that two concurrent creations cannot both pass
     * the limit of two filters per group. */
    rc = ts_meta_txn(l->ctx.meta, put_filter_txn, &pf);
    if (pf.limit_hit) {
        rc = ts_aws_fail(err, "LimitExceededException", "Resource limit exceeded.");
    } else if (rc) {
        rc = logs_storage_error(err, rc);
    } else if (pf.created && logs_send_control_message(l, target, req->now_ms) != 0) {
        /* The destination was checked a moment ago; if the probe still fails, the filter
         * is withdrawn so that the caller sees the failure AWS reports. */
        ts_meta_delete(l->ctx.meta, "subscription_filter", req->caller.account, pf.key);
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "Could not deliver test message to specified destination. Check if "
                         "the destination is valid.");
    }
    cJSON_Delete(doc);
    if (!rc) {
        logs_subscriptions_changed(l);
    }
    TS_UNUSED(resp);
    return rc;
}

/* ------------------------------------------------------------------ Describe / Delete */

int logs_op_describe_subscription_filters(void *c, struct ts_aws_req *req,
                                          struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *prefix = NULL, *token = NULL;
    int64_t limit = 50;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || logs_opt_string(req->input, "filterNamePrefix", &prefix, err) < 0 ||
        logs_opt_string(req->input, "nextToken", &token, err) < 0 ||
        logs_opt_int(req->input, "limit", &limit, err) < 0) {
        return TS_EINVAL;
    }
    if (limit < 1 || limit > 50) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 50",
                           (long long)limit);
    }
    if (prefix && check_filter_name(prefix, err)) {
        return TS_EINVAL;
    }
    cJSON *gdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    char scope[LOGS_KEY_MAX + 8];
    snprintf(scope, sizeof(scope), "%s|%s", group, prefix ? prefix : "");
    char key_prefix[LOGS_KEY_MAX];
    filter_key(req->region, group, prefix ? prefix : "", key_prefix);
    return logs_describe_page(l, req, resp, "subscription_filter", key_prefix, "sfilters", scope,
                              token, limit, filter_view, "subscriptionFilters", err);
}

struct drain_move {
    const char *account;
    const char *request_id;
    int64_t now_ms;
    char key[LOGS_KEY_MAX];
};

/* Moves an active filter document to its draining key. One transaction: after a crash the
 * filter is either still active (the call was not answered) or draining, never both and never
 * lost. */
static int drain_move_txn(struct ts_meta *m, void *arg)
{
    struct drain_move *dm = arg;
    struct ts_buf b;
    ts_buf_init(&b, 1 << 20);
    int rc = ts_meta_get(m, "subscription_filter", dm->account, dm->key, &b);
    cJSON *doc = rc ? NULL : cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    if (rc) {
        return rc;
    }
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(doc, "subscriptionId");
    char *text = NULL;
    char dkey[LOGS_KEY_MAX + 64];
    bool ok = cJSON_IsString(sid) &&
              cJSON_AddNumberToObject(doc, "deleteTime", (double)dm->now_ms) &&
              cJSON_AddStringToObject(doc, "deleteRequestId", dm->request_id) &&
              (text = cJSON_PrintUnformatted(doc)) != NULL;
    if (ok) {
        snprintf(dkey, sizeof(dkey), DRAIN_PREFIX "%s|%s", dm->key, sid->valuestring);
    }
    cJSON_Delete(doc);
    rc = ts_meta_delete(m, "subscription_filter", dm->account, dm->key);
    if (!rc && ok) {
        /* A document without an id (not written by this version) is simply removed. */
        rc = ts_meta_put(m, "subscription_filter", dm->account, dkey, text);
    }
    cJSON_free(text);
    return rc;
}

int ts_logs_subscription_drained(struct ts_logs *l, const char *account, const char *drain_key)
{
    if (!ts_str_has_prefix(drain_key, DRAIN_PREFIX)) {
        return TS_EINVAL;
    }
    int rc = ts_meta_delete(l->ctx.meta, "subscription_filter", account, drain_key);
    return rc == TS_ENOTFOUND ? 0 : rc;
}

int logs_op_delete_subscription_filter(void *c, struct ts_aws_req *req,
                                       struct ts_aws_resp *resp, struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *name = NULL;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || (rc = logs_opt_string(req->input, "filterName", &name, err)) < 0 ||
        check_filter_name(name, err)) {
        return rc ? rc : TS_EINVAL;
    }
    cJSON *gdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    struct drain_move dm;
    memset(&dm, 0, sizeof(dm));
    dm.account = req->caller.account;
    dm.request_id = req->request_id;
    dm.now_ms = req->now_ms;
    filter_key(req->region, group, name, dm.key);
    /* The filter leaves the API at once but keeps delivering until its deletion record went
     * out (the dispatcher is woken now and sees it as draining). */
    rc = ts_meta_txn(l->ctx.meta, drain_move_txn, &dm);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified subscription filter does not exist.");
    }
    if (rc) {
        return logs_storage_error(err, rc);
    }
    logs_subscriptions_changed(l);
    TS_UNUSED(resp);
    return 0;
}

struct key_list {
    char (*keys)[LOGS_KEY_MAX + 64];
    size_t n, cap;
};

static int collect_key(void *arg, const char *account, const char *key, const char *json)
{
    struct key_list *kl = arg;
    TS_UNUSED(account);
    TS_UNUSED(json);
    if (kl->n == kl->cap) {
        size_t cap = kl->cap ? kl->cap * 2 : 4;
        void *grown = ts_realloc(kl->keys, cap * sizeof(*kl->keys));
        if (!grown) {
            return TS_ENOMEM;
        }
        kl->keys = grown;
        kl->cap = cap;
    }
    ts_strlcpy(kl->keys[kl->n++], key, sizeof(kl->keys[0]));
    return 0;
}

int logs_delete_group_subscriptions(struct ts_logs *l, const char *account, const char *region,
                                    const char *group)
{
    char prefix[LOGS_KEY_MAX];
    snprintf(prefix, sizeof(prefix), "%s:%s:", region, group);
    char dprefix[LOGS_KEY_MAX + 64];
    snprintf(dprefix, sizeof(dprefix), DRAIN_PREFIX "%s", prefix);
    struct key_list kl = {NULL, 0, 0};
    /* Draining filters go too: the group's streams are gone, nothing is left to drain. */
    int rc = ts_meta_list(l->ctx.meta, "subscription_filter", account, prefix, collect_key, &kl);
    if (!rc) {
        rc = ts_meta_list(l->ctx.meta, "subscription_filter", account, dprefix, collect_key,
                          &kl);
    }
    for (size_t i = 0; !rc && i < kl.n; i++) {
        rc = ts_meta_delete(l->ctx.meta, "subscription_filter", account, kl.keys[i]);
        rc = rc == TS_ENOTFOUND ? 0 : rc;
    }
    if (kl.n) {
        logs_subscriptions_changed(l);
    }
    ts_free(kl.keys);
    return rc;
}

/* ------------------------------------------------------------------ delivery view */

struct doc_item {
    char account[16];
    char region[32];
    char *json;
    char *key;
};

struct doc_list {
    struct doc_item *items;
    size_t n, cap;
};

static int collect_doc(void *arg, const char *account, const char *key, const char *json)
{
    struct doc_list *dl = arg;
    if (dl->n == dl->cap) {
        size_t cap = dl->cap ? dl->cap * 2 : 8;
        void *grown = ts_realloc(dl->items, cap * sizeof(*dl->items));
        if (!grown) {
            return TS_ENOMEM;
        }
        dl->items = grown;
        dl->cap = cap;
    }
    struct doc_item *it = &dl->items[dl->n];
    ts_strlcpy(it->account, account, sizeof(it->account));
    /* key = "[~drain:]<region>:<group>:<filterName>[|<id>]" */
    const char *r = ts_str_has_prefix(key, DRAIN_PREFIX) ? key + strlen(DRAIN_PREFIX) : key;
    size_t rlen = strcspn(r, ":");
    snprintf(it->region, sizeof(it->region), "%.*s", (int)TS_MIN(rlen, 31), r);
    it->json = ts_strdup(json);
    it->key = ts_strdup(key);
    if (!it->json || !it->key) {
        ts_free(it->json);
        ts_free(it->key);
        return TS_ENOMEM;
    }
    dl->n++;
    return 0;
}

static const char *str_of(const cJSON *doc, const char *member)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, member);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Resolves one filter document and calls fn. */
static int visit_filter(struct ts_logs *l, const char *account, const char *fregion,
                        const char *key, const cJSON *doc, ts_logs_subscription_fn fn,
                        void *arg)
{
    struct ts_logs_subscription s;
    memset(&s, 0, sizeof(s));
    s.account = account;
    s.region = fregion;
    s.group = str_of(doc, "logGroupName");
    s.filter_name = str_of(doc, "filterName");
    s.filter_pattern = str_of(doc, "filterPattern");
    s.destination_arn = str_of(doc, "destinationArn");
    s.id = str_of(doc, "subscriptionId");
    const char *dist = str_of(doc, "distribution");
    s.random = dist && strcmp(dist, "Random") == 0;
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(doc, "creationTime");
    s.creation_ms = cJSON_IsNumber(ct) ? (int64_t)ct->valuedouble : 0;
    if (ts_str_has_prefix(key, DRAIN_PREFIX)) {
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(doc, "deleteTime");
        s.drain_key = key;
        s.delete_ms = cJSON_IsNumber(dt) ? (int64_t)dt->valuedouble : 0;
        s.delete_request_id = str_of(doc, "deleteRequestId");
    }
    if (!s.group || !s.filter_name || !s.filter_pattern || !s.destination_arn || !s.id) {
        return 0; /* not a document this version wrote: skip it */
    }
    char region[32], owner[16];
    char target[TS_AWS_ARN_MAX + 600] = "";
    cJSON *ddoc = NULL;
    if (ts_str_has_prefix(s.destination_arn, "arn:aws:kinesis:")) {
        ts_strlcpy(target, s.destination_arn, sizeof(target));
    } else {
        int rc = logs_load_destination(l, s.destination_arn, owner, region, &ddoc);
        const char *creator = str_of(doc, "creatorArn");
        const char *creator_acct = str_of(doc, "creatorAccount");
        if (rc == TS_ENOTFOUND || rc == TS_EINVAL) {
            s.disabled = "the destination no longer exists";
        } else if (rc) {
            return rc;
        } else if (!logs_destination_allows(ddoc, owner, s.destination_arn,
                                            creator_acct ? creator_acct : account, creator)) {
            s.disabled = "the destination's access policy no longer allows the account";
        } else if (str_of(ddoc, "targetArn")) {
            ts_strlcpy(target, str_of(ddoc, "targetArn"), sizeof(target));
        } else {
            s.disabled = "the destination has no target";
        }
    }
    s.target_arn = target;
    int rc = fn(arg, &s);
    cJSON_Delete(ddoc);
    return rc;
}

int ts_logs_each_subscription(struct ts_logs *l, ts_logs_subscription_fn fn, void *arg)
{
    /* Collected first: resolving destinations reads the metadata store again, and a listing
     * holds the connection. */
    struct doc_list dl = {NULL, 0, 0};
    int rc = l->ctx.accounts ? 0 : TS_EINVAL;
    for (size_t i = 0; !rc && i < ts_aws_accounts_count(l->ctx.accounts); i++) {
        rc = ts_meta_list(l->ctx.meta, "subscription_filter",
                          ts_aws_accounts_id_at(l->ctx.accounts, i), NULL, collect_doc, &dl);
    }
    for (size_t i = 0; !rc && i < dl.n; i++) {
        cJSON *doc = cJSON_Parse(dl.items[i].json);
        if (doc) {
            rc = visit_filter(l, dl.items[i].account, dl.items[i].region, dl.items[i].key, doc,
                              fn, arg);
            cJSON_Delete(doc);
        }
    }
    for (size_t i = 0; i < dl.n; i++) {
        ts_free(dl.items[i].json);
        ts_free(dl.items[i].key);
    }
    ts_free(dl.items);
    return rc;
}
