/*
 * store_int.h - internals shared by the store's files: the record frame, the segment scanner,
 * index files, and the partition/segment structures. Not a public interface.
 */
#ifndef TS_STORE_INT_H
#define TS_STORE_INT_H

#include "trailstream/ts_store.h"

#include <pthread.h>
#include <semaphore.h>
#include <string.h>

/* ---------------------------------------------------------------- record frame
 *
 * Little-endian, 32-byte header followed by the payload, no padding:
 *   0  u32 magic       TS_REC_MAGIC
 *   4  u32 len         payload bytes
 *   8  u64 offset      the record's offset
 *  16  i64 ts_ms       append time
 *  24  u32 batch_left  records that follow in the same appended batch (0 = last of its batch)
 *  28  u32 crc         CRC32C over bytes 0..27 and the payload
 */
#define TS_REC_MAGIC 0x31525354u /* "TSR1" */
#define TS_REC_HDR 32u

/* ---------------------------------------------------------------- index file
 *
 * <base>.idx: a 56-byte header then n entries of 16 bytes; one CRC32C covers it all.
 *   0 u32 magic TS_IDX_MAGIC   4 u32 version (1)   8 u64 base   16 u64 next offset
 *  24 u64 log_size  32 i64 first_ts  40 i64 last_ts  48 u32 n  52 u32 crc (over 0..51 + entries)
 * entry: u32 rel_offset, u32 file pos, i64 ts_ms of that record. An entry is both the sparse
 * offset index (offset -> pos) and the time index (ts -> offset): append times never decrease
 * within a partition, so one sorted table answers both.
 */
#define TS_IDX_MAGIC 0x58495354u /* "TSIX" */
#define TS_IDX_VERSION 1u
#define TS_IDX_HDR 56u
#define TS_IDX_ENTRY 16u

#define TS_SEG_NAME_DIGITS 20
#define TS_SEGMENT_HARD_MAX (1024ull * 1024 * 1024)

/* Little-endian fields, as whole loads and stores (the byte-by-byte form compiled to byte
 * shuffles and, in the record encoder, a store-forwarding stall per record). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TS__LE32(v) __builtin_bswap32(v)
#define TS__LE64(v) __builtin_bswap64(v)
#else
#define TS__LE32(v) (v)
#define TS__LE64(v) (v)
#endif

static inline void ts__put32(uint8_t *p, uint32_t v)
{
    v = TS__LE32(v);
    memcpy(p, &v, 4);
}

static inline void ts__put64(uint8_t *p, uint64_t v)
{
    v = TS__LE64(v);
    memcpy(p, &v, 8);
}

static inline uint32_t ts__get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return TS__LE32(v);
}

static inline uint64_t ts__get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return TS__LE64(v);
}

/* A decoded frame header. */
struct ts__rec {
    uint64_t offset;
    int64_t ts_ms;
    uint32_t len;
    uint32_t batch_left;
    int64_t pos;          /* file position of the header */
    const uint8_t *data;  /* payload (valid until the next scanner call) */
};

/* Writes a frame header for a payload into hdr (TS_REC_HDR bytes), CRC included. */
void ts__rec_encode(uint8_t *hdr, uint64_t offset, int64_t ts_ms, uint32_t batch_left,
                    const void *payload, uint32_t len);
/* The same, for a payload whose CRC (ts_crc32c(0, payload, len)) the caller has. */
void ts__rec_encode_crc(uint8_t *hdr, uint64_t offset, int64_t ts_ms, uint32_t batch_left,
                        uint32_t len, uint32_t payload_crc);
/* Checks a header + payload in memory. Returns 0 or TS_ECORRUPT; fills out when valid. */
int ts__rec_decode(const uint8_t *frame, size_t avail, struct ts__rec *out, const char **why);

/* ---------------------------------------------------------------- scanner */

/* Reads frames sequentially from a file through a growing buffer (up to one max record). */
struct ts__scan {
    const struct ts_vfs *vfs;
    int fd;
    int64_t end;       /* scan limit in file bytes */
    uint8_t *buf;
    size_t cap;
    int64_t buf_pos;   /* file position of buf[0] */
    size_t buf_len;
};

