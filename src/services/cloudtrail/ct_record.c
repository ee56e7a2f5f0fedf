/*
 * ct_record.c - building CloudTrail records: classification of operations (event source,
 * read-only, data or management event), redaction of secrets and bulk data, the record JSON.
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
 *     cloudtrail-event-reference-record-contents.html
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
 *     cloudtrail-event-reference-user-identity.html
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "trailstream/ts_cloudtrail.h"

/* ------------------------------------------------------------------ classification */

struct source_row {
    const char *service; /* router service name */
    const char *source;  /* eventSource */
};

static const struct source_row sources[] = {
    {"logs", "logs.amazonaws.com"},
    {"kinesis", "kinesis.amazonaws.com"},
    {"sts", "sts.amazonaws.com"},
    {"cloudtrail", "cloudtrail.amazonaws.com"},
    {"cloudtrail-data", "cloudtrail-data.amazonaws.com"},
    {"s3", "s3.amazonaws.com"},
    {"lambda", "lambda.amazonaws.com"},
    {"cloudwatch", "monitoring.amazonaws.com"},
};

struct data_row {
    const char *service;
    const char *op;
    const char *resource_type;
};

/* Data-plane operations: recorded only for trails whose event selectors ask for them. */
static const struct data_row data_ops[] = {
    {"kinesis", "PutRecord", "AWS::Kinesis::Stream"},
    {"kinesis", "PutRecords", "AWS::Kinesis::Stream"},
    {"kinesis", "GetRecords", "AWS::Kinesis::Stream"},
    {"kinesis", "GetShardIterator", "AWS::Kinesis::Stream"},
    {"kinesis", "SubscribeToShard", "AWS::Kinesis::Stream"},
    {"logs", "PutLogEvents", "AWS::Logs::LogGroup"},
    {"logs", "GetLogEvents", "AWS::Logs::LogGroup"},
    {"logs", "FilterLogEvents", "AWS::Logs::LogGroup"},
    {"s3", "GetObject", "AWS::S3::Object"},
    {"s3", "PutObject", "AWS::S3::Object"},
    {"s3", "DeleteObject", "AWS::S3::Object"},
    {"s3", "HeadObject", "AWS::S3::Object"},
    {"s3", "DeleteObjects", "AWS::S3::Object"},
    {"s3", "CopyObject", "AWS::S3::Object"},
    {"cloudtrail-data", "PutAuditEvents", "AWS::CloudTrail::Channel"},
};

static const char *const read_prefixes[] = {"Describe", "Get", "List", "Lookup", "Head",
                                            "Filter", "Test"};

void ts_ct_classify(const char *service, const char *op, struct ts_ct_class *out)
{
    memset(out, 0, sizeof(*out));
    out->event_source = "unknown.amazonaws.com";
    for (size_t i = 0; i < TS_ARRAY_LEN(sources); i++) {
        if (strcmp(sources[i].service, service) == 0) {
            out->event_source = sources[i].source;
            break;
        }
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(data_ops); i++) {
        if (strcmp(data_ops[i].service, service) == 0 && strcmp(data_ops[i].op, op) == 0) {
            out->data = true;
            out->resource_type = data_ops[i].resource_type;
            break;
        }
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(read_prefixes); i++) {
        if (ts_str_has_prefix(op, read_prefixes[i])) {
            out->read_only = true;
            break;
        }
    }
    /* Reads that do not look like reads. */
    if (strcmp(op, "GetShardIterator") == 0 || strcmp(op, "SubscribeToShard") == 0) {
        out->read_only = true;
    }
}

/* ------------------------------------------------------------------ redaction */

/* Members never copied into a record, whatever the operation: credentials and bulk payloads.
 * Matched case-insensitively on the member name. */
static const char *const dropped[] = {
    "SecretAccessKey", "SessionToken", "Password", "NewPassword", "OldPassword",
    "PrivateKey", "ClientSecret", "Data", "logEvents", "auditEvents", "Records", "events",
    "Events", "Body", "Payload", "ZipFile", "message",
};

static bool is_dropped(const char *name)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(dropped); i++) {
        if (strcasecmp(name, dropped[i]) == 0) {
            return true;
        }
    }
    return false;
}

