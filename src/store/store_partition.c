/* store_partition.c - one partition: append with group commit, roll, read with explicit gaps,
 * waiting for new records, time lookup and retention.
 *
 * Durability ordering (the invariants every function here keeps):
 *  1. A batch is framed in memory and written with one pwrite at the end of the active segment.
 *  2. Records become visible to readers (durable_next) only after an fdatasync that covers
 *     them returned 0; readers never see bytes that a power cut could take back.
 *  3. An append returns 0 only after 2. (ALWAYS, GROUP) or after 1. (INTERVAL).
 *  4. If a write or sync fails, every byte after the last durable position is cut (ftruncate +
 *     fdatasync) before anything else is written, and every append waiting on those bytes
 *     fails: a failed batch never becomes visible, not even after a later crash.
 *  5. A segment is synced before the next one is created, and the new file's directory entry
 *     is synced before any record in it is written, so only the last segment can have a torn
 *     tail.
 *  6. Drop-behind only ever names bytes below a position a sync just covered.
 *  7. Group-commit syncs may overlap (up to sync_lanes, each on its own open file description,
 *     so that every one of them sees a write-back error that happened while it ran), but their
 *     results are applied in the order they started: a success is published only if no sync
 *     that started before it failed, and a failure cuts every byte not durable when it is
 *     applied. A roll's sync runs alone. */
#include "store_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct ts__seg *active_seg(struct ts_partition *p)
{
    return p->segs[p->n_segs - 1];
}

static const struct ts_vfs *pvfs(struct ts_partition *p)
{
    return p->store->vfs;
}

static void event(struct ts_partition *p, enum ts_store_event_kind kind, const char *path,
                  int64_t pos, uint64_t off, uint64_t gap_end, int64_t bytes, int err,
                  const char *what)
{
    struct ts_store_event ev = {kind, p->name, path, pos, off, gap_end, bytes, err, what};
    ts__store_event(p->store, &ev);
}

/* Makes records up to next (and pos bytes of the active segment) visible. Called with mu held;
 * returns true if the end advanced (the caller then runs the append hook without mu). */
static bool publish(struct ts_partition *p, uint64_t next, int64_t pos, int64_t ts)
{
    if (next <= p->durable_next) {
        return false;
    }
    p->durable_next = next;
    p->durable_pos = pos;
    p->durable_ts = ts;
    pthread_cond_broadcast(&p->cond);
    return true;
}

/* Drop-behind, part 1 (mu held): after a sync that made g durable up to `end`, the range of g
 * that lies more than cache_keep_bytes behind it and has not been dropped yet, once it is at
 * least a step long (1 MiB, or cache_keep_bytes if smaller), so that a partition keeps at most
 * keep + step of its newest bytes cached. Returns its length (0: nothing) and sets *from. */
static int64_t drop_range(struct ts_partition *p, struct ts__seg *g, int64_t end, int64_t *from)
{
    uint64_t keep = p->store->opts.cache_keep_bytes;
    if (end <= 0 || (uint64_t)end <= keep) {
        return 0;
    }
    /* Ranges start and end on 64 KiB (a multiple of any page size): the kernel keeps a page
     * that a range covers only in part, so unaligned ends would leave one behind each time.
     * A window below 64 KiB (tests) aligns to the largest power of two it holds. */
    uint64_t align = 1;
    while (align * 2 <= TS_MIN(keep, (uint64_t)0x10000)) {
        align *= 2;
    }
    int64_t upto = (end - (int64_t)keep) & ~(int64_t)(align - 1);
    if (upto - g->cache_dropped < (int64_t)TS_MIN(keep, (uint64_t)1 << 20)) {
        return 0;
    }
    *from = g->cache_dropped;
    g->cache_dropped = upto;
    return upto - *from;
}

/* Drop-behind, part 2 (without mu; g referenced or active under write_mu): the written pages
 * of that range leave the OS page cache. They are clean, so nothing is written; a reader that
 * wants them again reads them from disk. Without this the kernel keeps every page written
 * until memory runs short and then reclaims the oldest, so each new page the writer gets is a
 * reclaimed or never-used one; dropped pages are reused at once (docs/store.md measures it). */
static void drop_cache(struct ts_partition *p, struct ts__seg *g, int64_t from, int64_t len)
{
    const struct ts_vfs *vfs = pvfs(p);
    if (len > 0 && vfs->drop_cache && vfs->drop_cache(vfs->ctx, g->fd, from, len) == 0) {
        ts_metric_add("ts_store_cache_dropped_bytes_total", NULL, (double)len);
    }
}

/* Drop-behind across a roll. The segment a roll seals keeps its newest bytes cached while
 * they are inside the window of the partition's end; once the active segment has a window's
 * worth durable, all of them are behind it and leave together. Without this, the last window
 * of every sealed segment stayed cached: half of each 128 MiB segment with the default window,
 * and the page cache grew by ~1 GB every 6 s of PutLogEvents (one server slowed from 592 to 374
 * calls/s over four 6 s runs; docs/store.md). */
struct tail {
    struct ts__seg *g; /* referenced; NULL: nothing to drop */
    int64_t from;
    int64_t len;
};

/* mu held: takes the sealed tail once the active segment is durable to durable_pos. */
static struct tail tail_take(struct ts_partition *p, int64_t durable_pos)
{
    struct tail t = {NULL, 0, 0};
    struct ts__seg *g = p->sealed_tail;
    if (!g || durable_pos < (int64_t)p->store->opts.cache_keep_bytes) {
        return t;
    }
    p->sealed_tail = NULL;
    t.g = g;
    t.from = g->cache_dropped;
    t.len = g->size - g->cache_dropped;
    g->cache_dropped = g->size;
    return t;
}

/* Without mu: drops what tail_take took and releases the segment. */
static void tail_drop(struct ts_partition *p, struct tail t)
{
    if (!t.g) {
        return;
    }
    drop_cache(p, t.g, t.from, t.len); /* sealed and synced at the roll: all durable */
    pthread_mutex_lock(&p->mu);
    ts__seg_unref(pvfs(p), t.g);
    pthread_mutex_unlock(&p->mu);
}

static void run_hook(struct ts_partition *p, uint64_t end)
{
    const struct ts_store_opts *o = &p->store->opts;
    if (o->on_append) {
        o->on_append(o->append_ctx, p, end);
    }
}

/* Takes the sleeping group-commit waiters that can go on now off the list (mu held) and
 * returns them; group_post wakes them. A waiter can go on when its records are durable or were
 * cut (gen moved on) or the partition closed. Besides those, when a lane is free, the newest
 * waiter that no sync in flight covers is woken to lead the next sync: one, not all. */
static struct ts__gwaiter *group_ready(struct ts_partition *p)
{
    struct ts__gwaiter *ready = NULL, *lead = NULL, **lead_link = NULL;
    uint64_t in_flight = p->sync_tail - p->sync_head;
    bool can_lead = !p->syncing && !p->discarding && !p->sync_failed &&
                    in_flight < (uint64_t)p->store->opts.sync_lanes;
    struct ts__gwaiter **link = &p->gwait;
    while (*link) {
        struct ts__gwaiter *w = *link;
        if (p->closed || w->gen != p->gen || p->durable_next >= w->end) {
            *link = w->next;
            w->next = ready;
            ready = w;
            continue;
        }
        if (can_lead && (in_flight == 0 || w->end > p->sync_hi) &&
            (!lead || w->end > lead->end)) {
            lead = w;
            lead_link = link; /* stays valid: only waiters after it are unlinked from here */
        }
        link = &w->next;
    }
    if (lead) {
        *lead_link = lead->next;
        lead->next = ready;
        ready = lead;
    }
    return ready;
}

