/*
 * aws_router.c - from an HTTP request to a service operation and back.
 *
 * Routing by protocol (https://smithy.io/2.0/aws/protocols/index.html):
 *   X-Amz-Target: <prefix>.<Operation>     -> awsJson 1.0/1.1 service with that prefix
 *   Action=<Operation> (form body or query) -> query service (chosen by the SigV4 scope)
 *   anything else                           -> rest-json routes, then S3 (rest-xml)
 * then SigV4 verification with the service's signing name, body parsing, the required-member
 * check, the operation itself, and the response or error envelope of that protocol.
 */
#include "trailstream/ts_aws.h"
#include "trailstream/ts_cbor.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_SERVICES 32
#define MAX_QUERY_PARAMS 1000
#define MAX_RESPONSE_BYTES ((size_t)64 << 20)

struct ts_aws_router {
    const struct ts_aws_accounts *accounts;
    const struct ts_clock *clock;
    const struct ts_aws_service *services[MAX_SERVICES];
    size_t n_services;
    ts_aws_complete_fn on_complete;
    void *on_complete_ctx;
};

struct ts_aws_router *ts_aws_router_create(const struct ts_aws_accounts *accounts,
                                           const struct ts_clock *clock)
{
    struct ts_aws_router *r = ts_calloc(1, sizeof(*r));
    if (r) {
        r->accounts = accounts;
        r->clock = clock ? clock : &ts_clock_real;
    }
    return r;
}

void ts_aws_router_destroy(struct ts_aws_router *r)
{
    ts_free(r);
}

int ts_aws_router_add_service(struct ts_aws_router *r, const struct ts_aws_service *svc)
{
    for (size_t i = 0; i < r->n_services; i++) {
        if (strcmp(r->services[i]->name, svc->name) == 0) {
            return TS_EEXIST;
        }
    }
    if (r->n_services == MAX_SERVICES) {
        return TS_ETOOBIG;
    }
    r->services[r->n_services++] = svc;
    return 0;
}

void ts_aws_router_on_complete(struct ts_aws_router *r, ts_aws_complete_fn fn, void *ctx)
{
    r->on_complete = fn;
    r->on_complete_ctx = ctx;
}

const char *ts_aws_param(const struct ts_aws_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++) {
        if (strcmp(req->params[i].name, name) == 0) {
            return req->params[i].value;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ parameters */

struct param_list {
    struct ts_aws_param *items;
    size_t n;
};

static void params_free(struct param_list *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        ts_free(pl->items[i].name);
        ts_free(pl->items[i].value);
    }
    ts_free(pl->items);
    pl->items = NULL;
    pl->n = 0;
}

/* Parses application/x-www-form-urlencoded pairs, appending to pl. */
static int params_parse(const char *s, size_t len, struct param_list *pl)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&') {
            j++;
        }
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
            if (pl->n == MAX_QUERY_PARAMS) {
                return TS_ETOOBIG;
            }
            struct ts_aws_param *items = ts_realloc(pl->items, (pl->n + 1) * sizeof(*items));
            if (!items) {
                return TS_ENOMEM;
            }
            pl->items = items;
            struct ts_buf k, v;
            ts_buf_init(&k, len);
            ts_buf_init(&v, len);
            int rc = ts_url_decode(s + i, klen, true, &k);
            if (!rc && eq) {
                rc = ts_url_decode(eq + 1, j - i - klen - 1, true, &v);
            }
            if (rc) {
                ts_buf_free(&k);
                ts_buf_free(&v);
                return rc;
            }
            items[pl->n].name = ts_buf_take(&k, NULL);
            items[pl->n].value = ts_buf_take(&v, NULL);
            pl->n++;
            if (!items[pl->n - 1].name || !items[pl->n - 1].value) {
                return TS_ENOMEM;
            }
        }
        i = j + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ rendering */

static void set_header(struct ts_http_response *resp, const char *name, const char *value)
{
    /* Only fails on OOM or too many headers; the response is still well-formed without it. */
    (void)ts_http_response_set_header(resp, name, value);
}

/* ---- CBOR (application/x-amz-cbor-1.1) for awsJson services that set svc->cbor */
#define CBOR_CONTENT_TYPE "application/x-amz-cbor-1.1"

static bool is_cbor(const struct ts_aws_service *svc, enum ts_aws_protocol proto,
                    const struct ts_http_request *req)
{
    const char *ct = ts_http_header_get(req, "content-type");
    return proto == TS_AWS_JSON && svc && svc->cbor && ct &&
           strncasecmp(ct, CBOR_CONTENT_TYPE, strlen(CBOR_CONTENT_TYPE)) == 0;
}

