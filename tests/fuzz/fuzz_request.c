/*
 * fuzz_request.c - libFuzzer target over the AWS request entry point: headers and body ->
 * routing -> SigV4 -> body parsing -> the operation -> the response or error envelope.
 *
 * The input is a structured request, readable so that seeds are easy to write:
 *
 *   byte 0      flags: bit 0 sign the request with a valid signature (computed here, so the
 *               fuzzer gets past SigV4 into parsing and the operations); bits 1-2 the signing
 *               service (fuzzsvc, sts, s3, logs); bit 3 root key instead of the user key;
 *               bit 4 the body is flagged too large; bits 5-6 the server clock offset
 *               (0, +16 min, -16 min, +15 min); bit 7 sign the query string form (presigned)
 *   then        "METHOD TARGET\n" (TARGET = path, optionally "?query")
 *               "Name: value\n" header lines, up to an empty line
 *               the body (the rest of the input)
 *
 * Registered: STS as shipped, a fuzz-only awsJson1.1 service whose operations walk their
 * input, and a rest-xml (S3) service without operations.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trailstream/ts_aws.h"
#include "trailstream/ts_services.h"

#define FUZZ_MAX_HEADERS 64
#define FUZZ_T0 ((int64_t)1709294400000) /* 2024-03-01T12:00:00Z */
#define FUZZ_REGION "us-east-1"

static const char *const SERVICES[] = {"fuzzsvc", "sts", "s3", "logs"};
static const int64_t CLOCK_OFFSETS[] = {0, 16 * 60000, -16 * 60000, 15 * 60000};

/* ------------------------------------------------------------------ the fuzz-only service */

/* Walks any JSON value, so that every node the parser built is touched. */
static size_t walk(const cJSON *v, int depth)
{
    size_t n = 1;
    if (depth > 64) {
        return n;
    }
    if (cJSON_IsString(v)) {
        n += strlen(v->valuestring);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        n += walk(c, depth + 1);
    }
    return n;
}

static int op_put(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                  struct ts_aws_error *err)
{
    (void)ctx;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(req->input, "Name");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(req->input, "Items");
    if (!cJSON_IsString(name) || !cJSON_IsArray(items)) {
        return ts_aws_fail(err, "ValidationException", "Name must be a string, Items a list.");
    }
    if (strlen(name->valuestring) > 256) {
        return ts_aws_fail(err, "ValidationException", "Name '%.300s' is too long.",
                           name->valuestring);
    }
    resp->output = cJSON_CreateObject();
    if (!resp->output) {
        return TS_ENOMEM;
    }
    cJSON_AddStringToObject(resp->output, "Name", name->valuestring);
    cJSON_AddNumberToObject(resp->output, "Nodes", (double)walk(items, 0));
    cJSON_AddStringToObject(resp->output, "Account", req->caller.account);
    return 0;
}

static int op_get(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                  struct ts_aws_error *err)
{
    (void)ctx;
    (void)err;
    resp->output = cJSON_Duplicate(req->input, true);
    return resp->output ? 0 : TS_ENOMEM;
}

static int op_fail(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                   struct ts_aws_error *err)
{
    (void)ctx;
    (void)resp;
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(req->input, "Why");
    /* Echoes input into the message: the envelope must escape whatever it holds. */
    return ts_aws_fail(err,
                       cJSON_IsString(why) && why->valuestring[0] == 'x'
                           ? "ResourceNotFoundException"
                           : "NotARealCode<&>\"",
                       "failed: %.500s", cJSON_IsString(why) ? why->valuestring : "-");
}

static const char *const put_required[] = {"Name", "Items", NULL};

static const struct ts_aws_op fuzz_ops[] = {
    {"Put", op_put, put_required},
    {"Get", op_get, NULL},
    {"Fail", op_fail, NULL},
};

static const struct ts_aws_service fuzz_json_service = {
    .name = "fuzzsvc",
    .signing_name = "fuzzsvc",
    .protocol = TS_AWS_JSON,
    .target_prefix = "FuzzSvc_20240101",
    .content_type = "application/x-amz-json-1.1",
    .validation_code = "ValidationException",
    .ops = fuzz_ops,
    .n_ops = TS_ARRAY_LEN(fuzz_ops),
};

