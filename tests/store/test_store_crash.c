/* test_store_crash.c - SIGKILL crash test. A writer process (store_crash_writer) appends
 * batches and reports every acknowledged batch on a pipe; it is killed with SIGKILL at random
 * moments, over and over. After each kill the store is reopened (recovered) and checked:
 * every acknowledged record is present, byte-exact, in order; within each writer run (and
 * writer thread, with POLICY:THREADS) no unacknowledged record precedes the last acknowledged
 * one; batches are whole; nothing corrupt
 * is ever served. Every third round the check is skipped so that the next writer itself
 * recovers from the crash. A final pass re-checks the whole log and runs store-check.
 *
 * usage: test_store_crash WRITER always|group|interval[:THREADS] [KILLS] [SEED] */
#include "store_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

struct crash_msg {
    uint32_t kind;
    uint32_t n;
    uint64_t first;
    uint64_t seq0;
    uint64_t ack_ms;
};

#define CRASH_MAXLEN 400
#define WAIT_MS 30000

struct ack {
    uint64_t first;
    uint64_t seq0;
    uint32_t n;
};

static struct ack *acks;
static size_t n_acks, cap_acks;
static int failures;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, "\n");                                                                \
        }                                                                                         \
    } while (0)

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return tu_mix(rng_state);
}

static void add_ack(const struct crash_msg *m)
{
    if (n_acks == cap_acks) {
        cap_acks = cap_acks ? cap_acks * 2 : 1024;
        acks = ts_realloc(acks, cap_acks * sizeof(*acks));
        if (!acks) {
            abort();
        }
    }
    acks[n_acks++] = (struct ack){m->first, m->seq0, m->n};
}

