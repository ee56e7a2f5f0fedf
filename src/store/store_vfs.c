/* store_vfs.c - the real POSIX file layer of the store, and small-file helpers built on any VFS.
 *
 * Every store file operation goes through struct ts_vfs so that tests can substitute the fault
 * VFS (store_vfs_fault.c). The POSIX functions retry EINTR and turn short writes into loops, so
 * callers see either the full count or an error. */
#include "store_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int posix_open(void *ctx, const char *path, int flags, int mode)
{
    TS_UNUSED(ctx);
    int fd;
    do {
        fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int posix_close(void *ctx, int fd)
{
    TS_UNUSED(ctx);
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static int64_t posix_pread(void *ctx, int fd, void *buf, size_t n, int64_t off)
{
    TS_UNUSED(ctx);
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break;
        }
        done += (size_t)r;
    }
    return (int64_t)done;
}

static int64_t posix_pwrite(void *ctx, int fd, const void *buf, size_t n, int64_t off)
{
    TS_UNUSED(ctx);
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            return TS_EIO;
        }
        done += (size_t)r;
    }
    return (int64_t)done;
}

static int posix_fdatasync(void *ctx, int fd)
{
    TS_UNUSED(ctx);
    int r;
    do {
        r = fdatasync(fd);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

static int posix_ftruncate(void *ctx, int fd, int64_t len)
{
    TS_UNUSED(ctx);
    int r;
    do {
        r = ftruncate(fd, (off_t)len);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

static int posix_drop_cache(void *ctx, int fd, int64_t off, int64_t len)
{
    TS_UNUSED(ctx);
    /* Whole pages inside the range leave the page cache; they are clean (synced), so this
     * writes nothing. posix_fadvise returns the error instead of setting errno. */
    int r = posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
    return -r;
}

static int64_t posix_size(void *ctx, int fd)
{
    TS_UNUSED(ctx);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_size;
}

static int posix_fsync_dir(void *ctx, const char *path)
{
    TS_UNUSED(ctx);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int r;
    do {
        r = fsync(fd);
    } while (r < 0 && errno == EINTR);
    int rc = r < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
    TS_UNUSED(ctx);
    return rename(from, to) < 0 ? -errno : 0;
}

static int posix_unlink(void *ctx, const char *path)
{
    TS_UNUSED(ctx);
    return unlink(path) < 0 ? -errno : 0;
}

static int posix_mkdir(void *ctx, const char *path, int mode)
{
    TS_UNUSED(ctx);
    return mkdir(path, (mode_t)mode) < 0 ? -errno : 0;
}

static int posix_rmdir(void *ctx, const char *path)
{
    TS_UNUSED(ctx);
    return rmdir(path) < 0 ? -errno : 0;
}

static int posix_list(void *ctx, const char *dir, ts_vfs_list_fn fn, void *arg)
{
    TS_UNUSED(ctx);
    DIR *d = opendir(dir);
    if (!d) {
        return -errno;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        rc = fn(arg, e->d_name);
        if (rc) {
            break;
        }
    }
    closedir(d);
    return rc;
}

const struct ts_vfs ts_vfs_posix = {
    NULL,
    posix_open,
    posix_close,
    posix_pread,
    posix_pwrite,
    posix_fdatasync,
    posix_ftruncate,
    posix_size,
    posix_fsync_dir,
    posix_rename,
    posix_unlink,
    posix_mkdir,
    posix_rmdir,
    posix_list,
    posix_drop_cache,
};

int ts__read_small(const struct ts_vfs *vfs, const char *path, struct ts_buf *out, size_t max)
{
    int fd = vfs->open(vfs->ctx, path, O_RDONLY, 0);
    if (fd < 0) {
        return fd;
    }
    int rc = 0;
    int64_t size = vfs->size(vfs->ctx, fd);
    if (size < 0) {
        rc = (int)size;
        goto out;
    }
    if ((uint64_t)size > max) {
        rc = TS_ETOOBIG;
        goto out;
    }
    rc = ts_buf_reserve(out, (size_t)size);
    if (rc) {
        goto out;
    }
    int64_t r = vfs->pread(vfs->ctx, fd, out->data + out->len, (size_t)size, 0);
    if (r < 0) {
        rc = (int)r;
        goto out;
    }
    out->len += (size_t)r;
    out->data[out->len] = '\0';
out:
    vfs->close(vfs->ctx, fd);
    return rc;
}

int ts__write_small(const struct ts_vfs *vfs, const char *dir, const char *fname, const void *p,
                    size_t n)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, fname);
    snprintf(dst, sizeof(dst), "%s/%s", dir, fname);
    int fd = vfs->open(vfs->ctx, tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return fd;
    }
    int rc = 0;
    int64_t w = vfs->pwrite(vfs->ctx, fd, p, n, 0);
    if (w < 0) {
        rc = (int)w;
    }
    /* Durability order: the new content is synced before the rename publishes it, and the
     * directory is synced after, so after a crash the name holds either the old or the whole
     * new content. */
    if (!rc) {
        rc = vfs->fdatasync(vfs->ctx, fd);
    }
    vfs->close(vfs->ctx, fd);
    if (!rc) {
        rc = vfs->rename(vfs->ctx, tmp, dst);
    }
    if (!rc) {
        rc = vfs->fsync_dir(vfs->ctx, dir);
    }
    if (rc) {
        vfs->unlink(vfs->ctx, tmp);
    }
    return rc;
}

struct rm_ctx {
    const struct ts_vfs *vfs;
    const char *dir;
    int rc;
};

static int rm_one(void *arg, const char *name)
{
    struct rm_ctx *c = arg;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    int r = c->vfs->unlink(c->vfs->ctx, path);
    if (r && r != TS_ENOENT && !c->rc) {
        c->rc = r;
    }
    return 0;
}

int ts__rm_dir(const struct ts_vfs *vfs, const char *dir)
{
    struct rm_ctx c = {vfs, dir, 0};
    int rc = vfs->list(vfs->ctx, dir, rm_one, &c);
    if (rc == TS_ENOENT) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    if (c.rc) {
        return c.rc;
    }
    rc = vfs->rmdir(vfs->ctx, dir);
    return rc == TS_ENOENT ? 0 : rc;
}
