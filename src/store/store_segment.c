/* store_segment.c - record framing, the segment scanner, sparse index files and the recovery
 * scan of one segment.
 *
 * The log file is the truth; index files are hints that are rebuilt from the log whenever they
 * are missing, stale or damaged. */
#include "store_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define SCAN_CHUNK (1u << 20)

/* The header fields; returns the CRC of its first 28 bytes. magic and len go as one 8-byte
 * store: the CRC reads the header 8 bytes at a time, and a load is forwarded from a store only
 * when one store covers it. */
static uint32_t rec_fields(uint8_t *hdr, uint64_t offset, int64_t ts_ms, uint32_t batch_left,
                           uint32_t len)
{
    ts__put64(hdr, TS_REC_MAGIC | (uint64_t)len << 32);
    ts__put64(hdr + 8, offset);
    ts__put64(hdr + 16, (uint64_t)ts_ms);
    ts__put32(hdr + 24, batch_left);
    return ts_crc32c(0, hdr, 28);
}

void ts__rec_encode(uint8_t *hdr, uint64_t offset, int64_t ts_ms, uint32_t batch_left,
                    const void *payload, uint32_t len)
{
    uint32_t crc = rec_fields(hdr, offset, ts_ms, batch_left, len);
    ts__put32(hdr + 28, ts_crc32c(crc, payload, len));
}

void ts__rec_encode_crc(uint8_t *hdr, uint64_t offset, int64_t ts_ms, uint32_t batch_left,
                        uint32_t len, uint32_t payload_crc)
{
    uint32_t crc = rec_fields(hdr, offset, ts_ms, batch_left, len);
    ts__put32(hdr + 28, ts_crc32c_combine(crc, payload_crc, len));
}

/* Checks the header fields that do not need the payload. */
static int hdr_sane(const uint8_t *h, const char **why)
{
    if (ts__get32(h) != TS_REC_MAGIC) {
        *why = "bad magic";
        return TS_ECORRUPT;
    }
    if (ts__get32(h + 4) > TS_STORE_RECORD_MAX) {
        *why = "bad length";
        return TS_ECORRUPT;
    }
    return 0;
}

int ts__rec_decode(const uint8_t *frame, size_t avail, struct ts__rec *out, const char **why)
{
    const char *dummy;
    if (!why) {
        why = &dummy;
    }
    if (avail < TS_REC_HDR) {
        *why = "short header";
        return TS_ECORRUPT;
    }
    if (hdr_sane(frame, why)) {
        return TS_ECORRUPT;
    }
    uint32_t len = ts__get32(frame + 4);
    if (avail < TS_REC_HDR + (size_t)len) {
        *why = "short payload";
        return TS_ECORRUPT;
    }
    uint32_t crc = ts_crc32c(0, frame, 28);
    crc = ts_crc32c(crc, frame + TS_REC_HDR, len);
    if (crc != ts__get32(frame + 28)) {
        *why = "bad crc";
        return TS_ECORRUPT;
    }
    out->len = len;
    out->offset = ts__get64(frame + 8);
    out->ts_ms = (int64_t)ts__get64(frame + 16);
    out->batch_left = ts__get32(frame + 24);
    out->data = frame + TS_REC_HDR;
    return 0;
}

int ts__scan_init(struct ts__scan *s, const struct ts_vfs *vfs, int fd, int64_t end)
{
    memset(s, 0, sizeof(*s));
    s->vfs = vfs;
    s->fd = fd;
    s->end = end;
    s->cap = SCAN_CHUNK;
    s->buf = ts_malloc(s->cap);
    return s->buf ? 0 : TS_ENOMEM;
}

void ts__scan_free(struct ts__scan *s)
{
    ts_free(s->buf);
    s->buf = NULL;
}

/* Makes [pos, pos+n) available in the buffer (n may be cut at s->end). Returns the bytes
 * available from pos (<= n) or an I/O error. */
