/*
 * logs_streams.c - log streams: create, delete, describe.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"

int ts_logs_decode_record(const uint8_t *data, size_t len, int64_t ingestion_ms,
                          uint64_t offset, struct ts_logs_event *ev)
{
    if (len < 8) {
        return TS_ECORRUPT;
    }
    uint64_t t = 0;
    for (int i = 7; i >= 0; i--) {
        t = (t << 8) | data[i];
    }
    ev->timestamp = (int64_t)t;
    ev->ingestion_ms = ingestion_ms;
    ev->offset = offset;
    ev->message = (const char *)data + 8;
    ev->message_len = len - 8;
    return 0;
}

void ts_logs_event_id(uint64_t stream_id, int64_t timestamp, uint64_t offset, char out[57])
{
    /* 56 digits as AWS's ids have: the event time, 16 digits of the stream id and the offset,
     * so ids are unique per group and sort by time. */
    snprintf(out, 57, "%020llu%016llu%020llu", (unsigned long long)(timestamp < 0 ? 0 : timestamp),
             (unsigned long long)(stream_id % 10000000000000000ull), (unsigned long long)offset);
}

/* Reads the record at `offset` of a partition into ev (message copied into buf). */
static int read_one(struct ts_partition *p, uint64_t offset, struct ts_buf *buf,
                    struct ts_logs_event *ev)
{
    struct ts_record rec;
    size_t n = 0;
    uint64_t next;
    int rc = ts_partition_read(p, offset, buf->data, buf->cap, &rec, 1, &n, &next);
    if (rc || n != 1 || rec.gap) {
        return rc ? rc : TS_ENOTFOUND;
    }
    return ts_logs_decode_record(rec.data, rec.len, rec.ts_ms, rec.offset, ev);
}

/* ------------------------------------------------------------------ create / delete */

int logs_op_create_log_stream(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *stream = NULL;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || (rc = logs_opt_string(req->input, "logStreamName", &stream, err)) < 0 ||
        (rc = logs_check_stream_name(stream, err, "logStreamName")) != 0) {
        return rc ? rc : TS_EINVAL;
    }
    cJSON *gdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    uint64_t id;
    if (ts_random(&id, sizeof(id)) != 0) {
        return logs_storage_error(err, TS_EIO);
    }
    char idhex[17];
    snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)id);
    cJSON *doc = cJSON_CreateObject();
    if (!doc) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    cJSON_AddStringToObject(doc, "logStreamName", stream);
    cJSON_AddNumberToObject(doc, "creationTime", (double)req->now_ms);
    cJSON_AddStringToObject(doc, "streamId", idhex);
    char key[LOGS_KEY_MAX];
    logs_stream_key(req->region, group, stream, key);
    rc = logs_put_doc(l, "log_stream", req->caller.account, key, doc, true, err);
    cJSON_Delete(doc);
    if (rc) {
        return rc;
    }
    /* The partition is created now so the first PutLogEvents pays nothing; PutLogEvents also
     * creates it if a crash came in between. */
    char pname[TS_STORE_NAME_MAX];
    struct ts_partition *p;
    if (ts_logs_partition_name(req->caller.account, req->region, group, stream, id, pname,
                               sizeof(pname)) == 0) {
        ts_store_partition(l->ctx.store, pname, true, &p);
    }
    return 0;
}

static int delete_stream(struct ts_logs *l, const char *account, const char *region,
                         const char *group, const char *stream, uint64_t id)
{
    char key[LOGS_KEY_MAX];
    logs_stream_key(region, group, stream, key);
    int rc = ts_meta_delete(l->ctx.meta, "log_stream", account, key);
    if (rc) {
        return rc;
    }
    /* Forget the id PutLogEvents may have cached with the group (after the delete: a reload
     * can no longer find the stream). */
    char gkey[LOGS_KEY_MAX];
    logs_group_key(region, group, gkey);
    logs_group_info_invalidate(l, account, gkey);
    /* The document went first: the stream no longer exists for any call, then its data. */
    char pname[TS_STORE_NAME_MAX];
    if (ts_logs_partition_name(account, region, group, stream, id, pname, sizeof(pname)) == 0) {
        rc = ts_store_partition_delete(l->ctx.store, pname);
        if (rc == TS_ENOTFOUND) {
            rc = 0;
        }
    }
    return rc;
}

int logs_op_delete_log_stream(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *stream = NULL;
    int rc = logs_group_arg(req, group, sizeof(group), false, err);
    if (rc || (rc = logs_opt_string(req->input, "logStreamName", &stream, err)) < 0 ||
        (rc = logs_check_stream_name(stream, err, "logStreamName")) != 0) {
        return rc ? rc : TS_EINVAL;
    }
    cJSON *gdoc = NULL, *sdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    if ((rc = logs_load_stream(l, req, group, stream, &sdoc, err)) != 0) {
        return rc;
    }
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(sdoc, "streamId");
    uint64_t id = cJSON_IsString(sid) ? strtoull(sid->valuestring, NULL, 16) : 0;
    cJSON_Delete(sdoc);
    rc = delete_stream(l, req->caller.account, req->region, group, stream, id);
    if (rc == TS_ENOTFOUND) {
        return ts_aws_fail(err, "ResourceNotFoundException",
                           "The specified log stream does not exist.");
    }
    return rc ? logs_storage_error(err, rc) : 0;
}

