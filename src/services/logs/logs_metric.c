/*
 * logs_metric.c - metric filters (Put/Describe/Delete/TestMetricFilter) and their evaluation
 * on every accepted log event.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html
 *
 * Metric values are kept as Prometheus counters until the CloudWatch metrics service lands:
 *   ts_logs_metric_filter_value_total{account,region,namespace,metric,dimensions}
 *   ts_logs_metric_filter_matches_total{...}
 * A batch in which no event matched adds the filter's defaultValue once (docs/logs.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"

static const char *const units[] = {
    "Seconds",       "Microseconds",     "Milliseconds",     "Bytes",
    "Kilobytes",     "Megabytes",        "Gigabytes",        "Terabytes",
    "Bits",          "Kilobits",         "Megabits",         "Gigabits",
    "Terabits",      "Percent",          "Count",            "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second",   "Kilobits/Second",  "Megabits/Second",  "Gigabits/Second",
    "Terabits/Second", "Count/Second",   "None",
};

/* A metric or namespace name: 1-255 characters, none of ':', '*', '$'. */
static bool valid_metric_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 255 && !strpbrk(s, ":*$");
}

static bool is_number(const char *s, double *out)
{
    char *end = NULL;
    if (!*s) {
        return false;
    }
    double v = strtod(s, &end);
    if (*end) {
        return false;
    }
    *out = v;
    return true;
}

void logs_metric_free(struct logs_metric_filter *mf)
{
    ts_pattern_destroy(mf->pattern);
    mf->pattern = NULL;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int logs_metric_compile(const cJSON *entry, struct logs_metric_filter *mf,
                        struct ts_aws_error *err)
{
    memset(mf, 0, sizeof(*mf));
    const char *name = str_member(entry, "filterName");
    const char *pattern = str_member(entry, "filterPattern");
    const cJSON *mts = cJSON_GetObjectItemCaseSensitive(entry, "metricTransformations");
    if (!name || !pattern || !cJSON_IsArray(mts)) {
        return ts_aws_fail(err, "SerializationException",
                           "filterName, filterPattern and metricTransformations are required.");
    }
    if (strlen(name) < 1 || strlen(name) > LOGS_STREAM_NAME_MAX || strpbrk(name, ":*")) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%.512s' at 'filterName' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [^:*]*",
                           name);
    }
    ts_strlcpy(mf->name, name, sizeof(mf->name));
    if (strlen(pattern) > TS_PATTERN_MAX_LEN) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'filterPattern' failed to "
                           "satisfy constraint: Member must have length less than or equal to "
                           "1024");
    }
    if (cJSON_GetArraySize(mts) != 1) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'metricTransformations' failed "
                           "to satisfy constraint: Member must have length less than or equal to "
                           "1 and greater than or equal to 1");
    }
    char perr[TS_PATTERN_ERR_LEN];
    if (ts_pattern_compile(pattern, strlen(pattern), &mf->pattern, perr, sizeof(perr)) != 0) {
        return ts_aws_fail(err, "InvalidParameterException", "%s", perr);
    }
    const cJSON *mt = cJSON_GetArrayItem(mts, 0);
    const char *mname = str_member(mt, "metricName");
    const char *mns = str_member(mt, "metricNamespace");
    const char *mval = str_member(mt, "metricValue");
    if (!mname || !mns || !mval) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: metricName, metricNamespace and "
                           "metricValue are required in metricTransformations.");
    }
    if (!valid_metric_name(mname) || !valid_metric_name(mns)) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "metricName and metricNamespace must be 1-255 characters without ':', "
                           "'*' or '$'.");
    }
    if (strlen(mval) < 1 || strlen(mval) > 100) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "metricValue must be 1-100 characters.");
    }
    ts_strlcpy(mf->metric_name, mname, sizeof(mf->metric_name));
    ts_strlcpy(mf->metric_namespace, mns, sizeof(mf->metric_namespace));
    ts_strlcpy(mf->metric_value, mval, sizeof(mf->metric_value));
    double lit;
    if (mval[0] == '$') {
        mf->value_ref = ts_pattern_add_ref(mf->pattern, mval, strlen(mval), perr, sizeof(perr));
        if (mf->value_ref < 0) {
            return ts_aws_fail(err, "InvalidParameterException", "Invalid metric value %s: %s",
                               mval, perr);
        }
    } else if (!is_number(mval, &lit)) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Invalid metric value: '%s' is neither a number nor a field "
                           "reference ($.field or $name).",
                           mval);
    }
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(mt, "defaultValue");
    if (def && !cJSON_IsNull(def)) {
        if (!cJSON_IsNumber(def)) {
            return ts_aws_fail(err, "SerializationException", "defaultValue must be a number.");
        }
        mf->has_default = true;
        mf->default_value = def->valuedouble;
    }
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(mt, "dimensions");
    if (dims && !cJSON_IsNull(dims)) {
        if (!cJSON_IsObject(dims) || cJSON_GetArraySize(dims) > 3) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "dimensions must be a map of at most 3 entries.");
        }
        if (mf->has_default && cJSON_GetArraySize(dims) > 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "A metric filter cannot have both dimensions and a default "
                               "value.");
        }
        const cJSON *d;
        cJSON_ArrayForEach(d, dims)
        {
            if (!cJSON_IsString(d) || strlen(d->string) < 1 || strlen(d->string) > 255 ||
                strlen(d->valuestring) < 1 || strlen(d->valuestring) > 255) {
                return ts_aws_fail(err, "InvalidParameterException",
                                   "Dimension names and values are 1-255 characters.");
            }
            int id = d->valuestring[0] == '$'
                         ? ts_pattern_add_ref(mf->pattern, d->valuestring,
                                              strlen(d->valuestring), perr, sizeof(perr))
                         : TS_EINVAL;
            if (id < 0) {
                return ts_aws_fail(err, "InvalidParameterException",
                                   "Invalid dimension value %.255s: dimension values must be "
                                   "field references of the filter pattern.",
                                   d->valuestring);
            }
            mf->dim_ref[mf->n_dims] = id;
            ts_strlcpy(mf->dims[mf->n_dims][0], d->string, sizeof(mf->dims[0][0]));
            ts_strlcpy(mf->dims[mf->n_dims][1], d->valuestring, sizeof(mf->dims[0][1]));
            mf->n_dims++;
        }
    }
    const char *unit = str_member(mt, "unit");
    if (unit) {
        bool ok = false;
        for (size_t i = 0; i < TS_ARRAY_LEN(units); i++) {
            ok |= strcmp(units[i], unit) == 0;
        }
        if (!ok) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "1 validation error detected: Value '%.64s' at 'unit' failed to "
                               "satisfy constraint: Member must satisfy enum value set of "
                               "StandardUnit",
                               unit);
        }
    }
    return 0;
}

