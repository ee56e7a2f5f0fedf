/*
 * aws_sigv4.c - server-side AWS Signature Version 4 verification, header and presigned forms.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * The canonical request is rebuilt exactly as botocore builds it (auth.py SigV4Auth) so that
 * every request the AWS CLI and SDKs sign verifies byte for byte; see docs/aws.md.
 */
#include "trailstream/ts_aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_CANONICAL (1u << 20)
#define MAX_SIGNED_HEADERS 64

static const char MISMATCH_MSG[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

/* The parsed SigV4 parameters of a request, in either form. */
struct sigv4_params {
    bool presigned;
    char credential[512];
    char signed_headers[2048];
    char signature[128];
    char date[64];
    int64_t expires; /* presigned only */
    char token[8];   /* only whether a session token was present */
};

/* ------------------------------------------------------------------ query parsing */

/* Decodes the query parameter `name` (exact, case-sensitive) into out. Returns 0 when found,
 * TS_ENOENT when absent, TS_ETOOBIG when the value does not fit. */
static int query_get(const char *query, const char *name, char *out, size_t out_len)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        struct ts_buf key;
        ts_buf_init(&key, 256);
        int match = 0;
        if (ts_url_decode(p, klen, false, &key) == 0 && key.len == nlen &&
            memcmp(key.data, name, nlen) == 0) {
            match = 1;
        }
        ts_buf_free(&key);
        if (match) {
            struct ts_buf val;
            ts_buf_init(&val, out_len - 1);
            int rc = eq ? ts_url_decode(eq + 1, plen - klen - 1, false, &val) : 0;
            if (!rc) {
                ts_strlcpy(out, val.data ? val.data : "", out_len);
            }
            ts_buf_free(&val);
            return rc ? TS_ETOOBIG : 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return TS_ENOENT;
}

static bool has_query_param(const char *query, const char *name)
{
    char tmp[8];
    int rc = query_get(query, name, tmp, sizeof(tmp));
    return rc == 0 || rc == TS_ETOOBIG;
}

/* ------------------------------------------------------------------ parsing the credentials */

static void trim(char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1])) {
        (*n)--;
    }
}

/* Parses the Authorization header into p. On a malformed header fills err. */
static int parse_auth_header(const char *auth, const struct ts_http_request *req,
                             enum ts_aws_protocol proto, struct sigv4_params *p,
                             struct ts_aws_error *err)
{
    size_t alen = strlen(SIGV4_ALGORITHM);
    if (strncmp(auth, SIGV4_ALGORITHM, alen) != 0 || (auth[alen] != ' ' && auth[alen] != '\0')) {
        char alg[64];
        size_t n = strcspn(auth, " ");
        snprintf(alg, sizeof(alg), "%.*s", (int)TS_MIN(n, 40), auth);
        return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                   "Unsupported AWS 'algorithm': '%s'.", alg);
    }
    bool have_cred = false, have_sh = false, have_sig = false;
    const char *s = auth + alen;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char *piece = (char *)s;
        trim(&piece, &n);
        if (n) {
            const char *eq = memchr(piece, '=', n);
            if (!eq) {
                return ts_aws_fail_generic(
                    err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                    "'%.*s' not a valid key=value pair (missing equal-sign) in Authorization "
                    "header: '%.300s'.",
                    (int)TS_MIN(n, 100), piece, auth);
            }
            size_t klen = (size_t)(eq - piece);
            const char *v = eq + 1;
            size_t vlen = n - klen - 1;
            char *dst = NULL;
            size_t dst_len = 0;
            if (klen == 10 && strncmp(piece, "Credential", 10) == 0) {
                dst = p->credential, dst_len = sizeof(p->credential), have_cred = true;
            } else if (klen == 13 && strncmp(piece, "SignedHeaders", 13) == 0) {
                dst = p->signed_headers, dst_len = sizeof(p->signed_headers), have_sh = true;
            } else if (klen == 9 && strncmp(piece, "Signature", 9) == 0) {
                dst = p->signature, dst_len = sizeof(p->signature), have_sig = true;
            }
            if (dst) {
                if (vlen >= dst_len) {
                    return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                               "Authorization header parameter too long.");
                }
                memcpy(dst, v, vlen);
                dst[vlen] = '\0';
            }
        }
        if (!comma) {
            break;
        }
        s = comma + 1;
    }
    const char *date = ts_http_header_get(req, "x-amz-date");
    if (!date) {
        date = ts_http_header_get(req, "date");
    }
    if (!have_cred || !have_sh || !have_sig || !date) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s%s%s%sAuthorization=%.300s",
                 have_cred ? "" : "Authorization header requires 'Credential' parameter. ",
                 have_sig ? "" : "Authorization header requires 'Signature' parameter. ",
                 have_sh ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
                 date ? ""
                      : "Authorization header requires existence of either a 'X-Amz-Date' or a "
                        "'Date' header. ",
                 auth);
        return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE, "%s", msg);
    }
    ts_strlcpy(p->date, date, sizeof(p->date));
    const char *tok = ts_http_header_get(req, "x-amz-security-token");
    ts_strlcpy(p->token, tok ? "y" : "", sizeof(p->token));
    return 0;
}

