/*
 * ts_store.h - the durable store: a crash-proof, append-only segment log organised in named
 * partitions (log streams, Kinesis shards, delivery queues), plus the SQLite metadata store for
 * control-plane entities, the file-I/O seam (ts_vfs) the store runs on, a fault-injecting VFS
 * for tests, and the offline checker behind `trailstream store-check`.
 *
 * On-disk layout, durability policies and their loss window, recovery and the metadata schema
 * are documented in docs/store.md.
 *
 * Error contract: every function returns 0 or a negative TS_E* / -errno code. The store never
 * logs; events worth logging (truncated tails, corrupt records, rebuilt indexes, I/O errors) are
 * handed to the `on_event` callback of struct ts_store_opts and counted in /metrics.
 */
#ifndef TS_STORE_H
#define TS_STORE_H

#include "trailstream/ts_core.h"

#include <stdio.h>

/* ---------------------------------------------------------------- file-I/O seam */

/* Called once per directory entry (not "." or ".."); a non-zero return stops the listing and
 * is returned by list(). */
typedef int (*ts_vfs_list_fn)(void *arg, const char *name);

/* Every file operation of the store goes through one of these, so tests can fail the Nth write
 * or fsync and simulate power loss. All return 0 (or a byte count / fd) on success and -errno
 * on failure; they never set errno for the caller. Implementations must be thread-safe. */
struct ts_vfs {
    void *ctx;
    int (*open)(void *ctx, const char *path, int flags, int mode); /* fd >= 0 or -errno */
    int (*close)(void *ctx, int fd);
    /* Full-length reads/writes: a short count only at end of file (pread) or never (pwrite). */
    int64_t (*pread)(void *ctx, int fd, void *buf, size_t n, int64_t off);
    int64_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, int64_t off);
    int (*fdatasync)(void *ctx, int fd);
    int (*ftruncate)(void *ctx, int fd, int64_t len);
    int64_t (*size)(void *ctx, int fd);
    int (*fsync_dir)(void *ctx, const char *path); /* makes entries in `path` durable */
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path, int mode); /* -EEXIST if it exists */
    int (*rmdir)(void *ctx, const char *path);
    int (*list)(void *ctx, const char *dir, ts_vfs_list_fn fn, void *arg);
    /* A hint: the caller will not need [off, off+len) of this file soon, and those bytes are
     * durable; the OS may drop them from its cache. Changes no data. NULL if not supported. */
    int (*drop_cache)(void *ctx, int fd, int64_t off, int64_t len);
};

/* The real POSIX implementation (pread/pwrite/fdatasync...). */
extern const struct ts_vfs ts_vfs_posix;

/* ---- fault-injecting VFS (tests and benchmarks only; in the ts_store_faultvfs library) ----
 * Wraps another VFS (usually ts_vfs_posix), remembers every byte written since the last
 * fdatasync of each file and which created files have not had their directory synced, and can
 * then "lose power" the way sqlite's test6.c does. */
struct ts_vfs_fault;

enum ts_vfs_crash_mode {
    TS_VFS_CRASH_DROP,   /* every unsynced write is lost, unsynced new files vanish */
    TS_VFS_CRASH_TORN,   /* a random prefix of each file's unsynced bytes survives */
    TS_VFS_CRASH_GARBLE, /* random length; each unsynced 512-byte sector kept, zeroed or garbage */
};

/* Creates a fault VFS over `base` with a deterministic random `seed`. Returns 0 or TS_ENOMEM.
 * The caller owns *out and frees it with ts_vfs_fault_destroy after every store using it is
 * closed. */
int ts_vfs_fault_create(const struct ts_vfs *base, uint64_t seed, struct ts_vfs_fault **out);
void ts_vfs_fault_destroy(struct ts_vfs_fault *f);
/* The VFS to put in struct ts_store_opts; valid until ts_vfs_fault_destroy. */
const struct ts_vfs *ts_vfs_fault_vfs(struct ts_vfs_fault *f);
/* Makes write-class operation number `nth` from now (pwrite, ftruncate, create, mkdir, rename;
 * 1-based) fail with `err` (e.g. TS_ENOSPC, TS_EIO); with `sticky` every later one fails too
 * (a full disk) until ts_vfs_fault_clear. A failing pwrite first writes a prefix of its data,
 * like a real short write on a full disk. nth <= 0 disarms. Any thread. */
