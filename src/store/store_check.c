/* store_check.c - the offline verifier behind `trailstream store-check DIR`.
 *
 * Reads everything, modifies nothing: every frame of every segment is CRC-checked, offsets must
 * be contiguous within and across segments, and every index entry must point at the record it
 * names. Each problem is printed as "DAMAGE <file> byte <pos>: <reason>". */
#include "store_int.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct names {
    char **v;
    size_t n;
    size_t cap;
};

static int add_name(void *arg, const char *name)
{
    struct names *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = ts_realloc(l->v, cap * sizeof(*v));
        if (!v) {
            return TS_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = ts_strdup(name);
    if (!l->v[l->n]) {
        return TS_ENOMEM;
    }
    l->n++;
    return 0;
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ts_free(l->v[i]);
    }
    ts_free(l->v);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

__attribute__((format(printf, 5, 6))) static void
damage(FILE *out, struct ts_store_check_result *res, const char *path, int64_t pos,
       const char *fmt, ...)
{
    va_list ap;
    fprintf(out, "DAMAGE %s byte %lld: ", path, (long long)(pos < 0 ? 0 : pos));
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fprintf(out, "\n");
    res->damaged++;
}

/* Verifies every index entry against the log. Returns the number of mismatches. */
static int check_index_entries(const struct ts_vfs *vfs, int fd, const struct ts__seg *g,
                               int64_t size, const struct ts__seg_scan *sr, FILE *out,
                               const char *ipath, struct ts_store_check_result *res)
{
    struct ts__scan s;
    if (ts__scan_init(&s, vfs, fd, size)) {
        return 0;
    }
    int bad = 0;
    for (size_t i = 0; i < g->n_idx; i++) {
        struct ts__rec r;
        int rc = ts__scan_at(&s, g->idx[i].pos, &r, NULL);
        bool log_damage = false;
        for (size_t k = 0; k < sr->n_bad; k++) {
            log_damage |= sr->bad[k].pos == (int64_t)g->idx[i].pos;
        }
        if (log_damage) {
            continue; /* the damaged record is reported once, against the log */
        }
        if (rc != TS_SCAN_OK || r.offset != g->base + g->idx[i].rel || r.ts_ms != g->idx[i].ts) {
            damage(out, res, ipath, (int64_t)(TS_IDX_HDR + i * TS_IDX_ENTRY),
                   "index entry (offset %llu, log byte %llu) does not match the log",
                   (unsigned long long)(g->base + g->idx[i].rel),
                   (unsigned long long)g->idx[i].pos);
            bad++;
        }
    }
    ts__scan_free(&s);
    return bad;
}

static void check_partition(const char *pdir, const char *enc, FILE *out,
                            struct ts_store_check_result *res)
{
    const struct ts_vfs *vfs = &ts_vfs_posix;
    char dir[3072], path[4096];
    int w = snprintf(dir, sizeof(dir), "%s/%s", pdir, enc);
    if (w < 0 || (size_t)w >= sizeof(dir)) {
        fprintf(out, "warning: path too long: %s/%s\n", pdir, enc);
        res->warnings++;
        return;
    }
    snprintf(path, sizeof(path), "%s/NAME", dir);
    struct ts_buf nb;
    ts_buf_init(&nb, TS_STORE_NAME_MAX + 1);
    int rc = ts__read_small(vfs, path, &nb, TS_STORE_NAME_MAX);
    res->partitions++;
    if (rc || nb.len == 0) {
        damage(out, res, path, 0, "missing or unreadable partition name");
        fprintf(out, "partition ? (%s)\n", enc);
    } else {
        char want[256];
        if (ts__name_encode(nb.data, want, sizeof(want)) || strcmp(want, enc) != 0) {
            damage(out, res, path, 0, "name does not match the directory name");
        }
        fprintf(out, "partition \"%s\" (%s)\n", nb.data, enc);
    }
    ts_buf_free(&nb);
    struct names l = {NULL, 0, 0};
    if (vfs->list(vfs->ctx, dir, add_name, &l)) {
        damage(out, res, dir, 0, "cannot list directory");
        names_free(&l);
        return;
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp_name);
    size_t n_logs = 0;
    for (size_t i = 0; i < l.n; i++) {
        uint64_t b;
        n_logs += ts__seg_parse_name(l.v[i], "log", &b) == 0;
    }
    uint64_t prev_next = UINT64_MAX;
    size_t seen_logs = 0;
    for (size_t i = 0; i < l.n; i++) {
        uint64_t base;
        if (ts__seg_parse_name(l.v[i], "idx", &base) == 0) {
            char lname[64];
            snprintf(lname, sizeof(lname), "%020llu.log", (unsigned long long)base);
            if (!bsearch(&(const char *){lname}, l.v, l.n, sizeof(*l.v), cmp_name)) {
                fprintf(out, "  warning: %s/%s has no segment (ignored)\n", dir, l.v[i]);
                res->warnings++;
            }
            continue;
        }
        if (ts__seg_parse_name(l.v[i], "log", &base)) {
            continue;
        }
        seen_logs++;
        bool last = seen_logs == n_logs;
        snprintf(path, sizeof(path), "%s/%s", dir, l.v[i]);
        int fd = vfs->open(vfs->ctx, path, O_RDONLY, 0);
        if (fd < 0) {
            damage(out, res, path, 0, "cannot open segment");
            continue;
        }
        int64_t size = vfs->size(vfs->ctx, fd);
        struct ts__seg_scan sr;
        rc = ts__seg_scan(vfs, fd, base, size, false, 4096, NULL, &sr);
        res->segments++;
        if (rc) {
            damage(out, res, path, 0, "read error");
            vfs->close(vfs->ctx, fd);
            continue;
        }
        res->records += sr.records;
        res->bytes += (uint64_t)size;
        if (prev_next != UINT64_MAX && base != prev_next) {
            damage(out, res, path, 0,
                   "offsets [%llu, %llu) missing between segments",
                   (unsigned long long)TS_MIN(prev_next, base),
                   (unsigned long long)TS_MAX(prev_next, base));
        }
        for (size_t k = 0; k < sr.n_bad; k++) {
            damage(out, res, path, sr.bad[k].pos, "%s (record offset %llu)",
                   last && k + 1 == sr.n_bad && sr.bad[k].gap_end == UINT64_MAX
                       ? "torn tail (the next open truncates it)"
                       : sr.bad[k].why,
                   (unsigned long long)sr.bad[k].offset);
        }
        if (sr.bad_total > sr.n_bad) {
            fprintf(out, "  ... %llu more damaged ranges in %s\n",
                    (unsigned long long)(sr.bad_total - sr.n_bad), path);
            res->damaged += sr.bad_total - sr.n_bad;
        }
        fprintf(out, "  segment %s bytes=%lld records=%llu offsets=[%llu,%llu)", l.v[i],
                (long long)size, (unsigned long long)sr.records, (unsigned long long)base,
                (unsigned long long)sr.next);
        /* The index. */
        struct ts__seg *g = ts__seg_new(dir, base);
        char ipath[4096];
        ts__seg_file(dir, base, "idx", ipath, sizeof(ipath));
        const char *why = NULL;
        int ir = TS_ENOMEM;
        if (g) {
            g->fd = fd;
            ir = ts__idx_load(vfs, dir, g, size, &why);
            g->fd = -1;
        }
        if (ir == 0) {
            fprintf(out, " index=ok(%zu entries)\n", g->n_idx);
            check_index_entries(vfs, fd, g, size, &sr, out, ipath, res);
        } else if (ir == TS_ENOENT) {
            fprintf(out, " index=missing%s\n", last ? "" : " (rebuilt at next open)");
            res->warnings += last ? 0 : 1;
        } else if (ir == TS_ECORRUPT && last && why && strcmp(why, "stale index") == 0) {
            fprintf(out, " index=stale (active segment, rebuilt at next open)\n");
        } else {
            fprintf(out, " index=DAMAGED\n");
            damage(out, res, ipath, 0, "%s", why ? why : "unreadable index");
        }
        ts__seg_unref(vfs, g);
        vfs->close(vfs->ctx, fd);
        prev_next = sr.next;
        if (sr.n_bad && sr.bad[sr.n_bad - 1].gap_end == UINT64_MAX && !last) {
            prev_next = UINT64_MAX; /* unknown: damage already reported */
        }
    }
    names_free(&l);
}

static void check_meta(const char *dir, FILE *out, struct ts_store_check_result *res)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return;
    }
    fclose(f);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
    }
    bool ok = false;
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        ok = t && strcmp(t, "ok") == 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    fprintf(out, "metadata %s: %s\n", path, ok ? "ok" : "DAMAGED");
    if (!ok) {
        damage(out, res, path, 0, "SQLite quick_check failed");
    }
}

