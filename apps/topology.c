/*
 * topology.c - provisions the `topology:` section of the config at start. Each step is the AWS
 * operation itself (CreateStream, PutDestination, ...), signed with SigV4 by the owning
 * account's first access key and handed to the router exactly as an HTTP request would be, so
 * validation, authorization, CONTROL_MESSAGEs and CloudTrail records are those of the same call
 * made with the AWS CLI. The calls carry the User-Agent "trailstream-topology/<version>".
 *
 * SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
#include "topology.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "trailstream/ts_http.h"

#define TOPO_RESPONSE_MAX (1 << 20)

enum topo_service { SVC_KINESIS, SVC_LOGS, SVC_CLOUDTRAIL };

static const struct {
    const char *signing_name;
    const char *target_prefix;
} topo_services[] = {
    {"kinesis", "Kinesis_20131202"},
    {"logs", "Logs_20140328"},
    {"cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"},
};

/* One provisioning run: the entry being provisioned and the outcome of the last call. */
struct prov {
    const struct ts_config *cfg;
    struct ts_aws_router *router;
    const struct ts_config_topology *t;
    const struct ts_config_key *key;
    struct ts_topology_counts *counts;
    /* the item being provisioned, for error messages */
    int line;
    const char *list; /* "destinations" */
    const char *what; /* "destination" */
    const char *name;
    char *err;
    size_t err_len;
    /* last call */
    int status;
    char code[64];
    char message[512];
    cJSON *out; /* parsed response body (success or error), owned; NULL when not JSON */
};

/* The key the account's resources are provisioned with: its first user's first key, else its
 * first root key (config.c guarantees one exists). */
static const struct ts_config_key *account_key(const struct ts_config *c, const char *account)
{
    for (size_t i = 0; i < c->n_accounts; i++) {
        const struct ts_config_account *a = &c->accounts[i];
        if (strcmp(a->id, account) != 0) {
            continue;
        }
        for (size_t u = 0; u < a->n_users; u++) {
            if (a->users[u].n_keys) {
                return &a->users[u].keys[0];
            }
        }
        return a->n_root_keys ? &a->root_keys[0] : NULL;
    }
    return NULL;
}

/* Signs req (whose headers are Content-Type, Host, X-Amz-Date, X-Amz-Target, in that sorted
 * order, and which has room for Authorization as the last one) into auth. */
static int sign(const struct ts_http_request *req, const char *stamp, const char *region,
                const char *service, const struct ts_config_key *key, char *auth, size_t len)
{
    static const char signed_headers[] = "content-type;host;x-amz-date;x-amz-target";
    uint8_t h[TS_SHA256_LEN], k[TS_SHA256_LEN], sig[TS_SHA256_LEN];
    char payload_hex[2 * TS_SHA256_LEN + 1], canon_hex[2 * TS_SHA256_LEN + 1];
    char sig_hex[2 * TS_SHA256_LEN + 1], date8[9];
    ts_sha256(req->body, req->body_len, h);
    ts_hex(h, sizeof(h), payload_hex);
    struct ts_buf canon, sts;
    ts_buf_init(&canon, 64 << 10);
    ts_buf_init(&sts, 4096);
    int rc = ts_sigv4_canonical_request(req, signed_headers, payload_hex, false, false, &canon);
    if (!rc) {
        ts_sha256(canon.data, canon.len, h);
        ts_hex(h, sizeof(h), canon_hex);
        rc = ts_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", stamp, stamp,
                         region, service, canon_hex);
    }
    if (!rc) {
        snprintf(date8, sizeof(date8), "%.8s", stamp);
        ts_sigv4_signing_key(key->secret, date8, region, service, k);
        ts_hmac_sha256(k, sizeof(k), sts.data, sts.len, sig);
        ts_hex(sig, sizeof(sig), sig_hex);
        int n = snprintf(auth, len,
                         "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                         "Signature=%s",
                         key->id, date8, region, service, signed_headers, sig_hex);
        rc = n < 0 || (size_t)n >= len ? TS_ETOOBIG : 0;
    }
    memset(k, 0, sizeof(k));
    ts_buf_free(&canon);
    ts_buf_free(&sts);
    return rc;
}

