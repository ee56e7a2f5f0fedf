/*
 * ct_trails.c - the trail API: CreateTrail, UpdateTrail, DeleteTrail, DescribeTrails, GetTrail,
 * ListTrails, GetTrailStatus, StartLogging, StopLogging, PutEventSelectors, GetEventSelectors.
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
 *
 * A trail is a ts_meta "trail" document of its owner, key "<home region>/<name>", holding the
 * public Trail members plus private "_" members (logging state, selectors, id). An index
 * document per trail in the pseudo-account "*" (key "<owner>/<region>/<name>") lets the
 * trail writer find every trail. A deleted trail that was logging leaves a tombstone
 * ("~deleted/<id>") until the writer has delivered its DeleteTrail record.
 */
#include <stdio.h>
#include <string.h>

#include "ct_int.h"

/* ------------------------------------------------------------------ names and documents */

static bool valid_trail_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 128) {
        return false;
    }
    int dots = 0;
    bool all_digits_dots = true;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool punct = c == '.' || c == '_' || c == '-';
        if (!alnum && !punct) {
            return false;
        }
        if (punct && (i == 0 || i == len - 1)) {
            return false;
        }
        if (punct && i > 0 && (n[i - 1] == '.' || n[i - 1] == '_' || n[i - 1] == '-')) {
            return false;
        }
        dots += c == '.';
        if (!(c == '.' || (c >= '0' && c <= '9'))) {
            all_digits_dots = false;
        }
    }
    return !(all_digits_dots && dots == 3); /* not IP-address-like */
}

/* Resolves a Name parameter (name or trail ARN) into the trail's home region and name. */
static int trail_ref(const struct ts_aws_req *req, const char *member, char region[32],
                     char name[130], struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->input, member);
    if (!cJSON_IsString(v)) {
        return ts_aws_fail(err, "InvalidTrailNameException", "Trail name must be a string.");
    }
    const char *s = v->valuestring;
    if (ts_str_has_prefix(s, "arn:")) {
        /* arn:aws:cloudtrail:<region>:<account>:trail/<name> */
        char acct[16] = "";
        const char *p = s;
        const char *f[6];
        int nf = 0;
        for (const char *q = s; *q && nf < 6; q++) {
            if (*q == ':') {
                f[nf++] = q + 1;
            }
        }
        if (nf < 5 || strncmp(s, "arn:aws:cloudtrail:", 19) != 0 ||
            !ts_str_has_prefix(f[4], "trail/")) {
            return ts_aws_fail(err, "CloudTrailARNInvalidException",
                               "Invalid trail ARN: %.300s", s);
        }
        size_t rl = (size_t)(f[3] - f[2] - 1), al = (size_t)(f[4] - f[3] - 1);
        if (rl == 0 || rl >= 32 || al != 12) {
            return ts_aws_fail(err, "CloudTrailARNInvalidException",
                               "Invalid trail ARN: %.300s", s);
        }
        memcpy(region, f[2], rl);
        region[rl] = '\0';
        memcpy(acct, f[3], al);
        acct[al] = '\0';
        p = f[4] + 6;
        if (strcmp(acct, req->caller.account) != 0) {
            return ts_aws_fail(err, "TrailNotFoundException",
                               "Unknown trail: %.300s for the user: %s", s,
                               req->caller.account);
        }
        s = p;
    } else {
        ts_strlcpy(region, req->region, 32);
    }
    if (!valid_trail_name(s)) {
        return ts_aws_fail(err, "InvalidTrailNameException",
                           "Trail name or ARN can only contain uppercase letters, lowercase "
                           "letters, numbers, periods (.), hyphens (-), and underscores (_).");
    }
    ts_strlcpy(name, s, 130);
    return 0;
}

static void trail_key(const char *region, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", region, name);
}

static int storage_error(struct ts_aws_error *err, int rc)
{
    return ts_aws_fail(err, "InternalFailure", "Storage error: %s", ts_strerror(rc));
}

