/* test_store_corrupt.c - damaged files: bit flips and truncations of segment and index files
 * are detected, reported (events, /metrics, store-check naming file and byte), never crash the
 * store and are never returned as data; the store-check command's exit codes. */
#include "store_test_util.h"
#include "ts_test.h"

#include <fcntl.h>

#define MAXLEN 600
#define NREC 120

static char tmpl[512];   /* pristine store, built once */
static char dir[512];    /* damaged copy */
static int64_t pos_of[NREC + 1];

static void copy_tree(const char *from, const char *to)
{
    mkdir(to, 0755);
    DIR *d = opendir(from);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "LOCK") == 0) {
            continue;
        }
        char a[4096], b[4096];
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        struct stat st;
        stat(a, &st);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(a, b);
            continue;
        }
        int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[65536];
        ssize_t r;
        while ((r = read(in, buf, sizeof(buf))) > 0) {
            TEST_CHECK(write(out, buf, (size_t)r) == r);
        }
        close(in);
        close(out);
    }
    if (d) {
        closedir(d);
    }
}

/* One record per batch, 8 KiB segments: several sealed segments plus an active one. */
static void build_template(void)
{
    TEST_CHECK(tu_mkdtemp(tmpl, sizeof(tmpl), "tmpl") == 0);
    struct ts_store_opts o = {0};
    o.segment_max_bytes = 8192;
    o.index_interval_bytes = 512;
    struct ts_store *s;
    TEST_ASSERT(ts_store_open(tmpl, &o, &s) == 0);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "c", true, &p) == 0);
    uint8_t b[MAXLEN];
    int64_t pos = 0;
    uint64_t seg_bytes = 0;
    for (uint64_t i = 0; i < NREC; i++) {
        struct ts_record_in in = {b, tu_payload(i, MAXLEN, b)};
        if (seg_bytes > 0 && seg_bytes + 32 + in.len > 8192) {
            pos = 0;
            seg_bytes = 0;
        }
        pos_of[i] = pos;
        uint64_t off;
        TEST_CHECK(ts_partition_append(p, &in, 1, 0, &off) == 0 && off == i);
        pos += 32 + (int64_t)in.len;
        seg_bytes += 32 + in.len;
    }
    ts_store_close(s);
}

struct seginfo {
    char path[4096];
    uint64_t base;
    int64_t size;
    bool is_idx;
};

