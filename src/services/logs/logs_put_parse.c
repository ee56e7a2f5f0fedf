/*
 * logs_put_parse.c - the PutLogEvents request body, parsed straight into store records.
 *
 * PutLogEvents is the ingestion hot path: a 1 MB body of 10,000 events would cost a DOM of
 * 30,000 nodes and as many allocations. This strict JSON parser (RFC 8259) walks the body
 * once and decodes each message directly into the record buffer that is appended to the
 * store: [8-byte little-endian timestamp][message bytes] per event. Unknown members are
 * validated and skipped. See docs/logs.md.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "logs_int.h"

#define MAX_DEPTH 64

struct parser {
    const char *start;
    const char *p;
    const char *end;
    struct ts_aws_error *err;
    int depth;
};

static int syntax(struct parser *ps, const char *what)
{
    return ts_aws_fail(ps->err, "SerializationException",
                       "Request body is not valid JSON: %s at byte %ld.", what,
                       (long)(ps->p - ps->start));
}

static void ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Parses a string at ps->p (which is at the opening quote). Decoded bytes are appended to out
 * when out is not NULL; *n gets the decoded length either way. The caller has reserved room
 * in out for the rest of the body: a decoded string is never longer than its JSON text, so
 * bytes are written without per-byte capacity checks. */
static int parse_string(struct parser *ps, struct ts_buf *out, size_t *n)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        return syntax(ps, "expected a string");
    }
    ps->p++;
    size_t count = 0;
    char *o = NULL;
    if (out) {
        if ((size_t)(ps->end - ps->p) > out->cap - out->len - 1) {
            return ts_aws_fail(ps->err, "InvalidParameterException",
                               "Upload too large: the request exceeds the batch limit.");
        }
        o = out->data + out->len;
    }
    for (;;) {
        /* the run of plain characters is copied in one go */
        const char *run = ps->p;
        const char *end = ps->end;
        const char *q = run;
#if defined(__SSE2__)
        /* 16 bytes at a time: find the first '"', '\\' or control character */
        {
            const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
            const __m128i space = _mm_set1_epi8(0x20), sign = _mm_set1_epi8((char)0x80);
            while (end - q >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
                /* unsigned v < 0x20 as a signed compare of both sides flipped by 0x80 */
                __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, sign),
                                             _mm_xor_si128(space, sign));
                __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                        _mm_cmpeq_epi8(v, slash)),
                                           ctl);
                int mask = _mm_movemask_epi8(hit);
                if (mask) {
                    q += __builtin_ctz((unsigned)mask);
                    break;
                }
                q += 16;
            }
        }
#endif
        /* 8 bytes at a time while none is '"', '\\' or a control character (SWAR tests) */
        while (end - q >= 8) {
            uint64_t w;
            memcpy(&w, q, 8);
            uint64_t quote = w ^ 0x2222222222222222ull, slash = w ^ 0x5c5c5c5c5c5c5c5cull;
            uint64_t hit = ((quote - 0x0101010101010101ull) & ~quote) |
                           ((slash - 0x0101010101010101ull) & ~slash) |
                           ((w - 0x2020202020202020ull) & ~w);
            if (hit & 0x8080808080808080ull) {
                break;
            }
            q += 8;
        }
        while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) {
            q++;
        }
        size_t rl = (size_t)(q - run);
        ps->p = q;
        if (rl) {
            if (o) {
#if defined(__SSE2__)
                /* Short runs (the norm between escaped quotes) move as one 16-byte store;
                 * the bytes past the run are overwritten by what follows. The output has at
                 * least as much room as input remains, so 16 bytes always fit here. */
                if (rl <= 16 && end - run >= 16) {
                    _mm_storeu_si128((__m128i *)(void *)(o + count),
                                     _mm_loadu_si128((const __m128i *)(const void *)run));
                } else {
                    memcpy(o + count, run, rl);
                }
#else
                memcpy(o + count, run, rl);
#endif
            }
            count += rl;
        }
        if (ps->p >= ps->end) {
            return syntax(ps, "unterminated string");
        }
        char c = *ps->p;
        if (c == '"') {
            ps->p++;
            *n = count;
            if (out) {
                out->len += count;
                out->data[out->len] = '\0';
            }
            return 0;
        }
        if ((unsigned char)c < 0x20) {
            return syntax(ps, "control character in a string");
        }
        /* an escape */
        if (ps->end - ps->p < 2) {
            return syntax(ps, "truncated escape");
        }
        char e = ps->p[1];
        if (e == '"' || e == '\\' || e == '/') {
            /* the common escapes, without the general path */
            if (o) {
                o[count] = e;
            }
            count++;
            ps->p += 2;
            continue;
        }
        char one = 0;
        uint8_t utf8[4];
        size_t ul = 0;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            one = e;
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp) != 0) {
                return syntax(ps, "bad \\u escape");
            }
            ps->p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    return syntax(ps, "unpaired surrogate");
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return syntax(ps, "unpaired surrogate");
            }
            if (cp < 0x80) {
                utf8[ul++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                utf8[ul++] = (uint8_t)(0xC0 | (cp >> 6));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                utf8[ul++] = (uint8_t)(0xE0 | (cp >> 12));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else {
                utf8[ul++] = (uint8_t)(0xF0 | (cp >> 18));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                utf8[ul++] = (uint8_t)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return syntax(ps, "bad escape");
        }
        if (e != 'u') {
            ps->p += 2;
            utf8[0] = (uint8_t)one;
            ul = 1;
        }
        /* every escape is at least as long as its UTF-8 encoding, so the room suffices */
        if (o) {
            memcpy(o + count, utf8, ul);
        }
        count += ul;
    }
}