static int load_trail(struct ts_cloudtrail *ct, const struct ts_aws_req *req, const char *member,
                      char region[32], char name[130], cJSON **doc, struct ts_aws_error *err)
{
    int rc = trail_ref(req, member, region, name, err);
    if (rc) {
        return rc;
    }
    char key[CT_KEY_MAX];
    trail_key(region, name, key, sizeof(key));
    struct ts_buf b;
    ts_buf_init(&b, CT_DOC_MAX);
    rc = ts_meta_get(ct->ctx.meta, "trail", req->caller.account, key, &b);
    if (rc == TS_ENOTFOUND) {
        ts_buf_free(&b);
        return ts_aws_fail(err, "TrailNotFoundException",
                           "Unknown trail: arn:aws:cloudtrail:%s:%s:trail/%s for the user: %s",
                           region, req->caller.account, name, req->caller.account);
    }
    if (rc) {
        ts_buf_free(&b);
        return storage_error(err, rc);
    }
    *doc = cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    return *doc ? 0 : storage_error(err, TS_ECORRUPT);
}

/* load_trail of the "Name" member for operations that must run in the trail's home region
 * (UpdateTrail, DeleteTrail, Start/StopLogging): InvalidHomeRegionException elsewhere. */
static int load_home_trail(struct ts_cloudtrail *ct, const struct ts_aws_req *req,
                           char region[32], char name[130], cJSON **doc,
                           struct ts_aws_error *err)
{
    int rc = load_trail(ct, req, "Name", region, name, doc, err);
    if (rc) {
        return rc;
    }
    if (strcmp(region, req->region) != 0) {
        cJSON_Delete(*doc);
        *doc = NULL;
        return ts_aws_fail(err, "InvalidHomeRegionException",
                           "This operation must be called from the trail's home region (%s).",
                           region);
    }
    return 0;
}

static int save_trail(struct ts_cloudtrail *ct, const char *account, const char *key,
                      const cJSON *doc, bool create, struct ts_aws_error *err)
{
    char *text = cJSON_PrintUnformatted(doc);
    if (!text) {
        return storage_error(err, TS_ENOMEM);
    }
    int rc = create ? ts_meta_create(ct->ctx.meta, "trail", account, key, text)
                    : ts_meta_put(ct->ctx.meta, "trail", account, key, text);
    cJSON_free(text);
    if (rc == TS_EEXIST) {
        return rc;
    }
    return rc ? storage_error(err, rc) : 0;
}

/* The public Trail shape: the document without private members (and, for create/update
 * responses, without the members those responses do not have). */
static cJSON *public_trail(const cJSON *doc, bool for_write_response)
{
    cJSON *o = cJSON_CreateObject();
    for (const cJSON *c = doc->child; o && c; c = c->next) {
        if (c->string[0] == '_') {
            continue;
        }
        if (for_write_response &&
            (strcmp(c->string, "HomeRegion") == 0 ||
             strcmp(c->string, "HasCustomEventSelectors") == 0 ||
             strcmp(c->string, "HasInsightSelectors") == 0)) {
            continue;
        }
        cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, true));
    }
    return o;
}

