/* test_store_faults.c - the store on the fault-injecting VFS: ENOSPC/EIO at every write and
 * sync of the append path, failed syncs under concurrency, and simulated power loss (unsynced
 * bytes dropped, torn or garbled) under each fsync policy. */
#include "store_test_util.h"
#include "ts_test.h"

#include <pthread.h>
#include <time.h>

#define MAXLEN 700

static char dir[512];

/* seq layout: thread << 40 | batch << 8 | idx << 4 | n, so batches can be checked whole. */
static uint64_t mkseq(uint64_t tid, uint64_t batch, uint64_t idx, uint64_t n)
{
    return tid << 40 | batch << 8 | idx << 4 | n;
}

struct ack {
    uint64_t first;
    uint64_t seq0; /* seq of record 0 of the batch */
    uint32_t n;
};

/* Appends one batch of n records for (tid, batch). Returns the append's code. */
static int append_batch(struct ts_partition *p, uint64_t tid, uint64_t batch, uint32_t n,
                        uint64_t *first)
{
    uint8_t bufs[8][MAXLEN];
    struct ts_record_in in[8];
    for (uint32_t i = 0; i < n; i++) {
        in[i].data = bufs[i];
        in[i].len = tu_payload(mkseq(tid, batch, i, n), MAXLEN, bufs[i]);
    }
    return ts_partition_append(p, in, n, 0, first);
}

/* Reads the whole partition and checks: every record verifies, batches are whole, no gap
 * before `must_end`, and every acked batch is at its offsets. Returns records seen. */
static uint64_t verify(struct ts_partition *p, const struct ack *acks, size_t n_acks,
                       uint64_t must_end, int *gaps)
{
    static uint8_t buf[128 * 1024];
    struct ts_record r[64];
    uint64_t cur = ts_partition_start_offset(p), seen = 0;
    static uint64_t seqs[1 << 16];
    uint32_t batch_left = 0;
    uint64_t batch_seq0 = 0;
    *gaps = 0;
    memset(seqs, 0xff, sizeof(seqs));
    for (;;) {
        size_t n;
        uint64_t next;
        int rc = ts_partition_read(p, cur, buf, sizeof(buf), r, 64, &n, &next);
        TEST_CHECK_(rc == 0, "read at %llu: %s", (unsigned long long)cur, ts_strerror(rc));
        if (rc || n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (r[i].gap) {
                (*gaps)++;
                TEST_CHECK_(r[i].offset >= must_end, "gap at %llu before acked end %llu",
                            (unsigned long long)r[i].offset, (unsigned long long)must_end);
                batch_left = 0;
                continue;
            }
            uint64_t seq = tu_check(r[i].data, r[i].len, MAXLEN);
            TEST_CHECK_(seq != UINT64_MAX, "corrupt record served at offset %llu",
                        (unsigned long long)r[i].offset);
            uint64_t idx = seq >> 4 & 15, bn = seq & 15;
            if (batch_left == 0) {
                TEST_CHECK_(idx == 0, "batch starts mid-way at %llu", (unsigned long long)r[i].offset);
                batch_left = (uint32_t)bn;
                batch_seq0 = seq & ~(uint64_t)0xf0;
            } else {
                TEST_CHECK((seq & ~(uint64_t)0xf0) == batch_seq0);
            }
            batch_left--;
            if (r[i].offset < TS_ARRAY_LEN(seqs)) {
                seqs[r[i].offset] = seq;
            }
            seen++;
        }
        cur = next;
    }
    TEST_CHECK_(batch_left == 0, "partition ends inside a batch");
    for (size_t a = 0; a < n_acks; a++) {
        for (uint32_t i = 0; i < acks[a].n; i++) {
            uint64_t off = acks[a].first + i;
            uint64_t want = (acks[a].seq0 & ~(uint64_t)0xf0) | (uint64_t)i << 4;
            TEST_CHECK_(off < TS_ARRAY_LEN(seqs) && seqs[off] == want,
                        "acked offset %llu lost or wrong", (unsigned long long)off);
        }
    }
    return seen;
}