static int parse_query_auth(const struct ts_http_request *req, enum ts_aws_protocol proto,
                            struct sigv4_params *p, struct ts_aws_error *err)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                        "X-Amz-SignedHeaders", "X-Amz-Date"};
    char missing[512] = "";
    char alg[64] = "";
    char expires[32] = "";
    char *dsts[] = {alg, p->credential, p->signature, p->signed_headers, p->date};
    size_t lens[] = {sizeof(alg), sizeof(p->credential), sizeof(p->signature),
                     sizeof(p->signed_headers), sizeof(p->date)};
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++) {
        int rc = query_get(req->query, names[i], dsts[i], lens[i]);
        if (rc == TS_ENOENT) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof(missing) - used,
                     "AWS query-string parameters must include '%s'. ", names[i]);
        } else if (rc) {
            return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                       "Query-string parameter '%s' is too long.", names[i]);
        }
    }
    if (query_get(req->query, "X-Amz-Expires", expires, sizeof(expires)) == TS_ENOENT &&
        proto == TS_AWS_REST_XML) {
        size_t used = strlen(missing);
        snprintf(missing + used, sizeof(missing) - used,
                 "AWS query-string parameters must include 'X-Amz-Expires'. ");
    }
    if (missing[0]) {
        return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                   "%sRe-examine the query-string parameters.", missing);
    }
    if (strcmp(alg, SIGV4_ALGORITHM) != 0) {
        return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                   "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    }
    p->presigned = true;
    p->expires = -1;
    if (expires[0]) {
        if (ts_parse_i64(expires, &p->expires) || p->expires < 1 ||
            p->expires > TS_SIGV4_MAX_PRESIGN_EXPIRES) {
            return ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                       "X-Amz-Expires must be a number of seconds between 1 and "
                                       "604800.");
        }
    }
    char tok[8];
    ts_strlcpy(p->token, query_get(req->query, "X-Amz-Security-Token", tok, sizeof(tok)) !=
                                 TS_ENOENT
                             ? "y"
                             : "",
               sizeof(p->token));
    return 0;
}

/* Splits "AKID/date8/region/service/aws4_request". Returns false when the shape is wrong. */
static bool split_credential(const char *cred, struct ts_sigv4_scope *scope,
                             char *terminator, size_t term_len)
{
    const char *parts[5];
    size_t lens[5];
    const char *s = cred;
    for (int i = 0; i < 5; i++) {
        const char *slash = strchr(s, '/');
        if (i < 4 && !slash) {
            return false;
        }
        if (i == 4 && slash) {
            return false;
        }
        parts[i] = s;
        lens[i] = slash ? (size_t)(slash - s) : strlen(s);
        s = slash ? slash + 1 : s + lens[i];
    }
    if (lens[0] == 0 || lens[0] >= sizeof(scope->key_id) || lens[1] != 8 ||
        lens[2] >= sizeof(scope->region) || lens[3] >= sizeof(scope->service) ||
        lens[4] >= term_len) {
        return false;
    }
    snprintf(scope->key_id, sizeof(scope->key_id), "%.*s", (int)lens[0], parts[0]);
    snprintf(scope->date8, sizeof(scope->date8), "%.*s", (int)lens[1], parts[1]);
    snprintf(scope->region, sizeof(scope->region), "%.*s", (int)lens[2], parts[2]);
    snprintf(scope->service, sizeof(scope->service), "%.*s", (int)lens[3], parts[3]);
    snprintf(terminator, term_len, "%.*s", (int)lens[4], parts[4]);
    return true;
}