enum ts__scan_rc {
    TS_SCAN_OK = 1,    /* a valid record at pos */
    TS_SCAN_END = 0,   /* pos == end */
    TS_SCAN_SHORT = 2, /* the frame at pos runs past end (torn write or truncation) */
    TS_SCAN_BAD = 3,   /* the frame at pos fails magic/length/CRC checks */
};

int ts__scan_init(struct ts__scan *s, const struct ts_vfs *vfs, int fd, int64_t end);
void ts__scan_free(struct ts__scan *s);
/* Examines the frame at pos. Returns a ts__scan_rc or an I/O error (< 0). */
int ts__scan_at(struct ts__scan *s, int64_t pos, struct ts__rec *out, const char **why);
/* Finds the first valid frame at a position > from whose offset is > min_offset. Returns
 * TS_SCAN_OK (out filled), TS_SCAN_END (none) or an I/O error. */
int ts__scan_resync(struct ts__scan *s, int64_t from, uint64_t min_offset, struct ts__rec *out);

/* ---------------------------------------------------------------- segments */

struct ts__idx_entry {
    uint32_t rel;
    uint32_t pos;
    int64_t ts;
};

/* A corrupt range found in a segment: records [offset, gap_end) at file position pos. */
struct ts__bad {
    int64_t pos;
    uint64_t offset;
    uint64_t gap_end;
    const char *why;          /* static reason */
};

#define TS_SEG_BAD_MAX 32

struct ts__seg {
    char *path;               /* <pdir>/<base>.log */
    uint64_t base;            /* first offset (from the name) */
    uint64_t next;            /* one past the last record */
    int64_t size;             /* log bytes (valid end) */
    int64_t first_ts;         /* -1 if empty */
    int64_t last_ts;          /* -1 if empty */
    int64_t created_ms;       /* store-clock time the segment got its first record */
    struct ts__idx_entry *idx;
    size_t n_idx;
    size_t cap_idx;
    int64_t last_idx_pos;     /* position of the last entry, -1 if none */
    int fd;                   /* -1 until first needed */
    int64_t cache_dropped;    /* drop-behind: bytes below this left the page cache (mu) */
    int refs;                 /* the partition's list holds one; readers take more */
    bool sealed;
    size_t n_bad;             /* reported corrupt ranges (deduplicates reports) */
    struct ts__bad bad[TS_SEG_BAD_MAX];
};

/* Result of scanning a segment file during recovery or a check. */
struct ts__seg_scan {
    uint64_t next;
    int64_t valid_end;        /* where the log ends (truncate here if below the file size) */
    int64_t first_ts;
    int64_t last_ts;
    uint64_t records;
    int64_t scanned;
    size_t n_bad;
    struct ts__bad bad[TS_SEG_BAD_MAX];
    uint64_t bad_total;
    const char *why;          /* reason for the first problem or the truncation */
    int64_t problem_pos;      /* first problem position, -1 if none */
};

/* Allocates a segment descriptor for base under pdir (refs = 1, fd = -1). */
struct ts__seg *ts__seg_new(const char *pdir, uint64_t base);
/* Drops a reference; the last one closes the fd and frees. Caller holds the partition lock. */
void ts__seg_unref(const struct ts_vfs *vfs, struct ts__seg *g);
/* Builds "<pdir>/<base>.<ext>" into out. */
void ts__seg_file(const char *pdir, uint64_t base, const char *ext, char *out, size_t n);
/* Adds an index entry if the record at pos is index_interval bytes past the last one. */
int ts__seg_index_add(struct ts__seg *g, uint64_t offset, int64_t pos, int64_t ts,
                      uint32_t interval);