static const struct ts_aws_service fuzz_s3_service = {
    .name = "s3",
    .signing_name = "s3",
    .protocol = TS_AWS_REST_XML,
};

/* ------------------------------------------------------------------ state */

static int64_t fuzz_now;

static int64_t fuzz_clock_now(void *ctx)
{
    (void)ctx;
    return fuzz_now;
}

static const struct ts_clock fuzz_clock = {fuzz_clock_now, NULL};
static struct ts_aws_accounts *accounts;
static struct ts_aws_router *router;

#define USER_KEY "AKIAFUZZUSER00000001"
#define USER_SECRET "fuzzUserSecret/0000000000000000000001"
#define ROOT_KEY "AKIAFUZZROOT00000001"
#define ROOT_SECRET "fuzzRootSecret+0000000000000000000001"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ts_log_set_level(TS_LOG_LEVEL_ERROR);
    accounts = ts_aws_accounts_create();
    router = ts_aws_router_create(accounts, &fuzz_clock);
    if (ts_metrics_init() || !accounts || !router ||
        ts_aws_accounts_add(accounts, "111111111111", "fuzz") ||
        ts_aws_accounts_add_user(accounts, "111111111111", "fuzzer") ||
        ts_aws_accounts_add_key(accounts, "111111111111", "fuzzer", USER_KEY, USER_SECRET) ||
        ts_aws_accounts_add_key(accounts, "111111111111", NULL, ROOT_KEY, ROOT_SECRET) ||
        ts_aws_router_add_service(router, ts_sts_service()) ||
        ts_aws_router_add_service(router, &fuzz_json_service) ||
        ts_aws_router_add_service(router, &fuzz_s3_service)) {
        fprintf(stderr, "fuzz_request: set-up failed\n");
        abort();
    }
    return 0;
}

/* ------------------------------------------------------------------ the request */

struct fuzz_req {
    char *text; /* NUL-terminated copy of the head (request line + headers) */
    char *method, *path, *query;
    char *uri;
    struct ts_http_header headers[FUZZ_MAX_HEADERS + 2];
    size_t n;
    char date[17];
    char *auth;            /* owned; the Authorization value when signed */
    char *presigned_query; /* owned; the query with the X-Amz-* parameters */
    struct ts_http_request http;
};

/* Splits "METHOD TARGET\nName: value\n...\n\n" in place. Returns false when there is no
 * request line. */
static bool parse_head(struct fuzz_req *r)
{
    char *line = r->text;
    char *nl = strchr(line, '\n');
    if (!nl) {
        return false;
    }
    *nl = '\0';
    char *sp = strchr(line, ' ');
    if (!sp) {
        return false;
    }
    *sp = '\0';
    r->method = line;
    r->uri = sp + 1;
    char *rest = nl + 1;
    while (*rest && r->n < FUZZ_MAX_HEADERS) {
        nl = strchr(rest, '\n');
        if (nl) {
            *nl = '\0';
        }
        char *colon = strchr(rest, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ') {
                v++;
            }
            r->headers[r->n].name = rest;
            r->headers[r->n].value = v;
            r->n++;
        }
        if (!nl) {
            break;
        }
        rest = nl + 1;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Builds the ';'-separated, sorted, de-duplicated list of the lowercased header names (plus
 * extra, if not NULL) into out. Returns false when a name cannot be signed. */
static bool signed_header_list(const struct fuzz_req *r, const char *extra, struct ts_buf *out)
{
    char *names[FUZZ_MAX_HEADERS + 2];
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < r->n && ok; i++) {
        const char *nm = r->headers[i].name;
        if (ts_str_eq_nocase(nm, "authorization")) {
            continue;
        }
        names[n] = ts_strdup(nm);
        ok = names[n] != NULL && *nm && strlen(nm) < 100 && !strchr(nm, ';');
        for (char *p = names[n]; ok && *p; p++) {
            ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f;
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
        n += names[n] != NULL;
    }
    if (extra && ok) {
        names[n] = ts_strdup(extra);
        ok = names[n] != NULL;
        n += names[n] != NULL;
    }
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n && ok; i++) {
        if (i && strcmp(names[i], names[i - 1]) == 0) {
            continue;
        }
        ok = (out->len ? ts_buf_addc(out, ';') : 0) == 0 && ts_buf_adds(out, names[i]) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        ts_free(names[i]);
    }
    return ok && out->len > 0;
}

