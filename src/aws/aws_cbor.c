/*
 * aws_cbor.c - CBOR (RFC 8949) decoding into cJSON and encoding from cJSON, for the
 * application/x-amz-cbor-1.1 flavour of the awsJson protocol (see ts_cbor.h for the mapping).
 *
 * https://www.rfc-editor.org/rfc/rfc8949.html
 */
#include "trailstream/ts_cbor.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ decoding */

struct dec {
    const uint8_t *p;
    size_t n;
    size_t pos;
    int last_ai; /* additional information of the last initial byte read */
};

#define BREAK_MARK (-2) /* returned by read_head for the 0xff "break" byte */

/* Reads an initial byte and its argument. Returns 0, BREAK_MARK, or TS_EPARSE. *indef is set
 * for additional information 31 (indefinite length). */
static int read_head(struct dec *d, int *major, uint64_t *arg, bool *indef)
{
    if (d->pos >= d->n) {
        return TS_EPARSE;
    }
    uint8_t b = d->p[d->pos++];
    *major = b >> 5;
    int ai = b & 31;
    d->last_ai = ai;
    *indef = false;
    if (ai < 24) {
        *arg = (uint64_t)ai;
        return 0;
    }
    if (ai == 31) {
        if (*major == 7) {
            return BREAK_MARK;
        }
        if (*major == 0 || *major == 1 || *major == 6) {
            return TS_EPARSE;
        }
        *indef = true;
        *arg = 0;
        return 0;
    }
    if (ai > 27) {
        return TS_EPARSE;
    }
    size_t len = (size_t)1 << (ai - 24);
    if (d->n - d->pos < len) {
        return TS_EPARSE;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v << 8 | d->p[d->pos + i];
    }
    d->pos += len;
    *arg = v;
    return 0;
}

/* 2^e for small e, without libm. */
static double pow2(int e)
{
    double v = 1.0;
    for (; e > 0; e--) {
        v *= 2.0;
    }
    for (; e < 0; e++) {
        v /= 2.0;
    }
    return v;
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0) {
        v = m * pow2(-24);
    } else if (e != 31) {
        v = (m + 1024) * pow2(e - 25);
    } else {
        v = m == 0 ? INFINITY : NAN;
    }
    return (h & 0x8000) ? -v : v;
}

/* Appends the bytes of a (possibly indefinite) byte or text string of `major` to out. */
static int read_string(struct dec *d, int major, uint64_t arg, bool indef, struct ts_buf *out)
{
    if (!indef) {
        if (arg > d->n - d->pos) {
            return TS_EPARSE;
        }
        int rc = ts_buf_add(out, d->p + d->pos, (size_t)arg);
        d->pos += (size_t)arg;
        return rc;
    }
    for (;;) {
        int cmajor;
        uint64_t carg;
        bool cindef;
        int rc = read_head(d, &cmajor, &carg, &cindef);
        if (rc == BREAK_MARK) {
            return 0;
        }
        if (rc || cmajor != major || cindef) {
            return TS_EPARSE;
        }
        rc = read_string(d, major, carg, false, out);
        if (rc) {
            return rc;
        }
    }
}

static int decode_item(struct dec *d, int depth, cJSON **out);

static cJSON *string_item(struct ts_buf *b, int major, int *rc)
{
    if (major == 3) {
        if (!ts_utf8_valid(b->data ? b->data : "", b->len)) {
            *rc = TS_EPARSE;
            return NULL;
        }
        cJSON *s = cJSON_CreateString(b->data ? b->data : "");
        *rc = s ? 0 : TS_ENOMEM;
        return s;
    }
    struct ts_buf enc;
    ts_buf_init(&enc, (b->len + 2) / 3 * 4 + 1);
    *rc = ts_base64_encode(b->data ? b->data : "", b->len, &enc);
    cJSON *s = *rc ? NULL : cJSON_CreateString(enc.data ? enc.data : "");
    if (!*rc && !s) {
        *rc = TS_ENOMEM;
    }
    ts_buf_free(&enc);
    return s;
}