/* Wakes the waiters group_ready returned. Each one's next is read before its post: a posted
 * waiter may return and its stack entry be gone. */
static void group_post(struct ts__gwaiter *w)
{
    while (w) {
        struct ts__gwaiter *next = w->next;
        sem_post(&w->sem);
        w = next;
    }
}

void ts__partition_changed(struct ts_partition *p)
{
    pthread_cond_broadcast(&p->cond);
    group_post(group_ready(p));
}

/* Cuts the active segment back to written_pos and makes the cut durable. write_mu held. */
static int reset_tail(struct ts_partition *p)
{
    const struct ts_vfs *vfs = pvfs(p);
    pthread_mutex_lock(&p->mu);
    struct ts__seg *g = active_seg(p);
    int64_t pos = p->written_pos;
    pthread_mutex_unlock(&p->mu);
    int rc = vfs->ftruncate(vfs->ctx, g->fd, pos);
    if (!rc) {
        rc = vfs->fdatasync(vfs->ctx, g->fd);
    }
    p->needs_reset = rc != 0;
    return rc;
}

/* A write or sync failed: forget every record after the durable end, cut their bytes from the
 * file (invariant 4) and only then fail every append waiting for them (gen changes), so that a
 * caller told "failed" can never see the batch reappear after a later crash. If the cut itself
 * fails, the partition keeps needs_reset and the next append retries it before writing; until
 * then a crash could resurface those never-acknowledged records (docs/store.md). write_mu held. */
static void discard_unsynced(struct ts_partition *p, int err)
{
    pthread_mutex_lock(&p->mu);
    struct ts__seg *g = active_seg(p);
    /* From here until gen changes, a group-commit leader whose sync succeeds must not publish:
     * it would acknowledge bytes that are about to be cut. */
    p->discarding = true;
    int64_t cut = p->durable_pos;
    uint64_t next = p->durable_next;
    pthread_mutex_unlock(&p->mu);
    /* No writer can move written_pos (we hold write_mu) and readers stop at durable_pos, so
     * the cut can run without mu. */
    const struct ts_vfs *vfs = pvfs(p);
    int rc = vfs->ftruncate(vfs->ctx, g->fd, cut);
    if (!rc) {
        rc = vfs->fdatasync(vfs->ctx, g->fd);
    }
    p->needs_reset = rc != 0;
    pthread_mutex_lock(&p->mu);
    p->written_next = next;
    p->written_pos = cut;
    p->written_ts = p->durable_ts;
    g->next = next;
    g->size = cut;
    g->last_ts = g->next > g->base ? p->durable_ts : -1;
    if (g->next == g->base) {
        g->first_ts = -1;
        g->created_ms = -1;
    }
    ts__seg_index_trim(g, g->size);
    p->gen++;
    p->discard_at[p->gen % TS_ARRAY_LEN(p->discard_at)] = next;
    p->discarding = false;
    p->sync_failed = false;
    p->sync_hi = 0; /* the syncs in flight cover no byte written from here on */
    p->sync_err = err;
    ts__partition_changed(p);
    pthread_mutex_unlock(&p->mu);
    ts_metric_add("ts_store_append_errors_total", NULL, 1);
    event(p, TS_STORE_EV_IO_ERROR, g->path, cut, next, 0, 0, err,
          "sync failed: unsynced records discarded");
}

/* Seals the active segment and starts a new one at written_next (invariant 5). write_mu held.
 * On failure the old segment stays active and nothing is lost. */
