/* store_vfs_fault.c - a fault-injecting VFS for tests (in the spirit of sqlite's src/test6.c).
 *
 * It forwards to a base VFS and remembers, per file, the length at the last fdatasync and every
 * write since (with the pre-image of bytes it overwrote below that length), and which files
 * were created since their directory was last synced. ts_vfs_fault_power_loss() then rewrites
 * the real files as a power cut could have left them: unsynced bytes dropped, torn or garbled,
 * unsynced new files gone. It can also fail the Nth write or sync with any error.
 *
 * Limitations (documented in docs/store.md): a rename is treated as durable when it returns,
 * and directory creation/removal is not simulated; the store syncs the parent directory after
 * each of these anyway. */
#include "store_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define FD_MAP_MAX 65536
#define SECTOR 512

struct pending {
    int64_t off;
    int64_t len;
    uint8_t *pre;      /* pre-image of the part below synced_len, or NULL */
    int64_t pre_len;
};

struct ffile {
    char *path;
    int64_t synced_len;
    int64_t cur_len;
    struct pending *w;
    size_t n_w;
    size_t cap_w;
    bool created_unsynced;
    int opens;
    struct ffile *next;
};

struct ts_vfs_fault {
    struct ts_vfs vfs;
    const struct ts_vfs *base;
    pthread_mutex_t mu;
    uint64_t rng;
    struct ffile *files;
    struct ffile **fdmap; /* fd -> file */
    long writes, syncs, failures;
    long bad_hints;       /* drop_cache calls over bytes that were not durable */
    long fail_write_at, fail_sync_at;
    int fail_write_err, fail_sync_err;
    bool fail_write_sticky, fail_sync_sticky;
    bool frozen;
};

static uint64_t rnd(struct ts_vfs_fault *f)
{
    /* xorshift64*: deterministic for a given seed. */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 0x2545F4914F6CDD1Dull;
}

static struct ffile *file_find(struct ts_vfs_fault *f, const char *path)
{
    for (struct ffile *x = f->files; x; x = x->next) {
        if (x->path && strcmp(x->path, path) == 0) {
            return x;
        }
    }
    return NULL;
}

static void pending_clear(struct ffile *x)
{
    for (size_t i = 0; i < x->n_w; i++) {
        ts_free(x->w[i].pre);
    }
    x->n_w = 0;
}

static int pending_add(struct ffile *x, int64_t off, int64_t len, uint8_t *pre, int64_t pre_len)
{
    if (x->n_w == x->cap_w) {
        size_t cap = x->cap_w ? x->cap_w * 2 : 16;
        struct pending *w = ts_realloc(x->w, cap * sizeof(*w));
        if (!w) {
            ts_free(pre);
            return TS_ENOMEM;
        }
        x->w = w;
        x->cap_w = cap;
    }
    x->w[x->n_w++] = (struct pending){off, len, pre, pre_len};
    return 0;
}

/* Returns the error to inject for the next write-class operation, or 0. Lock held. */
static int next_write_fault(struct ts_vfs_fault *f)
{
    if (f->frozen) {
        return TS_EIO;
    }
    f->writes++;
    if (f->fail_write_at > 0 &&
        (f->writes == f->fail_write_at || (f->fail_write_sticky && f->writes > f->fail_write_at))) {
        f->failures++;
        return f->fail_write_err;
    }
    return 0;
}

static int next_sync_fault(struct ts_vfs_fault *f)
{
    if (f->frozen) {
        return TS_EIO;
    }
    f->syncs++;
    if (f->fail_sync_at > 0 &&
        (f->syncs == f->fail_sync_at || (f->fail_sync_sticky && f->syncs > f->fail_sync_at))) {
        f->failures++;
        return f->fail_sync_err;
    }
    return 0;
}