static struct ts_store *open_with(const struct ts_vfs *vfs, enum ts_fsync_policy pol,
                                  struct tu_events *ev)
{
    struct ts_store_opts o = {0};
    o.fsync = pol;
    o.vfs = vfs;
    o.segment_max_bytes = 4096;
    o.interval_ms = 10;
    o.index_interval_bytes = 512;
    o.cache_keep_bytes = 512; /* drop-behind on nearly every sync: its hints are checked */
    if (ev) {
        o.on_event = tu_on_event;
        o.event_ctx = ev;
    }
    struct ts_store *s = NULL;
    int rc = ts_store_open(dir, &o, &s);
    TEST_CHECK_(rc == 0, "open: %s", ts_strerror(rc));
    return s;
}

/* Runs the deterministic append script with failure number `nth` armed on writes (sync=false)
 * or syncs. Returns false when the failure never fired (every path covered). */
static bool one_fault_run(enum ts_fsync_policy pol, bool sync, long nth, int err, bool sticky,
                          int crash_mode)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "fault") == 0);
    struct ts_vfs_fault *f;
    TEST_CHECK(ts_vfs_fault_create(&ts_vfs_posix, (uint64_t)nth * 7919 + 1, &f) == 0);
    struct ts_store *s = open_with(ts_vfs_fault_vfs(f), pol, NULL);
    struct ts_partition *p = NULL;
    TEST_CHECK(s && ts_store_partition(s, "fault/p", true, &p) == 0);
    struct ack acks[200];
    size_t n_acks = 0;
    uint64_t acked_end = 0;
    for (int b = 0; b < 6; b++) {
        uint64_t first;
        TEST_CHECK(append_batch(p, 1, (uint64_t)b, 3, &first) == 0);
        acks[n_acks++] = (struct ack){first, mkseq(1, (uint64_t)b, 0, 3), 3};
        acked_end = first + 3;
    }
    if (pol == TS_FSYNC_INTERVAL) {
        TEST_CHECK(ts_store_sync(s) == 0);
    }
    if (sync) {
        ts_vfs_fault_fail_sync(f, nth, err, sticky);
    } else {
        ts_vfs_fault_fail_write(f, nth, err, sticky);
    }
    int failures = 0;
    /* 30 batches of ~1.3 KB: several rolls (segment and index files), each path hit. */
    for (int b = 6; b < 36; b++) {
        uint64_t first = 0;
        uint32_t n = (uint32_t)(1 + b % 4);
        int rc = append_batch(p, 1, (uint64_t)b, n, &first);
        if (rc == 0) {
            TEST_CHECK_(first == acked_end, "offset %llu after failure, want %llu",
                        (unsigned long long)first, (unsigned long long)acked_end);
            acks[n_acks++] = (struct ack){first, mkseq(1, (uint64_t)b, 0, n), n};
            acked_end = first + n;
        } else {
            failures++;
            TEST_CHECK_(rc == err, "append failed with %s, injected %s", ts_strerror(rc),
                        ts_strerror(err));
            /* State intact: the end did not move, acked records are all readable. */
            TEST_CHECK(ts_partition_end_offset(p) == acked_end);
            if (sticky && failures == 2) {
                ts_vfs_fault_clear(f); /* space is back: no restart needed */
            }
        }
        if (pol == TS_FSYNC_INTERVAL && rc == 0) {
            ts_store_sync(s);
        }
    }
    ts_vfs_fault_clear(f);
    if (pol == TS_FSYNC_INTERVAL) {
        TEST_CHECK(ts_store_sync(s) == 0);
    }
    int gaps;
    TEST_CHECK(verify(p, acks, n_acks, acked_end, &gaps) == acked_end && gaps == 0);
    bool fired = ts_vfs_fault_failures(f) > 0;
    if (crash_mode >= 0) {
        TEST_CHECK(ts_vfs_fault_power_loss(f, (enum ts_vfs_crash_mode)crash_mode) == 0);
    }
    ts_store_close(s);
    TEST_CHECK_(ts_vfs_fault_bad_hints(f) == 0, "%ld cache drops over bytes not durable",
                ts_vfs_fault_bad_hints(f));
    ts_vfs_fault_destroy(f);
    /* Restart on the real file system: everything acknowledged is there. */
    struct tu_events ev = {0};
    s = open_with(&ts_vfs_posix, TS_FSYNC_GROUP, &ev);
    TEST_CHECK(s && ts_store_partition(s, "fault/p", false, &p) == 0);
    if (p) {
        TEST_CHECK(verify(p, acks, n_acks, acked_end, &gaps) >= acked_end);
        TEST_CHECK(gaps == 0 && ts_partition_end_offset(p) >= acked_end);
    }
    ts_store_close(s);
    struct ts_store_check_result cr;
    FILE *devnull = fopen("/dev/null", "w");
    TEST_CHECK(ts_store_check(dir, devnull, &cr) == 0 && cr.damaged == 0);
    fclose(devnull);
    tu_rmrf(dir);
    return fired;
}