/* Reads one message, waiting at most WAIT_MS. Returns 1, 0 at EOF, -1 on timeout/error. */
static int read_msg(int fd, struct crash_msg *m)
{
    size_t got = 0;
    while (got < sizeof(*m)) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, WAIT_MS);
        if (pr <= 0) {
            return -1;
        }
        ssize_t r = read(fd, (char *)m + got, sizeof(*m) - got);
        if (r == 0) {
            return got == 0 ? 0 : -1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

/* Verifies offsets [from, end) of the recovered partition against the acks. */
static void verify_range(struct ts_partition *p, uint64_t from, const char *when)
{
    uint64_t end = ts_partition_end_offset(p);
    /* Expected seq per offset, from the acks that fall in range. */
    uint64_t span = end > from ? end - from : 0;
    uint64_t *want = ts_calloc(span + 1, sizeof(*want));
    uint64_t last_acked_end = from;
    for (size_t i = 0; i < n_acks; i++) {
        if (acks[i].first + acks[i].n <= from) {
            continue;
        }
        CHECK(acks[i].first + acks[i].n <= end, "%s: acked batch [%llu,+%u) beyond end %llu",
              when, (unsigned long long)acks[i].first, acks[i].n, (unsigned long long)end);
        for (uint32_t k = 0; k < acks[i].n; k++) {
            uint64_t off = acks[i].first + k;
            if (off >= from && off < end) {
                want[off - from] = (acks[i].seq0 & ~(uint64_t)0xf0) | (uint64_t)k << 4;
            }
        }
        if (acks[i].first + acks[i].n > last_acked_end) {
            last_acked_end = acks[i].first + acks[i].n;
        }
    }
    static uint8_t buf[256 * 1024];
    struct ts_record r[128];
    uint64_t cur = from;
    uint64_t run_last = 0;
    uint32_t batch_left = 0;
    while (cur < end) {
        size_t n;
        uint64_t next;
        int rc = ts_partition_read(p, cur, buf, sizeof(buf), r, 128, &n, &next);
        CHECK(rc == 0 && n > 0, "%s: read at %llu: %s", when, (unsigned long long)cur,
              ts_strerror(rc));
        if (rc || n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t off = r[i].offset;
            CHECK(!r[i].gap, "%s: gap [%llu,%llu) in a SIGKILL crash", when,
                  (unsigned long long)off, (unsigned long long)r[i].gap_end);
            if (r[i].gap) {
                continue;
            }
            uint64_t seq = tu_check(r[i].data, r[i].len, CRASH_MAXLEN);
            CHECK(seq != UINT64_MAX, "%s: corrupt record served at %llu", when,
                  (unsigned long long)off);
            if (seq == UINT64_MAX) {
                continue;
            }
            uint64_t run = seq >> 40, idx = seq >> 4 & 15, bn = seq & 15;
            CHECK(run >= run_last, "%s: run %llu after run %llu at %llu", when,
                  (unsigned long long)run, (unsigned long long)run_last, (unsigned long long)off);
            run_last = run;
            if (batch_left == 0) {
                CHECK(idx == 0, "%s: batch starts mid-way at %llu", when, (unsigned long long)off);
                batch_left = (uint32_t)bn;
            }
            batch_left--;
            if (want[off - from]) {
                CHECK(seq == want[off - from], "%s: offset %llu holds %llx, acked %llx", when,
                      (unsigned long long)off, (unsigned long long)seq,
                      (unsigned long long)want[off - from]);
            }
        }
        cur = next;
    }
    CHECK(batch_left == 0, "%s: log ends inside a batch", when);
    for (uint64_t off = from; off < last_acked_end && off < end; off++) {
        /* Acknowledged offsets all verified above; here: nothing unacknowledged of the same
         * run sits before that run's last acknowledged record. */
        if (!want[off - from]) {
            size_t n;
            uint64_t next;
            int rc = ts_partition_read(p, off, buf, sizeof(buf), r, 1, &n, &next);
            uint64_t seq = rc == 0 && n == 1 && !r[0].gap
                               ? tu_check(r[0].data, r[0].len, CRASH_MAXLEN)
                               : UINT64_MAX;
            uint64_t stream = seq >> 32; /* writer run and thread */
            bool later_ack = false;
            for (size_t i = 0; i < n_acks && seq != UINT64_MAX; i++) {
                later_ack |= (acks[i].seq0 >> 32) == stream && acks[i].first > off;
            }
            CHECK(!later_ack, "%s: unacknowledged record at %llu before an acknowledged one "
                  "of the same writer thread", when, (unsigned long long)off);
        }
    }
    ts_free(want);
}

static const char *policy;
static const char *writer;
static char dir[512];

static pid_t spawn(uint64_t run, int *rfd)
{
    int fds[2];
    if (pipe(fds) < 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char runs[32], fds1[32];
        snprintf(runs, sizeof(runs), "%llu", (unsigned long long)run);
        snprintf(fds1, sizeof(fds1), "%d", fds[1]);
        execl(writer, writer, dir, policy, runs, fds1, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *rfd = fds[0];
    return pid;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WRITER always|group|interval[:THREADS] [KILLS] [SEED]\n",
                argv[0]);
        return 2;
    }
    writer = argv[1];
    policy = argv[2];
    int64_t kills = 110, seed = (int64_t)(ts_mono_ns() ^ (uint64_t)getpid());
    if (argc > 3 && ts_parse_i64(argv[3], &kills)) {
        return 2;
    }
    if (argc > 4 && ts_parse_i64(argv[4], &seed)) {
        return 2;
    }
    rng_state = (uint64_t)seed;
    fprintf(stderr, "crash test: policy %s, %lld kills, seed %lld\n", policy, (long long)kills,
            (long long)seed);
    if (tu_mkdtemp(dir, sizeof(dir), "crash")) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    uint64_t t0 = ts_mono_ns();
    uint64_t verified_from = 0;
    int64_t done = 0;
    for (uint64_t run = 1; (int64_t)run <= kills && !failures; run++) {
        int rfd;
        pid_t pid = spawn(run, &rfd);
        CHECK(pid > 0, "fork failed");
        if (pid <= 0) {
            break;
        }
        struct crash_msg m;
        int r = read_msg(rfd, &m);
        CHECK(r == 1 && m.kind == 1, "run %llu: no hello from the writer",
              (unsigned long long)run);
        uint64_t want_acks = 1 + rnd() % 40;
        uint64_t got = 0;
        while (r == 1 && got < want_acks) {
            r = read_msg(rfd, &m);
            if (r == 1 && m.kind == 2) {
                add_ack(&m);
                got++;
            }
        }
        CHECK(r == 1, "run %llu: writer stopped reporting after %llu acks",
              (unsigned long long)run, (unsigned long long)got);
        /* Kill at a random moment of the next appends (timing only; nothing waits on it). */
        struct timespec d = {0, (long)(rnd() % 3000) * 1000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "run %llu: writer exited on its own (status %d)", (unsigned long long)run, status);
        /* Acks already in the pipe were sent before the kill: they count. */
        while ((r = read_msg(rfd, &m)) == 1) {
            if (m.kind == 2) {
                add_ack(&m);
            }
        }
        close(rfd);
        done++;
        if (run % 3 == 0 && (int64_t)run != kills) {
            continue; /* the next writer recovers this crash itself */
        }
        struct ts_store *s = NULL;
        struct ts_store_opts o = {0};
        o.segment_max_bytes = 64 * 1024;
        int rc = ts_store_open(dir, &o, &s);
        CHECK(rc == 0, "reopen after run %llu: %s", (unsigned long long)run, ts_strerror(rc));
        struct ts_partition *p = NULL;
        if (s && ts_store_partition(s, "crash/p", false, &p) == 0) {
            char when[64];
            snprintf(when, sizeof(when), "after kill %llu", (unsigned long long)run);
            verify_range(p, verified_from, when);
            verified_from = ts_partition_end_offset(p);
        } else {
            CHECK(false, "partition missing after run %llu", (unsigned long long)run);
        }
        ts_store_close(s);
    }
    /* Final: the whole log, every ack, and the offline checker. */
    struct ts_store *s = NULL;
    int rc = ts_store_open(dir, NULL, &s);
    CHECK(rc == 0, "final open: %s", ts_strerror(rc));
    struct ts_partition *p = NULL;
    if (s && ts_store_partition(s, "crash/p", false, &p) == 0) {
        verify_range(p, 0, "final");
        fprintf(stderr, "crash test: %lld kills, %zu acknowledged batches, %llu records\n",
                (long long)done, n_acks, (unsigned long long)ts_partition_end_offset(p));
    }
    ts_store_close(s);
    struct ts_store_check_result cr;
    FILE *devnull = fopen("/dev/null", "w");
    CHECK(ts_store_check(dir, devnull, &cr) == 0 && cr.damaged == 0, "store-check found damage");
    fclose(devnull);
    CHECK(done >= kills, "only %lld kills", (long long)done);
    fprintf(stderr, "crash test: %s in %.1f s (seed %lld)\n", failures ? "FAILED" : "ok",
            (double)(ts_mono_ns() - t0) / 1e9, (long long)seed);
    if (!failures) {
        tu_rmrf(dir);
    } else {
        fprintf(stderr, "crash test: data left in %s\n", dir);
    }
    ts_free(acks);
    return failures ? 1 : 0;
}
