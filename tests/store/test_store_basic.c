/* test_store_basic.c - the segment log's contract: append/read, bounds, rolling, indexes,
 * time lookup, naming, listing, deletion, retention, waiting and concurrency. */
#include "store_test_util.h"
#include "ts_test.h"

#include <pthread.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#define MAXLEN 1500

static char dir[512];

static struct ts_store *open_store(const struct ts_store_opts *o)
{
    struct ts_store *s = NULL;
    int rc = ts_store_open(dir, o, &s);
    TEST_CHECK_(rc == 0, "open: %s", ts_strerror(rc));
    return s;
}

/* Appends `n` batches of `per` tu_payload records, seq from seq0. Returns the next seq. */
static uint64_t fill(struct ts_partition *p, uint64_t seq0, int n, int per)
{
    uint8_t bufs[8][MAXLEN];
    struct ts_record_in in[8];
    uint64_t seq = seq0;
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < per; i++) {
            in[i].data = bufs[i];
            in[i].len = tu_payload(seq + (uint64_t)i, MAXLEN, bufs[i]);
        }
        uint64_t first = 0;
        int rc = ts_partition_append(p, in, (size_t)per, 0, &first);
        TEST_CHECK_(rc == 0, "append: %s", ts_strerror(rc));
        TEST_CHECK_(first == seq, "first %llu want %llu", (unsigned long long)first,
                    (unsigned long long)seq);
        seq += (uint64_t)per;
    }
    return seq;
}

/* Reads everything from `from` and checks record i has seq == offset. Returns records read. */
static uint64_t verify_all(struct ts_partition *p, uint64_t from)
{
    static uint8_t buf[256 * 1024];
    struct ts_record recs[64];
    uint64_t cur = from, count = 0;
    for (;;) {
        size_t n = 0;
        uint64_t next = 0;
        int rc = ts_partition_read(p, cur, buf, sizeof(buf), recs, 64, &n, &next);
        TEST_CHECK_(rc == 0, "read: %s", ts_strerror(rc));
        if (rc || n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            TEST_CHECK(!recs[i].gap);
            TEST_CHECK(recs[i].offset == cur + i);
            uint64_t seq = tu_check(recs[i].data, recs[i].len, MAXLEN);
            TEST_CHECK_(seq == recs[i].offset, "seq %llu at offset %llu",
                        (unsigned long long)seq, (unsigned long long)recs[i].offset);
        }
        count += n;
        TEST_CHECK(next == cur + n);
        cur = next;
    }
    TEST_CHECK(cur == ts_partition_end_offset(p));
    return count;
}

static void setup(void)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "basic") == 0);
}

static void teardown(void)
{
    tu_rmrf(dir);
}

static void test_append_read(void)
{
    setup();
    struct ts_store *s = open_store(NULL);
    TEST_ASSERT(s != NULL);
    struct ts_partition *p = NULL;
    TEST_CHECK(ts_store_partition(s, "logs/1/g/s", false, &p) == TS_ENOTFOUND);
    TEST_ASSERT(ts_store_partition(s, "logs/1/g/s", true, &p) == 0);
    TEST_CHECK(strcmp(ts_partition_name(p), "logs/1/g/s") == 0);
    TEST_CHECK(ts_partition_end_offset(p) == 0);
    uint64_t end = fill(p, 0, 50, 7);
    TEST_CHECK(ts_partition_end_offset(p) == end);
    TEST_CHECK(verify_all(p, 0) == end);
    TEST_CHECK(verify_all(p, 123) == end - 123);
    /* An empty record and bad arguments. */
    struct ts_record_in e = {NULL, 0};
    uint64_t off;
    TEST_CHECK(ts_partition_append(p, &e, 1, 0, &off) == 0 && off == end);
    TEST_CHECK(ts_partition_append(p, &e, 0, 0, &off) == TS_EINVAL);
    struct ts_record_in big = {"x", TS_STORE_RECORD_MAX + 1};
    TEST_CHECK(ts_partition_append(p, &big, 1, 0, &off) == TS_EINVAL);
    uint8_t buf[4096];
    struct ts_record r[4];
    size_t n;
    uint64_t next;
    TEST_CHECK(ts_partition_read(p, end, buf, sizeof(buf), r, 4, &n, &next) == 0);
    TEST_CHECK(n == 1 && r[0].len == 0 && r[0].offset == end && next == end + 1);
    TEST_CHECK(ts_partition_read(p, end + 1, buf, sizeof(buf), r, 4, &n, &next) == 0 && n == 0);
    TEST_CHECK(ts_partition_read(p, end + 2, buf, sizeof(buf), r, 4, &n, &next) == TS_ERANGE);
    /* The same handle is returned for the same name; a second open is refused. */
    struct ts_partition *p2;
    TEST_CHECK(ts_store_partition(s, "logs/1/g/s", true, &p2) == 0 && p2 == p);
    struct ts_store *s2 = NULL;
    TEST_CHECK(ts_store_open(dir, NULL, &s2) == TS_EAGAIN);
    ts_store_close(s);
    teardown();
}

static void test_read_bounds(void)
{
    setup();
    struct ts_store *s = open_store(NULL);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "p", true, &p) == 0);
    fill(p, 0, 20, 5);
    uint8_t buf[8192];
    struct ts_record r[16];
    size_t n;
    uint64_t next;
    /* Count bound. */
    TEST_CHECK(ts_partition_read(p, 10, buf, sizeof(buf), r, 3, &n, &next) == 0);
    TEST_CHECK(n == 3 && next == 13 && r[0].offset == 10);
    /* Byte bound: the records and their headers fit in buf. */
    TEST_CHECK(ts_partition_read(p, 0, buf, sizeof(buf), r, 16, &n, &next) == 0);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += r[i].len + TS_STORE_RECORD_OVERHEAD;
        TEST_CHECK((const uint8_t *)r[i].data >= buf &&
                   (const uint8_t *)r[i].data + r[i].len <= buf + sizeof(buf));
        TEST_CHECK(tu_check(r[i].data, r[i].len, MAXLEN) == r[i].offset);
    }
    TEST_CHECK(n > 0 && bytes <= sizeof(buf) && next == n);
    /* Too small for the first record. */
    TEST_CHECK(ts_partition_read(p, 0, buf, 20, r, 16, &n, &next) == TS_ETOOBIG);
    /* Time lookup: all appended with the real clock, so ts of first <= anything. */
    uint64_t off;
    TEST_CHECK(ts_partition_find_time(p, 0, &off) == 0 && off == 0);
    TEST_CHECK(ts_partition_find_time(p, INT64_MAX, &off) == 0 && off == 100);
    ts_store_close(s);
    teardown();
}