/* Parses a JSON number; *integral tells whether it is a whole number fitting in int64. */
static int parse_number(struct parser *ps, int64_t *out, bool *integral)
{
    const char *s = ps->p;
    bool neg = false;
    if (ps->p < ps->end && *ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        return syntax(ps, "bad number");
    }
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9') {
        return syntax(ps, "leading zero");
    }
    uint64_t v = 0;
    bool overflow = false;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = (unsigned)(*ps->p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            overflow = true;
        } else {
            v = v * 10 + d;
        }
        ps->p++;
    }
    bool frac = false;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            return syntax(ps, "bad fraction");
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            frac |= *ps->p != '0';
            ps->p++;
        }
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) {
            ps->p++;
        }
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            return syntax(ps, "bad exponent");
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            ps->p++;
        }
        frac = true; /* exponents are not used for timestamps: treat as non-integral */
    }
    *integral = !frac && !overflow && v <= (uint64_t)INT64_MAX;
    *out = *integral ? (neg ? -(int64_t)v : (int64_t)v) : 0;
    TS_UNUSED(s);
    return 0;
}

static int skip_value(struct parser *ps);

static int expect_literal(struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) {
        return syntax(ps, "unexpected token");
    }
    ps->p += n;
    return 0;
}

static int skip_container(struct parser *ps, char close)
{
    if (++ps->depth > MAX_DEPTH) {
        return syntax(ps, "nested too deeply");
    }
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        int rc;
        if (close == '}') {
            size_t n;
            if ((rc = parse_string(ps, NULL, &n)) != 0) {
                return rc;
            }
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                return syntax(ps, "expected ':'");
            }
            ps->p++;
            ws(ps);
        }
        if ((rc = skip_value(ps)) != 0) {
            return rc;
        }
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return syntax(ps, "expected ',' or a closing bracket");
    }
}

static int skip_value(struct parser *ps)
{
    if (ps->p >= ps->end) {
        return syntax(ps, "unexpected end");
    }
    size_t n;
    int64_t v;
    bool integral;
    switch (*ps->p) {
    case '"':
        return parse_string(ps, NULL, &n);
    case '{':
        return skip_container(ps, '}');
    case '[':
        return skip_container(ps, ']');
    case 't':
        return expect_literal(ps, "true");
    case 'f':
        return expect_literal(ps, "false");
    case 'n':
        return expect_literal(ps, "null");
    default:
        return parse_number(ps, &v, &integral);
    }
}

/* Decodes the string at ps->p into buf when it fits; a longer string is consumed and
 * reported through *too_long (buf then holds "") so callers can refuse or ignore it. */