/* Calls one JSON-protocol operation as the entry's account. Returns 0 when the call was made
 * (p->status, p->code, p->message and p->out describe the answer) or a negative code when it
 * could not be made at all. Consumes input. */
static int call(struct prov *p, enum topo_service svc, const char *op, cJSON *input)
{
    cJSON_Delete(p->out);
    p->out = NULL;
    p->status = 0;
    p->code[0] = p->message[0] = '\0';
    char *body = input ? cJSON_PrintUnformatted(input) : NULL;
    cJSON_Delete(input);
    if (!body) {
        return TS_ENOMEM;
    }
    char target[160], stamp[17], auth[1024], ua[64];
    snprintf(target, sizeof(target), "%s.%s", topo_services[svc].target_prefix, op);
    ts_time_fmt_basic(ts_clock_now_ms(&ts_clock_real), stamp);
    snprintf(ua, sizeof(ua), "trailstream-topology/%s", TS_VERSION);
    struct ts_http_header headers[] = {
        {(char *)"Content-Type", (char *)"application/x-amz-json-1.1"},
        {(char *)"Host", (char *)"localhost"},
        {(char *)"X-Amz-Date", stamp},
        {(char *)"X-Amz-Target", target},
        {(char *)"User-Agent", ua},
        {(char *)"Authorization", auth},
    };
    struct ts_http_request req = {
        .method = "POST",
        .uri = "/",
        .path = "/",
        .query = "",
        .headers = headers,
        .n_headers = TS_ARRAY_LEN(headers) - 1, /* Authorization is added once signed */
        .body = (const uint8_t *)body,
        .body_len = strlen(body),
        .remote_addr = "127.0.0.1",
    };
    int rc = sign(&req, stamp, p->t->region, topo_services[svc].signing_name, p->key, auth,
                  sizeof(auth));
    if (rc) {
        cJSON_free(body);
        return rc;
    }
    req.n_headers = TS_ARRAY_LEN(headers);
    struct ts_http_response resp;
    ts_http_response_init(&resp, TOPO_RESPONSE_MAX);
    ts_aws_router_handle(p->router, &req, &resp);
    cJSON_free(body);
    p->status = resp.status;
    p->out = resp.body.len ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
    if (p->status != 200) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p->out, "__type");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(p->out, "message");
        if (!cJSON_IsString(msg)) {
            msg = cJSON_GetObjectItemCaseSensitive(p->out, "Message");
        }
        const char *code = cJSON_IsString(type) ? type->valuestring : "InternalFailure";
        const char *hash = strrchr(code, '#');
        ts_strlcpy(p->code, hash ? hash + 1 : code, sizeof(p->code));
        ts_strlcpy(p->message, cJSON_IsString(msg) ? msg->valuestring : "", sizeof(p->message));
    }
    ts_http_response_free(&resp);
    return 0;
}

/* Sets the item the next steps provision. */
static void item(struct prov *p, int line, const char *list, const char *what, const char *name)
{
    p->line = line;
    p->list = list;
    p->what = what;
    p->name = name;
}

/* Fails the run: "FILE:LINE: topology.<list>: <what> '<name>' of account <acct> (<region>): ..."
 * with the line of the current item. */
__attribute__((format(printf, 2, 3))) static int fail(struct prov *p, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_len, "%s:%d: topology.%s: %s '%s' of account %s (%s): %s",
             p->cfg->path, p->line, p->list, p->what, p->name, p->t->account, p->t->region,
             msg);
    return TS_EINVAL;
}

/* Makes a call for the current item and turns anything but success (or exists_code, the
 * "already exists" answer of a create, when given) into the run's error. A successful write
 * (write = true) counts as a change. */
