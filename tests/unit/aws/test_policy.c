/* test_policy.c - resource policy parsing and evaluation (Logs destination policies). */
#include <string.h>

#include "trailstream/ts_aws.h"
#include "ts_test.h"

#define DEST "arn:aws:logs:us-east-1:111111111111:destination:secDest"
#define PSF "logs:PutSubscriptionFilter"
#define SRC_ROOT "arn:aws:iam::222222222222:root"
#define SRC_USER "arn:aws:iam::222222222222:user/developer"

static struct ts_policy *parse_ok(const char *doc)
{
    struct ts_policy *p = NULL;
    char err[TS_POLICY_ERR_LEN];
    int rc = ts_policy_parse(doc, strlen(doc), &p, err, sizeof(err));
    TEST_CHECK_(rc == 0, "parse failed: %s", err);
    return p;
}

static enum ts_policy_decision eval(const struct ts_policy *p, const char *acct, const char *arn,
                                    const char *action, const char *res)
{
    return ts_policy_evaluate(p, acct, arn, action, res);
}

static void test_allow_by_account_id(void)
{
    /* The documented account-list shape, with a string and with a list of accounts. */
    struct ts_policy *p = parse_ok(
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"\",\"Effect\":\"Allow\","
        "\"Principal\":{\"AWS\":\"222222222222\"},\"Action\":\"logs:PutSubscriptionFilter\","
        "\"Resource\":\"" DEST "\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "222222222222", SRC_USER, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "333333333333", "arn:aws:iam::333333333333:root", PSF, DEST) ==
               TS_POLICY_IMPLICIT_DENY);
    /* Action is case-insensitive, resource is not. */
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, "LOGS:putsubscriptionfilter", DEST) ==
               TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF,
                    "arn:aws:logs:us-east-1:111111111111:destination:SECDEST") ==
               TS_POLICY_IMPLICIT_DENY);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, "logs:PutDestination", DEST) ==
               TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);

    p = parse_ok("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"222222222222\","
                 "\"333333333333\"]},\"Action\":[\"logs:PutSubscriptionFilter\"],"
                 "\"Resource\":[\"" DEST "\"]}}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "333333333333", NULL, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "444444444444", NULL, PSF, DEST) == TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);
}

static void test_allow_by_arn(void)
{
    /* The root ARN stands for the whole account; a user ARN for that user only. */
    struct ts_policy *p = parse_ok(
        "{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"AWS\":\"" SRC_ROOT "\"},\"Action\":\"logs:*\",\"Resource\":\"" DEST "\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_USER, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "333333333333", NULL, PSF, DEST) == TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);

    p = parse_ok("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" SRC_USER
                 "\"},\"Action\":\"logs:PutSubscriptionFilter\",\"Resource\":\"*\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_USER, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_IMPLICIT_DENY);
    TEST_CHECK(eval(p, "222222222222", "arn:aws:iam::222222222222:user/other", PSF, DEST) ==
               TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);

    /* Service principals match the service name passed as the caller ARN. */
    p = parse_ok("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
                 "\"cloudtrail.amazonaws.com\"},\"Action\":\"s3:PutObject\","
                 "\"Resource\":\"arn:aws:s3:::bucket/*\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "", "cloudtrail.amazonaws.com", "s3:PutObject",
                    "arn:aws:s3:::bucket/AWSLogs/x") == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, "s3:PutObject", "arn:aws:s3:::bucket/x") ==
               TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);
}

static void test_star_principal_and_wildcards(void)
{
    struct ts_policy *p = parse_ok(
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"logs:Put?ubscr*\","
        "\"Resource\":\"arn:aws:logs:*:111111111111:destination:sec*\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "999999999999", NULL, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "999999999999", NULL, PSF,
                    "arn:aws:logs:us-east-1:111111111111:destination:other") ==
               TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);
    p = parse_ok("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},"
                 "\"Action\":\"*\",\"Resource\":\"*\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "999999999999", NULL, "kinesis:PutRecord", DEST) == TS_POLICY_ALLOW);
    ts_policy_destroy(p);

    TEST_CHECK(ts_policy_wildcard_match("a*b*c", "aXXbYYc", false));
    TEST_CHECK(ts_policy_wildcard_match("a*b*c", "abc", false));
    TEST_CHECK(!ts_policy_wildcard_match("a*b*c", "abcd", false));
    TEST_CHECK(ts_policy_wildcard_match("*", "", false));
    TEST_CHECK(!ts_policy_wildcard_match("?", "", false));
    TEST_CHECK(ts_policy_wildcard_match("***x", "aaax", false));
    TEST_CHECK(ts_policy_wildcard_match("LoGs:*", "logs:Put", true));
    TEST_CHECK(!ts_policy_wildcard_match("LoGs:*", "logs:Put", false));
}

