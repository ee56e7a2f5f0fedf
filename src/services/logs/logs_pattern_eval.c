/*
 * logs_pattern_eval.c - evaluating a compiled filter pattern against one log event message,
 * capturing field references, and TestMetricFilter's extracted values.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TestMetricFilter.html
 *
 * The match path never allocates: per-message state (selector values, field spans) lives on
 * the caller's stack, sized by the compile-time caps in logs_pattern_int.h. The only
 * exception is comparing a JSON string longer than PAT_STR_STACK bytes that contains escapes,
 * which is decoded into a temporary heap buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "logs_pattern_int.h"
#include "trailstream/ts_core.h"

bool ts__pat_contains(const char *hay, size_t hay_len, const char *needle, size_t n)
{
    if (n == 0) {
        return true;
    }
    if (n > hay_len) {
        return false;
    }
    if (n == 1) {
        return memchr(hay, needle[0], hay_len) != NULL;
    }
    return memmem(hay, hay_len, needle, n) != NULL;
}

static bool wild_match(const struct pat_value *v, const char *t, size_t n)
{
    if (v->lead && v->trail) {
        return ts__pat_contains(t, n, v->s, v->len);
    }
    if (v->len > n) {
        return false;
    }
    if (v->lead) {
        return memcmp(t + n - v->len, v->s, v->len) == 0;
    }
    if (v->trail) {
        return memcmp(t, v->s, v->len) == 0;
    }
    return v->len == n && memcmp(t, v->s, n) == 0;
}

static bool num_cmp(enum pat_op op, double a, double b)
{
    switch (op) {
    case OP_EQ:
        return a == b;
    case OP_NE:
        return a != b;
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_GT:
        return a > b;
    case OP_GE:
        return a >= b;
    default:
        return false;
    }
}

/* Compares a scalar (JSON string/number/bool, or a space-delimited field) with a condition. */
static bool compare(const struct pat_node *n, int type, const char *raw, size_t len,
                    bool escaped)
{
    const struct pat_value *v = &n->val;
    if (v->kind == VAL_ANY) {
        return n->op == OP_EQ;
    }
    if (v->kind == VAL_NUM) {
        double d;
        if (type != TS_PATTERN_VALUE_NUMBER && type != TS_PATTERN_VALUE_FIELD) {
            return false;
        }
        if (!ts__pat_parse_number(raw, len, &d)) {
            return false;
        }
        return num_cmp(n->op, d, v->num);
    }
    /* string comparison against the value's text */
    char stack[PAT_STR_STACK];
    char *heap = NULL;
    const char *text = raw;
    size_t tlen = len;
    if (type == TS_PATTERN_VALUE_TRUE) {
        text = "true";
        tlen = 4;
    } else if (type == TS_PATTERN_VALUE_FALSE) {
        text = "false";
        tlen = 5;
    } else if (escaped) {
        char *buf = stack;
        if (len > sizeof(stack)) {
            heap = ts_malloc(len);
            if (!heap) {
                return false;
            }
            buf = heap;
        }
        tlen = ts__pat_json_unescape(raw, len, buf, len > sizeof(stack) ? len : sizeof(stack));
        text = buf;
        if (tlen == (size_t)-1) {
            ts_free(heap);
            return false;
        }
    }
    bool m = v->kind == VAL_REGEX ? ts__rx_search(v->rx, text, tlen) : wild_match(v, text, tlen);
    ts_free(heap);
    return n->op == OP_EQ ? m : (n->op == OP_NE ? !m : false);
}

/* ---------------------------------------------------------------- JSON */