static int roll(struct ts_partition *p)
{
    const struct ts_vfs *vfs = pvfs(p);
    struct ts__seg *g = active_seg(p);
    /* Invariant 7: the sync that seals g runs alone. Leaders in flight finish first (they never
     * need write_mu to do so); a failure one of them reported is cut by its leader once this
     * append gives write_mu back, so the roll waits for that. */
    pthread_mutex_lock(&p->mu);
    while (p->syncing && !p->closed) {
        pthread_cond_wait(&p->cond, &p->mu);
    }
    p->syncing = true;
    while (p->sync_head != p->sync_tail) {
        pthread_cond_wait(&p->cond, &p->mu);
    }
    bool failed = p->sync_failed;
    pthread_mutex_unlock(&p->mu);
    int rc = failed ? TS_EIO : vfs->fdatasync(vfs->ctx, g->fd);
    if (!failed) {
        ts_metric_add("ts_store_fsyncs_total", NULL, 1);
    }
    if (rc) {
        if (!failed) {
            ts_metric_add("ts_store_fsync_errors_total", NULL, 1);
            if (p->store->opts.fsync != TS_FSYNC_INTERVAL) {
                discard_unsynced(p, rc);
            }
        }
        pthread_mutex_lock(&p->mu);
        p->syncing = false;
        ts__partition_changed(p);
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    uint64_t next = p->written_next;
    bool moved = publish(p, next, p->written_pos, p->written_ts);
    int64_t d_from = 0;
    int64_t d_len = drop_range(p, g, p->written_pos, &d_from);
    p->syncing = false;
    ts__partition_changed(p);
    pthread_mutex_unlock(&p->mu);
    if (moved) {
        run_hook(p, next);
    }
    drop_cache(p, g, d_from, d_len);
    /* The index is a hint: a failure only means the next open rebuilds it from the log. */
    ts__idx_write(vfs, p->dir, g);
    struct ts__seg *ng = ts__seg_new(p->dir, next);
    if (!ng) {
        return TS_ENOMEM;
    }
    int fd = vfs->open(vfs->ctx, ng->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        ts__seg_unref(vfs, ng);
        return fd;
    }
    ng->fd = fd;
    rc = vfs->fsync_dir(vfs->ctx, p->dir);
    if (rc) {
        vfs->unlink(vfs->ctx, ng->path);
        ts__seg_unref(vfs, ng);
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    if (p->n_segs == p->cap_segs) {
        size_t cap = p->cap_segs * 2;
        struct ts__seg **segs = ts_realloc(p->segs, cap * sizeof(*segs));
        if (!segs) {
            pthread_mutex_unlock(&p->mu);
            vfs->unlink(vfs->ctx, ng->path);
            ts__seg_unref(vfs, ng);
            return TS_ENOMEM;
        }
        p->segs = segs;
        p->cap_segs = cap;
    }
    g->sealed = true;
    p->segs[p->n_segs++] = ng;
    p->written_pos = 0;
    p->durable_pos = 0;
    /* the tail of the segment sealed before (if the window outlasted a whole segment) leaves
     * now; this one's leaves once the new segment has a window's worth */
    struct tail older = {NULL, 0, 0};
    if (p->store->opts.cache_keep_bytes < p->store->opts.segment_max_bytes) {
        older = tail_take(p, INT64_MAX);
        g->refs++;
        p->sealed_tail = g;
    }
    pthread_mutex_unlock(&p->mu);
    tail_drop(p, older);
    ts_metric_add("ts_store_segments_rolled_total", NULL, 1);
    return 0;
}

/* What applying finished syncs left for the caller to do without mu. */
struct applied {
    uint64_t end;      /* the durable end moved here (0: it did not) */
    struct ts__seg *g; /* referenced when d_len > 0: drop [d_from, d_from + d_len) of it */
    int64_t d_from;
    int64_t d_len;
    struct tail tail;  /* the sealed segment's rest, to drop (tail_drop) */
    bool failed;       /* a sync failed: discard what was not durable when it was applied
                          (gen0, target: gen and written_next then) */
    uint64_t gen0;
    uint64_t target;
    int rc;
};

/* Applies the finished syncs at the head of the ticket queue, oldest first (invariant 7).
 * mu held. */
static void apply_syncs(struct ts_partition *p, struct applied *a)
{
    const struct ts_vfs *vfs = pvfs(p);
    int64_t published_pos = -1;
    while (p->sync_head != p->sync_tail) {
        struct ts__sync *y = &p->syncs[p->sync_head % TS_STORE_SYNC_LANES_MAX];
        if (!y->done) {
            break;
        }
        p->sync_head++;
        if (y->rc) {
            /* Nothing after this point may be published until the leader has cut it. Every
             * byte not durable now is cut, not only the bytes this sync was started for: a
             * sync that started before a discard can be the one that sees the write-back
             * error of a page written after it, and a sync that opened its file description
             * after that error was reported would not see it again. */
            if (p->durable_next < p->written_next && !p->sync_failed) {
                p->sync_failed = true;
                a->failed = true;
                a->gen0 = p->gen;
                a->target = p->written_next;
                a->rc = y->rc;
            }
        } else if (!p->sync_failed && !p->discarding && p->gen == y->gen0 &&
                   y->g == active_seg(p) && publish(p, y->target, y->target_pos, y->target_ts)) {
            a->end = y->target;
            published_pos = y->target_pos;
        }
        ts__seg_unref(vfs, y->g);
    }
    if (published_pos >= 0) {
        /* Everything published lies in the active segment (checked above, under mu). */
        struct ts__seg *g = active_seg(p);
        a->d_len = drop_range(p, g, published_pos, &a->d_from);
        if (a->d_len > 0) {
            g->refs++; /* the caller drops it after the drop */
            a->g = g;
        }
        a->tail = tail_take(p, published_pos);
    }
}

/* One group-commit sync of g on a file description of its own: write-back errors are reported
 * once per open file description, so a sync that shared one with another could miss the error
 * the other consumed. With one lane nothing overlaps and the segment's own fd serves. */
static int lane_sync(struct ts_partition *p, struct ts__seg *g)
{
    const struct ts_vfs *vfs = pvfs(p);
    if (p->store->opts.sync_lanes == 1) {
        return vfs->fdatasync(vfs->ctx, g->fd);
    }
    int fd = vfs->open(vfs->ctx, g->path, O_RDONLY, 0);
    if (fd < 0) {
        return fd;
    }
    int rc = vfs->fdatasync(vfs->ctx, fd);
    vfs->close(vfs->ctx, fd);
    return rc;
}

/* Group commit: waits until [.., my_end) is durable. A waiter that no sync in flight covers
 * becomes a leader when a lane is free: it syncs everything written so far, on behalf of every
 * waiter; others wait for the syncs in flight. Syncs overlap (up to sync_lanes) so that bytes
 * written while one runs start going to disk at once instead of after it. Returns 0 or the
 * error that made the records be discarded. */
static int group_wait(struct ts_partition *p, uint64_t my_gen, uint64_t my_end)
{
    const struct ts_vfs *vfs = pvfs(p);
    uint64_t lanes = (uint64_t)p->store->opts.sync_lanes;
    int rc;
    struct ts__gwaiter self = {.gen = my_gen, .end = my_end};
    if (sem_init(&self.sem, 0, 0) != 0) {
        return TS_EIO; /* not reached: only an out-of-range value or pshared fail */
    }
    pthread_mutex_lock(&p->mu);
    p->waiters++;
    for (;;) {
        if (p->gen != my_gen) {
            /* Records that were durable before the first discard since they were written
             * survived it; everything after was cut. */
            uint64_t n_ring = TS_ARRAY_LEN(p->discard_at);
            bool kept = p->gen - my_gen <= n_ring &&
                        my_end <= p->discard_at[(my_gen + 1) % n_ring];
            rc = kept ? 0 : p->sync_err ? p->sync_err : TS_EIO;
            break;
        }
        if (p->durable_next >= my_end) {
            rc = 0;
            break;
        }
        if (p->closed) {
            rc = TS_ECLOSED;
            break;
        }
        uint64_t in_flight = p->sync_tail - p->sync_head;
        if (p->syncing || p->discarding || p->sync_failed || in_flight >= lanes ||
            (in_flight > 0 && p->sync_hi >= my_end)) {
            /* Asleep until group_ready picks this waiter; it is off the list when woken. */
            self.next = p->gwait;
            p->gwait = &self;
            pthread_mutex_unlock(&p->mu);
            while (sem_wait(&self.sem) != 0) {
                /* EINTR: a signal; the post is still to come */
            }
            pthread_mutex_lock(&p->mu);
            continue;
        }
        /* Leader. Its ticket's slot is not reused before it is applied: at most `lanes`
         * tickets are outstanding. */
        struct ts__sync *y = &p->syncs[p->sync_tail++ % TS_STORE_SYNC_LANES_MAX];
        struct ts__seg *g = active_seg(p);
        g->refs++;
        *y = (struct ts__sync){g, p->written_next, p->written_pos, p->written_ts, p->gen, 0,
                               false};
        p->sync_hi = y->target;
        pthread_mutex_unlock(&p->mu);
        int src = lane_sync(p, g);
        ts_metric_add("ts_store_fsyncs_total", NULL, 1);
        if (src) {
            ts_metric_add("ts_store_fsync_errors_total", NULL, 1);
        }
        pthread_mutex_lock(&p->mu);
        y->rc = src;
        y->done = true;
        struct applied a = {0};
        apply_syncs(p, &a);
        pthread_cond_broadcast(&p->cond); /* readers; a roll waiting for the lanes to drain */
        /* the waiters this made durable, and a next leader; woken without mu held, so that
         * they do not wake only to wait for it */
        struct ts__gwaiter *ready = group_ready(p);
        pthread_mutex_unlock(&p->mu);
        group_post(ready);
        if (!a.end && !a.g && !a.failed && !a.tail.g) {
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (a.end) {
            run_hook(p, a.end);
        }
        if (a.g) {
            drop_cache(p, a.g, a.d_from, a.d_len);
        }
        tail_drop(p, a.tail);
        if (a.failed) {
            pthread_mutex_lock(&p->write_mu);
            pthread_mutex_lock(&p->mu);
            bool discard = p->gen == a.gen0 && p->durable_next < a.target;
            if (!discard && p->gen == a.gen0) {
                p->sync_failed = false;
                ts__partition_changed(p);
            }
            pthread_mutex_unlock(&p->mu);
            if (discard) {
                discard_unsynced(p, a.rc);
            }
            pthread_mutex_unlock(&p->write_mu);
        }
        pthread_mutex_lock(&p->mu);
        if (a.g) {
            ts__seg_unref(vfs, a.g);
        }
    }
    p->waiters--;
    if (p->closed && p->waiters == 0) {
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->mu);
    sem_destroy(&self.sem);
    return rc;
}

int ts__partition_sync(struct ts_partition *p)
{
    const struct ts_vfs *vfs = pvfs(p);
    pthread_mutex_lock(&p->mu);
    while ((p->syncing || p->sync_head != p->sync_tail) && !p->closed) {
        pthread_cond_wait(&p->cond, &p->mu);
    }
    if (p->closed || p->durable_next >= p->written_next) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->syncing = true;
    struct ts__seg *g = active_seg(p);
    g->refs++;
    uint64_t target = p->written_next;
    int64_t target_pos = p->written_pos;
    int64_t target_ts = p->written_ts;
    pthread_mutex_unlock(&p->mu);
    int rc = vfs->fdatasync(vfs->ctx, g->fd);
    ts_metric_add("ts_store_fsyncs_total", NULL, 1);
    pthread_mutex_lock(&p->mu);
    bool moved = false;
    int64_t d_from = 0;
    int64_t d_len = 0;
    struct tail tail = {NULL, 0, 0};
    if (!rc && g == active_seg(p)) {
        moved = publish(p, target, target_pos, target_ts);
        d_len = drop_range(p, g, target_pos, &d_from);
        tail = tail_take(p, target_pos);
    }
    if (d_len > 0 || tail.g) {
        pthread_mutex_unlock(&p->mu);
        drop_cache(p, g, d_from, d_len); /* still referenced */
        tail_drop(p, tail);
        pthread_mutex_lock(&p->mu);
    }
    p->syncing = false;
    ts__seg_unref(vfs, g);
    ts__partition_changed(p);
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        /* INTERVAL: the records were acknowledged already; keep them and retry next tick. */
        ts_metric_add("ts_store_fsync_errors_total", NULL, 1);
        event(p, TS_STORE_EV_IO_ERROR, g->path, -1, target, 0, 0, rc, "interval sync failed");
    }
    if (moved) {
        run_hook(p, target);
    }
    return rc;
}

/* The data length of record i of either form of batch. */
static size_t rec_len(const struct ts_record_in *recs, const struct ts_frame_in *frames, size_t i)
{
    return frames ? frames[i].len : recs[i].len;
}

/* ts_partition_append (recs) and ts_partition_append_framed (framed, frames): exactly one of
 * recs and framed is set. */
static int append(struct ts_partition *p, const struct ts_record_in *recs, uint8_t *framed,
                  const struct ts_frame_in *frames, size_t n, int64_t ts_ms,
                  uint64_t *first_offset)
{
    struct ts_store *s = p->store;
    const struct ts_vfs *vfs = s->vfs;
    if (n == 0 || n > UINT32_MAX || (!recs && !(framed && frames))) {
        return TS_EINVAL;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (rec_len(recs, frames, i) > TS_STORE_RECORD_MAX ||
            (recs && recs[i].len && !recs[i].data)) {
            return TS_EINVAL;
        }
        total += TS_REC_HDR + rec_len(recs, frames, i);
    }
    if (total > TS_STORE_BATCH_MAX) {
        return TS_EINVAL;
    }
    int64_t now = ts_clock_now_ms(s->clock);
    if (ts_ms <= 0) {
        ts_ms = now;
    }
    int rc = 0;
    pthread_mutex_lock(&p->write_mu);
    pthread_mutex_lock(&p->mu);
    bool closed = p->closed;
    struct ts__seg *g = active_seg(p);
    int64_t ts = TS_MAX(ts_ms, p->written_ts);
    pthread_mutex_unlock(&p->mu);
    if (closed) {
        pthread_mutex_unlock(&p->write_mu);
        return TS_ECLOSED;
    }
    if (p->needs_reset) {
        rc = reset_tail(p);
        if (rc) {
            goto fail;
        }
    }
    bool too_big = (uint64_t)g->size + total > s->opts.segment_max_bytes;
    bool too_old = g->created_ms >= 0 && now - g->created_ms >= s->opts.segment_max_age_ms;
    if (g->size > 0 && (too_big || too_old)) {
        rc = roll(p);
        if (rc) {
            goto fail;
        }
        g = active_seg(p);
    }
    uint64_t first = p->written_next;
    const uint8_t *wbuf = framed;
    if (framed) {
        /* The caller's frames: headers only, the data is written where it lies. The header
         * lines were written long ago (before the data) and are out of the cache: they are
         * fetched 8 records ahead, as no hardware prefetcher follows the varying stride. */
        uint8_t *h = framed, *ahead = framed;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            for (; j < n && j < i + 8; j++) {
                __builtin_prefetch(ahead, 1);
                __builtin_prefetch(ahead + TS_REC_HDR - 1, 1);
                ahead += TS_REC_HDR + frames[j].len;
            }
            ts__rec_encode_crc(h, first + i, ts, (uint32_t)(n - 1 - i), frames[i].len,
                               frames[i].crc);
            h += TS_REC_HDR + frames[i].len;
        }
    } else {
        ts_buf_reset(&p->stage);
        rc = ts_buf_reserve(&p->stage, (size_t)total);
        if (rc) {
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t *h = (uint8_t *)p->stage.data + p->stage.len;
            ts__rec_encode(h, first + i, ts, (uint32_t)(n - 1 - i), recs[i].data,
                           (uint32_t)recs[i].len);
            if (recs[i].len) {
                memcpy(h + TS_REC_HDR, recs[i].data, recs[i].len);
            }
            p->stage.len += TS_REC_HDR + recs[i].len;
        }
        wbuf = (const uint8_t *)p->stage.data;
    }
    /* Invariant 1: one pwrite at the end of the log; nothing is visible yet. */
    int64_t w = vfs->pwrite(vfs->ctx, g->fd, wbuf, (size_t)total, p->written_pos);
    if (w < 0) {
        rc = (int)w;
        /* Part of the batch may be on disk: cut it before anything else is written. */
        p->needs_reset = true;
        reset_tail(p);
        event(p, TS_STORE_EV_IO_ERROR, g->path, p->written_pos, first, 0, 0, rc,
              "append write failed");
        goto fail;
    }
    pthread_mutex_lock(&p->mu);
    int64_t pos = p->written_pos;
    for (size_t i = 0; i < n; i++) {
        ts__seg_index_add(g, first + i, pos, ts, s->opts.index_interval_bytes);
        pos += TS_REC_HDR + (int64_t)rec_len(recs, frames, i);
    }
    if (g->first_ts < 0) {
        g->first_ts = ts;
        g->created_ms = now;
    }
    g->last_ts = ts;
    g->next = first + n;
    g->size = pos;
    p->written_next = first + n;
    p->written_pos = pos;
    p->written_ts = ts;
    uint64_t my_gen = p->gen;
    uint64_t my_end = p->written_next;
    pthread_mutex_unlock(&p->mu);
    ts_metric_add("ts_store_appends_total", NULL, 1);
    ts_metric_add("ts_store_append_bytes_total", NULL, (double)total);

    if (s->opts.fsync == TS_FSYNC_ALWAYS) {
        /* Invariant 3 (ALWAYS): this append's own fdatasync, still holding write_mu. */
        rc = vfs->fdatasync(vfs->ctx, g->fd);
        ts_metric_add("ts_store_fsyncs_total", NULL, 1);
        if (rc) {
            ts_metric_add("ts_store_fsync_errors_total", NULL, 1);
            discard_unsynced(p, rc);
            pthread_mutex_unlock(&p->write_mu);
            return rc;
        }
        pthread_mutex_lock(&p->mu);
        bool moved = publish(p, my_end, pos, ts);
        int64_t d_from = 0;
        int64_t d_len = drop_range(p, g, pos, &d_from);
        struct tail tail = tail_take(p, pos);
        pthread_mutex_unlock(&p->mu);
        drop_cache(p, g, d_from, d_len); /* g stays active while write_mu is held */
        tail_drop(p, tail);
        pthread_mutex_unlock(&p->write_mu);
        if (moved) {
            run_hook(p, my_end);
        }
        *first_offset = first;
        return 0;
    }
    pthread_mutex_unlock(&p->write_mu);
    if (s->opts.fsync == TS_FSYNC_INTERVAL) {
        /* Invariant 3 (INTERVAL): acknowledged once written; the sync thread makes it durable
         * and visible within interval_ms. */
        *first_offset = first;
        return 0;
    }
    rc = group_wait(p, my_gen, my_end);
    if (rc) {
        return rc;
    }
    *first_offset = first;
    return 0;
fail:
    ts_metric_add("ts_store_append_errors_total", NULL, 1);
    pthread_mutex_unlock(&p->write_mu);
    return rc;
}

int ts_partition_append(struct ts_partition *p, const struct ts_record_in *recs, size_t n,
                        int64_t ts_ms, uint64_t *first_offset)
{
    return append(p, recs, NULL, NULL, n, ts_ms, first_offset);
}

int ts_partition_append_framed(struct ts_partition *p, uint8_t *buf, const struct ts_frame_in *recs,
                               size_t n, int64_t ts_ms, uint64_t *first_offset)
{
#ifndef NDEBUG
    /* the caller's CRCs are its contract; a wrong one would be written as a corrupt record */
    const uint8_t *d = buf;
    for (size_t i = 0; d && recs && i < n; i++) {
        if (recs[i].len > TS_STORE_RECORD_MAX ||
            ts_crc32c(0, d + TS_REC_HDR, recs[i].len) != recs[i].crc) {
            return TS_EINVAL;
        }
        d += TS_REC_HDR + recs[i].len;
    }
#endif
    return append(p, NULL, buf, recs, n, ts_ms, first_offset);
}

/* ---------------------------------------------------------------- reading */

/* Reports a corrupt range once per segment (readers meet it again and again). */
static void report_corrupt(struct ts_partition *p, struct ts__seg *g, int64_t pos, uint64_t off,
                           uint64_t gap_end, const char *why)
{
    pthread_mutex_lock(&p->mu);
    bool seen = false;
    for (size_t i = 0; i < g->n_bad; i++) {
        seen |= g->bad[i].pos == pos;
    }
    if (!seen && g->n_bad < TS_SEG_BAD_MAX) {
        g->bad[g->n_bad++] = (struct ts__bad){pos, off, gap_end, why};
    }
    pthread_mutex_unlock(&p->mu);
    if (!seen) {
        ts_metric_add("ts_store_corrupt_records_total", NULL, 1);
        event(p, TS_STORE_EV_CORRUPT, g->path, pos, off, gap_end, 0, 0, why);
    }
}

/* Opens a segment's fd for reading if needed. mu held. */
static int seg_open_fd(struct ts_partition *p, struct ts__seg *g)
{
    if (g->fd >= 0) {
        return 0;
    }
    int fd = pvfs(p)->open(pvfs(p)->ctx, g->path, O_RDONLY, 0);
    if (fd < 0) {
        return fd;
    }
    g->fd = fd;
    return 0;
}

struct seg_read {
    /* in */
    uint64_t cur;       /* first wanted offset */
    uint64_t e_off;     /* index hint: a record boundary at or before cur */
    int64_t e_pos;
    uint64_t lim_off;   /* readable records end here */
    int64_t lim_pos;    /* ... and bytes */
    uint8_t *dst;
    size_t dst_len;
    struct ts_record *recs;
    size_t max;
    /* out */
    size_t n;           /* entries written */
    size_t used;        /* bytes of dst consumed */
    uint64_t next;      /* the next offset to read */
    bool toobig;        /* the first record did not fit */
};

/* Reads records from one segment. Returns 0 or an I/O error. */
static int read_segment(struct ts_partition *p, struct ts__seg *g, struct seg_read *r)
{
    const struct ts_vfs *vfs = pvfs(p);
    int64_t pos = r->e_pos;
    uint64_t off = r->e_off;
    r->n = 0;
    r->used = 0;
    r->next = r->cur;
    r->toobig = false;
    bool retried = false;
    for (;;) {
        size_t want = (size_t)TS_MIN((int64_t)r->dst_len, r->lim_pos - pos);
        int64_t got = vfs->pread(vfs->ctx, g->fd, r->dst, want, pos);
        if (got < 0) {
            return (int)got;
        }
        size_t k = 0;
        const char *why = NULL;
        bool bad = false;
        while (r->n < r->max && off < r->lim_off) {
            if (k + TS_REC_HDR > (size_t)got) {
                if (pos + (int64_t)k + (int64_t)TS_REC_HDR > r->lim_pos) {
                    bad = true;
                    why = "frame beyond end";
                }
                break;
            }
            const uint8_t *h = r->dst + k;
            uint32_t len = ts__get32(h + 4);
            if (ts__get32(h) != TS_REC_MAGIC || len > TS_STORE_RECORD_MAX) {
                bad = true;
                why = ts__get32(h) != TS_REC_MAGIC ? "bad magic" : "bad length";
                break;
            }
            size_t sz = TS_REC_HDR + len;
            if (pos + (int64_t)(k + sz) > r->lim_pos) {
                bad = true;
                why = "frame beyond end";
                break;
            }
            if (k + sz > (size_t)got) {
                break; /* does not fit in the buffer */
            }
            struct ts__rec rec;
            if (ts__rec_decode(h, sz, &rec, &why)) {
                bad = true;
                break;
            }
            if (rec.offset != off) {
                bad = true;
                why = "offset out of sequence";
                break;
            }
            if (off >= r->cur) {
                r->recs[r->n++] = (struct ts_record){off, 0, rec.ts_ms, rec.data, len, false};
                r->used = k + sz;
            }
            off++;
            k += sz;
        }
        if (r->n > 0) {
            r->next = off;
            return 0;
        }
        if (off >= r->lim_off || r->max == 0) {
            r->next = off > r->cur ? off : r->cur;
            return 0;
        }
        if (bad) {
            /* Corrupt frame at pos+k, expected offset `off`: find the next valid record and
             * return the range in between as an explicit gap. */
            struct ts__scan s;
            int rc = ts__scan_init(&s, vfs, g->fd, r->lim_pos);
            if (rc) {
                return rc;
            }
            struct ts__rec nx;
            int rs = ts__scan_resync(&s, pos + (int64_t)k + 1, off, &nx);
            ts__scan_free(&s);
            if (rs < 0) {
                return rs;
            }
            uint64_t gap_end = rs == TS_SCAN_OK && nx.offset < r->lim_off ? nx.offset : r->lim_off;
            report_corrupt(p, g, pos + (int64_t)k, off, gap_end, why ? why : "bad frame");
            if (rs == TS_SCAN_OK && nx.offset <= r->cur) {
                pos = nx.pos; /* the wanted record lies beyond the damage: keep reading */
                off = nx.offset;
                continue;
            }
            r->recs[0] = (struct ts_record){r->cur, gap_end, 0, NULL, 0, true};
            r->n = 1;
            r->next = gap_end;
            return 0;
        }
        /* Nothing fitted: skip the prefix before the wanted record once, else it is too big. */
        if (k > 0 && !retried) {
            pos += (int64_t)k;
            retried = true;
            continue;
        }
        r->toobig = true;
        return 0;
    }
}

int ts_partition_read(struct ts_partition *p, uint64_t from, void *buf, size_t buf_len,
                      struct ts_record *recs, size_t max_recs, size_t *n_out, uint64_t *next_out)
{
    const struct ts_vfs *vfs = pvfs(p);
    size_t n = 0, used = 0;
    uint64_t cur = from;
    int rc = 0;
    *n_out = 0;
    *next_out = from;
    while (n < max_recs) {
        pthread_mutex_lock(&p->mu);
        if (p->closed) {
            pthread_mutex_unlock(&p->mu);
            rc = TS_ECLOSED;
            break;
        }
        if (cur < p->segs[0]->base) {
            /* Only possible on the first step (or if retention raced us). */
            pthread_mutex_unlock(&p->mu);
            rc = n == 0 ? TS_ERANGE : 0;
            break;
        }
        if (cur >= p->durable_next) {
            bool beyond = cur > p->durable_next;
            pthread_mutex_unlock(&p->mu);
            rc = beyond && n == 0 ? TS_ERANGE : 0;
            break;
        }
        size_t lo = 0, hi = p->n_segs;
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (p->segs[mid]->base <= cur) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        struct ts__seg *g = p->segs[lo];
        bool is_active = lo == p->n_segs - 1;
        struct seg_read r = {0};
        r.cur = cur;
        r.lim_off = is_active ? p->durable_next : g->next;
        r.lim_pos = is_active ? p->durable_pos : g->size;
        if (cur >= r.lim_off) {
            /* A hole between segments (records lost to damage at the end of a segment). */
            uint64_t gap_end = lo + 1 < p->n_segs ? p->segs[lo + 1]->base : p->durable_next;
            pthread_mutex_unlock(&p->mu);
            recs[n++] = (struct ts_record){cur, gap_end, 0, NULL, 0, true};
            cur = gap_end;
            continue;
        }
        ts__seg_index_find(g, cur, &r.e_off, &r.e_pos);
        rc = seg_open_fd(p, g);
        if (rc) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        g->refs++;
        pthread_mutex_unlock(&p->mu);
        r.dst = (uint8_t *)buf + used;
        r.dst_len = buf_len - used;
        r.recs = recs + n;
        r.max = max_recs - n;
        rc = r.dst_len >= TS_REC_HDR ? read_segment(p, g, &r) : 0;
        if (r.dst_len < TS_REC_HDR) {
            r.toobig = true;
        }
        pthread_mutex_lock(&p->mu);
        ts__seg_unref(vfs, g);
        pthread_mutex_unlock(&p->mu);
        if (rc) {
            break;
        }
        if (r.toobig) {
            rc = n == 0 ? TS_ETOOBIG : 0;
            break;
        }
        n += r.n;
        used += r.used;
        if (r.next == cur) {
            break;
        }
        cur = r.next;
        if (r.n > 0 && !r.recs[r.n - 1].gap && cur < r.lim_off) {
            break; /* the buffer or count is full within this segment */
        }
    }
    *n_out = n;
    *next_out = cur;
    /* Records already copied are returned; an error recurs on the next call. */
    return n > 0 ? 0 : rc;
}

int ts_partition_wait(struct ts_partition *p, uint64_t offset, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    p->waiters++;
    while (p->durable_next <= offset) {
        if (p->closed) {
            rc = TS_ECLOSED;
            break;
        }
        if (timeout_ms == 0) {
            rc = TS_ETIMEDOUT;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->cond, &p->mu);
        } else if (pthread_cond_timedwait(&p->cond, &p->mu, &deadline) == ETIMEDOUT) {
            rc = p->durable_next > offset ? 0 : TS_ETIMEDOUT;
            break;
        }
    }
    if (p->closed && rc == 0 && p->durable_next <= offset) {
        rc = TS_ECLOSED;
    }
    p->waiters--;
    if (p->closed && p->waiters == 0) {
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int ts_partition_find_time(struct ts_partition *p, int64_t ts_ms, uint64_t *offset)
{
    const struct ts_vfs *vfs = pvfs(p);
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        return TS_ECLOSED;
    }
    size_t i = 0;
    while (i < p->n_segs && (p->segs[i]->last_ts < ts_ms || p->segs[i]->next == p->segs[i]->base)) {
        i++;
    }
    *offset = p->durable_next;
    if (i == p->n_segs) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    struct ts__seg *g = p->segs[i];
    bool is_active = i == p->n_segs - 1;
    uint64_t lim_off = is_active ? p->durable_next : g->next;
    int64_t lim_pos = is_active ? p->durable_pos : g->size;
    uint64_t e_off;
    int64_t e_pos;
    ts__seg_index_find_time(g, ts_ms, &e_off, &e_pos);
    int rc = seg_open_fd(p, g);
    if (rc) {
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    g->refs++;
    pthread_mutex_unlock(&p->mu);
    struct ts__scan s;
    rc = ts__scan_init(&s, vfs, g->fd, lim_pos);
    int64_t pos = e_pos;
    uint64_t result = lim_off;
    while (!rc) {
        struct ts__rec r;
        int sr = ts__scan_at(&s, pos, &r, NULL);
        if (sr < 0) {
            rc = sr;
            break;
        }
        if (sr == TS_SCAN_END) {
            break;
        }
        if (sr != TS_SCAN_OK) {
            sr = ts__scan_resync(&s, pos + 1, e_off, &r);
            if (sr != TS_SCAN_OK) {
                rc = sr < 0 ? sr : 0;
                break;
            }
        }
        if (r.offset >= lim_off) {
            break;
        }
        if (r.ts_ms >= ts_ms) {
            result = r.offset;
            break;
        }
        e_off = r.offset;
        pos = r.pos + TS_REC_HDR + r.len;
    }
    ts__scan_free(&s);
    pthread_mutex_lock(&p->mu);
    ts__seg_unref(vfs, g);
    pthread_mutex_unlock(&p->mu);
    if (!rc) {
        *offset = result;
    }
    return rc;
}

uint64_t ts_partition_end_offset(struct ts_partition *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t v = p->durable_next;
    pthread_mutex_unlock(&p->mu);
    return v;
}

uint64_t ts_partition_start_offset(struct ts_partition *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t v = p->segs[0]->base;
    pthread_mutex_unlock(&p->mu);
    return v;
}

void ts_partition_stats(struct ts_partition *p, struct ts_partition_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    out->start_offset = p->segs[0]->base;
    out->end_offset = p->durable_next;
    out->written_offset = p->written_next;
    out->segments = p->n_segs;
    out->first_ts_ms = -1;
    for (size_t i = 0; i < p->n_segs; i++) {
        out->bytes += (uint64_t)p->segs[i]->size;
        if (out->first_ts_ms < 0 && p->segs[i]->first_ts >= 0) {
            out->first_ts_ms = p->segs[i]->first_ts;
        }
    }
    out->last_ts_ms = p->durable_next > p->segs[0]->base ? p->durable_ts : -1;
    pthread_mutex_unlock(&p->mu);
}

const char *ts_partition_name(const struct ts_partition *p)
{
    return p->name;
}

int ts_partition_retain(struct ts_partition *p, int64_t max_age_ms, uint64_t max_bytes,
                        uint64_t *removed)
{
    const struct ts_vfs *vfs = pvfs(p);
    int64_t cutoff = ts_clock_now_ms(p->store->clock) - max_age_ms;
    uint64_t count = 0;
    int rc = 0;
    if (removed) {
        *removed = 0;
    }
    pthread_mutex_lock(&p->write_mu);
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        pthread_mutex_unlock(&p->write_mu);
        return TS_ECLOSED;
    }
    struct ts__seg *g = active_seg(p);
    bool roll_active = max_age_ms > 0 && g->next > g->base && g->last_ts < cutoff;
    pthread_mutex_unlock(&p->mu);
    if (roll_active) {
        rc = roll(p);
        if (rc) {
            pthread_mutex_unlock(&p->write_mu);
            return rc;
        }
    }
    pthread_mutex_lock(&p->mu);
    uint64_t total = 0;
    for (size_t i = 0; i < p->n_segs; i++) {
        total += (uint64_t)p->segs[i]->size;
    }
    size_t k = 0;
    while (k + 1 < p->n_segs) {
        struct ts__seg *x = p->segs[k];
        bool old = max_age_ms > 0 && x->last_ts < cutoff;
        bool big = max_bytes > 0 && total > max_bytes;
        if (!old && !big) {
            break;
        }
        total -= (uint64_t)x->size;
        count += x->next - x->base;
        k++;
    }
    struct ts__seg **gone = NULL;
    if (k > 0) {
        gone = ts_malloc(k * sizeof(*gone));
        if (!gone) {
            pthread_mutex_unlock(&p->mu);
            pthread_mutex_unlock(&p->write_mu);
            return TS_ENOMEM;
        }
        memcpy(gone, p->segs, k * sizeof(*gone));
        memmove(p->segs, p->segs + k, (p->n_segs - k) * sizeof(*p->segs));
        p->n_segs -= k;
    }
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->write_mu);
    /* Oldest first, so after a crash the remaining segments are still a contiguous suffix. */
    for (size_t i = 0; i < k; i++) {
        char idx[4096];
        ts__seg_file(p->dir, gone[i]->base, "idx", idx, sizeof(idx));
        int r1 = vfs->unlink(vfs->ctx, gone[i]->path);
        vfs->unlink(vfs->ctx, idx);
        if (r1 && r1 != TS_ENOENT && !rc) {
            rc = r1;
        }
    }
    if (k > 0) {
        int r2 = vfs->fsync_dir(vfs->ctx, p->dir);
        if (!rc) {
            rc = r2;
        }
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < k; i++) {
            ts__seg_unref(vfs, gone[i]);
        }
        pthread_mutex_unlock(&p->mu);
        ts_free(gone);
        ts_metric_add("ts_store_retention_removed_records_total", NULL, (double)count);
    }
    if (removed) {
        *removed = count;
    }
    return rc;
}

