/* store_store.c - the store object: data directory, lock, format marker, recovery of every
 * partition at open, the partition registry, deletion, listing and the INTERVAL sync thread. */
#include "store_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_TEXT "trailstream-store 1\n"

void ts__store_event(struct ts_store *s, const struct ts_store_event *ev)
{
    if (s->opts.on_event) {
        s->opts.on_event(s->opts.event_ctx, ev);
    }
}

static uint32_t bucket_of(const char *name)
{
    return ts_crc32c(0, name, strlen(name)) % TS_STORE_BUCKETS;
}

static struct ts_partition *lookup(struct ts_store *s, const char *name)
{
    for (struct ts_partition *p = s->buckets[bucket_of(name)]; p; p = p->hnext) {
        if (strcmp(p->name, name) == 0) {
            return p;
        }
    }
    return NULL;
}

static void insert(struct ts_store *s, struct ts_partition *p)
{
    uint32_t b = bucket_of(p->name);
    p->hnext = s->buckets[b];
    s->buckets[b] = p;
    s->n_parts++;
    s->parts_version++;
}

static void unlink_part(struct ts_store *s, struct ts_partition *p)
{
    struct ts_partition **pp = &s->buckets[bucket_of(p->name)];
    while (*pp && *pp != p) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = p->hnext;
        s->n_parts--;
        s->parts_version++;
    }
}

struct open_ctx {
    struct ts_store *s;
    int rc;
};

static int open_one(void *arg, const char *name)
{
    struct open_ctx *c = arg;
    struct ts_store *s = c->s;
    size_t len = strlen(name);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->pdir, name);
    if (len > 4 && (strcmp(name + len - 4, ".tmp") == 0 || strcmp(name + len - 4, ".del") == 0)) {
        /* A partition whose creation or deletion was interrupted: it never existed, or it
         * was deleted durably already (the rename to .del was synced). */
        int rc = ts__rm_dir(s->vfs, path);
        if (!rc) {
            s->rec.removed_dirs++;
            struct ts_store_event ev = {TS_STORE_EV_REMOVED, NULL, path, -1, 0, 0, 0, 0,
                                        "interrupted create/delete"};
            ts__store_event(s, &ev);
        }
        return 0;
    }
    struct ts_partition *p = NULL;
    int rc = ts__partition_load(s, name, NULL, &p);
    if (rc == TS_ENOENT || rc == TS_ECORRUPT) {
        /* No readable NAME: not ours or damaged. Never delete data we cannot identify. */
        struct ts_store_event ev = {TS_STORE_EV_CORRUPT, NULL, path, -1, 0, 0, 0, rc,
                                    "partition directory without a valid NAME file (skipped)"};
        ts__store_event(s, &ev);
        return 0;
    }
    if (rc) {
        c->rc = rc;
        return rc;
    }
    if (lookup(s, p->name)) {
        ts__partition_free(p, false);
        return 0;
    }
    insert(s, p);
    s->rec.partitions++;
    return 0;
}