static bool cond_json(const struct pat_node *n, const struct pat_jval *vals)
{
    const struct pat_jval *jv = &vals[n->slot];
    switch (n->op) {
    case OP_NOT_EXISTS:
        return jv->state != JV_FOUND;
    case OP_IS_NULL:
        return jv->state == JV_FOUND && jv->type == TS_PATTERN_VALUE_NULL;
    case OP_IS_TRUE:
        return jv->state == JV_FOUND && jv->type == TS_PATTERN_VALUE_TRUE;
    case OP_IS_FALSE:
        return jv->state == JV_FOUND && jv->type == TS_PATTERN_VALUE_FALSE;
    default:
        break;
    }
    if (jv->state != JV_FOUND || jv->type == TS_PATTERN_VALUE_OBJECT ||
        jv->type == TS_PATTERN_VALUE_ARRAY || jv->type == TS_PATTERN_VALUE_NULL) {
        return false;
    }
    return compare(n, jv->type, jv->p, jv->len, jv->escaped);
}

/* ---------------------------------------------------------------- space-delimited */

struct span {
    uint32_t off;
    uint32_t len;
};

/* Splits off the next field at *i: runs of blanks separate fields; a field that starts with
 * '"' or '[' runs to the next '"' or ']' (or the end) and excludes those characters. */
static bool next_field(const char *msg, size_t len, size_t *i, struct span *f)
{
    size_t k = *i;
    while (k < len && (msg[k] == ' ' || msg[k] == '\t' || msg[k] == '\r' || msg[k] == '\n')) {
        k++;
    }
    if (k >= len) {
        *i = k;
        return false;
    }
    char close = msg[k] == '"' ? '"' : (msg[k] == '[' ? ']' : '\0');
    size_t b, e;
    if (close) {
        b = k + 1;
        const char *q = memchr(msg + b, close, len - b);
        e = q ? (size_t)(q - msg) : len;
        k = q ? e + 1 : len;
    } else {
        b = k;
        while (k < len && msg[k] != ' ' && msg[k] != '\t' && msg[k] != '\r' && msg[k] != '\n') {
            k++;
        }
        e = k;
    }
    f->off = (uint32_t)b;
    f->len = (uint32_t)(e - b);
    *i = k;
    return true;
}

struct fields {
    struct span pre[PAT_MAX_SPECS];
    struct span ring[PAT_MAX_SPECS];
    size_t n;
    int nsuf;
};

/* Tokenises msg keeping the first pre_cap fields and the last nsuf ones. Returns false when
 * the field count cannot fit the pattern. */
static bool split_fields(const struct ts_pattern *p, const char *msg, size_t len,
                         struct fields *fs)
{
    size_t i = 0;
    struct span f;
    fs->n = 0;
    fs->nsuf = p->ellipsis >= 0 ? p->n_specs - p->ellipsis : 0;
    if (len > UINT32_MAX) {
        return false;
    }
    while (next_field(msg, len, &i, &f)) {
        if (fs->n < (size_t)p->pre_cap) {
            fs->pre[fs->n] = f;
        }
        if (fs->nsuf > 0) {
            fs->ring[fs->n % (size_t)fs->nsuf] = f;
        }
        fs->n++;
        if (p->ellipsis < 0 && fs->n > (size_t)p->n_specs) {
            return false;
        }
    }
    if (p->ellipsis < 0) {
        return fs->n == (size_t)p->n_specs;
    }
    return fs->n >= (size_t)p->n_specs;
}

static struct span spec_field(const struct ts_pattern *p, const struct fields *fs, int k)
{
    if (p->ellipsis < 0 || k < p->ellipsis) {
        return fs->pre[k];
    }
    size_t idx = fs->n - (size_t)fs->nsuf + (size_t)(k - p->ellipsis);
    return fs->ring[idx % (size_t)fs->nsuf];
}

/* ---------------------------------------------------------------- expression */

struct evalctx {
    const struct ts_pattern *p;
    const char *msg;
    const struct pat_jval *vals;
    const struct fields *fs;
};

static bool eval(const struct evalctx *e, int idx)
{
    const struct pat_node *n = &e->p->nodes[idx];
    if (n->type == NODE_COND) {
        if (e->vals) {
            return cond_json(n, e->vals);
        }
        struct span f = spec_field(e->p, e->fs, n->slot);
        return compare(n, TS_PATTERN_VALUE_FIELD, e->msg + f.off, f.len, false);
    }
    const int *kids = e->p->kids + n->first;
    for (int k = 0; k < n->count; k++) {
        bool r = eval(e, kids[k]);
        if (n->type == NODE_AND ? !r : r) {
            return r;
        }
    }
    return n->type == NODE_AND;
}

