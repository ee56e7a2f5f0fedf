/*
 * ct_channels.c - CloudTrail Lake channels (CreateChannel, GetChannel, ListChannels) and the
 * ingestion API PutAuditEvents (service cloudtrail-data, rest-json).
 *
 * https://docs.aws.amazon.com/awscloudtraildata/latest/APIReference/API_PutAuditEvents.html
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-integration-custom.html
 *
 * A channel is a ts_meta "trail" document of its owner under key "~channel/<id>". Its
 * destinations are event data store ARNs in AWS; here a destination Location may also be a
 * trail ARN of the owner, and accepted events are delivered to those trails (the same path as
 * API-call records). Accepted events are stored as one durable batch before the response.
 */
#include <stdio.h>
#include <string.h>

#include "ct_int.h"

#define AUDIT_MAX_EVENTS 100
#define AUDIT_MAX_BYTES (1024 * 1024)

static const char *jstr(const cJSON *o, const char *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, m);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int store_error(struct ts_aws_error *err, int rc)
{
    return ts_aws_fail(err, "InternalFailure", "Storage error: %s", ts_strerror(rc));
}

/* Loads a channel by ARN or id. Returns 0, or fills err with the documented codes. */
static int load_channel(struct ts_cloudtrail *ct, const struct ts_aws_req *req, const char *ref,
                        bool data_api, cJSON **doc, struct ts_aws_error *err)
{
    char acct[13];
    const char *id = ref;
    ts_strlcpy(acct, req->caller.account, sizeof(acct));
    if (ts_str_has_prefix(ref, "arn:")) {
        /* arn:aws:cloudtrail:<region>:<account>:channel/<id> */
        const char *c = strstr(ref, ":channel/");
        const char *a = c ? c - 12 : NULL;
        if (!ts_str_has_prefix(ref, "arn:aws:cloudtrail:") || !a || a < ref + 20 || a[-1] != ':') {
            return ts_aws_fail(err, data_api ? "InvalidChannelARN" : "ChannelARNInvalidException",
                               "The channel ARN %.300s is not valid.", ref);
        }
        memcpy(acct, a, 12);
        acct[12] = '\0';
        id = c + 9;
    }
    size_t idlen = strlen(id);
    if (idlen < 3 || idlen > 128 || strchr(id, '/')) {
        return ts_aws_fail(err, data_api ? "InvalidChannelARN" : "ChannelARNInvalidException",
                           "The channel ARN %.300s is not valid.", ref);
    }
    char key[CT_KEY_MAX];
    snprintf(key, sizeof(key), "~channel/%s", id);
    struct ts_buf b;
    ts_buf_init(&b, CT_DOC_MAX);
    int rc = ts_meta_get(ct->ctx.meta, "trail", acct, key, &b);
    if (rc == TS_ENOTFOUND) {
        ts_buf_free(&b);
        return ts_aws_fail(err, data_api ? "ChannelNotFound" : "ChannelNotFoundException",
                           "The channel %.300s was not found.", ref);
    }
    if (rc) {
        ts_buf_free(&b);
        return store_error(err, rc);
    }
    if (strcmp(acct, req->caller.account) != 0) {
        ts_buf_free(&b);
        return ts_aws_fail(err, data_api ? "ChannelInsufficientPermission"
                                         : "ChannelNotFoundException",
                           "The caller's account ID must be the same as the channel owner's "
                           "account ID.");
    }
    *doc = cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    return *doc ? 0 : store_error(err, TS_ECORRUPT);
}

struct name_check {
    const char *name;
    bool found;
    cJSON *list;
};

static int channel_each(void *arg, const char *account, const char *key, const char *json)
{
    struct name_check *nc = arg;
    TS_UNUSED(account);
    if (!ts_str_has_prefix(key, "~channel/")) {
        return 0;
    }
    cJSON *doc = cJSON_Parse(json);
    const char *n = jstr(doc, "Name");
    if (nc->name && n && strcmp(n, nc->name) == 0) {
        nc->found = true;
    }
    if (nc->list && n) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ChannelArn", jstr(doc, "ChannelArn"));
        cJSON_AddStringToObject(o, "Name", n);
        cJSON_AddItemToArray(nc->list, o);
    }
    cJSON_Delete(doc);
    return 0;
}

