/*
 * ts_core.h - the bottom layer every other component uses: errors, memory, capped buffers,
 * strings, logging, clock, hashes (SHA-256, HMAC, MD5, CRC32C), base64, random ids, metrics
 * and the YAML document loader used by the config.
 *
 * Nothing here logs on its own or knows about AWS; functions return 0 or a negative TS_E* code.
 */
#ifndef TS_CORE_H
#define TS_CORE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

/* OS errors are returned as -errno; our own codes sit in a reserved range below -4000. */
#define TS_OK 0
#define TS_ENOMEM (-ENOMEM)
#define TS_EINVAL (-EINVAL)
#define TS_ENOSPC (-ENOSPC)
#define TS_EIO (-EIO)
#define TS_ENOENT (-ENOENT)
#define TS_EEXIST (-EEXIST)
#define TS_EAGAIN (-EAGAIN)
#define TS_ETIMEDOUT (-ETIMEDOUT)
#define TS_E_BASE (-4000)
#define TS_ETOOBIG (TS_E_BASE - 1)   /* a capped buffer or a limit would be exceeded */
#define TS_ECORRUPT (TS_E_BASE - 2)  /* data failed a checksum or framing check */
#define TS_EPARSE (TS_E_BASE - 3)    /* malformed input (JSON, YAML, headers) */
#define TS_ENOTFOUND (TS_E_BASE - 4) /* a looked-up entity does not exist */
#define TS_ECLOSED (TS_E_BASE - 5)   /* the object was closed or is shutting down */
#define TS_ERANGE (TS_E_BASE - 6)    /* a position is outside the valid range */

/* Returns a static description of a TS_E* or -errno code. Any thread. */
const char *ts_strerror(int err);

#define TS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TS_UNUSED(x) ((void)(x))

/* Invariant check that stays on in release builds: a broken invariant is a bug, stop loudly. */
#define TS_ASSERT(cond)                                                                           \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            ts_panic(__FILE__, __LINE__, #cond);                                                  \
        }                                                                                         \
    } while (0)
_Noreturn void ts_panic(const char *file, int line, const char *what);

/* ---------------------------------------------------------------- memory */

/* All allocation goes through these. They return NULL on failure (never abort), so callers
 * must handle it. A test seam can make the Nth allocation fail (allocation torture). */
void *ts_malloc(size_t n);
void *ts_calloc(size_t count, size_t n);
void *ts_realloc(void *p, size_t n);
void ts_free(void *p);
char *ts_strdup(const char *s);
char *ts_strndup(const char *s, size_t n);
/* Makes allocation number `nth` (1-based, counted from now) and every later one fail when
 * `nth` > 0; 0 turns failure injection off. For tests only. */
void ts_mem_fail_after(long nth);

/* ---------------------------------------------------------------- buffers */

/* A growable byte buffer with a hard cap fixed at init (like curl's dynbuf "toobig").
 * data is always NUL-terminated so text can be used directly; len excludes the NUL. */
