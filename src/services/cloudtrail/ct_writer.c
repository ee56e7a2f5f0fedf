/*
 * ct_writer.c - the trail writer: one thread that tails the CloudTrail event partitions and
 * writes each logging trail's records into its CloudWatch Logs log group, one log event per
 * record, in log stream "<account>_CloudTrail_<region>".
 *
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
 *     send-cloudtrail-events-to-cloudwatch-logs.html
 *
 * Cursors: ts_meta "checkpoint" documents of the trail owner, key "ct/<trail id>/<partition>",
 * {"offset": next offset, "start": the trail's StartLogging time}. A cursor is committed only
 * after the records it covers were durably appended to the log group, so delivery is
 * at-least-once: a crash re-delivers what was appended since the last commit (eventID is
 * unique; AWS also documents duplicates). Commits happen at most every CURSOR_COMMIT_MS per
 * cursor while records flow (each is a synchronous SQLite commit), at once when a stop was
 * reached, and for every cursor before the writer sleeps, reloads its trails or exits.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ct_int.h"

#define READ_BUF ((size_t)4 << 20)
#define READ_RECS 1024
#define STOP_GRACE_MS 2000
#define MAX_PARTS 64
#define COALESCE_RECORDS 256 /* passes smaller than this wait COALESCE_MS before the next */
#define COALESCE_MS 20
#define WRITER_NICE 5
#define CURSOR_COMMIT_MS 200 /* while records flow; a crash re-delivers at most this much */

struct cursor {
    char pname[256];
    uint64_t offset;
    bool loaded;
    bool stop_seen;
    bool dirty;           /* offset moved since the last commit */
    int64_t committed_ms; /* when it was last committed */
};

struct trail_rt {
    char owner[13];
    char key[CT_KEY_MAX]; /* meta key of the trail document */
    char id[17];
    char arn[TS_AWS_ARN_MAX];
    char home[32];
    char grp_region[32];
    char grp_name[520];
    bool has_group;
    bool logging;
    bool deleted;
    bool multi;
    bool drained;
    int64_t start_ms;
    int64_t stop_ms;
    int64_t stop_deadline; /* records appended after this are not delivered (stopping) */
    bool settle_taken;     /* settle_seq was read after stop_deadline passed */
    bool holding;          /* a record after the deadline waits for the recorder to settle */
    uint64_t settle_seq;   /* recorder sequence queued once the deadline had passed */
    char stop_req[40];
    cJSON *doc;
    char members[8][13];
    int n_members;
    struct cursor cur[MAX_PARTS];
    int n_cur;
    int64_t status_ms;
    char status_err[256];
};

struct writer {
    struct ts_cloudtrail *ct;
    struct trail_rt *trails;
    size_t n_trails;
    uint8_t *buf;
    struct ts_record *recs;
    char **names;           /* the store's "cloudtrail/" partitions (ts_store_names) */
    size_t n_names;
    uint64_t names_version; /* ts_store_partitions_version they were listed at */
    uint64_t gen;           /* trails_gen the trails were loaded at */
};

/* ------------------------------------------------------------------ trails */

static void free_trails(struct writer *w)
{
    for (size_t i = 0; i < w->n_trails; i++) {
        cJSON_Delete(w->trails[i].doc);
    }
    ts_free(w->trails);
    w->trails = NULL;
    w->n_trails = 0;
}

static int64_t num(const cJSON *doc, const char *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, m);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void str(const cJSON *doc, const char *m, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, m);
    ts_strlcpy(out, cJSON_IsString(v) ? v->valuestring : "", n);
}

