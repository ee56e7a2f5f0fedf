/*
 * bench_raw_write.c - the disk's own rate for what PutLogEvents writes: a plain loop of 1 MiB
 * pwrite + fdatasync (one durable batch per call, as the store's group commit does at best)
 * into a new file in DIR for SECONDS, from one thread. Prints MB/s. The file is removed.
 *
 *   bench_raw_write DIR SECONDS
 *
 * DIR must be on the disk being measured (bench/logs/run.sh passes the servers' data disk).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trailstream/ts_core.h"

#define CHUNK ((size_t)1 << 20)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_raw_write DIR SECONDS\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    char path[4096];
    snprintf(path, sizeof(path), "%s/raw-write.bench", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *buf = malloc(CHUNK);
    if (fd < 0 || !buf) {
        perror("bench_raw_write");
        return 1;
    }
    /* JSON-like bytes, not zeros: nothing below may treat the data specially */
    for (size_t i = 0; i < CHUNK; i++) {
        buf[i] = "{\"eventName\":\"GetObject\",\"awsRegion\":\"us-east-1\"}\n"[i % 50];
    }
    uint64_t t0 = ts_mono_ns(), t;
    off_t off = 0;
    do {
        if (pwrite(fd, buf, CHUNK, off) != (ssize_t)CHUNK || fdatasync(fd) != 0) {
            perror("bench_raw_write");
            unlink(path);
            return 1;
        }
        off += (off_t)CHUNK;
        t = ts_mono_ns();
    } while ((double)(t - t0) / 1e9 < seconds);
    close(fd);
    unlink(path);
    free(buf);
    printf("%.1f\n", (double)off / ((double)(t - t0) / 1e9) / 1e6);
    return 0;
}
