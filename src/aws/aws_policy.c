/*
 * aws_policy.c - IAM-style resource policy documents: parse once, evaluate per request.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *
 * Only the single-policy part of the evaluation logic applies here: a request is allowed when
 * some Allow statement matches it and no Deny statement does. Conditions are out of scope and
 * are refused at parse time rather than ignored, because ignoring a condition would widen
 * the access the author meant to grant.
 */
#include <stdio.h>
#include <string.h>

#include "trailstream/ts_aws.h"

struct pol_principal {
    char *value;  /* a 12-digit account id (whole account) or an exact ARN / service name */
    bool account;
};

struct pol_stmt {
    bool deny;
    bool any_principal;
    struct pol_principal *principals;
    size_t n_principals;
    char **actions;
    size_t n_actions;
    char **resources;
    size_t n_resources;
};

struct ts_policy {
    struct pol_stmt *st;
    size_t n;
};

/* ------------------------------------------------------------------ matching */

bool ts_policy_wildcard_match(const char *pattern, const char *s, bool nocase)
{
    /* Iterative glob with one backtrack point: O(len(p) * len(s)) at worst, no recursion. */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        char pc = *pattern, sc = *s;
        if (nocase) {
            pc = (char)(pc >= 'A' && pc <= 'Z' ? pc + 32 : pc);
            sc = (char)(sc >= 'A' && sc <= 'Z' ? sc + 32 : sc);
        }
        if (*pattern == '*') {
            star = pattern++;
            resume = s;
        } else if (*pattern && (*pattern == '?' || pc == sc)) {
            pattern++;
            s++;
        } else if (star) {
            pattern = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*') {
        pattern++;
    }
    return *pattern == '\0';
}

static bool any_match(char *const *list, size_t n, const char *s, bool nocase)
{
    for (size_t i = 0; i < n; i++) {
        if (ts_policy_wildcard_match(list[i], s, nocase)) {
            return true;
        }
    }
    return false;
}

static bool principal_match(const struct pol_stmt *st, const char *account,
                            const char *caller_arn)
{
    if (st->any_principal) {
        return true;
    }
    for (size_t i = 0; i < st->n_principals; i++) {
        const struct pol_principal *pr = &st->principals[i];
        const char *want = pr->account ? account : caller_arn;
        if (want && strcmp(pr->value, want) == 0) {
            return true;
        }
    }
    return false;
}

enum ts_policy_decision ts_policy_evaluate(const struct ts_policy *p, const char *account,
                                           const char *caller_arn, const char *action,
                                           const char *resource)
{
    bool allowed = false;
    if (!p || !action || !resource) {
        return TS_POLICY_IMPLICIT_DENY;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct pol_stmt *st = &p->st[i];
        if (!principal_match(st, account, caller_arn) ||
            !any_match(st->actions, st->n_actions, action, true) ||
            !any_match(st->resources, st->n_resources, resource, false)) {
            continue;
        }
        if (st->deny) {
            return TS_POLICY_DENY; /* an explicit Deny overrides every Allow */
        }
        allowed = true;
    }
    return allowed ? TS_POLICY_ALLOW : TS_POLICY_IMPLICIT_DENY;
}

/* ------------------------------------------------------------------ parsing */

static void stmt_free(struct pol_stmt *st)
{
    for (size_t i = 0; i < st->n_principals; i++) {
        ts_free(st->principals[i].value);
    }
    ts_free(st->principals);
    for (size_t i = 0; i < st->n_actions; i++) {
        ts_free(st->actions[i]);
    }
    ts_free(st->actions);
    for (size_t i = 0; i < st->n_resources; i++) {
        ts_free(st->resources[i]);
    }
    ts_free(st->resources);
}

void ts_policy_destroy(struct ts_policy *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        stmt_free(&p->st[i]);
    }
    ts_free(p->st);
    ts_free(p);
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return TS_EPARSE;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Turns one "AWS" principal value into a principal entry. */
static int parse_aws_principal(const char *v, struct pol_principal *out, bool *any, char *err,
                               size_t err_len)
{
    size_t n = strlen(v);
    if (strcmp(v, "*") == 0) {
        *any = true;
        return 1; /* nothing to store */
    }
    if (n == TS_AWS_ACCOUNT_ID_LEN && all_digits(v, n)) {
        out->account = true;
        out->value = ts_strdup(v);
        return out->value ? 0 : TS_ENOMEM;
    }
    /* arn:aws:iam::<12 digits>:<root | user/... | role/...>, arn:aws:sts::<acct>:assumed-role/ */
    bool iam = ts_str_has_prefix(v, "arn:aws:iam::"), sts = ts_str_has_prefix(v, "arn:aws:sts::");
    const char *acct = v + 13;
    if ((iam || sts) && n > 13 + TS_AWS_ACCOUNT_ID_LEN + 1 &&
        all_digits(acct, TS_AWS_ACCOUNT_ID_LEN) && acct[TS_AWS_ACCOUNT_ID_LEN] == ':') {
        const char *res = acct + TS_AWS_ACCOUNT_ID_LEN + 1;
        if (iam && strcmp(res, "root") == 0) {
            out->account = true;
            out->value = ts_strndup(acct, TS_AWS_ACCOUNT_ID_LEN);
            return out->value ? 0 : TS_ENOMEM;
        }
        if ((iam && (ts_str_has_prefix(res, "user/") || ts_str_has_prefix(res, "role/"))) ||
            (sts && ts_str_has_prefix(res, "assumed-role/"))) {
            if (!strchr(res, '/')[1] || strpbrk(res, "*?")) {
                return fail(err, err_len, "Invalid principal in policy: \"AWS\":\"%.200s\"", v);
            }
            out->account = false;
            out->value = ts_strdup(v);
            return out->value ? 0 : TS_ENOMEM;
        }
    }
    return fail(err, err_len, "Invalid principal in policy: \"AWS\":\"%.200s\"", v);
}

