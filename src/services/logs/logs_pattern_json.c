/*
 * logs_pattern_json.c - the lazy JSON scanner behind JSON filter patterns.
 *
 * https://www.rfc-editor.org/rfc/rfc8259 (JSON grammar).
 *
 * A JSON pattern only reads the members its selectors name. Instead of building a DOM per
 * event, the compiled pattern holds a trie of selector paths ($ -> eventName, $ ->
 * userIdentity -> type, ...). One forward pass walks the message: members on a trie path are
 * descended into, everything else is skipped by a strict, allocation-free, non-recursive
 * skipper. Each trie node ends up FOUND (with its value span) or MISSING. The pass stops as
 * soon as every node is settled, so a pattern on $.eventName usually reads only the first few
 * hundred bytes of a CloudTrail record; a selector that is absent forces a full pass (absence
 * is only known at the closing brace).
 *
 * Rules that follow from that design (docs/filter-patterns.md, "JSON messages"):
 * - duplicate member names: the first occurrence wins (as cJSON's lookup does);
 * - the part of the message that is scanned must be well-formed JSON, else no match; text
 *   after the point where the scan stopped early is not validated;
 * - strings are not checked for valid UTF-8 (bytes >= 0x80 are taken as they are).
 */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "logs_pattern_int.h"
#include "trailstream/ts_core.h"

enum { SCAN_OK = 0, SCAN_STOP = 1, SCAN_BAD = -1 };

struct jscan {
    const unsigned char *p;
    const unsigned char *end;
    const struct ts_pattern *pat;
    struct pat_jval *vals;
    int pending;
    bool all;     /* count field-reference-only nodes too */
    bool decide;  /* stop as soon as the outcome is known */
    bool dirty;   /* a node some condition reads settled since the last evaluation */
    int decided;  /* the outcome once known, else -1 */
};

/* 1 for bytes that end the fast path inside a string: '"', '\\' and control characters. */
static const unsigned char str_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

static inline void skip_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) {
        s->p++;
    }
}

static inline bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* s->p at the opening quote; leaves s->p after the closing quote. */
static int scan_string(struct jscan *s, const unsigned char **start, size_t *len, bool *escaped)
{
    const unsigned char *p = s->p + 1;
    const unsigned char *end = s->end;
    bool esc = false;
    *start = p;
    for (;;) {
#if defined(__SSE2__)
        /* 16 bytes at a time: stop at '"', '\\' or a control character (<= 0x1f). */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        const __m128i ctl = _mm_set1_epi8(0x1f);
        while (p + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                    _mm_cmpeq_epi8(v, bslash)),
                                       _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
            int m = _mm_movemask_epi8(hit);
            if (m) {
                p += __builtin_ctz((unsigned)m);
                break;
            }
            p += 16;
        }
#endif
        while (p + 4 <= end && !str_special[p[0]] && !str_special[p[1]] && !str_special[p[2]] &&
               !str_special[p[3]]) {
            p += 4;
        }
        while (p < end && !str_special[*p]) {
            p++;
        }
        if (p >= end) {
            return SCAN_BAD;
        }
        if (*p == '"') {
            break;
        }
        if (*p != '\\') {
            return SCAN_BAD; /* raw control character */
        }
        esc = true;
        if (p + 1 >= end) {
            return SCAN_BAD;
        }
        unsigned char e = p[1];
        if (e == 'u') {
            if (p + 6 > end || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) {
                return SCAN_BAD;
            }
            p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            p += 2;
        } else {
            return SCAN_BAD;
        }
    }
    *len = (size_t)(p - *start);
    *escaped = esc;
    s->p = p + 1;
    return SCAN_OK;
}

static int scan_number(struct jscan *s)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end) {
        return SCAN_BAD;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return SCAN_BAD;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            return SCAN_BAD;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || *p < '0' || *p > '9') {
            return SCAN_BAD;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    s->p = p;
    return SCAN_OK;
}

/* true / false / null; returns the value type or 0. */
static int scan_literal(struct jscan *s)
{
    size_t left = (size_t)(s->end - s->p);
    if (left >= 4 && memcmp(s->p, "true", 4) == 0) {
        s->p += 4;
        return TS_PATTERN_VALUE_TRUE;
    }
    if (left >= 5 && memcmp(s->p, "false", 5) == 0) {
        s->p += 5;
        return TS_PATTERN_VALUE_FALSE;
    }
    if (left >= 4 && memcmp(s->p, "null", 4) == 0) {
        s->p += 4;
        return TS_PATTERN_VALUE_NULL;
    }
    return 0;
}