int ts_store_check(const char *dir, FILE *out, struct ts_store_check_result *res)
{
    memset(res, 0, sizeof(*res));
    const struct ts_vfs *vfs = &ts_vfs_posix;
    char pdir[4096], fpath[4096];
    snprintf(pdir, sizeof(pdir), "%s/partitions", dir);
    snprintf(fpath, sizeof(fpath), "%s/FORMAT", dir);
    struct ts_buf fb;
    ts_buf_init(&fb, 4096);
    int rc = ts__read_small(vfs, fpath, &fb, 4096);
    if (rc == 0 && strcmp(fb.data, "trailstream-store 1\n") != 0) {
        damage(out, res, fpath, 0, "unknown store format");
    }
    ts_buf_free(&fb);
    struct names l = {NULL, 0, 0};
    rc = vfs->list(vfs->ctx, pdir, add_name, &l);
    if (rc) {
        names_free(&l);
        return rc;
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp_name);
    for (size_t i = 0; i < l.n; i++) {
        size_t len = strlen(l.v[i]);
        if (len > 4 && (strcmp(l.v[i] + len - 4, ".tmp") == 0 ||
                        strcmp(l.v[i] + len - 4, ".del") == 0)) {
            fprintf(out, "warning: %s/%s is an interrupted create/delete (removed at next open)\n",
                    pdir, l.v[i]);
            res->warnings++;
            continue;
        }
        check_partition(pdir, l.v[i], out, res);
    }
    names_free(&l);
    check_meta(dir, out, res);
    fprintf(out,
            "summary: partitions=%llu segments=%llu records=%llu bytes=%llu damaged=%llu "
            "warnings=%llu\n",
            (unsigned long long)res->partitions, (unsigned long long)res->segments,
            (unsigned long long)res->records, (unsigned long long)res->bytes,
            (unsigned long long)res->damaged, (unsigned long long)res->warnings);
    return 0;
}