static void test_deny_overrides_allow(void)
{
    struct ts_policy *p = parse_ok(
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"logs:*\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"333333333333\"},"
        "\"Action\":\"logs:PutSubscriptionFilter\",\"Resource\":\"" DEST "\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_ALLOW);
    TEST_CHECK(eval(p, "333333333333", "arn:aws:iam::333333333333:root", PSF, DEST) ==
               TS_POLICY_DENY);
    /* The order of the statements does not matter. */
    ts_policy_destroy(p);
    p = parse_ok("{\"Statement\":["
                 "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"},"
                 "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"222222222222\"},"
                 "\"Action\":\"*\",\"Resource\":\"*\"}]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_DENY);
    ts_policy_destroy(p);
    /* No statements: nothing is allowed. */
    p = parse_ok("{\"Statement\":[]}");
    TEST_ASSERT(p != NULL);
    TEST_CHECK(eval(p, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_IMPLICIT_DENY);
    ts_policy_destroy(p);
    TEST_CHECK(eval(NULL, "222222222222", SRC_ROOT, PSF, DEST) == TS_POLICY_IMPLICIT_DENY);
}

static void test_malformed_refused(void)
{
    static const struct {
        const char *doc;
        const char *fragment;
    } bad[] = {
        {"", "not valid JSON"},
        {"{\"Statement\":", "not valid JSON"},
        {"[]", "JSON object"},
        {"{}", "Statement"},
        {"{\"Version\":\"2020-01-01\",\"Statement\":[]}", "version"},
        {"{\"Statement\":[],\"Foo\":1}", "Unknown policy element"},
        {"{\"Statement\":[1]}", "not an object"},
        {"{\"Statement\":[{\"Effect\":\"allow\",\"Principal\":\"*\",\"Action\":\"*\","
         "\"Resource\":\"*\"}]}", "Effect"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "Principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"*\"}]}",
         "actions"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\"}]}",
         "resources"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"22222222222\"},"
         "\"Action\":\"*\",\"Resource\":\"*\"}]}", "Invalid principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::222:root\"},"
         "\"Action\":\"*\",\"Resource\":\"*\"}]}", "Invalid principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"222222222222\","
         "\"Action\":\"*\",\"Resource\":\"*\"}]}", "Invalid principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":\"x\"},"
         "\"Action\":\"*\",\"Resource\":\"*\"}]}", "Unsupported principal"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"PutThing\","
         "\"Resource\":\"*\"}]}", "vendor"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[],"
         "\"Resource\":\"*\"}]}", "non-empty list"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\","
         "\"Resource\":\"destination:x\"}]}", "ARN format"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\","
         "\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"aws:PrincipalOrgID\":"
         "[\"o-1234567890\"]}}}]}", "Condition is not supported"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"NotPrincipal\":\"*\",\"Action\":\"*\","
         "\"Resource\":\"*\"}]}", "NotPrincipal is not supported"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotAction\":\"*\","
         "\"Resource\":\"*\"}]}", "NotAction is not supported"},
        {"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\","
         "\"Resource\":\"*\"},{\"Effect\":\"Deny\"}]}", "Statement 2"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        struct ts_policy *p = (struct ts_policy *)&bad; /* must be left untouched */
        char err[TS_POLICY_ERR_LEN];
        int rc = ts_policy_parse(bad[i].doc, strlen(bad[i].doc), &p, err, sizeof(err));
        TEST_CHECK_(rc == TS_EPARSE, "case %zu: rc %d", i, rc);
        TEST_CHECK_(strstr(err, bad[i].fragment) != NULL, "case %zu: message '%s'", i, err);
        TEST_CHECK(p == (struct ts_policy *)&bad);
    }
    /* err may be NULL. */
    struct ts_policy *p = NULL;
    TEST_CHECK(ts_policy_parse("x", 1, &p, NULL, 0) == TS_EPARSE && p == NULL);
}

static void test_allocation_failures(void)
{
    const char *doc = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":["
                      "\"222222222222\",\"" SRC_USER "\"]},\"Action\":[\"logs:A\",\"logs:B\"],"
                      "\"Resource\":[\"" DEST "\",\"*\"]}]}";
    int ok = 0;
    for (long nth = 1; nth < 200 && !ok; nth++) {
        struct ts_policy *p = NULL;
        ts_mem_fail_after(nth);
        int rc = ts_policy_parse(doc, strlen(doc), &p, NULL, 0);
        ts_mem_fail_after(0);
        TEST_CHECK(rc == 0 || rc == TS_ENOMEM || rc == TS_EPARSE);
        if (rc == 0) {
            ok = 1;
            TEST_CHECK(eval(p, "222222222222", SRC_ROOT, "logs:b", DEST) == TS_POLICY_ALLOW);
        }
        ts_policy_destroy(p);
    }
    TEST_CHECK(ok);
}

TEST_LIST = {
    {"allow_by_account_id", test_allow_by_account_id},
    {"allow_by_arn", test_allow_by_arn},
    {"star_principal_and_wildcards", test_star_principal_and_wildcards},
    {"deny_overrides_allow", test_deny_overrides_allow},
    {"malformed_refused", test_malformed_refused},
    {"allocation_failures", test_allocation_failures},
    {NULL, NULL},
};