/* Copies the settable members of a Create/UpdateTrail request into doc, validating them. */
static int apply_settings(const struct ts_aws_req *req, cJSON *doc, struct ts_aws_error *err)
{
    static const char *const strings[] = {"S3BucketName", "S3KeyPrefix", "SnsTopicName",
                                          "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn",
                                          "KmsKeyId"};
    static const char *const bools[] = {"IncludeGlobalServiceEvents", "IsMultiRegionTrail",
                                        "EnableLogFileValidation", "IsOrganizationTrail"};
    for (size_t i = 0; i < TS_ARRAY_LEN(strings); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->input, strings[i]);
        if (v && !cJSON_IsString(v)) {
            return ts_aws_fail(err, "InvalidParameterException", "%s must be a string.",
                               strings[i]);
        }
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(doc, strings[i]);
            if (v->valuestring[0]) {
                cJSON_AddStringToObject(doc, strings[i], v->valuestring);
            }
        }
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(bools); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->input, bools[i]);
        if (v && !cJSON_IsBool(v)) {
            return ts_aws_fail(err, "InvalidParameterException", "%s must be a boolean.",
                               bools[i]);
        }
        const char *member = strcmp(bools[i], "EnableLogFileValidation") == 0
                                 ? "LogFileValidationEnabled"
                                 : bools[i];
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(doc, member);
            cJSON_AddBoolToObject(doc, member, cJSON_IsTrue(v));
        }
    }
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(doc, "S3KeyPrefix");
    if (cJSON_IsString(prefix) && strlen(prefix->valuestring) > 200) {
        return ts_aws_fail(err, "InvalidS3PrefixException",
                           "S3 prefix is longer than 200 characters.");
    }
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "CloudWatchLogsLogGroupArn");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(doc, "CloudWatchLogsRoleArn");
    if (g) {
        /* arn:aws:logs:<region>:<account>:log-group:<name>:* in the caller's account */
        char want[64];
        snprintf(want, sizeof(want), ":%s:log-group:", req->caller.account);
        const char *s = g->valuestring;
        size_t len = strlen(s);
        if (!ts_str_has_prefix(s, "arn:aws:logs:") || !strstr(s, want) || len < 3 ||
            strcmp(s + len - 2, ":*") != 0) {
            return ts_aws_fail(err, "InvalidCloudWatchLogsLogGroupArnException",
                               "CloudTrail cannot validate the specified log group ARN.");
        }
        if (!role) {
            return ts_aws_fail(err, "InvalidCloudWatchLogsRoleArnException",
                               "You must specify a role ARN when you specify a log group ARN.");
        }
    }
    if (role && (!ts_str_has_prefix(role->valuestring, "arn:aws:iam::") ||
                 !strstr(role->valuestring, ":role/"))) {
        return ts_aws_fail(err, "InvalidCloudWatchLogsRoleArnException",
                           "The role ARN is not valid: %.300s", role->valuestring);
    }
    if (role && !g) {
        return ts_aws_fail(err, "InvalidCloudWatchLogsLogGroupArnException",
                           "You must specify a log group ARN when you specify a role ARN.");
    }
    return 0;
}

/* Organization-style trails record the calls of member accounts listed in the tag
 * "trailstream:organization-members" (comma-separated 12-digit ids). */
static void apply_members(const struct ts_aws_req *req, cJSON *doc)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "TagsList");
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "Key");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "Value");
        if (cJSON_IsString(k) && cJSON_IsString(v) &&
            strcmp(k->valuestring, "trailstream:organization-members") == 0) {
            cJSON *m = cJSON_CreateArray();
            char buf[1024];
            ts_strlcpy(buf, v->valuestring, sizeof(buf));
            for (char *p = buf; *p;) {
                char *e = strchr(p, ',');
                if (e) {
                    *e = '\0';
                }
                if (strlen(p) == 12) {
                    cJSON_AddItemToArray(m, cJSON_CreateString(p));
                }
                if (!e) {
                    break;
                }
                p = e + 1;
            }
            cJSON_DeleteItemFromObjectCaseSensitive(doc, "_members");
            cJSON_AddItemToObject(doc, "_members", m);
        }
    }
}

static int index_put(struct ts_cloudtrail *ct, const char *owner, const char *key, bool add)
{
    char ikey[CT_KEY_MAX];
    int n = snprintf(ikey, sizeof(ikey), "%s/%s", owner, key);
    if (n < 0 || (size_t)n >= sizeof(ikey)) {
        return TS_ETOOBIG; /* never index under a cut key */
    }
    return add ? ts_meta_put(ct->ctx.meta, "trail", CT_INDEX_ACCOUNT, ikey, "{}")
               : ts_meta_delete(ct->ctx.meta, "trail", CT_INDEX_ACCOUNT, ikey);
}

struct count_arg {
    const char *region;
    int n;
};

static int count_region(void *arg, const char *account, const char *key, const char *json)
{
    struct count_arg *c = arg;
    TS_UNUSED(account);
    TS_UNUSED(json);
    c->n += ts_str_has_prefix(key, c->region) && key[strlen(c->region)] == '/';
    return 0;
}