static void fault_sweep(enum ts_fsync_policy pol, bool sync, int err, bool sticky)
{
    long nth = 1;
    int before = ts_test_failures;
    for (; nth < 400; nth++) {
        if (!one_fault_run(pol, sync, nth, err, sticky, (int)(nth % 3))) {
            break;
        }
        if (ts_test_failures != before) {
            TEST_MSG("policy %d sync %d nth %ld", pol, sync, nth);
            return;
        }
    }
    TEST_CHECK_(nth > 5 && nth < 400, "covered %ld fault points", nth);
    fprintf(stderr, "    policy %d, %s %s%s: every one of %ld fault points covered\n", pol,
            sync ? "sync" : "write", ts_strerror(err), sticky ? " (sticky)" : "", nth - 1);
}

static void test_enospc_every_write(void)
{
    fault_sweep(TS_FSYNC_GROUP, false, TS_ENOSPC, true);
    fault_sweep(TS_FSYNC_ALWAYS, false, TS_ENOSPC, true);
    fault_sweep(TS_FSYNC_INTERVAL, false, TS_ENOSPC, true);
}

static void test_eio_every_write(void)
{
    fault_sweep(TS_FSYNC_GROUP, false, TS_EIO, false);
    fault_sweep(TS_FSYNC_ALWAYS, false, TS_EIO, false);
}

static void test_sync_failure_every_sync(void)
{
    fault_sweep(TS_FSYNC_GROUP, true, TS_EIO, false);
    fault_sweep(TS_FSYNC_ALWAYS, true, TS_ENOSPC, true);
    fault_sweep(TS_FSYNC_GROUP, true, TS_ENOSPC, true);
}

/* ---------------------------------------------------------------- concurrent power loss */

#define PL_THREADS 4
#define PL_MAX_ACKS 4096

struct pl_shared {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct ack acks[PL_MAX_ACKS];
    size_t n_acks;
    struct ack failed[PL_MAX_ACKS];
    size_t n_failed;
    bool stop;
    bool cut; /* the power is going: failures from now on are the crash, not injected */
    struct ts_partition *p;
};

struct pl_thread {
    struct pl_shared *sh;
    uint64_t tid;
};