static int small_string(struct parser *ps, char *buf, size_t buf_len, bool *too_long)
{
    const char *at = ps->p;
    size_t n;
    int rc = parse_string(ps, NULL, &n);
    if (rc) {
        return rc;
    }
    *too_long = n >= buf_len;
    buf[0] = '\0';
    if (*too_long) {
        return 0;
    }
    /* Decode again, bounded to the string's own text, into a buffer of that size. */
    struct parser sub = *ps;
    sub.p = at;
    sub.end = ps->p;
    struct ts_buf b;
    ts_buf_init(&b, (size_t)(sub.end - sub.p));
    rc = ts_buf_reserve(&b, b.max);
    rc = rc ? rc : parse_string(&sub, &b, &n);
    if (!rc) {
        ts_strlcpy(buf, b.data ? b.data : "", buf_len);
    }
    ts_buf_free(&b);
    return rc;
}

/* A member name: an unknown long name reads as "" and is skipped by the callers. */
static int member_name(struct parser *ps, char *buf, size_t buf_len)
{
    bool too_long;
    return small_string(ps, buf, buf_len, &too_long);
}

static bool is_null(struct parser *ps)
{
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        return true;
    }
    return false;
}

/* A string member into a fixed buffer; *too_long is set (and buf left empty) when the value
 * does not fit, for the caller's length check. */
static int string_member(struct parser *ps, char *buf, size_t buf_len, bool *too_long,
                         const char *member)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        return ts_aws_fail(ps->err, "SerializationException", "Member '%s' must be a string.",
                           member);
    }
    return small_string(ps, buf, buf_len, too_long);
}

static int grow_events(struct logs_put_input *in)
{
    size_t cap = in->cap ? in->cap * 2 : 256;
    int64_t *ts = ts_realloc(in->ts, cap * sizeof(*ts));
    if (!ts) {
        return TS_ENOMEM;
    }
    in->ts = ts;
    size_t *off = ts_realloc(in->off, cap * sizeof(*off));
    if (!off) {
        return TS_ENOMEM;
    }
    in->off = off;
    size_t *len = ts_realloc(in->len, cap * sizeof(*len));
    if (!len) {
        return TS_ENOMEM;
    }
    in->len = len;
    in->cap = cap;
    return 0;
}

/* One {"timestamp": N, "message": "..."} object. */
static int parse_event(struct parser *ps, struct logs_put_input *in)
{
    if (ps->p >= ps->end || *ps->p != '{') {
        return ts_aws_fail(ps->err, "SerializationException",
                           "Each log event must be an object.");
    }
    if (in->n == TS_LOGS_MAX_BATCH_EVENTS) {
        return ts_aws_fail(ps->err, "InvalidParameterException",
                           "1 validation error detected: Value at 'logEvents' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10000");
    }
    if (in->n == in->cap && grow_events(in) != 0) {
        return ts_aws_fail(ps->err, "ServiceUnavailableException", "Out of memory.");
    }
    size_t i = in->n;
    bool have_ts = false, have_msg = false;
    int64_t ts = 0;
    ps->p++;
    ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            char name[32];
            int rc = member_name(ps, name, sizeof(name));
            if (rc) {
                return rc;
            }
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                return syntax(ps, "expected ':'");
            }
            ps->p++;
            ws(ps);
            if (is_null(ps)) {
                /* null is absent */
            } else if (strcmp(name, "timestamp") == 0) {
                bool integral;
                if (ps->p >= ps->end || !(*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu].timestamp must be a number.", i);
                }
                if ((rc = parse_number(ps, &ts, &integral)) != 0) {
                    return rc;
                }
                if (!integral || ts < 0) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu]: timestamp must be a non-negative "
                                       "integer.",
                                       i);
                }
                have_ts = true;
            } else if (strcmp(name, "message") == 0) {
                if (ps->p >= ps->end || *ps->p != '"' || have_msg) {
                    return ts_aws_fail(ps->err, "SerializationException",
                                       "logEvents[%zu].message must be a string.", i);
                }
                /* room for the timestamp, then the message decoded in place */
                static const uint8_t zero[8] = {0};
                if (ts_buf_add(&in->payload, zero, 8) != 0) {
                    return ts_aws_fail(ps->err, "InvalidParameterException",
                                       "Upload too large: the request exceeds the batch "
                                       "limit.");
                }
                in->off[i] = in->payload.len;
                size_t n;
                if ((rc = parse_string(ps, &in->payload, &n)) != 0) {
                    return rc;
                }
                in->len[i] = n;
                have_msg = true;
            } else if ((rc = skip_value(ps)) != 0) {
                return rc;
            }
            ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                ws(ps);
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return syntax(ps, "expected ',' or '}'");
        }
    }
    if (!have_ts || !have_msg) {
        return ts_aws_fail(ps->err, "InvalidParameterException",
                           "1 validation error detected: Value null at 'logEvents.%zu.member.%s' "
                           "failed to satisfy constraint: Member must not be null",
                           i + 1, have_ts ? "message" : "timestamp");
    }
    for (int b = 0; b < 8; b++) {
        in->payload.data[in->off[i] - 8 + (size_t)b] = (char)((uint64_t)ts >> (8 * b));
    }
    in->ts[i] = ts;
    in->n++;
    return 0;
}

