/*
 * delivery_subscriptions.c - the subscription dispatcher: log group partitions -> filter
 * pattern -> gzipped DATA_MESSAGE payloads -> the target Kinesis stream, from durable cursors.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 * Payload format and ordering: docs/delivery.md, shared/reference/cloudwatch-logs.md §5.
 *
 * Model. A subscription (one filter) has one tail per log stream of its group: the stream's
 * partition and a cursor, the next offset not yet delivered. The dispatcher thread reads a
 * tail from its cursor, matches each event, packs the matching ones of that stream into
 * payloads and puts each payload to the target; only when the put has returned (the record is
 * durable in the stream) does the cursor move past the events it carries. The checkpointer
 * thread then commits moved cursors to the metadata store. After a crash delivery resumes at
 * the last committed cursor, so every acknowledged event is delivered at least once, and the
 * only duplicates are payloads put after the last cursor commit.
 *
 * Deletion. A deleted filter drains (docs/delivery.md, Deletion): Logs keeps its document
 * under a draining key, and the dispatcher keeps delivering it up to a drain point - the end
 * offsets of the group's streams once the DeleteSubscriptionFilter call's own CloudTrail
 * record has been read from the group (or, when none arrives, once the grace period after the
 * deletion has passed) - then removes the document and the cursors.
 *
 * Locking. `mu` guards the structure of the subscription/tail lists and the hash of tails by
 * partition, the dirty/discover/wake flags and the durable cursors shared with the
 * checkpointer. Only the dispatcher changes the structure; it reads its own fields without the
 * lock. No store or metadata call is ever made with `mu` held: the append hook takes `mu`
 * while the store may hold a partition's writer lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trailstream/ts_delivery.h"
#include "trailstream/ts_pattern.h"

#define READ_BUF_BYTES ((size_t)4 << 20)
#define READ_RECS 4096
#define HASH_BUCKETS 1024
#define PAYLOADS_PER_TURN TS_LOGS_TARGET_BATCH /* fairness: then the next tail's turn */
#define BUILDER_MAX ((size_t)8 << 20)
#define METRICS_EVERY_MS 100
#define CKPT_PREFIX "logs-sub/"
#define NAME_MAX_ 513
#define DRAIN_MAX_MS (15 * 60 * 1000) /* a drain that cannot deliver is abandoned after this */

struct dl_sub;

struct dl_tail {
    struct dl_tail *next;  /* in its subscription */
    struct dl_tail *hnext; /* in the hash bucket of its partition */
    struct dl_sub *sub;
    struct ts_partition *p;
    char stream[NAME_MAX_];
    uint64_t stream_id;
    char ckpt_key[NAME_MAX_ + 80];
    char pkey[33];         /* ByLogStream partition key: stable per log stream */
    uint64_t cursor;       /* dispatcher: next offset to examine */
    uint64_t drain_to;     /* dispatcher: the drain point (draining, drain_fixed) */
    bool work;             /* dispatcher: taken for this cycle */
    /* guarded by mu */
    bool dirty;            /* new records (or a retry) to look at */
    uint64_t durable;      /* cursor covered by durable puts, to be committed */
    uint64_t committed;    /* what the checkpointer last wrote */
};

struct dl_sub {
    struct dl_sub *next;
    char account[16];
    char region[32];
    char group[NAME_MAX_];
    char filter[NAME_MAX_];
    char id[48];
    char prefix[NAME_MAX_ + 80]; /* partition-name prefix of the group's streams */
    char pattern_text[TS_PATTERN_MAX_LEN + 1];
    char target[1024];
    char labels[1400];
    char disabled[128];          /* "" = enabled */
    bool random;
    int64_t creation_ms;
    struct ts_pattern *pattern;
    struct dl_tail *tails;
    bool seen;                   /* reload mark */
    bool discover;               /* guarded by mu: a stream of the group appeared */
    int64_t retry_at;            /* backoff: no put before this time */
    int backoff_ms;
    bool failing;
    /* dispatcher-private: the filter was deleted and drains */
    bool draining;
    bool drain_fixed;            /* the tails' drain_to are set */
    int64_t delete_ms;
    char rid_needle[80];         /* "requestID":"<id>" of the deletion call, or "" */
    char drain_key[1200];        /* its document, for ts_logs_subscription_drained */
};

/* A compressed payload waiting for its (batched) put, and the cursor it completes. */
struct pending {
    struct ts_buf gz;
    char pkey[33];
    uint64_t end_cursor;
    size_t events;
    bool skip;             /* an oversize event skipped: nothing to put */
};

struct ckpt_delete {
    struct ckpt_delete *next;
    char account[16];
    char prefix[NAME_MAX_ + 80];
};

struct ts_delivery {
    struct ts_delivery_opts o;
    struct ts_logs_targets targets;
    pthread_mutex_t mu;
    pthread_cond_t wake_cv;      /* dispatcher sleeps here */
    pthread_cond_t ckpt_cv;      /* checkpointer sleeps here */
    pthread_cond_t idle_cv;      /* ts_delivery_drain sleeps here */
    pthread_t dispatcher, checkpointer;
    bool dispatcher_started, checkpointer_started;
    bool stopping, ckpt_stopping;
    bool wake, reload;
    bool caught_up;              /* last cycle found every tail at its end */
    bool ckpt_dirty, ckpt_busy, ckpt_force;
    struct ckpt_delete *deletes;
    struct dl_sub *subs;
    struct dl_tail *hash[HASH_BUCKETS];
    /* dispatcher-private */
    uint8_t *buf;
    struct ts_record *recs;
    struct ts_buf json;
    struct pending pend[TS_LOGS_TARGET_BATCH]; /* compressed payloads not yet put */
    size_t n_pend, pend_bytes;
    struct ts_gzip *gzip;
    int64_t metrics_at;
    bool gc_done;
    bool reload_failed;          /* retried at the next safety wake-up */
};

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(const struct ts_delivery *d)
{
    return ts_clock_now_ms(d->o.clock);
}

static size_t hash_of(const struct ts_partition *p)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 7) % HASH_BUCKETS;
}

