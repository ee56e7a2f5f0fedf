/*
 * cmd_import.c - `trailstream import --account ID FILE...`: imports CloudTrail log files (the
 * {"Records":[...]} bodies CloudTrail writes to S3, gzip-compressed or not) into a data
 * directory, as external events of that account.
 *
 * Offline by design: the store directory is locked by a running server, so import opens the
 * data directory itself (the server must be stopped) and appends the records durably to the
 * CloudTrail event partitions. Delivery happens when the server next starts: its trail writer
 * resumes from its durable cursors and delivers them to every logging trail of the account
 * (multi-region trails: every region; other trails: their home region). See docs/cloudtrail.md.
 *
 * A file is imported whole or not at all: it is decompressed and every record is checked
 * (strict JSON, an object, at most TS_CT_RECORD_MAX bytes) before anything of it is appended.
 * Records are kept byte for byte (JSON whitespace outside strings is removed, so a compact
 * record is stored unchanged).
 */
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "trailstream/ts_cloudtrail.h"
#include "trailstream/ts_services.h"
#include "trailstream/ts_store.h"

#define IMPORT_FILE_MAX ((size_t)512 << 20)  /* compressed or plain bytes of one file */
#define IMPORT_JSON_MAX ((size_t)1024 << 20) /* decompressed bytes of one file */
#define IMPORT_BATCH_RECS 4096               /* records per durable append */
#define IMPORT_BATCH_BYTES ((size_t)8 << 20) /* record bytes per durable append */
#define IMPORT_MAX_DEPTH 64
#define IMPORT_MAX_REGIONS 64                /* the trail writer tails up to 64 partitions */

/* One record of the file being imported: its bytes in the minified copy of the file. */
struct rec {
    size_t off;
    size_t len;
    uint8_t flags;
    int region; /* index into the file's region table */
};

struct import {
    struct ts_cloudtrail *ct;
    const char *account;
    const char *force_region;
    const char *default_region;
    bool tty;
    /* the current file */
    struct ts_buf raw;
    struct ts_buf json;
    struct ts_buf min; /* minified records, back to back */
    struct rec *recs;
    size_t n_recs, cap_recs;
    char regions[IMPORT_MAX_REGIONS][32];
    int n_regions;
    char err[256];
    /* totals */
    size_t files_done, files_total, files_skipped;
    uint64_t records, bytes_in;
    int64_t start_ms, last_bar_ms;
};

/* ------------------------------------------------------------------ strict JSON scanner */

struct scan {
    const char *p;
    const char *end;
    struct ts_buf *out; /* minified copy (NULL: scan only) */
    int rc;
    /* Emitted bytes that are contiguous in the input are copied as one span (exported files
     * are usually minified already, so a whole record is one copy). */
    const char *span;
    size_t span_len;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static void flush(struct scan *s)
{
    if (s->span_len && s->out && !s->rc) {
        s->rc = ts_buf_add(s->out, s->span, s->span_len);
    }
    s->span_len = 0;
}

static void emit(struct scan *s, const char *from, size_t n)
{
    if (!s->out || s->rc) {
        return;
    }
    if (s->span_len && s->span + s->span_len == from) {
        s->span_len += n;
        return;
    }
    flush(s);
    s->span = from;
    s->span_len = n;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Scans a string at s->p (the opening quote); copies it to the output. */
static bool scan_string(struct scan *s)
{
    const char *start = s->p++;
    while (s->p < s->end) {
#if defined(__SSE2__)
        /* 16 bytes at a time up to the first '"', '\\' or control character */
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20), sign = _mm_set1_epi8((char)0x80);
        while (s->end - s->p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s->p);
            __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, sign), _mm_xor_si128(space, sign));
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)), ctl);
            int mask = _mm_movemask_epi8(hit);
            if (mask) {
                s->p += __builtin_ctz((unsigned)mask);
                break;
            }
            s->p += 16;
        }
        if (s->p >= s->end) {
            break;
        }