int logs_put_parse(const char *body, size_t len, struct logs_put_input *in,
                   struct ts_aws_error *err)
{
    memset(in, 0, sizeof(*in));
    /* Decoded messages never exceed the body; the batch limit is checked afterwards. */
    ts_buf_init(&in->payload, len + 8 * (size_t)TS_LOGS_MAX_BATCH_EVENTS);
    if (ts_buf_reserve(&in->payload, len + 8 * (size_t)TS_LOGS_MAX_BATCH_EVENTS) != 0) {
        return ts_aws_fail(err, "ServiceUnavailableException", "Out of memory.");
    }
    struct parser ps = {body, body, body + len, err, 0};
    ws(&ps);
    if (ps.p >= ps.end) {
        return 0; /* an empty body is an empty object: the required members are missing */
    }
    if (*ps.p != '{') {
        return ts_aws_fail(err, "SerializationException", "Request body must be a JSON object.");
    }
    ps.p++;
    ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            char name[32];
            int rc = member_name(&ps, name, sizeof(name));
            if (rc) {
                return rc;
            }
            ws(&ps);
            if (ps.p >= ps.end || *ps.p != ':') {
                return syntax(&ps, "expected ':'");
            }
            ps.p++;
            ws(&ps);
            if (is_null(&ps)) {
                /* absent */
            } else if (strcmp(name, "logGroupName") == 0) {
                rc = string_member(&ps, in->group, sizeof(in->group), &in->group_too_long,
                                   "logGroupName");
                in->have_group = true;
            } else if (strcmp(name, "logStreamName") == 0) {
                rc = string_member(&ps, in->stream, sizeof(in->stream), &in->stream_too_long,
                                   "logStreamName");
                in->have_stream = true;
            } else if (strcmp(name, "logEvents") == 0) {
                if (ps.p >= ps.end || *ps.p != '[') {
                    return ts_aws_fail(err, "SerializationException",
                                       "logEvents must be a list.");
                }
                in->have_events = true;
                ps.p++;
                ws(&ps);
                if (ps.p < ps.end && *ps.p == ']') {
                    ps.p++;
                } else {
                    for (;;) {
                        if ((rc = parse_event(&ps, in)) != 0) {
                            return rc;
                        }
                        ws(&ps);
                        if (ps.p < ps.end && *ps.p == ',') {
                            ps.p++;
                            ws(&ps);
                            continue;
                        }
                        if (ps.p < ps.end && *ps.p == ']') {
                            ps.p++;
                            break;
                        }
                        return syntax(&ps, "expected ',' or ']'");
                    }
                }
            } else {
                /* sequenceToken (ignored, as AWS now does), entity, and unknown members */
                rc = skip_value(&ps);
            }
            if (rc) {
                return rc;
            }
            ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                ws(&ps);
                continue;
            }
            if (ps.p < ps.end && *ps.p == '}') {
                ps.p++;
                break;
            }
            return syntax(&ps, "expected ',' or '}'");
        }
    }
    ws(&ps);
    if (ps.p != ps.end) {
        return syntax(&ps, "trailing characters after the object");
    }
    return 0;
}

void logs_put_input_free(struct logs_put_input *in)
{
    ts_free(in->ts);
    ts_free(in->off);
    ts_free(in->len);
    ts_buf_free(&in->payload);
    memset(in, 0, sizeof(*in));
}