int ct_op_create_channel(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                         struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    const char *name = jstr(req->input, "Name");
    const char *source = jstr(req->input, "Source");
    const cJSON *dest = cJSON_GetObjectItemCaseSensitive(req->input, "Destinations");
    if (!name || strlen(name) < 3 || strlen(name) > 128) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Channel name must be 3 to 128 characters.");
    }
    if (!source || !source[0]) {
        return ts_aws_fail(err, "InvalidSourceException", "Source must be a string.");
    }
    int nd = cJSON_GetArraySize(dest);
    if (!cJSON_IsArray(dest) || nd < 1 || nd > 200) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "A channel needs 1 to 200 destinations.");
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, dest)
    {
        const char *type = jstr(d, "Type"), *loc = jstr(d, "Location");
        if (!type || !loc ||
            (strcmp(type, "EVENT_DATA_STORE") != 0 && strcmp(type, "AWS_SERVICE") != 0)) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "Each destination needs Type EVENT_DATA_STORE or AWS_SERVICE "
                               "and a Location.");
        }
    }
    struct name_check nc = {name, false, NULL};
    ts_meta_list(ct->ctx.meta, "trail", req->caller.account, "~channel/", channel_each, &nc);
    if (nc.found) {
        return ts_aws_fail(err, "ChannelAlreadyExistsException",
                           "A channel named %.128s already exists.", name);
    }
    char id[37], arn[TS_AWS_ARN_MAX], key[CT_KEY_MAX];
    ts_uuid4(id);
    snprintf(arn, sizeof(arn), "arn:aws:cloudtrail:%s:%s:channel/%s", req->region,
             req->caller.account, id);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "ChannelArn", arn);
    cJSON_AddStringToObject(doc, "Name", name);
    cJSON_AddStringToObject(doc, "Source", source);
    cJSON_AddItemToObject(doc, "Destinations", cJSON_Duplicate(dest, true));
    cJSON_AddStringToObject(doc, "_region", req->region);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(req->input, "Tags");
    snprintf(key, sizeof(key), "~channel/%s", id);
    char *text = cJSON_PrintUnformatted(doc);
    int rc = text ? ts_meta_create(ct->ctx.meta, "trail", req->caller.account, key, text)
                  : TS_ENOMEM;
    cJSON_free(text);
    if (rc) {
        cJSON_Delete(doc);
        return store_error(err, rc);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "_region");
    if (tags) {
        cJSON_AddItemToObject(doc, "Tags", cJSON_Duplicate(tags, true));
    }
    resp->output = doc;
    return 0;
}

int ct_op_get_channel(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                      struct ts_aws_error *err)
{
    const char *ref = jstr(req->input, "Channel");
    cJSON *doc = NULL;
    int rc = ref ? load_channel(c, req, ref, false, &doc, err)
                 : ts_aws_fail(err, "ChannelARNInvalidException", "Channel must be a string.");
    if (rc) {
        return rc;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "_region");
    cJSON *sc = cJSON_AddObjectToObject(doc, "SourceConfig");
    cJSON_AddBoolToObject(sc, "ApplyToAllRegions", false);
    cJSON_AddArrayToObject(sc, "AdvancedEventSelectors");
    cJSON_AddObjectToObject(doc, "IngestionStatus");
    resp->output = doc;
    return 0;
}

int ct_op_list_channels(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    struct name_check nc = {NULL, false, cJSON_CreateArray()};
    int rc = ts_meta_list(ct->ctx.meta, "trail", req->caller.account, "~channel/", channel_each,
                          &nc);
    if (rc) {
        cJSON_Delete(nc.list);
        return store_error(err, rc);
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "Channels", nc.list);
    return 0;
}

/* ------------------------------------------------------------------ PutAuditEvents */

/* A query-string parameter, decoded. Returns 0 or TS_ENOENT. */
static int query_param(const char *q, const char *name, struct ts_buf *out)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            return ts_url_decode(p + nl + 1, len - nl - 1, true, out);
        }
        p = amp ? amp + 1 : NULL;
    }
    return TS_ENOENT;
}

struct field_rule {
    const char *name;
    bool required;
    size_t max;
    bool object; /* JSON value measured as serialized text */
};

static const struct field_rule rules[] = {
    {"version", true, 256, false},        {"eventSource", true, 1024, false},
    {"eventName", true, 1024, false},     {"eventTime", true, 64, false},
    {"UID", true, 1024, false},           {"recipientAccountId", true, 12, false},
    {"userAgent", false, 1024, false},    {"errorCode", false, 256, false},
    {"errorMessage", false, 256, false},  {"sourceIPAddress", false, 64, false},
    {"requestParameters", false, 100 * 1024, true},
    {"responseElements", false, 100 * 1024, true},
    {"additionalEventData", false, 28 * 1024, true},
};

/* Validates one eventData document; returns NULL or the per-event error code (message in
 * msg). */