/* ------------------------------------------------------------------ iteration */

struct each {
    size_t skip; /* length of "<region>:<group>:" */
    logs_stream_fn fn;
    void *arg;
};

static int each_cb(void *arg, const char *account, const char *key, const char *json)
{
    struct each *e = arg;
    TS_UNUSED(account);
    return e->fn(e->arg, key + e->skip, logs_stream_id_of(json));
}

int logs_each_stream(struct ts_logs *l, const char *account, const char *region,
                     const char *group, const char *name_prefix, logs_stream_fn fn, void *arg)
{
    char prefix[LOGS_KEY_MAX];
    int n = snprintf(prefix, sizeof(prefix), "%s:%s:", region, group);
    struct each e = {(size_t)n, fn, arg};
    if (name_prefix) {
        ts_strlcpy(prefix + n, name_prefix, sizeof(prefix) - (size_t)n);
    }
    return ts_meta_list(l->ctx.meta, "log_stream", account, prefix, each_cb, &e);
}

struct del_all {
    struct ts_logs *l;
    const char *account, *region, *group;
    char (*names)[LOGS_STREAM_NAME_MAX + 1];
    uint64_t *ids;
    size_t n, cap;
};

static int collect_stream(void *arg, const char *stream, uint64_t id)
{
    struct del_all *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        void *names = ts_realloc(d->names, cap * sizeof(*d->names));
        if (!names) {
            return TS_ENOMEM;
        }
        d->names = names;
        uint64_t *ids = ts_realloc(d->ids, cap * sizeof(*ids));
        if (!ids) {
            return TS_ENOMEM;
        }
        d->ids = ids;
        d->cap = cap;
    }
    ts_strlcpy(d->names[d->n], stream, sizeof(d->names[0]));
    d->ids[d->n++] = id;
    return 0;
}

int logs_delete_group_streams(struct ts_logs *l, const char *account, const char *region,
                              const char *group)
{
    struct del_all d = {l, account, region, group, NULL, NULL, 0, 0};
    /* Collect first: deleting while the metadata listing holds its cursor is not allowed. */
    int rc = logs_each_stream(l, account, region, group, NULL, collect_stream, &d);
    for (size_t i = 0; !rc && i < d.n; i++) {
        rc = delete_stream(l, account, region, group, d.names[i], d.ids[i]);
        if (rc == TS_ENOTFOUND) {
            rc = 0;
        }
    }
    ts_free(d.names);
    ts_free(d.ids);
    return rc;
}

/* ------------------------------------------------------------------ describe */

struct stream_row {
    char name[LOGS_STREAM_NAME_MAX + 1];
    uint64_t id;
    int64_t creation;
    int64_t first_ts, last_ts, last_ingest; /* -1 when the stream is empty */
};

struct describe {
    struct ts_logs *l;
    struct ts_aws_req *req;
    const char *group;
    struct stream_row *rows;
    size_t n, cap;
    int rc;
};

static int describe_collect(void *arg, const char *account, const char *key, const char *json)
{
    struct describe *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct stream_row *rows = ts_realloc(d->rows, cap * sizeof(*rows));
        if (!rows) {
            d->rc = TS_ENOMEM;
            return 1;
        }
        d->rows = rows;
        d->cap = cap;
    }
    struct stream_row *r = &d->rows[d->n++];
    memset(r, 0, sizeof(*r));
    size_t skip = strlen(d->req->region) + 1 + strlen(d->group) + 1;
    ts_strlcpy(r->name, key + skip, sizeof(r->name));
    cJSON *doc = cJSON_Parse(json);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(doc, "creationTime");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(doc, "streamId");
    r->creation = cJSON_IsNumber(ct) ? (int64_t)ct->valuedouble : 0;
    r->id = cJSON_IsString(sid) ? strtoull(sid->valuestring, NULL, 16) : 0;
    cJSON_Delete(doc);
    r->first_ts = r->last_ts = r->last_ingest = -1;
    TS_UNUSED(account);
    return 0;
}

/* Fills the event-time fields of a row from its partition's first and last records. */
static void stream_times(struct ts_logs *l, struct ts_aws_req *req, const char *group,
                         struct stream_row *r, struct ts_buf *buf)
{
    char pname[TS_STORE_NAME_MAX];
    struct ts_partition *p;
    if (ts_logs_partition_name(req->caller.account, req->region, group, r->name, r->id, pname,
                               sizeof(pname)) != 0 ||
        ts_store_partition(l->ctx.store, pname, false, &p) != 0) {
        return;
    }
    uint64_t start = ts_partition_start_offset(p), end = ts_partition_end_offset(p);
    struct ts_logs_event ev;
    if (end > start && read_one(p, start, buf, &ev) == 0) {
        r->first_ts = ev.timestamp;
    }
    if (end > start && read_one(p, end - 1, buf, &ev) == 0) {
        r->last_ts = ev.timestamp;
        r->last_ingest = ev.ingestion_ms;
    }
}