static int f_open(void *ctx, const char *path, int flags, int mode)
{
    struct ts_vfs_fault *f = ctx;
    const struct ts_vfs *b = f->base;
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    bool creating = false;
    if (flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) {
        if (f->frozen) {
            rc = TS_EIO;
            goto out;
        }
    }
    if (flags & O_CREAT) {
        int probe = b->open(b->ctx, path, O_RDONLY, 0);
        if (probe >= 0) {
            b->close(b->ctx, probe);
        } else {
            creating = true;
            rc = next_write_fault(f);
            if (rc) {
                goto out;
            }
        }
    }
    int fd = b->open(b->ctx, path, flags, mode);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    if (fd >= FD_MAP_MAX) {
        b->close(b->ctx, fd);
        rc = -EMFILE;
        goto out;
    }
    struct ffile *x = file_find(f, path);
    if (!x) {
        x = ts_calloc(1, sizeof(*x));
        char *p = ts_strdup(path);
        if (!x || !p) {
            ts_free(x);
            ts_free(p);
            b->close(b->ctx, fd);
            rc = TS_ENOMEM;
            goto out;
        }
        x->path = p;
        int64_t size = b->size(b->ctx, fd);
        x->synced_len = size > 0 ? size : 0;
        x->cur_len = x->synced_len;
        x->next = f->files;
        f->files = x;
    }
    if (creating) {
        x->created_unsynced = true;
        x->synced_len = 0;
        x->cur_len = 0;
        pending_clear(x);
    }
    if (flags & O_TRUNC) {
        /* Truncation on open behaves like an unsynced ftruncate to 0. */
        if (x->synced_len > 0) {
            x->synced_len = 0;
        }
        x->cur_len = 0;
        pending_clear(x);
    }
    x->opens++;
    f->fdmap[fd] = x;
    rc = fd;
out:
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_close(void *ctx, int fd)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (fd >= 0 && fd < FD_MAP_MAX && f->fdmap[fd]) {
        f->fdmap[fd]->opens--;
        f->fdmap[fd] = NULL;
    }
    int rc = f->base->close(f->base->ctx, fd);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int64_t f_pread(void *ctx, int fd, void *buf, size_t n, int64_t off)
{
    struct ts_vfs_fault *f = ctx;
    return f->base->pread(f->base->ctx, fd, buf, n, off);
}

/* Records a write of [off, off+len) to x, saving the pre-image below synced_len. */
static int track_write(struct ts_vfs_fault *f, int fd, struct ffile *x, int64_t off, int64_t len)
{
    uint8_t *pre = NULL;
    int64_t pre_len = 0;
    /* Only bytes that exist now can be saved; bytes between the current length and synced_len
     * were cut earlier and their pre-image is already in an older pending entry. */
    int64_t upto = TS_MIN(TS_MIN(off + len, x->synced_len), x->cur_len);
    if (off < upto) {
        pre_len = upto - off;
        pre = ts_malloc((size_t)pre_len);
        if (!pre) {
            return TS_ENOMEM;
        }
        int64_t r = f->base->pread(f->base->ctx, fd, pre, (size_t)pre_len, off);
        if (r != pre_len) {
            ts_free(pre);
            return r < 0 ? (int)r : TS_EIO;
        }
    }
    return pending_add(x, off, len, pre, pre_len);
}

static int64_t f_pwrite(void *ctx, int fd, const void *buf, size_t n, int64_t off)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    struct ffile *x = fd >= 0 && fd < FD_MAP_MAX ? f->fdmap[fd] : NULL;
    int64_t rc = 0;
    int fault = next_write_fault(f);
    size_t todo = n;
    if (fault && !f->frozen) {
        /* A full disk usually accepts part of a write first. */
        todo = n / 2;
        if (todo == 0) {
            rc = fault;
            goto out;
        }
    } else if (fault) {
        rc = fault;
        goto out;
    }
    if (x) {
        rc = track_write(f, fd, x, off, (int64_t)todo);
        if (rc) {
            goto out;
        }
    }
    rc = f->base->pwrite(f->base->ctx, fd, buf, todo, off);
    if (rc > 0 && x && off + rc > x->cur_len) {
        x->cur_len = off + rc;
    }
    if (fault) {
        rc = fault;
    }
out:
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_fdatasync(void *ctx, int fd)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = next_sync_fault(f);
    if (!rc) {
        rc = f->base->fdatasync(f->base->ctx, fd);
    }
    struct ffile *x = fd >= 0 && fd < FD_MAP_MAX ? f->fdmap[fd] : NULL;
    if (!rc && x) {
        int64_t size = f->base->size(f->base->ctx, fd);
        x->synced_len = size >= 0 ? size : x->cur_len;
        x->cur_len = x->synced_len;
        pending_clear(x);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_ftruncate(void *ctx, int fd, int64_t len)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = next_write_fault(f);
    if (rc) {
        goto out;
    }
    struct ffile *x = fd >= 0 && fd < FD_MAP_MAX ? f->fdmap[fd] : NULL;
    if (x && len < x->synced_len) {
        /* Cutting synced bytes is undone by a power loss: keep their pre-image. */
        rc = track_write(f, fd, x, len, x->synced_len - len);
        if (rc) {
            goto out;
        }
    }
    rc = f->base->ftruncate(f->base->ctx, fd, len);
    if (!rc && x) {
        x->cur_len = len;
    }
out:
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int64_t f_size(void *ctx, int fd)
{
    struct ts_vfs_fault *f = ctx;
    return f->base->size(f->base->ctx, fd);
}

static int f_fsync_dir(void *ctx, const char *path)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = next_sync_fault(f);
    if (!rc) {
        rc = f->base->fsync_dir(f->base->ctx, path);
    }
    if (!rc) {
        size_t n = strlen(path);
        for (struct ffile *x = f->files; x; x = x->next) {
            if (x->path && strncmp(x->path, path, n) == 0 && x->path[n] == '/' &&
                !strchr(x->path + n + 1, '/')) {
                x->created_unsynced = false;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_rename(void *ctx, const char *from, const char *to)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = next_write_fault(f);
    if (!rc) {
        rc = f->base->rename(f->base->ctx, from, to);
    }
    if (!rc) {
        struct ffile *old = file_find(f, to);
        if (old) {
            ts_free(old->path);
            old->path = NULL;
        }
        struct ffile *x = file_find(f, from);
        if (x) {
            char *p = ts_strdup(to);
            if (p) {
                ts_free(x->path);
                x->path = p;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_unlink(void *ctx, const char *path)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = f->frozen ? TS_EIO : f->base->unlink(f->base->ctx, path);
    if (!rc) {
        struct ffile *x = file_find(f, path);
        if (x) {
            ts_free(x->path);
            x->path = NULL;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_mkdir(void *ctx, const char *path, int mode)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = next_write_fault(f);
    if (!rc) {
        rc = f->base->mkdir(f->base->ctx, path, mode);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_rmdir(void *ctx, const char *path)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    int rc = f->frozen ? TS_EIO : f->base->rmdir(f->base->ctx, path);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* The hint's contract is that every byte of the range is durable: a range reaching past the
 * synced length, or over a write not yet synced, counts in bad_hints and changes nothing. */
static int f_drop_cache(void *ctx, int fd, int64_t off, int64_t len)
{
    struct ts_vfs_fault *f = ctx;
    pthread_mutex_lock(&f->mu);
    struct ffile *x = fd >= 0 && fd < FD_MAP_MAX ? f->fdmap[fd] : NULL;
    bool ok = x && off >= 0 && len >= 0 && off + len <= x->synced_len;
    for (size_t i = 0; ok && x && i < x->n_w; i++) {
        ok = off + len <= x->w[i].off || x->w[i].off + x->w[i].len <= off;
    }
    int rc = TS_EINVAL;
    if (!ok) {
        f->bad_hints++;
    } else if (f->frozen) {
        rc = TS_EIO;
    } else {
        rc = f->base->drop_cache ? f->base->drop_cache(f->base->ctx, fd, off, len) : 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_list(void *ctx, const char *dir, ts_vfs_list_fn fn, void *arg)
{
    struct ts_vfs_fault *f = ctx;
    return f->base->list(f->base->ctx, dir, fn, arg);
}

int ts_vfs_fault_create(const struct ts_vfs *base, uint64_t seed, struct ts_vfs_fault **out)
{
    struct ts_vfs_fault *f = ts_calloc(1, sizeof(*f));
    if (!f) {
        return TS_ENOMEM;
    }
    f->fdmap = ts_calloc(FD_MAP_MAX, sizeof(*f->fdmap));
    if (!f->fdmap) {
        ts_free(f);
        return TS_ENOMEM;
    }
    f->base = base ? base : &ts_vfs_posix;
    f->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    pthread_mutex_init(&f->mu, NULL);
    f->vfs = (struct ts_vfs){f,         f_open,     f_close,   f_pread,  f_pwrite,
                             f_fdatasync, f_ftruncate, f_size, f_fsync_dir, f_rename,
                             f_unlink,  f_mkdir,    f_rmdir,   f_list,
                             f_drop_cache};
    *out = f;
    return 0;
}

void ts_vfs_fault_destroy(struct ts_vfs_fault *f)
{
    if (!f) {
        return;
    }
    struct ffile *x = f->files;
    while (x) {
        struct ffile *next = x->next;
        pending_clear(x);
        ts_free(x->w);
        ts_free(x->path);
        ts_free(x);
        x = next;
    }
    ts_free(f->fdmap);
    pthread_mutex_destroy(&f->mu);
    ts_free(f);
}

const struct ts_vfs *ts_vfs_fault_vfs(struct ts_vfs_fault *f)
{
    return &f->vfs;
}

void ts_vfs_fault_fail_write(struct ts_vfs_fault *f, long nth, int err, bool sticky)
{
    pthread_mutex_lock(&f->mu);
    f->fail_write_at = nth > 0 ? f->writes + nth : 0;
    f->fail_write_err = err;
    f->fail_write_sticky = sticky;
    pthread_mutex_unlock(&f->mu);
}

void ts_vfs_fault_fail_sync(struct ts_vfs_fault *f, long nth, int err, bool sticky)
{
    pthread_mutex_lock(&f->mu);
    f->fail_sync_at = nth > 0 ? f->syncs + nth : 0;
    f->fail_sync_err = err;
    f->fail_sync_sticky = sticky;
    pthread_mutex_unlock(&f->mu);
}

void ts_vfs_fault_clear(struct ts_vfs_fault *f)
{
    pthread_mutex_lock(&f->mu);
    f->fail_write_at = 0;
    f->fail_sync_at = 0;
    pthread_mutex_unlock(&f->mu);
}

/* Reads one of f's counters under its lock. */
static long counter(struct ts_vfs_fault *f, const long *c)
{
    pthread_mutex_lock(&f->mu);
    long v = *c;
    pthread_mutex_unlock(&f->mu);
    return v;
}

long ts_vfs_fault_writes(struct ts_vfs_fault *f)
{
    return counter(f, &f->writes);
}

long ts_vfs_fault_syncs(struct ts_vfs_fault *f)
{
    return counter(f, &f->syncs);
}

long ts_vfs_fault_bad_hints(struct ts_vfs_fault *f)
{
    return counter(f, &f->bad_hints);
}

long ts_vfs_fault_failures(struct ts_vfs_fault *f)
{
    return counter(f, &f->failures);
}

/* Rewrites one file as a power cut in `mode` could have left it. Lock held. */
static int crash_file(struct ts_vfs_fault *f, struct ffile *x, enum ts_vfs_crash_mode mode)
{
    const struct ts_vfs *b = f->base;
    if (x->created_unsynced && (mode == TS_VFS_CRASH_DROP || rnd(f) % 2 == 0)) {
        int rc = b->unlink(b->ctx, x->path);
        return rc == TS_ENOENT ? 0 : rc;
    }
    if (x->n_w == 0 && x->cur_len == x->synced_len) {
        return 0;
    }
    int fd = b->open(b->ctx, x->path, O_RDWR, 0);
    if (fd < 0) {
        return fd == TS_ENOENT ? 0 : fd;
    }
    int rc = 0;
    int64_t cur = b->size(b->ctx, fd);
    int64_t new_len = x->synced_len;
    if (mode != TS_VFS_CRASH_DROP && cur > x->synced_len) {
        new_len = x->synced_len + (int64_t)(rnd(f) % (uint64_t)(cur - x->synced_len + 1));
    }
    if (mode == TS_VFS_CRASH_DROP) {
        rc = b->ftruncate(b->ctx, fd, new_len);
        /* Newest first, so the oldest pre-image of a byte is what remains. */
        for (size_t i = x->n_w; i-- > 0 && !rc;) {
            if (x->w[i].pre) {
                int64_t w = b->pwrite(b->ctx, fd, x->w[i].pre, (size_t)x->w[i].pre_len,
                                      x->w[i].off);
                rc = w < 0 ? (int)w : 0;
            }
        }
    } else {
        rc = b->ftruncate(b->ctx, fd, new_len);
        for (size_t i = x->n_w; i-- > 0 && !rc;) {
            struct pending *w = &x->w[i];
            if (w->pre && rnd(f) % 2 == 0) {
                int64_t r = b->pwrite(b->ctx, fd, w->pre, (size_t)w->pre_len, w->off);
                rc = r < 0 ? (int)r : 0;
            }
            if (mode != TS_VFS_CRASH_GARBLE) {
                continue;
            }
            int64_t end = TS_MIN(w->off + w->len, new_len);
            for (int64_t s = w->off - w->off % SECTOR; s < end && !rc; s += SECTOR) {
                uint8_t junk[SECTOR];
                uint64_t r = rnd(f) % 4;
                if (r < 2) {
                    continue; /* sector reached the disk intact */
                }
                for (size_t k = 0; k < SECTOR; k++) {
                    junk[k] = r == 2 ? 0 : (uint8_t)rnd(f);
                }
                int64_t from = TS_MAX(s, w->off);
                int64_t to = TS_MIN(s + SECTOR, end);
                int64_t pw = b->pwrite(b->ctx, fd, junk, (size_t)(to - from), from);
                rc = pw < 0 ? (int)pw : 0;
            }
        }
    }
    if (!rc) {
        rc = b->fdatasync(b->ctx, fd);
    }
    b->close(b->ctx, fd);
    x->synced_len = new_len;
    x->cur_len = new_len;
    pending_clear(x);
    return rc;
}

int ts_vfs_fault_power_loss(struct ts_vfs_fault *f, enum ts_vfs_crash_mode mode)
{
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    f->frozen = true;
    for (struct ffile *x = f->files; x; x = x->next) {
        if (!x->path) {
            continue;
        }
        int r = crash_file(f, x, mode);
        if (r && !rc) {
            rc = r;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}