/* Appends a Prometheus label value with \, " and newlines escaped. */
static void label_escape(struct ts_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == '"') {
            ts_buf_addc(b, '\\');
            ts_buf_addc(b, c);
        } else if (c == '\n') {
            ts_buf_adds(b, "\\n");
        } else {
            ts_buf_addc(b, c);
        }
    }
}

static void labels_for(struct ts_buf *b, const char *account, const char *region,
                       const struct logs_metric_filter *mf, const struct ts_pattern_value *vals)
{
    ts_buf_reset(b);
    ts_buf_addf(b, "account=\"%s\",region=\"%s\",namespace=\"", account, region);
    label_escape(b, mf->metric_namespace, strlen(mf->metric_namespace));
    ts_buf_adds(b, "\",metric=\"");
    label_escape(b, mf->metric_name, strlen(mf->metric_name));
    ts_buf_adds(b, "\",dimensions=\"");
    for (int d = 0; d < mf->n_dims && vals; d++) {
        char text[256];
        if (ts_pattern_value_text(&vals[mf->dim_ref[d]], text, sizeof(text), NULL) != 0) {
            ts_strlcpy(text, "", sizeof(text));
        }
        if (d) {
            ts_buf_addc(b, ',');
        }
        label_escape(b, mf->dims[d][0], strlen(mf->dims[d][0]));
        ts_buf_addc(b, '=');
        label_escape(b, text, strlen(text));
    }
    ts_buf_addc(b, '"');
}