static int run(struct prov *p, enum topo_service svc, const char *op, cJSON *input,
               const char *exists_code, bool write)
{
    int rc = call(p, svc, op, input);
    if (rc) {
        return fail(p, "%s could not be called: %s", op, ts_strerror(rc));
    }
    if (p->status == 200) {
        p->counts->changes += write;
        return 0;
    }
    if (exists_code && strcmp(p->code, exists_code) == 0) {
        return 0;
    }
    return fail(p, "%s failed: %s: %s", op, p->code, p->message);
}

static int write_op(struct prov *p, enum topo_service svc, const char *op, cJSON *input,
                    const char *exists_code)
{
    return run(p, svc, op, input, exists_code, true);
}

static int read_op(struct prov *p, enum topo_service svc, const char *op, cJSON *input)
{
    return run(p, svc, op, input, NULL, false);
}

/* A JSON object from alternating member names and string values (NULL values are skipped),
 * ending with a NULL name. */
static cJSON *object(const char *name, ...)
{
    cJSON *o = cJSON_CreateObject();
    va_list ap;
    va_start(ap, name);
    for (const char *k = name; o && k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (v && !cJSON_AddStringToObject(o, k, v)) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    va_end(ap);
    return o;
}

static bool member_is(const cJSON *o, const char *name, const char *value)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && strcmp(v->valuestring, value) == 0;
}

/* The element of array `list` in the last response whose `key` member equals name, or NULL. */
static const cJSON *find_in(const struct prov *p, const char *list, const char *key,
                            const char *name)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p->out, list);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (member_is(e, key, name)) {
            return e;
        }
    }
    return NULL;
}

static int provision_stream(struct prov *p, const struct ts_config_topo_stream *s)
{
    item(p, s->line, "kinesis_streams", "stream", s->name);
    cJSON *in = object("StreamName", s->name, NULL);
    if (!in || !cJSON_AddNumberToObject(in, "ShardCount", (double)s->shards)) {
        cJSON_Delete(in);
        return TS_ENOMEM;
    }
    /* An existing stream is kept as it is (its shards carry data): ResourceInUseException. */
    return write_op(p, SVC_KINESIS, "CreateStream", in, "ResourceInUseException");
}

/* The destination's access policy: the listed accounts may subscribe to it. The text is
 * deterministic, so an unchanged policy is recognised and not put again. */
static int destination_policy(const struct prov *p, const struct ts_config_topo_destination *d,
                              struct ts_buf *out)
{
    int rc = ts_buf_adds(out, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
                              "\"trailstream-topology\",\"Effect\":\"Allow\",\"Principal\":"
                              "{\"AWS\":[");
    for (size_t i = 0; !rc && i < d->n_allow_accounts; i++) {
        rc = ts_buf_addf(out, "%s\"%s\"", i ? "," : "", d->allow_accounts[i]);
    }
    if (!rc) {
        rc = ts_buf_addf(out, "]},\"Action\":\"logs:PutSubscriptionFilter\",\"Resource\":"
                              "\"arn:aws:logs:%s:%s:destination:%s\"}]}",
                         p->t->region, p->t->account, d->name);
    }
    return rc;
}