/* Drops index entries at positions >= pos. */
void ts__seg_index_trim(struct ts__seg *g, int64_t pos);
/* Last index entry with offset <= off (or a synthetic one at pos 0). */
void ts__seg_index_find(const struct ts__seg *g, uint64_t off, uint64_t *e_off, int64_t *e_pos);
/* Last index entry with ts < ts_ms (or pos 0). */
void ts__seg_index_find_time(const struct ts__seg *g, int64_t ts_ms, uint64_t *e_off,
                             int64_t *e_pos);

/* Scans fd from 0 to file_size. With `tail` (the last segment of a partition), an invalid frame
 * that is not followed by a clean run of valid frames to the end of the file is a torn tail:
 * valid_end is set to the end of the last complete batch before it. Otherwise invalid frames
 * are recorded in bad[] and skipped. When g is not NULL its index, next, size and ts fields are
 * rebuilt. Returns 0 or an I/O error. */
int ts__seg_scan(const struct ts_vfs *vfs, int fd, uint64_t base, int64_t file_size, bool tail,
                 uint32_t index_interval, struct ts__seg *g, struct ts__seg_scan *res);

/* Writes g's index to <base>.idx atomically (tmp, fdatasync, rename, dir sync). The log must
 * already be durable up to g->size. Returns 0 or an I/O error. */
int ts__idx_write(const struct ts_vfs *vfs, const char *pdir, const struct ts__seg *g);
/* Loads <base>.idx into g if it is intact and covers exactly log_size bytes; on success g's
 * index/next/size/ts are set. Returns 0, TS_ENOENT, or TS_ECORRUPT (why set). */
int ts__idx_load(const struct ts_vfs *vfs, const char *pdir, struct ts__seg *g,
                 int64_t log_size, const char **why);

/* ---------------------------------------------------------------- names */

/* Encodes a partition name to a directory name (percent-encoding, hashed when long). */
int ts__name_encode(const char *name, char *out, size_t n);
/* Parses "<20 digits>.log" (or .idx when ext says so); returns 0 or TS_EINVAL. */
int ts__seg_parse_name(const char *fname, const char *ext, uint64_t *base);

/* Reads a whole small file (at most max bytes) into out. */
int ts__read_small(const struct ts_vfs *vfs, const char *path, struct ts_buf *out, size_t max);
/* Writes a small file durably: tmp + fdatasync + rename + fsync_dir(dir). */
int ts__write_small(const struct ts_vfs *vfs, const char *dir, const char *fname,
                    const void *p, size_t n);
/* Removes a directory and the files in it (one level). */
int ts__rm_dir(const struct ts_vfs *vfs, const char *dir);

/* ---------------------------------------------------------------- store and partitions */

#define TS_STORE_BUCKETS 4096

/* A group-commit sync in flight (in ts_partition.syncs, by ticket). */
struct ts__sync {
    struct ts__seg *g;        /* referenced until applied */
    uint64_t target;          /* written_next when it started: what it makes durable */
    int64_t target_pos;
    int64_t target_ts;
    uint64_t gen0;            /* gen when it started */
    int rc;
    bool done;
};

/* A group-commit waiter (store_partition.c, group_wait), on its own stack. It sleeps on its
 * own semaphore and is woken only when it can go on: its records are durable or were cut, the
 * partition closed, or it is the one picked to lead the next sync. Waking every waiter on
 * every sync (a condition-variable broadcast) woke ~2 threads per append for nothing, and each
 * then contended for mu. */
struct ts__gwaiter {
    struct ts__gwaiter *next;
    uint64_t gen;             /* the partition's gen when its records were written */
    uint64_t end;             /* durable once durable_next >= end */
    sem_t sem;
};

