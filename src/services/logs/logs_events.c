/*
 * logs_events.c - PutLogEvents, GetLogEvents, FilterLogEvents.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 *
 * A stored event is one store record: 8 bytes of event timestamp (little-endian ms) followed
 * by the message bytes; the record's append time is the ingestion time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_int.h"

#define READ_BUF_BYTES ((size_t)4 << 20)
#define READ_RECS 1024
#define RESPONSE_MAX_BYTES 1048576 /* events returned per Get/FilterLogEvents page */

/* ------------------------------------------------------------------ helpers */

static int stream_partition(struct ts_logs *l, const struct ts_aws_req *req, const char *group,
                            const char *stream, uint64_t id, bool create,
                            struct ts_partition **p)
{
    char pname[TS_STORE_NAME_MAX];
    int rc = ts_logs_partition_name(req->caller.account, req->region, group, stream, id, pname,
                                    sizeof(pname));
    return rc ? rc : ts_store_partition(l->ctx.store, pname, create, p);
}

static uint64_t doc_stream_id(const cJSON *doc)
{
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(doc, "streamId");
    return cJSON_IsString(sid) ? strtoull(sid->valuestring, NULL, 16) : 0;
}

/* Calls fn for every event with offset in [from, to) in offset order; stops early when fn
 * returns non-zero (returned as is). Gaps (corrupt ranges) are skipped. */
typedef int (*scan_fn)(void *arg, const struct ts_logs_event *ev);

struct scanner {
    uint8_t *buf;
    struct ts_record *recs;
};

static int scanner_init(struct scanner *s)
{
    s->buf = ts_malloc(READ_BUF_BYTES);
    s->recs = ts_malloc(READ_RECS * sizeof(*s->recs));
    if (!s->buf || !s->recs) {
        ts_free(s->buf);
        ts_free(s->recs);
        return TS_ENOMEM;
    }
    return 0;
}

static void scanner_free(struct scanner *s)
{
    ts_free(s->buf);
    ts_free(s->recs);
}

static int scan(struct scanner *s, struct ts_partition *p, uint64_t from, uint64_t to,
                scan_fn fn, void *arg)
{
    uint64_t pos = from;
    uint64_t start = ts_partition_start_offset(p);
    if (pos < start) {
        pos = start;
    }
    while (pos < to) {
        size_t n = 0;
        uint64_t next = pos;
        size_t want = (size_t)TS_MIN((uint64_t)READ_RECS, to - pos);
        int rc = ts_partition_read(p, pos, s->buf, READ_BUF_BYTES, s->recs, want, &n, &next);
        if (rc == TS_ERANGE) {
            /* retention moved the start past us meanwhile */
            pos = ts_partition_start_offset(p);
            if (pos >= to) {
                return 0;
            }
            continue;
        }
        if (rc) {
            return rc;
        }
        if (n == 0 || next <= pos) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (s->recs[i].gap || s->recs[i].offset >= to) {
                continue;
            }
            struct ts_logs_event ev;
            if (ts_logs_decode_record(s->recs[i].data, s->recs[i].len, s->recs[i].ts_ms,
                                      s->recs[i].offset, &ev) != 0) {
                continue;
            }
            rc = fn(arg, &ev);
            if (rc) {
                return rc;
            }
        }
        pos = next;
    }
    return 0;
}

static int64_t retention_horizon(const struct ts_aws_req *req, int retention_days)
{
    return retention_days > 0 ? req->now_ms - (int64_t)retention_days * 86400000LL : INT64_MIN;
}

/* ------------------------------------------------------------------ PutLogEvents */

int logs_op_put_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    struct logs_put_input in;
    const struct ts_http_request *http = req->http;
    int rc = logs_put_parse((const char *)http->body, http->body_len, &in, err);
    if (!rc) {
        rc = logs_put_events(c, req, resp, &in, err);
    }
    logs_put_input_free(&in);
    return rc;
}