static void *pl_writer(void *arg)
{
    struct pl_thread *t = arg;
    struct pl_shared *sh = t->sh;
    for (uint64_t b = 0; b < (1u << 20); b++) {
        pthread_mutex_lock(&sh->mu);
        bool stop = sh->stop || sh->n_acks >= PL_MAX_ACKS || sh->n_failed >= PL_MAX_ACKS;
        pthread_mutex_unlock(&sh->mu);
        if (stop) {
            break;
        }
        uint32_t n = (uint32_t)(1 + (tu_mix(t->tid * 977 + b) % 6));
        uint64_t first = 0;
        int rc = append_batch(sh->p, t->tid, b, n, &first);
        pthread_mutex_lock(&sh->mu);
        if (rc == 0) {
            sh->acks[sh->n_acks++] = (struct ack){first, mkseq(t->tid, b, 0, n), n};
        } else if (!sh->cut) {
            sh->failed[sh->n_failed++] = (struct ack){0, mkseq(t->tid, b, 0, n), n};
        }
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->mu);
    }
    return NULL;
}

static int cmp_ack(const void *a, const void *b)
{
    const struct ack *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* One power-loss round: writers run until `target` acks, the power goes, the store restarts. */
static void power_loss_round(enum ts_fsync_policy pol, enum ts_vfs_crash_mode mode,
                             uint64_t seed, size_t target, bool inject_sync_errors)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "power") == 0);
    struct ts_vfs_fault *f;
    TEST_CHECK(ts_vfs_fault_create(&ts_vfs_posix, seed, &f) == 0);
    struct ts_store *s = open_with(ts_vfs_fault_vfs(f), pol, NULL);
    static struct pl_shared sh;
    memset(&sh, 0, sizeof(sh));
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cond, NULL);
    TEST_CHECK(s && ts_store_partition(s, "power/p", true, &sh.p) == 0);
    struct pl_thread th[PL_THREADS];
    pthread_t t[PL_THREADS];
    for (int i = 0; i < PL_THREADS; i++) {
        th[i] = (struct pl_thread){&sh, (uint64_t)i + 1};
        pthread_create(&t[i], NULL, pl_writer, &th[i]);
    }
    pthread_mutex_lock(&sh.mu);
    size_t next_fault = target / 3;
    while (sh.n_acks < target && sh.n_acks < PL_MAX_ACKS) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 30;
        if (pthread_cond_timedwait(&sh.cond, &sh.mu, &dl) != 0) {
            break; /* bounded: a stuck writer fails the checks below */
        }
        if (inject_sync_errors && sh.n_acks >= next_fault) {
            ts_vfs_fault_fail_sync(f, 1 + (long)(seed % 3), TS_EIO, false);
            next_fault += target / 3;
        }
    }
    sh.cut = true;
    TEST_CHECK(ts_vfs_fault_power_loss(f, mode) == 0);
    sh.stop = true;
    pthread_mutex_unlock(&sh.mu);
    for (int i = 0; i < PL_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    ts_store_close(s);
    TEST_CHECK_(ts_vfs_fault_bad_hints(f) == 0, "%ld cache drops over bytes not durable",
                ts_vfs_fault_bad_hints(f));
    ts_vfs_fault_destroy(f);
    /* Acked = durable under ALWAYS/GROUP. Sorting gives the last acknowledged offset. */
    qsort(sh.acks, sh.n_acks, sizeof(sh.acks[0]), cmp_ack);
    uint64_t acked_end = sh.n_acks ? sh.acks[sh.n_acks - 1].first + sh.acks[sh.n_acks - 1].n : 0;
    struct tu_events ev = {0};
    s = open_with(&ts_vfs_posix, TS_FSYNC_GROUP, &ev);
    struct ts_partition *p = NULL;
    TEST_CHECK(s && ts_store_partition(s, "power/p", false, &p) == 0);
    if (p) {
        int gaps;
        verify(p, sh.acks, sh.n_acks, acked_end, &gaps);
        TEST_CHECK(ts_partition_end_offset(p) >= acked_end);
        /* A batch whose append failed never shows up. */
        static uint8_t buf[128 * 1024];
        struct ts_record r[64];
        uint64_t cur = 0;
        size_t n;
        uint64_t nx;
        while (ts_partition_read(p, cur, buf, sizeof(buf), r, 64, &n, &nx) == 0 && n > 0) {
            for (size_t i = 0; i < n; i++) {
                uint64_t seq = r[i].gap ? UINT64_MAX : tu_check(r[i].data, r[i].len, MAXLEN);
                for (size_t k = 0; k < sh.n_failed && seq != UINT64_MAX; k++) {
                    TEST_CHECK_((seq & ~(uint64_t)0xf0) != (sh.failed[k].seq0 & ~(uint64_t)0xf0),
                                "failed batch visible at %llu", (unsigned long long)r[i].offset);
                }
            }
            cur = nx;
        }
    }
    ts_store_close(s);
    if (ts_test_failures) {
        TEST_MSG("mode %d seed %llu", mode, (unsigned long long)seed);
    }
    pthread_mutex_destroy(&sh.mu);
    pthread_cond_destroy(&sh.cond);
    tu_rmrf(dir);
}

