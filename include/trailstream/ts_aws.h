/*
 * ts_aws.h - the AWS protocol layer: accounts and principals, SigV4 verification, routing of
 * a request to its service and operation by protocol, and every AWS-visible error envelope.
 *
 * Services register a `struct ts_aws_service` (a table of operations); an operation is a
 * function from a parsed request to a response or an error, with no HTTP in sight.
 *
 * Protocols: https://smithy.io/2.0/aws/protocols/index.html
 * SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
#ifndef TS_AWS_H
#define TS_AWS_H

#include <cjson/cJSON.h>

#include "trailstream/ts_core.h"
#include "trailstream/ts_http.h"

enum ts_aws_protocol {
    TS_AWS_JSON,      /* awsJson1.0 / 1.1: POST /, X-Amz-Target: <prefix>.<Op> */
    TS_AWS_REST_JSON, /* operation chosen by method + path */
    TS_AWS_QUERY,     /* Action=<Op>&Version=..., XML responses */
    TS_AWS_REST_XML,  /* S3 */
};

/* ---------------------------------------------------------------- errors */

/* An AWS-visible error. Services fill it through ts_aws_fail; the router renders it in the
 * envelope of the request's protocol. */
struct ts_aws_error {
    char code[64];
    char message[1024];
    int status; /* HTTP status; 0 = take it from the code table */
};

/* Sets code and message (printf-style) and returns TS_EINVAL so handlers can write
 * `return ts_aws_fail(err, "ValidationException", "...")`. The code must be in the table of
 * src/aws/aws_error.c (unknown codes render with status 400). */
