/* bench_store.c - store benchmark (not a test; never run by ctest).
 *
 * In one run, on one disk:
 *  1. append throughput (MB/s, records/s) of 1 KiB records, 1 and 8 concurrent writers, under
 *     each fsync policy; 8 writers both on one partition and on 8 partitions;
 *  2. the physical reference: a plain C loop of pwrite + fdatasync with the same bytes per sync
 *     as the store achieved, and the store's ratio to it;
 *  3. read throughput from the page cache against memcpy of the same bytes;
 *  4. recovery time of a large partition: clean reopen, after a crash (active segment rescanned),
 *     and with every index deleted (full CRC scan), warm and cold cache.
 *
 * usage: bench_store [--dir PATH] [--quick] [--seconds N] [--batch N] [--recovery-mb N]
 *                    [--read-mb N]
 * The data directory (default ./bench-store-data) must be on the disk being measured, not a
 * tmpfs; it is removed at the end. */
#include "trailstream/ts_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC 1024

static const char *base_dir = "bench-store-data";
static double seconds = 3.0;
static int batch = 16;
static int64_t recovery_mb = 1024;
static int64_t read_mb = 256;

static double now_s(void)
{
    return (double)ts_mono_ns() / 1e9;
}

static void rmrf(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char sub[4096];
        int w = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (w < 0 || (size_t)w >= sizeof(sub)) {
            continue;
        }
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            rmrf(sub);
        } else {
            unlink(sub);
        }
    }
    closedir(d);
    rmdir(path);
}

struct writer {
    struct ts_partition *p;
    volatile int *stop;
    uint64_t records;
    int err;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    static __thread uint8_t payload[REC];
    struct ts_record_in in[256];
    memset(payload, 'x', sizeof(payload));
    for (int i = 0; i < batch; i++) {
        in[i].data = payload;
        in[i].len = REC;
    }
    while (!*w->stop) {
        uint64_t first;
        int rc = ts_partition_append(w->p, in, (size_t)batch, 0, &first);
        if (rc) {
            w->err = rc;
            break;
        }
        w->records += (uint64_t)batch;
    }
    return NULL;
}

static const char *pol_name(enum ts_fsync_policy p)
{
    return p == TS_FSYNC_ALWAYS ? "always" : p == TS_FSYNC_GROUP ? "group" : "interval";
}

/* Plain pwrite + fdatasync loop: `chunk` bytes per sync (or a sync every interval_ms). */
static double raw_loop(const char *dir, int id, size_t chunk, int interval_ms, double secs)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/raw%d.dat", dir, id);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return 0;
    }
    size_t bufsz = chunk < (1u << 20) ? chunk : (1u << 20);
    if (interval_ms > 0) {
        bufsz = (size_t)batch * (REC + TS_STORE_RECORD_OVERHEAD);
    }
    char *buf = ts_malloc(bufsz);
    memset(buf, 'x', bufsz);
    off_t off = 0;
    double t0 = now_s(), last_sync = t0;
    uint64_t bytes = 0;
    while (now_s() - t0 < secs) {
        if (interval_ms > 0) {
            if (pwrite(fd, buf, bufsz, off) != (ssize_t)bufsz) {
                break;
            }
            off += (off_t)bufsz;
            bytes += bufsz;
            if ((now_s() - last_sync) * 1000 >= interval_ms) {
                fdatasync(fd);
                last_sync = now_s();
            }
            continue;
        }
        size_t done = 0;
        while (done < chunk) {
            size_t n = chunk - done < bufsz ? chunk - done : bufsz;
            if (pwrite(fd, buf, n, off) != (ssize_t)n) {
                break;
            }
            off += (off_t)n;
            done += n;
        }
        fdatasync(fd);
        bytes += done;
    }
    fdatasync(fd);
    double el = now_s() - t0;
    close(fd);
    unlink(path);
    ts_free(buf);
    return (double)bytes / el / 1e6;
}

struct raw_arg {
    const char *dir;
    int id;
    size_t chunk;
    int interval_ms;
    double secs;
    double mbs;
};

static void *raw_main(void *arg)
{
    struct raw_arg *a = arg;
    a->mbs = raw_loop(a->dir, a->id, a->chunk, a->interval_ms, a->secs);
    return NULL;
}

/* The physical reference with `files` concurrent loops, one file each (one per partition). */
static double raw_reference(const char *dir, size_t chunk, int interval_ms, double secs,
                            int files)
{
    struct raw_arg a[8];
    pthread_t t[8];
    double total = 0;
    for (int i = 0; i < files; i++) {
        a[i] = (struct raw_arg){dir, i, chunk, interval_ms, secs, 0};
        pthread_create(&t[i], NULL, raw_main, &a[i]);
    }
    for (int i = 0; i < files; i++) {
        pthread_join(t[i], NULL);
        total += a[i].mbs;
    }
    return total;
}