static int64_t scan_fill(struct ts__scan *s, int64_t pos, size_t n)
{
    if (pos >= s->buf_pos && pos + (int64_t)n <= s->buf_pos + (int64_t)s->buf_len) {
        return (int64_t)n;
    }
    int64_t want = TS_MIN((int64_t)TS_MAX(n, (size_t)SCAN_CHUNK), s->end - pos);
    if (want <= 0) {
        return 0;
    }
    if ((size_t)want > s->cap) {
        uint8_t *nb = ts_realloc(s->buf, (size_t)want);
        if (!nb) {
            return TS_ENOMEM;
        }
        s->buf = nb;
        s->cap = (size_t)want;
    }
    int64_t r = s->vfs->pread(s->vfs->ctx, s->fd, s->buf, (size_t)want, pos);
    if (r < 0) {
        s->buf_len = 0;
        return r;
    }
    s->buf_pos = pos;
    s->buf_len = (size_t)r;
    return TS_MIN((int64_t)n, r);
}

int ts__scan_at(struct ts__scan *s, int64_t pos, struct ts__rec *out, const char **why)
{
    const char *dummy;
    if (!why) {
        why = &dummy;
    }
    if (pos >= s->end) {
        return TS_SCAN_END;
    }
    int64_t got = scan_fill(s, pos, TS_REC_HDR);
    if (got < 0) {
        return (int)got;
    }
    if (got < (int64_t)TS_REC_HDR) {
        *why = "torn header";
        return TS_SCAN_SHORT;
    }
    const uint8_t *h = s->buf + (pos - s->buf_pos);
    if (hdr_sane(h, why)) {
        return TS_SCAN_BAD;
    }
    size_t need = TS_REC_HDR + ts__get32(h + 4);
    got = scan_fill(s, pos, need);
    if (got < 0) {
        return (int)got;
    }
    if (got < (int64_t)need) {
        *why = "torn record";
        return TS_SCAN_SHORT;
    }
    if (ts__rec_decode(s->buf + (pos - s->buf_pos), need, out, why)) {
        return TS_SCAN_BAD;
    }
    out->pos = pos;
    return TS_SCAN_OK;
}

int ts__scan_resync(struct ts__scan *s, int64_t from, uint64_t min_offset, struct ts__rec *out)
{
    int64_t pos = from;
    while (pos + (int64_t)TS_REC_HDR <= s->end) {
        int64_t got = scan_fill(s, pos, TS_REC_HDR);
        if (got < 0) {
            return (int)got;
        }
        if (got < (int64_t)TS_REC_HDR) {
            break;
        }
        /* Search the buffered bytes for the magic, then validate the whole frame. */
        const uint8_t *b = s->buf + (pos - s->buf_pos);
        size_t avail = s->buf_len - (size_t)(pos - s->buf_pos);
        size_t i = 0;
        bool found = false;
        for (; i + 4 <= avail; i++) {
            if (b[i] == 0x54 && ts__get32(b + i) == TS_REC_MAGIC) {
                found = true;
                break;
            }
        }
        if (!found) {
            pos += (int64_t)(avail >= 3 ? avail - 3 : 1);
            continue;
        }
        int64_t cand = pos + (int64_t)i;
        int rc = ts__scan_at(s, cand, out, NULL);
        if (rc < 0) {
            return rc;
        }
        if (rc == TS_SCAN_OK && out->offset > min_offset) {
            return TS_SCAN_OK;
        }
        pos = cand + 1;
    }
    return TS_SCAN_END;
}

/* ---------------------------------------------------------------- segment descriptors */

void ts__seg_file(const char *pdir, uint64_t base, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/%020llu.%s", pdir, (unsigned long long)base, ext);
}

struct ts__seg *ts__seg_new(const char *pdir, uint64_t base)
{
    struct ts__seg *g = ts_calloc(1, sizeof(*g));
    if (!g) {
        return NULL;
    }
    char path[4096];
    ts__seg_file(pdir, base, "log", path, sizeof(path));
    g->path = ts_strdup(path);
    if (!g->path) {
        ts_free(g);
        return NULL;
    }
    g->base = base;
    g->next = base;
    g->first_ts = -1;
    g->last_ts = -1;
    g->created_ms = -1;
    g->last_idx_pos = -1;
    g->fd = -1;
    g->refs = 1;
    return g;
}