/* ---------------------------------------------------------------- open / close */

struct seg_list {
    uint64_t *bases;
    size_t n;
    size_t cap;
    const struct ts_vfs *vfs;
    const char *dir;
};

static int collect_seg(void *arg, const char *name)
{
    struct seg_list *l = arg;
    uint64_t base;
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", l->dir, name);
        l->vfs->unlink(l->vfs->ctx, path); /* an index or NAME file that never got renamed */
        return 0;
    }
    if (ts__seg_parse_name(name, "log", &base)) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *b = ts_realloc(l->bases, cap * sizeof(*b));
        if (!b) {
            return TS_ENOMEM;
        }
        l->bases = b;
        l->cap = cap;
    }
    l->bases[l->n++] = base;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct ts_partition *partition_alloc(struct ts_store *s, const char *enc, const char *name)
{
    struct ts_partition *p = ts_calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", s->pdir, enc);
    p->store = s;
    p->name = ts_strdup(name);
    p->dir = ts_strdup(dir);
    p->enc = ts_strdup(enc);
    p->cap_segs = 8;
    p->segs = ts_calloc(p->cap_segs, sizeof(*p->segs));
    p->written_ts = -1;
    p->durable_ts = -1;
    ts_buf_init(&p->stage, TS_STORE_BATCH_MAX);
    pthread_mutex_init(&p->write_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!p->name || !p->dir || !p->enc || !p->segs) {
        ts__partition_free(p, false);
        return NULL;
    }
    return p;
}