static const char *check_event(const cJSON *ev, const char *owner, char *msg, size_t msg_len)
{
    if (!cJSON_IsObject(ev)) {
        snprintf(msg, msg_len, "eventData is not a JSON object.");
        return "InvalidData";
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(rules); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, rules[i].name);
        if (!v) {
            if (rules[i].required) {
                snprintf(msg, msg_len, "Required field %s is missing.", rules[i].name);
                return "FieldNotFound";
            }
            continue;
        }
        size_t len = 0;
        if (rules[i].object) {
            char *t = cJSON_PrintUnformatted(v);
            len = t ? strlen(t) : 0;
            cJSON_free(t);
        } else if (cJSON_IsString(v)) {
            len = strlen(v->valuestring);
        } else {
            snprintf(msg, msg_len, "Field %s must be a string.", rules[i].name);
            return "InvalidData";
        }
        if (len > rules[i].max) {
            snprintf(msg, msg_len, "Field %s is longer than %zu.", rules[i].name, rules[i].max);
            return "FieldTooLong";
        }
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(ev, "userIdentity");
    if (!cJSON_IsObject(u)) {
        snprintf(msg, msg_len, "Required field userIdentity is missing.");
        return u ? "InvalidData" : "FieldNotFound";
    }
    const char *ut = jstr(u, "type"), *up = jstr(u, "principalId");
    if (!ut || !up) {
        snprintf(msg, msg_len, "Required field userIdentity.%s is missing.",
                 ut ? "principalId" : "type");
        return "FieldNotFound";
    }
    if (strlen(ut) > 128 || strlen(up) > 1024) {
        snprintf(msg, msg_len, "Field userIdentity.%s is too long.",
                 strlen(ut) > 128 ? "type" : "principalId");
        return "FieldTooLong";
    }
    const char *t = jstr(ev, "eventTime");
    int64_t ms;
    char basic[17];
    if (strlen(t) < 19 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':') {
        snprintf(msg, msg_len, "eventTime must be yyyy-MM-DDTHH:mm:ss.");
        return "InvalidData";
    }
    snprintf(basic, sizeof(basic), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", t, t + 5, t + 8, t + 11,
             t + 14, t + 17);
    if (ts_time_parse_basic(basic, &ms) != 0) {
        snprintf(msg, msg_len, "eventTime must be yyyy-MM-DDTHH:mm:ss.");
        return "InvalidData";
    }
    if (strcmp(jstr(ev, "recipientAccountId"), owner) != 0) {
        snprintf(msg, msg_len, "recipientAccountId must be the channel owner's account.");
        return "InvalidRecipient";
    }
    return NULL;
}

static bool valid_event_id(const char *id)
{
    size_t n = strlen(id);
    if (n < 1 || n > 128) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

static void add_failed(cJSON *failed, const char *id, const char *code, const char *msg)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "id", id);
    cJSON_AddStringToObject(f, "errorCode", code);
    cJSON_AddStringToObject(f, "errorMessage", msg);
    cJSON_AddItemToArray(failed, f);
}