/* ------------------------------------------------------------------ create / update / delete */

int ct_op_create_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    char region[32], name[130], key[CT_KEY_MAX], arn[TS_AWS_ARN_MAX];
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req->input, "Name")) &&
        ts_str_has_prefix(cJSON_GetObjectItemCaseSensitive(req->input, "Name")->valuestring,
                          "arn:")) {
        return ts_aws_fail(err, "InvalidTrailNameException",
                           "Trail name cannot be an ARN when creating a trail.");
    }
    int rc = trail_ref(req, "Name", region, name, err);
    if (rc) {
        return rc;
    }
    struct count_arg cnt = {req->region, 0};
    ts_meta_list(ct->ctx.meta, "trail", req->caller.account, NULL, count_region, &cnt);
    if (cnt.n >= CT_MAX_TRAILS_PER_REGION) {
        return ts_aws_fail(err, "MaximumNumberOfTrailsExceededException",
                           "User: %s already has %d trails in %s.", req->caller.account,
                           cnt.n, req->region);
    }
    cJSON *doc = cJSON_CreateObject();
    if (!doc) {
        return storage_error(err, TS_ENOMEM);
    }
    snprintf(arn, sizeof(arn), "arn:aws:cloudtrail:%s:%s:trail/%s", region,
             req->caller.account, name);
    cJSON_AddStringToObject(doc, "Name", name);
    cJSON_AddBoolToObject(doc, "IncludeGlobalServiceEvents", true);
    cJSON_AddBoolToObject(doc, "IsMultiRegionTrail", false);
    cJSON_AddStringToObject(doc, "HomeRegion", region);
    cJSON_AddStringToObject(doc, "TrailARN", arn);
    cJSON_AddBoolToObject(doc, "LogFileValidationEnabled", false);
    cJSON_AddBoolToObject(doc, "HasCustomEventSelectors", false);
    cJSON_AddBoolToObject(doc, "HasInsightSelectors", false);
    cJSON_AddBoolToObject(doc, "IsOrganizationTrail", false);
    uint64_t id = 0;
    ts_random(&id, sizeof(id));
    char idhex[17];
    snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)id);
    cJSON_AddStringToObject(doc, "_id", idhex);
    cJSON_AddBoolToObject(doc, "_logging", false);
    rc = apply_settings(req, doc, err);
    if (!rc) {
        apply_members(req, doc);
        trail_key(region, name, key, sizeof(key));
        rc = save_trail(ct, req->caller.account, key, doc, true, err);
        if (rc == TS_EEXIST) {
            rc = ts_aws_fail(err, "TrailAlreadyExistsException",
                             "Trail %s already exists for customer: %s", name,
                             req->caller.account);
        }
    }
    if (!rc && (rc = index_put(ct, req->caller.account, key, true)) != 0) {
        rc = storage_error(err, rc);
    }
    if (!rc) {
        resp->output = public_trail(doc, true);
        ct_trails_changed(ct);
    }
    cJSON_Delete(doc);
    return rc;
}

int ct_op_update_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    char region[32], name[130], key[CT_KEY_MAX];
    cJSON *doc = NULL;
    int rc = load_home_trail(ct, req, region, name, &doc, err);
    if (rc) {
        return rc;
    }
    rc = apply_settings(req, doc, err);
    if (!rc) {
        apply_members(req, doc);
        trail_key(region, name, key, sizeof(key));
        rc = save_trail(ct, req->caller.account, key, doc, false, err);
    }
    if (!rc) {
        resp->output = public_trail(doc, true);
        ct_trails_changed(ct);
    }
    cJSON_Delete(doc);
    return rc;
}