void ts_vfs_fault_fail_write(struct ts_vfs_fault *f, long nth, int err, bool sticky);
/* The same for fdatasync and fsync_dir. */
void ts_vfs_fault_fail_sync(struct ts_vfs_fault *f, long nth, int err, bool sticky);
/* Disarms all failures ("space is back"). */
void ts_vfs_fault_clear(struct ts_vfs_fault *f);
/* Counters since creation: write-class operations, syncs, and injected failures that fired. */
long ts_vfs_fault_writes(struct ts_vfs_fault *f);
long ts_vfs_fault_syncs(struct ts_vfs_fault *f);
long ts_vfs_fault_failures(struct ts_vfs_fault *f);
/* drop_cache hints that covered bytes not yet durable (a store bug; should stay 0). */
long ts_vfs_fault_bad_hints(struct ts_vfs_fault *f);
/* Simulates a power loss now: applies `mode` to every file with unsynced data, then freezes the
 * VFS so that every later mutating call fails with TS_EIO (the "dead" process can still be
 * closed). Reopen the store with another VFS afterwards. Returns 0 or an I/O error. */
int ts_vfs_fault_power_loss(struct ts_vfs_fault *f, enum ts_vfs_crash_mode mode);

/* ---------------------------------------------------------------- segment log */

/* Limits. A batch is written with one pwrite and never spans segments. */
#define TS_STORE_RECORD_MAX (16u * 1024 * 1024)   /* payload bytes of one record */
#define TS_STORE_BATCH_MAX (64u * 1024 * 1024)    /* framed bytes of one appended batch */
#define TS_STORE_RECORD_OVERHEAD 32u              /* frame header bytes per record */
#define TS_STORE_NAME_MAX 1024                    /* bytes of a partition name */
#define TS_STORE_SYNC_LANES_MAX 8                 /* concurrent group-commit syncs */

struct ts_store;
struct ts_partition;

enum ts_fsync_policy {
    TS_FSYNC_GROUP = 0, /* default: concurrent appends share one fdatasync; each append
                           returns only after a sync that covers it */
    TS_FSYNC_ALWAYS,    /* every append does its own fdatasync before returning */
    TS_FSYNC_INTERVAL,  /* appends return after write(); a background thread syncs every
                           interval_ms: up to that window of acknowledged records can be lost
                           on power loss (never on a process crash) */
};

enum ts_store_event_kind {
    TS_STORE_EV_TRUNCATED,     /* recovery cut a torn/half-written tail: bytes at file_pos */
    TS_STORE_EV_CORRUPT,       /* a record failed its checks: offsets [offset, gap_end) skipped */
    TS_STORE_EV_INDEX_REBUILT, /* an index file was missing or invalid and was rebuilt */
    TS_STORE_EV_IO_ERROR,      /* a write or sync failed with err */
    TS_STORE_EV_REMOVED,       /* a half-created or half-deleted partition directory removed */
};

/* Describes one event; the strings are valid only during the callback. */
struct ts_store_event {
    enum ts_store_event_kind kind;
    const char *partition; /* partition name, or NULL */
    const char *path;      /* file concerned */
    int64_t file_pos;      /* byte position in path, -1 if none */
    uint64_t offset;       /* first record offset concerned */
    uint64_t gap_end;      /* CORRUPT: first offset after the skipped range */
    int64_t bytes;         /* TRUNCATED: bytes cut */
    int err;               /* IO_ERROR: the error */
    const char *what;      /* short reason ("bad crc", "torn tail", ...) */
};

/* Event callback: called from the thread that noticed (store open, a reader, a writer, the
 * interval sync thread), possibly concurrently; must not call back into the store. */
typedef void (*ts_store_event_fn)(void *ctx, const struct ts_store_event *ev);
/* Append hook: called after records of `p` up to `end_offset` (exclusive) became durable and
 * visible to readers, from the thread that made them so (an appender, a group-commit leader or
 * the interval sync thread), without the partition's reader lock held; the partition's writer
 * lock may be held. Must be cheap (wake a dispatcher); may read from the store, must not append
 * to `p`. */
typedef void (*ts_store_append_fn)(void *ctx, struct ts_partition *p, uint64_t end_offset);