int ct_op_put_audit_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    struct ts_buf q;
    ts_buf_init(&q, 4096);
    if (query_param(req->http->query, "channelArn", &q) != 0 || q.len == 0) {
        ts_buf_free(&q);
        return ts_aws_fail(err, "ValidationException",
                           "1 validation error detected: Value null at 'channelArn' failed to "
                           "satisfy constraint: Member must not be null");
    }
    cJSON *chan = NULL;
    int rc = load_channel(ct, req, q.data, true, &chan, err);
    ts_buf_free(&q);
    if (rc) {
        return rc;
    }
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(req->input, "auditEvents");
    int n = cJSON_GetArraySize(events);
    if (!cJSON_IsArray(events) || n < 1 || n > AUDIT_MAX_EVENTS ||
        req->http->body_len > AUDIT_MAX_BYTES) {
        cJSON_Delete(chan);
        return ts_aws_fail(err, "ValidationException",
                           "auditEvents must hold 1 to %d events and at most 1 MB.",
                           AUDIT_MAX_EVENTS);
    }
    /* Duplicate ids refuse the whole request. */
    for (int i = 0; i < n; i++) {
        const char *a = jstr(cJSON_GetArrayItem(events, i), "id");
        for (int k = 0; a && k < i; k++) {
            const char *b = jstr(cJSON_GetArrayItem(events, k), "id");
            if (b && strcmp(a, b) == 0) {
                cJSON_Delete(chan);
                return ts_aws_fail(err, "DuplicatedAuditEventId",
                                   "Duplicate audit event id %.128s.", a);
            }
        }
    }
    /* Destination trails of the channel: those listed as destinations. */
    struct ts_buf dests;
    ts_buf_init(&dests, 64 * 1024);
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(chan, "Destinations"))
    {
        const char *loc = jstr(d, "Location");
        if (loc && strstr(loc, ":trail/")) {
            if (dests.len) {
                ts_buf_addc(&dests, ' ');
            }
            ts_buf_adds(&dests, loc);
        }
    }
    if (!dests.len) {
        ts_buf_adds(&dests, "-"); /* no trail destination: stored, never delivered */
    }
    const char *owner = req->caller.account;
    const char *chan_arn = jstr(chan, "ChannelArn");
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    char **recs = ts_calloc((size_t)n, sizeof(char *));
    size_t *lens = ts_calloc((size_t)n, sizeof(size_t));
    uint8_t *flags = ts_calloc((size_t)n, 1);
    size_t m = 0;
    char iso[21];
    ts_time_fmt_iso(req->now_ms, iso);
    for (int i = 0; recs && lens && flags && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(events, i);
        const char *id = jstr(e, "id"), *data = jstr(e, "eventData");
        const char *sum = jstr(e, "eventDataChecksum");
        char msg[300];
        if (!id || !valid_event_id(id)) {
            add_failed(failed, id ? id : "", "InvalidData", "id is missing or malformed.");
            continue;
        }
        if (!data) {
            add_failed(failed, id, "FieldNotFound", "eventData is missing.");
            continue;
        }
        if (sum) {
            uint8_t h[TS_SHA256_LEN];
            struct ts_buf b64;
            ts_buf_init(&b64, 128);
            ts_sha256(data, strlen(data), h);
            ts_base64_encode(h, sizeof(h), &b64);
            bool match = b64.data && strcmp(b64.data, sum) == 0;
            ts_buf_free(&b64);
            if (!match) {
                add_failed(failed, id, "InvalidChecksum",
                           "eventDataChecksum does not match the SHA-256 of eventData.");
                continue;
            }
        }
        cJSON *ev = cJSON_Parse(data);
        const char *code = check_event(ev, owner, msg, sizeof(msg));
        if (code) {
            add_failed(failed, id, code, msg);
            cJSON_Delete(ev);
            continue;
        }
        char eid[37];
        ts_uuid4(eid);
        /* The stored envelope of a CloudTrail Lake activity event. */
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "eventVersion", jstr(ev, "version"));
        cJSON_AddStringToObject(rec, "eventCategory", "ActivityAuditLog");
        cJSON_AddStringToObject(rec, "eventType", "ActivityLog");
        cJSON_AddStringToObject(rec, "eventID", eid);
        cJSON_AddStringToObject(rec, "eventTime", iso);
        cJSON_AddStringToObject(rec, "awsRegion", req->region);
        cJSON_AddStringToObject(rec, "recipientAccountId", owner);
        cJSON_AddItemToObject(rec, "eventData", ev);
        cJSON *md = cJSON_AddObjectToObject(rec, "metadata");
        cJSON_AddStringToObject(md, "ingestionTime", iso);
        cJSON_AddStringToObject(md, "channelARN", chan_arn ? chan_arn : "");
        recs[m] = cJSON_PrintUnformatted(rec);
        cJSON_Delete(rec);
        if (!recs[m] || strlen(recs[m]) > TS_CT_RECORD_MAX) {
            cJSON_free(recs[m]);
            recs[m] = NULL;
            add_failed(failed, id, "FieldTooLong", "The event is larger than 256 KB.");
            continue;
        }
        lens[m] = strlen(recs[m]);
        flags[m] = TS_CT_F_EXTERNAL;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "id", id);
        cJSON_AddStringToObject(s, "eventID", eid);
        cJSON_AddItemToArray(ok, s);
        m++;
    }
    const char *region = jstr(chan, "_region");
    rc = !recs || !lens || !flags ? TS_ENOMEM
                                  : ct_append_batch(ct, owner, region ? region : req->region,
                                                    flags, "TS::Channel", dests.data,
                                                    (const char *const *)recs, lens, m);
    for (size_t i = 0; recs && i < m; i++) {
        cJSON_free(recs[i]);
    }
    ts_free(recs);
    ts_free(lens);
    ts_free(flags);
    ts_buf_free(&dests);
    cJSON_Delete(chan);
    if (rc) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return store_error(err, rc);
    }
    resp->output = cJSON_CreateObject();
    cJSON_AddItemToObject(resp->output, "successful", ok);
    cJSON_AddItemToObject(resp->output, "failed", failed);
    return 0;
}