int ct_op_delete_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    TS_UNUSED(resp);
    char region[32], name[130], key[CT_KEY_MAX];
    cJSON *doc = NULL;
    int rc = load_home_trail(ct, req, region, name, &doc, err);
    if (rc) {
        return rc;
    }
    trail_key(region, name, key, sizeof(key));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "_logging"))) {
        /* The DeleteTrail call itself is delivered before the trail stops: a tombstone keeps
         * the trail draining until the writer has written that record. */
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
        char tkey[CT_KEY_MAX];
        snprintf(tkey, sizeof(tkey), "~deleted/%s", cJSON_IsString(id) ? id->valuestring : "x");
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "_logging", cJSON_CreateFalse());
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "_stopMs");
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "_stopRequestId");
        cJSON_AddNumberToObject(doc, "_stopMs", (double)req->now_ms);
        cJSON_AddStringToObject(doc, "_stopRequestId", req->request_id);
        cJSON_AddBoolToObject(doc, "_deleted", true);
        rc = save_trail(ct, req->caller.account, tkey, doc, false, err);
        if (!rc && (rc = index_put(ct, req->caller.account, tkey, true)) != 0) {
            rc = storage_error(err, rc);
        }
    }
    if (!rc) {
        int d = ts_meta_delete(ct->ctx.meta, "trail", req->caller.account, key);
        int i = index_put(ct, req->caller.account, key, false);
        rc = d && d != TS_ENOTFOUND ? storage_error(err, d)
             : i && i != TS_ENOTFOUND ? storage_error(err, i)
                                      : 0;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "HasCustomEventSelectors"))) {
        atomic_store(&ct->data_trails, ct_count_data_trails(ct));
    }
    cJSON_Delete(doc);
    ct_trails_changed(ct);
    return rc;
}

/* ------------------------------------------------------------------ describe / list */

struct list_arg {
    const struct ts_aws_req *req;
    cJSON *out;
    const cJSON *names; /* trailNameList or NULL */
    bool shadow;
    bool info;          /* ListTrails: TrailInfo items */
};

static bool name_listed(const cJSON *names, const cJSON *doc)
{
    if (!names || cJSON_GetArraySize(names) == 0) {
        return true;
    }
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        if (!cJSON_IsString(n)) {
            continue;
        }
        const char *want = n->valuestring;
        const char *field = ts_str_has_prefix(want, "arn:") ? "TrailARN" : "Name";
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(doc, field);
        if (cJSON_IsString(have) && strcmp(have->valuestring, want) == 0) {
            return true;
        }
    }
    return false;
}

static int list_one(void *arg, const char *account, const char *key, const char *json)
{
    struct list_arg *a = arg;
    TS_UNUSED(account);
    if (key[0] == '~') {
        return 0;
    }
    cJSON *doc = cJSON_Parse(json);
    if (!doc) {
        return 0;
    }
    const cJSON *home = cJSON_GetObjectItemCaseSensitive(doc, "HomeRegion");
    bool here = cJSON_IsString(home) && strcmp(home->valuestring, a->req->region) == 0;
    bool multi = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "IsMultiRegionTrail"));
    if (a->info) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddItemToObject(t, "TrailARN", cJSON_Duplicate(
                                                 cJSON_GetObjectItemCaseSensitive(doc, "TrailARN"),
                                                 false));
        cJSON_AddItemToObject(t, "Name",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "Name"), 0));
        cJSON_AddItemToObject(t, "HomeRegion", cJSON_Duplicate(home, false));
        cJSON_AddItemToArray(a->out, t);
    } else if ((here || (multi && a->shadow)) && name_listed(a->names, doc)) {
        cJSON_AddItemToArray(a->out, public_trail(doc, false));
    }
    cJSON_Delete(doc);
    return 0;
}

int ct_op_describe_trails(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                          struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    const cJSON *shadow = cJSON_GetObjectItemCaseSensitive(req->input, "includeShadowTrails");
    struct list_arg a = {req, cJSON_CreateArray(),
                         cJSON_GetObjectItemCaseSensitive(req->input, "trailNameList"),
                         !cJSON_IsFalse(shadow), false};
    int rc = ts_meta_list(ct->ctx.meta, "trail", req->caller.account, NULL, list_one, &a);
    if (rc) {
        cJSON_Delete(a.out);
        return storage_error(err, rc);
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "trailList", a.out);
    return 0;
}

