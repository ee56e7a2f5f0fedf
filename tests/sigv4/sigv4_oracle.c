/*
 * sigv4_oracle.c - a line-oriented front end to the SigV4 verifier, driven by crosscheck.py.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * Reads one JSON object per line on stdin and writes one JSON object per line on stdout, in
 * the same order. The commands ("cmd", default "verify"):
 *
 *   verify      {method, path, query, headers: [[name, value], ...], body: base64, now_ms,
 *                service, protocol: "json"|"query"|"s3", max_skew_ms?}
 *               -> {"ok": true, "account", "arn", "region"} or
 *                  {"ok": false, "code", "message", "status"}
 *   canonical   {method, path, query, headers, signed_headers, payload_hash, s3, presigned}
 *               -> {"canonical": "..."}
 *   signing_key {secret, date8, region, service} -> {"key": "<hex>"}
 *
 * The accounts table is fixed (see ORACLE_KEYS) so the driver knows which secret signs which
 * account. A malformed line is a driver bug: the oracle reports it and exits with status 2.
 */
#include <stdio.h>
#include <string.h>

#include "trailstream/ts_aws.h"

#define MAX_LINE ((size_t)256 << 20)
#define MAX_HEADERS 256

struct oracle_key {
    const char *account;
    const char *user; /* NULL = root */
    const char *key_id;
    const char *secret;
};

/* Keep in sync with KEYS in crosscheck.py. The first secret is the public AWS SigV4
 * test-suite example key, so the reference vectors (docs/testing.md) verify with it (the
 * access key id is not part of the signature, only of the lookup). */
