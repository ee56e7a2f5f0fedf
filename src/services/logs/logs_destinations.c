/*
 * logs_destinations.c - Logs destinations: the receiving account's named, policy-guarded
 * entry point to one of its Kinesis streams (PutDestination, PutDestinationPolicy,
 * DescribeDestinations, DeleteDestination).
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutDestination.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CreateDestination.html
 *
 * A destination is a metadata document of kind "destination", key "<region>:<name>", holding
 * {destinationName, targetArn, roleArn, accessPolicy?, arn, creationTime}.
 */
#include <stdio.h>
#include <string.h>

#include "logs_int.h"

#define DEST_POLICY_MAX 5120 /* bytes of accessPolicy (AWS) */

static void dest_key(const char *region, const char *name, char out[LOGS_KEY_MAX])
{
    snprintf(out, LOGS_KEY_MAX, "%s:%s", region, name);
}

static int check_dest_name(const char *name, struct ts_aws_error *err)
{
    size_t n = strlen(name);
    if (n < 1 || n > 512 || strpbrk(name, ":*")) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.600s' at 'destinationName' "
                           "failed to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [^:*]*",
                           name);
    }
    return 0;
}

static int need_targets(struct ts_logs *l, struct ts_aws_error *err)
{
    if (!l->targets.put || !l->targets.stream_exists) {
        return ts_aws_fail(err, "InvalidOperationException",
                           "Subscriptions are not available: no target service is configured.");
    }
    return 0;
}

static int load_dest_doc(struct ts_logs *l, const char *account, const char *key, cJSON **doc)
{
    struct ts_buf b;
    ts_buf_init(&b, LOGS_DOC_MAX);
    int rc = ts_meta_get(l->ctx.meta, "destination", account, key, &b);
    if (!rc) {
        *doc = cJSON_ParseWithLength(b.data, b.len);
        rc = *doc ? 0 : TS_ECORRUPT;
    }
    ts_buf_free(&b);
    return rc;
}

int logs_load_destination(struct ts_logs *l, const char *arn, char owner[16], char region[32],
                          cJSON **doc)
{
    /* arn:aws:logs:<region>:<account>:destination:<name> */
    const char *p = arn;
    const char *parts[6];
    for (int i = 0; i < 6; i++) {
        parts[i] = p;
        p = strchr(p, ':');
        if (!p) {
            return TS_EINVAL;
        }
        p++;
    }
    size_t rlen = (size_t)(parts[4] - parts[3] - 1), alen = (size_t)(parts[5] - parts[4] - 1);
    if (strncmp(arn, "arn:aws:logs:", 13) != 0 || strncmp(parts[5], "destination:", 12) != 0 ||
        rlen == 0 || rlen >= 32 || alen != TS_AWS_ACCOUNT_ID_LEN || !parts[5][12]) {
        return TS_EINVAL;
    }
    memcpy(region, parts[3], rlen);
    region[rlen] = '\0';
    memcpy(owner, parts[4], alen);
    owner[alen] = '\0';
    const char *name = parts[5] + 12;
    if (strlen(name) > 512 || strpbrk(name, ":*")) {
        return TS_EINVAL;
    }
    char key[LOGS_KEY_MAX];
    dest_key(region, name, key);
    return load_dest_doc(l, owner, key, doc);
}

bool logs_destination_allows(const cJSON *doc, const char *owner, const char *dest_arn,
                             const char *account, const char *caller_arn)
{
    if (strcmp(owner, account) == 0) {
        return true; /* the owner may always subscribe its own log groups */
    }
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(doc, "accessPolicy");
    if (!cJSON_IsString(pol)) {
        return false; /* no policy: every other account is refused */
    }
    struct ts_policy *p = NULL;
    if (ts_policy_parse(pol->valuestring, strlen(pol->valuestring), &p, NULL, 0) != 0) {
        return false;
    }
    enum ts_policy_decision d =
        ts_policy_evaluate(p, account, caller_arn, "logs:PutSubscriptionFilter", dest_arn);
    ts_policy_destroy(p);
    return d == TS_POLICY_ALLOW;
}

/* The destination as the API shows it (internal members are never stored, so a copy). */
static cJSON *dest_view(const cJSON *doc)
{
    return cJSON_Duplicate(doc, 1);
}

/* ------------------------------------------------------------------ PutDestination */