static void test_roll_reopen_index(void)
{
    setup();
    struct tu_clock clk;
    tu_clock_init(&clk, 1000000);
    struct tu_events ev = {0};
    struct ts_store_opts o = {0};
    o.segment_max_bytes = 16 * 1024;
    o.index_interval_bytes = 1024;
    o.clock = &clk.clock;
    o.on_event = tu_on_event;
    o.event_ctx = &ev;
    struct ts_store *s = open_store(&o);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "roll", true, &p) == 0);
    uint64_t seq = 0;
    for (int i = 0; i < 40; i++) {
        clk.now += 10;
        seq = fill(p, seq, 1, 4);
    }
    struct ts_partition_stats st;
    ts_partition_stats(p, &st);
    TEST_CHECK_(st.segments > 3, "segments %llu", (unsigned long long)st.segments);
    TEST_CHECK(verify_all(p, 0) == seq);
    /* Time index: batch i was appended at 1000000 + 10 (i + 1). */
    uint64_t off;
    TEST_CHECK(ts_partition_find_time(p, 1000000 + 10 * 21, &off) == 0);
    TEST_CHECK_(off == 80, "find_time %llu", (unsigned long long)off);
    TEST_CHECK(ts_partition_find_time(p, 1000000 + 10 * 21 - 5, &off) == 0 && off == 80);
    ts_store_close(s);

    /* Clean reopen: every index matches, nothing is scanned. */
    s = open_store(&o);
    struct ts_store_recovery rec;
    ts_store_recovery_stats(s, &rec);
    TEST_CHECK_(rec.scanned_bytes == 0, "scanned %llu", (unsigned long long)rec.scanned_bytes);
    TEST_CHECK(rec.partitions == 1 && rec.truncated_bytes == 0 && rec.corrupt_records == 0);
    TEST_ASSERT(ts_store_partition(s, "roll", false, &p) == 0);
    TEST_CHECK(verify_all(p, 0) == seq);
    TEST_CHECK(ts_partition_find_time(p, 1000000 + 10 * 21, &off) == 0 && off == 80);
    seq = fill(p, seq, 3, 2);
    ts_store_close(s);

    /* Indexes removed: rebuilt from the logs and reported for sealed segments. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -f %s/partitions/roll/*.idx", dir);
    TEST_CHECK(system(cmd) == 0);
    memset(&ev, 0, sizeof(ev));
    s = open_store(&o);
    ts_store_recovery_stats(s, &rec);
    TEST_CHECK(rec.indexes_rebuilt >= 3 && ev.n[TS_STORE_EV_INDEX_REBUILT] >= 3);
    TEST_CHECK(rec.scanned_bytes > 0 && rec.corrupt_records == 0);
    TEST_ASSERT(ts_store_partition(s, "roll", false, &p) == 0);
    TEST_CHECK(verify_all(p, 0) == seq);
    TEST_CHECK(ts_partition_find_time(p, 1000000 + 10 * 21, &off) == 0 && off == 80);

    /* Roll by age. */
    ts_partition_stats(p, &st);
    uint64_t segs = st.segments;
    seq = fill(p, seq, 1, 1);
    clk.now += o.segment_max_age_ms ? o.segment_max_age_ms : 7ll * 24 * 3600 * 1000;
    seq = fill(p, seq, 1, 1);
    ts_partition_stats(p, &st);
    TEST_CHECK(st.segments == segs + 1);
    ts_store_close(s);
    teardown();
}

static int collect(void *arg, const char *name)
{
    struct ts_buf *b = arg;
    ts_buf_adds(b, name);
    ts_buf_addc(b, '|');
    return 0;
}

static void test_names_list_delete(void)
{
    setup();
    struct ts_store *s = open_store(NULL);
    char longname[1100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    longname[TS_STORE_NAME_MAX] = '\0';
    const char *names[] = {"kinesis/111/st/shard-000000000001", "kinesis/111/st/shard-000000000000",
                           "logs/222/us-east-1/g%x/../s t", ".hidden", "..", longname,
                           "logs/222/us-east-1/other"};
    struct ts_partition *p;
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++) {
        TEST_CHECK_(ts_store_partition(s, names[i], true, &p) == 0, "create %s", names[i]);
        fill(p, 0, 1, (int)i + 1);
    }
    TEST_CHECK(ts_store_partition(s, "", true, &p) == TS_EINVAL);
    longname[TS_STORE_NAME_MAX] = 'a';
    TEST_CHECK(ts_store_partition(s, longname, true, &p) == TS_EINVAL);
    longname[TS_STORE_NAME_MAX] = '\0';
    struct ts_buf b;
    ts_buf_init(&b, 1 << 16);
    TEST_CHECK(ts_store_list(s, "kinesis/111/", collect, &b) == 0);
    TEST_CHECK(strcmp(b.data, "kinesis/111/st/shard-000000000000|kinesis/111/st/shard-000000000001|") == 0);
    ts_buf_reset(&b);
    TEST_CHECK(ts_store_list(s, NULL, collect, &b) == 0);
    TEST_CHECK(strstr(b.data, longname) != NULL && strstr(b.data, "..|") != NULL);
    ts_store_close(s);

    /* Reopen: every name comes back with its records. */
    s = open_store(NULL);
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++) {
        TEST_CHECK_(ts_store_partition(s, names[i], false, &p) == 0, "reopen %s", names[i]);
        TEST_CHECK(verify_all(p, 0) == i + 1);
    }
    /* Delete: the handle stays valid but closed; the name can be reused from offset 0. */
    struct ts_partition *gone;
    TEST_ASSERT(ts_store_partition(s, names[2], false, &gone) == 0);
    TEST_CHECK(ts_store_partition_delete(s, names[2]) == 0);
    TEST_CHECK(ts_store_partition_delete(s, names[2]) == TS_ENOTFOUND);
    uint64_t off;
    struct ts_record_in in = {"x", 1};
    TEST_CHECK(ts_partition_append(gone, &in, 1, 0, &off) == TS_ECLOSED);
    TEST_CHECK(ts_partition_wait(gone, 100, 1000) == TS_ECLOSED);
    TEST_CHECK(ts_store_partition(s, names[2], false, &p) == TS_ENOTFOUND);
    TEST_CHECK(ts_store_partition(s, names[2], true, &p) == 0 && p != gone);
    TEST_CHECK(ts_partition_end_offset(p) == 0);
    TEST_CHECK(ts_store_partition_delete(s, names[2]) == 0);
    ts_store_close(s);
    s = open_store(NULL);
    TEST_CHECK(ts_store_partition(s, names[2], false, &p) == TS_ENOTFOUND);
    ts_buf_reset(&b);
    TEST_CHECK(ts_store_list(s, "logs/", collect, &b) == 0);
    TEST_CHECK(strcmp(b.data, "logs/222/us-east-1/other|") == 0);
    ts_buf_free(&b);
    ts_store_close(s);
    teardown();
}