int ct_op_list_trails(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    struct list_arg a = {req, cJSON_CreateArray(), NULL, true, true};
    int rc = ts_meta_list(ct->ctx.meta, "trail", req->caller.account, NULL, list_one, &a);
    if (rc) {
        cJSON_Delete(a.out);
        return storage_error(err, rc);
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "Trails", a.out);
    return 0;
}

int ct_op_get_trail(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct ts_aws_error *err)
{
    char region[32], name[130];
    cJSON *doc = NULL;
    int rc = load_trail(c, req, "Name", region, name, &doc, err);
    if (rc) {
        return rc;
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "Trail", public_trail(doc, false));
    cJSON_Delete(doc);
    return 0;
}

static void add_time(cJSON *o, const cJSON *doc, const char *member, const char *out_epoch,
                     const char *out_iso)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, member);
    if (cJSON_IsNumber(v)) {
        cJSON_AddNumberToObject(o, out_epoch, v->valuedouble / 1000.0);
        if (out_iso) {
            char iso[21];
            ts_time_fmt_iso((int64_t)v->valuedouble, iso);
            cJSON_AddStringToObject(o, out_iso, iso);
        }
    }
}

int ct_op_get_trail_status(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    char region[32], name[130];
    cJSON *doc = NULL;
    int rc = load_trail(c, req, "Name", region, name, &doc, err);
    if (rc) {
        return rc;
    }
    cJSON *o = resp->output = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "IsLogging",
                          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "_logging")));
    add_time(o, doc, "_startMs", "StartLoggingTime", "TimeLoggingStarted");
    add_time(o, doc, "_stopMs", "StopLoggingTime", "TimeLoggingStopped");
    /* The writer records its progress in the trail's checkpoint document. */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    if (cJSON_IsString(id)) {
        struct ts_buf b;
        ts_buf_init(&b, 4096);
        char key[CT_KEY_MAX];
        snprintf(key, sizeof(key), "ct-status/%s", id->valuestring);
        if (ts_meta_get(((struct ts_cloudtrail *)c)->ctx.meta, "checkpoint", req->caller.account,
                        key, &b) == 0) {
            cJSON *st = cJSON_ParseWithLength(b.data, b.len);
            add_time(o, st, "deliveryMs", "LatestCloudWatchLogsDeliveryTime", NULL);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(st, "error");
            if (cJSON_IsString(e) && e->valuestring[0]) {
                cJSON_AddStringToObject(o, "LatestCloudWatchLogsDeliveryError", e->valuestring);
            }
            cJSON_Delete(st);
        }
        ts_buf_free(&b);
    }
    cJSON_Delete(doc);
    return 0;
}

/* ------------------------------------------------------------------ logging */

static int set_logging(struct ts_cloudtrail *ct, struct ts_aws_req *req, bool on,
                       struct ts_aws_error *err)
{
    char region[32], name[130], key[CT_KEY_MAX];
    cJSON *doc = NULL;
    int rc = load_home_trail(ct, req, region, name, &doc, err);
    if (rc) {
        return rc;
    }
    bool was = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "_logging"));
    if (was != on) {
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "_logging", cJSON_CreateBool(on));
        const char *tm = on ? "_startMs" : "_stopMs";
        cJSON_DeleteItemFromObjectCaseSensitive(doc, tm);
        cJSON_AddNumberToObject(doc, tm, (double)req->now_ms);
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "_stopRequestId");
        if (!on) {
            /* Delivery continues until this call's own record is written (ct_writer.c). */
            cJSON_AddStringToObject(doc, "_stopRequestId", req->request_id);
        }
        trail_key(region, name, key, sizeof(key));
        rc = save_trail(ct, req->caller.account, key, doc, false, err);
        ct_trails_changed(ct);
    }
    cJSON_Delete(doc);
    return rc;
}

int ct_op_start_logging(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    return set_logging(c, req, true, err);
}

int ct_op_stop_logging(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                       struct ts_aws_error *err)
{
    TS_UNUSED(resp);
    return set_logging(c, req, false, err);
}