static int provision_destination(struct prov *p, const struct ts_config_topo_destination *d)
{
    item(p, d->line, "destinations", "destination", d->name);
    char target[512], role[300];
    snprintf(target, sizeof(target), "arn:aws:kinesis:%s:%s:stream/%s", p->t->region,
             p->t->account, d->target_stream);
    if (d->role_arn[0]) {
        ts_strlcpy(role, d->role_arn, sizeof(role));
    } else {
        snprintf(role, sizeof(role), "arn:aws:iam::%s:role/CWLtoKinesisRole", p->t->account);
    }
    int rc = read_op(p, SVC_LOGS, "DescribeDestinations",
                     object("DestinationNamePrefix", d->name, NULL));
    if (rc) {
        return rc;
    }
    const cJSON *cur = find_in(p, "destinations", "destinationName", d->name);
    bool same = cur && member_is(cur, "targetArn", target) && member_is(cur, "roleArn", role);
    struct ts_buf policy;
    ts_buf_init(&policy, 5120);
    bool want_policy = d->n_allow_accounts > 0;
    if (want_policy && destination_policy(p, d, &policy) != 0) {
        ts_buf_free(&policy);
        return fail(p, "allow_accounts make an access policy over 5120 bytes");
    }
    bool same_policy = !want_policy || (cur && member_is(cur, "accessPolicy", policy.data));
    /* Upserts: PutDestination would put a new CONTROL_MESSAGE into the stream, so an
     * unchanged destination is not put again. */
    if (!same) {
        rc = write_op(p, SVC_LOGS, "PutDestination",
                      object("destinationName", d->name, "targetArn", target, "roleArn", role,
                             NULL),
                      NULL);
    }
    if (!rc && !same_policy) {
        rc = write_op(p, SVC_LOGS, "PutDestinationPolicy",
                      object("destinationName", d->name, "accessPolicy", policy.data, NULL),
                      NULL);
    }
    ts_buf_free(&policy);
    return rc;
}

static int provision_log_group(struct prov *p, const struct ts_config_topo_log_group *g)
{
    item(p, g->line, "log_groups", "log group", g->name);
    return write_op(p, SVC_LOGS, "CreateLogGroup", object("logGroupName", g->name, NULL),
                    "ResourceAlreadyExistsException");
}

static int provision_trail(struct prov *p, const struct ts_config_topo_trail *tr)
{
    item(p, tr->line, "trails", "trail", tr->name);
    char group[600] = "", role[300] = "", bucket[64];
    const struct ts_config_topology *t = p->t;
    if (tr->log_group[0]) {
        snprintf(group, sizeof(group), "arn:aws:logs:%s:%s:log-group:%s:*", t->region,
                 t->account, tr->log_group);
        if (tr->role_arn[0]) {
            ts_strlcpy(role, tr->role_arn, sizeof(role));
        } else {
            snprintf(role, sizeof(role), "arn:aws:iam::%s:role/CloudTrail_CloudWatchLogs_Role",
                     t->account);
        }
    }
    if (tr->s3_bucket[0]) {
        ts_strlcpy(bucket, tr->s3_bucket, sizeof(bucket));
    } else {
        snprintf(bucket, sizeof(bucket), "trailstream-%s", t->account);
    }
    cJSON *in = object("Name", tr->name, "S3BucketName", bucket, "CloudWatchLogsLogGroupArn",
                       tr->log_group[0] ? group : NULL, "CloudWatchLogsRoleArn",
                       tr->log_group[0] ? role : NULL, NULL);
    /* An existing trail is kept as it is. */
    return write_op(p, SVC_CLOUDTRAIL, "CreateTrail", in, "TrailAlreadyExistsException");
}

static int provision_start_logging(struct prov *p, const struct ts_config_topo_trail *tr)
{
    item(p, tr->line, "trails", "trail", tr->name);
    if (!tr->start_logging) {
        return 0;
    }
    int rc = read_op(p, SVC_CLOUDTRAIL, "GetTrailStatus", object("Name", tr->name, NULL));
    if (rc) {
        return rc;
    }
    /* StartLogging on a logging trail would begin a new logging period: only when stopped. */
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p->out, "IsLogging"))) {
        return 0;
    }
    return write_op(p, SVC_CLOUDTRAIL, "StartLogging", object("Name", tr->name, NULL), NULL);
}

