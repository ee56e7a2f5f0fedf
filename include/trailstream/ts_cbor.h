/*
 * ts_cbor.h - CBOR (RFC 8949) to and from cJSON for the `application/x-amz-cbor-1.1` variant
 * of the awsJson protocol, which the AWS SDK for Java (v1 and v2), the KPL and the KCL send to
 * Kinesis by default.
 *
 * The mapping keeps service code identical for both wire formats:
 *   CBOR byte string        <-> JSON base64 string (for members listed as blobs on output)
 *   tag 1 (epoch time)      <-> JSON number of epoch seconds (for members listed as timestamps
 *                               on output, written as tag 1 + integer milliseconds, which is
 *                               what the AWS SDKs read and write)
 *   maps, arrays, text, integers, floats, true/false/null as themselves.
 *
 * https://www.rfc-editor.org/rfc/rfc8949.html
 */
#ifndef TS_CBOR_H
#define TS_CBOR_H

#include <cjson/cJSON.h>

#include "trailstream/ts_core.h"

#define TS_CBOR_MAX_DEPTH 64

/* Which object members need a CBOR type JSON cannot express, by member name (wherever they
 * appear). NULL-terminated lists; either may be NULL. */
struct ts_cbor_schema {
    const char *const *blobs;      /* base64 strings written as byte strings */
    const char *const *timestamps; /* epoch-second numbers written as tag 1 + milliseconds */
};

/* Decodes exactly one CBOR data item filling all of p[0..n) into a new cJSON tree (*out,
 * freed with cJSON_Delete). Byte strings become base64 strings; tag 1 becomes a number of epoch
 * seconds (integers of at least 1e11 are taken as milliseconds, as the AWS SDKs send them);
 * other tags are ignored; indefinite-length items are accepted; map keys must be text.
 * Returns 0, TS_EPARSE (malformed, trailing bytes, nesting over TS_CBOR_MAX_DEPTH, a non-text
 * key, invalid UTF-8 in text) or TS_ENOMEM. Any thread. */
int ts_cbor_decode(const void *p, size_t n, cJSON **out);

/* Appends the CBOR encoding of v to out (capped by out's max). Object members named in
 * schema->blobs that are strings are base64-decoded into byte strings, members named in
 * schema->timestamps that are numbers become tag 1 + integer epoch milliseconds. Integral
 * numbers are written as integers, others as float64. Returns 0, TS_EINVAL (a blob member that
 * is not valid base64), TS_ETOOBIG, or TS_ENOMEM. Any thread. */
int ts_cbor_encode(const cJSON *v, const struct ts_cbor_schema *schema, struct ts_buf *out);

#endif