static int eval3(const struct ts_pattern *p, const struct pat_jval *vals, int idx)
{
    const struct pat_node *n = &p->nodes[idx];
    if (n->type == NODE_COND) {
        if (vals[n->slot].state == JV_PENDING) {
            return 2;
        }
        return cond_json(n, vals) ? 1 : 0;
    }
    const int *kids = p->kids + n->first;
    int decisive = n->type == NODE_AND ? 0 : 1;
    int result = 1 - decisive;
    for (int k = 0; k < n->count; k++) {
        int r = eval3(p, vals, kids[k]);
        if (r == decisive) {
            return r;
        }
        if (r == 2) {
            result = 2;
        }
    }
    return result;
}

int ts__pat_eval3(const struct ts_pattern *p, const struct pat_jval *vals)
{
    return eval3(p, vals, p->root);
}

static bool match_terms(const struct ts_pattern *p, const char *msg, size_t len)
{
    int g = -1;
    bool ok = false;
    for (int k = 0; k < p->n_terms; k++) {
        const struct pat_term *t = &p->terms[k];
        if (t->group != g) {
            if (g >= 0 && ok) {
                return true;
            }
            g = t->group;
            ok = true;
        }
        if (!ok) {
            continue;
        }
        bool c = ts__pat_contains(msg, len, t->s, t->len);
        if (t->negate ? c : !c) {
            ok = false;
        }
    }
    return g >= 0 && ok;
}

static void fill_json_refs(const struct ts_pattern *p, const struct pat_jval *vals,
                           struct ts_pattern_value *out, size_t n_out)
{
    for (int k = 0; k < p->n_refs && (size_t)k < n_out; k++) {
        const struct pat_jval *jv = &vals[p->refs[k].idx];
        memset(&out[k], 0, sizeof(out[k]));
        if (jv->state == JV_FOUND) {
            out[k].type = (enum ts_pattern_value_type)jv->type;
            out[k].raw = jv->p;
            out[k].raw_len = jv->len;
            out[k].escaped = jv->escaped;
        }
    }
}

static void fill_space_refs(const struct ts_pattern *p, const struct fields *fs,
                            const char *msg, struct ts_pattern_value *out, size_t n_out)
{
    for (int k = 0; k < p->n_refs && (size_t)k < n_out; k++) {
        const struct pat_ref *r = &p->refs[k];
        struct span f;
        bool have = true;
        memset(&out[k], 0, sizeof(out[k]));
        if (r->kind == REF_SPEC) {
            f = spec_field(p, fs, r->idx);
        } else if ((size_t)r->idx >= fs->n) {
            have = false;
        } else if (r->idx < p->pre_cap) {
            f = fs->pre[r->idx];
        } else if (fs->nsuf > 0 && (size_t)r->idx >= fs->n - (size_t)fs->nsuf) {
            f = fs->ring[(size_t)r->idx % (size_t)fs->nsuf];
        } else {
            have = false;
        }
        if (have) {
            out[k].type = TS_PATTERN_VALUE_FIELD;
            out[k].raw = msg + f.off;
            out[k].raw_len = f.len;
        }
    }
}