static int load_one(void *arg, const char *account, const char *key, const char *json)
{
    struct writer *w = arg;
    TS_UNUSED(account);
    TS_UNUSED(json);
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) != 12) {
        return 0;
    }
    struct trail_rt t;
    memset(&t, 0, sizeof(t));
    memcpy(t.owner, key, 12);
    ts_strlcpy(t.key, slash + 1, sizeof(t.key));
    struct ts_buf b;
    ts_buf_init(&b, CT_DOC_MAX);
    int rc = ts_meta_get(w->ct->ctx.meta, "trail", t.owner, t.key, &b);
    t.doc = rc ? NULL : cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    if (!t.doc) {
        return 0;
    }
    str(t.doc, "_id", t.id, sizeof(t.id));
    str(t.doc, "TrailARN", t.arn, sizeof(t.arn));
    str(t.doc, "HomeRegion", t.home, sizeof(t.home));
    str(t.doc, "_stopRequestId", t.stop_req, sizeof(t.stop_req));
    t.logging = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t.doc, "_logging"));
    t.deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t.doc, "_deleted"));
    t.multi = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t.doc, "IsMultiRegionTrail"));
    t.start_ms = num(t.doc, "_startMs");
    t.stop_ms = num(t.doc, "_stopMs");
    t.stop_deadline = t.stop_ms + STOP_GRACE_MS;
    /* arn:aws:logs:<region>:<account>:log-group:<name>:* */
    char garn[600];
    str(t.doc, "CloudWatchLogsLogGroupArn", garn, sizeof(garn));
    const char *r = garn[0] ? garn + 13 : NULL;
    const char *lg = r ? strstr(r, ":log-group:") : NULL;
    const char *rc2 = r ? strchr(r, ':') : NULL;
    if (lg && rc2 && (size_t)(rc2 - r) < sizeof(t.grp_region)) {
        memcpy(t.grp_region, r, (size_t)(rc2 - r));
        t.grp_region[rc2 - r] = '\0';
        ts_strlcpy(t.grp_name, lg + 11, sizeof(t.grp_name));
        size_t n = strlen(t.grp_name);
        if (n >= 2 && strcmp(t.grp_name + n - 2, ":*") == 0) {
            t.grp_name[n - 2] = '\0';
        }
        t.has_group = t.grp_name[0] != '\0';
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t.doc, "_members"))
    {
        if (cJSON_IsString(m) && t.n_members < 8 && strcmp(m->valuestring, t.owner) != 0) {
            ts_strlcpy(t.members[t.n_members++], m->valuestring, 13);
        }
    }
    if (!t.logging && !t.stop_ms) {
        t.drained = true; /* never started */
    }
    struct trail_rt *nt = ts_realloc(w->trails, (w->n_trails + 1) * sizeof(*nt));
    if (!nt) {
        cJSON_Delete(t.doc);
        return TS_ENOMEM;
    }
    w->trails = nt;
    w->trails[w->n_trails++] = t;
    return 0;
}

static void reload(struct writer *w)
{
    free_trails(w);
    ts_meta_list(w->ct->ctx.meta, "trail", CT_INDEX_ACCOUNT, NULL, load_one, w);
}

/* ------------------------------------------------------------------ cursors */

static struct cursor *cursor_of(struct trail_rt *t, const char *pname)
{
    for (int i = 0; i < t->n_cur; i++) {
        if (strcmp(t->cur[i].pname, pname) == 0) {
            return &t->cur[i];
        }
    }
    if (t->n_cur == MAX_PARTS) {
        return NULL;
    }
    struct cursor *c = &t->cur[t->n_cur++];
    memset(c, 0, sizeof(*c));
    ts_strlcpy(c->pname, pname, sizeof(c->pname));
    return c;
}