/* ------------------------------------------------------------------ event selectors */

static const char *const data_types[] = {"AWS::S3::Object", "AWS::Lambda::Function",
                                         "AWS::DynamoDB::Table", "AWS::Kinesis::Stream",
                                         "AWS::Logs::LogGroup", "AWS::CloudTrail::Channel"};

static int check_selectors(const cJSON *sel, struct ts_aws_error *err)
{
    int n = cJSON_GetArraySize(sel);
    if (!cJSON_IsArray(sel) || n < 1 || n > 5) {
        return ts_aws_fail(err, "InvalidEventSelectorsException",
                           "You can have 1 to 5 event selectors per trail.");
    }
    int resources = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sel)
    {
        const cJSON *rw = cJSON_GetObjectItemCaseSensitive(s, "ReadWriteType");
        if (rw && (!cJSON_IsString(rw) || (strcmp(rw->valuestring, "All") != 0 &&
                                           strcmp(rw->valuestring, "ReadOnly") != 0 &&
                                           strcmp(rw->valuestring, "WriteOnly") != 0))) {
            return ts_aws_fail(err, "InvalidEventSelectorsException",
                               "ReadWriteType must be ReadOnly, WriteOnly or All.");
        }
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "DataResources"))
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "Type");
            bool known = false;
            for (size_t i = 0; cJSON_IsString(t) && i < TS_ARRAY_LEN(data_types); i++) {
                known = known || strcmp(t->valuestring, data_types[i]) == 0;
            }
            if (!known) {
                return ts_aws_fail(err, "InvalidEventSelectorsException",
                                   "Value %.100s for DataResources.Type is invalid.",
                                   cJSON_IsString(t) ? t->valuestring : "null");
            }
            resources += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "Values"));
        }
    }
    if (resources > 250) {
        return ts_aws_fail(err, "InvalidEventSelectorsException",
                           "A trail can have at most 250 data resources.");
    }
    return 0;
}

static bool has_data_selectors(const cJSON *sel)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, sel)
    {
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "DataResources")) > 0) {
            return true;
        }
    }
    return false;
}

int ct_op_put_event_selectors(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    char region[32], name[130], key[CT_KEY_MAX];
    if (cJSON_GetObjectItemCaseSensitive(req->input, "AdvancedEventSelectors")) {
        return ts_aws_fail(err, "UnsupportedOperationException",
                           "AdvancedEventSelectors are not supported; use EventSelectors.");
    }
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(req->input, "EventSelectors");
    int rc = check_selectors(sel, err);
    cJSON *doc = NULL;
    rc = rc ? rc : load_trail(ct, req, "TrailName", region, name, &doc, err);
    if (rc) {
        return rc;
    }
    /* Defaults made explicit, as GetEventSelectors returns them. */
    cJSON *stored = cJSON_CreateArray();
    const cJSON *s;
    cJSON_ArrayForEach(s, sel)
    {
        cJSON *e = cJSON_CreateObject();
        const cJSON *rw = cJSON_GetObjectItemCaseSensitive(s, "ReadWriteType");
        const cJSON *mg = cJSON_GetObjectItemCaseSensitive(s, "IncludeManagementEvents");
        const cJSON *dr = cJSON_GetObjectItemCaseSensitive(s, "DataResources");
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(s, "ExcludeManagementEventSources");
        cJSON_AddStringToObject(e, "ReadWriteType", cJSON_IsString(rw) ? rw->valuestring : "All");
        cJSON_AddBoolToObject(e, "IncludeManagementEvents", !cJSON_IsFalse(mg));
        cJSON_AddItemToObject(e, "DataResources",
                              dr ? cJSON_Duplicate(dr, true) : cJSON_CreateArray());
        cJSON_AddItemToObject(e, "ExcludeManagementEventSources",
                              ex ? cJSON_Duplicate(ex, true) : cJSON_CreateArray());
        cJSON_AddItemToArray(stored, e);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "_eventSelectors");
    cJSON_AddItemToObject(doc, "_eventSelectors", stored);
    cJSON_ReplaceItemInObjectCaseSensitive(doc, "HasCustomEventSelectors", cJSON_CreateTrue());
    trail_key(region, name, key, sizeof(key));
    rc = save_trail(ct, req->caller.account, key, doc, false, err);
    if (!rc) {
        resp->output = cJSON_CreateObject();
        cJSON_AddItemToObject(resp->output, "TrailARN",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "TrailARN"),
                                              false));
        cJSON_AddItemToObject(resp->output, "EventSelectors", cJSON_Duplicate(stored, true));
        atomic_store(&ct->data_trails, ct_count_data_trails(ct));
        ct_trails_changed(ct);
    }
    cJSON_Delete(doc);
    return rc;
}