bool ts_pattern_match_refs(const struct ts_pattern *p, const char *msg, size_t len,
                           struct ts_pattern_value *vals, size_t n_vals)
{
    switch (p->kind) {
    case TS_PATTERN_MATCH_ALL:
        return true;
    case TS_PATTERN_REGEX:
        return ts__rx_search(p->rx, msg, len);
    case TS_PATTERN_TERMS:
        return p->match_all || match_terms(p, msg, len);
    case TS_PATTERN_JSON: {
        struct pat_jval jv[PAT_MAX_JNODES];
        int decided;
        if (!ts__pat_json_scan(p, msg, len, jv, SCAN_DECIDE, &decided)) {
            return false;
        }
        if (decided < 0) {
            struct evalctx e = {p, msg, jv, NULL};
            decided = eval(&e, p->root);
        }
        if (!decided) {
            return false;
        }
        if (vals && n_vals && p->n_refs > 0) {
            /* References need every value: a second pass. Its result cannot change the
             * outcome: malformed JSON past the point where matching stopped only leaves
             * references unresolved (docs/filter-patterns.md). */
            (void)ts__pat_json_scan(p, msg, len, jv, SCAN_ALL, NULL);
            fill_json_refs(p, jv, vals, n_vals);
        }
        return true;
    }
    case TS_PATTERN_SPACE: {
        struct fields fs;
        if (!split_fields(p, msg, len, &fs)) {
            return false;
        }
        struct evalctx e = {p, msg, NULL, &fs};
        for (int k = 0; k < p->n_specs; k++) {
            if (p->specs[k].expr >= 0 && !eval(&e, p->specs[k].expr)) {
                return false;
            }
        }
        if (vals && n_vals) {
            fill_space_refs(p, &fs, msg, vals, n_vals);
        }
        return true;
    }
    }
    return false;
}

bool ts_pattern_match(const struct ts_pattern *p, const char *msg, size_t len)
{
    return ts_pattern_match_refs(p, msg, len, NULL, 0);
}

/* ---------------------------------------------------------------- values */

int ts_pattern_value_text(const struct ts_pattern_value *v, char *out, size_t out_len,
                          size_t *out_used)
{
    const char *src = v->raw;
    size_t n = v->raw_len;
    switch (v->type) {
    case TS_PATTERN_VALUE_NONE:
    case TS_PATTERN_VALUE_OBJECT:
    case TS_PATTERN_VALUE_ARRAY:
        return TS_ENOTFOUND;
    case TS_PATTERN_VALUE_TRUE:
        src = "true";
        n = 4;
        break;
    case TS_PATTERN_VALUE_FALSE:
        src = "false";
        n = 5;
        break;
    case TS_PATTERN_VALUE_NULL:
        src = "null";
        n = 4;
        break;
    default:
        break;
    }
    if (out_len == 0) {
        return TS_ETOOBIG;
    }
    if (v->type == TS_PATTERN_VALUE_STRING && v->escaped) {
        n = ts__pat_json_unescape(src, n, out, out_len - 1);
        if (n == (size_t)-1) {
            out[0] = '\0';
            return TS_ETOOBIG;
        }
    } else {
        if (n >= out_len) {
            out[0] = '\0';
            return TS_ETOOBIG;
        }
        if (n) {
            memcpy(out, src, n);
        }
    }
    out[n] = '\0';
    if (out_used) {
        *out_used = n;
    }
    return 0;
}

int ts_pattern_value_number(const struct ts_pattern_value *v, double *out)
{
    char buf[PAT_NUM_TEXT_MAX + 1];
    size_t n;
    switch (v->type) {
    case TS_PATTERN_VALUE_NONE:
        return TS_ENOTFOUND;
    case TS_PATTERN_VALUE_NUMBER:
    case TS_PATTERN_VALUE_FIELD:
        return ts__pat_parse_number(v->raw, v->raw_len, out) ? 0 : TS_EINVAL;
    case TS_PATTERN_VALUE_STRING:
        if (ts_pattern_value_text(v, buf, sizeof(buf), &n) != 0) {
            return TS_EINVAL;
        }
        return ts__pat_parse_number(buf, n, out) ? 0 : TS_EINVAL;
    default:
        return TS_EINVAL;
    }
}

/* ---------------------------------------------------------------- TestMetricFilter */

#define PAT_TEST_MAX_FIELDS 65536

