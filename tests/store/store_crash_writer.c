/* store_crash_writer.c - the victim of the crash tests: opens the store in DIR with POLICY,
 * reports the end offset it recovered, then appends batches forever, reporting each
 * acknowledged batch on file descriptor FD, until it is killed with SIGKILL. With POLICY:N
 * (e.g. group:4) N threads append at once, each its own sequence of batches, so that
 * group-commit syncs overlap.
 *
 * usage: store_crash_writer DIR always|group|interval[:THREADS] RUN FD */
#include "store_test_util.h"

#include <pthread.h>
#include <time.h>

/* Side-channel message; one write() of it is atomic on a pipe (< PIPE_BUF). */
struct crash_msg {
    uint32_t kind; /* 1 hello (first = end offset after recovery), 2 ack */
    uint32_t n;
    uint64_t first;
    uint64_t seq0;
    uint64_t ack_ms;
};

#define CRASH_MAXLEN 400

/* run (24 bits) | thread (8) | batch (24) | index in batch (4) | batch size (4) */
static uint64_t crash_seq(uint64_t run, uint64_t thread, uint64_t batch, uint64_t idx,
                          uint64_t n)
{
    return run << 40 | thread << 32 | (batch & 0xffffff) << 8 | idx << 4 | n;
}

static int send_msg(int fd, const struct crash_msg *m)
{
    ssize_t w = write(fd, m, sizeof(*m));
    return w == (ssize_t)sizeof(*m) ? 0 : -1;
}

struct writer {
    struct ts_partition *p;
    uint64_t run;
    uint64_t thread;
    int fd;
};

static void *write_main(void *arg)
{
    struct writer *w = arg;
    uint8_t(*bufs)[CRASH_MAXLEN] = ts_malloc(8 * CRASH_MAXLEN);
    if (!bufs) {
        exit(1);
    }
    struct ts_record_in in[8];
    for (uint64_t b = 0;; b++) {
        uint32_t n = (uint32_t)(1 + tu_mix(w->run * 1315423911u + w->thread * 977 + b) % 8);
        for (uint32_t i = 0; i < n; i++) {
            in[i].data = bufs[i];
            in[i].len = tu_payload(crash_seq(w->run, w->thread, b, i, n), CRASH_MAXLEN, bufs[i]);
        }
        uint64_t first;
        int rc = ts_partition_append(w->p, in, n, 0, &first);
        if (rc) {
            fprintf(stderr, "writer: append: %s\n", ts_strerror(rc));
            exit(1);
        }
        /* Acknowledged: only now may the outside world learn about it. */
        struct crash_msg ack = {2, n, first, crash_seq(w->run, w->thread, b, 0, n),
                                ts_mono_ns() / 1000000};
        if (send_msg(w->fd, &ack)) {
            exit(1);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIR always|group|interval[:THREADS] RUN FD\n", argv[0]);
        return 2;
    }
    int64_t run, fd, threads = 1;
    if (ts_parse_i64(argv[3], &run) || ts_parse_i64(argv[4], &fd)) {
        return 2;
    }
    const char *colon = strchr(argv[2], ':');
    if (colon && (ts_parse_i64(colon + 1, &threads) || threads < 1 || threads > 16)) {
        return 2;
    }
    struct ts_store_opts o = {0};
    o.fsync = strncmp(argv[2], "always", 6) == 0     ? TS_FSYNC_ALWAYS
              : strncmp(argv[2], "interval", 8) == 0 ? TS_FSYNC_INTERVAL
                                                     : TS_FSYNC_GROUP;
    o.interval_ms = 20;
    o.segment_max_bytes = 64 * 1024;
    o.index_interval_bytes = 1024;
    struct ts_store *s = NULL;
    int rc = ts_store_open(argv[1], &o, &s);
    if (rc) {
        fprintf(stderr, "writer: open: %s\n", ts_strerror(rc));
        return 1;
    }
    struct ts_partition *p;
    rc = ts_store_partition(s, "crash/p", true, &p);
    if (rc) {
        fprintf(stderr, "writer: partition: %s\n", ts_strerror(rc));
        return 1;
    }
    struct ts_partition_stats st;
    ts_partition_stats(p, &st);
    struct crash_msg hello = {1, 0, st.written_offset, 0, 0};
    if (send_msg((int)fd, &hello)) {
        return 1;
    }
    struct writer w[16];
    pthread_t t[16];
    for (int64_t k = 0; k < threads; k++) {
        w[k] = (struct writer){p, (uint64_t)run, (uint64_t)k, (int)fd};
        if (k > 0 && pthread_create(&t[k], NULL, write_main, &w[k]) != 0) {
            return 1;
        }
    }
    write_main(&w[0]); /* never returns: the test kills the process */
    return 1;
}