void logs_metric_apply(struct ts_logs *l, const char *account, const char *region,
                       const struct logs_group_info *gi, const struct ts_logs_event *events,
                       size_t n)
{
    struct ts_buf labels;
    ts_buf_init(&labels, 4096);
    for (int f = 0; f < gi->n_filters; f++) {
        const struct logs_metric_filter *mf = &gi->filters[f];
        struct ts_pattern_value vals[4];
        size_t nv = (size_t)ts_pattern_ref_count(mf->pattern);
        bool literal = mf->metric_value[0] != '$';
        double lit = literal ? strtod(mf->metric_value, NULL) : 0;
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (!ts_pattern_match_refs(mf->pattern, events[i].message, events[i].message_len,
                                       vals, TS_MIN(nv, TS_ARRAY_LEN(vals)))) {
                continue;
            }
            double v = lit;
            /* A reference that does not hold a number contributes nothing, as in AWS. */
            if (!literal && ts_pattern_value_number(&vals[mf->value_ref], &v) != 0) {
                continue;
            }
            any = true;
            labels_for(&labels, account, region, mf, vals);
            ts_metric_add("ts_logs_metric_filter_value_total", labels.data, v);
            ts_metric_add("ts_logs_metric_filter_matches_total", labels.data, 1);
        }
        if (!any && mf->has_default && n > 0) {
            labels_for(&labels, account, region, mf, NULL);
            ts_metric_add("ts_logs_metric_filter_value_total", labels.data, mf->default_value);
        }
    }
    ts_buf_free(&labels);
    TS_UNUSED(l);
}

/* ------------------------------------------------------------------ operations */

struct put_filter {
    cJSON *entry;
    bool replaced;
};

static int put_filter_fn(cJSON *doc, void *arg, struct ts_aws_error *err)
{
    struct put_filter *pf = arg;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "metricFilters");
    if (!list) {
        list = cJSON_AddArrayToObject(doc, "metricFilters");
    }
    const char *name = str_member(pf->entry, "filterName");
    int idx = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
    {
        if (strcmp(str_member(f, "filterName") ? str_member(f, "filterName") : "", name) == 0) {
            break;
        }
        idx++;
    }
    cJSON *copy = cJSON_Duplicate(pf->entry, 1);
    if (!copy) {
        return TS_ENOMEM;
    }
    if (idx < cJSON_GetArraySize(list)) {
        /* Updating keeps the original creation time. */
        cJSON *old = cJSON_GetArrayItem(list, idx);
        cJSON *ct = cJSON_GetObjectItemCaseSensitive(old, "creationTime");
        if (ct) {
            cJSON_ReplaceItemInObjectCaseSensitive(copy, "creationTime",
                                                   cJSON_Duplicate(ct, 1));
        }
        cJSON_ReplaceItemInArray(list, idx, copy);
        pf->replaced = true;
        return 0;
    }
    if (cJSON_GetArraySize(list) >= LOGS_MAX_METRIC_FILTERS) {
        cJSON_Delete(copy);
        return ts_aws_fail(err, "LimitExceededException",
                           "Resource limit exceeded: at most %d metric filters per log group.",
                           LOGS_MAX_METRIC_FILTERS);
    }
    /* Keep the list sorted by name (Describe returns ASCII order). */
    int pos = 0;
    cJSON_ArrayForEach(f, list)
    {
        if (strcmp(str_member(f, "filterName") ? str_member(f, "filterName") : "", name) > 0) {
            break;
        }
        pos++;
    }
    cJSON_InsertItemInArray(list, pos, copy);
    return 0;
}

int logs_op_put_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc) {
        return rc;
    }
    struct logs_metric_filter mf;
    rc = logs_metric_compile(req->input, &mf, err);
    int regexes = mf.pattern ? ts_pattern_regex_count(mf.pattern) : 0;
    logs_metric_free(&mf);
    if (rc) {
        return rc;
    }
    if (regexes > TS_PATTERN_MAX_REGEX) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "A filter pattern may contain at most %d regular expressions.",
                           TS_PATTERN_MAX_REGEX);
    }
    cJSON *entry = cJSON_CreateObject();
    if (!entry) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    cJSON_AddStringToObject(entry, "filterName", str_member(req->input, "filterName"));
    cJSON_AddStringToObject(entry, "filterPattern", str_member(req->input, "filterPattern"));
    cJSON *mts = cJSON_Duplicate(
        cJSON_GetObjectItemCaseSensitive(req->input, "metricTransformations"), 1);
    cJSON_AddItemToObject(entry, "metricTransformations", mts);
    cJSON_AddNumberToObject(entry, "creationTime", (double)req->now_ms);
    cJSON_AddStringToObject(entry, "logGroupName", group);
    const cJSON *apply = cJSON_GetObjectItemCaseSensitive(req->input, "applyOnTransformedLogs");
    cJSON_AddBoolToObject(entry, "applyOnTransformedLogs", cJSON_IsTrue(apply));
    struct put_filter pf = {entry, false};
    rc = logs_update_group(c, req, group, put_filter_fn, &pf, err);
    cJSON_Delete(entry);
    return rc;
}