static int emit(ts_pattern_extract_fn fn, void *ctx, const char *key,
                const struct ts_pattern_value *v)
{
    char stack[PAT_STR_STACK];
    char *heap = NULL;
    char *buf = stack;
    size_t cap = sizeof(stack), n;
    if (v->raw_len + 8 > cap) {
        cap = v->raw_len + 8;
        heap = ts_malloc(cap);
        if (!heap) {
            return TS_ENOMEM;
        }
        buf = heap;
    }
    int r = ts_pattern_value_text(v, buf, cap, &n);
    if (r == 0) {
        r = fn(ctx, key, strlen(key), buf, n);
    } else if (r == TS_ENOTFOUND) {
        r = 0;
    }
    ts_free(heap);
    return r;
}

static int test_json(const struct ts_pattern *p, const char *msg, size_t len,
                     ts_pattern_extract_fn fn, void *ctx)
{
    struct pat_jval jv[PAT_MAX_JNODES];
    /* Decide exactly as ts_pattern_match does (TestMetricFilter must agree with
     * FilterLogEvents), then read every selector for the extracted values; that second pass
     * cannot change the outcome. */
    if (!ts_pattern_match(p, msg, len)) {
        return 0;
    }
    (void)ts__pat_json_scan(p, msg, len, jv, SCAN_PATTERN, NULL);
    for (int k = 0; k < p->n_jsels; k++) {
        const struct pat_jval *j = &jv[p->jsels[k].node];
        if (j->state != JV_FOUND || j->type == TS_PATTERN_VALUE_NULL) {
            continue;
        }
        struct ts_pattern_value v = {(enum ts_pattern_value_type)j->type, j->p, j->len,
                                     j->escaped != 0};
        int r = emit(fn, ctx, p->jsels[k].text, &v);
        if (r != 0) {
            return r;
        }
    }
    return 1;
}

static int test_space(const struct ts_pattern *p, const char *msg, size_t len,
                      ts_pattern_extract_fn fn, void *ctx)
{
    if (!ts_pattern_match(p, msg, len)) {
        return 0;
    }
    struct span *all = NULL;
    size_t n = 0, cap = 0, i = 0;
    struct span f;
    int r = 1;
    while (next_field(msg, len, &i, &f)) {
        if (n == cap) {
            if (cap >= PAT_TEST_MAX_FIELDS) {
                ts_free(all);
                return TS_ETOOBIG;
            }
            cap = cap ? cap * 2 : 16;
            struct span *na = ts_realloc(all, cap * sizeof(*na));
            if (!na) {
                ts_free(all);
                return TS_ENOMEM;
            }
            all = na;
        }
        all[n++] = f;
    }
    size_t nsuf = p->ellipsis >= 0 ? (size_t)(p->n_specs - p->ellipsis) : 0;
    for (size_t k = 0; k < n && r == 1; k++) {
        int spec = -1;
        if (p->ellipsis < 0 || k < (size_t)p->ellipsis) {
            spec = (int)k;
        } else if (k >= n - nsuf) {
            spec = p->ellipsis + (int)(k - (n - nsuf));
        }
        char key[PAT_MAX_NAME + 2];
        if (spec >= 0 && p->specs[spec].name) {
            snprintf(key, sizeof(key), "$%s", p->specs[spec].name);
        } else {
            snprintf(key, sizeof(key), "$%zu", k + 1);
        }
        struct ts_pattern_value v = {TS_PATTERN_VALUE_FIELD, msg + all[k].off, all[k].len,
                                     false};
        int e = emit(fn, ctx, key, &v);
        if (e != 0) {
            r = e;
        }
    }
    ts_free(all);
    return r;
}

int ts_pattern_test(const struct ts_pattern *p, const char *msg, size_t len,
                    ts_pattern_extract_fn fn, void *ctx)
{
    if (p->kind == TS_PATTERN_JSON) {
        return test_json(p, msg, len, fn, ctx);
    }
    if (p->kind == TS_PATTERN_SPACE) {
        return test_space(p, msg, len, fn, ctx);
    }
    return ts_pattern_match(p, msg, len) ? 1 : 0;
}