int logs_op_put_destination(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                            struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *name = NULL, *target = NULL, *role = NULL;
    int rc;
    if ((rc = logs_opt_string(req->input, "destinationName", &name, err)) < 0 ||
        (rc = logs_opt_string(req->input, "targetArn", &target, err)) < 0 ||
        (rc = logs_opt_string(req->input, "roleArn", &role, err)) < 0) {
        return rc;
    }
    if (check_dest_name(name, err) || need_targets(l, err) || logs_check_role_arn(role, err)) {
        return TS_EINVAL;
    }
    char t_region[32], t_account[16];
    if (logs_parse_stream_arn(target, t_region, t_account) != 0) {
        if (ts_str_has_prefix(target, "arn:aws:firehose:")) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "targetArn for vendor firehose is not supported: destinations "
                               "deliver to Kinesis streams.");
        }
        return ts_aws_fail(err, "InvalidParameterException",
                           "Invalid targetArn '%.300s': expected "
                           "arn:aws:kinesis:<region>:<account>:stream/<name>.",
                           target);
    }
    if (strcmp(t_account, req->caller.account) != 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "The target stream %.300s must belong to the destination's account "
                           "%s.",
                           target, req->caller.account);
    }
    if (!l->targets.stream_exists(l->targets.ctx, target)) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Could not deliver test message to specified Kinesis stream. Check "
                           "if the given kinesis stream is in ACTIVE state.");
    }
    char key[LOGS_KEY_MAX], arn[TS_AWS_ARN_MAX + 600];
    dest_key(req->region, name, key);
    snprintf(arn, sizeof(arn), "arn:aws:logs:%s:%s:destination:%s", req->region,
             req->caller.account, name);
    cJSON *doc = NULL;
    rc = load_dest_doc(l, req->caller.account, key, &doc);
    bool created = rc == TS_ENOTFOUND;
    if (rc && !created) {
        return logs_storage_error(err, rc);
    }
    if (created) {
        /* AWS checks a new destination by sending the control message to its target. */
        if (logs_send_control_message(l, target, req->now_ms) != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Could not deliver test message to specified Kinesis stream. "
                               "Check if the given kinesis stream is in ACTIVE state.");
        }
        doc = cJSON_CreateObject();
        if (!doc || !cJSON_AddStringToObject(doc, "destinationName", name) ||
            !cJSON_AddNumberToObject(doc, "creationTime", (double)req->now_ms)) {
            cJSON_Delete(doc);
            return logs_storage_error(err, TS_ENOMEM);
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "targetArn");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "roleArn");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "arn");
    if (!cJSON_AddStringToObject(doc, "targetArn", target) ||
        !cJSON_AddStringToObject(doc, "roleArn", role) ||
        !cJSON_AddStringToObject(doc, "arn", arn)) {
        cJSON_Delete(doc);
        return logs_storage_error(err, TS_ENOMEM);
    }
    rc = logs_put_doc(l, "destination", req->caller.account, key, doc, false, err);
    if (!rc) {
        logs_subscriptions_changed(l);
        resp->output = cJSON_CreateObject();
        cJSON *view = dest_view(doc);
        if (!resp->output || !view) {
            cJSON_Delete(view);
            rc = logs_storage_error(err, TS_ENOMEM);
        } else {
            cJSON_AddItemToObject(resp->output, "destination", view);
        }
    }
    cJSON_Delete(doc);
    return rc;
}

/* ------------------------------------------------------------------ PutDestinationPolicy */

int logs_op_put_destination_policy(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                   struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *name = NULL, *policy = NULL;
    bool force = false;
    int rc;
    if ((rc = logs_opt_string(req->input, "destinationName", &name, err)) < 0 ||
        (rc = logs_opt_string(req->input, "accessPolicy", &policy, err)) < 0 ||
        (rc = logs_opt_bool(req->input, "forceUpdate", &force, err)) < 0) {
        return rc;
    }
    if (check_dest_name(name, err)) {
        return TS_EINVAL;
    }
    size_t plen = strlen(policy);
    if (plen < 1 || plen > DEST_POLICY_MAX) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'accessPolicy' failed to "
                           "satisfy constraint: Member must have length between 1 and %d",
                           DEST_POLICY_MAX);
    }
    char perr[TS_POLICY_ERR_LEN];
    struct ts_policy *p = NULL;
    rc = ts_policy_parse(policy, plen, &p, perr, sizeof(perr));
    ts_policy_destroy(p);
    if (rc == TS_ENOMEM) {
        return logs_storage_error(err, rc);
    }
    if (rc) {
        return ts_aws_fail(err, "InvalidParameterException", "Invalid access policy: %s", perr);
    }
    char key[LOGS_KEY_MAX];
    dest_key(req->region, name, key);
    cJSON *doc = NULL;
    rc = load_dest_doc(l, req->caller.account, key, &doc);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified destination does not exist.");
    }
    if (rc) {
        return logs_storage_error(err, rc);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "accessPolicy");
    if (!cJSON_AddStringToObject(doc, "accessPolicy", policy)) {
        rc = logs_storage_error(err, TS_ENOMEM);
    } else {
        rc = logs_put_doc(l, "destination", req->caller.account, key, doc, false, err);
    }
    cJSON_Delete(doc);
    if (!rc) {
        logs_subscriptions_changed(l);
    }
    TS_UNUSED(resp);
    return rc;
}

/* ------------------------------------------------------------------ Describe / Delete */

int logs_op_describe_destinations(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                  struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *prefix = NULL, *token = NULL;
    int64_t limit = 50;
    if (logs_opt_string(req->input, "DestinationNamePrefix", &prefix, err) < 0 ||
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
    if (prefix && (strlen(prefix) > 512 || strpbrk(prefix, ":*"))) {
        return check_dest_name(prefix, err);
    }
    char key_prefix[LOGS_KEY_MAX];
    snprintf(key_prefix, sizeof(key_prefix), "%s:%s", req->region, prefix ? prefix : "");
    return logs_describe_page(l, req, resp, "destination", key_prefix, "destinations",
                              prefix ? prefix : "", token, limit, NULL, "destinations", err);
}

int logs_op_delete_destination(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                               struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *name = NULL;
    int rc = logs_opt_string(req->input, "destinationName", &name, err);
    if (rc < 0 || check_dest_name(name, err)) {
        return TS_EINVAL;
    }
    char key[LOGS_KEY_MAX];
    dest_key(req->region, name, key);
    /* The target stream is left alone (AWS); filters that point here pause delivery (their
     * events wait) until a destination of the same name exists again. */
    rc = ts_meta_delete(l->ctx.meta, "destination", req->caller.account, key);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified destination does not exist.");
    }
    if (rc) {
        return logs_storage_error(err, rc);
    }
    logs_subscriptions_changed(l);
    TS_UNUSED(resp);
    return 0;
}