struct ts_partition {
    struct ts_store *store;
    char *name;
    char *dir;                /* <data>/partitions/<encoded name> */
    char *enc;                /* the encoded directory name */
    /* Lock order: write_mu before mu. write_mu serialises writers (append, roll, retention,
     * discarding unsynced bytes); it is held across pwrite and, under ALWAYS, fdatasync.
     * mu protects every field below and is held only briefly, so readers (who take only mu)
     * never wait for disk writes. */
    pthread_mutex_t write_mu;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* durable end advanced, a sync finished, or closing */
    struct ts__gwaiter *gwait; /* group-commit waiters asleep, each woken on its own */
    struct ts__seg **segs;    /* ascending base; the last one is active */
    size_t n_segs;
    size_t cap_segs;
    uint64_t written_next;    /* next offset to assign */
    int64_t written_pos;      /* bytes written to the active segment */
    int64_t written_ts;       /* append time of the last written record, -1 if none */
    uint64_t durable_next;    /* records below are durable and visible to readers */
    int64_t durable_pos;      /* ... and this many bytes of the active segment */
    int64_t durable_ts;
    uint64_t gen;             /* bumped when unsynced bytes are discarded after a failure */
    uint64_t discard_at[16];  /* durable_next when gen became g, at [g % 16] */
    int sync_err;             /* the failure that caused the last discard */
    bool discarding;          /* a discard is cutting the file: nothing may be published */
    int waiters;              /* threads inside ts_partition_wait / group waits */
    bool syncing;             /* an exclusive sync runs: the interval thread's or a roll's */
    /* Group commit (store.md, "Group commit"): up to sync_lanes leaders sync at once, each on
     * its own open file description. Their results are applied strictly in the order they
     * started (tickets sync_head .. sync_tail-1), so that a later sync's success is never
     * published past an earlier one's failure. */
    struct ts__sync syncs[TS_STORE_SYNC_LANES_MAX];
    uint64_t sync_head;       /* the oldest ticket not applied yet */
    uint64_t sync_tail;       /* the next ticket */
    uint64_t sync_hi;         /* the highest target of the syncs in flight */
    bool sync_failed;         /* an applied sync failed; its leader is about to discard */
    bool needs_reset;         /* bytes beyond written_pos must be cut before the next write */
    bool closed;              /* deleted or store closing */
    struct ts_buf stage;      /* the batch being framed (under write_mu) */
    struct ts__seg *sealed_tail; /* sealed by the last roll and still partly inside the
                                    drop-behind window (referenced), or NULL */
    struct ts_partition *hnext;
};

struct ts_store {
    char *dir;
    char *pdir;               /* <dir>/partitions */
    struct ts_store_opts opts;
    const struct ts_vfs *vfs;
    const struct ts_clock *clock;
    int lock_fd;
    pthread_mutex_t mu;       /* registry, graveyard, sync thread control */
    pthread_cond_t sync_cond;
    struct ts_partition *buckets[TS_STORE_BUCKETS];
    size_t n_parts;
    uint64_t parts_version;      /* bumped by every partition insert and removal (mu) */
    struct ts_partition **grave; /* deleted partitions, freed at close */
    size_t n_grave;
    size_t cap_grave;
    pthread_t sync_thread;
    bool sync_running;
    bool stopping;
    struct ts_store_recovery rec;
};

/* Emits an event to the store's callback. */
void ts__store_event(struct ts_store *s, const struct ts_store_event *ev);
/* Loads (recovering) the partition in directory `enc` under s->pdir. name may be NULL to read
 * it from the NAME file. Returns 0 with *out, TS_ENOENT (no NAME file), or an error. */
int ts__partition_load(struct ts_store *s, const char *enc, const char *name,
                       struct ts_partition **out);
/* Creates the partition directory durably, then loads it. */
int ts__partition_create(struct ts_store *s, const char *name, struct ts_partition **out);
/* Syncs the partition if it has unsynced records (INTERVAL). Returns 0 or the sync error. */
int ts__partition_sync(struct ts_partition *p);
/* The partition's state changed (mu held): wakes readers and every group-commit waiter that
 * can now go on (ts_partition_wait, group_wait). Every change a waiter may be waiting for
 * calls it. */
void ts__partition_changed(struct ts_partition *p);
/* Marks closed (deleted when `deleted`), wakes everyone, waits for waiters to leave. */
void ts__partition_shut(struct ts_partition *p);
/* Syncs, writes the active index (clean-shutdown hint) and frees. */
void ts__partition_free(struct ts_partition *p, bool flush);

#endif