/* 1 for bytes that matter while skipping a container: quotes and brackets. */
static const unsigned char structural[256] = {
    ['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

/* Skips a whole object or array the pattern does not look into: strings (with their
 * escapes) and bracket nesting are checked, the scalars and punctuation between them are
 * not (docs/filter-patterns.md, "JSON messages"). This is the hot loop of a JSON pattern. */
static int skip_container(struct jscan *s)
{
    uint64_t is_obj[PAT_JSON_MAX_DEPTH / 64];
    int depth = 0;
    const unsigned char *p = s->p, *end = s->end;
    for (;;) {
#if defined(__SSE2__)
        /* 16 bytes at a time: '"', or a bracket ('[' ']' '{' '}' are 0x5b 0x5d 0x7b 0x7d, so
         * OR-ing 0x20 folds them onto '{' and '}'). */
        const __m128i quote = _mm_set1_epi8('"'), lb = _mm_set1_epi8('{');
        const __m128i rb = _mm_set1_epi8('}'), fold = _mm_set1_epi8(0x20);
        while (p + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i f = _mm_or_si128(v, fold);
            __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                       _mm_or_si128(_mm_cmpeq_epi8(f, lb), _mm_cmpeq_epi8(f, rb)));
            int m = _mm_movemask_epi8(hit);
            if (m) {
                p += __builtin_ctz((unsigned)m);
                break;
            }
            p += 16;
        }
#endif
        while (p + 4 <= end && !structural[p[0]] && !structural[p[1]] && !structural[p[2]] &&
               !structural[p[3]]) {
            p += 4;
        }
        while (p < end && !structural[*p]) {
            p++;
        }
        if (p >= end) {
            return SCAN_BAD;
        }
        unsigned char c = *p;
        if (c == '"') {
            const unsigned char *start;
            size_t len;
            bool esc;
            s->p = p;
            if (scan_string(s, &start, &len, &esc) != SCAN_OK) {
                return SCAN_BAD;
            }
            p = s->p;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth >= PAT_JSON_MAX_DEPTH) {
                return SCAN_BAD;
            }
            uint64_t bit = (uint64_t)1 << (depth & 63);
            if (c == '{') {
                is_obj[depth >> 6] |= bit;
            } else {
                is_obj[depth >> 6] &= ~bit;
            }
            depth++;
            p++;
            continue;
        }
        bool top_obj = (is_obj[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1;
        if (c != (top_obj ? '}' : ']')) {
            return SCAN_BAD;
        }
        p++;
        if (--depth == 0) {
            s->p = p;
            return SCAN_OK;
        }
    }
}

/* Skips one complete value of any shape without recursion, validating it. */
static int skip_value(struct jscan *s)
{
    uint64_t is_obj[PAT_JSON_MAX_DEPTH / 64];
    int depth = 0;
    enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } state = WANT_VALUE;
    const unsigned char *start;
    size_t len;
    bool esc;
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end) {
            return SCAN_BAD;
        }
        unsigned char c = *s->p;
        if (state == WANT_KEY) {
            if (c != '"' || scan_string(s, &start, &len, &esc) != SCAN_OK) {
                return SCAN_BAD;
            }
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                return SCAN_BAD;
            }
            s->p++;
            state = WANT_VALUE;
            continue;
        }
        if (state == AFTER_VALUE) {
            bool top_obj = (is_obj[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1;
            if (c == ',') {
                s->p++;
                state = top_obj ? WANT_KEY : WANT_VALUE;
                continue;
            }
            if (c != (top_obj ? '}' : ']')) {
                return SCAN_BAD;
            }
            s->p++;
            if (--depth == 0) {
                return SCAN_OK;
            }
            continue;
        }
        /* WANT_VALUE */
        if ((c == '{' || c == '[') && depth == 0) {
            return skip_container(s);
        }
        if (c == '{' || c == '[') {
            if (depth >= PAT_JSON_MAX_DEPTH) {
                return SCAN_BAD;
            }
            uint64_t bit = (uint64_t)1 << (depth & 63);
            if (c == '{') {
                is_obj[depth >> 6] |= bit;
            } else {
                is_obj[depth >> 6] &= ~bit;
            }
            depth++;
            s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++;
                if (--depth == 0) {
                    return SCAN_OK;
                }
                state = AFTER_VALUE;
            } else {
                state = c == '{' ? WANT_KEY : WANT_VALUE;
            }
            continue;
        }
        int r;
        if (c == '"') {
            r = scan_string(s, &start, &len, &esc);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            r = scan_number(s);
        } else {
            r = scan_literal(s) ? SCAN_OK : SCAN_BAD;
        }
        if (r != SCAN_OK) {
            return r;
        }
        if (depth == 0) {
            return SCAN_OK;
        }
        state = AFTER_VALUE;
    }
}