static int render_cbor(const struct ts_aws_service *svc, const cJSON *v,
                       struct ts_http_response *resp)
{
    cJSON *empty = v ? NULL : cJSON_CreateObject();
    int rc = v || empty ? ts_cbor_encode(v ? v : empty, svc->cbor, &resp->body) : TS_ENOMEM;
    cJSON_Delete(empty);
    set_header(resp, "Content-Type", CBOR_CONTENT_TYPE);
    return rc;
}
/* ---- end CBOR */

/* Error messages echo request bytes (targets, actions, versions). Whatever they hold, the
 * envelope must stay well-formed JSON and XML 1.0: invalid UTF-8 and control characters other
 * than tab and newline become '?'. */
static void sanitize_text(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                  : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > n || !ts_utf8_valid(s + i, len) ||
            (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            s[i++] = '?';
        } else {
            i += len;
        }
    }
}

static void render_error(const struct ts_aws_service *svc, enum ts_aws_protocol proto,
                         const char *request_id, const struct ts_aws_error *err,
                         struct ts_http_response *resp, bool cbor)
{
    resp->status = err->status ? err->status : ts_aws_error_status(err->code);
    ts_buf_reset(&resp->body);
    int rc = 0;
    if (cbor) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "__type", err->code);
        cJSON_AddStringToObject(o, "message", err->message);
        rc = o ? render_cbor(svc, o, resp) : TS_ENOMEM;
        cJSON_Delete(o);
        set_header(resp, "x-amzn-ErrorType", err->code);
        if (rc) {
            ts_buf_reset(&resp->body);
        }
        return;
    }
    switch (proto) {
    case TS_AWS_JSON:
    case TS_AWS_REST_JSON: {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            if (proto == TS_AWS_JSON) {
                cJSON_AddStringToObject(o, "__type", err->code);
            } else {
                cJSON_AddStringToObject(o, "Type", resp->status >= 500 ? "Service" : "User");
            }
            cJSON_AddStringToObject(o, "message", err->message);
            char *text = cJSON_PrintUnformatted(o);
            rc = text ? ts_buf_adds(&resp->body, text) : TS_ENOMEM;
            cJSON_free(text);
            cJSON_Delete(o);
        }
        set_header(resp, "Content-Type",
                   proto == TS_AWS_REST_JSON ? "application/json"
                   : svc && svc->content_type ? svc->content_type
                                              : "application/x-amz-json-1.1");
        set_header(resp, "x-amzn-ErrorType", err->code);
        break;
    }
    case TS_AWS_QUERY:
        rc = ts_buf_addf(&resp->body,
                         "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n"
                         "    <Code>",
                         svc && svc->xmlns ? svc->xmlns
                                           : "https://sts.amazonaws.com/doc/2011-06-15/",
                         resp->status >= 500 ? "Receiver" : "Sender");
        rc = rc ? rc : ts_buf_add_xml(&resp->body, err->code);
        rc = rc ? rc : ts_buf_adds(&resp->body, "</Code>\n    <Message>");
        rc = rc ? rc : ts_buf_add_xml(&resp->body, err->message);
        rc = rc ? rc
                : ts_buf_addf(&resp->body,
                              "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n"
                              "</ErrorResponse>\n",
                              request_id);
        set_header(resp, "Content-Type", "text/xml");
        break;
    case TS_AWS_REST_XML:
        rc = ts_buf_adds(&resp->body,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        rc = rc ? rc : ts_buf_add_xml(&resp->body, err->code);
        rc = rc ? rc : ts_buf_adds(&resp->body, "</Code><Message>");
        rc = rc ? rc : ts_buf_add_xml(&resp->body, err->message);
        rc = rc ? rc
                : ts_buf_addf(&resp->body,
                              "</Message><RequestId>%s</RequestId><HostId>%s</HostId></Error>",
                              request_id, request_id);
        set_header(resp, "Content-Type", "application/xml");
        break;
    }
    if (rc) {
        ts_buf_reset(&resp->body);
    }
}

static int render_query_success(const struct ts_aws_req *req, struct ts_aws_resp *out,
                                struct ts_http_response *resp)
{
    const char *op = req->op->name;
    int rc = ts_buf_addf(&resp->body, "<%sResponse xmlns=\"%s\">\n  <%sResult>\n", op,
                         req->service->xmlns, op);
    rc = rc ? rc : ts_buf_add(&resp->body, out->xml.data ? out->xml.data : "", out->xml.len);
    rc = rc ? rc
            : ts_buf_addf(&resp->body,
                          "  </%sResult>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
                          "  </ResponseMetadata>\n</%sResponse>\n",
                          op, req->request_id, op);
    set_header(resp, "Content-Type", "text/xml");
    return rc;
}