/* Prometheus label value escaping: backslash, quote and newline. */
static void label_escape(const char *s, char *out, size_t out_len)
{
    size_t o = 0;
    for (; *s && o + 3 < out_len; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/* JSON string contents: quote, backslash and control characters escaped; other bytes (UTF-8)
 * are copied as they are. Written straight into reserved space: this runs over every byte
 * delivered, and CloudTrail records are full of quotes. */
static int json_escape(struct ts_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t worst = n > (b->max / 6) ? b->max : n * 6; /* \u00XX per byte at most */
    int rc = ts_buf_reserve(b, TS_MIN(worst, b->max - b->len));
    if (rc) {
        return rc;
    }
    size_t room = b->cap - 1 - b->len;
    char *o = b->data + b->len;
    char *stop = o + room;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 6 > stop) {
            return TS_ETOOBIG;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ checkpoints */

static int ckpt_load(struct ts_delivery *d, const struct dl_sub *s, const char *key,
                     uint64_t *offset)
{
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    int rc = ts_meta_get(d->o.meta, "checkpoint", s->account, key, &b);
    if (!rc) {
        cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "offset");
        if (cJSON_IsNumber(o) && o->valuedouble >= 0) {
            *offset = (uint64_t)o->valuedouble;
        } else {
            rc = TS_ECORRUPT;
        }
        cJSON_Delete(doc);
    }
    ts_buf_free(&b);
    return rc;
}

struct ckpt_item {
    char account[16];
    char key[NAME_MAX_ + 80];
    uint64_t offset;
};

struct ckpt_batch {
    struct ckpt_item *items;
    size_t n;
    struct ckpt_delete *deletes;
};

struct key_collect {
    char (*keys)[NAME_MAX_ + 80];
    char (*accounts)[16];
    size_t n, cap;
    const struct ts_delivery *d; /* orphan sweep: keep keys of live subscriptions */
    bool orphans_only;
};

static bool sub_id_live(const struct ts_delivery *d, const char *key)
{
    /* key = "logs-sub/<id>|<stream>:<stream id>" */
    const char *id = key + strlen(CKPT_PREFIX);
    size_t n = strcspn(id, "|");
    for (const struct dl_sub *s = d->subs; s; s = s->next) {
        if (strlen(s->id) == n && strncmp(s->id, id, n) == 0) {
            return true;
        }
    }
    return false;
}

static int collect_key(void *arg, const char *account, const char *key, const char *json)
{
    struct key_collect *kc = arg;
    TS_UNUSED(json);
    if (kc->orphans_only && sub_id_live(kc->d, key)) {
        return 0;
    }
    if (kc->n == kc->cap) {
        size_t cap = kc->cap ? kc->cap * 2 : 16;
        void *k = ts_realloc(kc->keys, cap * sizeof(*kc->keys));
        if (!k) {
            return TS_ENOMEM;
        }
        kc->keys = k;
        void *a = ts_realloc(kc->accounts, cap * sizeof(*kc->accounts));
        if (!a) {
            return TS_ENOMEM;
        }
        kc->accounts = a;
        kc->cap = cap;
    }
    ts_strlcpy(kc->keys[kc->n], key, sizeof(kc->keys[0]));
    ts_strlcpy(kc->accounts[kc->n], account, sizeof(kc->accounts[0]));
    kc->n++;
    return 0;
}

static int delete_keys(struct ts_meta *m, struct key_collect *kc)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < kc->n; i++) {
        rc = ts_meta_delete(m, "checkpoint", kc->accounts[i], kc->keys[i]);
        rc = rc == TS_ENOTFOUND ? 0 : rc;
    }
    return rc;
}

static int ckpt_txn(struct ts_meta *m, void *arg)
{
    struct ckpt_batch *b = arg;
    int rc = 0;
    char json[64];
    for (size_t i = 0; !rc && i < b->n; i++) {
        snprintf(json, sizeof(json), "{\"offset\":%llu}", (unsigned long long)b->items[i].offset);
        rc = ts_meta_put(m, "checkpoint", b->items[i].account, b->items[i].key, json);
    }
    for (struct ckpt_delete *del = b->deletes; !rc && del; del = del->next) {
        struct key_collect kc;
        memset(&kc, 0, sizeof(kc));
        rc = ts_meta_list(m, "checkpoint", del->account, del->prefix, collect_key, &kc);
        if (!rc) {
            rc = delete_keys(m, &kc);
        }
        ts_free(kc.keys);
        ts_free(kc.accounts);
    }
    return rc;
}

/* The checkpointer: commits the cursors the dispatcher made durable, in one transaction per
 * round, so a slow metadata sync never delays a put. Cursor deletions (a filter or stream went
 * away) are queued here too, which orders them after any earlier write of the same keys. */
static void *checkpointer_main(void *arg)
{
    ts_thread_name("ts-sub-ckpt");
    struct ts_delivery *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->ckpt_dirty && !d->deletes && !d->ckpt_stopping) {
            pthread_cond_wait(&d->ckpt_cv, &d->mu);
        }
        if (!d->ckpt_dirty && !d->deletes) {
            break; /* stopping with nothing left */
        }
        struct ckpt_batch b = {NULL, 0, d->deletes};
        d->deletes = NULL;
        size_t cap = 0;
        for (struct dl_sub *s = d->subs; s; s = s->next) {
            for (struct dl_tail *t = s->tails; t; t = t->next) {
                cap += t->durable != t->committed || d->ckpt_force;
            }
        }
        b.items = cap ? ts_malloc(cap * sizeof(*b.items)) : NULL;
        for (struct dl_sub *s = d->subs; b.items && s; s = s->next) {
            for (struct dl_tail *t = s->tails; t; t = t->next) {
                if (t->durable != t->committed || d->ckpt_force) {
                    struct ckpt_item *it = &b.items[b.n++];
                    ts_strlcpy(it->account, s->account, sizeof(it->account));
                    ts_strlcpy(it->key, t->ckpt_key, sizeof(it->key));
                    it->offset = t->durable;
                    t->committed = t->durable;
                }
            }
        }
        bool lost = cap && !b.items;
        d->ckpt_dirty = lost;
        d->ckpt_force = false;
        d->ckpt_busy = true;
        pthread_mutex_unlock(&d->mu);
        int rc = lost ? TS_ENOMEM : ts_meta_txn(d->o.meta, ckpt_txn, &b);
        if (rc) {
            TS_LOG_WARN("delivery", "committing delivery cursors failed: %s (retrying)",
                        ts_strerror(rc));
            ts_metric_add("ts_delivery_checkpoint_errors_total", "", 1);
            struct timespec pause = {0, 200 * 1000000};
            nanosleep(&pause, NULL);
        }
        ts_free(b.items);
        pthread_mutex_lock(&d->mu);
        if (rc) {
            /* Rewrite everything next round; deletions are retried too. */
            d->ckpt_force = d->ckpt_dirty = true;
            struct ckpt_delete **pp = &b.deletes;
            while (*pp) {
                pp = &(*pp)->next;
            }
            *pp = d->deletes;
            d->deletes = b.deletes;
        } else {
            while (b.deletes) {
                struct ckpt_delete *next = b.deletes->next;
                ts_free(b.deletes);
                b.deletes = next;
            }
        }
        d->ckpt_busy = false;
        pthread_cond_broadcast(&d->idle_cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Queues removal of every cursor whose key starts with prefix. Called with mu held. */
static void queue_ckpt_delete(struct ts_delivery *d, const char *account, const char *prefix)
{
    struct ckpt_delete *del = ts_calloc(1, sizeof(*del));
    if (!del) {
        return; /* an orphan cursor is harmless and swept at the next start */
    }
    ts_strlcpy(del->account, account, sizeof(del->account));
    ts_strlcpy(del->prefix, prefix, sizeof(del->prefix));
    del->next = d->deletes;
    d->deletes = del;
    pthread_cond_signal(&d->ckpt_cv);
}

/* ------------------------------------------------------------------ subscriptions */

static void tail_unhash(struct ts_delivery *d, struct dl_tail *t)
{
    struct dl_tail **pp = &d->hash[hash_of(t->p)];
    while (*pp && *pp != t) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = t->hnext;
    }
}