int ct_op_get_event_selectors(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    char region[32], name[130];
    cJSON *doc = NULL;
    int rc = load_trail(c, req, "TrailName", region, name, &doc, err);
    if (rc) {
        return rc;
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "TrailARN",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "TrailARN"), 0));
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(doc, "_eventSelectors");
    if (sel) {
        cJSON_AddItemToObject(resp->output, "EventSelectors", cJSON_Duplicate(sel, true));
    } else {
        /* A new trail logs all management events, read and write. */
        cJSON *a = cJSON_AddArrayToObject(resp->output, "EventSelectors");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "ReadWriteType", "All");
        cJSON_AddBoolToObject(e, "IncludeManagementEvents", true);
        cJSON_AddArrayToObject(e, "DataResources");
        cJSON_AddArrayToObject(e, "ExcludeManagementEventSources");
        cJSON_AddItemToArray(a, e);
    }
    cJSON_Delete(doc);
    return 0;
}

bool ct_trail_selects(const cJSON *trail, uint8_t flags, const char *rtype, const char *rarn)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(trail, "_eventSelectors");
    bool data = flags & TS_CT_F_DATA, ro = flags & TS_CT_F_READONLY;
    if (!sel) {
        return !data;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, sel)
    {
        const cJSON *rw = cJSON_GetObjectItemCaseSensitive(s, "ReadWriteType");
        const char *rws = cJSON_IsString(rw) ? rw->valuestring : "All";
        if ((strcmp(rws, "ReadOnly") == 0 && !ro) || (strcmp(rws, "WriteOnly") == 0 && ro)) {
            continue;
        }
        if (!data) {
            if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "IncludeManagementEvents"))) {
                return true;
            }
            continue;
        }
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "DataResources"))
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "Type");
            if (!cJSON_IsString(t) || strcmp(t->valuestring, rtype) != 0) {
                continue;
            }
            const cJSON *v;
            cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(d, "Values"))
            {
                if (cJSON_IsString(v) && ts_str_has_prefix(rarn, v->valuestring)) {
                    return true;
                }
            }
        }
    }
    return false;
}

struct data_count {
    struct ts_cloudtrail *ct;
    int n;
};

static int count_data_one(void *arg, const char *account, const char *key, const char *json)
{
    struct data_count *dc = arg;
    TS_UNUSED(account);
    TS_UNUSED(json);
    /* key = "<owner>/<region>/<name>" or "<owner>/~deleted/<id>" */
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) != 12) {
        return 0;
    }
    char owner[13];
    memcpy(owner, key, 12);
    owner[12] = '\0';
    struct ts_buf b;
    ts_buf_init(&b, CT_DOC_MAX);
    if (ts_meta_get(dc->ct->ctx.meta, "trail", owner, slash + 1, &b) == 0) {
        cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
        dc->n += has_data_selectors(cJSON_GetObjectItemCaseSensitive(doc, "_eventSelectors"));
        cJSON_Delete(doc);
    }
    ts_buf_free(&b);
    return 0;
}

int ct_count_data_trails(struct ts_cloudtrail *ct)
{
    struct data_count dc = {ct, 0};
    ts_meta_list(ct->ctx.meta, "trail", CT_INDEX_ACCOUNT, NULL, count_data_one, &dc);
    return dc.n;
}