static int render_json_success(const struct ts_aws_req *req, struct ts_aws_resp *out,
                               struct ts_http_response *resp)
{
    int rc;
    if (!out->output && out->json.len) {
        /* Pre-rendered: hand the buffer over instead of copying a body of up to 10+ MB. */
        ts_buf_free(&resp->body);
        resp->body = out->json;
        ts_buf_init(&out->json, 0);
        rc = 0;
    } else if (out->output) {
        char *text = cJSON_PrintUnformatted(out->output);
        rc = text ? ts_buf_adds(&resp->body, text) : TS_ENOMEM;
        cJSON_free(text);
    } else {
        rc = ts_buf_adds(&resp->body, "{}");
    }
    set_header(resp, "Content-Type", req->service->content_type ? req->service->content_type
                                                                 : "application/json");
    return rc;
}

/* ------------------------------------------------------------------ routing */

static const struct ts_aws_service *find_json_service(struct ts_aws_router *r,
                                                      const char *target, const char **op)
{
    const char *dot = strrchr(target, '.');
    if (!dot) {
        return NULL;
    }
    size_t plen = (size_t)(dot - target);
    for (size_t i = 0; i < r->n_services; i++) {
        const struct ts_aws_service *s = r->services[i];
        if (s->protocol == TS_AWS_JSON && s->target_prefix && strlen(s->target_prefix) == plen &&
            strncmp(s->target_prefix, target, plen) == 0) {
            *op = dot + 1;
            return s;
        }
    }
    return NULL;
}

static const struct ts_aws_service *find_by_protocol(struct ts_aws_router *r,
                                                     enum ts_aws_protocol proto,
                                                     const char *signing_name)
{
    const struct ts_aws_service *first = NULL;
    for (size_t i = 0; i < r->n_services; i++) {
        const struct ts_aws_service *s = r->services[i];
        if (s->protocol != proto) {
            continue;
        }
        if (signing_name && strcmp(s->signing_name, signing_name) == 0) {
            return s;
        }
        if (!first) {
            first = s;
        }
    }
    return first;
}

/* rest-json: the service whose signing name is the scope's and a route of which matches. */
static const struct ts_aws_service *find_rest_json(struct ts_aws_router *r,
                                                   const struct ts_http_request *http,
                                                   const struct ts_sigv4_scope *scope,
                                                   const char **op)
{
    for (size_t i = 0; scope && i < r->n_services; i++) {
        const struct ts_aws_service *s = r->services[i];
        if (s->protocol != TS_AWS_REST_JSON || strcmp(s->signing_name, scope->service) != 0) {
            continue;
        }
        for (size_t k = 0; k < s->n_routes; k++) {
            if (strcmp(s->routes[k].method, http->method) == 0 &&
                strcmp(s->routes[k].path, http->path) == 0) {
                *op = s->routes[k].op;
                return s;
            }
        }
    }
    return NULL;
}