/* Options for ts_store_open. All-zero means the defaults given in brackets. */
struct ts_store_opts {
    enum ts_fsync_policy fsync;     /* [TS_FSYNC_GROUP] */
    int interval_ms;                /* INTERVAL sync period [1000] */
    uint64_t segment_max_bytes;     /* roll when a segment would exceed this [128 MiB]; the
                                       maximum is 1 GiB */
    int64_t segment_max_age_ms;     /* roll a non-empty segment this old [7 days] */
    uint32_t index_interval_bytes;  /* one sparse index entry per this many log bytes [4096] */
    uint64_t cache_keep_bytes;      /* drop-behind: after each sync, a partition's durable bytes
                                       more than this far behind its end leave the OS page
                                       cache [64 MiB]; at least segment_max_bytes = never */
    int sync_lanes;                 /* GROUP: fdatasyncs of one partition that may run at
                                       once, each covering what was written before it started
                                       [2]; 1 = one at a time; at most TS_STORE_SYNC_LANES_MAX */
    const struct ts_clock *clock;   /* append times, segment age, retention [real clock] */
    const struct ts_vfs *vfs;       /* [ts_vfs_posix] */
    ts_store_event_fn on_event;     /* recovery/corruption/I-O events [none] */
    void *event_ctx;
    ts_store_append_fn on_append;   /* new durable records [none] */
    void *append_ctx;
};

/* What recovery found when the store was opened. */
struct ts_store_recovery {
    uint64_t partitions;
    uint64_t segments;
    uint64_t bytes;              /* log bytes under management */
    uint64_t scanned_bytes;      /* bytes read and CRC-checked by recovery */
    uint64_t truncated_bytes;    /* torn tails cut */
    uint64_t corrupt_records;    /* corrupt ranges found (each skipped with a gap) */
    uint64_t indexes_rebuilt;
    uint64_t removed_dirs;
    int64_t elapsed_ms;
};

/* A record to append: borrowed bytes. */
struct ts_record_in {
    const void *data;
    size_t len;
};

/* A record (or gap) returned by ts_partition_read. */
struct ts_record {
    uint64_t offset;       /* the record's offset; for a gap the first missing offset */
    uint64_t gap_end;      /* gaps only: first offset after the gap; 0 for records */
    int64_t ts_ms;         /* append time */
    const uint8_t *data;   /* points into the caller's read buffer; NULL for gaps */
    uint32_t len;
    bool gap;              /* true: offsets [offset, gap_end) were corrupt or lost and are
                              skipped; never returned as data */
};

struct ts_partition_stats {
    uint64_t start_offset;    /* first retained offset */
    uint64_t end_offset;      /* one past the last durable (visible) record */
    uint64_t written_offset;  /* one past the last written record (may be unsynced) */
    uint64_t bytes;           /* log bytes on disk */
    uint64_t segments;
    int64_t first_ts_ms;      /* append time of the first retained record, -1 if empty */
    int64_t last_ts_ms;       /* append time of the last record, -1 if empty */
};

/* Opens (creating if needed) the store in `dir`, takes an exclusive lock on it, recovers every
 * partition (torn tails truncated, indexes rebuilt, corruption reported through opts->on_event)
 * and, under TS_FSYNC_INTERVAL, starts the sync thread. `opts` may be NULL (defaults); it is
 * copied. Returns 0 and the store in *out, TS_EAGAIN if another process holds the directory,
 * TS_EINVAL for bad options or an unknown format, or an I/O error. Call from one thread. */
int ts_store_open(const char *dir, const struct ts_store_opts *opts, struct ts_store **out);
/* Syncs everything, writes the index of every active segment (so the next open scans nothing),
 * stops the sync thread and frees the store and every partition handle. Readers blocked in
 * ts_partition_wait return TS_ECLOSED; no other call may be running or follow. NULL-safe. */
void ts_store_close(struct ts_store *s);
/* Copies what recovery found at open. Any thread. */
void ts_store_recovery_stats(const struct ts_store *s, struct ts_store_recovery *out);
/* The data directory. */
const char *ts_store_dir(const struct ts_store *s);

/* Finds the partition named `name` (1..TS_STORE_NAME_MAX bytes, any bytes but NUL), creating
 * it durably when `create` is true. The handle stays owned by the store and valid until
 * ts_store_close, even after ts_store_partition_delete (then every call on it fails with
 * TS_ECLOSED). Returns 0, TS_ENOTFOUND (absent and !create), TS_EINVAL, or an I/O error.
 * Any thread. */
int ts_store_partition(struct ts_store *s, const char *name, bool create,
                       struct ts_partition **out);
/* Deletes a partition and all its records durably. Waits for the current writer; readers
 * holding segments keep reading their snapshot. Returns 0, TS_ENOTFOUND or an I/O error. */
int ts_store_partition_delete(struct ts_store *s, const char *name);
/* Calls fn(arg, name) for every partition whose name starts with `prefix` (NULL or "" = all),
 * in byte order of the names, without any store lock held; a non-zero return stops the
 * listing and is returned. */