int logs_put_events(struct ts_logs *l, struct ts_aws_req *req, struct ts_aws_resp *resp,
                    struct logs_put_input *in, struct ts_aws_error *err)
{
    struct logs_group_info *gi = NULL;
    struct ts_frame_in *recs = NULL;
    cJSON *sdoc = NULL;
    int rc;
    /* Required members, names, count, sizes and order of the whole batch first: any
     * violation refuses the call. */
    const char *missing = !in->have_group    ? "logGroupName"
                          : !in->have_stream ? "logStreamName"
                          : !in->have_events ? "logEvents"
                                            : NULL;
    if (missing) {
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "1 validation error detected: Value null at '%s' failed to satisfy "
                         "constraint: Member must not be null",
                         missing);
        goto out;
    }
    if (in->group_too_long || in->stream_too_long) {
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "1 validation error detected: Value at '%s' failed to satisfy "
                         "constraint: Member must have length less than or equal to 512",
                         in->group_too_long ? "logGroupName" : "logStreamName");
        goto out;
    }
    if ((rc = logs_check_group_name(in->group, err, "logGroupName")) != 0 ||
        (rc = logs_check_stream_name(in->stream, err, "logStreamName")) != 0) {
        goto out;
    }
    size_t n = in->n;
    if (n < 1) {
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "1 validation error detected: Value at 'logEvents' failed to satisfy "
                         "constraint: Member must have length greater than or equal to 1");
        goto out;
    }
    size_t batch_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (in->len[i] < 1) {
            rc = ts_aws_fail(err, "InvalidParameterException",
                             "1 validation error detected: Value '' at 'logEvents.%zu.member."
                             "message' failed to satisfy constraint: Member must have length "
                             "greater than or equal to 1",
                             i + 1);
            goto out;
        }
        if (in->len[i] + TS_LOGS_EVENT_OVERHEAD > TS_LOGS_MAX_EVENT_BYTES) {
            rc = ts_aws_fail(err, "InvalidParameterException",
                             "Log event too large: %zu bytes exceeds limit of %d",
                             in->len[i] + TS_LOGS_EVENT_OVERHEAD, TS_LOGS_MAX_EVENT_BYTES);
            goto out;
        }
        batch_bytes += in->len[i] + TS_LOGS_EVENT_OVERHEAD;
        if (i > 0 && in->ts[i] < in->ts[i - 1]) {
            rc = ts_aws_fail(err, "InvalidParameterException",
                             "Log events in a single PutLogEvents request must be in "
                             "chronological order.");
            goto out;
        }
    }
    if (batch_bytes > TS_LOGS_MAX_BATCH_BYTES) {
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "Upload too large: %zu bytes exceeds limit of %d", batch_bytes,
                         TS_LOGS_MAX_BATCH_BYTES);
        goto out;
    }

    char gkey[LOGS_KEY_MAX];
    logs_group_key(req->region, in->group, gkey);
    gi = logs_group_info_get(l, req->caller.account, gkey, err);
    if (!gi) {
        rc = TS_EINVAL;
        goto out;
    }
    uint64_t stream_id = logs_group_info_stream(l, gi, in->stream);
    if (!stream_id) {
        if ((rc = logs_load_stream(l, req, in->group, in->stream, &sdoc, err)) != 0) {
            goto out;
        }
        stream_id = doc_stream_id(sdoc);
        logs_group_info_set_stream(l, gi, in->stream, stream_id);
    }

    /* Events outside the accepted window are dropped one by one and reported; the batch is
     * sorted, so too-old/expired ones form a prefix and too-new ones a suffix. */
    int64_t now = req->now_ms;
    int64_t horizon = retention_horizon(req, gi->retention_days);
    size_t too_old_end = 0, expired_end = 0, too_new_start = n;
    for (size_t i = 0; i < n; i++) {
        if (in->ts[i] < now - TS_LOGS_MAX_AGE_MS) {
            too_old_end = i + 1;
        } else if (in->ts[i] < horizon) {
            expired_end = i + 1;
        }
        if (in->ts[i] > now + TS_LOGS_MAX_FUTURE_MS && too_new_start == n) {
            too_new_start = i;
        }
    }
    size_t first = TS_MAX(too_old_end, expired_end);
    size_t last = too_new_start; /* exclusive */
    if (last > first && in->ts[last - 1] - in->ts[first] > TS_LOGS_MAX_SPAN_MS) {
        rc = ts_aws_fail(err, "InvalidParameterException",
                         "The batch of log events in a single PutLogEvents request cannot span "
                         "more than 24 hours.");
        goto out;
    }

    uint64_t next_offset = 0;
    struct ts_partition *p = NULL;
    rc = stream_partition(l, req, in->group, in->stream, stream_id, true, &p);
    if (rc) {
        rc = logs_storage_error(err, rc);
        goto out;
    }
    if (last > first) {
        size_t count = last - first;
        recs = ts_malloc(count * sizeof(*recs));
        if (!recs) {
            rc = logs_storage_error(err, TS_ENOMEM);
            goto out;
        }
        for (size_t i = first; i < last; i++) {
            /* the parser left each record as [header room][8-byte time][message], back to
             * back: the events [first, last) are one framed batch */
            recs[i - first] = (struct ts_frame_in){(uint32_t)(8 + in->len[i]), in->crc[i]};
        }
        uint8_t *frames =
            (uint8_t *)in->payload.data + in->off[first] - 8 - TS_STORE_RECORD_OVERHEAD;
        uint64_t first_offset = 0;
        /* Durability: the response is sent only after the append returned, i.e. after the
         * batch is durable under the data directory's fsync policy. */
        rc = ts_partition_append_framed(p, frames, recs, count, now, &first_offset);
        if (rc) {
            rc = logs_storage_error(err, rc);
            goto out;
        }
        next_offset = first_offset + count;
        if (gi->n_filters) {
            struct ts_logs_event *evs = ts_malloc(count * sizeof(*evs));
            if (evs) {
                for (size_t i = first; i < last; i++) {
                    evs[i - first] = (struct ts_logs_event){
                        in->ts[i], now, first_offset + (i - first), in->payload.data + in->off[i],
                        in->len[i]};
                }
                logs_metric_apply(l, req->caller.account, req->region, gi, evs, count);
                ts_free(evs);
            }
        }
        ts_metric_add("ts_logs_ingested_events_total", "", (double)count);
        ts_metric_add("ts_logs_ingested_bytes_total", "", (double)batch_bytes);
    } else {
        next_offset = ts_partition_end_offset(p);
    }

    resp->output = cJSON_CreateObject();
    char token[57];
    snprintf(token, sizeof(token), "%056llu", (unsigned long long)next_offset);
    cJSON_AddStringToObject(resp->output, "nextSequenceToken", token);
    if (too_old_end || expired_end || too_new_start < n) {
        cJSON *info = cJSON_AddObjectToObject(resp->output, "rejectedLogEventsInfo");
        if (too_new_start < n) {
            cJSON_AddNumberToObject(info, "tooNewLogEventStartIndex", (double)too_new_start);
        }
        if (too_old_end) {
            cJSON_AddNumberToObject(info, "tooOldLogEventEndIndex", (double)too_old_end);
        }
        if (expired_end) {
            cJSON_AddNumberToObject(info, "expiredLogEventEndIndex", (double)expired_end);
        }
    }
    rc = 0;