static void *sync_main(void *arg)
{
    ts_thread_name("ts-store-sync");
    struct ts_store *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += s->opts.interval_ms / 1000;
        t.tv_nsec += (long)(s->opts.interval_ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->sync_cond, &s->mu, &t);
        if (s->stopping) {
            break;
        }
        pthread_mutex_unlock(&s->mu);
        ts_store_sync(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int check_format(struct ts_store *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/FORMAT", s->dir);
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    int rc = ts__read_small(s->vfs, path, &b, 4096);
    if (rc == TS_ENOENT) {
        rc = ts__write_small(s->vfs, s->dir, "FORMAT", FORMAT_TEXT, strlen(FORMAT_TEXT));
    } else if (!rc && strcmp(b.data, FORMAT_TEXT) != 0) {
        rc = TS_EINVAL;
    }
    ts_buf_free(&b);
    return rc;
}

int ts_store_open(const char *dir, const struct ts_store_opts *opts, struct ts_store **out)
{
    struct ts_store_opts o;
    if (opts) {
        o = *opts;
    } else {
        memset(&o, 0, sizeof(o));
    }
    if (!o.interval_ms) {
        o.interval_ms = 1000;
    }
    if (!o.segment_max_bytes) {
        o.segment_max_bytes = 128ull * 1024 * 1024;
    }
    if (!o.segment_max_age_ms) {
        o.segment_max_age_ms = 7ll * 24 * 3600 * 1000;
    }
    if (!o.index_interval_bytes) {
        o.index_interval_bytes = 4096;
    }
    if (!o.cache_keep_bytes) {
        o.cache_keep_bytes = 64ull * 1024 * 1024;
    }
    if (!o.sync_lanes) {
        o.sync_lanes = 2;
    }
    if (o.fsync > TS_FSYNC_INTERVAL || o.interval_ms < 0 || o.sync_lanes < 0 ||
        o.sync_lanes > TS_STORE_SYNC_LANES_MAX || o.segment_max_age_ms < 0 ||
        o.segment_max_bytes > TS_SEGMENT_HARD_MAX || o.segment_max_bytes < 4096 || !dir ||
        strlen(dir) > 2048) {
        return TS_EINVAL;
    }
    struct ts_store *s = ts_calloc(1, sizeof(*s));
    if (!s) {
        return TS_ENOMEM;
    }
    s->opts = o;
    s->vfs = o.vfs ? o.vfs : &ts_vfs_posix;
    s->clock = o.clock ? o.clock : &ts_clock_real;
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->sync_cond, &ca);
    pthread_condattr_destroy(&ca);
    uint64_t t0 = ts_mono_ns();
    int rc = 0;
    s->dir = ts_strdup(dir);
    struct ts_buf pd;
    ts_buf_init(&pd, 4096);
    rc = ts_buf_addf(&pd, "%s/partitions", dir);
    s->pdir = ts_buf_take(&pd, NULL);
    if (!s->dir || !s->pdir || rc) {
        rc = rc ? rc : TS_ENOMEM;
        goto fail;
    }
    rc = s->vfs->mkdir(s->vfs->ctx, dir, 0755);
    if (rc && rc != TS_EEXIST) {
        goto fail;
    }
    /* One process per data directory: an advisory lock, released by the kernel at exit (so a
     * SIGKILLed process never leaves it behind). Outside the VFS on purpose: it is not data. */
    char lpath[4096];
    snprintf(lpath, sizeof(lpath), "%s/LOCK", dir);
    s->lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? TS_EAGAIN : -errno;
        goto fail;
    }
    rc = check_format(s);
    if (rc) {
        goto fail;
    }
    rc = s->vfs->mkdir(s->vfs->ctx, s->pdir, 0755);
    if (rc && rc != TS_EEXIST) {
        goto fail;
    }
    if (!rc) {
        rc = s->vfs->fsync_dir(s->vfs->ctx, dir);
        if (rc) {
            goto fail;
        }
    }
    struct open_ctx oc = {s, 0};
    rc = s->vfs->list(s->vfs->ctx, s->pdir, open_one, &oc);
    if (rc || oc.rc) {
        rc = rc ? rc : oc.rc;
        goto fail;
    }
    s->rec.elapsed_ms = (int64_t)((ts_mono_ns() - t0) / 1000000);
    ts_metric_describe("ts_store_unsynced_window_ms", "gauge",
                       "Window of acknowledged records a power loss can lose (INTERVAL policy)");
    ts_metric_set("ts_store_unsynced_window_ms", NULL,
                  o.fsync == TS_FSYNC_INTERVAL ? (double)o.interval_ms : 0);
    ts_metric_set("ts_store_partitions", NULL, (double)s->n_parts);
    if (o.fsync == TS_FSYNC_INTERVAL) {
        if (pthread_create(&s->sync_thread, NULL, sync_main, s) != 0) {
            rc = TS_ENOMEM;
            goto fail;
        }
        s->sync_running = true;
    }
    *out = s;
    return 0;
fail:
    ts_store_close(s);
    return rc;
}

static void close_all(struct ts_store *s, bool flush)
{
    for (size_t b = 0; b < TS_STORE_BUCKETS; b++) {
        struct ts_partition *p = s->buckets[b];
        while (p) {
            struct ts_partition *next = p->hnext;
            ts__partition_shut(p);
            ts__partition_free(p, flush);
            p = next;
        }
        s->buckets[b] = NULL;
    }
    for (size_t i = 0; i < s->n_grave; i++) {
        ts__partition_shut(s->grave[i]);
        ts__partition_free(s->grave[i], false);
    }
    s->n_grave = 0;
}

void ts_store_close(struct ts_store *s)
{
    if (!s) {
        return;
    }
    if (s->sync_running) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_broadcast(&s->sync_cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sync_thread, NULL);
        s->sync_running = false;
    }
    close_all(s, true);
    ts_free(s->grave);
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->sync_cond);
    ts_free(s->dir);
    ts_free(s->pdir);
    ts_free(s);
}

void ts_store_recovery_stats(const struct ts_store *s, struct ts_store_recovery *out)
{
    *out = s->rec;
}

const char *ts_store_dir(const struct ts_store *s)
{
    return s->dir;
}

uint64_t ts_store_partitions_version(struct ts_store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->parts_version;
    pthread_mutex_unlock(&s->mu);
    return v;
}