static int cursor_load(struct writer *w, struct trail_rt *t, struct cursor *c,
                       struct ts_partition *p)
{
    char key[CT_KEY_MAX];
    snprintf(key, sizeof(key), "ct/%s/%s", t->id, c->pname);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    int rc = ts_meta_get(w->ct->ctx.meta, "checkpoint", t->owner, key, &b);
    cJSON *doc = rc ? NULL : cJSON_ParseWithLength(b.data, b.len);
    ts_buf_free(&b);
    if (doc && num(doc, "start") == t->start_ms) {
        c->offset = (uint64_t)num(doc, "offset");
        /* This partition already delivered the stop record of the current stop. */
        c->stop_seen = !t->logging && t->stop_ms && num(doc, "stopped") == t->stop_ms;
        rc = 0;
    } else {
        /* A new logging period starts with the records appended after StartLogging. */
        rc = ts_partition_find_time(p, t->start_ms, &c->offset);
    }
    cJSON_Delete(doc);
    if (c->offset < ts_partition_start_offset(p)) {
        c->offset = ts_partition_start_offset(p);
    }
    c->loaded = rc == 0;
    return rc;
}

static int cursor_commit(struct writer *w, struct trail_rt *t, struct cursor *c, int64_t now)
{
    char key[CT_KEY_MAX], json[160];
    snprintf(key, sizeof(key), "ct/%s/%s", t->id, c->pname);
    snprintf(json, sizeof(json), "{\"offset\":%llu,\"start\":%lld,\"stopped\":%lld}",
             (unsigned long long)c->offset, (long long)t->start_ms,
             (long long)(c->stop_seen ? t->stop_ms : 0));
    int rc = ts_meta_put(w->ct->ctx.meta, "checkpoint", t->owner, key, json);
    if (!rc) {
        c->dirty = false;
        c->committed_ms = now;
    }
    return rc;
}

/* Commits every cursor that moved since its last commit. */
static void commit_all(struct writer *w, int64_t now)
{
    for (size_t i = 0; i < w->n_trails; i++) {
        struct trail_rt *t = &w->trails[i];
        for (int k = 0; k < t->n_cur; k++) {
            if (t->cur[k].dirty) {
                cursor_commit(w, t, &t->cur[k], now);
            }
        }
    }
}

static void set_status(struct writer *w, struct trail_rt *t, int64_t now, const char *error)
{
    bool changed = strcmp(error, t->status_err) != 0;
    if (!changed && now - t->status_ms < 1000) {
        return;
    }
    ts_strlcpy(t->status_err, error, sizeof(t->status_err));
    t->status_ms = now;
    char key[CT_KEY_MAX];
    snprintf(key, sizeof(key), "ct-status/%s", t->id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "deliveryMs", (double)now);
    cJSON_AddStringToObject(o, "error", error);
    char *text = cJSON_PrintUnformatted(o);
    if (text) {
        ts_meta_put(w->ct->ctx.meta, "checkpoint", t->owner, key, text);
    }
    cJSON_free(text);
    cJSON_Delete(o);
}

/* ------------------------------------------------------------------ delivery */

/* Whether an external record (PutAuditEvents, import) goes to this trail: the header's ARN
 * field lists the trails it is for (space-separated), or is empty for every trail. */