out:
    logs_group_info_put(l, gi);
    cJSON_Delete(sdoc);
    ts_free(recs);
    return rc;
}

/* ------------------------------------------------------------------ GetLogEvents */

struct get_state {
    int64_t start, end, horizon; /* [start, end) on event time; hidden below horizon */
    size_t limit;
    size_t bytes;
    bool backward;
    cJSON *items;        /* forward: appended in order */
    cJSON **window;      /* backward: ring of the last `limit` events */
    size_t win_n, win_head;
    uint64_t first_offset, last_offset;
    bool any;
};

static cJSON *event_json(const struct ts_logs_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return NULL;
    }
    cJSON_AddNumberToObject(o, "timestamp", (double)ev->timestamp);
    cJSON *m = cJSON_CreateString("");
    if (m) {
        /* the message is not NUL-terminated in the read buffer */
        cJSON_free(m->valuestring);
        m->valuestring = cJSON_malloc(ev->message_len + 1);
        if (m->valuestring) {
            memcpy(m->valuestring, ev->message, ev->message_len);
            m->valuestring[ev->message_len] = '\0';
        }
        cJSON_AddItemToObject(o, "message", m);
    }
    cJSON_AddNumberToObject(o, "ingestionTime", (double)ev->ingestion_ms);
    return o;
}