void ts__seg_unref(const struct ts_vfs *vfs, struct ts__seg *g)
{
    if (!g || --g->refs > 0) {
        return;
    }
    if (g->fd >= 0) {
        vfs->close(vfs->ctx, g->fd);
    }
    ts_free(g->idx);
    ts_free(g->path);
    ts_free(g);
}

int ts__seg_index_add(struct ts__seg *g, uint64_t offset, int64_t pos, int64_t ts,
                      uint32_t interval)
{
    if (g->last_idx_pos >= 0 && pos - g->last_idx_pos < (int64_t)interval) {
        return 0;
    }
    if (g->n_idx == g->cap_idx) {
        size_t cap = g->cap_idx ? g->cap_idx * 2 : 64;
        struct ts__idx_entry *e = ts_realloc(g->idx, cap * sizeof(*e));
        if (!e) {
            return TS_ENOMEM; /* the index is a hint: callers may ignore this */
        }
        g->idx = e;
        g->cap_idx = cap;
    }
    g->idx[g->n_idx++] = (struct ts__idx_entry){(uint32_t)(offset - g->base), (uint32_t)pos, ts};
    g->last_idx_pos = pos;
    return 0;
}

void ts__seg_index_trim(struct ts__seg *g, int64_t pos)
{
    while (g->n_idx > 0 && (int64_t)g->idx[g->n_idx - 1].pos >= pos) {
        g->n_idx--;
    }
    g->last_idx_pos = g->n_idx ? (int64_t)g->idx[g->n_idx - 1].pos : -1;
}