static int delete_filter_fn(cJSON *doc, void *arg, struct ts_aws_error *err)
{
    const char *name = arg;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "metricFilters");
    int idx = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
    {
        const char *fn = str_member(f, "filterName");
        if (fn && strcmp(fn, name) == 0) {
            cJSON_DeleteItemFromArray(list, idx);
            return 0;
        }
        idx++;
    }
    return ts_aws_fail(err, "ResourceNotFoundException", "The specified filter does not exist.");
}

int logs_op_delete_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err)
{
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *name = NULL;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || logs_opt_string(req->input, "filterName", &name, err) < 0) {
        return TS_EINVAL;
    }
    return logs_update_group(c, req, group, delete_filter_fn, (void *)name, err);
}

struct describe_filters {
    const char *prefix, *metric_name, *metric_ns, *after;
    int64_t limit;
    cJSON *items;
    char last[LOGS_KEY_MAX + LOGS_STREAM_NAME_MAX + 2];
    bool more;
    size_t region_len;
};

static bool filter_selected(struct describe_filters *d, const cJSON *f, const char *sortkey)
{
    const char *name = str_member(f, "filterName");
    if (!name || (d->prefix && strncmp(name, d->prefix, strlen(d->prefix)) != 0)) {
        return false;
    }
    if (d->after && strcmp(sortkey, d->after) <= 0) {
        return false;
    }
    if (d->metric_name) {
        const cJSON *mt = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(f, "metricTransformations"), 0);
        const char *mn = str_member(mt, "metricName");
        const char *ns = str_member(mt, "metricNamespace");
        if (!mn || !ns || strcmp(mn, d->metric_name) != 0 || strcmp(ns, d->metric_ns) != 0) {
            return false;
        }
    }
    return true;
}

static int describe_group_filters(void *arg, const char *account, const char *key,
                                  const char *json)
{
    struct describe_filters *d = arg;
    cJSON *doc = cJSON_Parse(json);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "metricFilters");
    const cJSON *f;
    int stop = 0;
    cJSON_ArrayForEach(f, list)
    {
        char sortkey[sizeof(d->last)];
        snprintf(sortkey, sizeof(sortkey), "%s\x01%s", key + d->region_len + 1,
                 str_member(f, "filterName") ? str_member(f, "filterName") : "");
        if (!filter_selected(d, f, sortkey)) {
            continue;
        }
        if (cJSON_GetArraySize(d->items) >= d->limit) {
            d->more = true;
            stop = 1;
            break;
        }
        cJSON_AddItemToArray(d->items, cJSON_Duplicate(f, 1));
        ts_strlcpy(d->last, sortkey, sizeof(d->last));
    }
    cJSON_Delete(doc);
    TS_UNUSED(account);
    return stop;
}