static bool in_window(const struct get_state *g, const struct ts_logs_event *ev)
{
    return ev->timestamp >= g->start && ev->timestamp < g->end && ev->timestamp >= g->horizon;
}

static int get_forward(void *arg, const struct ts_logs_event *ev)
{
    struct get_state *g = arg;
    g->last_offset = ev->offset;
    if (!in_window(g, ev)) {
        return 0;
    }
    size_t sz = ev->message_len + TS_LOGS_EVENT_OVERHEAD;
    if (g->any && g->bytes + sz > RESPONSE_MAX_BYTES) {
        return 1; /* this event starts the next page */
    }
    cJSON *o = event_json(ev);
    if (!o) {
        return TS_ENOMEM;
    }
    if (!g->any) {
        g->first_offset = ev->offset;
    }
    g->any = true;
    g->bytes += sz;
    cJSON_AddItemToArray(g->items, o);
    return cJSON_GetArraySize(g->items) >= (int)g->limit ? 2 : 0;
}

static int get_backward(void *arg, const struct ts_logs_event *ev)
{
    struct get_state *g = arg;
    if (!in_window(g, ev)) {
        return 0;
    }
    cJSON *o = event_json(ev);
    if (!o) {
        return TS_ENOMEM;
    }
    /* keep the newest `limit` events seen so far */
    if (g->win_n < g->limit) {
        g->window[(g->win_head + g->win_n++) % g->limit] = o;
    } else {
        cJSON_Delete(g->window[g->win_head]);
        g->window[g->win_head] = o;
        g->win_head = (g->win_head + 1) % g->limit;
    }
    return 0;
}