/* Calls back for each string of a "string or list of strings" element. */
typedef int (*str_fn)(void *arg, const char *s, char *err, size_t err_len);

static int each_string(const cJSON *v, const char *what, str_fn fn, void *arg, char *err,
                       size_t err_len)
{
    if (cJSON_IsString(v)) {
        return fn(arg, v->valuestring, err, err_len);
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        return fail(err, err_len, "%s must be a string or a non-empty list of strings.", what);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e)) {
            return fail(err, err_len, "%s must be a string or a non-empty list of strings.",
                        what);
        }
        int rc = fn(arg, e->valuestring, err, err_len);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int push_string(char ***items, size_t *n, const char *s)
{
    char **grown = ts_realloc(*items, (*n + 1) * sizeof(**items));
    if (!grown) {
        return TS_ENOMEM;
    }
    *items = grown;
    grown[*n] = ts_strdup(s);
    if (!grown[*n]) {
        return TS_ENOMEM;
    }
    (*n)++;
    return 0;
}

static int add_action(void *arg, const char *s, char *err, size_t err_len)
{
    struct pol_stmt *st = arg;
    const char *colon = strchr(s, ':');
    bool ok = strcmp(s, "*") == 0;
    if (!ok && colon && colon > s && colon[1]) {
        ok = true;
        for (const char *c = s; c < colon; c++) {
            ok = ok && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                        (*c >= '0' && *c <= '9') || *c == '-');
        }
    }
    if (!ok) {
        return fail(err, err_len,
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, "
                    "etc.: \"%.200s\"",
                    s);
    }
    return push_string(&st->actions, &st->n_actions, s);
}

static int add_resource(void *arg, const char *s, char *err, size_t err_len)
{
    struct pol_stmt *st = arg;
    if (strcmp(s, "*") != 0 && !ts_str_has_prefix(s, "arn:")) {
        return fail(err, err_len, "Resource %.200s must be in ARN format or \"*\".", s);
    }
    return push_string(&st->resources, &st->n_resources, s);
}

static int push_principal(struct pol_stmt *st, struct pol_principal pr)
{
    struct pol_principal *grown =
        ts_realloc(st->principals, (st->n_principals + 1) * sizeof(*grown));
    if (!grown) {
        ts_free(pr.value);
        return TS_ENOMEM;
    }
    st->principals = grown;
    grown[st->n_principals++] = pr;
    return 0;
}

static int add_aws_principal(void *arg, const char *s, char *err, size_t err_len)
{
    struct pol_stmt *st = arg;
    struct pol_principal pr = {NULL, false};
    int rc = parse_aws_principal(s, &pr, &st->any_principal, err, err_len);
    if (rc == 1) {
        return 0;
    }
    return rc ? rc : push_principal(st, pr);
}

static int add_service_principal(void *arg, const char *s, char *err, size_t err_len)
{
    struct pol_stmt *st = arg;
    if (!s[0] || strpbrk(s, "*?:/ ")) {
        return fail(err, err_len, "Invalid principal in policy: \"Service\":\"%.200s\"", s);
    }
    struct pol_principal pr = {ts_strdup(s), false};
    return pr.value ? push_principal(st, pr) : TS_ENOMEM;
}