/* Recovers one segment file (see docs/store.md, "Recovery"). */
static int recover_segment(struct ts_partition *p, struct ts__seg *g, bool last,
                           uint64_t next_base)
{
    struct ts_store *s = p->store;
    const struct ts_vfs *vfs = s->vfs;
    int fd = vfs->open(vfs->ctx, g->path, last ? O_RDWR : O_RDONLY, 0);
    if (fd < 0) {
        return fd;
    }
    g->fd = fd;
    int64_t size = vfs->size(vfs->ctx, fd);
    if (size < 0) {
        return (int)size;
    }
    const char *why = NULL;
    int rc = ts__idx_load(vfs, p->dir, g, size, &why);
    if (rc == 0) {
        s->rec.bytes += (uint64_t)size;
        return 0;
    }
    if (rc != TS_ENOENT && rc != TS_ECORRUPT) {
        return rc;
    }
    char ipath[4096];
    ts__seg_file(p->dir, g->base, "idx", ipath, sizeof(ipath));
    /* A stale or missing index on the last segment is the normal state after a crash. */
    bool report = !last || (rc == TS_ECORRUPT && strcmp(why, "stale index") != 0);
    if (report) {
        s->rec.indexes_rebuilt++;
        event(p, TS_STORE_EV_INDEX_REBUILT, ipath, -1, g->base, 0, 0, 0,
              rc == TS_ENOENT ? "missing index" : why);
    }
    struct ts__seg_scan res;
    rc = ts__seg_scan(vfs, fd, g->base, size, last, s->opts.index_interval_bytes, g, &res);
    if (rc) {
        return rc;
    }
    s->rec.scanned_bytes += (uint64_t)size;
    for (size_t i = 0; i < res.n_bad; i++) {
        uint64_t end = res.bad[i].gap_end == UINT64_MAX ? next_base : res.bad[i].gap_end;
        event(p, TS_STORE_EV_CORRUPT, g->path, res.bad[i].pos, res.bad[i].offset, end, 0, 0,
              res.bad[i].why);
    }
    s->rec.corrupt_records += res.bad_total;
    ts_metric_add("ts_store_corrupt_records_total", NULL, (double)res.bad_total);
    if (last && res.valid_end < size) {
        /* Torn tail: cut it so it is never served, and make the cut durable before new
         * records are written after it. */
        rc = vfs->ftruncate(vfs->ctx, fd, res.valid_end);
        if (rc) {
            return rc;
        }
        s->rec.truncated_bytes += (uint64_t)(size - res.valid_end);
        ts_metric_add("ts_store_recovery_truncated_bytes_total", NULL,
                      (double)(size - res.valid_end));
        event(p, TS_STORE_EV_TRUNCATED, g->path, res.valid_end, res.next, 0,
              size - res.valid_end, 0, res.why ? res.why : "torn tail");
        vfs->unlink(vfs->ctx, ipath);
    }
    if (last) {
        /* After a process crash the recovered bytes may exist only in the page cache (INTERVAL
         * acknowledges before syncing): make them durable before readers can see them. */
        rc = vfs->fdatasync(vfs->ctx, fd);
        if (rc) {
            return rc;
        }
    } else {
        ts__idx_write(vfs, p->dir, g);
    }
    s->rec.bytes += (uint64_t)g->size;
    return 0;
}

