/*
 * kinesis_pool.c - a few threads that run store appends, so that a PutRecords spanning several
 * shards waits for one fsync round instead of one per shard (each shard is its own partition
 * and file, with its own sync). The caller still returns only after every append it submitted
 * has returned, i.e. after its records are durable.
 */
#include "kinesis_int.h"

struct kin_job {
    struct ts_partition *part;
    const struct ts_record_in *recs;
    size_t n;
    int64_t ts_ms;
    uint64_t first;
    int rc;
    struct kin_batch *batch;
    struct kin_job *next;
};

struct kin_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
};

struct kin_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct kin_job *head, *tail;
    bool stopping;
    size_t n_threads;
    pthread_t threads[];
};

static void *pool_main(void *arg)
{
    ts_thread_name("ts-kin-pool");
    struct kin_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (!p->head) {
            break;
        }
        struct kin_job *j = p->head;
        p->head = j->next;
        if (!p->head) {
            p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        j->rc = ts_partition_append(j->part, j->recs, j->n, j->ts_ms, &j->first);
        struct kin_batch *b = j->batch;
        pthread_mutex_lock(&b->mu);
        if (--b->pending == 0) {
            pthread_cond_signal(&b->cv);
        }
        pthread_mutex_unlock(&b->mu);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct kin_pool *kin_pool_create(size_t n_threads)
{
    struct kin_pool *p = ts_calloc(1, sizeof(*p) + n_threads * sizeof(pthread_t));
    if (!p) {
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (size_t i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            break;
        }
        p->n_threads++;
    }
    if (p->n_threads == 0) {
        kin_pool_destroy(p);
        return NULL;
    }
    return p;
}

void kin_pool_destroy(struct kin_pool *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->n_threads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    ts_free(p);
}

void kin_pool_append(struct kin_pool *p, struct kin_append *a, size_t n)
{
    if (!p || n < 2) {
        for (size_t i = 0; i < n; i++) {
            a[i].rc = ts_partition_append(a[i].part, a[i].recs, a[i].n, a[i].ts_ms, &a[i].first);
        }
        return;
    }
    struct kin_job *jobs = ts_calloc(n - 1, sizeof(*jobs));
    if (!jobs) {
        kin_pool_append(NULL, a, n);
        return;
    }
    struct kin_batch b;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    b.pending = n - 1;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 1; i < n; i++) {
        struct kin_job *j = &jobs[i - 1];
        *j = (struct kin_job){a[i].part, a[i].recs, a[i].n, a[i].ts_ms, 0, 0, &b, NULL};
        if (p->tail) {
            p->tail->next = j;
        } else {
            p->head = j;
        }
        p->tail = j;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    /* The first batch runs here, in parallel with the others. */
    a[0].rc = ts_partition_append(a[0].part, a[0].recs, a[0].n, a[0].ts_ms, &a[0].first);
    pthread_mutex_lock(&b.mu);
    while (b.pending) {
        pthread_cond_wait(&b.cv, &b.mu);
    }
    pthread_mutex_unlock(&b.mu);
    for (size_t i = 1; i < n; i++) {
        a[i].rc = jobs[i - 1].rc;
        a[i].first = jobs[i - 1].first;
    }
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    ts_free(jobs);
}