static int cmp_last_event(const void *a, const void *b)
{
    const struct stream_row *x = a, *y = b;
    if (x->last_ts != y->last_ts) {
        return x->last_ts < y->last_ts ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

int logs_op_describe_log_streams(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                                 struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *prefix = NULL, *order = NULL, *token = NULL;
    bool desc = false;
    int64_t limit = 50;
    int rc = logs_group_arg(req, group, sizeof(group), true, err);
    if (rc || logs_opt_string(req->input, "logStreamNamePrefix", &prefix, err) < 0 ||
        logs_opt_string(req->input, "orderBy", &order, err) < 0 ||
        logs_opt_string(req->input, "nextToken", &token, err) < 0 ||
        logs_opt_bool(req->input, "descending", &desc, err) < 0 ||
        logs_opt_int(req->input, "limit", &limit, err) < 0) {
        return TS_EINVAL;
    }
    bool by_time = false;
    if (order) {
        if (strcmp(order, "LastEventTime") == 0) {
            by_time = true;
        } else if (strcmp(order, "LogStreamName") != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "1 validation error detected: Value '%.64s' at 'orderBy' failed "
                               "to satisfy constraint: Member must satisfy enum value set: "
                               "[LogStreamName, LastEventTime]",
                               order);
        }
    }
    if (by_time && prefix) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "Cannot order by LastEventTime with a logStreamNamePrefix.");
    }
    if (limit < 1 || limit > 50) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 50",
                           (long long)limit);
    }
    cJSON *gdoc = NULL;
    if ((rc = logs_load_group(l, req, group, &gdoc, err)) != 0) {
        return rc;
    }
    cJSON_Delete(gdoc);
    char scope[LOGS_KEY_MAX + 64];
    snprintf(scope, sizeof(scope), "%s|%s|%d|%d", group, prefix ? prefix : "", by_time, desc);
    char pos[32] = "0";
    if (token &&
        logs_token_read(l, "streams", req, scope, token, pos, sizeof(pos), err) != 0) {
        return TS_EINVAL;
    }
    int64_t start_index = 0;
    if (ts_parse_i64(pos, &start_index) || start_index < 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "The specified nextToken is invalid.");
    }
    struct describe d = {l, req, group, NULL, 0, 0, 0};
    char key_prefix[LOGS_KEY_MAX];
    snprintf(key_prefix, sizeof(key_prefix), "%s:%s:%s", req->region, group,
             prefix ? prefix : "");
    rc = ts_meta_list(l->ctx.meta, "log_stream", req->caller.account, key_prefix,
                      describe_collect, &d);
    if (rc < 0 || d.rc) {
        ts_free(d.rows);
        return logs_storage_error(err, d.rc ? d.rc : rc);
    }
    struct ts_buf buf;
    ts_buf_init(&buf, TS_STORE_RECORD_MAX + TS_STORE_RECORD_OVERHEAD);
    if (ts_buf_reserve(&buf, TS_LOGS_MAX_EVENT_BYTES + 64) != 0) {
        ts_free(d.rows);
        return logs_storage_error(err, TS_ENOMEM);
    }
    if (by_time) {
        for (size_t i = 0; i < d.n; i++) {
            stream_times(l, req, group, &d.rows[i], &buf);
        }
        if (d.n > 1) {
            qsort(d.rows, d.n, sizeof(*d.rows), cmp_last_event);
        }
    }
    resp->output = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(resp->output, "logStreams");
    size_t shown = 0;
    for (size_t k = (size_t)start_index; k < d.n && shown < (size_t)limit; k++, shown++) {
        struct stream_row *r = &d.rows[desc ? d.n - 1 - k : k];
        if (!by_time) {
            stream_times(l, req, group, r, &buf);
        }
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "logStreamName", r->name);
        cJSON_AddNumberToObject(s, "creationTime", (double)r->creation);
        if (r->first_ts >= 0) {
            cJSON_AddNumberToObject(s, "firstEventTimestamp", (double)r->first_ts);
            cJSON_AddNumberToObject(s, "lastEventTimestamp", (double)r->last_ts);
            cJSON_AddNumberToObject(s, "lastIngestionTime", (double)r->last_ingest);
        }
        char arn[LOGS_KEY_MAX + 160];
        snprintf(arn, sizeof(arn), "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", req->region,
                 req->caller.account, group, r->name);
        cJSON_AddStringToObject(s, "arn", arn);
        cJSON_AddNumberToObject(s, "storedBytes", 0);
        cJSON_AddItemToArray(items, s);
    }
    ts_buf_free(&buf);
    if ((size_t)start_index + shown < d.n) {
        char next[32];
        snprintf(next, sizeof(next), "%lld", (long long)((size_t)start_index + shown));
        logs_token_make(l, "streams", req, scope, next, resp->output, "nextToken");
    }
    ts_free(d.rows);
    return 0;
}