typedef int (*ts_store_list_fn)(void *arg, const char *name);
int ts_store_list(struct ts_store *s, const char *prefix, ts_store_list_fn fn, void *arg);
/* The same names as a sorted array: *names (owned by the caller, freed with
 * ts_store_names_free) holds *n copies. Returns 0 or TS_ENOMEM (nothing to free then). */
int ts_store_names(struct ts_store *s, const char *prefix, char ***names, size_t *n);
void ts_store_names_free(char **names, size_t n);
/* A number that changes whenever a partition is created or deleted: a caller that keeps a
 * listing refreshes it only when this differs from the value it listed at. */
uint64_t ts_store_partitions_version(struct ts_store *s);
/* Under TS_FSYNC_INTERVAL, syncs every partition now (as the sync thread would) and returns
 * the first error; under the other policies a no-op returning 0. Any thread. */
int ts_store_sync(struct ts_store *s);

/* The partition's name (owned by the store). */
const char *ts_partition_name(const struct ts_partition *p);

/* Appends a batch of n (>= 1) records atomically: all or none, even across a crash. Their
 * offsets are consecutive from *first_offset. `ts_ms` is the append time (0 = the store clock);
 * append times are clamped to be non-decreasing within a partition. Returns only when the batch
 * is durable under the store's policy (INTERVAL: when written; see docs/store.md). Returns 0,
 * TS_EINVAL (n == 0, a record over TS_STORE_RECORD_MAX, a batch over TS_STORE_BATCH_MAX),
 * TS_ECLOSED (deleted), or the I/O error (TS_ENOSPC, TS_EIO, ...) with nothing of the batch
 * ever becoming visible. After an I/O error the next append retries normally. Any thread;
 * appenders to one partition are serialised, readers are never blocked. */
int ts_partition_append(struct ts_partition *p, const struct ts_record_in *recs, size_t n,
                        int64_t ts_ms, uint64_t *first_offset);

/* A record of a framed batch. */
struct ts_frame_in {
    uint32_t len; /* data bytes after the record's TS_STORE_RECORD_OVERHEAD header bytes */
    uint32_t crc; /* ts_crc32c(0, data, len) */
};
/* ts_partition_append of a batch the caller has laid out as the log stores it: n records back
 * to back in buf, each TS_STORE_RECORD_OVERHEAD bytes that the store fills in with the header,
 * then its len data bytes. With the data's CRCs taken while the caller produced it, the store
 * writes buf as is: no copy of the data and no pass over it (ts_partition_append makes both).
 * buf is modified (the headers) and may be freed on return. Debug builds check every crc;
 * a wrong one is TS_EINVAL. Same contract otherwise. */
int ts_partition_append_framed(struct ts_partition *p, uint8_t *buf, const struct ts_frame_in *recs,
                               size_t n, int64_t ts_ms, uint64_t *first_offset);

/* Reads durable records from offset `from` into the caller's buffer: payload bytes and their
 * frame headers are copied into buf (so buf_len bounds the bytes read; a record needs
 * len + TS_STORE_RECORD_OVERHEAD bytes) and up to max_recs entries are written to recs, in
 * offset order. A corrupt or lost range is returned as one entry with gap = true (counted in
 * max_recs), never as data. *n_out is the number of entries, *next_out the offset to read from
 * next (== from only when nothing is available yet). Returns 0, TS_ERANGE when from is below
 * the start or beyond the end offset, TS_ETOOBIG when the first record does not fit in buf,
 * TS_ECLOSED, or an I/O error. Any thread, concurrently with the writer and other readers. */
int ts_partition_read(struct ts_partition *p, uint64_t from, void *buf, size_t buf_len,
                      struct ts_record *recs, size_t max_recs, size_t *n_out,
                      uint64_t *next_out);

/* Waits until record `offset` is durable and readable (end offset > offset), at most
 * timeout_ms (< 0 = forever). Returns 0, TS_ETIMEDOUT, or TS_ECLOSED (store closing or
 * partition deleted). Any thread; this is how real-time readers avoid polling loops. */
int ts_partition_wait(struct ts_partition *p, uint64_t offset, int timeout_ms);

/* Sets *offset to the first durable record whose append time is >= ts_ms, or to the end offset
 * if there is none. Returns 0, TS_ECLOSED or an I/O error. Any thread. */
int ts_partition_find_time(struct ts_partition *p, int64_t ts_ms, uint64_t *offset);