/* Computes the signature of the request as it stands for the given scope. */
static bool compute_signature(struct fuzz_req *r, const char *signed_headers, const char *payload,
                              bool presigned, const char *service, const char *secret,
                              char sig_hex[65])
{
    struct ts_buf canon, sts;
    ts_buf_init(&canon, 4u << 20);
    ts_buf_init(&sts, 4096);
    bool ok = ts_sigv4_canonical_request(&r->http, signed_headers, payload,
                                         strcmp(service, "s3") == 0, presigned, &canon) == 0;
    if (ok) {
        uint8_t h[TS_SHA256_LEN];
        char hex[2 * TS_SHA256_LEN + 1];
        ts_sha256(canon.data, canon.len, h);
        ts_hex(h, sizeof(h), hex);
        ok = ts_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", r->date,
                         r->date, FUZZ_REGION, service, hex) == 0;
    }
    if (ok) {
        uint8_t key[TS_SHA256_LEN], sig[TS_SHA256_LEN];
        char date8[9];
        snprintf(date8, sizeof(date8), "%.8s", r->date);
        ts_sigv4_signing_key(secret, date8, FUZZ_REGION, service, key);
        ts_hmac_sha256(key, sizeof(key), sts.data, sts.len, sig);
        ts_hex(sig, sizeof(sig), sig_hex);
    }
    ts_buf_free(&canon);
    ts_buf_free(&sts);
    return ok;
}

static void fill_http(struct fuzz_req *r, const uint8_t *body, size_t body_len, bool too_large)
{
    memset(&r->http, 0, sizeof(r->http));
    r->http.method = r->method;
    r->http.uri = r->uri;
    r->http.path = r->path;
    r->http.query = r->query;
    r->http.headers = r->headers;
    r->http.n_headers = r->n;
    r->http.body = body;
    r->http.body_len = body_len;
    r->http.body_too_large = too_large;
    r->http.remote_addr = "127.0.0.1";
}

/* Adds a valid SigV4 signature (header or query form) for the request as parsed. */
static void sign(struct fuzz_req *r, uint8_t flags, const uint8_t *body, size_t body_len)
{
    const char *service = SERVICES[(flags >> 1) & 3];
    bool root = flags & 8;
    bool presigned = flags & 0x80;
    const char *key_id = root ? ROOT_KEY : USER_KEY;
    const char *secret = root ? ROOT_SECRET : USER_SECRET;
    char sig[2 * TS_SHA256_LEN + 1];
    char *orig_query = r->query;
    struct ts_buf sh, q;
    ts_buf_init(&sh, 8192);
    ts_buf_init(&q, 1u << 20);
    ts_time_fmt_basic(FUZZ_T0, r->date);
    if (presigned) {
        if (!signed_header_list(r, NULL, &sh)) {
            goto out;
        }
        int rc = ts_buf_addf(&q,
                             "%s%sX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%.8s"
                             "%%2F%s%%2F%s%%2Faws4_request&X-Amz-Date=%s&X-Amz-Expires=300"
                             "&X-Amz-SignedHeaders=",
                             r->query, *r->query ? "&" : "", key_id, r->date, FUZZ_REGION, service,
                             r->date);
        rc = rc ? rc : ts_uri_encode(sh.data, sh.len, false, &q);
        if (rc) {
            goto out;
        }
        r->query = q.data;
        fill_http(r, body, body_len, false);
        bool s3 = strcmp(service, "s3") == 0;
        uint8_t h[TS_SHA256_LEN];
        char payload[2 * TS_SHA256_LEN + 1];
        ts_sha256(body, body_len, h);
        ts_hex(h, sizeof(h), payload);
        if (!compute_signature(r, sh.data, s3 ? "UNSIGNED-PAYLOAD" : payload, true, service, secret,
                               sig) ||
            ts_buf_addf(&q, "&X-Amz-Signature=%s", sig)) {
            goto out;
        }
        r->presigned_query = ts_buf_take(&q, NULL);
        r->query = r->presigned_query;
        goto out;
    }
    /* Header form: X-Amz-Date joins the headers, every header is signed. */
    r->headers[r->n].name = (char *)"X-Amz-Date";
    r->headers[r->n].value = r->date;
    r->n++;
    if (!signed_header_list(r, NULL, &sh)) {
        goto out;
    }
    fill_http(r, body, body_len, false);
    const char *declared = ts_http_header_get(&r->http, "x-amz-content-sha256");
    uint8_t h[TS_SHA256_LEN];
    char payload[2 * TS_SHA256_LEN + 1];
    ts_sha256(body, body_len, h);
    ts_hex(h, sizeof(h), payload);
    if (!compute_signature(r, sh.data, declared ? declared : payload, false, service, secret,
                           sig)) {
        goto out;
    }
    struct ts_buf a;
    ts_buf_init(&a, 16384);
    if (ts_buf_addf(&a,
                    "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
                    "SignedHeaders=%s, Signature=%s",
                    key_id, r->date, FUZZ_REGION, service, sh.data, sig) == 0) {
        r->auth = ts_buf_take(&a, NULL);
        r->headers[r->n].name = (char *)"Authorization";
        r->headers[r->n].value = r->auth;
        r->n++;
    }
    ts_buf_free(&a);
out:
    if (presigned && !r->presigned_query) {
        r->query = orig_query; /* q is freed below */
    }
    ts_buf_free(&sh);
    ts_buf_free(&q);
}