int ts_sigv4_peek_scope(const struct ts_http_request *req, struct ts_sigv4_scope *scope)
{
    char cred[512];
    char term[32];
    memset(scope, 0, sizeof(*scope));
    const char *auth = ts_http_header_get(req, "authorization");
    if (auth) {
        const char *c = strstr(auth, "Credential=");
        if (!c) {
            return TS_EINVAL;
        }
        c += strlen("Credential=");
        size_t n = strcspn(c, ", ");
        if (n >= sizeof(cred)) {
            return TS_EINVAL;
        }
        memcpy(cred, c, n);
        cred[n] = '\0';
    } else {
        int rc = query_get(req->query, "X-Amz-Credential", cred, sizeof(cred));
        if (rc == TS_ENOENT) {
            return TS_ENOENT;
        }
        if (rc) {
            return TS_EINVAL;
        }
        scope->presigned = true;
    }
    return split_credential(cred, scope, term, sizeof(term)) ? 0 : TS_EINVAL;
}

/* ------------------------------------------------------------------ canonical request */

/* botocore normalize_url_path/remove_dot_segments: drop "." and empty segments, resolve "..",
 * keep the leading and a trailing slash. */
static int normalize_path(const char *path, struct ts_buf *out)
{
    size_t n = strlen(path);
    if (n == 0) {
        return ts_buf_addc(out, '/');
    }
    /* Offsets of the kept segments. */
    size_t cap = n / 2 + 2, count = 0;
    size_t *starts = ts_malloc(cap * sizeof(size_t));
    size_t *lens = ts_malloc(cap * sizeof(size_t));
    int rc = 0;
    if (!starts || !lens) {
        rc = TS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/') {
            j++;
        }
        size_t len = j - i;
        if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (count) {
                count--;
            }
        } else if (len && !(len == 1 && path[i] == '.')) {
            starts[count] = i;
            lens[count] = len;
            count++;
        }
        i = j + 1;
    }
    if (path[0] == '/') {
        rc = ts_buf_addc(out, '/');
    }
    for (size_t k = 0; k < count && !rc; k++) {
        if (k) {
            rc = ts_buf_addc(out, '/');
        }
        if (!rc) {
            rc = ts_buf_add(out, path + starts[k], lens[k]);
        }
    }
    if (!rc && path[n - 1] == '/' && count) {
        rc = ts_buf_addc(out, '/');
    }
out:
    ts_free(starts);
    ts_free(lens);
    return rc;
}

struct qpair {
    char *key;
    char *value;
};

static int cmp_qpair(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Decodes and re-encodes one query component with the SigV4 (RFC 3986) rules. */
static char *requote(const char *s, size_t n)
{
    struct ts_buf dec, enc;
    ts_buf_init(&dec, MAX_CANONICAL);
    ts_buf_init(&enc, MAX_CANONICAL);
    char *res = NULL;
    if (ts_url_decode(s, n, false, &dec) == 0 &&
        ts_uri_encode(dec.data ? dec.data : "", dec.len, false, &enc) == 0) {
        res = ts_buf_take(&enc, NULL);
    }
    ts_buf_free(&dec);
    ts_buf_free(&enc);
    return res;
}

static int canonical_query(const char *query, bool presigned, struct ts_buf *out)
{
    if (!*query) {
        return 0;
    }
    size_t cap = 1;
    for (const char *p = query; *p; p++) {
        cap += *p == '&';
    }
    struct qpair *pairs = ts_calloc(cap, sizeof(*pairs));
    if (!pairs) {
        return TS_ENOMEM;
    }
    size_t n = 0;
    int rc = 0;
    const char *p = query;
    while (p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        char *k = requote(p, klen);
        char *v = requote(eq ? eq + 1 : "", eq ? plen - klen - 1 : 0);
        if (!k || !v) {
            ts_free(k);
            ts_free(v);
            rc = TS_ENOMEM;
            goto out;
        }
        if (presigned && strcmp(k, "X-Amz-Signature") == 0) {
            ts_free(k);
            ts_free(v);
        } else {
            pairs[n].key = k;
            pairs[n].value = v;
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    qsort(pairs, n, sizeof(*pairs), cmp_qpair);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = ts_buf_addf(out, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value);
    }
out:
    for (size_t i = 0; i < n; i++) {
        ts_free(pairs[i].key);
        ts_free(pairs[i].value);
    }
    ts_free(pairs);
    return rc;
}

/* Appends a header value with runs of whitespace collapsed and the ends trimmed, as
 * botocore's ' '.join(value.split()) does. */
static int add_header_value(struct ts_buf *out, const char *v)
{
    bool first = true;
    const char *p = v;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) {
            p++;
        }
        if (!*p) {
            break;
        }
        const char *w = p;
        while (*p && !isspace((unsigned char)*p)) {
            p++;
        }
        int rc = first ? 0 : ts_buf_addc(out, ' ');
        if (!rc) {
            rc = ts_buf_add(out, w, (size_t)(p - w));
        }
        if (rc) {
            return rc;
        }
        first = false;
    }
    return 0;
}

