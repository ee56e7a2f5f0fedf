/* core_buf.c - capped growable buffers. */
#include "trailstream/ts_core.h"

#include <stdio.h>
#include <string.h>

void ts_buf_init(struct ts_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void ts_buf_free(struct ts_buf *b)
{
    if (!b) {
        return;
    }
    ts_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ts_buf_reset(struct ts_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

int ts_buf_reserve(struct ts_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n) {
        return TS_ETOOBIG;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    /* no point in allocating more than the cap allows (plus the terminator) */
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    char *p = ts_realloc(b->data, cap);
    if (!p) {
        return TS_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    /* Keep the contract "data is always NUL-terminated" even when nothing is added yet:
     * ts_uri_encode reserves first, and an empty result used to be taken unterminated. */
    b->data[b->len] = '\0';
    return 0;
}

int ts_buf_add(struct ts_buf *b, const void *p, size_t n)
{
    int rc = ts_buf_reserve(b, n);
    if (rc) {
        return rc;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ts_buf_adds(struct ts_buf *b, const char *s)
{
    return ts_buf_add(b, s, strlen(s));
}

int ts_buf_addc(struct ts_buf *b, char c)
{
    return ts_buf_add(b, &c, 1);
}

int ts_buf_vaddf(struct ts_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return TS_EINVAL;
    }
    int rc = ts_buf_reserve(b, (size_t)n);
    if (rc) {
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ts_buf_addf(struct ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int ts_buf_add_xml(struct ts_buf *b, const char *s)
{
    int rc = 0;
    const char *run = s;
    for (const char *p = s; *p && !rc; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        if (rep) {
            rc = ts_buf_add(b, run, (size_t)(p - run));
            if (!rc) {
                rc = ts_buf_adds(b, rep);
            }
            run = p + 1;
        }
    }
    if (!rc) {
        rc = ts_buf_adds(b, run);
    }
    return rc;
}

char *ts_buf_take(struct ts_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) {
        *len = b->len;
    }
    if (!p) {
        p = ts_calloc(1, 1);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