static void test_power_loss_group(void)
{
    for (uint64_t i = 0; i < 45 && !ts_test_failures; i++) {
        power_loss_round(TS_FSYNC_GROUP, (enum ts_vfs_crash_mode)(i % 3), i + 1,
                         20 + (size_t)(tu_mix(i) % 200), false);
    }
}

static void test_power_loss_always(void)
{
    for (uint64_t i = 0; i < 30 && !ts_test_failures; i++) {
        power_loss_round(TS_FSYNC_ALWAYS, (enum ts_vfs_crash_mode)(i % 3), 1000 + i,
                         20 + (size_t)(tu_mix(i) % 150), false);
    }
}

static void test_power_loss_with_sync_errors(void)
{
    for (uint64_t i = 0; i < 30 && !ts_test_failures; i++) {
        power_loss_round(i % 2 ? TS_FSYNC_ALWAYS : TS_FSYNC_GROUP,
                         (enum ts_vfs_crash_mode)(i % 3), 2000 + i,
                         30 + (size_t)(tu_mix(i) % 150), true);
    }
}

/* ---------------------------------------------------------------- interval window */

struct iv_shared {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct ack acks[PL_MAX_ACKS * 4];
    uint64_t ack_ms[PL_MAX_ACKS * 4];
    size_t n_acks;
    bool stop;
    struct ts_partition *p;
};

static uint64_t mono_ms(void)
{
    return ts_mono_ns() / 1000000;
}

static void *iv_writer(void *arg)
{
    struct iv_shared *sh = arg;
    for (uint64_t b = 0;; b++) {
        pthread_mutex_lock(&sh->mu);
        bool stop = sh->stop || sh->n_acks >= TS_ARRAY_LEN(sh->acks);
        pthread_mutex_unlock(&sh->mu);
        if (stop) {
            break;
        }
        uint64_t first;
        uint32_t n = (uint32_t)(1 + b % 3);
        int rc = append_batch(sh->p, 9, b, n, &first);
        uint64_t now = mono_ms();
        pthread_mutex_lock(&sh->mu);
        if (rc == 0) {
            sh->ack_ms[sh->n_acks] = now;
            sh->acks[sh->n_acks++] = (struct ack){first, mkseq(9, b, 0, n), n};
        }
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->mu);
        if (rc) {
            break;
        }
    }
    return NULL;
}

#define IV_INTERVAL_MS 20
#define IV_MARGIN_MS 1000 /* scheduling slack on a loaded 2-core CI machine under ASan */