static bool is_form(const struct ts_http_request *req)
{
    const char *ct = ts_http_header_get(req, "content-type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static bool query_has_action(const char *q)
{
    return strncmp(q, "Action=", 7) == 0 || strstr(q, "&Action=") != NULL;
}

static const struct ts_aws_op *find_op(const struct ts_aws_service *svc, const char *name)
{
    for (size_t i = 0; i < svc->n_ops; i++) {
        if (strcmp(svc->ops[i].name, name) == 0) {
            return &svc->ops[i];
        }
    }
    return NULL;
}

static void record_metrics(const char *service, const char *op, int status, uint64_t start_ns)
{
    char labels[256];
    snprintf(labels, sizeof(labels), "service=\"%s\",operation=\"%s\",status=\"%d\"", service,
             op, status);
    ts_metric_add("ts_requests_total", labels, 1);
    snprintf(labels, sizeof(labels), "service=\"%s\"", service);
    ts_metric_observe("ts_request_duration_seconds", labels,
                      (double)(ts_mono_ns() - start_ns) / 1e9);
}

/* ---- CloudTrail: a call SigV4 refused is audited when its access key is known (AWS records
 * signature failures of real principals). Fills the caller from the key's owner (no secret
 * kept), the region from the scope and the operation from the target, for on_complete. */
static void audit_refused(struct ts_aws_router *r, struct ts_aws_req *req,
                          const struct ts_sigv4_scope *scope, const struct ts_aws_service *svc,
                          const char *op_name)
{
    if (!r->on_complete || !scope) {
        return;
    }
    char secret[300];
    if (ts_aws_accounts_lookup(r->accounts, scope->key_id, &req->caller, secret,
                               sizeof(secret)) != 0) {
        memset(&req->caller, 0, sizeof(req->caller));
    }
    memset(secret, 0, sizeof(secret));
    ts_strlcpy(req->region, scope->region, sizeof(req->region));
    req->op = op_name ? find_op(svc, op_name) : NULL;
    req->auth_failed = true;
}
/* ---- end CloudTrail */

void ts_aws_router_handle(struct ts_aws_router *r, const struct ts_http_request *http,
                          struct ts_http_response *resp)
{
    uint64_t start_ns = ts_mono_ns();
    struct ts_aws_req req;
    struct ts_aws_resp out;
    struct ts_aws_error err;
    struct param_list params = {0};
    bool cbor = false;
    memset(&req, 0, sizeof(req));
    memset(&out, 0, sizeof(out));
    memset(&err, 0, sizeof(err));
    ts_buf_init(&out.xml, MAX_RESPONSE_BYTES);
    ts_buf_init(&out.json, MAX_RESPONSE_BYTES);
    req.http = http;
    req.now_ms = ts_clock_now_ms(r->clock);
    ts_uuid4(req.request_id);
    set_header(resp, "x-amzn-RequestId", req.request_id);

    const char *op_name = NULL;
    const char *target = ts_http_header_get(http, "x-amz-target");
    const struct ts_aws_service *svc = NULL;
    enum ts_aws_protocol proto = TS_AWS_JSON;
    struct ts_sigv4_scope scope;
    bool have_scope = ts_sigv4_peek_scope(http, &scope) == 0;

    if (target) {
        proto = TS_AWS_JSON;
        svc = find_json_service(r, target, &op_name);
        if (!svc) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_UNKNOWN_OPERATION,
                                "No service handles the target '%.200s'.", target);
            goto fail;
        }
    } else if ((strcmp(http->method, "POST") == 0 && is_form(http)) ||
               query_has_action(http->query)) {
        proto = TS_AWS_QUERY;
        svc = find_by_protocol(r, TS_AWS_QUERY, have_scope ? scope.service : NULL);
    } else if ((svc = find_rest_json(r, http, have_scope ? &scope : NULL, &op_name)) != NULL) {
        proto = TS_AWS_REST_JSON;
    } else {
        proto = TS_AWS_REST_XML;
        svc = find_by_protocol(r, TS_AWS_REST_XML, NULL);
    }
    req.protocol = proto;
    if (!svc) {
        ts_aws_fail_generic(&err, proto, TS_AWS_E_UNKNOWN_OPERATION,
                            "A header or request you provided implies functionality that is not "
                            "implemented.");
        goto fail;
    }
    req.service = svc;
    cbor = is_cbor(svc, proto, http);
    if (proto == TS_AWS_REST_XML) {
        set_header(resp, "x-amz-request-id", req.request_id);
    }
    if (http->body_too_large) {
        ts_aws_fail_generic(&err, proto, TS_AWS_E_TOO_LARGE,
                            "Request body is larger than the configured limit.");
        goto fail;
    }

    struct ts_sigv4_opts vo = {
        .service = svc->signing_name,
        .s3 = proto == TS_AWS_REST_XML,
        .protocol = proto,
        .now_ms = req.now_ms,
    };
    if (ts_sigv4_verify(http, r->accounts, &vo, &req.caller, req.region, &err) != 0) {
        audit_refused(r, &req, have_scope ? &scope : NULL, svc, op_name);
        goto fail;
    }

    /* Parse the input of the protocol. */
    if (cbor) {
        int crc = http->body_len ? ts_cbor_decode(http->body, http->body_len, &req.input) : 0;
        if (!crc && !req.input) {
            req.input = cJSON_CreateObject();
        }
        if (crc == TS_EPARSE || (req.input && !cJSON_IsObject(req.input))) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_SERIALIZATION,
                                "Request body is not a valid CBOR map.");
            goto fail;
        }
        if (!req.input) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_INTERNAL, "Out of memory.");
            goto fail;
        }
    } else if (proto == TS_AWS_JSON || proto == TS_AWS_REST_JSON) {
        if (!http->body_ascii && !ts_utf8_valid((const char *)http->body, http->body_len)) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_SERIALIZATION,
                                "Request body is not valid UTF-8.");
            goto fail;
        }
        const struct ts_aws_op *early = op_name ? find_op(svc, op_name) : NULL;
        if (early && early->raw_body) {
            /* The operation parses the body itself. */
        } else if (http->body_len == 0) {
            req.input = cJSON_CreateObject();
        } else {
            const char *end = NULL;
            const char *body = (const char *)http->body;
            req.input = cJSON_ParseWithLengthOpts(body, http->body_len, &end, false);
            /* Only whitespace may follow the value. */
            while (req.input && end && end < body + http->body_len &&
                   (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) {
                end++;
            }
            if (req.input && (!end || end != body + http->body_len)) {
                cJSON_Delete(req.input);
                req.input = NULL;
                ts_aws_fail_generic(&err, proto, TS_AWS_E_SERIALIZATION,
                                    "Request body is not valid JSON.");
                goto fail;
            }
            if (!req.input || !cJSON_IsObject(req.input)) {
                ts_aws_fail_generic(&err, proto, TS_AWS_E_SERIALIZATION,
                                    req.input ? "Request body must be a JSON object."
                                              : "Request body is not valid JSON.");
                goto fail;
            }
        }
        if (!req.input && !(early && early->raw_body)) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_INTERNAL, "Out of memory.");
            goto fail;
        }
    } else if (proto == TS_AWS_QUERY) {
        int rc = params_parse(http->query, strlen(http->query), &params);
        if (!rc && is_form(http)) {
            rc = params_parse((const char *)http->body, http->body_len, &params);
        }
        if (rc) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_SERIALIZATION,
                                "The query string or form body is malformed.");
            goto fail;
        }
        req.params = params.items;
        req.n_params = params.n;
        op_name = ts_aws_param(&req, "Action");
        const char *version = ts_aws_param(&req, "Version");
        if (op_name && version && svc->api_version && strcmp(version, svc->api_version) != 0) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_UNKNOWN_OPERATION,
                                "Could not find operation %.100s for version %.40s", op_name,
                                version);
            goto fail;
        }
    }

    req.op = op_name ? find_op(svc, op_name) : NULL;
    if (!req.op) {
        ts_aws_fail_generic(&err, proto, TS_AWS_E_UNKNOWN_OPERATION,
                            "The operation %.100s is not supported by %s.",
                            op_name ? op_name : "(none)", svc->name);
        goto fail;
    }
    for (const char *const *m = req.op->required; m && *m; m++) {
        bool present = proto == TS_AWS_QUERY
                           ? ts_aws_param(&req, *m) != NULL
                           : !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(req.input, *m)) &&
                                 cJSON_GetObjectItemCaseSensitive(req.input, *m) != NULL;
        if (!present) {
            ts_aws_fail(&err, svc->validation_code ? svc->validation_code : "ValidationException",
                        "1 validation error detected: Value null at '%s' failed to satisfy "
                        "constraint: Member must not be null",
                        *m);
            goto fail;
        }
    }

    if (req.op->fn(svc->ctx, &req, &out, &err) != 0) {
        if (!err.code[0]) {
            ts_aws_fail_generic(&err, proto, TS_AWS_E_INTERNAL,
                                "We encountered an internal error. Please try again.");
        }
        goto fail;
    }
    resp->status = out.status ? out.status : 200;
    /* A pre-rendered JSON body is re-read as a tree for CBOR (the slow path). */
    cJSON *parsed = cbor && !out.output && out.json.len
                        ? cJSON_ParseWithLength(out.json.data, out.json.len)
                        : NULL;
    int rc = cbor && !out.output && out.json.len && !parsed ? TS_ENOMEM
             : cbor                  ? render_cbor(svc, out.output ? out.output : parsed, resp)
             : proto == TS_AWS_QUERY ? render_query_success(&req, &out, resp)
                                     : render_json_success(&req, &out, resp);
    cJSON_Delete(parsed);
    if (rc) {
        ts_buf_reset(&resp->body);
        ts_aws_fail_generic(&err, proto, TS_AWS_E_INTERNAL, "The response could not be built.");
        goto fail;
    }
    goto done;

fail:
    sanitize_text(err.code);
    sanitize_text(err.message);
    render_error(svc, proto, req.request_id, &err, resp, cbor);
    TS_LOG_DEBUG("aws", "%s %s -> %d %s", http->method, http->path, resp->status, err.code);
done:
    record_metrics(svc ? svc->name : "unknown", req.op ? req.op->name : "unknown", resp->status,
                   start_ns);
    req.output = out.output;
    if (r->on_complete && req.caller.account[0] && req.op) {
        r->on_complete(r->on_complete_ctx, &req, resp->status, err.code[0] ? &err : NULL);
    }
    cJSON_Delete(req.input);
    cJSON_Delete(out.output);
    ts_buf_free(&out.xml);
    ts_buf_free(&out.json);
    params_free(&params);
}