static void test_retention(void)
{
    setup();
    struct tu_clock clk;
    tu_clock_init(&clk, 5000000);
    struct ts_store_opts o = {0};
    o.segment_max_bytes = 8192;
    o.clock = &clk.clock;
    struct ts_store *s = open_store(&o);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "ret", true, &p) == 0);
    uint64_t seq = 0;
    for (int i = 0; i < 30; i++) {
        clk.now += 1000;
        seq = fill(p, seq, 1, 3);
    }
    struct ts_partition_stats st;
    ts_partition_stats(p, &st);
    uint64_t removed = 0;
    /* Size: keep at most ~3 segments worth. */
    TEST_CHECK(ts_partition_retain(p, 0, 3 * 8192, &removed) == 0);
    struct ts_partition_stats st2;
    ts_partition_stats(p, &st2);
    TEST_CHECK(removed > 0 && st2.start_offset == removed && st2.bytes <= 3 * 8192);
    TEST_CHECK(verify_all(p, st2.start_offset) == seq - removed);
    uint8_t buf[4096];
    struct ts_record r[4];
    size_t n;
    uint64_t next;
    TEST_CHECK(ts_partition_read(p, 0, buf, sizeof(buf), r, 4, &n, &next) == TS_ERANGE);
    /* Age: records older than 10 s go (whole segments). */
    TEST_CHECK(ts_partition_retain(p, 10000, 0, &removed) == 0);
    ts_partition_stats(p, &st2);
    TEST_CHECK(st2.first_ts_ms >= clk.now - 10000 - 8000);
    /* Everything expired: even the active segment is rolled and removed. */
    clk.now += 1000000;
    TEST_CHECK(ts_partition_retain(p, 10000, 0, &removed) == 0);
    ts_partition_stats(p, &st2);
    TEST_CHECK(st2.start_offset == seq && st2.end_offset == seq && st2.segments == 1);
    ts_store_close(s);
    s = open_store(&o);
    TEST_ASSERT(ts_store_partition(s, "ret", false, &p) == 0);
    TEST_CHECK(ts_partition_start_offset(p) == seq && ts_partition_end_offset(p) == seq);
    seq = fill(p, seq, 2, 2);
    TEST_CHECK(verify_all(p, seq - 4) == 4);
    ts_store_close(s);
    teardown();
}

struct waiter {
    struct ts_partition *p;
    uint64_t offset;
    int rc;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = ts_partition_wait(w->p, w->offset, 20000);
    return NULL;
}

static void test_wait(void)
{
    setup();
    struct ts_store *s = open_store(NULL);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "w", true, &p) == 0);
    TEST_CHECK(ts_partition_wait(p, 0, 0) == TS_ETIMEDOUT);
    TEST_CHECK(ts_partition_wait(p, 0, 30) == TS_ETIMEDOUT);
    struct waiter w = {p, 2, 1};
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    fill(p, 0, 1, 2); /* offsets 0,1: not enough */
    fill(p, 2, 1, 1); /* offset 2 wakes it */
    pthread_join(t, NULL);
    TEST_CHECK(w.rc == 0);
    /* Closing the store wakes a forever-waiter with TS_ECLOSED. */
    struct waiter w2 = {p, 100, 1};
    pthread_create(&t, NULL, wait_main, &w2);
    TEST_CHECK(ts_store_partition_delete(s, "w") == 0);
    pthread_join(t, NULL);
    TEST_CHECK(w2.rc == TS_ECLOSED);
    ts_store_close(s);
    teardown();
}

#define THREADS 8
#define PER_THREAD 200

struct appender {
    struct ts_partition *p;
    int id;
    uint64_t offsets[PER_THREAD];
    int rc;
};

static void *append_main(void *arg)
{
    struct appender *a = arg;
    uint8_t b[MAXLEN];
    for (int i = 0; i < PER_THREAD; i++) {
        uint64_t seq = (uint64_t)a->id * 1000000 + (uint64_t)i;
        struct ts_record_in in = {b, tu_payload(seq, MAXLEN, b)};
        int rc = ts_partition_append(a->p, &in, 1, 0, &a->offsets[i]);
        if (rc) {
            a->rc = rc;
            return NULL;
        }
    }
    return NULL;
}

