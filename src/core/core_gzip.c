/*
 * core_gzip.c - one-shot gzip compression and decompression over libdeflate.
 *
 * Format: https://www.rfc-editor.org/rfc/rfc1952
 * libdeflate writes a 10-byte header with MTIME 0, so equal inputs give equal outputs.
 */
#include <libdeflate.h>
#include <string.h>

#include "trailstream/ts_core.h"

struct ts_gzip {
    struct libdeflate_compressor *c;
};

struct ts_gzip *ts_gzip_create(int level)
{
    if (level < 0 || level > 12) {
        return NULL;
    }
    struct ts_gzip *z = ts_calloc(1, sizeof(*z));
    if (!z) {
        return NULL;
    }
    z->c = libdeflate_alloc_compressor(level);
    if (!z->c) {
        ts_free(z);
        return NULL;
    }
    return z;
}

void ts_gzip_destroy(struct ts_gzip *z)
{
    if (!z) {
        return;
    }
    libdeflate_free_compressor(z->c);
    ts_free(z);
}

int ts_gzip_compress(struct ts_gzip *z, const void *p, size_t n, struct ts_buf *out)
{
    struct ts_gzip *own = NULL;
    if (!z) {
        own = z = ts_gzip_create(6);
        if (!z) {
            return TS_ENOMEM;
        }
    }
    /* Reserve the worst case bound, but never more than the cap allows: the compressor fails
     * cleanly (returns 0) when the output does not fit what was given. */
    size_t bound = libdeflate_gzip_compress_bound(z->c, n);
    size_t room = out->max > out->len ? out->max - out->len : 0;
    size_t avail = TS_MIN(bound, room);
    int rc = ts_buf_reserve(out, avail);
    if (!rc) {
        size_t got = libdeflate_gzip_compress(z->c, p, n, out->data + out->len, avail);
        if (got == 0) {
            rc = TS_ETOOBIG;
        } else {
            out->len += got;
        }
        out->data[out->len] = '\0';
    }
    ts_gzip_destroy(own);
    return rc;
}

int ts_gzip_decompress(const void *p, size_t n, struct ts_buf *out)
{
    const uint8_t *in = p;
    if (n < 18) {
        return TS_EPARSE;
    }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) {
        return TS_ENOMEM;
    }
    size_t start_len = out->len;
    int rc = 0;
    while (!rc && n > 0) {
        /* The trailer of the last member gives its size mod 2^32: a good first guess. */
        size_t isize = (size_t)in[n - 4] | (size_t)in[n - 3] << 8 | (size_t)in[n - 2] << 16 |
                       (size_t)in[n - 1] << 24;
        size_t room = out->max > out->len ? out->max - out->len : 0;
        size_t want = TS_MIN(TS_MAX(isize, n * 4), room);
        for (;;) {
            rc = ts_buf_reserve(out, want);
            if (rc) {
                break;
            }
            size_t used_in = 0, used_out = 0;
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(
                d, in, n, out->data + out->len, want, &used_in, &used_out);
            if (r == LIBDEFLATE_SUCCESS) {
                out->len += used_out;
                out->data[out->len] = '\0';
                in += used_in;
                n -= used_in;
                break;
            }
            if (r != LIBDEFLATE_INSUFFICIENT_SPACE) {
                rc = TS_EPARSE;
                break;
            }
            if (want >= room) {
                rc = TS_ETOOBIG;
                break;
            }
            want = want > room / 2 ? room : want * 2;
        }
    }
    libdeflate_free_decompressor(d);
    if (rc) {
        out->len = start_len;
        if (out->data) {
            out->data[out->len] = '\0';
        }
    }
    return rc;
}