int logs_op_describe_metric_filters(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                    struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    const char *group = NULL, *prefix = NULL, *mname = NULL, *mns = NULL, *token = NULL;
    int64_t limit = 50;
    if (logs_opt_string(req->input, "logGroupName", &group, err) < 0 ||
        logs_opt_string(req->input, "filterNamePrefix", &prefix, err) < 0 ||
        logs_opt_string(req->input, "metricName", &mname, err) < 0 ||
        logs_opt_string(req->input, "metricNamespace", &mns, err) < 0 ||
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
    if (!mname != !mns) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "metricName and metricNamespace must be given together.");
    }
    if (prefix && !group) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "filterNamePrefix can only be used together with logGroupName.");
    }
    if (group && logs_check_group_name(group, err, "logGroupName")) {
        return TS_EINVAL;
    }
    char scope[2048];
    snprintf(scope, sizeof(scope), "%s|%s|%s|%s", group ? group : "", prefix ? prefix : "",
             mname ? mname : "", mns ? mns : "");
    char after[sizeof(((struct describe_filters *)0)->last)] = "";
    if (token &&
        logs_token_read(l, "mfilters", req, scope, token, after, sizeof(after), err) != 0) {
        return TS_EINVAL;
    }
    struct describe_filters d = {prefix, mname, mns, after[0] ? after : NULL, limit, NULL,
                                 "", false, strlen(req->region)};
    resp->output = cJSON_CreateObject();
    d.items = cJSON_AddArrayToObject(resp->output, "metricFilters");
    int rc;
    if (group) {
        cJSON *doc = NULL;
        rc = logs_load_group(l, req, group, &doc, err);
        if (rc) {
            return rc;
        }
        char key[LOGS_KEY_MAX];
        logs_group_key(req->region, group, key);
        char *text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!text) {
            return logs_storage_error(err, TS_ENOMEM);
        }
        describe_group_filters(&d, req->caller.account, key, text);
        cJSON_free(text);
    } else {
        char key_prefix[64];
        snprintf(key_prefix, sizeof(key_prefix), "%s:", req->region);
        rc = ts_meta_list(l->ctx.meta, "log_group", req->caller.account, key_prefix,
                          describe_group_filters, &d);
        if (rc < 0) {
            return logs_storage_error(err, rc);
        }
    }
    if (d.more) {
        logs_token_make(l, "mfilters", req, scope, d.last, resp->output, "nextToken");
    }
    return 0;
}

struct test_ctx {
    cJSON *values;
};

static int test_extract(void *ctx, const char *key, size_t key_len, const char *val,
                        size_t val_len)
{
    struct test_ctx *t = ctx;
    char k[256];
    if (key_len >= sizeof(k)) {
        return 0;
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    cJSON *v = cJSON_CreateString("");
    if (!v) {
        return TS_ENOMEM;
    }
    cJSON_free(v->valuestring);
    v->valuestring = cJSON_malloc(val_len + 1);
    if (!v->valuestring) {
        cJSON_Delete(v);
        return TS_ENOMEM;
    }
    memcpy(v->valuestring, val, val_len);
    v->valuestring[val_len] = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(t->values, k);
    cJSON_AddItemToObject(t->values, k, v);
    return 0;
}

int logs_op_test_metric_filter(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                               struct ts_aws_error *err)
{
    const char *text = NULL;
    if (logs_opt_string(req->input, "filterPattern", &text, err) < 0) {
        return TS_EINVAL;
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req->input, "logEventMessages");
    if (!cJSON_IsArray(msgs)) {
        return ts_aws_fail(err, "SerializationException", "logEventMessages must be a list.");
    }
    int n = cJSON_GetArraySize(msgs);
    if (n < 1 || n > 50) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'logEventMessages' failed to "
                           "satisfy constraint: Member must have length between 1 and 50");
    }
    if (strlen(text) > TS_PATTERN_MAX_LEN) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at 'filterPattern' failed to "
                           "satisfy constraint: Member must have length less than or equal to "
                           "1024");
    }
    struct ts_pattern *p = NULL;
    char perr[TS_PATTERN_ERR_LEN];
    if (ts_pattern_compile(text, strlen(text), &p, perr, sizeof(perr)) != 0) {
        return ts_aws_fail(err, "InvalidParameterException", "%s", perr);
    }
    resp->output = cJSON_CreateObject();
    cJSON *matches = cJSON_AddArrayToObject(resp->output, "matches");
    int i = 0;
    const cJSON *m;
    int rc = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        i++;
        if (!cJSON_IsString(m)) {
            rc = ts_aws_fail(err, "SerializationException",
                             "logEventMessages must hold strings.");
            break;
        }
        struct test_ctx t = {cJSON_CreateObject()};
        int r = ts_pattern_test(p, m->valuestring, strlen(m->valuestring), test_extract, &t);
        if (r == 1) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "eventNumber", i);
            cJSON_AddStringToObject(o, "eventMessage", m->valuestring);
            cJSON_AddItemToObject(o, "extractedValues", t.values);
            cJSON_AddItemToArray(matches, o);
        } else {
            cJSON_Delete(t.values);
            if (r < 0) {
                rc = logs_storage_error(err, r);
                break;
            }
        }
    }
    ts_pattern_destroy(p);
    TS_UNUSED(c);
    return rc;
}