struct reader {
    struct ts_partition *p;
    uint64_t target;
    int bad;
    uint64_t seen;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    static __thread uint8_t buf[64 * 1024];
    struct ts_record recs[32];
    uint64_t cur = 0;
    while (cur < r->target) {
        if (ts_partition_wait(r->p, cur, 10000)) {
            r->bad++;
            break;
        }
        size_t n;
        uint64_t next;
        if (ts_partition_read(r->p, cur, buf, sizeof(buf), recs, 32, &n, &next)) {
            r->bad++;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (recs[i].gap || tu_check(recs[i].data, recs[i].len, MAXLEN) == UINT64_MAX) {
                r->bad++;
            }
        }
        r->seen += n;
        cur = next;
    }
    return NULL;
}

static void concurrent(enum ts_fsync_policy pol)
{
    setup();
    struct ts_store_opts o = {0};
    o.fsync = pol;
    o.interval_ms = 5;
    o.segment_max_bytes = 256 * 1024;
    struct ts_store *s = open_store(&o);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "c", true, &p) == 0);
    struct appender a[THREADS];
    struct reader rd[2];
    pthread_t t[THREADS + 2];
    for (int i = 0; i < 2; i++) {
        rd[i] = (struct reader){p, THREADS * PER_THREAD, 0, 0};
        pthread_create(&t[THREADS + i], NULL, reader_main, &rd[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].p = p;
        a[i].id = i;
        pthread_create(&t[i], NULL, append_main, &a[i]);
    }
    for (int i = 0; i < THREADS + 2; i++) {
        pthread_join(t[i], NULL);
    }
    static uint8_t seen[THREADS * PER_THREAD];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < THREADS; i++) {
        TEST_CHECK(a[i].rc == 0);
        for (int k = 0; k < PER_THREAD; k++) {
            TEST_CHECK(a[i].offsets[k] < THREADS * PER_THREAD && !seen[a[i].offsets[k]]);
            seen[a[i].offsets[k] % (THREADS * PER_THREAD)] = 1;
            TEST_CHECK(k == 0 || a[i].offsets[k] > a[i].offsets[k - 1]);
        }
    }
    for (int i = 0; i < 2; i++) {
        TEST_CHECK(rd[i].bad == 0 && rd[i].seen == THREADS * PER_THREAD);
    }
    /* Each offset holds the record its appender was told. */
    uint8_t buf[4096];
    struct ts_record r;
    for (int i = 0; i < THREADS; i += 3) {
        for (int k = 0; k < PER_THREAD; k += 17) {
            size_t n;
            uint64_t next;
            TEST_CHECK(ts_partition_read(p, a[i].offsets[k], buf, sizeof(buf), &r, 1, &n, &next) == 0);
            TEST_CHECK(n == 1 && tu_check(r.data, r.len, MAXLEN) == (uint64_t)i * 1000000 + (uint64_t)k);
        }
    }
    ts_store_close(s);
    teardown();
}

static void test_concurrent_group(void)
{
    concurrent(TS_FSYNC_GROUP);
}

static void test_concurrent_always(void)
{
    concurrent(TS_FSYNC_ALWAYS);
}

static void test_concurrent_interval(void)
{
    concurrent(TS_FSYNC_INTERVAL);
}

static int appended;

static void on_append(void *ctx, struct ts_partition *p, uint64_t end)
{
    TS_UNUSED(ctx);
    TS_UNUSED(p);
    appended = (int)end;
}

static void test_interval_visibility(void)
{
    setup();
    ts_metrics_init();
    struct ts_store_opts o = {0};
    o.fsync = TS_FSYNC_INTERVAL;
    o.interval_ms = 3600 * 1000; /* the thread never fires during the test */
    o.on_append = on_append;
    struct ts_store *s = open_store(&o);
    TEST_CHECK(ts_metric_get("ts_store_unsynced_window_ms", NULL) == 3600 * 1000);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "iv", true, &p) == 0);
    appended = 0;
    fill(p, 0, 3, 2);
    /* Acknowledged but not yet synced: invisible to readers, who only see durable records. */
    TEST_CHECK(ts_partition_end_offset(p) == 0 && appended == 0);
    struct ts_partition_stats st;
    ts_partition_stats(p, &st);
    TEST_CHECK(st.written_offset == 6 && st.end_offset == 0);
    TEST_CHECK(ts_store_sync(s) == 0);
    TEST_CHECK(ts_partition_end_offset(p) == 6 && appended == 6);
    TEST_CHECK(verify_all(p, 0) == 6);
    fill(p, 6, 1, 2);
    ts_store_close(s); /* close syncs */
    o.fsync = TS_FSYNC_GROUP;
    s = open_store(&o);
    TEST_CHECK(ts_metric_get("ts_store_unsynced_window_ms", NULL) == 0);
    TEST_ASSERT(ts_store_partition(s, "iv", false, &p) == 0);
    TEST_CHECK(verify_all(p, 0) == 8);
    ts_store_close(s);
    ts_metrics_shutdown();
    teardown();
}

/* Finds the one segment file under `d` (the test writes a single partition). */
static bool find_log(const char *d, char *out, size_t n)
{
    DIR *dp = opendir(d);
    if (!dp) {
        return false;
    }
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(dp))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", d, e->d_name);
        size_t len = strlen(e->d_name);
        struct stat st;
        if (len > 4 && strcmp(e->d_name + len - 4, ".log") == 0) {
            snprintf(out, n, "%s", sub);
            found = true;
        } else if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            found = find_log(sub, out, n);
        }
    }
    closedir(dp);
    return found;
}

/* Pages of [from, to) of the file that are in the page cache (mincore). */
static long resident_pages(const char *path, int64_t from, int64_t to)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < to) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    long pg = sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        return -1;
    }
    size_t n_pages = ((size_t)st.st_size + (size_t)pg - 1) / (size_t)pg;
    unsigned char *vec = malloc(n_pages);
    long n = -1;
    if (vec && mincore(m, (size_t)st.st_size, vec) == 0) {
        n = 0;
        for (int64_t i = (from + pg - 1) / pg; i < to / pg; i++) {
            n += vec[i] & 1;
        }
    }
    free(vec);
    munmap(m, (size_t)st.st_size);
    return n;
}