static int decode_container(struct dec *d, int depth, int major, uint64_t arg, bool indef,
                            cJSON **out)
{
    cJSON *c = major == 4 ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!c) {
        return TS_ENOMEM;
    }
    int rc = 0;
    /* Every element takes at least one byte, which bounds a definite count by what is left. */
    if (!indef && arg > d->n - d->pos) {
        rc = TS_EPARSE;
    }
    for (uint64_t i = 0; !rc && (indef || i < arg); i++) {
        if (indef && d->pos < d->n && d->p[d->pos] == 0xff) {
            d->pos++;
            break;
        }
        if (major == 4) {
            cJSON *item = NULL;
            rc = decode_item(d, depth + 1, &item);
            if (!rc) {
                cJSON_AddItemToArray(c, item);
            }
            continue;
        }
        int kmajor;
        uint64_t karg;
        bool kindef;
        rc = read_head(d, &kmajor, &karg, &kindef);
        if (rc || kmajor != 3) {
            rc = TS_EPARSE;
            break;
        }
        struct ts_buf key;
        ts_buf_init(&key, d->n);
        rc = read_string(d, 3, karg, kindef, &key);
        if (!rc && !ts_utf8_valid(key.data ? key.data : "", key.len)) {
            rc = TS_EPARSE;
        }
        if (!rc && key.data && memchr(key.data, '\0', key.len)) {
            rc = TS_EPARSE;
        }
        cJSON *val = NULL;
        if (!rc) {
            rc = decode_item(d, depth + 1, &val);
        }
        if (!rc) {
            cJSON_AddItemToObject(c, key.data ? key.data : "", val);
        }
        ts_buf_free(&key);
    }
    if (rc) {
        cJSON_Delete(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int decode_item(struct dec *d, int depth, cJSON **out)
{
    if (depth > TS_CBOR_MAX_DEPTH) {
        return TS_EPARSE;
    }
    int major;
    uint64_t arg;
    bool indef;
    int rc = read_head(d, &major, &arg, &indef);
    if (rc) {
        return TS_EPARSE;
    }
    cJSON *item = NULL;
    switch (major) {
    case 0:
        item = cJSON_CreateNumber((double)arg);
        break;
    case 1:
        item = cJSON_CreateNumber(-1.0 - (double)arg);
        break;
    case 2:
    case 3: {
        struct ts_buf b;
        ts_buf_init(&b, d->n);
        rc = read_string(d, major, arg, indef, &b);
        if (!rc) {
            item = string_item(&b, major, &rc);
        }
        ts_buf_free(&b);
        if (rc) {
            return rc == TS_ETOOBIG ? TS_EPARSE : rc;
        }
        break;
    }
    case 4:
    case 5:
        return decode_container(d, depth, major, arg, indef, out);
    case 6:
        rc = decode_item(d, depth + 1, &item);
        if (rc) {
            return rc;
        }
        if (arg == 1) {
            if (!cJSON_IsNumber(item)) {
                cJSON_Delete(item);
                return TS_EPARSE;
            }
            double v = item->valuedouble;
            /* RFC 8949 says seconds; the AWS SDKs write milliseconds under the same tag. */
            if (v >= 1e11 || v <= -1e11) {
                cJSON_SetNumberValue(item, v / 1000.0);
            }
        }
        *out = item;
        return 0;
    default: /* 7 */
        if (d->last_ai == 25) {
            item = cJSON_CreateNumber(half_to_double((uint16_t)arg));
        } else if (d->last_ai == 26) {
            uint32_t bits = (uint32_t)arg;
            float f;
            memcpy(&f, &bits, sizeof(f));
            item = cJSON_CreateNumber((double)f);
        } else if (d->last_ai == 27) {
            double f;
            memcpy(&f, &arg, sizeof(f));
            item = cJSON_CreateNumber(f);
        } else if (d->last_ai < 24 && (arg == 20 || arg == 21)) {
            item = cJSON_CreateBool(arg == 21);
        } else if (d->last_ai < 24 && (arg == 22 || arg == 23)) {
            item = cJSON_CreateNull();
        } else {
            return TS_EPARSE; /* other simple values have no JSON counterpart */
        }
        break;
    }
    if (!item) {
        return TS_ENOMEM;
    }
    *out = item;
    return 0;
}

int ts_cbor_decode(const void *p, size_t n, cJSON **out)
{
    struct dec d = {p, n, 0, 0};
    cJSON *v = NULL;
    *out = NULL;
    int rc = decode_item(&d, 0, &v);
    if (rc) {
        return rc;
    }
    if (d.pos != n) {
        cJSON_Delete(v);
        return TS_EPARSE;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ encoding */

static int put_head(struct ts_buf *out, int major, uint64_t v)
{
    uint8_t b[9];
    size_t len;
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        b[0] = m | (uint8_t)v;
        len = 1;
    } else if (v <= 0xff) {
        b[0] = m | 24;
        b[1] = (uint8_t)v;
        len = 2;
    } else if (v <= 0xffff) {
        b[0] = m | 25;
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        len = 3;
    } else if (v <= 0xffffffffu) {
        b[0] = m | 26;
        for (int i = 0; i < 4; i++) {
            b[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        }
        len = 5;
    } else {
        b[0] = m | 27;
        for (int i = 0; i < 8; i++) {
            b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        }
        len = 9;
    }
    return ts_buf_add(out, b, len);
}

static bool in_list(const char *const *list, const char *name)
{
    for (; list && name && *list; list++) {
        if (strcmp(*list, name) == 0) {
            return true;
        }
    }
    return false;
}

static int put_int(struct ts_buf *out, int64_t v)
{
    return v >= 0 ? put_head(out, 0, (uint64_t)v) : put_head(out, 1, (uint64_t)(-(v + 1)));
}

static int put_number(struct ts_buf *out, double v)
{
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
        return put_int(out, (int64_t)v);
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint8_t b[9] = {0xfb};
    for (int i = 0; i < 8; i++) {
        b[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    return ts_buf_add(out, b, sizeof(b));
}

enum member_kind { PLAIN, BLOB, TIMESTAMP };

static int encode_item(const cJSON *v, const struct ts_cbor_schema *s, enum member_kind kind,
                       int depth, struct ts_buf *out)
{
    if (depth > TS_CBOR_MAX_DEPTH) {
        return TS_EINVAL;
    }
    int rc;
    if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next) {
            n++;
        }
        rc = put_head(out, 5, n);
        for (const cJSON *c = v->child; !rc && c; c = c->next) {
            const char *key = c->string ? c->string : "";
            size_t klen = strlen(key);
            rc = put_head(out, 3, klen);
            rc = rc ? rc : ts_buf_add(out, key, klen);
            enum member_kind k = in_list(s ? s->blobs : NULL, key)        ? BLOB
                                 : in_list(s ? s->timestamps : NULL, key) ? TIMESTAMP
                                                                          : PLAIN;
            rc = rc ? rc : encode_item(c, s, k, depth + 1, out);
        }
        return rc;
    }
    if (cJSON_IsArray(v)) {
        size_t n = (size_t)cJSON_GetArraySize(v);
        rc = put_head(out, 4, n);
        for (const cJSON *c = v->child; !rc && c; c = c->next) {
            rc = encode_item(c, s, kind, depth + 1, out);
        }
        return rc;
    }
    if (cJSON_IsString(v)) {
        const char *str = v->valuestring ? v->valuestring : "";
        size_t len = strlen(str);
        if (kind != BLOB) {
            rc = put_head(out, 3, len);
            return rc ? rc : ts_buf_add(out, str, len);
        }
        struct ts_buf raw;
        ts_buf_init(&raw, len / 4 * 3 + 3);
        rc = ts_base64_decode(str, len, &raw);
        if (!rc) {
            rc = put_head(out, 2, raw.len);
            rc = rc ? rc : ts_buf_add(out, raw.data ? raw.data : "", raw.len);
        }
        ts_buf_free(&raw);
        return rc;
    }
    if (cJSON_IsNumber(v)) {
        if (kind == TIMESTAMP) {
            rc = put_head(out, 6, 1);
            double ms = v->valuedouble * 1000.0;
            return rc ? rc : put_int(out, (int64_t)(ms < 0 ? ms - 0.5 : ms + 0.5));
        }
        return put_number(out, v->valuedouble);
    }
    if (cJSON_IsBool(v)) {
        return ts_buf_addc(out, cJSON_IsTrue(v) ? (char)0xf5 : (char)0xf4);
    }
    if (cJSON_IsNull(v)) {
        return ts_buf_addc(out, (char)0xf6);
    }
    return TS_EINVAL;
}

int ts_cbor_encode(const cJSON *v, const struct ts_cbor_schema *schema, struct ts_buf *out)
{
    size_t start = out->len;
    int rc = encode_item(v, schema, PLAIN, 0, out);
    if (rc) {
        out->len = start;
        if (out->data) {
            out->data[start] = '\0';
        }
    }
    return rc;
}