struct ts_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/* Initialises an empty buffer that will never grow beyond `max` bytes of content. */
void ts_buf_init(struct ts_buf *b, size_t max);
/* Frees the storage; the buffer can be used again after ts_buf_init. NULL-safe. */
void ts_buf_free(struct ts_buf *b);
/* Empties the buffer but keeps its storage. */
void ts_buf_reset(struct ts_buf *b);
/* Appends bytes. Returns 0, TS_ETOOBIG past the cap, or TS_ENOMEM. On error nothing changes. */
int ts_buf_add(struct ts_buf *b, const void *p, size_t n);
int ts_buf_adds(struct ts_buf *b, const char *s);
int ts_buf_addc(struct ts_buf *b, char c);
int ts_buf_addf(struct ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ts_buf_vaddf(struct ts_buf *b, const char *fmt, va_list ap);
/* Appends s with XML special characters escaped. */
int ts_buf_add_xml(struct ts_buf *b, const char *s);
/* Makes room for `n` more bytes without changing len. */
int ts_buf_reserve(struct ts_buf *b, size_t n);
/* Hands the storage to the caller (who frees it with ts_free) and empties the buffer. */
char *ts_buf_take(struct ts_buf *b, size_t *len);

/* ---------------------------------------------------------------- strings */

/* Copies at most size-1 bytes and always terminates. Returns strlen(src). */
size_t ts_strlcpy(char *dst, const char *src, size_t size);
bool ts_str_eq_nocase(const char *a, const char *b);
bool ts_str_has_prefix(const char *s, const char *prefix);
/* Parses a whole decimal string into an int64; returns 0 or TS_EINVAL / TS_ERANGE. */
int ts_parse_i64(const char *s, int64_t *out);
/* Decodes %XX escapes (and '+' as space when plus_is_space) into out (capped). */
int ts_url_decode(const char *s, size_t n, bool plus_is_space, struct ts_buf *out);
/* RFC 3986 encoding: every byte but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as %XX. */
int ts_uri_encode(const char *s, size_t n, bool keep_slash, struct ts_buf *out);
/* True if the bytes are well-formed UTF-8 (no overlongs, no surrogates). */
bool ts_utf8_valid(const char *s, size_t n);
/* Length of the longest prefix of [s, s+n) whose bytes are all below 0x80 (ASCII). */
size_t ts_ascii_prefix(const void *s, size_t n);

/* ---------------------------------------------------------------- logging */

enum ts_log_level { TS_LOG_LEVEL_ERROR = 0, TS_LOG_LEVEL_WARN, TS_LOG_LEVEL_INFO,
                    TS_LOG_LEVEL_DEBUG };

extern int ts_log_level_current;
void ts_log_set_level(enum ts_log_level level);
/* Names the calling thread (at most 15 characters are kept), as top -H, ps -L, gdb and
 * /proc/<pid>/task/<tid>/comm show it. Every long-lived thread of the server calls this. */
void ts_thread_name(const char *name);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int ts_log_level_parse(const char *s);
void ts_log_write(enum ts_log_level level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level is checked before the arguments are evaluated. Never log secrets or payloads. */
#define TS_LOG(level, comp, ...)                                                                  \
    do {                                                                                          \
        if ((int)(level) <= ts_log_level_current) {                                               \
            ts_log_write((level), (comp), __VA_ARGS__);                                           \
        }                                                                                         \
    } while (0)
#define TS_LOG_ERROR(comp, ...) TS_LOG(TS_LOG_LEVEL_ERROR, comp, __VA_ARGS__)
#define TS_LOG_WARN(comp, ...) TS_LOG(TS_LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define TS_LOG_INFO(comp, ...) TS_LOG(TS_LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define TS_LOG_DEBUG(comp, ...) TS_LOG(TS_LOG_LEVEL_DEBUG, comp, __VA_ARGS__)

/* ---------------------------------------------------------------- clock */

/* Time source injected into components so tests control time. */
struct ts_clock {
    int64_t (*now_ms)(void *ctx); /* wall clock, milliseconds since the epoch */
    void *ctx;
};

/* The process-wide real clock (CLOCK_REALTIME). */
extern const struct ts_clock ts_clock_real;
static inline int64_t ts_clock_now_ms(const struct ts_clock *c)
{
    return c->now_ms(c->ctx);
}
/* Monotonic time in nanoseconds, for latency measurement only. */
uint64_t ts_mono_ns(void);
/* Formats ms since the epoch as "YYYYMMDDTHHMMSSZ" (17 bytes incl. NUL). */
void ts_time_fmt_basic(int64_t ms, char out[17]);
/* Formats as ISO-8601 "YYYY-MM-DDTHH:MM:SSZ" (21 bytes incl. NUL). */
void ts_time_fmt_iso(int64_t ms, char out[21]);
/* Parses "YYYYMMDDTHHMMSSZ" into ms since the epoch; returns 0 or TS_EINVAL. */
int ts_time_parse_basic(const char *s, int64_t *ms);
/* Parses an RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT"); returns 0 or TS_EINVAL. */
int ts_time_parse_http(const char *s, int64_t *ms);

/* ---------------------------------------------------------------- hashes and encodings */

#define TS_SHA256_LEN 32
#define TS_MD5_LEN 16

void ts_sha256(const void *p, size_t n, uint8_t out[TS_SHA256_LEN]);
void ts_hmac_sha256(const void *key, size_t key_len, const void *p, size_t n,
                    uint8_t out[TS_SHA256_LEN]);
void ts_md5(const void *p, size_t n, uint8_t out[TS_MD5_LEN]);
/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it. Chainable: pass the
 * previous result as crc (0 to start). */
uint32_t ts_crc32c(uint32_t crc, const void *p, size_t n);
/* The CRC32C of A || B from crc1 = ts_crc32c(0, A), crc2 = ts_crc32c(0, B) and len2 = |B|,
 * without the bytes: a few carry-less multiplications where the CPU has them. Lets a CRC be
 * taken while the bytes are hot and joined to a header known only later. */
uint32_t ts_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* Which CRC32C code this CPU runs: "vpclmulqdq", "sse4.2-3way", "sse4.2" or "table". */
const char *ts_crc32c_impl(void);
/* Lowercase hex of n bytes into out (2n+1 bytes incl. NUL). */
void ts_hex(const uint8_t *p, size_t n, char *out);
/* Constant-time comparison of two equal-length byte strings. */
bool ts_mem_eq_ct(const void *a, const void *b, size_t n);
/* Standard base64 with padding. Decoding rejects invalid characters with TS_EINVAL. */
int ts_base64_encode(const void *p, size_t n, struct ts_buf *out);
int ts_base64_decode(const char *s, size_t n, struct ts_buf *out);
/* Fills p with cryptographically random bytes; returns 0 or TS_EIO. */
int ts_random(void *p, size_t n);
/* A random RFC 4122 version-4 UUID, 37 bytes incl. NUL. */
void ts_uuid4(char out[37]);

/* ---------------------------------------------------------------- gzip (RFC 1952) */

/* One-shot gzip over libdeflate. A compressor keeps its (large) work state between calls, so
 * hot paths create one per thread and reuse it; it is not thread-safe. */
struct ts_gzip;

/* Creates a compressor at `level` (0 = store only ... 12 = smallest; 1 is fastest, 6 is
 * zlib's default). Returns NULL on allocation failure or a bad level. */
struct ts_gzip *ts_gzip_create(int level);
/* NULL-safe. */
void ts_gzip_destroy(struct ts_gzip *z);
/* Appends the gzip member of n bytes at p (header with MTIME 0) to out. z may be NULL for a
 * one-off call at level 6. Returns 0, TS_ETOOBIG when the result would not fit under out's
 * cap (out unchanged) or TS_ENOMEM. */
int ts_gzip_compress(struct ts_gzip *z, const void *p, size_t n, struct ts_buf *out);
/* Appends the decompressed content of the gzip data (one or more concatenated members) to
 * out. Returns 0, TS_EPARSE for anything that is not valid gzip (bad header, CRC or length),
 * TS_ETOOBIG past out's cap, or TS_ENOMEM. Any thread. */
int ts_gzip_decompress(const void *p, size_t n, struct ts_buf *out);

/* ---------------------------------------------------------------- metrics */

/* Process-wide metrics rendered in the Prometheus text format. Counters and gauges are keyed
 * by name plus a label string ("service=\"sts\",status=\"200\""). Any thread. */
int ts_metrics_init(void);
void ts_metrics_shutdown(void);
void ts_metric_add(const char *name, const char *labels, double v);
void ts_metric_set(const char *name, const char *labels, double v);
/* Records one observation into a latency histogram (seconds). */
void ts_metric_observe(const char *name, const char *labels, double seconds);
/* Declares HELP/TYPE text for a metric family (optional). */
void ts_metric_describe(const char *name, const char *type, const char *help);
/* Returns the current value of a counter or gauge, or 0 if it does not exist. */
double ts_metric_get(const char *name, const char *labels);
/* Renders every metric into out. Returns 0 or a buffer error. */
int ts_metrics_render(struct ts_buf *out);

/* ---------------------------------------------------------------- YAML documents */

enum ts_yaml_type { TS_YAML_SCALAR, TS_YAML_MAP, TS_YAML_SEQ };

/* A parsed YAML node. Maps hold alternating key/value children (keys are scalars). */
struct ts_yaml_node {
    enum ts_yaml_type type;
    int line;         /* 1-based line in the source file */
    char *value;      /* scalars only */
    bool quoted;      /* scalar was written in quotes */
    struct ts_yaml_node **items;
    size_t n_items;
};

/* Loads a YAML file into a tree. On error returns NULL and writes "file:line: reason" to err. */
struct ts_yaml_node *ts_yaml_load_file(const char *path, char *err, size_t err_len);
struct ts_yaml_node *ts_yaml_load_string(const char *text, size_t len, char *err,
                                         size_t err_len);
void ts_yaml_destroy(struct ts_yaml_node *n);

#endif