#endif
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            emit(s, start, (size_t)(s->p - start));
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c == '\\') {
            if (s->p + 1 >= s->end) {
                return false;
            }
            char e = s->p[1];
            if (e == 'u') {
                if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) ||
                    !is_hex(s->p[4]) || !is_hex(s->p[5])) {
                    return false;
                }
                s->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return false;
            }
            s->p += 2;
            continue;
        }
        s->p++;
    }
    return false;
}

static bool scan_digits(struct scan *s)
{
    const char *d = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > d;
}

static bool scan_number(struct scan *s)
{
    const char *start = s->p;
    if (*s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!scan_digits(s)) {
        return false;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!scan_digits(s)) {
            return false;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!scan_digits(s)) {
            return false;
        }
    }
    emit(s, start, (size_t)(s->p - start));
    return true;
}

static bool scan_literal(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return false;
    }
    emit(s, s->p, n);
    s->p += n;
    return true;
}

/* Scans one JSON value at s->p (whitespace already skipped), copying it minified. */
static bool scan_value(struct scan *s, int depth)
{
    if (s->p >= s->end || depth > IMPORT_MAX_DEPTH) {
        return false;
    }
    char c = *s->p;
    if (c == '"') {
        return scan_string(s);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return scan_number(s);
    }
    if (c == 't') {
        return scan_literal(s, "true");
    }
    if (c == 'f') {
        return scan_literal(s, "false");
    }
    if (c == 'n') {
        return scan_literal(s, "null");
    }
    if (c != '{' && c != '[') {
        return false;
    }
    char close = c == '{' ? '}' : ']';
    emit(s, s->p++, 1);
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        emit(s, s->p++, 1);
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (c == '{') {
            if (s->p >= s->end || *s->p != '"' || !scan_string(s)) {
                return false;
            }
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                return false;
            }
            emit(s, s->p++, 1);
            skip_ws(s);
        }
        if (!scan_value(s, depth + 1)) {
            return false;
        }
        skip_ws(s);
        if (s->p >= s->end) {
            return false;
        }
        if (*s->p == close) {
            emit(s, s->p++, 1);
            return true;
        }
        if (*s->p != ',') {
            return false;
        }
        emit(s, s->p++, 1);
    }
}

/* ------------------------------------------------------------------ one file */

/* The members import looks at, read in one walk over a minified record's top level. */
struct top {
    char region[40];
    bool read_only;
    bool data;
};

/* Fills t from the top-level awsRegion (an unescaped string), readOnly and eventCategory. */
static void top_members(const char *rec, size_t len, struct top *t)
{
    memset(t, 0, sizeof(*t));
    struct scan s = {rec + 1, rec + len, NULL, 0};
    while (s.p < s.end && *s.p == '"') {
        const char *key = s.p;
        if (!scan_string(&s) || s.p >= s.end || *s.p != ':') {
            return;
        }
        size_t kl = (size_t)(s.p - key);
        s.p++;
        const char *v = s.p;
        if (!scan_value(&s, 1)) {
            return;
        }
        size_t vl = (size_t)(s.p - v);
        if (kl == 11 && memcmp(key, "\"awsRegion\"", kl) == 0 && vl >= 2 && v[0] == '"' &&
            !memchr(v, '\\', vl) && vl - 2 < sizeof(t->region)) {
            memcpy(t->region, v + 1, vl - 2);
            t->region[vl - 2] = '\0';
        } else if (kl == 10 && memcmp(key, "\"readOnly\"", kl) == 0) {
            t->read_only = vl == 4 && memcmp(v, "true", 4) == 0;
        } else if (kl == 15 && memcmp(key, "\"eventCategory\"", kl) == 0) {
            t->data = vl == 6 && memcmp(v, "\"Data\"", 6) == 0;
        }
        if (s.p < s.end && *s.p == ',') {
            s.p++;
        }
    }
}

static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n < 1 || n > 31) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static int region_index(struct import *im, const char *r)
{
    for (int i = 0; i < im->n_regions; i++) {
        if (strcmp(im->regions[i], r) == 0) {
            return i;
        }
    }
    if (im->n_regions == IMPORT_MAX_REGIONS) {
        return -1;
    }
    ts_strlcpy(im->regions[im->n_regions], r, sizeof(im->regions[0]));
    return im->n_regions++;
}