/* Marks node and its whole subtree MISSING (none of it was seen). */
static void settle_missing(struct jscan *s, int node)
{
    const struct pat_jnode *jn = s->pat->jnodes;
    s->vals[node].state = JV_MISSING;
    s->pending -= s->all || jn[node].in_pattern;
    s->dirty = s->dirty || jn[node].in_cond;
    for (int c = jn[node].first_child; c >= 0; c = jn[c].next_sibling) {
        settle_missing(s, c);
    }
}

static void settle_kids(struct jscan *s, int node)
{
    const struct pat_jnode *jn = s->pat->jnodes;
    for (int c = jn[node].first_child; c >= 0; c = jn[c].next_sibling) {
        if (s->vals[c].state == JV_PENDING) {
            settle_missing(s, c);
        }
    }
}

static int scan_value(struct jscan *s, int node);

/* After a node's value is complete: stop when the outcome (SCAN_DECIDE) or every needed value
 * is known. The root finishing is never an early stop: the caller still checks what follows
 * it. */
static int settled(struct jscan *s, int node, bool reads)
{
    if (s->decide && (reads || s->dirty) && s->decided < 0) {
        s->dirty = false;
        int d = ts__pat_eval3(s->pat, s->vals);
        if (d != 2) {
            s->decided = d;
            return node != 0 ? SCAN_STOP : SCAN_OK;
        }
    }
    return s->pending == 0 && node != 0 ? SCAN_STOP : SCAN_OK;
}

static int find_member(struct jscan *s, int node, const unsigned char *key, size_t len, bool esc)
{
    const struct pat_jnode *jn = s->pat->jnodes;
    char buf[PAT_MAX_NAME + 1];
    if (esc) {
        len = ts__pat_json_unescape((const char *)key, len, buf, sizeof(buf));
        if (len == (size_t)-1) {
            return -1;
        }
        key = (const unsigned char *)buf;
    }
    for (int c = jn[node].first_child; c >= 0; c = jn[c].next_sibling) {
        if (!jn[c].is_index && jn[c].name_len == len && memcmp(jn[c].name, key, len) == 0) {
            return s->vals[c].state == JV_PENDING ? c : -1;
        }
    }
    return -1;
}

static int scan_object(struct jscan *s, int node)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return SCAN_OK;
    }
    for (;;) {
        const unsigned char *key;
        size_t len;
        bool esc;
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"' || scan_string(s, &key, &len, &esc) != SCAN_OK) {
            return SCAN_BAD;
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            return SCAN_BAD;
        }
        s->p++;
        int c = find_member(s, node, key, len, esc);
        int r;
        if (c >= 0) {
            r = scan_value(s, c);
        } else {
            /* the common case, skipping a member the pattern does not name */
            skip_ws(s);
            if (s->p < s->end && *s->p == '"') {
                r = scan_string(s, &key, &len, &esc);
            } else if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
                r = skip_container(s);
            } else {
                r = skip_value(s);
            }
        }
        if (r != SCAN_OK) {
            return r;
        }
        skip_ws(s);
        if (s->p >= s->end) {
            return SCAN_BAD;
        }
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            return SCAN_OK;
        }
        return SCAN_BAD;
    }
}

static int scan_array(struct jscan *s, int node)
{
    const struct pat_jnode *jn = s->pat->jnodes;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return SCAN_OK;
    }
    for (uint64_t idx = 0;; idx++) {
        int hit = -1;
        for (int c = jn[node].first_child; c >= 0; c = jn[c].next_sibling) {
            if (jn[c].is_index && jn[c].index == idx && s->vals[c].state == JV_PENDING) {
                hit = c;
                break;
            }
        }
        int r = hit >= 0 ? scan_value(s, hit) : skip_value(s);
        if (r != SCAN_OK) {
            return r;
        }
        skip_ws(s);
        if (s->p >= s->end) {
            return SCAN_BAD;
        }
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == ']') {
            s->p++;
            return SCAN_OK;
        }
        return SCAN_BAD;
    }
}

/* Scans the value for trie node `node` (which is PENDING). Recursion is bounded by the
 * selector depth (PAT_MAX_SEL_PARTS); everything off the trie goes through skip_value. */