static int parse_principal(const cJSON *v, struct pol_stmt *st, char *err, size_t err_len)
{
    if (cJSON_IsString(v)) {
        if (strcmp(v->valuestring, "*") != 0) {
            return fail(err, err_len, "Invalid principal in policy: \"%.200s\"", v->valuestring);
        }
        st->any_principal = true;
        return 0;
    }
    if (!cJSON_IsObject(v) || !v->child) {
        return fail(err, err_len, "Principal must be \"*\" or an object such as {\"AWS\": ...}.");
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        int rc;
        if (strcmp(e->string, "AWS") == 0) {
            rc = each_string(e, "Principal.AWS", add_aws_principal, st, err, err_len);
        } else if (strcmp(e->string, "Service") == 0) {
            rc = each_string(e, "Principal.Service", add_service_principal, st, err, err_len);
        } else {
            rc = fail(err, err_len, "Unsupported principal type \"%.60s\" (supported: AWS, "
                                    "Service).", e->string);
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int parse_statement(const cJSON *s, struct pol_stmt *st, size_t idx, char *err,
                           size_t err_len)
{
    if (!cJSON_IsObject(s)) {
        return fail(err, err_len, "Statement %zu is not an object.", idx + 1);
    }
    const cJSON *effect = NULL, *principal = NULL, *action = NULL, *resource = NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, s)
    {
        const char *k = e->string;
        if (strcmp(k, "Sid") == 0) {
            if (!cJSON_IsString(e)) {
                return fail(err, err_len, "Statement %zu: Sid must be a string.", idx + 1);
            }
        } else if (strcmp(k, "Effect") == 0) {
            effect = e;
        } else if (strcmp(k, "Principal") == 0) {
            principal = e;
        } else if (strcmp(k, "Action") == 0) {
            action = e;
        } else if (strcmp(k, "Resource") == 0) {
            resource = e;
        } else if (strcmp(k, "Condition") == 0) {
            return fail(err, err_len, "Statement %zu: Condition is not supported (conditions "
                                      "such as aws:PrincipalOrgID are out of scope).", idx + 1);
        } else if (strcmp(k, "NotAction") == 0 || strcmp(k, "NotPrincipal") == 0 ||
                   strcmp(k, "NotResource") == 0) {
            return fail(err, err_len, "Statement %zu: %s is not supported.", idx + 1, k);
        } else {
            return fail(err, err_len, "Statement %zu: unknown element \"%.60s\".", idx + 1, k);
        }
    }
    if (!cJSON_IsString(effect) || (strcmp(effect->valuestring, "Allow") != 0 &&
                                    strcmp(effect->valuestring, "Deny") != 0)) {
        return fail(err, err_len, "Statement %zu: Effect must be \"Allow\" or \"Deny\".",
                    idx + 1);
    }
    st->deny = strcmp(effect->valuestring, "Deny") == 0;
    if (!principal) {
        return fail(err, err_len, "Statement %zu: a resource policy statement must contain a "
                                  "Principal.", idx + 1);
    }
    if (!action) {
        return fail(err, err_len, "Policy statement must contain actions.");
    }
    if (!resource) {
        return fail(err, err_len, "Policy statement must contain resources.");
    }
    int rc = parse_principal(principal, st, err, err_len);
    if (!rc) {
        rc = each_string(action, "Action", add_action, st, err, err_len);
    }
    if (!rc) {
        rc = each_string(resource, "Resource", add_resource, st, err, err_len);
    }
    return rc;
}

int ts_policy_parse(const char *json, size_t len, struct ts_policy **out, char *err,
                    size_t err_len)
{
    if (err && err_len) {
        err[0] = '\0';
    }
    cJSON *doc = cJSON_ParseWithLength(json, len);
    if (!doc) {
        return fail(err, err_len, "The policy is not valid JSON.");
    }
    int rc = 0;
    struct ts_policy *p = NULL;
    const cJSON *stmts = NULL;
    if (!cJSON_IsObject(doc)) {
        rc = fail(err, err_len, "The policy must be a JSON object.");
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
    {
        if (strcmp(e->string, "Version") == 0) {
            if (!cJSON_IsString(e) || (strcmp(e->valuestring, "2012-10-17") != 0 &&
                                       strcmp(e->valuestring, "2008-10-17") != 0)) {
                rc = fail(err, err_len, "The policy must contain a valid version string "
                                        "(\"2012-10-17\" or \"2008-10-17\").");
                goto out;
            }
        } else if (strcmp(e->string, "Id") == 0) {
            if (!cJSON_IsString(e)) {
                rc = fail(err, err_len, "Id must be a string.");
                goto out;
            }
        } else if (strcmp(e->string, "Statement") == 0) {
            stmts = e;
        } else {
            rc = fail(err, err_len, "Unknown policy element \"%.60s\".", e->string);
            goto out;
        }
    }
    if (!stmts || (!cJSON_IsObject(stmts) && !cJSON_IsArray(stmts))) {
        rc = fail(err, err_len, "The policy must contain a Statement (an object or a list).");
        goto out;
    }
    p = ts_calloc(1, sizeof(*p));
    size_t n = cJSON_IsObject(stmts) ? 1 : (size_t)cJSON_GetArraySize(stmts);
    if (!p || (n && !(p->st = ts_calloc(n, sizeof(*p->st))))) {
        rc = TS_ENOMEM;
        goto out;
    }
    if (cJSON_IsObject(stmts)) {
        p->n = 1;
        rc = parse_statement(stmts, &p->st[0], 0, err, err_len);
    } else {
        cJSON_ArrayForEach(e, stmts)
        {
            rc = parse_statement(e, &p->st[p->n], p->n, err, err_len);
            p->n++;
            if (rc) {
                break;
            }
        }
    }
out:
    cJSON_Delete(doc);
    if (rc) {
        ts_policy_destroy(p);
        if (rc == TS_ENOMEM) {
            fail(err, err_len, "Out of memory.");
        }
        return rc;
    }
    *out = p;
    return 0;
}