static int parse_get_token(const char *tok, char *dir, uint64_t *pos)
{
    if (strlen(tok) != 58 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/') {
        return TS_EINVAL;
    }
    uint64_t v = 0;
    for (const char *p = tok + 2; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            return TS_EINVAL;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *dir = tok[0];
    *pos = v;
    return 0;
}

int logs_op_get_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                           struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *stream = NULL, *token = NULL;
    int64_t start = INT64_MIN, end = INT64_MAX, limit = TS_LOGS_MAX_BATCH_EVENTS;
    bool head = false;
    int rc = logs_group_arg(req, group, sizeof(group), true, err);
    if (rc || (rc = logs_opt_string(req->input, "logStreamName", &stream, err)) < 0 ||
        (rc = logs_check_stream_name(stream, err, "logStreamName")) != 0 ||
        logs_opt_string(req->input, "nextToken", &token, err) < 0 ||
        logs_opt_int(req->input, "startTime", &start, err) < 0 ||
        logs_opt_int(req->input, "endTime", &end, err) < 0 ||
        logs_opt_int(req->input, "limit", &limit, err) < 0 ||
        logs_opt_bool(req->input, "startFromHead", &head, err) < 0) {
        return rc ? rc : TS_EINVAL;
    }
    if (limit < 1 || limit > TS_LOGS_MAX_BATCH_EVENTS) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 10000",
                           (long long)limit);
    }
    char dir = head ? 'f' : 'b';
    uint64_t pos = 0;
    bool have_pos = false;
    if (token) {
        if (parse_get_token(token, &dir, &pos) != 0) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "The specified nextToken is invalid.");
        }
        have_pos = true;
    }
    char gkey[LOGS_KEY_MAX];
    logs_group_key(req->region, group, gkey);
    struct logs_group_info *gi = logs_group_info_get(l, req->caller.account, gkey, err);
    if (!gi) {
        return TS_EINVAL;
    }
    int retention = gi->retention_days;
    logs_group_info_put(l, gi);
    cJSON *sdoc = NULL;
    if ((rc = logs_load_stream(l, req, group, stream, &sdoc, err)) != 0) {
        return rc;
    }
    struct ts_partition *p = NULL;
    rc = stream_partition(l, req, group, stream, doc_stream_id(sdoc), false, &p);
    cJSON_Delete(sdoc);
    uint64_t pstart = p ? ts_partition_start_offset(p) : 0;
    uint64_t pend = p ? ts_partition_end_offset(p) : 0;
    if (!have_pos) {
        pos = dir == 'f' ? pstart : pend;
    }
    if (pos < pstart) {
        pos = pstart;
    }
    if (pos > pend) {
        pos = pend;
    }

    struct get_state g = {.start = start, .end = end,
                          .horizon = retention_horizon(req, retention),
                          .limit = (size_t)limit, .backward = dir == 'b'};
    resp->output = cJSON_CreateObject();
    g.items = cJSON_AddArrayToObject(resp->output, "events");
    struct scanner s;
    if (!g.items || scanner_init(&s) != 0) {
        return logs_storage_error(err, TS_ENOMEM);
    }
    uint64_t fwd = pos, back = pos;
    if (p && dir == 'f') {
        g.first_offset = pos;
        rc = scan(&s, p, pos, pend, get_forward, &g);
        if (rc < 0) {
            scanner_free(&s);
            return logs_storage_error(err, rc);
        }
        /* rc 1: stopped before the event that did not fit; 2: after the last one taken */
        fwd = rc == 1 ? g.last_offset : rc == 2 ? g.last_offset + 1 : pend;
        back = g.any ? g.first_offset : pos;
    } else if (p) {
        /* Walk back in chunks until `limit` events are found or the start is reached. */
        g.window = ts_calloc((size_t)limit, sizeof(*g.window));
        if (!g.window) {
            scanner_free(&s);
            return logs_storage_error(err, TS_ENOMEM);
        }
        uint64_t hi = pos;
        uint64_t chunk = (uint64_t)limit;
        cJSON *collected = cJSON_CreateArray();
        size_t bytes = 0;
        uint64_t earliest = pos;
        while (hi > pstart && cJSON_GetArraySize(collected) < (int)limit) {
            uint64_t lo = hi - TS_MIN(chunk, hi - pstart);
            g.win_n = g.win_head = 0;
            rc = scan(&s, p, lo, hi, get_backward, &g);
            if (rc < 0) {
                break;
            }
            /* prepend this chunk's (newest) events, newest first, within the limits */
            for (size_t k = g.win_n; k-- > 0;) {
                cJSON *o = g.window[(g.win_head + k) % (size_t)limit];
                g.window[(g.win_head + k) % (size_t)limit] = NULL;
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
                size_t sz = strlen(m->valuestring) + TS_LOGS_EVENT_OVERHEAD;
                if (cJSON_GetArraySize(collected) >= (int)limit ||
                    (bytes && bytes + sz > RESPONSE_MAX_BYTES)) {
                    cJSON_Delete(o);
                    continue;
                }
                bytes += sz;
                cJSON_InsertItemInArray(collected, 0, o);
            }
            earliest = lo;
            hi = lo;
            chunk *= 2;
        }
        ts_free(g.window);
        cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(resp->output, "events"));
        cJSON_AddItemToObject(resp->output, "events", collected);
        if (rc < 0) {
            scanner_free(&s);
            return logs_storage_error(err, rc);
        }
        fwd = pos;
        back = earliest;
    }
    scanner_free(&s);
    char tok[64];
    snprintf(tok, sizeof(tok), "f/%056llu", (unsigned long long)fwd);
    cJSON_AddStringToObject(resp->output, "nextForwardToken", tok);
    snprintf(tok, sizeof(tok), "b/%056llu", (unsigned long long)back);
    cJSON_AddStringToObject(resp->output, "nextBackwardToken", tok);
    return 0;
}