static bool external_for(const struct trail_rt *t, const char *rarn)
{
    if (!rarn[0]) {
        return true;
    }
    size_t n = strlen(t->arn);
    for (const char *p = strstr(rarn, t->arn); p; p = strstr(p + 1, t->arn)) {
        if ((p == rarn || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) {
            return true;
        }
    }
    return false;
}

/* Whether a stopping trail's deadline may cut delivery: the recording is asynchronous
 * (ct_recorder.c), so a record appended after the deadline may still belong to a call answered
 * before the stop. The deadline applies only once every record queued after it had passed is
 * durable: by then the StopLogging/DeleteTrail record, if it was recorded at all, is stored. */
static bool stop_settled(struct writer *w, struct trail_rt *t, int64_t now)
{
    if (now <= t->stop_deadline) {
        return false;
    }
    if (!t->settle_taken) {
        t->settle_seq = ct_recorder_enqueued(w->ct);
        t->settle_taken = true;
    }
    return ct_recorder_done(w->ct) >= t->settle_seq;
}

/* Delivers what is new in one partition for one trail. Returns the number of records
 * consumed (delivered or skipped), or a negative error. */
static int deliver(struct writer *w, struct trail_rt *t, const char *pname, int64_t now)
{
    struct ts_cloudtrail *ct = w->ct;
    struct ts_partition *p = NULL;
    int rc = ts_store_partition(ct->ctx.store, pname, false, &p);
    if (rc) {
        return rc == TS_ENOTFOUND ? 0 : rc;
    }
    struct cursor *c = cursor_of(t, pname);
    if (!c) {
        return 0;
    }
    if (!c->loaded && (rc = cursor_load(w, t, c, p)) != 0) {
        return rc;
    }
    if (!t->logging && c->stop_seen) {
        return 0;
    }
    if (c->offset >= ts_partition_end_offset(p)) {
        return 0;
    }
    /* Read before the partition so a settled recorder's records are all in this read. */
    bool settled = !t->logging && stop_settled(w, t, now);
    size_t n = 0;
    uint64_t next = c->offset;
    rc = ts_partition_read(p, c->offset, w->buf, READ_BUF, w->recs, READ_RECS, &n, &next);
    if (rc == TS_ERANGE) {
        c->offset = ts_partition_start_offset(p);
        return 1;
    }
    if (rc) {
        return rc;
    }
    if (atomic_load(&ct->trails_gen) != w->gen) {
        /* A trail changed (StopLogging...) before these records were read: every record of
         * this batch was appended after that change, so reload the trails first. */
        return 0;
    }
    /* stream "<account>_CloudTrail_<region>" of the partition "cloudtrail/<acct>/<region>/.." */
    char acct[16] = "", region[32] = "", stream[128];
    const char *a = pname + 11;
    const char *s1 = strchr(a, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (s1 && s2 && (size_t)(s1 - a) < sizeof(acct) && (size_t)(s2 - s1 - 1) < sizeof(region)) {
        memcpy(acct, a, (size_t)(s1 - a));
        memcpy(region, s1 + 1, (size_t)(s2 - s1 - 1));
    }
    snprintf(stream, sizeof(stream), "%s_CloudTrail_%s", acct, region);
    const char **msgs = ts_calloc(n ? n : 1, sizeof(*msgs));
    size_t *lens = ts_calloc(n ? n : 1, sizeof(*lens));
    int64_t *tss = ts_calloc(n ? n : 1, sizeof(*tss));
    if (!msgs || !lens || !tss) {
        ts_free(msgs);
        ts_free(lens);
        ts_free(tss);
        return TS_ENOMEM;
    }
    size_t m = 0;
    uint64_t upto = c->offset;
    bool stop_now = false;
    for (size_t i = 0; i < n && !stop_now; i++) {
        const struct ts_record *r = &w->recs[i];
        if (r->gap) {
            upto = r->gap_end;
            continue;
        }
        if (!t->logging && r->ts_ms > t->stop_deadline) {
            if (settled) {
                stop_now = true;
            } else {
                t->holding = true; /* retried on the next pass (200 ms while stopping) */
            }
            break;
        }
        upto = r->offset + 1;
        uint8_t flags;
        const char *rtype, *rarn, *json;
        size_t jlen;
        if (ct_split_record(r->data, r->len, &flags, &rtype, &rarn, &json, &jlen) != 0) {
            continue;
        }
        bool want = (flags & TS_CT_F_EXTERNAL) ? external_for(t, rarn) &&
                                                     ct_trail_selects(t->doc, flags & ~TS_CT_F_DATA,
                                                                      rtype, rarn)
                                               : ct_trail_selects(t->doc, flags, rtype, rarn);
        if (want) {
            msgs[m] = json;
            lens[m] = jlen;
            tss[m] = r->ts_ms;
            m++;
        }
        if (!t->logging && t->stop_req[0] && !(flags & TS_CT_F_EXTERNAL)) {
            char needle[64];
            snprintf(needle, sizeof(needle), "\"requestID\":\"%s\"", t->stop_req);
            if (memmem(json, jlen, needle, strlen(needle))) {
                /* The StopLogging/DeleteTrail record itself: the last one delivered. */
                c->stop_seen = true;
                t->stop_deadline = r->ts_ms;
                stop_now = true;
            }
        }
    }
    rc = 0;
    if (m && ct->have_sink && t->has_group) {
        rc = ct->sink.put(ct->sink.ctx, t->owner, t->grp_region, t->grp_name, stream, msgs, lens,
                          tss, m);
    }
    ts_free(msgs);
    ts_free(lens);
    ts_free(tss);
    if (rc) {
        char e[256];
        snprintf(e, sizeof(e), "%s", rc == TS_ENOTFOUND ? "LogGroupNotFound" : ts_strerror(rc));
        set_status(w, t, now, e);
        return rc;
    }
    /* Durability order: the cursor moves only after the log group append above returned,
     * i.e. after the records are durable there. */
    uint64_t consumed = upto - c->offset;
    c->offset = upto;
    if (consumed) {
        c->dirty = true;
        if (c->stop_seen || now - c->committed_ms >= CURSOR_COMMIT_MS) {
            cursor_commit(w, t, c, now);
        }
    }
    if (m) {
        set_status(w, t, now, "");
    }
    return (int)consumed;
}

/* Lists the CloudTrail event partitions again only when a partition was created or deleted
 * since the last listing (a pass must not cost a scan of the whole store). */
static void refresh_names(struct writer *w)
{
    struct ts_store *store = w->ct->ctx.store;
    uint64_t v = ts_store_partitions_version(store); /* read first: a later change relists */
    if (w->names && v == w->names_version) {
        return;
    }
    char **names;
    size_t n;
    if (ts_store_names(store, "cloudtrail/", &names, &n) != 0) {
        return; /* keep the old listing; retried on the next pass */
    }
    ts_store_names_free(w->names, w->n_names);
    w->names = names;
    w->n_names = n;
    w->names_version = v;
}

/* Removes what is left of a deleted trail once it has drained. */
static void drop_tombstone(struct writer *w, struct trail_rt *t)
{
    char ikey[CT_KEY_MAX + 16];
    snprintf(ikey, sizeof(ikey), "%s/%s", t->owner, t->key);
    ts_meta_delete(w->ct->ctx.meta, "trail", t->owner, t->key);
    ts_meta_delete(w->ct->ctx.meta, "trail", CT_INDEX_ACCOUNT, ikey);
    for (int i = 0; i < t->n_cur; i++) {
        char key[CT_KEY_MAX];
        snprintf(key, sizeof(key), "ct/%s/%s", t->id, t->cur[i].pname);
        ts_meta_delete(w->ct->ctx.meta, "checkpoint", t->owner, key);
        t->cur[i].dirty = false; /* gone with the trail: never committed again */
    }
}

static int run_trail(struct writer *w, struct trail_rt *t, int64_t now)
{
    if (t->drained || !t->has_group) {
        return 0;
    }
    int work = 0;
    bool all_done = true;
    t->holding = false;
    char want[64];
    snprintf(want, sizeof(want), "/%s/events", t->home);
    size_t wl = strlen(want);
    for (size_t i = 0; i < w->n_names; i++) {
        /* "cloudtrail/<account>/<region>/events" of the owner or a member account */
        const char *name = w->names[i];
        const char *acct = name + 11;
        bool mine = strncmp(acct, t->owner, 12) == 0 && acct[12] == '/';
        for (int a = 0; !mine && a < t->n_members; a++) {
            mine = strncmp(acct, t->members[a], 12) == 0 && acct[12] == '/';
        }
        size_t pl = strlen(name);
        bool events = pl > 7 && strcmp(name + pl - 7, "/events") == 0;
        if (!mine || !events || (!t->multi && (pl < wl || strcmp(name + pl - wl, want) != 0))) {
            continue;
        }
        int n = deliver(w, t, name, now);
        if (n > 0) {
            work += n;
            all_done = false;
        } else if (n < 0) {
            all_done = false;
        }
    }
    if (!t->logging && all_done && !t->holding && now > t->stop_ms + STOP_GRACE_MS) {
        t->drained = true;
        if (t->deleted) {
            drop_tombstone(w, t);
        }
    }
    return work;
}

void *ct_writer_main(void *arg)
{
    ts_thread_name("ts-ct-trails");
    /* Background work yields to requests: at nice +5 a request thread that becomes runnable
     * preempts the writer, so delivery bursts do not sit in front of calls. Under sustained
     * saturation the writer still gets several times the CPU it needs (~1.3 us a record). */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE);
    struct ts_cloudtrail *ct = arg;
    struct writer w;
    memset(&w, 0, sizeof(w));
    w.ct = ct;
    w.buf = ts_malloc(READ_BUF);
    w.recs = ts_calloc(READ_RECS, sizeof(*w.recs));
    uint64_t gen = UINT64_MAX;
    bool failing = false;
    while (w.buf && w.recs) {
        pthread_mutex_lock(&ct->lock);
        bool stop = ct->stopping;
        uint64_t wake = ct->wakeups;
        pthread_mutex_unlock(&ct->lock);
        if (stop) {
            break;
        }
        uint64_t target = atomic_load(&ct->appended);
        uint64_t g = atomic_load(&ct->trails_gen);
        if (g != gen) {
            commit_all(&w, ts_clock_now_ms(ct->ctx.clock)); /* reload forgets the cursors */
            gen = g;
            w.gen = g;
            reload(&w);
        }
        /* Appends wake the writer only while a trail may deliver. Set before the pass reads
         * the partitions: what was appended while it was clear is read by this pass. */
        bool busy = false;
        for (size_t i = 0; i < w.n_trails; i++) {
            busy = busy || (!w.trails[i].drained && w.trails[i].has_group);
        }
        atomic_store(&ct->writer_busy, busy);
        int64_t now = ts_clock_now_ms(ct->ctx.clock);
        refresh_names(&w);
        int work = 0;
        bool stopping_trails = false;
        for (size_t i = 0; i < w.n_trails; i++) {
            int n = run_trail(&w, &w.trails[i], now);
            work += n > 0 ? n : 0;
            stopping_trails = stopping_trails || (!w.trails[i].logging && !w.trails[i].drained);
        }
        failing = false;
        for (size_t i = 0; i < w.n_trails; i++) {
            failing = failing || w.trails[i].status_err[0];
        }
        if (work > 0 || atomic_load(&ct->trails_gen) != gen) {
            if (work > 0 && work < COALESCE_RECORDS) {
                /* A small pass: let a few more records gather before the next one, so each
                 * log-group append and cursor commit (two syncs) covers more records and the
                 * writer takes less CPU from the requests it records. Delivery latency grows
                 * by at most COALESCE_MS; a stop waits at most that long. */
                struct timespec pause = {0, COALESCE_MS * 1000000L};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        commit_all(&w, now); /* caught up: every cursor durable before sleeping */
        pthread_mutex_lock(&ct->lock);
        ct->delivered_upto = target;
        pthread_cond_broadcast(&ct->idle_cond);
        if (ct->wakeups == wake && !ct->stopping) {
            /* Idle: sleep until an append or a trail change, or a short period while a trail
             * is draining or delivery is failing (retry). */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ms = stopping_trails ? 200 : failing ? 1000 : 5000;
            int64_t ns = ts.tv_nsec + ms * 1000000LL;
            ts.tv_sec += ns / 1000000000LL;
            ts.tv_nsec = ns % 1000000000LL;
            pthread_cond_timedwait(&ct->cond, &ct->lock, &ts);
        }
        pthread_mutex_unlock(&ct->lock);
    }
    commit_all(&w, ts_clock_now_ms(ct->ctx.clock));
    free_trails(&w);
    ts_store_names_free(w.names, w.n_names);
    ts_free(w.buf);
    ts_free(w.recs);
    return NULL;
}
