/*
 * ct_lookup.c - LookupEvents: event history, the management events of the last 90 days of
 * the caller's account in the request's region, newest first.
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
 *
 * Event history reads the recording partition itself ("cloudtrail/<account>/<region>/events"),
 * seeking by append time; data events and external events (PutAuditEvents, imports) are not
 * part of it, as in AWS. NextToken seals the offset below which the next page starts.
 */
#include <stdio.h>
#include <string.h>

#include "ct_int.h"

#define LOOKUP_BUF ((size_t)4 << 20)
#define LOOKUP_RECS 1024

static const char *const attr_keys[] = {"EventId",      "EventName",    "ReadOnly",
                                        "Username",     "ResourceType", "ResourceName",
                                        "EventSource",  "AccessKeyId"};

struct hit {
    uint64_t offset;
    cJSON *rec;
};

static const char *jstr(const cJSON *o, const char *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, m);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *username(const cJSON *rec)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "userIdentity");
    const char *t = jstr(u, "type");
    if (t && strcmp(t, "Root") == 0) {
        return "root";
    }
    return jstr(u, "userName");
}

static bool matches(const cJSON *rec, const char *key, const char *value)
{
    const char *have = NULL;
    if (strcmp(key, "EventId") == 0) {
        have = jstr(rec, "eventID");
    } else if (strcmp(key, "EventName") == 0) {
        have = jstr(rec, "eventName");
    } else if (strcmp(key, "EventSource") == 0) {
        have = jstr(rec, "eventSource");
    } else if (strcmp(key, "Username") == 0) {
        have = username(rec);
    } else if (strcmp(key, "AccessKeyId") == 0) {
        have = jstr(cJSON_GetObjectItemCaseSensitive(rec, "userIdentity"), "accessKeyId");
    } else if (strcmp(key, "ReadOnly") == 0) {
        have = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "readOnly")) ? "true"
                                                                              : "false";
    } else {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rec, "resources"))
        {
            const char *v = strcmp(key, "ResourceType") == 0 ? jstr(r, "type") : jstr(r, "ARN");
            if (v && strcmp(v, value) == 0) {
                return true;
            }
        }
        return false;
    }
    return have && strcmp(have, value) == 0;
}

static int64_t time_member(const cJSON *in, const char *m, int64_t dflt, bool *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, m);
    if (!v) {
        return dflt;
    }
    if (!cJSON_IsNumber(v)) {
        *bad = true;
        return dflt;
    }
    return (int64_t)(v->valuedouble * 1000.0);
}

static cJSON *event_out(const cJSON *rec, const char *json, size_t len)
{
    cJSON *e = cJSON_CreateObject();
    const char *s;
    if ((s = jstr(rec, "eventID")) != NULL) {
        cJSON_AddStringToObject(e, "EventId", s);
    }
    if ((s = jstr(rec, "eventName")) != NULL) {
        cJSON_AddStringToObject(e, "EventName", s);
    }
    cJSON_AddStringToObject(e, "ReadOnly",
                            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "readOnly"))
                                ? "true"
                                : "false");
    s = jstr(cJSON_GetObjectItemCaseSensitive(rec, "userIdentity"), "accessKeyId");
    if (s) {
        cJSON_AddStringToObject(e, "AccessKeyId", s);
    }
    int64_t ms = 0;
    const char *t = jstr(rec, "eventTime");
    if (t && strlen(t) == 20) {
        /* "YYYY-MM-DDTHH:MM:SSZ" -> "YYYYMMDDTHHMMSSZ" */
        char basic[17] = {t[0], t[1], t[2], t[3], t[5], t[6], t[8], t[9], 'T',
                          t[11], t[12], t[14], t[15], t[17], t[18], 'Z', '\0'};
        ts_time_parse_basic(basic, &ms);
    }
    cJSON_AddNumberToObject(e, "EventTime", (double)(ms / 1000));
    if ((s = jstr(rec, "eventSource")) != NULL) {
        cJSON_AddStringToObject(e, "EventSource", s);
    }
    if ((s = username(rec)) != NULL) {
        cJSON_AddStringToObject(e, "Username", s);
    }
    cJSON *res = cJSON_AddArrayToObject(e, "Resources");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rec, "resources"))
    {
        cJSON *o = cJSON_CreateObject();
        if (jstr(r, "type")) {
            cJSON_AddStringToObject(o, "ResourceType", jstr(r, "type"));
        }
        if (jstr(r, "ARN")) {
            cJSON_AddStringToObject(o, "ResourceName", jstr(r, "ARN"));
        }
        cJSON_AddItemToArray(res, o);
    }
    char *copy = ts_strndup(json, len);
    if (copy) {
        cJSON_AddStringToObject(e, "CloudTrailEvent", copy);
        ts_free(copy);
    }
    return e;
}