int ts_store_partition(struct ts_store *s, const char *name, bool create,
                       struct ts_partition **out)
{
    if (!name || !*name || strlen(name) > TS_STORE_NAME_MAX) {
        return TS_EINVAL;
    }
    pthread_mutex_lock(&s->mu);
    struct ts_partition *p = lookup(s, name);
    int rc = 0;
    if (!p && create) {
        /* Created under the registry lock so two callers cannot create the same name; creation
         * is rare (a new stream or shard) and takes a few syncs. */
        rc = ts__partition_create(s, name, &p);
        if (!rc) {
            insert(s, p);
            ts_metric_set("ts_store_partitions", NULL, (double)s->n_parts);
        }
    } else if (!p) {
        rc = TS_ENOTFOUND;
    }
    pthread_mutex_unlock(&s->mu);
    if (!rc) {
        *out = p;
    }
    return rc;
}

int ts_store_partition_delete(struct ts_store *s, const char *name)
{
    const struct ts_vfs *vfs = s->vfs;
    pthread_mutex_lock(&s->mu);
    struct ts_partition *p = name ? lookup(s, name) : NULL;
    if (!p) {
        pthread_mutex_unlock(&s->mu);
        return TS_ENOTFOUND;
    }
    if (s->n_grave == s->cap_grave) {
        size_t cap = s->cap_grave ? s->cap_grave * 2 : 16;
        struct ts_partition **g = ts_realloc(s->grave, cap * sizeof(*g));
        if (!g) {
            pthread_mutex_unlock(&s->mu);
            return TS_ENOMEM;
        }
        s->grave = g;
        s->cap_grave = cap;
    }
    char del[4096];
    snprintf(del, sizeof(del), "%s.del", p->dir);
    ts__rm_dir(vfs, del);
    /* Durability: the rename to ".del" is the deletion; once the parent directory is synced the
     * partition is gone for recovery, which finishes removing leftover ".del" directories. */
    int rc = vfs->rename(vfs->ctx, p->dir, del);
    if (!rc) {
        rc = vfs->fsync_dir(vfs->ctx, s->pdir);
    }
    if (rc) {
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    unlink_part(s, p);
    s->grave[s->n_grave++] = p;
    ts_metric_set("ts_store_partitions", NULL, (double)s->n_parts);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&p->write_mu);
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    ts__partition_changed(p);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->write_mu);
    rc = ts__rm_dir(vfs, del);
    if (!rc) {
        rc = vfs->fsync_dir(vfs->ctx, s->pdir);
    }
    return rc;
}

struct name_vec {
    char **v;
    size_t n;
    size_t cap;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ts_store_names(struct ts_store *s, const char *prefix, char ***names, size_t *n)
{
    struct name_vec nv = {NULL, 0, 0};
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    nv.cap = s->n_parts ? s->n_parts : 1;
    nv.v = ts_calloc(nv.cap, sizeof(*nv.v));
    if (!nv.v) {
        pthread_mutex_unlock(&s->mu);
        return TS_ENOMEM;
    }
    for (size_t b = 0; b < TS_STORE_BUCKETS && !rc; b++) {
        for (struct ts_partition *p = s->buckets[b]; p && !rc; p = p->hnext) {
            if (prefix && !ts_str_has_prefix(p->name, prefix)) {
                continue;
            }
            nv.v[nv.n] = ts_strdup(p->name);
            rc = nv.v[nv.n] ? 0 : TS_ENOMEM;
            nv.n += rc ? 0 : 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        ts_store_names_free(nv.v, nv.n);
        return rc;
    }
    qsort(nv.v, nv.n, sizeof(*nv.v), cmp_str);
    *names = nv.v;
    *n = nv.n;
    return 0;
}

void ts_store_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n && names; i++) {
        ts_free(names[i]);
    }
    ts_free(names);
}

int ts_store_list(struct ts_store *s, const char *prefix, ts_store_list_fn fn, void *arg)
{
    char **names = NULL;
    size_t n = 0;
    int rc = ts_store_names(s, prefix, &names, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = fn(arg, names[i]);
    }
    ts_store_names_free(names, n);
    return rc;
}

int ts_store_sync(struct ts_store *s)
{
    if (s->opts.fsync != TS_FSYNC_INTERVAL) {
        return 0;
    }
    /* Snapshot the registry; deleted partitions stay allocated until close, so the pointers
     * remain valid without the lock. */
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_parts;
    struct ts_partition **v = ts_malloc((n ? n : 1) * sizeof(*v));
    if (!v) {
        pthread_mutex_unlock(&s->mu);
        return TS_ENOMEM;
    }
    size_t k = 0;
    for (size_t b = 0; b < TS_STORE_BUCKETS; b++) {
        for (struct ts_partition *p = s->buckets[b]; p; p = p->hnext) {
            v[k++] = p;
        }
    }
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        int r = ts__partition_sync(v[i]);
        if (r && !rc) {
            rc = r;
        }
    }
    ts_free(v);
    return rc;
}