int ts_sigv4_canonical_request(const struct ts_http_request *req, const char *signed_headers,
                               const char *payload_hash, bool s3, bool presigned,
                               struct ts_buf *out)
{
    int rc = ts_buf_addf(out, "%s\n", req->method);
    if (rc) {
        return rc;
    }
    if (s3) {
        rc = ts_buf_adds(out, *req->path ? req->path : "/");
    } else {
        struct ts_buf norm;
        ts_buf_init(&norm, MAX_CANONICAL);
        rc = normalize_path(req->path, &norm);
        if (!rc) {
            rc = ts_uri_encode(norm.data ? norm.data : "/", norm.len ? norm.len : 1, true, out);
        }
        ts_buf_free(&norm);
    }
    if (!rc) {
        rc = ts_buf_addc(out, '\n');
    }
    if (!rc) {
        rc = canonical_query(req->query, presigned, out);
    }
    if (!rc) {
        rc = ts_buf_addc(out, '\n');
    }
    /* One "name:value" line per signed header, values of repeated headers joined by ','. */
    const char *s = signed_headers;
    while (!rc && *s) {
        size_t n = strcspn(s, ";");
        char name[128];
        if (n == 0 || n >= sizeof(name)) {
            return TS_EINVAL;
        }
        memcpy(name, s, n);
        name[n] = '\0';
        rc = ts_buf_addf(out, "%s:", name);
        bool first = true;
        for (size_t i = 0; i < req->n_headers && !rc; i++) {
            if (strcasecmp(req->headers[i].name, name) == 0) {
                if (!first) {
                    rc = ts_buf_addc(out, ',');
                }
                if (!rc) {
                    rc = add_header_value(out, req->headers[i].value);
                }
                first = false;
            }
        }
        if (!rc) {
            rc = ts_buf_addc(out, '\n');
        }
        s += n;
        if (*s == ';') {
            s++;
        }
    }
    if (!rc) {
        rc = ts_buf_addf(out, "\n%s\n%s", signed_headers, payload_hash);
    }
    return rc;
}

/* The signing key depends only on (secret, date, region, service): each request thread keeps
 * the last few it derived, so a client's calls cost one HMAC for the signature instead of five.
 * Entries hold a copy of the secret to compare with (the key table holds it anyway). */
#define SIGNING_KEY_CACHE 4

struct signing_key_entry {
    char secret[256];
    char date8[9];
    char region[32];
    char service[32];
    uint8_t key[TS_SHA256_LEN];
    bool used;
};

static void derive_signing_key(const char *secret, const char *date8, const char *region,
                               const char *service, uint8_t out[TS_SHA256_LEN])
{
    char key[300];
    int n = snprintf(key, sizeof(key), "AWS4%s", secret);
    uint8_t k1[TS_SHA256_LEN], k2[TS_SHA256_LEN], k3[TS_SHA256_LEN];
    ts_hmac_sha256(key, (size_t)n, date8, strlen(date8), k1);
    ts_hmac_sha256(k1, sizeof(k1), region, strlen(region), k2);
    ts_hmac_sha256(k2, sizeof(k2), service, strlen(service), k3);
    ts_hmac_sha256(k3, sizeof(k3), "aws4_request", 12, out);
    memset(key, 0, sizeof(key));
}