static int add_rec(struct import *im, size_t off, size_t len)
{
    if (im->n_recs == im->cap_recs) {
        size_t cap = im->cap_recs ? im->cap_recs * 2 : 1024;
        struct rec *r = ts_realloc(im->recs, cap * sizeof(*r));
        if (!r) {
            return TS_ENOMEM;
        }
        im->recs = r;
        im->cap_recs = cap;
    }
    struct top t;
    top_members(im->min.data + off, len, &t);
    const char *region = im->force_region     ? im->force_region
                         : region_ok(t.region) ? t.region
                                               : im->default_region;
    struct rec *r = &im->recs[im->n_recs];
    r->off = off;
    r->len = len;
    r->flags = (uint8_t)((t.read_only ? TS_CT_F_READONLY : 0) | (t.data ? TS_CT_F_DATA : 0));
    r->region = region_index(im, region);
    if (r->region < 0) {
        snprintf(im->err, sizeof(im->err), "more than %d regions in one file",
                 IMPORT_MAX_REGIONS);
        return TS_EINVAL;
    }
    im->n_recs++;
    return 0;
}

/* Parses {"Records":[...]} (other top-level members are allowed and ignored). */
static int parse_file(struct import *im, const char *p, size_t n)
{
    struct scan s = {p, p + n, NULL, 0};
    bool seen = false;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        snprintf(im->err, sizeof(im->err), "not a JSON object");
        return TS_EPARSE;
    }
    s.p++;
    skip_ws(&s);
    while (s.p < s.end && *s.p != '}') {
        const char *key = s.p;
        if (*s.p != '"' || !scan_string(&s)) {
            break;
        }
        bool records = (size_t)(s.p - key) == 9 && memcmp(key, "\"Records\"", 9) == 0;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') {
            break;
        }
        s.p++;
        skip_ws(&s);
        if (records) {
            if (seen || s.p >= s.end || *s.p != '[') {
                snprintf(im->err, sizeof(im->err), "Records is not an array");
                return TS_EPARSE;
            }
            seen = true;
            s.p++;
            skip_ws(&s);
            bool trailing = false;
            while (s.p < s.end && *s.p != ']') {
                size_t off = im->min.len, at = (size_t)(s.p - p);
                if (*s.p != '{') {
                    snprintf(im->err, sizeof(im->err), "record %zu is not an object",
                             im->n_recs);
                    return TS_EPARSE;
                }
                s.out = &im->min;
                bool ok = scan_value(&s, 1);
                flush(&s);
                s.out = NULL;
                if (s.rc) {
                    return s.rc;
                }
                if (!ok) {
                    snprintf(im->err, sizeof(im->err), "invalid JSON in record %zu (byte %zu)",
                             im->n_recs, at);
                    return TS_EPARSE;
                }
                size_t len = im->min.len - off;
                if (len > TS_CT_RECORD_MAX) {
                    snprintf(im->err, sizeof(im->err), "record %zu is over %d bytes",
                             im->n_recs, TS_CT_RECORD_MAX);
                    return TS_EPARSE;
                }
                int rc = add_rec(im, off, len);
                if (rc) {
                    return rc;
                }
                skip_ws(&s);
                if (s.p < s.end && *s.p == ',') {
                    s.p++;
                    skip_ws(&s);
                    trailing = s.p < s.end && *s.p == ']';
                } else if (s.p < s.end && *s.p != ']') {
                    break;
                }
            }
            if (s.p >= s.end || *s.p != ']' || trailing) {
                snprintf(im->err, sizeof(im->err), "invalid JSON in Records (byte %zu)",
                         (size_t)(s.p - p));
                return TS_EPARSE;
            }
            s.p++;
        } else if (!scan_value(&s, 1)) {
            break;
        }
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            skip_ws(&s);
        } else if (s.p < s.end && *s.p != '}') {
            break;
        }
    }
    if (s.p >= s.end || *s.p != '}') {
        snprintf(im->err, sizeof(im->err), "invalid JSON (byte %zu)", (size_t)(s.p - p));
        return TS_EPARSE;
    }
    s.p++;
    skip_ws(&s);
    if (s.p != s.end) {
        snprintf(im->err, sizeof(im->err), "data after the JSON object (byte %zu)",
                 (size_t)(s.p - p));
        return TS_EPARSE;
    }
    if (!seen) {
        snprintf(im->err, sizeof(im->err), "no Records array");
        return TS_EPARSE;
    }
    return 0;
}