/* Drop-behind: after syncs, what lies more than cache_keep_bytes behind the end has left the
 * page cache, under every fsync policy, while the records there still read back (from disk);
 * with a window as large as the segment, nothing is dropped (the control showing that the
 * pages would otherwise still be cached). */
/* A store for the drop-behind tests: policy k (0-2: group, always, interval; 3: the control,
 * group with a window of a whole segment, i.e. drop-behind off) and one partition. */
static struct ts_store *drop_store(int k, int64_t seg, int64_t keep, const char *name,
                                   struct ts_partition **p)
{
    static const enum ts_fsync_policy pols[] = {TS_FSYNC_GROUP, TS_FSYNC_ALWAYS,
                                                TS_FSYNC_INTERVAL};
    struct ts_store_opts o = {0};
    o.fsync = k == 3 ? TS_FSYNC_GROUP : pols[k];
    o.interval_ms = 5;
    o.segment_max_bytes = (uint64_t)seg;
    o.cache_keep_bytes = k == 3 ? (uint64_t)seg : (uint64_t)keep;
    struct ts_store *s = open_store(&o);
    *p = NULL;
    if (s && ts_store_partition(s, name, true, p) != 0) {
        *p = NULL;
    }
    return s;
}

static void test_drop_behind(void)
{
    struct statfs fs;
    TEST_ASSERT(statfs(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", &fs) == 0);
    if (fs.f_type == 0x01021994 /* TMPFS_MAGIC: its pages cannot leave the cache */) {
        TEST_MSG("skipped: TMPDIR is tmpfs");
        return;
    }
    enum { REC = 64 * 1024, PER = 8, BATCHES = 24 }; /* 12 MiB in 512 KiB batches */
    const int64_t keep = 2 << 20;
    static uint8_t bufs[PER][REC];
    for (int k = 0; k < 4; k++) {
        bool control = k == 3;
        setup();
        struct ts_partition *p;
        struct ts_store *s = drop_store(k, 64 << 20, keep, "drop/p", &p);
        TEST_ASSERT(s && p);
        for (int b = 0; b < BATCHES; b++) {
            struct ts_record_in in[PER];
            for (int i = 0; i < PER; i++) {
                memset(bufs[i], 'a' + (b * PER + i) % 26, REC);
                in[i] = (struct ts_record_in){bufs[i], REC};
            }
            uint64_t first;
            TEST_CHECK(ts_partition_append(p, in, PER, 0, &first) == 0);
            if (k == 2) { /* interval */
                TEST_CHECK(ts_store_sync(s) == 0);
            }
        }
        char log[1024];
        TEST_ASSERT(find_log(dir, log, sizeof(log)));
        struct stat st;
        TEST_ASSERT(stat(log, &st) == 0);
        int64_t size = st.st_size;
        /* Everything below end - keep - step (1 MiB) was dropped; the window stays. */
        long front = resident_pages(log, 0, size - keep - (1 << 20));
        long window = resident_pages(log, size - keep, size);
        if (control) {
            TEST_CHECK_(front > 0, "control: no page of the front is cached (%ld)", front);
        } else {
            TEST_CHECK_(front == 0, "policy %d: %ld pages of the front still cached", k, front);
        }
        TEST_CHECK_(window > 0, "policy %d: the newest %lld bytes are not cached (%ld)", k,
                    (long long)keep, window);
        /* A dropped record reads back from disk. */
        uint8_t rbuf[REC + 256];
        struct ts_record r[1];
        size_t n = 0;
        uint64_t next = 0;
        TEST_CHECK(ts_partition_read(p, 3, rbuf, sizeof(rbuf), r, 1, &n, &next) == 0);
        TEST_CHECK(n == 1 && r[0].len == REC && r[0].data[0] == 'a' + 3 &&
                   r[0].data[REC - 1] == 'a' + 3);
        ts_store_close(s);
        teardown();
    }
    ts_metrics_shutdown();
}

/* ---------------------------------------------------------------- group-commit lanes
 *
 * A VFS over the real one whose fdatasync can be scripted once `armed`: gated sync number k
 * (1-based) can be held (bounded by hold_ms) until `until_started[k]` syncs have started or
 * `until_finished[k]` have returned, and fails with EIO when bit k of fail_mask is set. */
#define GATE_SYNCS 8

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool armed;
    int started, finished, in_flight, max_in_flight;
    int until_started[GATE_SYNCS];
    int until_finished[GATE_SYNCS];
    unsigned fail_mask;
    int hold_ms;
    bool held_out; /* a hold ran out its bound */
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static int gate_fdatasync(void *ctx, int fd)
{
    pthread_mutex_lock(&gate.mu);
    if (!gate.armed) {
        pthread_mutex_unlock(&gate.mu);
        return ts_vfs_posix.fdatasync(ctx, fd);
    }
    int me = ++gate.started;
    gate.in_flight++;
    gate.max_in_flight = TS_MAX(gate.max_in_flight, gate.in_flight);
    pthread_cond_broadcast(&gate.cond);
    int want_started = me < GATE_SYNCS ? gate.until_started[me] : 0;
    int want_finished = me < GATE_SYNCS ? gate.until_finished[me] : 0;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += gate.hold_ms / 1000;
    dl.tv_nsec += (long)(gate.hold_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (gate.started < want_started || gate.finished < want_finished) {
        if (pthread_cond_timedwait(&gate.cond, &gate.mu, &dl) != 0) {
            gate.held_out = true;
            break;
        }
    }
    bool fail = me < 32 && (gate.fail_mask >> me & 1u);
    pthread_mutex_unlock(&gate.mu);
    int rc = fail ? TS_EIO : ts_vfs_posix.fdatasync(ctx, fd);
    pthread_mutex_lock(&gate.mu);
    gate.in_flight--;
    gate.finished++;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.mu);
    return rc;
}

/* Arms the gate with no script; callers set until_* and fail_mask before appending. */
static void gate_arm(int hold_ms)
{
    pthread_mutex_lock(&gate.mu);
    gate.armed = true;
    gate.started = gate.finished = gate.in_flight = gate.max_in_flight = 0;
    memset(gate.until_started, 0, sizeof(gate.until_started));
    memset(gate.until_finished, 0, sizeof(gate.until_finished));
    gate.fail_mask = 0;
    gate.hold_ms = hold_ms;
    gate.held_out = false;
    pthread_mutex_unlock(&gate.mu);
}

/* Waits (bounded) until `n` gated syncs have started. */
static bool gate_wait_started(int n)
{
    bool ok = true;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&gate.mu);
    while (gate.started < n && ok) {
        ok = pthread_cond_timedwait(&gate.cond, &gate.mu, &dl) == 0;
    }
    pthread_mutex_unlock(&gate.mu);
    return ok;
}

struct one_append {
    struct ts_partition *p;
    uint8_t tag;
    uint64_t first;
    int rc;
};

static void *one_append_main(void *arg)
{
    struct one_append *a = arg;
    uint8_t data[600];
    memset(data, a->tag, sizeof(data));
    struct ts_record_in in[3] = {{data, 600}, {data, 300}, {data, 100}};
    a->rc = ts_partition_append(a->p, in, 3, 0, &a->first);
    return NULL;
}

static struct ts_store *gate_store(int lanes, struct ts_partition **p, struct ts_vfs *vfs)
{
    *vfs = ts_vfs_posix;
    vfs->fdatasync = gate_fdatasync;
    pthread_mutex_lock(&gate.mu);
    gate.armed = false;
    pthread_mutex_unlock(&gate.mu);
    struct ts_store_opts o = {0};
    o.fsync = TS_FSYNC_GROUP;
    o.sync_lanes = lanes;
    o.vfs = vfs;
    struct ts_store *s = open_store(&o);
    if (s) {
        TEST_CHECK(ts_store_partition(s, "lanes", true, p) == 0);
    }
    return s;
}

/* A fresh directory and gate_store with 2 lanes, batch 'z' (offsets 0-2) already durable and the
 * gate armed (20 s bound). */
static struct ts_store *gate_store_seeded(struct ts_partition **p, struct ts_vfs *vfs)
{
    setup();
    struct ts_store *s = gate_store(2, p, vfs);
    if (s && *p) {
        struct one_append z = {*p, 'z', 0, -1};
        one_append_main(&z);
        TEST_CHECK(z.rc == 0 && z.first == 0);
    }
    gate_arm(20000);
    return s;
}

/* Starts a's append, waits until its sync has started, then starts b's. */
static void start_pair(struct one_append *a, pthread_t *ta, struct one_append *b, pthread_t *tb)
{
    pthread_create(ta, NULL, one_append_main, a);
    TEST_CHECK(gate_wait_started(1));
    pthread_create(tb, NULL, one_append_main, b);
}

/* With two lanes, a batch written while a sync runs gets a sync of its own at once; with one
 * lane it waits for the first to end (the control: the held sync runs out its bound). */
static void test_sync_lanes_overlap(void)
{
    for (int lanes = 2; lanes >= 1; lanes--) {
        setup();
        struct ts_vfs vfs;
        struct ts_partition *p = NULL;
        struct ts_store *s = gate_store(lanes, &p, &vfs);
        TEST_ASSERT(s != NULL && p != NULL);
        gate_arm(lanes == 2 ? 20000 : 300);
        gate.until_started[1] = 2; /* sync 1 waits for sync 2 to start */
        struct one_append a = {p, 'a', 0, -1}, b = {p, 'b', 0, -1};
        pthread_t ta, tb;
        start_pair(&a, &ta, &b, &tb);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        TEST_CHECK(a.rc == 0 && b.rc == 0);
        TEST_CHECK(a.first + b.first == 3); /* offsets 0 and 3, in either order */
        TEST_CHECK_(gate.max_in_flight == lanes, "lanes %d: %d syncs at once", lanes,
                    gate.max_in_flight);
        TEST_CHECK_(gate.held_out == (lanes == 1), "lanes %d: held out %d", lanes,
                    gate.held_out);
        TEST_CHECK(ts_partition_end_offset(p) == 6);
        ts_store_close(s);
        teardown();
    }
}

/* The first sync fails after a later one has succeeded: the later success covers bytes that
 * follow the failed ones and must not be published. Both batches fail, their bytes are cut,
 * and the partition goes on from the last durable record, also after a reopen. */
static void test_sync_lanes_order(void)
{
    struct ts_vfs vfs;
    struct ts_partition *p = NULL;
    struct ts_store *s = gate_store_seeded(&p, &vfs);
    TEST_ASSERT(s != NULL && p != NULL);
    gate.until_finished[1] = 1; /* sync 1 waits for sync 2 to return, then fails */
    gate.fail_mask = 1u << 1;
    struct one_append a = {p, 'a', 0, -1}, b = {p, 'b', 0, -1};
    pthread_t ta, tb;
    start_pair(&a, &ta, &b, &tb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    TEST_CHECK(!gate.held_out && gate.max_in_flight == 2);
    TEST_CHECK_(a.rc != 0, "the batch of the failed sync was acknowledged");
    TEST_CHECK_(b.rc != 0, "a later sync's success was published past an earlier failure");
    TEST_CHECK(ts_partition_end_offset(p) == 3);
    uint8_t buf[4096];
    struct ts_record r[8];
    size_t n = 9;
    uint64_t next = 0;
    TEST_CHECK(ts_partition_read(p, 3, buf, sizeof(buf), r, 8, &n, &next) == 0 && n == 0);
    struct one_append c = {p, 'c', 0, -1};
    one_append_main(&c);
    TEST_CHECK(c.rc == 0 && c.first == 3);
    ts_store_close(s);
    s = gate_store(2, &p, &vfs);
    TEST_ASSERT(s != NULL && p != NULL);
    TEST_CHECK(ts_partition_end_offset(p) == 6);
    TEST_CHECK(ts_partition_read(p, 3, buf, sizeof(buf), r, 8, &n, &next) == 0 && n == 3);
    TEST_CHECK(n == 3 && r[0].len == 600 && r[0].data[0] == 'c');
    ts_store_close(s);
    teardown();
}

/* A sync that started before a discard fails after it, while a later sync has made a batch
 * written after the discard durable. The old sync may be the one that saw that batch's
 * write-back error (the later one, on a file description opened after the error was
 * reported, would not), so its failure cuts every byte not yet durable: the new batch fails
 * too, and is gone after a reopen.
 *   sync 1 (batch a): waits for sync 2 to start, fails
 *   sync 3: the cut of a and b (ftruncate + fdatasync) by a's leader
 *   sync 4 (batch c, written after the cut): succeeds
 *   sync 2 (batch b): waits for syncs 1, 3 and 4 to return, fails
 *   sync 5: the cut of c by b's leader */
static void test_sync_lanes_stale_failure(void)
{
    struct ts_vfs vfs;
    struct ts_partition *p = NULL;
    struct ts_store *s = gate_store_seeded(&p, &vfs);
    TEST_ASSERT(s != NULL && p != NULL);
    gate.until_started[1] = 2;
    gate.until_finished[2] = 3;
    gate.fail_mask = 1u << 1 | 1u << 2;
    struct one_append a = {p, 'a', 0, -1}, b = {p, 'b', 0, -1}, c = {p, 'c', 0, -1};
    pthread_t ta, tb, tc;
    start_pair(&a, &ta, &b, &tb);
    pthread_join(ta, NULL); /* a's sync failed and a's leader has cut a and b */
    TEST_CHECK(a.rc != 0);
    pthread_create(&tc, NULL, one_append_main, &c);
    pthread_join(tb, NULL);
    pthread_join(tc, NULL);
    TEST_CHECK_(!gate.held_out && gate.started == 5, "held out %d, %d syncs", gate.held_out,
                gate.started);
    TEST_CHECK(b.rc != 0);
    TEST_CHECK_(c.rc != 0, "a batch was acknowledged past a failed sync that started earlier");
    TEST_CHECK(ts_partition_end_offset(p) == 3);
    ts_store_close(s);
    s = gate_store(2, &p, &vfs);
    TEST_ASSERT(s != NULL && p != NULL);
    TEST_CHECK(ts_partition_end_offset(p) == 3);
    struct one_append d = {p, 'd', 0, -1};
    one_append_main(&d);
    TEST_CHECK(d.rc == 0 && d.first == 3);
    ts_store_close(s);
    teardown();
}

/* The segment files of the one partition under d, in order (names are zero-padded offsets). */
static int list_logs(const char *d, char out[][1024], int max)
{
    char first[1024];
    if (!find_log(d, first, sizeof(first))) {
        return 0;
    }
    char pdir[1024];
    snprintf(pdir, sizeof(pdir), "%s", first);
    *strrchr(pdir, '/') = '\0';
    DIR *dp = opendir(pdir);
    int n = 0;
    struct dirent *e;
    while (dp && n < max && (e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".log") == 0) {
            int w = snprintf(out[n], 1024, "%s/%s", pdir, e->d_name);
            n += w > 0 && w < 1024;
        }
    }
    if (dp) {
        closedir(dp);
    }
    qsort(out, (size_t)n, 1024, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* Drop-behind across rolls: once the active segment holds a window's worth, every sealed
 * segment has left the cache whole (before, each kept its last window cached for good). */
static void test_drop_behind_roll(void)
{
    struct statfs fs;
    TEST_ASSERT(statfs(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", &fs) == 0);
    if (fs.f_type == 0x01021994 /* TMPFS_MAGIC */) {
        TEST_MSG("skipped: TMPDIR is tmpfs");
        return;
    }
    enum { REC = 64 * 1024, PER = 4, BATCHES = 38 }; /* 15 batches a segment, 8 in the third */
    static uint8_t buf[REC];
    for (int k = 0; k < 4; k++) {
        bool control = k == 3; /* a window of a whole segment: drop-behind off */
        setup();
        struct ts_partition *p;
        struct ts_store *s = drop_store(k, 4 << 20, 1 << 20, "drop/roll", &p);
        TEST_ASSERT(s && p);
        for (int b = 0; b < BATCHES; b++) {
            struct ts_record_in in[PER];
            for (int i = 0; i < PER; i++) {
                in[i] = (struct ts_record_in){buf, REC};
            }
            memset(buf, 'a' + b % 26, REC);
            uint64_t first;
            TEST_CHECK(ts_partition_append(p, in, PER, 0, &first) == 0);
            if (k == 2) { /* interval */
                TEST_CHECK(ts_store_sync(s) == 0);
            }
        }
        static char logs[8][1024];
        int n = list_logs(dir, logs, 8);
        TEST_CHECK_(n == 3, "%d segments", n);
        TEST_ASSERT(n == 3);
        for (int i = 0; i < 2; i++) {
            struct stat st;
            TEST_ASSERT(stat(logs[i], &st) == 0);
            long cached = resident_pages(logs[i], 0, st.st_size);
            if (control) {
                TEST_CHECK_(cached > 0, "control: sealed segment %d not cached", i);
            } else {
                TEST_CHECK_(cached == 0, "policy %d: %ld pages of sealed segment %d cached", k,
                            cached, i);
            }
        }
        struct stat st;
        TEST_ASSERT(stat(logs[2], &st) == 0);
        TEST_CHECK_(resident_pages(logs[2], st.st_size - (1 << 20), st.st_size) > 0,
                    "policy %d: the window of the active segment is not cached", k);
        uint8_t rbuf[REC + 256];
        struct ts_record r[1];
        size_t got = 0;
        uint64_t next = 0;
        TEST_CHECK(ts_partition_read(p, 14 * PER, rbuf, sizeof(rbuf), r, 1, &got, &next) == 0);
        TEST_CHECK(got == 1 && r[0].len == REC && r[0].data[0] == 'a' + 14);
        ts_store_close(s);
        teardown();
    }
    ts_metrics_shutdown();
}

/* Frames n records of seq from seq0 (lengths from tu_payload) into buf as
 * ts_partition_append_framed takes them; returns the bytes used. */
static size_t frame_batch(uint8_t *buf, struct ts_frame_in *fr, uint64_t seq0, int n)
{
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        memset(buf + at, 0xEE, TS_STORE_RECORD_OVERHEAD); /* the store must overwrite it */
        uint8_t *d = buf + at + TS_STORE_RECORD_OVERHEAD;
        size_t len = tu_payload(seq0 + (uint64_t)i, MAXLEN, d);
        fr[i] = (struct ts_frame_in){(uint32_t)len, ts_crc32c(0, d, len)};
        at += TS_STORE_RECORD_OVERHEAD + len;
    }
    return at;
}

static void test_append_framed(void)
{
    setup();
    struct ts_store *s = open_store(NULL);
    TEST_ASSERT(s != NULL);
    struct ts_partition *a = NULL, *b = NULL;
    TEST_ASSERT(ts_store_partition(s, "k/plain", true, &a) == 0);
    TEST_ASSERT(ts_store_partition(s, "k/framed", true, &b) == 0);
    /* The same records, at the same times, once through each entry point; in b the two
     * forms alternate. Record lengths run from 0 to MAXLEN (both CRC paths of the data). */
    static uint8_t fbuf[8 * (MAXLEN + TS_STORE_RECORD_OVERHEAD)];
    struct ts_frame_in fr[8];
    uint8_t pbuf[8][MAXLEN];
    struct ts_record_in in[8];
    uint64_t seq = 0;
    for (int batch = 0; batch < 40; batch++) {
        int per = 1 + batch % 8;
        int64_t t = 1000 + batch;
        for (int i = 0; i < per; i++) {
            in[i].data = pbuf[i];
            in[i].len = tu_payload(seq + (uint64_t)i, MAXLEN, pbuf[i]);
        }
        uint64_t fa = 0, fb = 0;
        TEST_CHECK(ts_partition_append(a, in, (size_t)per, t, &fa) == 0);
        if (batch % 3 == 2) {
            TEST_CHECK(ts_partition_append(b, in, (size_t)per, t, &fb) == 0);
        } else {
            frame_batch(fbuf, fr, seq, per);
            TEST_CHECK(ts_partition_append_framed(b, fbuf, fr, (size_t)per, t, &fb) == 0);
        }
        TEST_CHECK(fa == seq && fb == seq);
        seq += (uint64_t)per;
    }
#ifndef NDEBUG
    /* debug builds check the caller's CRCs: a wrong one appends nothing */
    frame_batch(fbuf, fr, seq, 3);
    fr[1].crc ^= 1;
    uint64_t off = 0;
    TEST_CHECK(ts_partition_append_framed(b, fbuf, fr, 3, 0, &off) == TS_EINVAL);
    TEST_CHECK(ts_partition_end_offset(b) == seq);
#endif
    /* Both logs hold the same bytes, headers included, and read back (CRCs checked) as the
     * records written, also after a reopen (the recovery scan checks every frame). */
    for (int pass = 0; pass < 2; pass++) {
        static uint8_t ba[64 * 1024], bb[64 * 1024];
        struct ts_record ra[64], rb[64];
        size_t na = 0, nb = 0;
        uint64_t xa = 0, xb = 0;
        TEST_CHECK(ts_partition_read(a, 0, ba, sizeof(ba), ra, 64, &na, &xa) == 0);
        TEST_CHECK(ts_partition_read(b, 0, bb, sizeof(bb), rb, 64, &nb, &xb) == 0);
        TEST_CHECK(na == nb && na > 0 && xa == xb);
        for (size_t i = 0; i < na && i < nb; i++) {
            if (!TEST_CHECK(!ra[i].gap && !rb[i].gap && rb[i].ts_ms == ra[i].ts_ms &&
                            rb[i].len == ra[i].len)) {
                break;
            }
            TEST_CHECK(memcmp(rb[i].data - TS_STORE_RECORD_OVERHEAD,
                              ra[i].data - TS_STORE_RECORD_OVERHEAD,
                              TS_STORE_RECORD_OVERHEAD + ra[i].len) == 0);
        }
        TEST_CHECK(verify_all(b, 0) == seq);
        if (pass == 0) {
            ts_store_close(s);
            s = open_store(NULL);
            TEST_ASSERT(s != NULL);
            TEST_ASSERT(ts_store_partition(s, "k/plain", false, &a) == 0);
            TEST_ASSERT(ts_store_partition(s, "k/framed", false, &b) == 0);
        }
    }
    /* bad arguments */
    uint64_t first;
    TEST_CHECK(ts_partition_append_framed(b, NULL, fr, 1, 0, &first) == TS_EINVAL);
    TEST_CHECK(ts_partition_append_framed(b, fbuf, NULL, 1, 0, &first) == TS_EINVAL);
    TEST_CHECK(ts_partition_append_framed(b, fbuf, fr, 0, 0, &first) == TS_EINVAL);
    ts_store_close(s);
    teardown();
}

TEST_LIST = {
    {"append_read", test_append_read},
    {"append_framed", test_append_framed},
    {"read_bounds", test_read_bounds},
    {"roll_reopen_index", test_roll_reopen_index},
    {"names_list_delete", test_names_list_delete},
    {"retention", test_retention},
    {"wait", test_wait},
    {"concurrent_group", test_concurrent_group},
    {"concurrent_always", test_concurrent_always},
    {"concurrent_interval", test_concurrent_interval},
    {"interval_visibility", test_interval_visibility},
    {"drop_behind", test_drop_behind},
    {"drop_behind_roll", test_drop_behind_roll},
    {"sync_lanes_overlap", test_sync_lanes_overlap},
    {"sync_lanes_order", test_sync_lanes_order},
    {"sync_lanes_stale_failure", test_sync_lanes_stale_failure},
    {NULL, NULL},
};