void ts_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, uint8_t out[TS_SHA256_LEN])
{
    static _Thread_local struct signing_key_entry cache[SIGNING_KEY_CACHE];
    static _Thread_local unsigned next;
    bool cacheable = strlen(secret) < sizeof(cache[0].secret) &&
                     strlen(date8) < sizeof(cache[0].date8) &&
                     strlen(region) < sizeof(cache[0].region) &&
                     strlen(service) < sizeof(cache[0].service);
    for (int i = 0; cacheable && i < SIGNING_KEY_CACHE; i++) {
        const struct signing_key_entry *e = &cache[i];
        if (e->used && strcmp(e->date8, date8) == 0 && strcmp(e->region, region) == 0 &&
            strcmp(e->service, service) == 0 && strcmp(e->secret, secret) == 0) {
            memcpy(out, e->key, TS_SHA256_LEN);
            return;
        }
    }
    derive_signing_key(secret, date8, region, service, out);
    if (cacheable) {
        struct signing_key_entry *e = &cache[next++ % SIGNING_KEY_CACHE];
        ts_strlcpy(e->secret, secret, sizeof(e->secret));
        ts_strlcpy(e->date8, date8, sizeof(e->date8));
        ts_strlcpy(e->region, region, sizeof(e->region));
        ts_strlcpy(e->service, service, sizeof(e->service));
        memcpy(e->key, out, TS_SHA256_LEN);
        e->used = true;
    }
}

/* ------------------------------------------------------------------ verification */

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n < 4 || n > 31 || !strchr(r, '-')) {
        return false;
    }
    for (const char *p = r; *p; p++) {
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-') {
            return false;
        }
    }
    return true;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isxdigit((unsigned char)*p)) {
            return false;
        }
    }
    return true;
}

/* True if `name` appears in the ';'-separated list. */
static bool list_has(const char *list, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ";");
        if (n == nlen && strncmp(s, name, n) == 0) {
            return true;
        }
        s += n;
        if (*s == ';') {
            s++;
        }
    }
    return false;
}

static bool valid_signed_headers(const char *list)
{
    size_t count = 0;
    if (!*list) {
        return false;
    }
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ";");
        if (n == 0 || n >= 128) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (isupper(c) || isspace(c) || c < 0x21 || c > 0x7e) {
                return false;
            }
        }
        count++;
        s += n;
        if (*s == ';') {
            s++;
        } else if (*s) {
            return false;
        }
    }
    return count <= MAX_SIGNED_HEADERS;
}

