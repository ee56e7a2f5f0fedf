/*
 * ct_recorder.c - the recorder: the completion hook hands each built record to a bounded
 * in-memory queue and returns; one thread drains the queue and appends everything it took to
 * the store with one ts_partition_append per event partition (account + region) per pass, so
 * group commit shares one fsync among all the records of a pass instead of making every API
 * response wait for its own.
 *
 * Loss window (docs/cloudtrail.md): a record is in memory from its call's response until the
 * end of the recorder pass that appends it. A graceful stop drains the queue before the store
 * closes (ts_cloudtrail_destroy); a kill -9 loses what was queued. A full queue makes the hook
 * wait (back-pressure); nothing is dropped, and a failed append is retried with backoff.
 */
#include <string.h>
#include <time.h>

#include "ct_int.h"

#define RETRY_MIN_MS 10
#define RETRY_MAX_MS 1000
#define STOP_RETRY_MS 30000 /* a stop gives up on a store failing for this long */

struct ct_rec_item {
    struct ct_rec_item *next;
    char account[16];
    char region[32];
    size_t len;
    int64_t queued_ms; /* for ts_cloudtrail_record_queue_seconds */
    uint8_t data[]; /* [flags][resource type]\0[resource ARN]\0[record JSON] */
};

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t ns = ts->tv_nsec + ms * 1000000LL;
    ts->tv_sec += ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

int ct_recorder_enqueue(struct ts_cloudtrail *ct, const char *account, const char *region,
                        uint8_t flags, const char *rtype, const char *rarn, const char *json,
                        size_t len, uint64_t *seq)
{
    if (len > TS_CT_RECORD_MAX) {
        return TS_EINVAL;
    }
    size_t tl = strlen(rtype) + 1, al = strlen(rarn) + 1;
    size_t total = 1 + tl + al + len;
    struct ct_rec_item *it = ts_malloc(sizeof(*it) + total);
    if (!it) {
        return TS_ENOMEM;
    }
    it->next = NULL;
    ts_strlcpy(it->account, account, sizeof(it->account));
    ts_strlcpy(it->region, region, sizeof(it->region));
    it->len = total;
    it->queued_ms = ts_clock_now_ms(&ts_clock_real);
    it->data[0] = flags;
    memcpy(it->data + 1, rtype, tl);
    memcpy(it->data + 1 + tl, rarn, al);
    memcpy(it->data + 1 + tl + al, json, len);
    pthread_mutex_lock(&ct->q_lock);
    /* Back-pressure: wait while the queue is full; an empty queue always takes the record. */
    while (ct->q_records && (ct->q_records >= CT_QUEUE_MAX_RECORDS ||
                             ct->q_bytes + total > CT_QUEUE_MAX_BYTES)) {
        pthread_cond_wait(&ct->q_space, &ct->q_lock);
    }
    if (ct->q_tail) {
        ct->q_tail->next = it;
    } else {
        ct->q_head = it;
    }
    ct->q_tail = it;
    ct->q_records++;
    ct->q_bytes += total;
    uint64_t s = ++ct->q_enqueued;
    /* Under q_lock, so the gauge's last write is the recorder's when the queue drains. */
    ts_metric_set("ts_cloudtrail_queue_records", "", (double)ct->q_records);
    pthread_cond_signal(&ct->q_cond);
    pthread_mutex_unlock(&ct->q_lock);
    if (seq) {
        *seq = s;
    }
    return 0;
}

int ct_recorder_wait(struct ts_cloudtrail *ct, uint64_t seq, int timeout_ms)
{
    int64_t deadline = ts_clock_now_ms(&ts_clock_real) + timeout_ms;
    int rc = 0;
    pthread_mutex_lock(&ct->q_lock);
    if (seq == UINT64_MAX) {
        seq = ct->q_enqueued;
    }
    while (ct->q_done < seq) {
        int64_t left = deadline - ts_clock_now_ms(&ts_clock_real);
        if (left <= 0 || !ct->recorder_started) {
            rc = TS_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        deadline_in(&ts, TS_MIN(left, 100));
        pthread_cond_timedwait(&ct->q_done_cond, &ct->q_lock, &ts);
    }
    pthread_mutex_unlock(&ct->q_lock);
    return rc;
}

/* Appends the n framed records of one partition as one batch. */
static int append_part(struct ts_cloudtrail *ct, struct ct_rec_item **items, size_t n,
                       struct ts_record_in *recs)
{
    char pname[256];
    ct_events_partition(items[0]->account, items[0]->region, pname, sizeof(pname));
    struct ts_partition *p = NULL;
    int rc = ts_store_partition(ct->ctx.store, pname, true, &p);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        recs[i].data = items[i]->data;
        recs[i].len = items[i]->len;
    }
    /* Durability: the batch is durable (all or nothing) when this returns 0. */
    uint64_t first = 0;
    rc = ts_partition_append(p, recs, n, 0, &first);
    if (!rc) {
        atomic_fetch_add(&ct->appended, n);
    }
    return rc;
}