/* One past the last durable (readable) record, and the first retained offset. Any thread. */
uint64_t ts_partition_end_offset(struct ts_partition *p);
uint64_t ts_partition_start_offset(struct ts_partition *p);
void ts_partition_stats(struct ts_partition *p, struct ts_partition_stats *out);

/* Retention: deletes whole segments whose records are all older than max_age_ms (relative to
 * the store clock; <= 0 disables) and then the oldest segments while the partition is larger
 * than max_bytes (0 disables). The active segment is rolled first when all of it expired, so
 * an idle partition empties. Records are removed only in whole segments, so up to one segment
 * of older data may remain. *removed (may be NULL) gets the number of records removed.
 * Returns 0, TS_ECLOSED or an I/O error. Any thread. */
int ts_partition_retain(struct ts_partition *p, int64_t max_age_ms, uint64_t max_bytes,
                        uint64_t *removed);

/* ---------------------------------------------------------------- metadata store */

/* Control-plane entities as JSON documents keyed by (kind, account, key), in SQLite (WAL mode,
 * synchronous=FULL: a returned put is durable) at <dir>/meta.db. Kinds are fixed tables. */
struct ts_meta;

#define TS_META_SCHEMA_VERSION 2

/* Kinds (table names): "account", "log_group", "log_stream", "subscription_filter",
 * "destination", "kinesis_stream", "event_source_mapping", "checkpoint", "trail". */

/* Opens or creates the database at `path`, migrating it to TS_META_SCHEMA_VERSION in one
 * transaction per step. Returns 0, TS_EINVAL if the file has a newer schema than this build
 * knows, or TS_EIO. The handle is thread-safe. */
int ts_meta_open(const char *path, struct ts_meta **out);
void ts_meta_close(struct ts_meta *m);
/* The schema version of the open database. */
int ts_meta_schema_version(struct ts_meta *m);
/* Inserts or replaces a document. `json` must be a JSON value (stored as the attrs column).
 * Returns 0, TS_EINVAL (unknown kind), or TS_EIO. */
int ts_meta_put(struct ts_meta *m, const char *kind, const char *account, const char *key,
                const char *json);
/* Inserts only if absent: 0, or TS_EEXIST. */
int ts_meta_create(struct ts_meta *m, const char *kind, const char *account, const char *key,
                   const char *json);
/* Appends the document to out (capped). Returns 0, TS_ENOTFOUND, TS_EINVAL, buffer errors. */
int ts_meta_get(struct ts_meta *m, const char *kind, const char *account, const char *key,
                struct ts_buf *out);
/* Returns 0 or TS_ENOTFOUND. */
int ts_meta_delete(struct ts_meta *m, const char *kind, const char *account, const char *key);
/* Calls fn for each document of `kind` in `account` whose key starts with key_prefix (NULL =
 * all), in key order; a non-zero return stops and is returned. Do not call ts_meta from fn
 * other than on this thread (the connection is held; calls from fn are allowed). */
typedef int (*ts_meta_list_fn)(void *arg, const char *account, const char *key,
                               const char *json);
int ts_meta_list(struct ts_meta *m, const char *kind, const char *account,
                 const char *key_prefix, ts_meta_list_fn fn, void *arg);
/* Runs fn inside one transaction (BEGIN IMMEDIATE): committed if fn returns 0, rolled back
 * otherwise (and fn's code returned). Other threads' calls wait until it ends; fn may call any
 * ts_meta function on this handle. */
typedef int (*ts_meta_txn_fn)(struct ts_meta *m, void *arg);
int ts_meta_txn(struct ts_meta *m, ts_meta_txn_fn fn, void *arg);

/* ---------------------------------------------------------------- offline check */

struct ts_store_check_result {
    uint64_t partitions;
    uint64_t segments;
    uint64_t records;
    uint64_t bytes;
    uint64_t damaged;   /* damaged files/ranges found (0 = clean) */
    uint64_t warnings;  /* stale or missing indexes (rebuilt at next open), not damage */
};

/* Verifies every segment, index and name file under `dir` (and meta.db's integrity) without
 * modifying anything, printing a summary per partition and segment and one "DAMAGE <file> byte
 * <pos>: <reason>" line per problem to out. Returns 0 (see res->damaged) or an error if the
 * directory cannot be read. Do not run it on a store open in another process for writing. */
int ts_store_check(const char *dir, FILE *out, struct ts_store_check_result *res);

/* `trailstream store-check DIR`: argv[0] "store-check", argv[1] the data dir. Prints to
 * stdout; returns the exit code: 0 clean, 1 damage found, 2 usage error (or unreadable dir). */
int ts_cmd_store_check(int argc, char **argv);

#endif