/* JSON bodies parse as one JSON object; XML bodies are UTF-8 without the control characters
 * XML 1.0 forbids. */
static bool body_well_formed(const struct ts_http_response *resp)
{
    const char *ct = NULL;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (ts_str_eq_nocase(resp->headers[i].name, "content-type")) {
            ct = resp->headers[i].value;
        }
    }
    const char *b = resp->body.data ? resp->body.data : "";
    size_t n = resp->body.len;
    if (!ct || !ts_utf8_valid(b, n) || memchr(b, '\0', n)) {
        return ct == NULL; /* only the plain-text answers of the HTTP layer have none */
    }
    if (strstr(ct, "json")) {
        cJSON *o = cJSON_ParseWithLength(b, n);
        bool ok = cJSON_IsObject(o);
        cJSON_Delete(o);
        return ok;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t flags = data[0];
    data++;
    size--;
    /* The head ends at the first empty line; the body is everything after it. */
    size_t head_len = size, body_off = size;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == '\n' && data[i + 1] == '\n') {
            head_len = i + 1;
            body_off = i + 2;
            break;
        }
    }
    struct fuzz_req r;
    memset(&r, 0, sizeof(r));
    r.text = ts_strndup((const char *)data, head_len);
    if (!r.text) {
        return 0;
    }
    if (!parse_head(&r)) {
        ts_free(r.text);
        return 0;
    }
    /* A NUL in the head ends it (HTTP servers do not pass NULs through either). */
    char *q = strchr(r.uri, '?');
    char path_buf[8192];
    size_t plen = q ? (size_t)(q - r.uri) : strlen(r.uri);
    if (plen >= sizeof(path_buf)) {
        ts_free(r.text);
        return 0;
    }
    memcpy(path_buf, r.uri, plen);
    path_buf[plen] = '\0';
    r.path = path_buf;
    r.query = q ? q + 1 : (char *)"";
    const uint8_t *body = data + body_off;
    size_t body_len = size - body_off;

    fuzz_now = FUZZ_T0 + CLOCK_OFFSETS[(flags >> 5) & 3];
    fill_http(&r, body, body_len, false);
    if (flags & 1) {
        sign(&r, flags, body, body_len);
    }
    fill_http(&r, body, body_len, (flags & 0x10) != 0);

    struct ts_http_response resp;
    ts_http_response_init(&resp, 8u << 20);
    ts_aws_router_handle(router, &r.http, &resp);
    /* Every answer is a complete HTTP response: a status, a request id, and a body that
     * parses in the format its Content-Type claims, whatever bytes the request held. */
    if (resp.status < 200 || resp.status > 599 || resp.n_headers == 0 || !body_well_formed(&resp)) {
        fprintf(stderr, "fuzz_request: bad response %d: %.*s\n", resp.status,
                (int)TS_MIN(resp.body.len, 2000), resp.body.data ? resp.body.data : "");
        abort();
    }
    ts_http_response_free(&resp);
    ts_free(r.auth);
    ts_free(r.presigned_query);
    ts_free(r.text);
    return 0;
}