int ts_sigv4_verify(const struct ts_http_request *req, const struct ts_aws_accounts *accounts,
                    const struct ts_sigv4_opts *opts, struct ts_aws_caller *caller,
                    char region_out[32], struct ts_aws_error *err)
{
    enum ts_aws_protocol proto = opts->protocol;
    int64_t max_skew = opts->max_skew_ms ? opts->max_skew_ms : TS_SIGV4_MAX_SKEW_MS;
    struct sigv4_params p;
    memset(&p, 0, sizeof(p));
    char secret[300] = "";
    struct ts_buf canon, sts;
    ts_buf_init(&canon, MAX_CANONICAL + 4096);
    ts_buf_init(&sts, 1024);
    int rc;

    const char *auth = ts_http_header_get(req, "authorization");
    bool query_form = has_query_param(req->query, "X-Amz-Algorithm") ||
                      has_query_param(req->query, "X-Amz-Credential");
    if (auth && query_form) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "Found both 'X-Amz-Algorithm' as a query-string param and "
                                 "'Authorization' as HTTP header.");
        goto out;
    }
    if (!auth && !query_form) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_MISSING_AUTH, "%s",
                                 proto == TS_AWS_REST_XML ? "Access Denied"
                                                          : "Missing Authentication Token");
        goto out;
    }
    rc = auth ? parse_auth_header(auth, req, proto, &p, err)
              : parse_query_auth(req, proto, &p, err);
    if (rc) {
        goto out;
    }

    struct ts_sigv4_scope scope;
    char terminator[32];
    memset(&scope, 0, sizeof(scope));
    if (!split_credential(p.credential, &scope, terminator, sizeof(terminator))) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                 "Credential must have exactly 5 slash-delimited elements, e.g. "
                                 "keyid/date/region/service/term, got '%.200s'",
                                 p.credential);
        goto out;
    }
    if (ts_aws_accounts_lookup(accounts, scope.key_id, caller, secret, sizeof(secret)) != 0) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_UNKNOWN_KEY, "%s",
                                 proto == TS_AWS_REST_XML
                                     ? "The AWS Access Key Id you provided does not exist in "
                                       "our records."
                                     : "The security token included in the request is invalid.");
        goto out;
    }
    if (p.token[0]) {
        /* No temporary credentials are issued, so any session token is unknown. */
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_UNKNOWN_KEY,
                                 "The security token included in the request is invalid.");
        goto out;
    }
    if (strcmp(terminator, "aws4_request") != 0) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "Credential should be scoped with a valid terminator: "
                                 "'aws4_request', not '%s'.",
                                 terminator);
        goto out;
    }
    if (strcmp(scope.service, opts->service) != 0) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "Credential should be scoped to correct service: '%s'. ",
                                 opts->service);
        goto out;
    }
    if (!valid_region(scope.region)) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "Credential should be scoped to a valid region, not '%s'. ",
                                 scope.region);
        goto out;
    }

    /* Timestamp and skew. */
    int64_t req_ms;
    char stamp[17];
    if (ts_time_parse_basic(p.date, &req_ms) == 0) {
        ts_strlcpy(stamp, p.date, sizeof(stamp));
    } else if (!p.presigned && ts_time_parse_http(p.date, &req_ms) == 0) {
        ts_time_fmt_basic(req_ms, stamp);
    } else {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                 "Date must be in ISO-8601 'basic format'. Got '%.64s'. See "
                                 "http://en.wikipedia.org/wiki/ISO_8601",
                                 p.date);
        goto out;
    }
    if (strncmp(stamp, scope.date8, 8) != 0) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                                 "version of date from HTTP: '%s' != '%.8s', from '%s'.",
                                 scope.date8, stamp, stamp);
        goto out;
    }
    int64_t now = opts->now_ms;
    char now_s[17], lim_s[17];
    ts_time_fmt_basic(now, now_s);
    long skew_min = (long)(max_skew / 60000);
    if (p.presigned && p.expires > 0 && now > req_ms + p.expires * 1000) {
        if (proto == TS_AWS_REST_XML) {
            rc = ts_aws_fail_generic(err, proto, TS_AWS_E_PRESIGN_EXPIRED, "Request has expired");
        } else {
            ts_time_fmt_basic(req_ms + p.expires * 1000, lim_s);
            rc = ts_aws_fail_generic(err, proto, TS_AWS_E_PRESIGN_EXPIRED,
                                     "Signature expired: %s is now earlier than %s (%s - %lld "
                                     "sec.)",
                                     lim_s, now_s, now_s, (long long)p.expires);
        }
        goto out;
    }
    bool too_new = req_ms > now + max_skew;
    /* A presigned request is bounded by X-Amz-Expires; one without it (only S3 requires the
     * parameter) gets the normal window rather than staying valid forever. */
    bool too_old = (!p.presigned || p.expires < 0) && req_ms < now - max_skew;
    if ((too_new || too_old) && proto == TS_AWS_REST_XML) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SKEWED,
                                 "The difference between the request time and the current time "
                                 "is too large.");
        goto out;
    }
    if (too_new) {
        ts_time_fmt_basic(now + max_skew, lim_s);
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SKEWED,
                                 "Signature not yet current: %s is still later than %s (%s + %ld "
                                 "min.)",
                                 stamp, lim_s, now_s, skew_min);
        goto out;
    }
    if (too_old) {
        ts_time_fmt_basic(now - max_skew, lim_s);
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SKEWED,
                                 "Signature expired: %s is now earlier than %s (%s - %ld min.)",
                                 stamp, lim_s, now_s, skew_min);
        goto out;
    }

    /* Signed headers: a well-formed list that covers host and the timestamp header. */
    if (!valid_signed_headers(p.signed_headers)) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                 "SignedHeaders must be a ';'-separated list of lowercase header "
                                 "names.");
        goto out;
    }
    if (!list_has(p.signed_headers, "host")) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                                 "Authorization.");
        goto out;
    }
    if (!p.presigned && !list_has(p.signed_headers, "x-amz-date") &&
        !list_has(p.signed_headers, "date")) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH,
                                 "'X-Amz-Date' or 'Date' must be a 'SignedHeader' in the AWS "
                                 "Authorization.");
        goto out;
    }

    /* Payload hash: the x-amz-content-sha256 header when sent (botocore signs it verbatim),
     * which must then match the body unless it is UNSIGNED-PAYLOAD. */
    char payload_hash[128];
    const char *declared = ts_http_header_get(req, "x-amz-content-sha256");
    uint8_t body_hash[TS_SHA256_LEN];
    char body_hex[2 * TS_SHA256_LEN + 1];
    ts_sha256(req->body, req->body_len, body_hash);
    ts_hex(body_hash, sizeof(body_hash), body_hex);
    if (declared) {
        if (strcmp(declared, "UNSIGNED-PAYLOAD") == 0) {
            ts_strlcpy(payload_hash, declared, sizeof(payload_hash));
        } else if (is_hex64(declared)) {
            if (strcasecmp(declared, body_hex) != 0) {
                rc = ts_aws_fail_generic(err, proto, TS_AWS_E_CONTENT_SHA256_MISMATCH,
                                         "The provided 'x-amz-content-sha256' header does not "
                                         "match what was computed.");
                goto out;
            }
            ts_strlcpy(payload_hash, declared, sizeof(payload_hash));
        } else {
            rc = ts_aws_fail_generic(err, proto, TS_AWS_E_INCOMPLETE_SIGNATURE,
                                     "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 "
                                     "hex digest; streaming payloads are not supported.");
            goto out;
        }
    } else if (p.presigned && opts->s3) {
        ts_strlcpy(payload_hash, "UNSIGNED-PAYLOAD", sizeof(payload_hash));
    } else {
        ts_strlcpy(payload_hash, body_hex, sizeof(payload_hash));
    }

    rc = ts_sigv4_canonical_request(req, p.signed_headers, payload_hash, opts->s3, p.presigned,
                                    &canon);
    if (rc) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH, "%s", MISMATCH_MSG);
        goto out;
    }
    uint8_t h[TS_SHA256_LEN];
    char hex[2 * TS_SHA256_LEN + 1];
    ts_sha256(canon.data, canon.len, h);
    ts_hex(h, sizeof(h), hex);
    rc = ts_buf_addf(&sts, "%s\n%s\n%s/%s/%s/aws4_request\n%s", SIGV4_ALGORITHM, stamp,
                     scope.date8, scope.region, scope.service, hex);
    if (rc) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_INTERNAL, "Internal error.");
        goto out;
    }
    uint8_t kSigning[TS_SHA256_LEN], sig[TS_SHA256_LEN];
    ts_sigv4_signing_key(secret, scope.date8, scope.region, scope.service, kSigning);
    ts_hmac_sha256(kSigning, sizeof(kSigning), sts.data, sts.len, sig);
    memset(kSigning, 0, sizeof(kSigning));
    char sig_hex[2 * TS_SHA256_LEN + 1];
    ts_hex(sig, sizeof(sig), sig_hex);
    char given[2 * TS_SHA256_LEN + 1];
    size_t glen = strlen(p.signature);
    bool ok = glen == 2 * TS_SHA256_LEN;
    if (ok) {
        for (size_t i = 0; i < glen; i++) {
            given[i] = (char)tolower((unsigned char)p.signature[i]);
        }
        given[glen] = '\0';
        ok = ts_mem_eq_ct(given, sig_hex, glen);
    }
    if (!ok) {
        rc = ts_aws_fail_generic(err, proto, TS_AWS_E_SIGNATURE_MISMATCH, "%s", MISMATCH_MSG);
        goto out;
    }
    ts_strlcpy(region_out, scope.region, 32);
    rc = 0;
out:
    memset(secret, 0, sizeof(secret));
    ts_buf_free(&canon);
    ts_buf_free(&sts);
    return rc;
}