static void bench_append(enum ts_fsync_policy pol, int writers, bool spread)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/append-%s-%d%s", base_dir, pol_name(pol), writers,
             spread ? "p" : "");
    rmrf(dir);
    struct ts_store_opts o = {0};
    o.fsync = pol;
    o.interval_ms = 100;
    struct ts_store *s;
    if (ts_store_open(dir, &o, &s)) {
        fprintf(stderr, "open %s failed\n", dir);
        return;
    }
    struct writer w[8];
    pthread_t t[8];
    volatile int stop = 0;
    double f0 = ts_metric_get("ts_store_fsyncs_total", NULL);
    double t0 = now_s();
    for (int i = 0; i < writers; i++) {
        char name[64];
        snprintf(name, sizeof(name), "bench/p%d", spread ? i : 0);
        struct ts_partition *p;
        ts_store_partition(s, name, true, &p);
        w[i] = (struct writer){p, &stop, 0, 0};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&d, NULL);
    stop = 1;
    uint64_t recs = 0;
    for (int i = 0; i < writers; i++) {
        pthread_join(t[i], NULL);
        recs += w[i].records;
        if (w[i].err) {
            fprintf(stderr, "append error: %s\n", ts_strerror(w[i].err));
        }
    }
    double el = now_s() - t0;
    double syncs = ts_metric_get("ts_store_fsyncs_total", NULL) - f0;
    ts_store_close(s);
    double bytes = (double)recs * (REC + TS_STORE_RECORD_OVERHEAD);
    double mbs = (double)recs * REC / el / 1e6;
    size_t per_sync = syncs > 0 ? (size_t)(bytes / syncs) : (size_t)(batch * (REC + 32));
    if (per_sync < 4096) {
        per_sync = 4096;
    }
    double raw = raw_reference(base_dir, per_sync, pol == TS_FSYNC_INTERVAL ? o.interval_ms : 0,
                               seconds, spread ? writers : 1);
    double store_wire = bytes / el / 1e6;
    printf("append %-8s writers=%d %-12s %8.1f MB/s %10.0f rec/s  syncs/s=%7.0f  "
           "bytes/sync=%8zu  raw=%8.1f MB/s  ratio=%5.2f\n",
           pol_name(pol), writers, spread ? "(8 parts)" : "(1 part)", mbs, (double)recs / el,
           syncs / el, per_sync, raw, raw > 0 ? store_wire / raw : 0);
    fflush(stdout);
    rmrf(dir);
}

static void bench_read(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/read", base_dir);
    rmrf(dir);
    struct ts_store_opts o = {0};
    o.fsync = TS_FSYNC_INTERVAL;
    struct ts_store *s;
    struct ts_partition *p;
    if (ts_store_open(dir, &o, &s) || ts_store_partition(s, "bench/read", true, &p)) {
        return;
    }
    static uint8_t payload[REC];
    memset(payload, 'r', sizeof(payload));
    struct ts_record_in in[64];
    for (int i = 0; i < 64; i++) {
        in[i] = (struct ts_record_in){payload, REC};
    }
    uint64_t total = (uint64_t)read_mb * 1024 * 1024 / REC;
    for (uint64_t n = 0; n < total; n += 64) {
        uint64_t first;
        ts_partition_append(p, in, 64, 0, &first);
    }
    ts_store_sync(s);
    size_t buf_len = 1u << 20;
    uint8_t *buf = ts_malloc(buf_len);
    struct ts_record *recs = ts_malloc(2048 * sizeof(*recs));
    double best = 0, best_mc = 0;
    uint64_t bytes = 0;
    for (int round = 0; round < 3; round++) {
        uint64_t cur = 0, end = ts_partition_end_offset(p);
        bytes = 0;
        double t0 = now_s();
        while (cur < end) {
            size_t n;
            uint64_t next;
            if (ts_partition_read(p, cur, buf, buf_len, recs, 2048, &n, &next) || n == 0) {
                break;
            }
            for (size_t i = 0; i < n; i++) {
                bytes += recs[i].len;
            }
            cur = next;
        }
        double el = now_s() - t0;
        if (bytes / el > best) {
            best = (double)bytes / el;
        }
        /* memcpy of the same payload bytes, in the same 1 MiB chunks, from a source bigger
         * than the CPU caches (so both sides pay for memory bandwidth). */
        size_t src_len = 256u << 20;
        uint8_t *src = ts_malloc(src_len);
        memset(src, 'm', src_len);
        t0 = now_s();
        uint64_t copied = 0;
        size_t at = 0;
        while (copied < bytes) {
            memcpy(buf, src + at, buf_len);
            at = (at + buf_len) % src_len;
            copied += buf_len;
        }
        el = now_s() - t0;
        ts_free(src);
        if ((double)copied / el > best_mc) {
            best_mc = (double)copied / el;
        }
    }
    printf("read   page cache, 1 thread: %7.2f GB/s of payload (%llu MB)  memcpy: %7.2f GB/s  "
           "ratio=%5.2f\n",
           best / 1e9, (unsigned long long)(bytes >> 20), best_mc / 1e9, best / best_mc);
    fflush(stdout);
    ts_free(buf);
    ts_free(recs);
    ts_store_close(s);
    rmrf(dir);
}