static int list_files(struct seginfo *out, int max)
{
    char pd[1024];
    snprintf(pd, sizeof(pd), "%s/partitions/c", dir);
    DIR *d = opendir(pd);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL && n < max) {
        size_t l = strlen(e->d_name);
        bool log = l > 4 && strcmp(e->d_name + l - 4, ".log") == 0;
        bool idx = l > 4 && strcmp(e->d_name + l - 4, ".idx") == 0;
        if (!log && !idx) {
            continue;
        }
        snprintf(out[n].path, sizeof(out[n].path), "%s/%s", pd, e->d_name);
        out[n].base = strtoull(e->d_name, NULL, 10);
        out[n].is_idx = idx;
        struct stat st;
        stat(out[n].path, &st);
        out[n].size = st.st_size;
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static void flip(const char *path, int64_t pos, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t c = 0;
    TEST_CHECK(pread(fd, &c, 1, pos) == 1);
    c ^= mask;
    TEST_CHECK(pwrite(fd, &c, 1, pos) == 1);
    close(fd);
}

static void cut(const char *path, int64_t len)
{
    TEST_CHECK(truncate(path, len) == 0);
}

/* Runs store-check into a buffer. */
static uint64_t run_check(struct ts_buf *out)
{
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    struct ts_store_check_result res;
    TEST_CHECK(ts_store_check(dir, f, &res) == 0);
    fclose(f);
    ts_buf_reset(out);
    ts_buf_add(out, mem, len);
    free(mem); /* allocated by open_memstream with libc malloc */
    return res.damaged;
}

/* Opens the damaged store and reads everything: records must be exact, damage only as gaps.
 * Returns the number of records served. */
static uint64_t read_back(struct tu_events *ev, uint64_t *gaps, uint64_t *end_out)
{
    struct ts_store_opts o = {0};
    o.segment_max_bytes = 8192;
    o.on_event = tu_on_event;
    o.event_ctx = ev;
    struct ts_store *s = NULL;
    int rc = ts_store_open(dir, &o, &s);
    TEST_CHECK_(rc == 0, "open damaged store: %s", ts_strerror(rc));
    if (rc) {
        return 0;
    }
    struct ts_partition *p;
    uint64_t served = 0;
    *gaps = 0;
    TEST_CHECK(ts_store_partition(s, "c", false, &p) == 0);
    static uint8_t buf[64 * 1024];
    struct ts_record r[32];
    uint64_t cur = ts_partition_start_offset(p);
    uint64_t end = ts_partition_end_offset(p);
    while (cur < end) {
        size_t n;
        uint64_t next;
        rc = ts_partition_read(p, cur, buf, sizeof(buf), r, 32, &n, &next);
        TEST_CHECK_(rc == 0 && n > 0, "read at %llu: %s", (unsigned long long)cur,
                    ts_strerror(rc));
        if (rc || n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (r[i].gap) {
                (*gaps)++;
                TEST_CHECK(r[i].gap_end > r[i].offset);
                continue;
            }
            TEST_CHECK_(tu_check(r[i].data, r[i].len, MAXLEN) == r[i].offset,
                        "damaged data served as record %llu", (unsigned long long)r[i].offset);
            served++;
        }
        TEST_CHECK(next > cur);
        cur = next;
    }
    /* Appends still work after damage. */
    uint8_t b[MAXLEN];
    struct ts_record_in in = {b, tu_payload(end, MAXLEN, b)};
    uint64_t off;
    TEST_CHECK(ts_partition_append(p, &in, 1, 0, &off) == 0 && off == end);
    *end_out = end;
    ts_store_close(s);
    return served;
}

static void fresh_copy(void)
{
    TEST_CHECK(tu_mkdtemp(dir, sizeof(dir), "corrupt") == 0);
    copy_tree(tmpl, dir);
}

static void test_payload_flip_sealed(void)
{
    build_template();
    fresh_copy();
    /* Record 5 lives in the first (sealed) segment. */
    char seg0[1024];
    snprintf(seg0, sizeof(seg0), "%s/partitions/c/00000000000000000000.log", dir);
    flip(seg0, pos_of[5] + 32 + 20, 0x10);
    struct ts_buf out;
    ts_buf_init(&out, 1 << 20);
    TEST_CHECK(run_check(&out) == 1);
    char want[1200];
    snprintf(want, sizeof(want), "DAMAGE %s byte %lld: bad crc (record offset 5)", seg0,
             (long long)pos_of[5]);
    TEST_CHECK_(strstr(out.data, want) != NULL, "store-check output:\n%s", out.data);
    ts_metrics_init();
    struct tu_events ev = {0};
    uint64_t gaps, end;
    uint64_t served = read_back(&ev, &gaps, &end);
    TEST_CHECK(served == NREC - 1 && gaps == 1 && end == NREC);
    TEST_CHECK(ev.n[TS_STORE_EV_CORRUPT] == 1 && ev.last_pos == pos_of[5]);
    TEST_CHECK(strcmp(ev.last_path, seg0) == 0);
    TEST_CHECK(ts_metric_get("ts_store_corrupt_records_total", NULL) == 1);
    ts_metrics_shutdown();
    /* The exact gap: 0..4, gap [5,6), 6.. */
    struct ts_store *s;
    TEST_ASSERT(ts_store_open(dir, NULL, &s) == 0);
    struct ts_partition *p;
    TEST_ASSERT(ts_store_partition(s, "c", false, &p) == 0);
    uint8_t buf[64 * 1024];
    struct ts_record r[16];
    size_t n;
    uint64_t next;
    TEST_CHECK(ts_partition_read(p, 0, buf, sizeof(buf), r, 16, &n, &next) == 0);
    TEST_CHECK(n == 5 && next == 5);
    TEST_CHECK(ts_partition_read(p, 5, buf, sizeof(buf), r, 16, &n, &next) == 0);
    TEST_CHECK(n >= 1 && r[0].gap && r[0].offset == 5 && r[0].gap_end == 6);
    TEST_CHECK(ts_partition_read(p, 6, buf, sizeof(buf), r, 16, &n, &next) == 0);
    TEST_CHECK(n >= 1 && !r[0].gap && r[0].offset == 6);
    ts_store_close(s);
    ts_buf_free(&out);
    tu_rmrf(dir);
}

static void test_tail_truncation_and_garbage(void)
{
    fresh_copy();
    struct seginfo f[64];
    int n = list_files(f, 64);
    /* The active (last) segment: cut its last record in half. */
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (!f[i].is_idx && (last < 0 || f[i].base > f[last].base)) {
            last = i;
        }
    }
    TEST_ASSERT(last >= 0);
    cut(f[last].path, pos_of[NREC - 1] + 40);
    struct ts_buf out;
    ts_buf_init(&out, 1 << 20);
    TEST_CHECK(run_check(&out) >= 1 && strstr(out.data, f[last].path) != NULL);
    struct tu_events ev = {0};
    uint64_t gaps, end;
    uint64_t served = read_back(&ev, &gaps, &end);
    TEST_CHECK(served == NREC - 1 && gaps == 0 && end == NREC - 1);
    TEST_CHECK(ev.n[TS_STORE_EV_TRUNCATED] == 1 && ev.last_pos == pos_of[NREC - 1]);
    TEST_CHECK_(run_check(&out) == 0, "after recovery:\n%s", out.data);
    /* Garbage after the last record: cut, never served. */
    int fd = open(f[last].path, O_WRONLY | O_APPEND);
    uint8_t junk[333];
    memset(junk, 0x54, sizeof(junk));
    TEST_CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    memset(&ev, 0, sizeof(ev));
    served = read_back(&ev, &gaps, &end);
    TEST_CHECK(served == NREC && gaps == 0 && end == NREC);
    TEST_CHECK(ev.n[TS_STORE_EV_TRUNCATED] == 1);
    ts_buf_free(&out);
    tu_rmrf(dir);
}