static cJSON *redact(const cJSON *in, int depth)
{
    if (depth > 32) {
        return cJSON_CreateNull();
    }
    if (cJSON_IsObject(in)) {
        cJSON *o = cJSON_CreateObject();
        for (const cJSON *c = in ? in->child : NULL; o && c; c = c->next) {
            if (!c->string || is_dropped(c->string)) {
                continue;
            }
            cJSON *v = redact(c, depth + 1);
            if (!v) {
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_AddItemToObject(o, c->string, v);
        }
        return o;
    }
    if (cJSON_IsArray(in)) {
        cJSON *a = cJSON_CreateArray();
        for (const cJSON *c = in->child; a && c; c = c->next) {
            cJSON *v = redact(c, depth + 1);
            if (!v) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, v);
        }
        return a;
    }
    return cJSON_Duplicate(in, false);
}

cJSON *ts_ct_redact(const char *op, const cJSON *in)
{
    TS_UNUSED(op);
    return redact(in, 0);
}

/* ------------------------------------------------------------------ record */

static void add_str(cJSON *o, const char *name, const char *v, size_t max)
{
    if (!v) {
        return;
    }
    if (strlen(v) <= max) {
        cJSON_AddStringToObject(o, name, v);
        return;
    }
    /* Truncated at a UTF-8 boundary (AWS truncates these fields at 1 KB). */
    size_t n = max;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) {
        n--;
    }
    char *t = ts_strndup(v, n);
    if (t) {
        cJSON_AddStringToObject(o, name, t);
        ts_free(t);
    }
}

/* Adds requestParameters / responseElements: redacted, null when absent or too large. */
static void add_params(cJSON *rec, const char *name, const char *op, const cJSON *v)
{
    cJSON *r = v && cJSON_IsObject(v) ? ts_ct_redact(op, v) : NULL;
    if (r && !r->child) {
        /* AWS writes null rather than {} for calls without parameters. */
        cJSON_Delete(r);
        r = NULL;
    }
    if (r) {
        char *text = cJSON_PrintUnformatted(r);
        size_t len = text ? strlen(text) : 0;
        cJSON_free(text);
        if (!text || len > TS_CT_PARAMS_MAX) {
            cJSON_Delete(r);
            r = NULL;
        }
    }
    cJSON_AddItemToObject(rec, name, r ? r : cJSON_CreateNull());
}

static void add_identity(cJSON *rec, const struct ts_aws_caller *c)
{
    cJSON *u = cJSON_AddObjectToObject(rec, "userIdentity");
    if (!u) {
        return;
    }
    cJSON_AddStringToObject(u, "type", c->root ? "Root" : "IAMUser");
    cJSON_AddStringToObject(u, "principalId", c->root ? c->account : c->user_id);
    cJSON_AddStringToObject(u, "arn", c->arn);
    cJSON_AddStringToObject(u, "accountId", c->account);
    if (c->access_key[0]) {
        cJSON_AddStringToObject(u, "accessKeyId", c->access_key);
    }
    if (!c->root && c->user_name[0]) {
        cJSON_AddStringToObject(u, "userName", c->user_name);
    }
}

/* The ARN of the resource a data event acted on, from its request parameters. */
static void data_resource_arn(const struct ts_ct_event *ev, const struct ts_ct_class *cls,
                              char *out, size_t out_len)
{
    out[0] = '\0';
    const cJSON *in = ev->request;
    const char *acct = ev->recipient_account ? ev->recipient_account : ev->caller->account;
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(in, "StreamARN");
    if (strcmp(cls->resource_type, "AWS::Kinesis::Stream") == 0) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "StreamName");
        if (cJSON_IsString(arn)) {
            ts_strlcpy(out, arn->valuestring, out_len);
        } else if (cJSON_IsString(name)) {
            snprintf(out, out_len, "arn:aws:kinesis:%s:%s:stream/%s", ev->region, acct,
                     name->valuestring);
        }
    } else if (strcmp(cls->resource_type, "AWS::Logs::LogGroup") == 0) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(in, "logGroupName");
        if (cJSON_IsString(g)) {
            snprintf(out, out_len, "arn:aws:logs:%s:%s:log-group:%s", ev->region, acct,
                     g->valuestring);
        }
    } else if (strcmp(cls->resource_type, "AWS::CloudTrail::Channel") == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(in, "channelArn");
        if (cJSON_IsString(c)) {
            ts_strlcpy(out, c->valuestring, out_len);
        }
    } else if (strcmp(cls->resource_type, "AWS::S3::Object") == 0) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(in, "bucketName");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(in, "key");
        if (cJSON_IsString(b)) {
            snprintf(out, out_len, "arn:aws:s3:::%s/%s", b->valuestring,
                     cJSON_IsString(k) ? k->valuestring : "");
        }
    }
}