static int scan_value(struct jscan *s, int node)
{
    const struct pat_jnode *jn = &s->pat->jnodes[node];
    struct pat_jval *v = &s->vals[node];
    skip_ws(s);
    if (s->p >= s->end) {
        return SCAN_BAD;
    }
    v->state = JV_FOUND;
    v->escaped = 0;
    s->pending -= s->all || jn->in_pattern;
    bool reads = jn->in_cond;
    unsigned char c = *s->p;
    const unsigned char *start = s->p;
    int r;
    if (c == '{') {
        v->type = TS_PATTERN_VALUE_OBJECT;
        r = jn->has_name_kids ? scan_object(s, node) : skip_value(s);
    } else if (c == '[') {
        v->type = TS_PATTERN_VALUE_ARRAY;
        r = jn->has_index_kids ? scan_array(s, node) : skip_value(s);
    } else if (c == '"') {
        size_t len;
        bool esc;
        r = scan_string(s, &start, &len, &esc);
        if (r != SCAN_OK || len > UINT32_MAX) {
            return SCAN_BAD;
        }
        v->type = TS_PATTERN_VALUE_STRING;
        v->escaped = esc;
        v->p = (const char *)start;
        v->len = (uint32_t)len;
        settle_kids(s, node);
        return settled(s, node, reads);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        r = scan_number(s);
        v->type = TS_PATTERN_VALUE_NUMBER;
    } else {
        int t = scan_literal(s);
        v->type = (uint8_t)t;
        r = t ? SCAN_OK : SCAN_BAD;
    }
    if (r != SCAN_OK) {
        return r;
    }
    v->p = (const char *)start;
    v->len = (uint32_t)TS_MIN((size_t)(s->p - start), (size_t)UINT32_MAX);
    settle_kids(s, node);
    return settled(s, node, reads);
}

bool ts__pat_json_scan(const struct ts_pattern *p, const char *msg, size_t len,
                       struct pat_jval *vals, enum pat_scan_mode mode, int *decided)
{
    bool all_nodes = mode == SCAN_ALL;
    struct jscan s;
    s.p = (const unsigned char *)msg;
    s.end = s.p + len;
    s.pat = p;
    s.vals = vals;
    s.all = all_nodes;
    s.decide = mode == SCAN_DECIDE;
    s.dirty = false;
    s.decided = -1;
    if (decided) {
        *decided = -1;
    }
    s.pending = all_nodes ? p->n_jnodes : p->n_match_jnodes;
    memset(vals, 0, (size_t)p->n_jnodes * sizeof(*vals));
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        return false;
    }
    int r = scan_value(&s, 0);
    if (decided) {
        *decided = s.decided;
    }
    if (r == SCAN_STOP) {
        return true;
    }
    if (r != SCAN_OK) {
        return false;
    }
    skip_ws(&s);
    return s.p == s.end;
}

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return (unsigned)(c - '0');
    }
    return (unsigned)((c | 0x20) - 'a' + 10);
}

static size_t put_utf8(char *out, size_t o, size_t cap, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (o + n > cap) {
        return (size_t)-1;
    }
    memcpy(out + o, b, n);
    return o + n;
}

size_t ts__pat_json_unescape(const char *raw, size_t len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char c = raw[i];
        if (c != '\\' || i + 1 >= len) {
            if (o >= out_len) {
                return (size_t)-1;
            }
            out[o++] = c;
            i++;
            continue;
        }
        char e = raw[i + 1];
        if (e == 'u' && i + 6 <= len) {
            uint32_t cp = 0;
            for (int k = 2; k < 6; k++) {
                cp = cp << 4 | hexval(raw[i + (size_t)k]);
            }
            i += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= len && raw[i] == '\\' &&
                raw[i + 1] == 'u') {
                uint32_t lo = 0;
                for (int k = 2; k < 6; k++) {
                    lo = lo << 4 | hexval(raw[i + (size_t)k]);
                }
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd; /* a lone surrogate */
            }
            o = put_utf8(out, o, out_len, cp);
            if (o == (size_t)-1) {
                return o;
            }
            continue;
        }
        char d;
        switch (e) {
        case 'b':
            d = '\b';
            break;
        case 'f':
            d = '\f';
            break;
        case 'n':
            d = '\n';
            break;
        case 'r':
            d = '\r';
            break;
        case 't':
            d = '\t';
            break;
        default:
            d = e;
            break;
        }
        if (o >= out_len) {
            return (size_t)-1;
        }
        out[o++] = d;
        i += 2;
    }
    return o;
}

bool ts__pat_parse_number(const char *s, size_t len, double *out)
{
    char buf[PAT_NUM_TEXT_MAX + 1];
    size_t i = 0;
    if (len == 0 || len > PAT_NUM_TEXT_MAX) {
        return false;
    }
    if (s[i] == '+' || s[i] == '-') {
        i++;
    }
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0) {
        return false;
    }
    if (i < len && s[i] == '.') {
        i++;
        digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
        if (digits == 0) {
            return false;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
        if (digits == 0) {
            return false;
        }
    }
    if (i != len) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* The grammar above is locale-neutral except for the decimal point; the daemon never
     * calls setlocale, so strtod sees the "C" locale. */
    *out = strtod(buf, NULL);
    return true;
}