static void interval_round(enum ts_vfs_crash_mode mode, uint64_t seed)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "interval") == 0);
    ts_metrics_init();
    struct ts_vfs_fault *f;
    TEST_CHECK(ts_vfs_fault_create(&ts_vfs_posix, seed, &f) == 0);
    struct ts_store_opts o = {0};
    o.fsync = TS_FSYNC_INTERVAL;
    o.interval_ms = IV_INTERVAL_MS;
    o.vfs = ts_vfs_fault_vfs(f);
    o.segment_max_bytes = 64 * 1024;
    struct ts_store *s = NULL;
    TEST_CHECK(ts_store_open(dir, &o, &s) == 0);
    TEST_CHECK(ts_metric_get("ts_store_unsynced_window_ms", NULL) == IV_INTERVAL_MS);
    static struct iv_shared sh;
    memset(&sh, 0, sizeof(sh));
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cond, NULL);
    TEST_CHECK(s && ts_store_partition(s, "iv/p", true, &sh.p) == 0);
    pthread_t t;
    pthread_create(&t, NULL, iv_writer, &sh);
    uint64_t start = mono_ms();
    pthread_mutex_lock(&sh.mu);
    /* Run long enough that records acked more than the window before the cut exist. */
    while (mono_ms() - start < IV_MARGIN_MS + 400 && sh.n_acks < TS_ARRAY_LEN(sh.acks)) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5;
        pthread_cond_timedwait(&sh.cond, &sh.mu, &dl);
    }
    uint64_t durable = ts_partition_end_offset(sh.p);
    uint64_t cut_ms = mono_ms();
    TEST_CHECK(ts_vfs_fault_power_loss(f, mode) == 0);
    sh.stop = true;
    pthread_mutex_unlock(&sh.mu);
    pthread_join(t, NULL);
    ts_store_close(s);
    TEST_CHECK_(ts_vfs_fault_bad_hints(f) == 0, "%ld cache drops over bytes not durable",
                ts_vfs_fault_bad_hints(f));
    ts_vfs_fault_destroy(f);
    s = NULL;
    o.vfs = NULL;
    o.fsync = TS_FSYNC_GROUP;
    TEST_CHECK(ts_store_open(dir, &o, &s) == 0);
    struct ts_partition *p = NULL;
    TEST_CHECK(s && ts_store_partition(s, "iv/p", false, &p) == 0);
    /* Acked before (cut - window - margin) must survive; so must everything that was visible
     * (durable) at the cut. Records acked later may be lost: that is the documented window. */
    size_t must = 0;
    while (must < sh.n_acks && (sh.ack_ms[must] + IV_INTERVAL_MS + IV_MARGIN_MS < cut_ms ||
                                sh.acks[must].first + sh.acks[must].n <= durable)) {
        must++;
    }
    uint64_t must_end = must ? sh.acks[must - 1].first + sh.acks[must - 1].n : 0;
    TEST_CHECK_(must > 0, "no record old enough to check (%zu acks)", sh.n_acks);
    int gaps;
    if (p) {
        verify(p, sh.acks, must, must_end, &gaps);
        uint64_t end = ts_partition_end_offset(p);
        uint64_t acked_end = sh.n_acks ? sh.acks[sh.n_acks - 1].first + sh.acks[sh.n_acks - 1].n : 0;
        TEST_CHECK(end >= must_end && end >= durable);
        if (end < acked_end) {
            TEST_MSG("interval mode %d: %llu acknowledged records inside the window lost", mode,
                     (unsigned long long)(acked_end - end));
        }
    }
    ts_store_close(s);
    pthread_mutex_destroy(&sh.mu);
    pthread_cond_destroy(&sh.cond);
    ts_metrics_shutdown();
    tu_rmrf(dir);
}

static void test_interval_window(void)
{
    interval_round(TS_VFS_CRASH_DROP, 77);
    interval_round(TS_VFS_CRASH_GARBLE, 78);
}

TEST_LIST = {
    {"enospc_every_write", test_enospc_every_write},
    {"eio_every_write", test_eio_every_write},
    {"sync_failure_every_sync", test_sync_failure_every_sync},
    {"power_loss_group", test_power_loss_group},
    {"power_loss_always", test_power_loss_always},
    {"power_loss_with_sync_errors", test_power_loss_with_sync_errors},
    {"interval_window", test_interval_window},
    {NULL, NULL},
};