/* ------------------------------------------------------------------ FilterLogEvents */

struct hit {
    int64_t ts, ingest;
    uint32_t stream; /* index into the stream list, which is in name order */
    uint64_t offset;
};

struct filter_stream {
    char name[LOGS_STREAM_NAME_MAX + 1];
    uint64_t id;
    struct ts_partition *p;
};

struct filter_state {
    struct filter_stream *streams; /* in byte order of names (the metadata listing order) */
    size_t n_streams, cap_streams;
    const char *const *names; /* logStreamNames filter, or NULL */
    int n_names;
    const struct ts_pattern *pattern;
    int64_t start, end, horizon;
    /* resume strictly after this key (its stream may no longer exist, hence the name) */
    bool have_after;
    int64_t after_ts, after_ingest;
    uint64_t after_offset;
    char after_name[LOGS_STREAM_NAME_MAX + 1];
    struct hit *hits;
    size_t n_hits, cap_hits;
    uint32_t cur;
};

/* Output order: event time, ingestion time, stream name, offset. */
static int qsort_hit(const void *pa, const void *pb)
{
    const struct hit *a = pa, *b = pb;
    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    if (a->ingest != b->ingest) {
        return a->ingest < b->ingest ? -1 : 1;
    }
    if (a->stream != b->stream) {
        return a->stream < b->stream ? -1 : 1;
    }
    return a->offset < b->offset ? -1 : a->offset > b->offset ? 1 : 0;
}

static bool after_resume_key(const struct filter_state *f, const struct hit *h)
{
    if (!f->have_after) {
        return true;
    }
    if (h->ts != f->after_ts) {
        return h->ts > f->after_ts;
    }
    if (h->ingest != f->after_ingest) {
        return h->ingest > f->after_ingest;
    }
    int c = strcmp(f->streams[h->stream].name, f->after_name);
    if (c) {
        return c > 0;
    }
    return h->offset > f->after_offset;
}

static int add_stream(void *arg, const char *stream, uint64_t id)
{
    struct filter_state *f = arg;
    if (f->names) {
        bool wanted = false;
        for (int i = 0; i < f->n_names && !wanted; i++) {
            wanted = strcmp(f->names[i], stream) == 0;
        }
        if (!wanted) {
            return 0;
        }
    }
    if (f->n_streams == f->cap_streams) {
        size_t cap = f->cap_streams ? f->cap_streams * 2 : 16;
        struct filter_stream *v = ts_realloc(f->streams, cap * sizeof(*v));
        if (!v) {
            return TS_ENOMEM;
        }
        f->streams = v;
        f->cap_streams = cap;
    }
    struct filter_stream *fs = &f->streams[f->n_streams++];
    memset(fs, 0, sizeof(*fs));
    ts_strlcpy(fs->name, stream, sizeof(fs->name));
    fs->id = id;
    return 0;
}

static int filter_event(void *arg, const struct ts_logs_event *ev)
{
    struct filter_state *f = arg;
    if (ev->timestamp < f->start || ev->timestamp > f->end || ev->timestamp < f->horizon) {
        return 0;
    }
    struct hit h = {ev->timestamp, ev->ingestion_ms, f->cur, ev->offset};
    if (!after_resume_key(f, &h)) {
        return 0;
    }
    if (f->pattern && !ts_pattern_match(f->pattern, ev->message, ev->message_len)) {
        return 0;
    }
    if (f->n_hits == f->cap_hits) {
        size_t cap = f->cap_hits ? f->cap_hits * 2 : 256;
        struct hit *v = ts_realloc(f->hits, cap * sizeof(*v));
        if (!v) {
            return TS_ENOMEM;
        }
        f->hits = v;
        f->cap_hits = cap;
    }
    f->hits[f->n_hits++] = h;
    return 0;
}