static int read_file(struct import *im, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = -errno;
        snprintf(im->err, sizeof(im->err), "cannot open: %s", ts_strerror(e));
        return e;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = ts_buf_add(&im->raw, chunk, n);
    }
    if (!rc && ferror(f)) {
        rc = TS_EIO;
    }
    fclose(f);
    if (rc) {
        snprintf(im->err, sizeof(im->err), "%s",
                 rc == TS_ETOOBIG ? "file too large" : ts_strerror(rc));
    }
    return rc;
}

/* Appends the parsed records, region by region, in durable batches. */
static int append_all(struct import *im)
{
    const char *batch[IMPORT_BATCH_RECS];
    size_t lens[IMPORT_BATCH_RECS];
    uint8_t flags[IMPORT_BATCH_RECS];
    for (int g = 0; g < im->n_regions; g++) {
        size_t n = 0, bytes = 0;
        for (size_t i = 0; i <= im->n_recs; i++) {
            bool last = i == im->n_recs;
            const struct rec *r = last ? NULL : &im->recs[i];
            if (r && r->region != g) {
                continue;
            }
            if (n && (last || n == IMPORT_BATCH_RECS || bytes + r->len > IMPORT_BATCH_BYTES)) {
                int rc = ts_cloudtrail_append(im->ct, im->account, im->regions[g], batch, lens,
                                              flags, n);
                if (rc) {
                    snprintf(im->err, sizeof(im->err), "append failed: %s", ts_strerror(rc));
                    return rc;
                }
                n = 0;
                bytes = 0;
            }
            if (r) {
                batch[n] = im->min.data + r->off;
                lens[n] = r->len;
                flags[n] = r->flags;
                bytes += r->len;
                n++;
            }
        }
    }
    return 0;
}

static int import_file(struct import *im, const char *path)
{
    ts_buf_reset(&im->raw);
    ts_buf_reset(&im->json);
    ts_buf_reset(&im->min);
    im->n_recs = 0;
    im->n_regions = 0;
    im->err[0] = '\0';
    int rc = read_file(im, path);
    if (rc) {
        return rc;
    }
    im->bytes_in += im->raw.len;
    const char *text = im->raw.data;
    size_t len = im->raw.len;
    if (len >= 2 && (unsigned char)text[0] == 0x1f && (unsigned char)text[1] == 0x8b) {
        rc = ts_gzip_decompress(im->raw.data, im->raw.len, &im->json);
        if (rc) {
            snprintf(im->err, sizeof(im->err), "%s",
                     rc == TS_ETOOBIG ? "decompressed file too large" : "invalid gzip data");
            return rc;
        }
        text = im->json.data;
        len = im->json.len;
    }
    rc = ts_buf_reserve(&im->min, len + 1);
    rc = rc ? rc : parse_file(im, text ? text : "", len);
    if (rc) {
        if (!im->err[0]) {
            snprintf(im->err, sizeof(im->err), "%s", ts_strerror(rc));
        }
        return rc;
    }
    return append_all(im);
}

/* ------------------------------------------------------------------ progress */

static void progress(struct import *im, const char *path, bool force)
{
    int64_t now = ts_clock_now_ms(&ts_clock_real);
    double secs = (double)(now - im->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)im->records / secs : 0;
    if (im->tty) {
        if (!force && now - im->last_bar_ms < 100) {
            return;
        }
        im->last_bar_ms = now;
        char bar[31];
        size_t filled = im->files_total ? im->files_done * 30 / im->files_total : 30;
        for (size_t i = 0; i < 30; i++) {
            bar[i] = i < filled ? '#' : '.';
        }
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu files  %llu records  %.0f records/s ", bar,
                im->files_done, im->files_total, (unsigned long long)im->records, rate);
        fflush(stderr);
        return;
    }
    TS_UNUSED(path);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: trailstream import --account ID [--config FILE] [--data-dir DIR]\n"
            "                          [--region REGION] [--quiet] FILE...\n"
            "  Imports CloudTrail log files ({\"Records\":[...]}, gzip or plain) into the data\n"
            "  directory as events of account ID. The server must be stopped (the directory\n"
            "  is locked while it runs); its logging trails deliver the records when it next\n"
            "  starts. Records go to the region of their awsRegion (or REGION when given).\n"
            "  A malformed file is reported and skipped whole.\n"
            "  Exit code: 0 all imported, 1 some files skipped, 2 usage or storage error.\n");
}