static void test_index_damage(void)
{
    fresh_copy();
    struct seginfo f[64];
    int n = list_files(f, 64);
    int done = 0;
    bool cut_one = false;
    for (int i = 0; i < n; i++) {
        if (f[i].is_idx && f[i].base == 0) {
            flip(f[i].path, f[i].size / 2, 0x01);
            done++;
        } else if (f[i].is_idx && !cut_one) {
            cut(f[i].path, f[i].size - 5);
            cut_one = true;
            done++;
        }
    }
    TEST_CHECK(done == 2);
    struct ts_buf out;
    ts_buf_init(&out, 1 << 20);
    TEST_CHECK(run_check(&out) == 2);
    TEST_CHECK(strstr(out.data, "00000000000000000000.idx byte 0: bad index crc") != NULL);
    struct tu_events ev = {0};
    uint64_t gaps, end;
    TEST_CHECK(read_back(&ev, &gaps, &end) == NREC && gaps == 0);
    TEST_CHECK(ev.n[TS_STORE_EV_INDEX_REBUILT] == 2);
    TEST_CHECK_(run_check(&out) == 0, "after rebuild:\n%s", out.data);
    ts_buf_free(&out);
    tu_rmrf(dir);
}

/* Random damage: any file, any position, flip/truncate/zero. Never a crash, never bad data. */
static void test_random_damage(void)
{
    uint64_t st = 12345;
    struct ts_buf out;
    ts_buf_init(&out, 1 << 20);
    for (int iter = 0; iter < 150; iter++) {
        fresh_copy();
        struct seginfo f[64];
        int n = list_files(f, 64);
        st = tu_mix(st + (uint64_t)iter);
        struct seginfo *x = &f[st % (uint64_t)n];
        int64_t pos = x->size ? (int64_t)(tu_mix(st) % (uint64_t)x->size) : 0;
        int op = (int)(tu_mix(st ^ 7) % 3);
        if (op == 0) {
            flip(x->path, pos, (uint8_t)(1u << (st % 8)));
        } else if (op == 1) {
            cut(x->path, pos);
        } else {
            int fd = open(x->path, O_WRONLY);
            uint8_t z[64] = {0};
            TEST_CHECK(pwrite(fd, z, (size_t)TS_MIN(64, x->size - pos), pos) >= 0);
            close(fd);
        }
        uint64_t damaged = run_check(&out);
        const char *base = strrchr(x->path, '/') + 1;
        if (damaged) {
            TEST_CHECK_(strstr(out.data, base) != NULL, "check does not name %s:\n%s", base,
                        out.data);
        }
        struct tu_events ev = {0};
        uint64_t gaps, end;
        uint64_t served = read_back(&ev, &gaps, &end);
        /* A flip that changed nothing visible (e.g. in a zeroed range) is not damage. */
        TEST_CHECK(served <= NREC);
        if (served < NREC && !(x->is_idx)) {
            TEST_CHECK(ev.n[TS_STORE_EV_CORRUPT] + ev.n[TS_STORE_EV_TRUNCATED] > 0);
        }
        if (ts_test_failures) {
            TEST_MSG("iteration %d: op %d on %s at %lld", iter, op, x->path, (long long)pos);
            break;
        }
        tu_rmrf(dir);
    }
    ts_buf_free(&out);
}

/* The command: exit codes and output. */
static void test_store_check_command(void)
{
    fresh_copy();
    char *argv_ok[] = {"store-check", dir, NULL};
    char *argv_bad[] = {"store-check", NULL};
    fflush(stdout);
    int saved = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    int rc_ok = ts_cmd_store_check(2, argv_ok);
    int rc_usage = ts_cmd_store_check(1, argv_bad);
    char seg0[1024];
    snprintf(seg0, sizeof(seg0), "%s/partitions/c/00000000000000000000.log", dir);
    flip(seg0, pos_of[3] + 4, 0x80);
    int rc_damaged = ts_cmd_store_check(2, argv_ok);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    char *argv_missing[] = {"store-check", missing, NULL};
    int rc_missing = ts_cmd_store_check(2, argv_missing);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    TEST_CHECK(rc_ok == 0);
    TEST_CHECK(rc_usage == 2);
    TEST_CHECK(rc_damaged == 1);
    TEST_CHECK(rc_missing == 2);
    tu_rmrf(dir);
    tu_rmrf(tmpl);
}

TEST_LIST = {
    {"payload_flip_sealed", test_payload_flip_sealed},
    {"tail_truncation_and_garbage", test_tail_truncation_and_garbage},
    {"index_damage", test_index_damage},
    {"random_damage", test_random_damage},
    {"store_check_command", test_store_check_command},
    {NULL, NULL},
};