/* Unlinks and frees a subscription and its tails. Called with mu held. */
static void sub_remove(struct ts_delivery *d, struct dl_sub *s)
{
    struct dl_sub **pp = &d->subs;
    while (*pp && *pp != s) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = s->next;
    }
    while (s->tails) {
        struct dl_tail *t = s->tails;
        s->tails = t->next;
        tail_unhash(d, t);
        ts_free(t);
    }
}

static void sub_free(struct dl_sub *s)
{
    if (s) {
        ts_pattern_destroy(s->pattern);
        ts_free(s);
    }
}

static int reload_one(void *arg, const struct ts_logs_subscription *ls)
{
    struct ts_delivery *d = arg;
    struct dl_sub *s = d->subs;
    while (s && !(strcmp(s->account, ls->account) == 0 && strcmp(s->id, ls->id) == 0)) {
        s = s->next;
    }
    bool fresh = s == NULL;
    if (fresh) {
        s = ts_calloc(1, sizeof(*s));
        if (!s) {
            return TS_ENOMEM;
        }
        ts_strlcpy(s->account, ls->account, sizeof(s->account));
        ts_strlcpy(s->region, ls->region, sizeof(s->region));
        ts_strlcpy(s->group, ls->group, sizeof(s->group));
        ts_strlcpy(s->filter, ls->filter_name, sizeof(s->filter));
        ts_strlcpy(s->id, ls->id, sizeof(s->id));
        if (ts_logs_group_partition_prefix(s->account, s->region, s->group, s->prefix,
                                           sizeof(s->prefix)) != 0) {
            ts_free(s);
            return 0;
        }
        char esc[1300], raw[1300];
        snprintf(raw, sizeof(raw), "%s:%s:%s", s->account, s->group, s->filter);
        label_escape(raw, esc, sizeof(esc));
        snprintf(s->labels, sizeof(s->labels), "subscription=\"%s\"", esc);
    }
    if (!s->pattern || strcmp(s->pattern_text, ls->filter_pattern) != 0) {
        /* The pattern was validated by PutSubscriptionFilter; compiling cannot fail but for
         * memory, and then the previous pattern (or none: the filter waits) stays. */
        struct ts_pattern *p = NULL;
        if (ts_pattern_compile(ls->filter_pattern, strlen(ls->filter_pattern), &p, NULL, 0) ==
            0) {
            ts_pattern_destroy(s->pattern);
            s->pattern = p;
            ts_strlcpy(s->pattern_text, ls->filter_pattern, sizeof(s->pattern_text));
        }
    }
    s->creation_ms = ls->creation_ms;
    s->random = ls->random;
    if (ls->drain_key && !s->draining) {
        /* Deleted: same id, same cursors; from now on it only drains. */
        s->draining = true;
        s->delete_ms = ls->delete_ms;
        ts_strlcpy(s->drain_key, ls->drain_key, sizeof(s->drain_key));
        if (ls->delete_request_id && ls->delete_request_id[0]) {
            snprintf(s->rid_needle, sizeof(s->rid_needle), "\"requestID\":\"%s\"",
                     ls->delete_request_id);
        }
    }
    if (strcmp(s->target, ls->target_arn) != 0) {
        s->retry_at = 0; /* a new target gets a fresh chance at once */
        s->backoff_ms = 0;
    }
    ts_strlcpy(s->target, ls->target_arn, sizeof(s->target));
    ts_strlcpy(s->disabled, ls->disabled ? ls->disabled : "", sizeof(s->disabled));
    if (!s->pattern) {
        ts_strlcpy(s->disabled, "the filter pattern could not be compiled", sizeof(s->disabled));
    }
    s->seen = true;
    pthread_mutex_lock(&d->mu);
    s->discover = true;
    for (struct dl_tail *t = s->tails; t; t = t->next) {
        t->dirty = true;
    }
    if (fresh) {
        s->next = d->subs;
        d->subs = s;
    }
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static void reload(struct ts_delivery *d)
{
    for (struct dl_sub *s = d->subs; s; s = s->next) {
        s->seen = false;
    }
    int rc = ts_logs_each_subscription(d->o.logs, reload_one, d);
    if (rc) {
        /* Keep what we have; try again at the next safety wake-up. */
        TS_LOG_WARN("delivery", "loading subscription filters failed: %s", ts_strerror(rc));
        d->reload_failed = true;
        return;
    }
    struct dl_sub *gone = NULL;
    pthread_mutex_lock(&d->mu);
    for (struct dl_sub *s = d->subs, *next; s; s = next) {
        next = s->next;
        if (!s->seen) {
            /* The document is gone (its log group was deleted): stop now and forget the
             * cursors. */
            char prefix[NAME_MAX_ + 80];
            snprintf(prefix, sizeof(prefix), CKPT_PREFIX "%s|", s->id);
            queue_ckpt_delete(d, s->account, prefix);
            sub_remove(d, s);
            s->next = gone;
            gone = s;
        }
    }
    pthread_mutex_unlock(&d->mu);
    while (gone) {
        struct dl_sub *next = gone->next;
        if (!gone->draining) {
            /* A draining filter's labels may already belong to its successor. */
            ts_metric_set("ts_delivery_lag_events", gone->labels, 0);
            ts_metric_set("ts_delivery_lag_ms", gone->labels, 0);
        }
        TS_LOG_INFO("delivery", "subscription %s stopped (filter deleted)", gone->labels);
        sub_free(gone);
        gone = next;
    }
    d->reload_failed = false;
    if (!d->gc_done && d->o.accounts) {
        /* Cursors of filters deleted while the server was down. */
        struct key_collect kc;
        memset(&kc, 0, sizeof(kc));
        kc.d = d;
        kc.orphans_only = true;
        int grc = 0;
        for (size_t i = 0; !grc && i < ts_aws_accounts_count(d->o.accounts); i++) {
            grc = ts_meta_list(d->o.meta, "checkpoint", ts_aws_accounts_id_at(d->o.accounts, i),
                               CKPT_PREFIX, collect_key, &kc);
        }
        if (!grc && delete_keys(d->o.meta, &kc) == 0) {
            d->gc_done = true;
        }
        ts_free(kc.keys);
        ts_free(kc.accounts);
    }
}

/* ------------------------------------------------------------------ streams (tails) */

struct discover_ctx {
    struct ts_delivery *d;
    struct dl_sub *s;
};

static int discover_one(void *arg, const char *stream, uint64_t stream_id)
{
    struct discover_ctx *dc = arg;
    struct ts_delivery *d = dc->d;
    struct dl_sub *s = dc->s;
    for (struct dl_tail *t = s->tails; t; t = t->next) {
        if (t->stream_id == stream_id && strcmp(t->stream, stream) == 0) {
            return 0;
        }
    }
    char pname[TS_STORE_NAME_MAX];
    struct ts_partition *p;
    if (ts_logs_partition_name(s->account, s->region, s->group, stream, stream_id, pname,
                               sizeof(pname)) != 0 ||
        ts_store_partition(d->o.store, pname, false, &p) != 0) {
        return 0; /* created at the first PutLogEvents, which wakes us again */
    }
    struct dl_tail *t = ts_calloc(1, sizeof(*t));
    if (!t) {
        return TS_ENOMEM;
    }
    t->sub = s;
    t->p = p;
    t->stream_id = stream_id;
    ts_strlcpy(t->stream, stream, sizeof(t->stream));
    snprintf(t->ckpt_key, sizeof(t->ckpt_key), CKPT_PREFIX "%s|%s:%016llx", s->id, stream,
             (unsigned long long)stream_id);
    /* ByLogStream: one stable key per log stream, so one stream's payloads land in one shard
     * in order. */
    char seed[NAME_MAX_ * 2 + 32];
    int n = snprintf(seed, sizeof(seed), "%s/%s/%s", s->account, s->group, stream);
    uint8_t md[TS_MD5_LEN];
    ts_md5(seed, (size_t)n, md);
    ts_hex(md, sizeof(md), t->pkey);
    int rc = ckpt_load(d, s, t->ckpt_key, &t->cursor);
    if (rc == TS_ENOTFOUND) {
        /* No backfill: a stream that existed when the filter was created starts at the first
         * event ingested after that; a newer stream starts at its beginning. */
        rc = ts_partition_find_time(p, s->creation_ms, &t->cursor);
        t->committed = UINT64_MAX; /* write the starting point at the first commit */
    } else {
        t->committed = t->cursor;
    }
    if (rc) {
        ts_free(t);
        return rc == TS_ECLOSED ? 0 : rc;
    }
    /* A stream found after the drain point was fixed owes nothing. */
    t->drain_to = t->cursor;
    pthread_mutex_lock(&d->mu);
    t->durable = t->cursor;
    t->dirty = true;
    if (t->committed != t->durable) {
        d->ckpt_dirty = true;
        pthread_cond_signal(&d->ckpt_cv);
    }
    t->next = s->tails;
    s->tails = t;
    size_t h = hash_of(p);
    t->hnext = d->hash[h];
    d->hash[h] = t;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static void tail_remove(struct ts_delivery *d, struct dl_tail *t)
{
    struct dl_sub *s = t->sub;
    pthread_mutex_lock(&d->mu);
    struct dl_tail **pp = &s->tails;
    while (*pp && *pp != t) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = t->next;
    }
    tail_unhash(d, t);
    queue_ckpt_delete(d, s->account, t->ckpt_key);
    pthread_mutex_unlock(&d->mu);
    ts_free(t);
}

/* ------------------------------------------------------------------ payloads */

struct builder {
    size_t events;
    uint64_t first_offset;
};

static int builder_start(struct ts_delivery *d, const struct dl_tail *t)
{
    const struct dl_sub *s = t->sub;
    ts_buf_reset(&d->json);
    int rc = ts_buf_adds(&d->json, "{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"");
    rc = rc ? rc : ts_buf_adds(&d->json, s->account);
    rc = rc ? rc : ts_buf_adds(&d->json, "\",\"logGroup\":\"");
    rc = rc ? rc : json_escape(&d->json, s->group, strlen(s->group));
    rc = rc ? rc : ts_buf_adds(&d->json, "\",\"logStream\":\"");
    rc = rc ? rc : json_escape(&d->json, t->stream, strlen(t->stream));
    rc = rc ? rc : ts_buf_adds(&d->json, "\",\"subscriptionFilters\":[\"");
    rc = rc ? rc : json_escape(&d->json, s->filter, strlen(s->filter));
    rc = rc ? rc : ts_buf_adds(&d->json, "\"],\"logEvents\":[");
    return rc;
}

static int builder_add(struct ts_delivery *d, const struct dl_tail *t, struct builder *b,
                       const struct ts_logs_event *ev)
{
    char id[57];
    ts_logs_event_id(t->stream_id, ev->timestamp, ev->offset, id);
    size_t mark = d->json.len;
    int rc = ts_buf_addf(&d->json, "%s{\"id\":\"%s\",\"timestamp\":%lld,\"message\":\"",
                         b->events ? "," : "", id, (long long)ev->timestamp);
    rc = rc ? rc : json_escape(&d->json, ev->message, ev->message_len);
    rc = rc ? rc : ts_buf_adds(&d->json, "\"}");
    if (rc) {
        d->json.len = mark;
        d->json.data[mark] = '\0';
        return rc;
    }
    if (!b->events) {
        b->first_offset = ev->offset;
    }
    b->events++;
    return 0;
}

/* Closes the payload being built and compresses it into the next pending slot; it completes
 * the tail up to end_cursor once put. An event too large for any record even compressed is
 * skipped (counted and logged): a record that can never be written must not stop the
 * stream forever. Returns 0 or a buffer error. */
static int builder_close(struct ts_delivery *d, struct dl_tail *t, struct builder *b,
                         uint64_t end_cursor)
{
    struct dl_sub *s = t->sub;
    struct pending *pe = &d->pend[d->n_pend];
    int rc = ts_buf_adds(&d->json, "]}");
    ts_buf_reset(&pe->gz);
    if (!rc) {
        rc = ts_gzip_compress(d->gzip, d->json.data, d->json.len, &pe->gz);
    }
    pe->skip = false;
    if (rc == TS_ETOOBIG && b->events == 1) {
        TS_LOG_WARN("delivery", "%s: event at offset %llu of stream %s does not fit in a "
                    "Kinesis record even compressed; skipped",
                    s->labels, (unsigned long long)b->first_offset, t->stream);
        ts_metric_add("ts_delivery_oversize_events_total", s->labels, 1);
        pe->skip = true;
        rc = 0;
    }
    if (rc) {
        return rc;
    }
    if (s->random) {
        uint8_t r[16];
        ts_random(r, sizeof(r));
        ts_hex(r, sizeof(r), pe->pkey);
    } else {
        ts_strlcpy(pe->pkey, t->pkey, sizeof(pe->pkey));
    }
    pe->end_cursor = end_cursor;
    pe->events = b->events;
    d->n_pend++;
    d->pend_bytes += pe->gz.len;
    b->events = 0;
    return 0;
}

/* True when one more payload might not fit in the pending batch. */
static bool pending_full(const struct ts_delivery *d)
{
    return d->n_pend == TS_LOGS_TARGET_BATCH ||
           d->pend_bytes + TS_LOGS_PAYLOAD_MAX + 256 > TS_LOGS_TARGET_BATCH_BYTES;
}

/* Puts the pending payloads (one batched call when the target has one) and moves the tail's
 * cursor over the longest prefix of them that is durable. Returns 0 when all were put, or
 * the first failure (the rest are built again from the cursor at the retry). */
static int submit_pending(struct ts_delivery *d, struct dl_tail *t)
{
    struct dl_sub *s = t->sub;
    struct ts_logs_target_record recs[TS_LOGS_TARGET_BATCH];
    size_t n = 0;
    for (size_t i = 0; i < d->n_pend; i++) {
        if (!d->pend[i].skip) {
            recs[n++] = (struct ts_logs_target_record){d->pend[i].pkey, d->pend[i].gz.data,
                                                       d->pend[i].gz.len, 0};
        }
    }
    /* Durability order: each put returns only when its record is durable in the stream; the
     * cursor moves past a payload's events only after that. */
    int rc = 0;
    if (n > 1 && d->targets.put_batch) {
        rc = d->targets.put_batch(d->targets.ctx, s->target, recs, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            recs[i].rc = rc ? rc : d->targets.put(d->targets.ctx, s->target,
                                                  recs[i].partition_key, recs[i].data,
                                                  recs[i].len);
            rc = recs[i].rc;
        }
        rc = 0;
    }
    size_t k = 0;
    for (size_t i = 0; !rc && i < d->n_pend; i++) {
        struct pending *pe = &d->pend[i];
        if (!pe->skip) {
            if (recs[k].rc) {
                rc = recs[k].rc;
                break;
            }
            k++;
            ts_metric_add("ts_delivery_events_total", s->labels, (double)pe->events);
            ts_metric_add("ts_delivery_bytes_total", s->labels, (double)pe->gz.len);
            ts_metric_add("ts_delivery_payloads_total", s->labels, 1);
        }
        t->cursor = pe->end_cursor;
    }
    d->n_pend = 0;
    d->pend_bytes = 0;
    return rc;
}

static void sub_failed(struct ts_delivery *d, struct dl_sub *s, int rc)
{
    int64_t now = now_ms(d);
    s->backoff_ms = s->backoff_ms ? TS_MIN(s->backoff_ms * 2, d->o.backoff_max_ms)
                                  : d->o.backoff_min_ms;
    s->retry_at = now + s->backoff_ms;
    ts_metric_add("ts_delivery_errors_total", s->labels, 1);
    if (!s->failing) {
        TS_LOG_WARN("delivery", "%s: put to %s failed: %s; retrying with backoff", s->labels,
                    s->target, ts_strerror(rc));
    }
    s->failing = true;
}

/* Fixes a draining subscription's drain point at the current end of each tail. Dispatcher. */
static void drain_fix(struct ts_delivery *d, struct dl_sub *s)
{
    for (struct dl_tail *t = s->tails; t; t = t->next) {
        t->drain_to = ts_partition_end_offset(t->p);
    }
    s->drain_fixed = true;
    pthread_mutex_lock(&d->mu);
    for (struct dl_tail *t = s->tails; t; t = t->next) {
        t->dirty = true;
    }
    pthread_mutex_unlock(&d->mu);
}

/* Whether a draining subscription has something to decide now: its grace period is over
 * without a drain point, its tails reached the drain point, or it must be given up. */
static bool drain_ready(const struct ts_delivery *d, const struct dl_sub *s, int64_t now)
{
    if (!s->draining || s->retry_at > now) {
        return false;
    }
    if (now > s->delete_ms + DRAIN_MAX_MS ||
        (s->disabled[0] && now > s->delete_ms + d->o.drain_grace_ms)) {
        return true;
    }
    if (!s->drain_fixed) {
        return now > s->delete_ms + d->o.drain_grace_ms;
    }
    for (const struct dl_tail *t = s->tails; t; t = t->next) {
        if (t->cursor < t->drain_to) {
            return false;
        }
    }
    return true;
}

/* Advances a draining subscription: fixes its drain point when the grace period is over, and
 * once every tail reached it (or the drain must be given up) removes the document, then the
 * cursors, then the subscription. Returns true when s was freed. Dispatcher thread. */
static bool drain_step(struct ts_delivery *d, struct dl_sub *s)
{
    int64_t now = now_ms(d);
    if (!drain_ready(d, s, now)) {
        return false;
    }
    bool give_up = now > s->delete_ms + DRAIN_MAX_MS ||
                   (s->disabled[0] && now > s->delete_ms + d->o.drain_grace_ms);
    if (!s->drain_fixed && !give_up) {
        /* No deletion record was seen (no trail delivers into this group, or it was already
         * behind the cursors at a restart): deliver up to where the streams end now. */
        drain_fix(d, s);
        if (!drain_ready(d, s, now)) {
            return false;
        }
    }
    if (give_up) {
        TS_LOG_WARN("delivery", "%s: deleted filter could not drain (%s); giving up",
                    s->labels, s->disabled[0] ? s->disabled : "target failing");
    }
    /* Durability order: the document goes first. A crash before that resumes the drain at
     * restart; a crash after it leaves orphan cursors, swept at the next start. */
    int rc = ts_logs_subscription_drained(d->o.logs, s->account, s->drain_key);
    if (rc) {
        TS_LOG_WARN("delivery", "%s: removing the drained filter failed: %s (retrying)",
                    s->labels, ts_strerror(rc));
        s->retry_at = now + d->o.backoff_max_ms;
        return false;
    }
    char prefix[NAME_MAX_ + 80];
    snprintf(prefix, sizeof(prefix), CKPT_PREFIX "%s|", s->id);
    pthread_mutex_lock(&d->mu);
    queue_ckpt_delete(d, s->account, prefix);
    sub_remove(d, s);
    pthread_mutex_unlock(&d->mu);
    TS_LOG_INFO("delivery", "subscription %s stopped (deleted filter drained)", s->labels);
    sub_free(s);
    return true;
}

/* Delivers what a tail has from its cursor (at most PAYLOADS_PER_TURN payloads). Returns 0,
 * 1 when more is left for another turn, TS_ECLOSED when the stream was deleted, or a put
 * error (the subscription backs off). */
static int process_tail(struct ts_delivery *d, struct dl_tail *t)
{
    struct dl_sub *s = t->sub;
    uint64_t start = ts_partition_start_offset(t->p);
    if (t->cursor < start) {
        /* Retention removed events that were never delivered (the target was down for
         * longer than the log group keeps events). */
        ts_metric_add("ts_delivery_expired_events_total", s->labels,
                      (double)(start - t->cursor));
        t->cursor = start;
    }
    uint64_t end = ts_partition_end_offset(t->p);
    if (s->draining && s->drain_fixed) {
        end = TS_MIN(end, t->drain_to);
    }
    struct builder b = {0, 0};
    d->n_pend = 0;
    d->pend_bytes = 0;
    /* pos: the next offset to examine. t->cursor: the first offset not yet covered (delivered
     * or skipped as non-matching); it equals pos whenever nothing is being built or waits
     * for its put. */
    uint64_t pos = t->cursor;
    int rc = 0;
    while (pos < end) {
        size_t n = 0;
        uint64_t next = pos;
        rc = ts_partition_read(t->p, pos, d->buf, READ_BUF_BYTES, d->recs, READ_RECS, &n, &next);
        if (rc == TS_ERANGE && pos < ts_partition_start_offset(t->p)) {
            pos = ts_partition_start_offset(t->p); /* retention moved the start meanwhile */
            if (!b.events && !d->n_pend) {
                t->cursor = pos;
            }
            continue;
        }
        if (rc) {
            return rc;
        }
        if (n == 0 || next <= pos) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct ts_record *r = &d->recs[i];
            struct ts_logs_event ev;
            bool decoded = !r->gap &&
                           ts_logs_decode_record(r->data, r->len, r->ts_ms, r->offset, &ev) == 0;
            if (decoded && s->draining && !s->drain_fixed && s->rid_needle[0] &&
                memmem(ev.message, ev.message_len, s->rid_needle, strlen(s->rid_needle))) {
                /* The deletion's own CloudTrail record reached the group: the drain point
                 * is where the group's streams end now (at or after that append). */
                drain_fix(d, s);
            }
            bool match = decoded && ts_pattern_match(s->pattern, ev.message, ev.message_len);
            uint64_t after = r->gap ? r->gap_end : r->offset + 1;
            if (!match) {
                pos = after;
                if (!b.events && !d->n_pend) {
                    t->cursor = pos; /* nothing pending: skipping is free */
                }
                continue;
            }
            if (b.events && d->json.len + ev.message_len + 128 > d->o.payload_json_max) {
                rc = builder_close(d, t, &b, r->offset);
                if (!rc && pending_full(d)) {
                    rc = submit_pending(d, t);
                    if (!rc) {
                        return 1; /* a full batch went out: this record starts the next turn */
                    }
                }
                if (rc) {
                    return rc;
                }
            }
            rc = b.events ? 0 : builder_start(d, t);
            rc = rc ? rc : builder_add(d, t, &b, &ev);
            if (rc) {
                return rc;
            }
            pos = after;
        }
        pos = next;
    }
    if (b.events) {
        rc = builder_close(d, t, &b, pos);
    }
    if (!rc) {
        rc = submit_pending(d, t);
    }
    if (!rc) {
        t->cursor = pos;
    }
    return rc;
}

/* ------------------------------------------------------------------ metrics */

static void update_metrics(struct ts_delivery *d)
{
    int64_t now = now_ms(d);
    for (struct dl_sub *s = d->subs; s; s = s->next) {
        if (s->draining) {
            continue; /* its labels may already belong to a new filter of the same name */
        }
        uint64_t lag = 0;
        int64_t oldest = now;
        for (struct dl_tail *t = s->tails; t; t = t->next) {
            uint64_t end = ts_partition_end_offset(t->p);
            if (end <= t->cursor) {
                continue;
            }
            lag += end - t->cursor;
            /* The append time of the oldest undelivered event: one record read. */
            struct ts_record r;
            size_t n = 0;
            uint64_t next;
            if (ts_partition_read(t->p, t->cursor, d->buf, READ_BUF_BYTES, &r, 1, &n, &next) ==
                    0 &&
                n == 1 && !r.gap && r.ts_ms < oldest) {
                oldest = r.ts_ms;
            }
        }
        ts_metric_set("ts_delivery_lag_events", s->labels, (double)lag);
        ts_metric_set("ts_delivery_lag_ms", s->labels, lag ? (double)(now - oldest) : 0);
        size_t nt = 0;
        for (struct dl_tail *t = s->tails; t; t = t->next) {
            nt++;
        }
        ts_metric_set("ts_delivery_streams", s->labels, (double)nt);
        ts_metric_set("ts_delivery_paused", s->labels, s->disabled[0] || s->failing ? 1 : 0);
    }
    d->metrics_at = now;
}

/* ------------------------------------------------------------------ the dispatcher */

static void *dispatcher_main(void *arg)
{
    ts_thread_name("ts-sub-dispatch");
    struct ts_delivery *d = arg;
    reload(d);
    update_metrics(d);
    pthread_mutex_lock(&d->mu);
    while (!d->stopping) {
        if (d->reload) {
            d->reload = false;
            pthread_mutex_unlock(&d->mu);
            reload(d);
            pthread_mutex_lock(&d->mu);
            continue;
        }
        /* Take the work of this cycle. */
        int64_t now = now_ms(d);
        int64_t deadline = now + d->o.safety_wait_ms;
        bool any = false;
        for (struct dl_sub *s = d->subs; s; s = s->next) {
            if (s->draining) {
                any |= drain_ready(d, s, now);
                int64_t grace_end = s->delete_ms + d->o.drain_grace_ms + 1;
                if (!s->drain_fixed && grace_end > now) {
                    deadline = TS_MIN(deadline, grace_end); /* wake up to fix the point */
                }
            }
            if (s->disabled[0]) {
                continue;
            }
            if (s->retry_at > now) {
                deadline = TS_MIN(deadline, s->retry_at);
                continue;
            }
            for (struct dl_tail *t = s->tails; t; t = t->next) {
                t->work = t->dirty;
                t->dirty = false;
                any |= t->work;
            }
            if (s->discover) {
                any = true;
            }
        }
        if (!any) {
            d->caught_up = true;
            pthread_cond_broadcast(&d->idle_cv);
            bool timed_out = false;
            while (!d->wake && !d->stopping && !d->reload && !timed_out) {
                int64_t left = deadline - now_ms(d);
                if (left <= 0) {
                    break;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t ns = (int64_t)ts.tv_nsec + (left % 1000) * 1000000;
                ts.tv_sec += (time_t)(left / 1000 + ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                timed_out = pthread_cond_timedwait(&d->wake_cv, &d->mu, &ts) != 0;
            }
            if (!d->wake && !d->reload) {
                /* Safety net or a retry time: look at everything again. */
                d->reload = d->reload_failed;
                for (struct dl_sub *s = d->subs; s; s = s->next) {
                    for (struct dl_tail *t = s->tails; t; t = t->next) {
                        t->dirty = true;
                    }
                }
                if (now_ms(d) - d->metrics_at >= METRICS_EVERY_MS) {
                    pthread_mutex_unlock(&d->mu);
                    update_metrics(d);
                    pthread_mutex_lock(&d->mu);
                }
            }
            d->wake = false;
            continue;
        }
        d->wake = false;
        d->caught_up = false;
        pthread_mutex_unlock(&d->mu);

        for (struct dl_sub *s = d->subs, *snext; s; s = snext) {
            snext = s->next;
            pthread_mutex_lock(&d->mu);
            bool disc = s->discover && !s->disabled[0];
            if (disc) {
                s->discover = false;
            }
            pthread_mutex_unlock(&d->mu);
            if (disc) {
                struct discover_ctx dc = {d, s};
                int rc = ts_logs_each_stream(d->o.logs, s->account, s->region, s->group,
                                             discover_one, &dc);
                if (rc) {
                    pthread_mutex_lock(&d->mu);
                    s->discover = true; /* again at the next cycle */
                    pthread_mutex_unlock(&d->mu);
                }
            }
            for (struct dl_tail *t = s->tails, *next; t; t = next) {
                next = t->next;
                if (!t->work || s->retry_at > now_ms(d)) {
                    continue;
                }
                t->work = false;
                uint64_t before = t->cursor;
                int rc = process_tail(d, t);
                if (rc == TS_ECLOSED) {
                    tail_remove(d, t); /* the log stream was deleted */
                    continue;
                }
                if (rc < 0) {
                    sub_failed(d, s, rc);
                } else if (s->failing) {
                    TS_LOG_INFO("delivery", "%s: delivering again to %s", s->labels, s->target);
                    s->failing = false;
                    s->backoff_ms = 0;
                    s->retry_at = 0;
                }
                pthread_mutex_lock(&d->mu);
                if (t->cursor != before) {
                    t->durable = t->cursor;
                    d->ckpt_dirty = true;
                    pthread_cond_signal(&d->ckpt_cv);
                }
                if (rc != 0) {
                    t->dirty = true; /* more to do, or a retry after the backoff */
                }
                pthread_mutex_unlock(&d->mu);
            }
            if (s->draining) {
                drain_step(d, s);
            }
        }
        if (now_ms(d) - d->metrics_at >= METRICS_EVERY_MS) {
            update_metrics(d);
        }
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    update_metrics(d);
    return NULL;
}

/* ------------------------------------------------------------------ public */

void ts_delivery_notify(struct ts_delivery *d, struct ts_partition *p, uint64_t end_offset)
{
    TS_UNUSED(end_offset);
    if (!d) {
        return;
    }
    const char *name = ts_partition_name(p);
    if (strncmp(name, "logs/", 5) != 0) {
        return; /* Kinesis shards and other partitions never feed subscriptions */
    }
    pthread_mutex_lock(&d->mu);
    bool found = false;
    for (struct dl_tail *t = d->hash[hash_of(p)]; t; t = t->hnext) {
        if (t->p == p) {
            t->dirty = true;
            found = true;
        }
    }
    if (!found) {
        /* A stream the dispatcher does not tail yet: is it in a subscribed group? */
        for (struct dl_sub *s = d->subs; s; s = s->next) {
            if (ts_str_has_prefix(name, s->prefix)) {
                s->discover = true;
                found = true;
            }
        }
    }
    if (found) {
        d->wake = true;
        d->caught_up = false;
        pthread_cond_signal(&d->wake_cv);
    }
    pthread_mutex_unlock(&d->mu);
}

void ts_delivery_changed(struct ts_delivery *d)
{
    if (!d) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->reload = true;
    d->caught_up = false;
    pthread_cond_signal(&d->wake_cv);
    pthread_mutex_unlock(&d->mu);
}

static bool all_committed(const struct ts_delivery *d)
{
    if (d->ckpt_dirty || d->ckpt_busy || d->deletes) {
        return false;
    }
    for (const struct dl_sub *s = d->subs; s; s = s->next) {
        for (const struct dl_tail *t = s->tails; t; t = t->next) {
            if (t->dirty || t->durable != t->committed) {
                return false;
            }
        }
    }
    return true;
}

int ts_delivery_drain(struct ts_delivery *d, int timeout_ms)
{
    int64_t deadline = now_ms(d) + timeout_ms;
    pthread_mutex_lock(&d->mu);
    int rc = 0;
    while (!(d->caught_up && !d->reload && !d->wake && all_committed(d))) {
        int64_t left = deadline - now_ms(d);
        if (left <= 0) {
            rc = TS_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t step = TS_MIN(left, 50);
        int64_t ns = (int64_t)ts.tv_nsec + step * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&d->idle_cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int ts_delivery_create(const struct ts_delivery_opts *opts, struct ts_delivery **out)
{
    if (!opts || !opts->store || !opts->meta || !opts->logs || !opts->targets ||
        !opts->targets->put) {
        return TS_EINVAL;
    }
    struct ts_delivery *d = ts_calloc(1, sizeof(*d));
    if (!d) {
        return TS_ENOMEM;
    }
    d->o = *opts;
    d->targets = *opts->targets;
    d->o.targets = NULL;
    d->o.clock = d->o.clock ? d->o.clock : &ts_clock_real;
    d->o.safety_wait_ms = d->o.safety_wait_ms > 0 ? d->o.safety_wait_ms : 1000;
    d->o.backoff_min_ms = d->o.backoff_min_ms > 0 ? d->o.backoff_min_ms : 100;
    d->o.backoff_max_ms = d->o.backoff_max_ms > 0 ? d->o.backoff_max_ms : 5000;
    d->o.drain_grace_ms = d->o.drain_grace_ms > 0 ? d->o.drain_grace_ms : 5000;
    d->o.gzip_level = d->o.gzip_level > 0 ? d->o.gzip_level : 1;
    if (!d->o.payload_json_max || d->o.payload_json_max > TS_LOGS_PAYLOAD_MAX - 4096) {
        d->o.payload_json_max = TS_LOGS_PAYLOAD_MAX - 4096;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->wake_cv, NULL);
    pthread_cond_init(&d->ckpt_cv, NULL);
    pthread_cond_init(&d->idle_cv, NULL);
    ts_buf_init(&d->json, BUILDER_MAX);
    for (size_t i = 0; i < TS_LOGS_TARGET_BATCH; i++) {
        ts_buf_init(&d->pend[i].gz, TS_LOGS_PAYLOAD_MAX);
    }
    d->buf = ts_malloc(READ_BUF_BYTES);
    d->recs = ts_malloc(READ_RECS * sizeof(*d->recs));
    d->gzip = ts_gzip_create(d->o.gzip_level);
    if (!d->buf || !d->recs || !d->gzip) {
        ts_delivery_destroy(d);
        return TS_ENOMEM;
    }
    ts_metric_describe("ts_delivery_events_total", "counter",
                       "Log events delivered to the subscription's target.");
    ts_metric_describe("ts_delivery_bytes_total", "counter",
                       "Compressed payload bytes delivered.");
    ts_metric_describe("ts_delivery_payloads_total", "counter", "Payloads (records) delivered.");
    ts_metric_describe("ts_delivery_errors_total", "counter", "Failed puts (each retried).");
    ts_metric_describe("ts_delivery_lag_events", "gauge",
                       "Events of the log group not yet delivered or skipped.");
    ts_metric_describe("ts_delivery_lag_ms", "gauge",
                       "Age of the oldest event not yet delivered (0 when caught up).");
    ts_metric_describe("ts_delivery_paused", "gauge",
                       "1 while delivery is paused (target failing or destination gone).");
    int rc = pthread_create(&d->checkpointer, NULL, checkpointer_main, d);
    if (!rc) {
        d->checkpointer_started = true;
        rc = pthread_create(&d->dispatcher, NULL, dispatcher_main, d);
        d->dispatcher_started = rc == 0;
    }
    if (rc) {
        ts_delivery_destroy(d);
        return -rc;
    }
    *out = d;
    return 0;
}

void ts_delivery_destroy(struct ts_delivery *d)
{
    if (!d) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_signal(&d->wake_cv);
    pthread_mutex_unlock(&d->mu);
    if (d->dispatcher_started) {
        pthread_join(d->dispatcher, NULL);
    }
    /* The dispatcher is stopped: commit what it made durable, then stop the checkpointer. */
    pthread_mutex_lock(&d->mu);
    d->ckpt_stopping = true;
    pthread_cond_signal(&d->ckpt_cv);
    pthread_mutex_unlock(&d->mu);
    if (d->checkpointer_started) {
        pthread_join(d->checkpointer, NULL);
    }
    while (d->subs) {
        struct dl_sub *s = d->subs;
        sub_remove(d, s);
        sub_free(s);
    }
    while (d->deletes) {
        struct ckpt_delete *next = d->deletes->next;
        ts_free(d->deletes);
        d->deletes = next;
    }
    ts_gzip_destroy(d->gzip);
    ts_buf_free(&d->json);
    for (size_t i = 0; i < TS_LOGS_TARGET_BATCH; i++) {
        ts_buf_free(&d->pend[i].gz);
    }
    ts_free(d->buf);
    ts_free(d->recs);
    pthread_cond_destroy(&d->idle_cv);
    pthread_cond_destroy(&d->ckpt_cv);
    pthread_cond_destroy(&d->wake_cv);
    pthread_mutex_destroy(&d->mu);
    ts_free(d);
}