void ts__seg_index_find(const struct ts__seg *g, uint64_t off, uint64_t *e_off, int64_t *e_pos)
{
    size_t lo = 0, hi = g->n_idx;
    /* First entry with offset > off, then step back one. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->base + g->idx[mid].rel <= off) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        *e_off = g->base;
        *e_pos = 0;
    } else {
        *e_off = g->base + g->idx[lo - 1].rel;
        *e_pos = g->idx[lo - 1].pos;
    }
}

void ts__seg_index_find_time(const struct ts__seg *g, int64_t ts_ms, uint64_t *e_off,
                             int64_t *e_pos)
{
    size_t lo = 0, hi = g->n_idx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->idx[mid].ts < ts_ms) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        *e_off = g->base;
        *e_pos = 0;
    } else {
        *e_off = g->base + g->idx[lo - 1].rel;
        *e_pos = g->idx[lo - 1].pos;
    }
}

/* ---------------------------------------------------------------- recovery scan */

static void note_bad(struct ts__seg_scan *res, int64_t pos, uint64_t offset, uint64_t gap_end,
                     const char *why)
{
    if (res->problem_pos < 0) {
        res->problem_pos = pos;
        res->why = why;
    }
    res->bad_total++;
    if (res->n_bad < TS_SEG_BAD_MAX) {
        res->bad[res->n_bad++] = (struct ts__bad){pos, offset, gap_end, why};
    }
}

/* True if the frames from pos parse cleanly and contiguously to exactly the end of the file,
 * ending with a complete batch. Used to tell mid-file corruption from a torn tail. */
static int clean_to_end(struct ts__scan *s, int64_t pos, uint64_t offset, bool *clean)
{
    struct ts__rec r;
    uint32_t left = 0;
    *clean = false;
    for (;;) {
        int rc = ts__scan_at(s, pos, &r, NULL);
        if (rc < 0) {
            return rc;
        }
        if (rc == TS_SCAN_END) {
            *clean = left == 0;
            return 0;
        }
        if (rc != TS_SCAN_OK || r.offset != offset) {
            return 0;
        }
        left = r.batch_left;
        offset++;
        pos += TS_REC_HDR + r.len;
    }
}

static void seg_reset_content(struct ts__seg *g)
{
    g->n_idx = 0;
    g->last_idx_pos = -1;
    g->next = g->base;
    g->size = 0;
    g->first_ts = -1;
    g->last_ts = -1;
}

int ts__seg_scan(const struct ts_vfs *vfs, int fd, uint64_t base, int64_t file_size, bool tail,
                 uint32_t index_interval, struct ts__seg *g, struct ts__seg_scan *res)
{
    memset(res, 0, sizeof(*res));
    res->first_ts = -1;
    res->last_ts = -1;
    res->problem_pos = -1;
    struct ts__scan s;
    int rc = ts__scan_init(&s, vfs, fd, file_size);
    if (rc) {
        return rc;
    }
    if (g) {
        seg_reset_content(g);
    }
    int64_t pos = 0;
    uint64_t expected = base;
    /* End of the last complete batch, and the state there: a torn tail is cut back to it so a
     * batch is never half-recovered. */
    int64_t batch_end = 0;
    uint64_t batch_next = base;
    int64_t batch_last_ts = -1;
    uint64_t batch_records = 0;
    size_t batch_idx = 0;
    for (;;) {
        struct ts__rec r;
        const char *why = NULL;
        int sr = ts__scan_at(&s, pos, &r, &why);
        if (sr < 0) {
            rc = sr;
            goto out;
        }
        if (sr == TS_SCAN_END) {
            break;
        }
        if (sr == TS_SCAN_OK && r.offset != expected) {
            sr = TS_SCAN_BAD;
            why = "offset out of sequence";
        }
        if (sr == TS_SCAN_OK) {
            if (g) {
                ts__seg_index_add(g, r.offset, pos, r.ts_ms, index_interval);
            }
            if (res->first_ts < 0) {
                res->first_ts = r.ts_ms;
            }
            res->last_ts = r.ts_ms;
            res->records++;
            expected = r.offset + 1;
            pos += TS_REC_HDR + r.len;
            if (r.batch_left == 0) {
                batch_end = pos;
                batch_next = expected;
                batch_last_ts = r.ts_ms;
                batch_records = res->records;
                batch_idx = g ? g->n_idx : 0;
            }
            continue;
        }
        /* An invalid frame at pos. Look for the next valid record beyond it. */
        struct ts__rec nx;
        int rs = ts__scan_resync(&s, pos + 1, expected == 0 ? 0 : expected - 1, &nx);
        if (rs < 0) {
            rc = rs;
            goto out;
        }
        if (rs == TS_SCAN_OK && nx.offset < expected) {
            rs = TS_SCAN_END;
        }
        bool mid = rs == TS_SCAN_OK;
        if (mid && tail) {
            /* In the last segment only a clean run to the end of the file proves that the bad
             * frame is damage in the middle rather than the torn tail of a crash. */
            rc = clean_to_end(&s, nx.pos, nx.offset, &mid);
            if (rc) {
                goto out;
            }
        }
        if (!mid && tail) {
            /* Torn tail: cut back to the end of the last complete batch. */
            res->why = why ? why : "torn tail";
            res->problem_pos = batch_end;
            pos = batch_end;
            expected = batch_next;
            res->last_ts = batch_last_ts;
            res->records = batch_records;
            if (g) {
                g->n_idx = batch_idx;
                g->last_idx_pos = batch_idx ? (int64_t)g->idx[batch_idx - 1].pos : -1;
            }
            if (res->records == 0) {
                res->first_ts = -1;
            }
            break;
        }
        if (!mid) {
            /* Damage up to the end of a sealed segment: the rest of its offsets are unknown;
             * the reader's gap extends to the next segment's base. */
            note_bad(res, pos, expected, UINT64_MAX, why ? why : "bad frame");
            pos = file_size;
            break;
        }
        note_bad(res, pos, expected, nx.offset, why ? why : "bad frame");
        pos = nx.pos;
        expected = nx.offset;
        batch_end = pos;
        batch_next = expected;
        batch_last_ts = res->last_ts;
        batch_records = res->records;
        batch_idx = g ? g->n_idx : 0;
    }
    if (tail && pos == file_size && pos != batch_end) {
        /* Every frame is valid but the last batch is incomplete. */
        res->why = "incomplete batch";
        res->problem_pos = batch_end;
        pos = batch_end;
        expected = batch_next;
        res->last_ts = batch_last_ts;
        res->records = batch_records;
        if (g) {
            g->n_idx = batch_idx;
            g->last_idx_pos = batch_idx ? (int64_t)g->idx[batch_idx - 1].pos : -1;
        }
        if (res->records == 0) {
            res->first_ts = -1;
        }
    }
    res->valid_end = pos;
    res->next = expected;
    res->scanned = file_size;
    if (g) {
        g->next = expected;
        g->size = pos;
        g->first_ts = res->first_ts;
        g->last_ts = res->last_ts;
        g->n_bad = 0;
        for (size_t i = 0; i < res->n_bad; i++) {
            g->bad[g->n_bad] = res->bad[i];
            if (g->bad[g->n_bad].gap_end == UINT64_MAX) {
                g->bad[g->n_bad].gap_end = expected;
            }
            g->n_bad++;
        }
    }
out:
    ts__scan_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- index files */

int ts__idx_write(const struct ts_vfs *vfs, const char *pdir, const struct ts__seg *g)
{
    size_t n = TS_IDX_HDR + g->n_idx * TS_IDX_ENTRY;
    uint8_t *b = ts_malloc(n);
    if (!b) {
        return TS_ENOMEM;
    }
    ts__put32(b, TS_IDX_MAGIC);
    ts__put32(b + 4, TS_IDX_VERSION);
    ts__put64(b + 8, g->base);
    ts__put64(b + 16, g->next);
    ts__put64(b + 24, (uint64_t)g->size);
    ts__put64(b + 32, (uint64_t)g->first_ts);
    ts__put64(b + 40, (uint64_t)g->last_ts);
    ts__put32(b + 48, (uint32_t)g->n_idx);
    for (size_t i = 0; i < g->n_idx; i++) {
        uint8_t *e = b + TS_IDX_HDR + i * TS_IDX_ENTRY;
        ts__put32(e, g->idx[i].rel);
        ts__put32(e + 4, g->idx[i].pos);
        ts__put64(e + 8, (uint64_t)g->idx[i].ts);
    }
    uint32_t crc = ts_crc32c(0, b, 52);
    crc = ts_crc32c(crc, b + TS_IDX_HDR, n - TS_IDX_HDR);
    ts__put32(b + 52, crc);
    char fname[64];
    snprintf(fname, sizeof(fname), "%020llu.idx", (unsigned long long)g->base);
    int rc = ts__write_small(vfs, pdir, fname, b, n);
    ts_free(b);
    return rc;
}

/* Verifies the frames from the last index entry to log_size: the "tail check" of a segment
 * whose index claims to describe it. */
static int tail_check(const struct ts_vfs *vfs, int fd, const struct ts__seg *g,
                      int64_t log_size, const char **why)
{
    uint64_t off = g->base;
    int64_t pos = 0;
    if (g->n_idx) {
        off = g->base + g->idx[g->n_idx - 1].rel;
        pos = g->idx[g->n_idx - 1].pos;
    }
    struct ts__scan s;
    int rc = ts__scan_init(&s, vfs, fd, log_size);
    if (rc) {
        return rc;
    }
    int64_t last_ts = g->n_idx ? g->idx[g->n_idx - 1].ts : -1;
    for (;;) {
        struct ts__rec r;
        int sr = ts__scan_at(&s, pos, &r, why);
        if (sr < 0) {
            rc = sr;
            break;
        }
        if (sr == TS_SCAN_END) {
            if (off != g->next || (g->next > g->base && last_ts != g->last_ts)) {
                *why = "index does not match log tail";
                rc = TS_ECORRUPT;
            }
            break;
        }
        if (sr != TS_SCAN_OK || r.offset != off) {
            if (sr == TS_SCAN_OK) {
                *why = "index entry does not match record";
            }
            rc = TS_ECORRUPT;
            break;
        }
        off++;
        last_ts = r.ts_ms;
        pos += TS_REC_HDR + r.len;
    }
    ts__scan_free(&s);
    return rc;
}

int ts__idx_load(const struct ts_vfs *vfs, const char *pdir, struct ts__seg *g,
                 int64_t log_size, const char **why)
{
    char path[4096];
    ts__seg_file(pdir, g->base, "idx", path, sizeof(path));
    struct ts_buf b;
    ts_buf_init(&b, 64u * 1024 * 1024);
    int rc = ts__read_small(vfs, path, &b, 64u * 1024 * 1024);
    if (rc) {
        ts_buf_free(&b);
        if (rc != TS_ENOENT) {
            *why = "unreadable index";
            return TS_ECORRUPT;
        }
        return TS_ENOENT;
    }
    const uint8_t *p = (const uint8_t *)b.data;
    rc = TS_ECORRUPT;
    if (b.len < TS_IDX_HDR || ts__get32(p) != TS_IDX_MAGIC ||
        ts__get32(p + 4) != TS_IDX_VERSION) {
        *why = "bad index header";
        goto out;
    }
    uint32_t n = ts__get32(p + 48);
    if (b.len != TS_IDX_HDR + (size_t)n * TS_IDX_ENTRY) {
        *why = "bad index length";
        goto out;
    }
    uint32_t crc = ts_crc32c(0, p, 52);
    crc = ts_crc32c(crc, p + TS_IDX_HDR, b.len - TS_IDX_HDR);
    if (crc != ts__get32(p + 52)) {
        *why = "bad index crc";
        goto out;
    }
    if (ts__get64(p + 8) != g->base) {
        *why = "index base mismatch";
        goto out;
    }
    if ((int64_t)ts__get64(p + 24) != log_size) {
        *why = "stale index";
        goto out;
    }
    struct ts__idx_entry *e = n ? ts_malloc(n * sizeof(*e)) : NULL;
    if (n && !e) {
        rc = TS_ENOMEM;
        goto out;
    }
    uint64_t next = ts__get64(p + 16);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *q = p + TS_IDX_HDR + (size_t)i * TS_IDX_ENTRY;
        e[i].rel = ts__get32(q);
        e[i].pos = ts__get32(q + 4);
        e[i].ts = (int64_t)ts__get64(q + 8);
        bool sorted = i == 0 || (e[i].rel > e[i - 1].rel && e[i].pos > e[i - 1].pos &&
                                 e[i].ts >= e[i - 1].ts);
        if (!sorted || (int64_t)e[i].pos >= log_size || g->base + e[i].rel >= next) {
            ts_free(e);
            *why = "index entries out of order";
            goto out;
        }
    }
    ts_free(g->idx);
    g->idx = e;
    g->n_idx = n;
    g->cap_idx = n;
    g->last_idx_pos = n ? (int64_t)e[n - 1].pos : -1;
    g->next = next;
    g->size = log_size;
    g->first_ts = (int64_t)ts__get64(p + 32);
    g->last_ts = (int64_t)ts__get64(p + 40);
    rc = 0;
    if (g->fd >= 0) {
        rc = tail_check(vfs, g->fd, g, log_size, why);
        if (rc == TS_ECORRUPT) {
            seg_reset_content(g);
        }
    }
out:
    ts_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- names */

int ts__name_encode(const char *name, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(name);
    if (len == 0 || len > TS_STORE_NAME_MAX || n < 160) {
        return TS_EINVAL;
    }
    /* Percent-encode everything but [A-Za-z0-9_-] and '.' (not leading, so "." and ".." and
     * hidden names cannot occur); a long result keeps a readable prefix and ends with a hash
     * of the full name. The exact name is stored in the NAME file inside the directory. */
    size_t o = 0;
    bool long_name = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || (c == '.' && i > 0);
        if (o + 3 >= 100) {
            long_name = true;
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (long_name) {
        uint8_t h[TS_SHA256_LEN];
        char hx[2 * TS_SHA256_LEN + 1];
        ts_sha256(name, len, h);
        ts_hex(h, 16, hx);
        out[o++] = '~';
        memcpy(out + o, hx, 32);
        o += 32;
    }
    out[o] = '\0';
    return 0;
}

int ts__seg_parse_name(const char *fname, const char *ext, uint64_t *base)
{
    size_t el = strlen(ext);
    if (strlen(fname) != TS_SEG_NAME_DIGITS + 1 + el || fname[TS_SEG_NAME_DIGITS] != '.' ||
        strcmp(fname + TS_SEG_NAME_DIGITS + 1, ext) != 0) {
        return TS_EINVAL;
    }
    uint64_t v = 0;
    for (int i = 0; i < TS_SEG_NAME_DIGITS; i++) {
        if (fname[i] < '0' || fname[i] > '9') {
            return TS_EINVAL;
        }
        uint64_t d = (uint64_t)(fname[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return TS_EINVAL;
        }
        v = v * 10 + d;
    }
    *base = v;
    return 0;
}