static int string_list(const cJSON *in, const char *member, const char **items, int max,
                       int *n, struct ts_aws_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, member);
    *n = -1;
    if (!v || cJSON_IsNull(v)) {
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        return ts_aws_fail(err, "SerializationException", "%s must be a list.", member);
    }
    int count = cJSON_GetArraySize(v);
    if (count < 1 || count > max) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length between 1 and %d",
                           member, max);
    }
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s)) {
            return ts_aws_fail(err, "SerializationException", "%s must hold strings.", member);
        }
        items[i++] = s->valuestring;
    }
    *n = count;
    return 0;
}

int logs_op_filter_log_events(void *c, struct ts_aws_req *req, struct ts_aws_resp *resp,
                              struct ts_aws_error *err)
{
    struct ts_logs *l = c;
    char group[LOGS_GROUP_NAME_MAX + 1];
    const char *prefix = NULL, *pattern_text = NULL, *token = NULL;
    const char *names[100];
    int n_names = -1;
    int64_t start = INT64_MIN, end = INT64_MAX, limit = TS_LOGS_MAX_BATCH_EVENTS;
    bool interleaved = true;
    int rc = logs_group_arg(req, group, sizeof(group), true, err);
    if (rc || logs_opt_string(req->input, "logStreamNamePrefix", &prefix, err) < 0 ||
        logs_opt_string(req->input, "filterPattern", &pattern_text, err) < 0 ||
        logs_opt_string(req->input, "nextToken", &token, err) < 0 ||
        logs_opt_int(req->input, "startTime", &start, err) < 0 ||
        logs_opt_int(req->input, "endTime", &end, err) < 0 ||
        logs_opt_int(req->input, "limit", &limit, err) < 0 ||
        logs_opt_bool(req->input, "interleaved", &interleaved, err) < 0 ||
        string_list(req->input, "logStreamNames", names, 100, &n_names, err) != 0) {
        return TS_EINVAL;
    }
    if (prefix && n_names >= 0) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "logStreamNames and logStreamNamePrefix are mutually exclusive "
                           "parameters.");
    }
    if (limit < 1 || limit > TS_LOGS_MAX_BATCH_EVENTS) {
        return ts_aws_fail(err, "InvalidParameterException",
                           "1 validation error detected: Value '%lld' at 'limit' failed to "
                           "satisfy constraint: Member must have value between 1 and 10000",
                           (long long)limit);
    }
    struct filter_state f;
    memset(&f, 0, sizeof(f));
    f.start = start;
    f.end = end;
    f.names = n_names >= 0 ? names : NULL;
    f.n_names = n_names;
    struct ts_pattern *pattern = NULL;
    if (pattern_text && *pattern_text) {
        char perr[512];
        if (strlen(pattern_text) > 1024) {
            return ts_aws_fail(err, "InvalidParameterException",
                               "1 validation error detected: Value at 'filterPattern' failed to "
                               "satisfy constraint: Member must have length less than or equal "
                               "to 1024");
        }
        if (ts_pattern_compile(pattern_text, strlen(pattern_text), &pattern, perr,
                               sizeof(perr)) != 0) {
            return ts_aws_fail(err, "InvalidParameterException", "%s", perr);
        }
        f.pattern = pattern;
    }
    char gkey[LOGS_KEY_MAX];
    logs_group_key(req->region, group, gkey);
    struct logs_group_info *gi = logs_group_info_get(l, req->caller.account, gkey, err);
    if (!gi) {
        ts_pattern_destroy(pattern);
        return TS_EINVAL;
    }
    f.horizon = retention_horizon(req, gi->retention_days);
    logs_group_info_put(l, gi);

    rc = logs_each_stream(l, req->caller.account, req->region, group, prefix, add_stream, &f);
    char scope[2048];
    snprintf(scope, sizeof(scope), "%s|%s|%s|%lld|%lld", group, prefix ? prefix : "",
             pattern_text ? pattern_text : "", (long long)start, (long long)end);
    if (!rc && token) {
        char pos[LOGS_STREAM_NAME_MAX + 96];
        if (logs_token_read(l, "filter", req, scope, token, pos, sizeof(pos), err) != 0) {
            rc = TS_EINVAL;
            goto out;
        }
        /* "<ts> <ingest> <offset> <stream name>" */
        long long t, in;
        unsigned long long off;
        int used = 0;
        if (sscanf(pos, "%lld %lld %llu %n", &t, &in, &off, &used) != 3 || used <= 0) {
            rc = ts_aws_fail(err, "InvalidParameterException",
                             "The specified nextToken is invalid.");
            goto out;
        }
        if (strlen(pos + used) >= sizeof(f.after_name)) {
            rc = ts_aws_fail(err, "InvalidParameterException",
                             "The specified nextToken is invalid.");
            goto out;
        }
        ts_strlcpy(f.after_name, pos + used, sizeof(f.after_name));
        f.after_ts = t;
        f.after_ingest = in;
        f.after_offset = off;
        f.have_after = true;
    }
    struct scanner s;
    if (!rc) {
        rc = scanner_init(&s);
        if (rc) {
            goto out;
        }
        for (size_t k = 0; k < f.n_streams && rc >= 0; k++) {
            if (stream_partition(l, req, group, f.streams[k].name, f.streams[k].id, false,
                                 &f.streams[k].p) != 0) {
                continue;
            }
            f.cur = (uint32_t)k;
            rc = scan(&s, f.streams[k].p, 0, ts_partition_end_offset(f.streams[k].p),
                      filter_event, &f);
        }
        scanner_free(&s);
    }
    if (rc < 0) {
        rc = logs_storage_error(err, rc);
        goto out;
    }
    if (f.n_hits > 1) {
        qsort(f.hits, f.n_hits, sizeof(*f.hits), qsort_hit);
    }

    resp->output = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(resp->output, "events");
    cJSON_AddArrayToObject(resp->output, "searchedLogStreams");
    struct ts_buf buf;
    ts_buf_init(&buf, READ_BUF_BYTES);
    size_t shown = 0, bytes = 0;
    if (ts_buf_reserve(&buf, TS_LOGS_MAX_EVENT_BYTES + 64) != 0) {
        rc = logs_storage_error(err, TS_ENOMEM);
        goto out;
    }
    for (; shown < f.n_hits && shown < (size_t)limit; shown++) {
        const struct hit *h = &f.hits[shown];
        struct filter_stream *fs = &f.streams[h->stream];
        struct ts_record rec;
        size_t n = 0;
        uint64_t next;
        if (ts_partition_read(fs->p, h->offset, buf.data, buf.cap, &rec, 1, &n, &next) != 0 ||
            n != 1 || rec.gap) {
            continue;
        }
        struct ts_logs_event ev;
        if (ts_logs_decode_record(rec.data, rec.len, rec.ts_ms, rec.offset, &ev) != 0) {
            continue;
        }
        size_t sz = ev.message_len + TS_LOGS_EVENT_OVERHEAD;
        if (shown && bytes + sz > RESPONSE_MAX_BYTES) {
            break;
        }
        bytes += sz;
        cJSON *o = event_json(&ev);
        if (!o) {
            break;
        }
        cJSON_AddStringToObject(o, "logStreamName", fs->name);
        char id[57];
        ts_logs_event_id(fs->id, ev.timestamp, ev.offset, id);
        cJSON_AddStringToObject(o, "eventId", id);
        cJSON_AddItemToArray(items, o);
    }
    ts_buf_free(&buf);
    if (shown < f.n_hits && shown > 0) {
        const struct hit *h = &f.hits[shown - 1];
        char pos[LOGS_STREAM_NAME_MAX + 96];
        snprintf(pos, sizeof(pos), "%lld %lld %llu %s", (long long)h->ts, (long long)h->ingest,
                 (unsigned long long)h->offset, f.streams[h->stream].name);
        logs_token_make(l, "filter", req, scope, pos, resp->output, "nextToken");
    }
    rc = 0;
out:
    ts_pattern_destroy(pattern);
    ts_free(f.streams);
    ts_free(f.hits);
    return rc;
}