int ts_cloudtrail_record_build(const struct ts_ct_event *ev, const struct ts_ct_class *cls,
                               struct ts_buf *out)
{
    char iso[21], uuid[37];
    cJSON *rec = cJSON_CreateObject();
    if (!rec) {
        return TS_ENOMEM;
    }
    const char *acct = ev->recipient_account ? ev->recipient_account : ev->caller->account;
    ts_time_fmt_iso(ev->time_ms, iso);
    cJSON_AddStringToObject(rec, "eventVersion", TS_CT_EVENT_VERSION);
    add_identity(rec, ev->caller);
    cJSON_AddStringToObject(rec, "eventTime", iso);
    cJSON_AddStringToObject(rec, "eventSource", ev->event_source ? ev->event_source
                                                                 : cls->event_source);
    cJSON_AddStringToObject(rec, "eventName", ev->event_name);
    cJSON_AddStringToObject(rec, "awsRegion", ev->region);
    cJSON_AddStringToObject(rec, "sourceIPAddress", ev->source_ip ? ev->source_ip : "");
    add_str(rec, "userAgent", ev->user_agent, TS_CT_FIELD_MAX);
    add_str(rec, "errorCode", ev->error_code, TS_CT_FIELD_MAX);
    add_str(rec, "errorMessage", ev->error_message, TS_CT_FIELD_MAX);
    add_params(rec, "requestParameters", ev->event_name, ev->request);
    /* Read-only calls and failed calls have no response elements. */
    add_params(rec, "responseElements", ev->event_name,
               cls->read_only || ev->error_code ? NULL : ev->response);
    cJSON_AddStringToObject(rec, "requestID", ev->request_id ? ev->request_id : "");
    if (!ev->event_id) {
        ts_uuid4(uuid);
    }
    cJSON_AddStringToObject(rec, "eventID", ev->event_id ? ev->event_id : uuid);
    cJSON_AddBoolToObject(rec, "readOnly", cls->read_only);
    if (cls->data) {
        char arn[TS_AWS_ARN_MAX * 2];
        data_resource_arn(ev, cls, arn, sizeof(arn));
        if (arn[0]) {
            cJSON *res = cJSON_AddArrayToObject(rec, "resources");
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "accountId", acct);
            cJSON_AddStringToObject(r, "type", cls->resource_type);
            cJSON_AddStringToObject(r, "ARN", arn);
            cJSON_AddItemToArray(res, r);
        }
    }
    cJSON_AddStringToObject(rec, "eventType", "AwsApiCall");
    cJSON_AddBoolToObject(rec, "managementEvent", !cls->data);
    cJSON_AddStringToObject(rec, "recipientAccountId", acct);
    cJSON_AddStringToObject(rec, "eventCategory", cls->data ? "Data" : "Management");
    if (ev->tls_version) {
        cJSON *t = cJSON_AddObjectToObject(rec, "tlsDetails");
        cJSON_AddStringToObject(t, "tlsVersion", ev->tls_version);
        cJSON_AddStringToObject(t, "cipherSuite", ev->tls_cipher ? ev->tls_cipher : "");
        cJSON_AddStringToObject(t, "clientProvidedHostHeader", ev->host ? ev->host : "");
    }
    char *text = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    if (!text) {
        return TS_ENOMEM;
    }
    int rc = ts_buf_adds(out, text);
    cJSON_free(text);
    return rc;
}