int ts_aws_fail(struct ts_aws_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Generic failures whose code differs by protocol (JSON name, query name, S3 name). */
enum ts_aws_generic {
    TS_AWS_E_MISSING_AUTH,
    TS_AWS_E_INCOMPLETE_SIGNATURE,
    TS_AWS_E_SIGNATURE_MISMATCH,
    TS_AWS_E_UNKNOWN_KEY,
    TS_AWS_E_SKEWED,
    TS_AWS_E_PRESIGN_EXPIRED,
    TS_AWS_E_UNKNOWN_OPERATION,
    TS_AWS_E_SERIALIZATION,
    TS_AWS_E_VALIDATION,
    TS_AWS_E_TOO_LARGE,
    TS_AWS_E_INTERNAL,
    TS_AWS_E_UNAVAILABLE,
    TS_AWS_E_CONTENT_SHA256_MISMATCH,
};
int ts_aws_fail_generic(struct ts_aws_error *err, enum ts_aws_protocol proto,
                        enum ts_aws_generic kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* HTTP status of a code in the table (400 when unknown). */
int ts_aws_error_status(const char *code);

/* ---------------------------------------------------------------- accounts */

#define TS_AWS_ACCOUNT_ID_LEN 12
#define TS_AWS_ARN_MAX 256
#define TS_AWS_NAME_MAX 128
#define TS_AWS_KEY_ID_MAX 128

/* The verified caller of a request. */
struct ts_aws_caller {
    char account[TS_AWS_ACCOUNT_ID_LEN + 1];
    char arn[TS_AWS_ARN_MAX];          /* arn:aws:iam::<acct>:root or ...:user/<name> */
    char user_id[64];                  /* AIDA... for users, the account id for root */
    char access_key[TS_AWS_KEY_ID_MAX];
    char user_name[TS_AWS_NAME_MAX];   /* "" for root */
    bool root;
};

struct ts_aws_accounts;

struct ts_aws_accounts *ts_aws_accounts_create(void);
void ts_aws_accounts_destroy(struct ts_aws_accounts *a);
/* Adds an account; id must be 12 digits and new. Returns 0, TS_EINVAL, TS_EEXIST, TS_ENOMEM. */
int ts_aws_accounts_add(struct ts_aws_accounts *a, const char *id, const char *name);
/* Adds an IAM user to an existing account. */
int ts_aws_accounts_add_user(struct ts_aws_accounts *a, const char *account, const char *user);
/* Adds an access key for a user, or for the account root when user is NULL. Key ids are
 * unique across all accounts (TS_EEXIST otherwise). The secret is copied and never logged. */
int ts_aws_accounts_add_key(struct ts_aws_accounts *a, const char *account, const char *user,
                            const char *key_id, const char *secret);
/* Looks up a key: fills caller (without access_key) and copies the secret into secret_out.
 * Returns 0 or TS_ENOTFOUND. Read-only after start-up, so any thread. */
int ts_aws_accounts_lookup(const struct ts_aws_accounts *a, const char *key_id,
                           struct ts_aws_caller *caller, char *secret_out, size_t secret_len);
bool ts_aws_accounts_exists(const struct ts_aws_accounts *a, const char *account);
/* Name of an account ("" when unnamed), or NULL if it does not exist. */
const char *ts_aws_accounts_name(const struct ts_aws_accounts *a, const char *account);
size_t ts_aws_accounts_count(const struct ts_aws_accounts *a);
/* The id of account number i (0 <= i < count, in the order added), or NULL past the end; for
 * iterating every account's documents. Read-only after start-up, so any thread. */
const char *ts_aws_accounts_id_at(const struct ts_aws_accounts *a, size_t i);

/* ---------------------------------------------------------------- SigV4 */

#define TS_SIGV4_MAX_SKEW_MS (15 * 60 * 1000)
#define TS_SIGV4_MAX_PRESIGN_EXPIRES 604800

/* What the credential scope says, available before verification (used for routing). */
struct ts_sigv4_scope {
    char key_id[TS_AWS_KEY_ID_MAX];
    char date8[9];
    char region[32];
    char service[32];
    bool presigned;
};

/* Extracts the credential scope from the Authorization header or X-Amz-Credential query
 * parameter. Returns 0, TS_ENOENT when the request carries no SigV4 credentials at all, or
 * TS_EINVAL when they are malformed. */
int ts_sigv4_peek_scope(const struct ts_http_request *req, struct ts_sigv4_scope *scope);

struct ts_sigv4_opts {
    const char *service;  /* signing name the request must be scoped to */
    bool s3;              /* S3 rules: raw path, UNSIGNED-PAYLOAD for presigned, S3 errors */
    enum ts_aws_protocol protocol; /* for the error codes */
    int64_t now_ms;
    int64_t max_skew_ms;  /* 0 = TS_SIGV4_MAX_SKEW_MS */
};

/* Verifies the request's SigV4 signature (header or presigned form). On success fills caller
 * and region and returns 0; otherwise fills err (the documented AWS code and message) and
 * returns a negative code. Any thread. */
int ts_sigv4_verify(const struct ts_http_request *req, const struct ts_aws_accounts *accounts,
                    const struct ts_sigv4_opts *opts, struct ts_aws_caller *caller,
                    char region_out[32], struct ts_aws_error *err);

/* Builds the canonical request for the given signed-header list and payload hash, exactly as
 * botocore does (exposed for tests and the fuzzer). */
int ts_sigv4_canonical_request(const struct ts_http_request *req, const char *signed_headers,
                               const char *payload_hash, bool s3, bool presigned,
                               struct ts_buf *out);
/* Derives the signing key (kSigning) for secret/date8/region/service. */
void ts_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, uint8_t out[TS_SHA256_LEN]);

/* ---------------------------------------------------------------- opaque tokens */

/* Seals `data` into an opaque pagination token: base64url(data || HMAC-SHA256(key, data)[:16]).
 * Returns 0 or a buffer error. */
int ts_aws_token_seal(const uint8_t key[32], const void *data, size_t len, struct ts_buf *out);
/* Opens a token made by ts_aws_token_seal with the same key into out. Returns 0, or TS_EINVAL
 * for anything malformed or tampered with (compared in constant time). */
int ts_aws_token_open(const uint8_t key[32], const char *token, struct ts_buf *out);

/* ---------------------------------------------------------------- services and routing */

/* Decoded query-protocol parameters (name/value pairs, in request order). */
struct ts_aws_param {
    char *name;
    char *value;
};

struct ts_aws_req {
    const struct ts_http_request *http;
    const struct ts_aws_service *service;
    const struct ts_aws_op *op;
    enum ts_aws_protocol protocol;
    struct ts_aws_caller caller;
    char region[32];
    char request_id[37];
    int64_t now_ms;
    cJSON *input;                     /* JSON protocols: the request body object */
    const struct ts_aws_param *params; /* query protocol */
    size_t n_params;
    /* For the completion hook (CloudTrail): the operation's response object (JSON protocols;
     * NULL when none or pre-rendered), and whether SigV4 refused the call (then caller is the
     * access key's owner, region the scope's, and op set when the target named one). */
    const cJSON *output;
    bool auth_failed;
};

struct ts_aws_resp {
    cJSON *output;      /* JSON protocols: response object (owned; NULL renders "{}") */
    struct ts_buf json; /* JSON protocols: a pre-rendered response body, sent as is (moved, not
                           copied) when output is NULL and json.len > 0; for hot paths
                           (GetRecords) that render large bodies without building a tree */
    struct ts_buf xml;  /* query protocol: the inner XML of <OpResult> */
    int status;         /* 0 = 200 */
};

/* Value of a query-protocol parameter, or NULL. */
const char *ts_aws_param(const struct ts_aws_req *req, const char *name);

typedef int (*ts_aws_op_fn)(void *svc_ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                            struct ts_aws_error *err);

struct ts_aws_op {
    const char *name;
    ts_aws_op_fn fn;
    const char *const *required; /* NULL-terminated list of required top-level members */
    bool raw_body;               /* JSON protocols: the router checks UTF-8 only and leaves
                                    req->input NULL; the operation parses req->http->body
                                    itself (hot paths that must not build a DOM) */
};

struct ts_cbor_schema;

/* rest-json: an operation chosen by method and exact path (the query string is the
 * operation's to read), for services whose signing name matches the SigV4 scope. */
struct ts_aws_route {
    const char *method;
    const char *path;
    const char *op;
};

struct ts_aws_service {
    const char *name;            /* short name used in metrics ("sts", "logs") */
    const char *signing_name;    /* SigV4 service name */
    enum ts_aws_protocol protocol;
    const char *target_prefix;   /* JSON: X-Amz-Target prefix, e.g. "Logs_20140328" */
    const char *content_type;    /* JSON: "application/x-amz-json-1.1" */
    const char *api_version;     /* query: the Version parameter */
    const char *xmlns;           /* query: response namespace */
    const char *validation_code; /* code for a missing required member */
    const struct ts_cbor_schema *cbor; /* JSON: also speak application/x-amz-cbor-1.1 (ts_cbor.h)
                                          with these blob/timestamp members; NULL = JSON only */
    const struct ts_aws_op *ops;
    size_t n_ops;
    void *ctx;
    const struct ts_aws_route *routes; /* rest-json: method + path -> operation */
    size_t n_routes;
};

/* Called after every operation of a known caller completes (for the audit trail): after
 * authenticated ones and after those SigV4 refused when the access key exists (auth_failed). */
typedef void (*ts_aws_complete_fn)(void *ctx, const struct ts_aws_req *req, int status,
                                   const struct ts_aws_error *err);

struct ts_aws_router;

struct ts_aws_router *ts_aws_router_create(const struct ts_aws_accounts *accounts,
                                           const struct ts_clock *clock);
void ts_aws_router_destroy(struct ts_aws_router *r);
/* Registers a service (borrowed; must outlive the router). Returns 0, TS_EEXIST or
 * TS_ETOOBIG. Only before serving starts. */
int ts_aws_router_add_service(struct ts_aws_router *r, const struct ts_aws_service *svc);
void ts_aws_router_on_complete(struct ts_aws_router *r, ts_aws_complete_fn fn, void *ctx);
/* Handles one HTTP request end to end: route, verify, parse, call the operation, render the
 * response or error. Thread-safe once services are registered. */
void ts_aws_router_handle(struct ts_aws_router *r, const struct ts_http_request *req,
                          struct ts_http_response *resp);

/* ---------------------------------------------------------------- resource policies */

/* IAM-style resource policies (Logs destination access policies; later bucket and stream
 * policies): a document is parsed once into an immutable compiled form and evaluated per
 * request. Supported grammar (anything else is refused at parse time with a message naming
 * it): Version "2012-10-17" or "2008-10-17" (optional), Id, Statement (object or array) of
 * {Sid, Effect "Allow"|"Deny", Principal "*" | {"AWS": id|arn|"*" or a list of them,
 * "Service": name or list}, Action and Resource (string or list, "*" and "?" wildcards)}.
 * Condition, NotAction, NotPrincipal and NotResource are refused as unsupported.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html */

#define TS_POLICY_ERR_LEN 256

enum ts_policy_decision {
    TS_POLICY_IMPLICIT_DENY = 0, /* no statement applies */
    TS_POLICY_ALLOW,             /* an Allow applies and no Deny does */
    TS_POLICY_DENY,              /* an explicit Deny applies (it always wins) */
};

struct ts_policy;

/* Parses len bytes of a policy document. Returns 0 and a new policy in *out (the caller owns
 * it: ts_policy_destroy), TS_EPARSE with a human-readable reason in err (err may be NULL) when
 * the document is malformed or uses an unsupported element, or TS_ENOMEM. Any thread. */
int ts_policy_parse(const char *json, size_t len, struct ts_policy **out, char *err,
                    size_t err_len);
/* NULL-safe. */
void ts_policy_destroy(struct ts_policy *p);
/* Decides whether the caller (its 12-digit account and its ARN, "arn:aws:iam::<acct>:root"
 * for the root, or a service principal name such as "cloudtrail.amazonaws.com") may perform
 * `action` ("logs:PutSubscriptionFilter"; matched case-insensitively) on `resource` (an ARN,
 * matched case-sensitively). A principal given as an account id or an account's root ARN
 * matches every caller of that account; any other IAM ARN matches that caller only. Explicit
 * Deny wins over Allow. Never allocates; any thread on a shared policy. */
enum ts_policy_decision ts_policy_evaluate(const struct ts_policy *p, const char *account,
                                           const char *caller_arn, const char *action,
                                           const char *resource);
/* IAM wildcard match of a whole string: '*' any run (also empty), '?' one character. */
bool ts_policy_wildcard_match(const char *pattern, const char *s, bool nocase);

#endif