static bool account_ok(const char *a)
{
    if (strlen(a) != 12) {
        return false;
    }
    for (int i = 0; i < 12; i++) {
        if (a[i] < '0' || a[i] > '9') {
            return false;
        }
    }
    return true;
}

static int open_data(const struct ts_config *cfg, struct ts_store **store, struct ts_meta **meta)
{
    struct stat st;
    if (stat(cfg->data_dir, &st) != 0 && mkdir(cfg->data_dir, 0750) != 0) {
        fprintf(stderr, "import: cannot create %s: %s\n", cfg->data_dir,
                ts_strerror(-errno));
        return 2;
    }
    struct ts_store_opts so;
    memset(&so, 0, sizeof(so));
    so.fsync = cfg->fsync == TS_CONFIG_FSYNC_ALWAYS  ? TS_FSYNC_ALWAYS
               : cfg->fsync == TS_CONFIG_FSYNC_GROUP ? TS_FSYNC_GROUP
                                                     : TS_FSYNC_INTERVAL;
    so.interval_ms = (int)cfg->fsync_interval_ms;
    so.segment_max_bytes = (uint64_t)cfg->segment_bytes;
    so.cache_keep_bytes = (uint64_t)cfg->page_cache_keep;
    so.sync_lanes = cfg->sync_lanes;
    so.segment_max_age_ms = cfg->segment_age_ms;
    int rc = ts_store_open(cfg->data_dir, &so, store);
    if (rc == TS_EAGAIN) {
        fprintf(stderr, "import: %s is in use by a running server; stop it first (import "
                        "works offline; the server delivers the records when it starts)\n",
                cfg->data_dir);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "import: cannot open the store in %s: %s\n", cfg->data_dir,
                ts_strerror(rc));
        return 2;
    }
    char meta_path[1100];
    snprintf(meta_path, sizeof(meta_path), "%s/meta.db", cfg->data_dir);
    rc = ts_meta_open(meta_path, meta);
    if (rc) {
        fprintf(stderr, "import: cannot open %s: %s\n", meta_path, ts_strerror(rc));
        return 2;
    }
    return 0;
}

/* Entry point registered in apps/main.c. argv[0] is "import". Prints one line per file (a
 * progress bar instead on a terminal) and a summary to stderr. Returns the exit code: 0 every
 * file imported, 1 some files were skipped, 2 usage or storage error. Main thread only. */