int ct_op_lookup_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                        struct ts_aws_error *err)
{
    struct ts_cloudtrail *ct = c;
    const cJSON *in = req->input;
    int64_t max = 50;
    /* Read your writes: every call answered before this one is in event history. */
    ct_recorder_wait(ct, UINT64_MAX, 5000);
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(in, "MaxResults");
    if (mr && (!cJSON_IsNumber(mr) || mr->valuedouble < 1 || mr->valuedouble > 50)) {
        return ts_aws_fail(err, "InvalidMaxResultsException",
                           "Value for MaxResults is invalid: it must be between 1 and 50.");
    }
    if (mr) {
        max = (int64_t)mr->valuedouble;
    }
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(in, "LookupAttributes");
    const char *akey = NULL, *aval = NULL;
    if (attrs && (!cJSON_IsArray(attrs) || cJSON_GetArraySize(attrs) > 1)) {
        return ts_aws_fail(err, "InvalidLookupAttributesException",
                           "You can only specify one lookup attribute.");
    }
    if (cJSON_GetArraySize(attrs) == 1) {
        const cJSON *a = cJSON_GetArrayItem(attrs, 0);
        akey = jstr(a, "AttributeKey");
        aval = jstr(a, "AttributeValue");
        bool known = false;
        for (size_t i = 0; akey && i < TS_ARRAY_LEN(attr_keys); i++) {
            known = known || strcmp(akey, attr_keys[i]) == 0;
        }
        if (!known || !aval || strlen(aval) > 2000) {
            return ts_aws_fail(err, "InvalidLookupAttributesException",
                               "The lookup attribute is invalid.");
        }
    }
    const char *cat = jstr(in, "EventCategory");
    if (cat && strcmp(cat, "insight") != 0) {
        return ts_aws_fail(err, "InvalidEventCategoryException",
                           "EventCategory must be insight.");
    }
    bool bad = false;
    int64_t now = req->now_ms;
    int64_t start = time_member(in, "StartTime", now - CT_HISTORY_MS, &bad);
    int64_t end = time_member(in, "EndTime", now, &bad);
    if (bad || start > end) {
        return ts_aws_fail(err, "InvalidTimeRangeException",
                           "Start time must be before end time.");
    }
    start = TS_MAX(start, now - CT_HISTORY_MS);
    resp->output = cJSON_CreateObject();
    cJSON *events = cJSON_AddArrayToObject(resp->output, "Events");
    if (cat) {
        return 0; /* no Insights events are generated */
    }
    char pname[256], scope[300];
    ct_events_partition(req->caller.account, req->region, pname, sizeof(pname));
    snprintf(scope, sizeof(scope), "lookup|%s|%s|", req->caller.account, req->region);
    uint64_t hi = UINT64_MAX;
    const char *tok = jstr(in, "NextToken");
    if (tok) {
        struct ts_buf tb;
        ts_buf_init(&tb, 512);
        int64_t v = -1;
        if (ts_aws_token_open(ct->ctx.secret, tok, &tb) != 0 ||
            !ts_str_has_prefix(tb.data, scope) || ts_parse_i64(tb.data + strlen(scope), &v) ||
            v < 0) {
            ts_buf_free(&tb);
            return ts_aws_fail(err, "InvalidNextTokenException", "Invalid NextToken.");
        }
        ts_buf_free(&tb);
        hi = (uint64_t)v;
    }
    struct ts_partition *p = NULL;
    int rc = ts_store_partition(ct->ctx.store, pname, false, &p);
    if (rc == TS_ENOTFOUND) {
        return 0;
    }
    if (rc) {
        return ts_aws_fail(err, "InternalFailure", "Storage error: %s", ts_strerror(rc));
    }
    uint64_t lo = 0, hi_time = 0;
    /* Append times follow eventTime (the request's start) by the request's duration: read a
     * minute around the range and filter on eventTime. */
    ts_partition_find_time(p, start - 60000, &lo);
    ts_partition_find_time(p, end + 61000, &hi_time);
    hi = TS_MIN(hi, hi_time);
    uint8_t *buf = ts_malloc(LOOKUP_BUF);
    struct ts_record *recs = ts_calloc(LOOKUP_RECS, sizeof(*recs));
    struct hit *ring = ts_calloc((size_t)max, sizeof(*ring));
    if (!buf || !recs || !ring) {
        ts_free(buf);
        ts_free(recs);
        ts_free(ring);
        return ts_aws_fail(err, "InternalFailure", "Out of memory.");
    }
    size_t total = 0;
    uint64_t off = lo;
    char t0[21], t1[21];
    ts_time_fmt_iso(start, t0);
    ts_time_fmt_iso(end, t1);
    while (off < hi && rc == 0) {
        size_t n = 0;
        uint64_t next = off;
        rc = ts_partition_read(p, off, buf, LOOKUP_BUF, recs, LOOKUP_RECS, &n, &next);
        if (rc || n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct ts_record *r = &recs[i];
            if (r->gap || r->offset >= hi) {
                continue;
            }
            uint8_t flags;
            const char *rtype, *rarn, *json;
            size_t jlen;
            if (ct_split_record(r->data, r->len, &flags, &rtype, &rarn, &json, &jlen) ||
                (flags & (TS_CT_F_DATA | TS_CT_F_EXTERNAL))) {
                continue;
            }
            if (aval && !memmem(json, jlen, aval, strlen(aval)) &&
                strcmp(akey, "ReadOnly") != 0) {
                continue;
            }
            cJSON *rec = cJSON_ParseWithLength(json, jlen);
            const char *et = rec ? jstr(rec, "eventTime") : NULL;
            if (!et || strcmp(et, t0) < 0 || strcmp(et, t1) > 0 ||
                (akey && !matches(rec, akey, aval))) {
                cJSON_Delete(rec);
                continue;
            }
            /* Keep the newest `max` hits: a ring over the scan. */
            struct hit *h = &ring[total % (size_t)max];
            cJSON_Delete(h->rec);
            h->offset = r->offset;
            h->rec = cJSON_CreateObject();
            cJSON_AddItemToObject(h->rec, "r", rec);
            char *copy = ts_strndup(json, jlen);
            cJSON_AddStringToObject(h->rec, "j", copy ? copy : "{}");
            ts_free(copy);
            total++;
        }
        off = next;
    }
    size_t kept = TS_MIN(total, (size_t)max);
    uint64_t oldest = UINT64_MAX;
    for (size_t k = 0; k < kept; k++) {
        struct hit *h = &ring[(total - 1 - k) % (size_t)max];
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(h->rec, "r");
        const char *j = jstr(h->rec, "j");
        cJSON_AddItemToArray(events, event_out(rec, j, strlen(j)));
        oldest = TS_MIN(oldest, h->offset);
    }
    for (size_t k = 0; k < (size_t)max; k++) {
        cJSON_Delete(ring[k].rec);
    }
    if (total > (size_t)max) {
        char pos[400];
        snprintf(pos, sizeof(pos), "%s%llu", scope, (unsigned long long)oldest);
        struct ts_buf tb;
        ts_buf_init(&tb, 1024);
        if (ts_aws_token_seal(ct->ctx.secret, pos, strlen(pos), &tb) == 0) {
            cJSON_AddStringToObject(resp->output, "NextToken", tb.data);
        }
        ts_buf_free(&tb);
    }
    ts_free(buf);
    ts_free(recs);
    ts_free(ring);
    if (rc && rc != TS_ERANGE) {
        return ts_aws_fail(err, "InternalFailure", "Storage error: %s", ts_strerror(rc));
    }
    return 0;
}