/* Appends one pass (list `head`, `n` records): records are grouped by partition keeping their
 * queue order within each partition. Retries a failed partition with backoff until it is
 * stored, or (stopping) until STOP_RETRY_MS of failures; returns the number given up. */
static size_t append_pass(struct ts_cloudtrail *ct, struct ct_rec_item *head, size_t n)
{
    struct ct_rec_item **items = ts_calloc(n, sizeof(*items));
    struct ct_rec_item **group = ts_calloc(n, sizeof(*group));
    struct ts_record_in *recs = ts_calloc(n, sizeof(*recs));
    size_t lost = 0;
    while (!items || !group || !recs) {
        /* No memory for the pass arrays: wait and retry (the records are kept). */
        ts_free(items);
        ts_free(group);
        ts_free(recs);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        items = ts_calloc(n, sizeof(*items));
        group = ts_calloc(n, sizeof(*group));
        recs = ts_calloc(n, sizeof(*recs));
    }
    size_t k = 0;
    for (struct ct_rec_item *it = head; it && k < n; it = it->next) {
        items[k++] = it;
    }
    for (size_t i = 0; i < k; i++) {
        if (!items[i]) {
            continue;
        }
        size_t g = 0;
        for (size_t j = i; j < k; j++) {
            if (items[j] && strcmp(items[j]->account, items[i]->account) == 0 &&
                strcmp(items[j]->region, items[i]->region) == 0) {
                group[g++] = items[j];
                if (j != i) {
                    items[j] = NULL;
                }
            }
        }
        int64_t wait_ms = RETRY_MIN_MS, failing_ms = 0;
        for (;;) {
            int rc = append_part(ct, group, g, recs);
            if (!rc) {
                ts_metric_add("ts_cloudtrail_recorded_total", "", (double)g);
                break;
            }
            ts_metric_add("ts_cloudtrail_record_append_errors_total", "", 1);
            TS_LOG_ERROR("cloudtrail", "cannot append %zu records of %s/%s (retrying in %lld "
                         "ms): %s", g, group[0]->account, group[0]->region, (long long)wait_ms,
                         ts_strerror(rc));
            pthread_mutex_lock(&ct->q_lock);
            bool stopping = ct->q_stopping;
            pthread_mutex_unlock(&ct->q_lock);
            if (stopping && failing_ms >= STOP_RETRY_MS) {
                TS_LOG_ERROR("cloudtrail", "stopping: %zu records of %s/%s not stored", g,
                             group[0]->account, group[0]->region);
                lost += g;
                break;
            }
            struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            failing_ms += wait_ms;
            wait_ms = TS_MIN(wait_ms * 2, RETRY_MAX_MS);
        }
        items[i] = NULL;
    }
    ts_free(items);
    ts_free(group);
    ts_free(recs);
    return lost;
}

void *ct_recorder_main(void *arg)
{
    ts_thread_name("ts-ct-recorder");
    struct ts_cloudtrail *ct = arg;
    pthread_mutex_lock(&ct->q_lock);
    for (;;) {
        while (!ct->q_head && !ct->q_stopping) {
            pthread_cond_wait(&ct->q_cond, &ct->q_lock);
        }
        if (!ct->q_head) {
            break; /* stopping and drained */
        }
        /* Take everything queued: one pass. */
        struct ct_rec_item *head = ct->q_head;
        size_t n = ct->q_records, bytes = ct->q_bytes;
        uint64_t upto = ct->q_enqueued;
        ct->q_head = ct->q_tail = NULL;
        pthread_mutex_unlock(&ct->q_lock);

        int64_t oldest_ms = head->queued_ms;
        size_t lost = append_pass(ct, head, n);
        /* The loss window of a kill -9: how long the pass's oldest record waited in memory. */
        ts_metric_observe("ts_cloudtrail_record_queue_seconds", "",
                          (double)(ts_clock_now_ms(&ts_clock_real) - oldest_ms) / 1000.0);
        if (lost) {
            ts_metric_add("ts_cloudtrail_record_errors_total", "", (double)lost);
        }
        while (head) {
            struct ct_rec_item *next = head->next;
            ts_free(head);
            head = next;
        }

        pthread_mutex_lock(&ct->q_lock);
        /* The pass's records leave the bound only now: memory stays bounded while appending. */
        ct->q_records -= n;
        ct->q_bytes -= bytes;
        ct->q_done = upto;
        ts_metric_set("ts_cloudtrail_queue_records", "", (double)ct->q_records);
        pthread_cond_broadcast(&ct->q_space);
        pthread_cond_broadcast(&ct->q_done_cond);
    }
    pthread_mutex_unlock(&ct->q_lock);
    return NULL;
}

uint64_t ct_recorder_done(struct ts_cloudtrail *ct)
{
    pthread_mutex_lock(&ct->q_lock);
    uint64_t v = ct->q_done;
    pthread_mutex_unlock(&ct->q_lock);
    return v;
}

uint64_t ct_recorder_enqueued(struct ts_cloudtrail *ct)
{
    pthread_mutex_lock(&ct->q_lock);
    uint64_t v = ct->q_enqueued;
    pthread_mutex_unlock(&ct->q_lock);
    return v;
}