int ts_cmd_import(int argc, char **argv)
{
    const char *config_path = NULL, *data_dir = NULL, *account = NULL, *region = NULL;
    bool quiet = false;
    int first_file = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = true;
            continue;
        }
        if (strcmp(a, "--") == 0 || a[0] != '-') {
            first_file = strcmp(a, "--") == 0 ? i + 1 : i;
            break;
        }
        const char **dst = strcmp(a, "--config") == 0     ? &config_path
                           : strcmp(a, "--data-dir") == 0 ? &data_dir
                           : strcmp(a, "--account") == 0  ? &account
                           : strcmp(a, "--region") == 0   ? &region
                                                          : NULL;
        if (!dst || i + 1 >= argc) {
            usage();
            return 2;
        }
        *dst = argv[++i];
    }
    if (!account || first_file >= argc) {
        usage();
        return 2;
    }
    if (!account_ok(account)) {
        fprintf(stderr, "import: --account must be a 12-digit account id\n");
        return 2;
    }
    if (region && !region_ok(region)) {
        fprintf(stderr, "import: --region '%s' is not a region name\n", region);
        return 2;
    }
    struct ts_config cfg;
    char err[1024];
    ts_config_defaults(&cfg);
    if (config_path && ts_config_load(config_path, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "import: invalid config: %s\n", err);
        ts_config_free(&cfg);
        return 2;
    }
    if (data_dir) {
        if (strlen(data_dir) >= sizeof(cfg.data_dir)) {
            fprintf(stderr, "import: --data-dir is too long\n");
            ts_config_free(&cfg);
            return 2;
        }
        ts_strlcpy(cfg.data_dir, data_dir, sizeof(cfg.data_dir));
    }
    struct ts_store *store = NULL;
    struct ts_meta *meta = NULL;
    struct ts_aws_accounts *accounts = ts_aws_accounts_create();
    struct import im;
    memset(&im, 0, sizeof(im));
    int rc = accounts ? open_data(&cfg, &store, &meta) : 2;
    uint8_t secret[32] = {0}; /* nothing import does is sealed with it */
    struct ts_services_ctx svc = {store, meta, &ts_clock_real, accounts, secret};
    struct ts_cloudtrail_opts o = {NULL, true};
    if (!rc && ts_cloudtrail_create(&svc, &o, &im.ct) != 0) {
        fprintf(stderr, "import: cannot start the CloudTrail service\n");
        rc = 2;
    }
    if (rc) {
        goto out;
    }
    im.account = account;
    im.force_region = region;
    im.default_region = cfg.region[0] ? cfg.region : "us-east-1";
    im.tty = !quiet && isatty(STDERR_FILENO);
    im.files_total = (size_t)(argc - first_file);
    im.start_ms = ts_clock_now_ms(&ts_clock_real);
    ts_buf_init(&im.raw, IMPORT_FILE_MAX);
    ts_buf_init(&im.json, IMPORT_JSON_MAX);
    ts_buf_init(&im.min, IMPORT_JSON_MAX);
    for (int i = first_file; i < argc && rc != 2; i++) {
        int e = import_file(&im, argv[i]);
        im.files_done++;
        bool storage = e && strncmp(im.err, "append failed", 13) == 0;
        if (e) {
            im.files_skipped++;
            if (im.tty) {
                fprintf(stderr, "\r\033[K");
            }
            fprintf(stderr, "import: %s %s: %s\n", storage ? "failed" : "skipped", argv[i],
                    im.err);
            rc = storage ? 2 : 1;
        } else {
            im.records += im.n_recs;
            if (!quiet && !im.tty) {
                fprintf(stderr, "import: %s: %zu records\n", argv[i], im.n_recs);
            }
        }
        progress(&im, argv[i], i + 1 == argc);
    }
    if (im.tty) {
        fprintf(stderr, "\n");
    }
    /* Durability order: close syncs whatever the fsync policy left unsynced before the
     * summary claims the records are stored. */
    ts_cloudtrail_destroy(im.ct);
    im.ct = NULL;
    int e = ts_store_sync(store);
    if (e) {
        fprintf(stderr, "import: sync failed: %s\n", ts_strerror(e));
        rc = 2;
    }
    int64_t ms = ts_clock_now_ms(&ts_clock_real) - im.start_ms;
    fprintf(stderr,
            "import: %zu of %zu files imported (%zu skipped), %llu records of account %s, "
            "%.1f MB read, in %.2f s (%.0f records/s)%s\n",
            im.files_done - im.files_skipped, im.files_total, im.files_skipped,
            (unsigned long long)im.records, account, (double)im.bytes_in / 1e6,
            (double)ms / 1000.0, ms > 0 ? (double)im.records * 1000.0 / (double)ms : 0.0,
            im.records ? "; logging trails deliver them when the server starts" : "");
out:
    ts_cloudtrail_destroy(im.ct);
    ts_buf_free(&im.raw);
    ts_buf_free(&im.json);
    ts_buf_free(&im.min);
    ts_free(im.recs);
    ts_meta_close(meta);
    ts_store_close(store);
    ts_aws_accounts_destroy(accounts);
    ts_config_free(&cfg);
    return rc;
}