static int provision_filter(struct prov *p, const struct ts_config_topo_filter *f)
{
    item(p, f->line, "subscription_filters", "subscription filter", f->name);
    int rc = read_op(p, SVC_LOGS, "DescribeSubscriptionFilters",
                     object("logGroupName", f->log_group, "filterNamePrefix", f->name, NULL));
    if (rc) {
        return rc;
    }
    const cJSON *cur = find_in(p, "subscriptionFilters", "filterName", f->name);
    /* PutSubscriptionFilter would put a new CONTROL_MESSAGE into the target stream, so an
     * unchanged filter is not put again. */
    if (cur && member_is(cur, "filterPattern", f->pattern) &&
        member_is(cur, "destinationArn", f->destination) &&
        (!f->role_arn[0] || member_is(cur, "roleArn", f->role_arn)) &&
        (!f->distribution[0] || member_is(cur, "distribution", f->distribution))) {
        return 0;
    }
    cJSON *in = object("logGroupName", f->log_group, "filterName", f->name, "filterPattern",
                       f->pattern, "destinationArn", f->destination, "roleArn",
                       f->role_arn[0] ? f->role_arn : NULL, "distribution",
                       f->distribution[0] ? f->distribution : NULL, NULL);
    return write_op(p, SVC_LOGS, "PutSubscriptionFilter", in, NULL);
}

int ts_topology_provision(const struct ts_config *c, struct ts_aws_router *router,
                          struct ts_topology_counts *counts, char *err, size_t err_len)
{
    memset(counts, 0, sizeof(*counts));
    struct prov p = {.cfg = c, .router = router, .counts = counts, .err = err,
                     .err_len = err_len};
    int rc = 0;
    /* Phase by phase across all entries: a source account's filter needs the security
     * account's destination, which needs its stream, whatever order the entries are in. */
    for (int phase = 0; phase < 6 && !rc; phase++) {
        for (size_t i = 0; i < c->n_topology && !rc; i++) {
            const struct ts_config_topology *t = &c->topology[i];
            p.t = t;
            p.key = account_key(c, t->account);
            if (!p.key) {
                snprintf(err, err_len, "%s:%d: topology.account: account %s has no access key",
                         c->path, t->line, t->account);
                rc = TS_EINVAL;
                break;
            }
            switch (phase) {
            case 0:
                for (size_t k = 0; k < t->n_streams && !rc; k++) {
                    rc = provision_stream(&p, &t->streams[k]);
                }
                counts->streams += t->n_streams;
                break;
            case 1:
                for (size_t k = 0; k < t->n_destinations && !rc; k++) {
                    rc = provision_destination(&p, &t->destinations[k]);
                }
                counts->destinations += t->n_destinations;
                break;
            case 2:
                for (size_t k = 0; k < t->n_log_groups && !rc; k++) {
                    rc = provision_log_group(&p, &t->log_groups[k]);
                }
                counts->log_groups += t->n_log_groups;
                break;
            case 3:
                for (size_t k = 0; k < t->n_trails && !rc; k++) {
                    rc = provision_trail(&p, &t->trails[k]);
                }
                counts->trails += t->n_trails;
                break;
            case 4:
                for (size_t k = 0; k < t->n_trails && !rc; k++) {
                    rc = provision_start_logging(&p, &t->trails[k]);
                }
                break;
            default:
                for (size_t k = 0; k < t->n_filters && !rc; k++) {
                    rc = provision_filter(&p, &t->filters[k]);
                }
                counts->filters += t->n_filters;
                break;
            }
        }
    }
    cJSON_Delete(p.out);
    return rc;
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void ts_topology_summary(const struct ts_topology_counts *n, char *out, size_t len)
{
    char changes[48] = "no changes";
    if (n->changes) {
        snprintf(changes, sizeof(changes), "%zu %s", n->changes,
                 plural(n->changes, "change", "changes"));
    }
    snprintf(out, len, "topology: %zu %s, %zu %s, %zu %s, %zu %s, %zu %s ready (%s)", n->streams,
             plural(n->streams, "stream", "streams"), n->destinations,
             plural(n->destinations, "destination", "destinations"), n->log_groups,
             plural(n->log_groups, "log group", "log groups"), n->trails,
             plural(n->trails, "trail", "trails"), n->filters,
             plural(n->filters, "subscription filter", "subscription filters"), changes);
}