int ts__partition_load(struct ts_store *s, const char *enc, const char *name,
                       struct ts_partition **out)
{
    const struct ts_vfs *vfs = s->vfs;
    char npath[4096];
    int w = snprintf(npath, sizeof(npath), "%s/%s/NAME", s->pdir, enc);
    if (w < 0 || (size_t)w >= sizeof(npath)) {
        return TS_ETOOBIG;
    }
    struct ts_buf nb;
    ts_buf_init(&nb, TS_STORE_NAME_MAX + 1);
    int rc = ts__read_small(vfs, npath, &nb, TS_STORE_NAME_MAX);
    if (rc) {
        ts_buf_free(&nb);
        return rc;
    }
    if (nb.len == 0 || strlen(nb.data) != nb.len || (name && strcmp(name, nb.data) != 0)) {
        ts_buf_free(&nb);
        return name ? TS_EEXIST : TS_ECORRUPT;
    }
    struct ts_partition *p = partition_alloc(s, enc, nb.data);
    ts_buf_free(&nb);
    if (!p) {
        return TS_ENOMEM;
    }
    struct seg_list l = {NULL, 0, 0, vfs, p->dir};
    rc = vfs->list(vfs->ctx, p->dir, collect_seg, &l);
    if (rc) {
        goto fail;
    }
    qsort(l.bases, l.n, sizeof(*l.bases), cmp_u64);
    if (l.n == 0) {
        /* Every segment file is gone (removed by hand): restart an empty log at 0. */
        struct ts__seg *g = ts__seg_new(p->dir, 0);
        if (!g) {
            rc = TS_ENOMEM;
            goto fail;
        }
        p->segs[p->n_segs++] = g;
        g->fd = vfs->open(vfs->ctx, g->path, O_RDWR | O_CREAT, 0644);
        rc = g->fd < 0 ? g->fd : vfs->fsync_dir(vfs->ctx, p->dir);
        if (rc) {
            goto fail;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        if (p->n_segs == p->cap_segs) {
            size_t cap = p->cap_segs * 2;
            struct ts__seg **segs = ts_realloc(p->segs, cap * sizeof(*segs));
            if (!segs) {
                rc = TS_ENOMEM;
                goto fail;
            }
            p->segs = segs;
            p->cap_segs = cap;
        }
        struct ts__seg *g = ts__seg_new(p->dir, l.bases[i]);
        if (!g) {
            rc = TS_ENOMEM;
            goto fail;
        }
        p->segs[p->n_segs++] = g;
        bool last = i + 1 == l.n;
        rc = recover_segment(p, g, last, last ? UINT64_MAX : l.bases[i + 1]);
        if (rc) {
            goto fail;
        }
        g->sealed = !last;
        g->created_ms = g->first_ts;
        s->rec.segments++;
        if (i > 0 && p->segs[i - 1]->next < g->base) {
            /* The previous segment ends early (cut or damaged at its end): readers get a gap. */
            s->rec.corrupt_records++;
            ts_metric_add("ts_store_corrupt_records_total", NULL, 1);
            event(p, TS_STORE_EV_CORRUPT, p->segs[i - 1]->path, p->segs[i - 1]->size,
                  p->segs[i - 1]->next, g->base, 0, 0, "records missing at the segment end");
        }
        if (i > 0 && p->segs[i - 1]->next > g->base) {
            /* Overlapping offsets cannot be produced by the writer: report, read by base. */
            event(p, TS_STORE_EV_CORRUPT, g->path, 0, g->base, p->segs[i - 1]->next, 0, 0,
                  "segment overlaps the previous one");
            p->segs[i - 1]->next = g->base;
        }
    }
    struct ts__seg *last = active_seg(p);
    p->written_next = p->durable_next = last->next;
    p->written_pos = p->durable_pos = last->size;
    p->written_ts = p->durable_ts = -1;
    for (size_t i = p->n_segs; i-- > 0;) {
        if (p->segs[i]->last_ts >= 0) {
            p->written_ts = p->durable_ts = p->segs[i]->last_ts;
            break;
        }
    }
    ts_free(l.bases);
    *out = p;
    return 0;
fail:
    ts_free(l.bases);
    ts__partition_free(p, false);
    return rc;
}

int ts__partition_create(struct ts_store *s, const char *name, struct ts_partition **out)
{
    const struct ts_vfs *vfs = s->vfs;
    char enc[256], tmp[4096], fin[4096];
    int rc = ts__name_encode(name, enc, sizeof(enc));
    if (rc) {
        return rc;
    }
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", s->pdir, enc);
    snprintf(fin, sizeof(fin), "%s/%s", s->pdir, enc);
    ts__rm_dir(vfs, tmp);
    rc = vfs->mkdir(vfs->ctx, tmp, 0755);
    if (rc) {
        return rc;
    }
    rc = ts__write_small(vfs, tmp, "NAME", name, strlen(name));
    if (rc) {
        goto fail;
    }
    char seg[4096];
    ts__seg_file(tmp, 0, "log", seg, sizeof(seg));
    int fd = vfs->open(vfs->ctx, seg, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    vfs->close(vfs->ctx, fd);
    /* Durability: the directory gets its final name only when NAME and the first segment are
     * durable inside it; a crash before leaves "<enc>.tmp", removed at the next open. */
    rc = vfs->fsync_dir(vfs->ctx, tmp);
    if (!rc) {
        rc = vfs->rename(vfs->ctx, tmp, fin);
    }
    if (!rc) {
        rc = vfs->fsync_dir(vfs->ctx, s->pdir);
    }
    if (rc) {
        goto fail;
    }
    return ts__partition_load(s, enc, name, out);
fail:
    ts__rm_dir(vfs, tmp);
    return rc;
}

void ts__partition_shut(struct ts_partition *p)
{
    /* Taking write_mu waits for the writer in progress; it is released before waiting for the
     * waiters because a failing group-commit leader needs it to finish. */
    pthread_mutex_lock(&p->write_mu);
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    ts__partition_changed(p);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->write_mu);
    pthread_mutex_lock(&p->mu);
    while (p->waiters > 0 || p->syncing) {
        pthread_cond_wait(&p->cond, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void ts__partition_free(struct ts_partition *p, bool flush)
{
    if (!p) {
        return;
    }
    const struct ts_vfs *vfs = p->store->vfs;
    if (flush && p->n_segs > 0) {
        struct ts__seg *g = active_seg(p);
        /* Clean shutdown: make everything durable, then write the active segment's index so
         * the next open needs no scan (the index is only trusted if it matches the log size). */
        int rc = p->needs_reset ? TS_EIO : vfs->fdatasync(vfs->ctx, g->fd);
        if (!rc && g->size == p->written_pos) {
            ts__idx_write(vfs, p->dir, g);
        }
    }
    ts__seg_unref(vfs, p->sealed_tail);
    for (size_t i = 0; i < p->n_segs; i++) {
        ts__seg_unref(vfs, p->segs[i]);
    }
    ts_free(p->segs);
    ts_buf_free(&p->stage);
    pthread_mutex_destroy(&p->write_mu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    ts_free(p->name);
    ts_free(p->dir);
    ts_free(p->enc);
    ts_free(p);
}