static const struct oracle_key ORACLE_KEYS[] = {
    {"111111111111", NULL, "AKIDEXAMPLE00000", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
    {"222222222222", "alice", "AKIAORACLEALICE00001", "oracleAliceSecret/00000000000000000001"},
    {"333333333333", NULL, "AKIAORACLEROOT000003", "oracleRootSecret+0000000000000000000003"},
};

static struct ts_aws_accounts *build_accounts(void)
{
    struct ts_aws_accounts *a = ts_aws_accounts_create();
    if (!a) {
        return NULL;
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(ORACLE_KEYS); i++) {
        const struct oracle_key *k = &ORACLE_KEYS[i];
        if (!ts_aws_accounts_exists(a, k->account) && ts_aws_accounts_add(a, k->account, "") != 0) {
            goto fail;
        }
        if (k->user && ts_aws_accounts_add_user(a, k->account, k->user) != 0) {
            goto fail;
        }
        if (ts_aws_accounts_add_key(a, k->account, k->user, k->key_id, k->secret) != 0) {
            goto fail;
        }
    }
    return a;
fail:
    ts_aws_accounts_destroy(a);
    return NULL;
}

/* Reads one line (without the newline) into line. Returns 1 for a line, 0 at EOF, or a
 * negative code when the line is longer than MAX_LINE. */
static int read_line(FILE *f, struct ts_buf *line)
{
    char chunk[65536];
    ts_buf_reset(line);
    bool any = false;
    while (fgets(chunk, sizeof(chunk), f)) {
        any = true;
        size_t n = strlen(chunk);
        bool eol = n && chunk[n - 1] == '\n';
        int rc = ts_buf_add(line, chunk, eol ? n - 1 : n);
        if (rc) {
            return rc;
        }
        if (eol) {
            return 1;
        }
    }
    return any ? 1 : 0;
}

static const char *str_field(const cJSON *o, const char *name, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static bool bool_field(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static int64_t i64_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* The request under test; headers point into the parsed JSON, the body into body. */
struct oracle_req {
    struct ts_http_request http;
    struct ts_http_header headers[MAX_HEADERS];
    char uri[16384];
    struct ts_buf body;
};

static int build_request(const cJSON *o, struct oracle_req *r)
{
    memset(&r->http, 0, sizeof(r->http));
    r->http.method = str_field(o, "method", "GET");
    r->http.path = str_field(o, "path", "/");
    r->http.query = str_field(o, "query", "");
    snprintf(r->uri, sizeof(r->uri), "%s%s%s", r->http.path, *r->http.query ? "?" : "",
             r->http.query);
    r->http.uri = r->uri;
    r->http.remote_addr = "127.0.0.1";
    size_t n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(o, "headers"))
    {
        const cJSON *name = cJSON_GetArrayItem(h, 0), *value = cJSON_GetArrayItem(h, 1);
        if (n == MAX_HEADERS || !cJSON_IsString(name) || !cJSON_IsString(value)) {
            return TS_EINVAL;
        }
        r->headers[n].name = name->valuestring;
        r->headers[n].value = value->valuestring;
        n++;
    }
    r->http.headers = r->headers;
    r->http.n_headers = n;
    const char *b64 = str_field(o, "body", "");
    int rc = ts_base64_decode(b64, strlen(b64), &r->body);
    if (rc) {
        return rc;
    }
    r->http.body = (const uint8_t *)(r->body.data ? r->body.data : "");
    r->http.body_len = r->body.len;
    return 0;
}

static enum ts_aws_protocol parse_protocol(const char *s)
{
    if (strcmp(s, "query") == 0) {
        return TS_AWS_QUERY;
    }
    if (strcmp(s, "s3") == 0) {
        return TS_AWS_REST_XML;
    }
    return TS_AWS_JSON;
}

static cJSON *cmd_verify(const cJSON *o, const struct oracle_req *r,
                         const struct ts_aws_accounts *accounts)
{
    enum ts_aws_protocol proto = parse_protocol(str_field(o, "protocol", "json"));
    struct ts_sigv4_opts opts = {
        .service = str_field(o, "service", "logs"),
        .s3 = proto == TS_AWS_REST_XML,
        .protocol = proto,
        .now_ms = i64_field(o, "now_ms"),
        .max_skew_ms = i64_field(o, "max_skew_ms"),
    };
    struct ts_aws_caller caller;
    struct ts_aws_error err;
    char region[32] = "";
    memset(&caller, 0, sizeof(caller));
    memset(&err, 0, sizeof(err));
    int rc = ts_sigv4_verify(&r->http, accounts, &opts, &caller, region, &err);
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        return NULL;
    }
    cJSON_AddBoolToObject(out, "ok", rc == 0);
    if (rc == 0) {
        cJSON_AddStringToObject(out, "account", caller.account);
        cJSON_AddStringToObject(out, "arn", caller.arn);
        cJSON_AddStringToObject(out, "region", region);
    } else {
        cJSON_AddStringToObject(out, "code", err.code);
        cJSON_AddStringToObject(out, "message", err.message);
        cJSON_AddNumberToObject(out, "status",
                                err.status ? err.status : ts_aws_error_status(err.code));
    }
    return out;
}

static cJSON *cmd_canonical(const cJSON *o, const struct oracle_req *r)
{
    struct ts_buf canon;
    ts_buf_init(&canon, MAX_LINE);
    int rc = ts_sigv4_canonical_request(&r->http, str_field(o, "signed_headers", "host"),
                                        str_field(o, "payload_hash", ""), bool_field(o, "s3"),
                                        bool_field(o, "presigned"), &canon);
    cJSON *out = cJSON_CreateObject();
    if (out) {
        if (rc) {
            cJSON_AddStringToObject(out, "error", ts_strerror(rc));
        } else {
            cJSON_AddStringToObject(out, "canonical", canon.data ? canon.data : "");
        }
    }
    ts_buf_free(&canon);
    return out;
}

static cJSON *cmd_signing_key(const cJSON *o)
{
    uint8_t key[TS_SHA256_LEN];
    char hex[2 * TS_SHA256_LEN + 1];
    ts_sigv4_signing_key(str_field(o, "secret", ""), str_field(o, "date8", ""),
                         str_field(o, "region", ""), str_field(o, "service", ""), key);
    ts_hex(key, sizeof(key), hex);
    cJSON *out = cJSON_CreateObject();
    if (out) {
        cJSON_AddStringToObject(out, "key", hex);
    }
    return out;
}

int main(void)
{
    struct ts_aws_accounts *accounts = build_accounts();
    if (!accounts) {
        fprintf(stderr, "sigv4_oracle: cannot build the accounts table\n");
        return 2;
    }
    struct ts_buf line;
    ts_buf_init(&line, MAX_LINE);
    int status = 0;
    long lineno = 0;
    for (;;) {
        int rc = read_line(stdin, &line);
        if (rc == 0) {
            break;
        }
        lineno++;
        if (rc < 0) {
            fprintf(stderr, "sigv4_oracle: line %ld: %s\n", lineno, ts_strerror(rc));
            status = 2;
            break;
        }
        cJSON *o = cJSON_ParseWithLength(line.data ? line.data : "", line.len);
        if (!cJSON_IsObject(o)) {
            fprintf(stderr, "sigv4_oracle: line %ld is not a JSON object\n", lineno);
            cJSON_Delete(o);
            status = 2;
            break;
        }
        struct oracle_req *r = ts_calloc(1, sizeof(*r));
        if (!r) {
            cJSON_Delete(o);
            status = 2;
            break;
        }
        ts_buf_init(&r->body, MAX_LINE);
        cJSON *out = NULL;
        const char *cmd = str_field(o, "cmd", "verify");
        if (strcmp(cmd, "signing_key") == 0) {
            out = cmd_signing_key(o);
        } else if (build_request(o, r) != 0) {
            fprintf(stderr, "sigv4_oracle: line %ld: bad headers or body\n", lineno);
        } else if (strcmp(cmd, "canonical") == 0) {
            out = cmd_canonical(o, r);
        } else if (strcmp(cmd, "verify") == 0) {
            out = cmd_verify(o, r, accounts);
        } else {
            fprintf(stderr, "sigv4_oracle: line %ld: unknown cmd '%s'\n", lineno, cmd);
        }
        char *text = out ? cJSON_PrintUnformatted(out) : NULL;
        if (text) {
            fputs(text, stdout);
            fputc('\n', stdout);
        }
        cJSON_free(text);
        cJSON_Delete(out);
        ts_buf_free(&r->body);
        ts_free(r);
        cJSON_Delete(o);
        if (!text) {
            status = 2;
            break;
        }
    }
    fflush(stdout);
    ts_buf_free(&line);
    ts_aws_accounts_destroy(accounts);
    return status;
}