static void evict(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        int fd = open(sub, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    if (d) {
        closedir(d);
    }
}

static void remove_idx(const char *pdir, bool only_last)
{
    DIR *d = opendir(pdir);
    struct dirent *e;
    char last[4096] = "";
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".idx") == 0) {
            char sub[4096];
            snprintf(sub, sizeof(sub), "%s/%s", pdir, e->d_name);
            if (!only_last) {
                unlink(sub);
            } else if (strcmp(sub, last) > 0) {
                snprintf(last, sizeof(last), "%s", sub);
            }
        }
    }
    if (d) {
        closedir(d);
    }
    if (only_last && last[0]) {
        unlink(last);
    }
}

static void time_open(const char *dir, const char *what, double gb)
{
    struct ts_store *s;
    double t0 = now_s();
    if (ts_store_open(dir, NULL, &s)) {
        return;
    }
    double el = now_s() - t0;
    struct ts_store_recovery r;
    ts_store_recovery_stats(s, &r);
    printf("recover %-34s %7.3f s  (%6.3f s/GB, scanned %6llu MB, %llu segments)\n", what, el,
           el / gb, (unsigned long long)(r.scanned_bytes >> 20),
           (unsigned long long)r.segments);
    fflush(stdout);
    ts_store_close(s);
}

static void bench_recovery(void)
{
    char dir[4096], pdir[4096];
    snprintf(dir, sizeof(dir), "%s/recovery", base_dir);
    rmrf(dir);
    struct ts_store_opts o = {0};
    o.fsync = TS_FSYNC_INTERVAL;
    struct ts_store *s;
    struct ts_partition *p;
    if (ts_store_open(dir, &o, &s) || ts_store_partition(s, "bench/recovery", true, &p)) {
        return;
    }
    int w = snprintf(pdir, sizeof(pdir), "%s/partitions/bench%%2Frecovery", dir);
    if (w < 0 || (size_t)w >= sizeof(pdir)) {
        return;
    }
    static uint8_t payload[REC];
    memset(payload, 'c', sizeof(payload));
    struct ts_record_in in[64];
    for (int i = 0; i < 64; i++) {
        in[i] = (struct ts_record_in){payload, REC};
    }
    /* Slightly under recovery_mb so that the last (active) segment is nearly full: the crash
     * case then rescans close to one whole segment, its worst case. */
    uint64_t total = ((uint64_t)recovery_mb * 1024 * 1024 - (1u << 20)) /
                     (REC + TS_STORE_RECORD_OVERHEAD);
    double t0 = now_s();
    for (uint64_t n = 0; n < total; n += 64) {
        uint64_t first;
        ts_partition_append(p, in, 64, 0, &first);
    }
    ts_store_close(s);
    double gb = (double)recovery_mb / 1024.0;
    printf("recover wrote %lld MB partition in %.1f s\n", (long long)recovery_mb, now_s() - t0);
    time_open(dir, "clean shutdown (warm cache)", gb);
    remove_idx(pdir, true);
    time_open(dir, "after crash: active rescanned (warm)", gb);
    remove_idx(pdir, false);
    time_open(dir, "no indexes: full CRC scan (warm)", gb);
    remove_idx(pdir, true);
    evict(pdir);
    time_open(dir, "after crash: active rescanned (cold)", gb);
    remove_idx(pdir, false);
    evict(pdir);
    time_open(dir, "no indexes: full CRC scan (cold)", gb);
    rmrf(dir);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int64_t v = 0;
        if (strcmp(argv[i], "--quick") == 0) {
            seconds = 1.0;
            recovery_mb = 256;
            read_mb = 64;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base_dir = argv[++i];
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc &&
                   !ts_parse_i64(argv[++i], &v) && v > 0) {
            seconds = (double)v;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc &&
                   !ts_parse_i64(argv[++i], &v) && v > 0 && v <= 256) {
            batch = (int)v;
        } else if (strcmp(argv[i], "--recovery-mb") == 0 && i + 1 < argc &&
                   !ts_parse_i64(argv[++i], &v) && v > 0) {
            recovery_mb = v;
        } else if (strcmp(argv[i], "--read-mb") == 0 && i + 1 < argc &&
                   !ts_parse_i64(argv[++i], &v) && v > 0) {
            read_mb = v;
        } else {
            fprintf(stderr,
                    "usage: %s [--dir PATH] [--quick] [--seconds N] [--batch N] "
                    "[--recovery-mb N] [--read-mb N]\n",
                    argv[0]);
            return 2;
        }
    }
    ts_metrics_init();
    mkdir(base_dir, 0755);
    printf("bench_store: dir=%s, %d x %d B records per append, %.0f s per case\n", base_dir,
           batch, REC, seconds);
    enum ts_fsync_policy pols[] = {TS_FSYNC_ALWAYS, TS_FSYNC_GROUP, TS_FSYNC_INTERVAL};
    for (size_t i = 0; i < TS_ARRAY_LEN(pols); i++) {
        bench_append(pols[i], 1, false);
        bench_append(pols[i], 8, false);
        bench_append(pols[i], 8, true);
    }
    bench_read();
    bench_recovery();
    rmdir(base_dir);
    ts_metrics_shutdown();
    return 0;
}
