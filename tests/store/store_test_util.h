/*
 * store_test_util.h - helpers shared by the store tests: temporary data directories under
 * $TMPDIR, deterministic record payloads that verify themselves, and a fake clock.
 */
#ifndef STORE_TEST_UTIL_H
#define STORE_TEST_UTIL_H

#include "trailstream/ts_store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) into out. Returns 0 or -1. */
static inline int tu_mkdtemp(char *out, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/ts-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

/* Removes a directory tree (depth-first). */
static inline void tu_rmrf(const char *path)
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
            tu_rmrf(sub);
        } else {
            unlink(sub);
        }
    }
    closedir(d);
    rmdir(path);
}

static inline uint64_t tu_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Payload of record number `seq`: 8 bytes seq, 4 bytes length, then bytes derived from seq.
 * Its length is derived from seq too (16..max_len). */
static inline size_t tu_payload(uint64_t seq, size_t max_len, uint8_t *out)
{
    size_t len = 16 + (size_t)(tu_mix(seq) % (max_len - 15));
    uint64_t st = tu_mix(seq ^ 0x5bd1e995ull);
    memcpy(out, &seq, 8);
    uint32_t l32 = (uint32_t)len;
    memcpy(out + 8, &l32, 4);
    for (size_t i = 12; i < len; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(st >> 56);
    }
    return len;
}

/* Checks a payload made by tu_payload; returns its seq, or UINT64_MAX if it is not one. */
static inline uint64_t tu_check(const uint8_t *p, size_t len, size_t max_len)
{
    uint8_t tmp[1 << 16];
    if (len < 16 || len > sizeof(tmp) || max_len > sizeof(tmp)) {
        return UINT64_MAX;
    }
    uint64_t seq;
    memcpy(&seq, p, 8);
    size_t want = tu_payload(seq, max_len, tmp);
    if (want != len || memcmp(tmp, p, len) != 0) {
        return UINT64_MAX;
    }
    return seq;
}

/* A settable clock for tests. */
struct tu_clock {
    struct ts_clock clock;
    int64_t now;
};

static inline int64_t tu_clock_now(void *ctx)
{
    return ((struct tu_clock *)ctx)->now;
}

static inline void tu_clock_init(struct tu_clock *c, int64_t now)
{
    c->now = now;
    c->clock.now_ms = tu_clock_now;
    c->clock.ctx = c;
}

/* Counts events by kind. */
struct tu_events {
    int n[8];
    char last_path[512];
    int64_t last_pos;
};

static inline void tu_on_event(void *ctx, const struct ts_store_event *ev)
{
    struct tu_events *e = ctx;
    e->n[ev->kind]++;
    if (ev->path) {
        snprintf(e->last_path, sizeof(e->last_path), "%s", ev->path);
    }
    e->last_pos = ev->file_pos;
}

#endif
