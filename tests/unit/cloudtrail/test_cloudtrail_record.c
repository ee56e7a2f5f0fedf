/*
 * test_cloudtrail_record.c - the CloudTrail record builder: every field AWS writes, the
 * classification of operations, and that secrets and bulk data never reach a record.
 */
#include <string.h>

#include "trailstream/ts_cloudtrail.h"
#include "ts_test.h"

static struct ts_aws_caller user_caller(void)
{
    struct ts_aws_caller c;
    memset(&c, 0, sizeof(c));
    ts_strlcpy(c.account, "222222222222", sizeof(c.account));
    ts_strlcpy(c.arn, "arn:aws:iam::222222222222:user/developer", sizeof(c.arn));
    ts_strlcpy(c.user_id, "AIDAEXAMPLEEXAMPLE1", sizeof(c.user_id));
    ts_strlcpy(c.access_key, "AKIATESTSOURCE000001", sizeof(c.access_key));
    ts_strlcpy(c.user_name, "developer", sizeof(c.user_name));
    return c;
}

static cJSON *build(const struct ts_ct_event *ev, const char *service)
{
    struct ts_ct_class cls;
    ts_ct_classify(service, ev->event_name, &cls);
    struct ts_buf b;
    ts_buf_init(&b, TS_CT_RECORD_MAX);
    int rc = ts_cloudtrail_record_build(ev, &cls, &b);
    cJSON *rec = rc ? NULL : cJSON_Parse(b.data);
    ts_buf_free(&b);
    return rec;
}

static const char *s(const cJSON *o, const char *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, m);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_management_event_fields(void)
{
    struct ts_aws_caller c = user_caller();
    cJSON *in = cJSON_Parse("{\"logGroupName\":\"/app\",\"tags\":{\"k\":\"v\"}}");
    cJSON *out = cJSON_Parse("{\"x\":1}");
    struct ts_ct_event ev = {.caller = &c, .event_name = "CreateLogGroup", .region = "us-east-1",
                             .source_ip = "10.1.2.3", .user_agent = "aws-cli/2.0",
                             .request_id = "11111111-2222-4333-8444-555555555555",
                             .event_id = "aaaaaaaa-2222-4333-8444-555555555555",
                             .time_ms = 1700000000123LL, .request = in, .response = out};
    cJSON *rec = build(&ev, "logs");
    TEST_ASSERT(rec != NULL);
    TEST_CHECK(strcmp(s(rec, "eventVersion"), TS_CT_EVENT_VERSION) == 0);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "userIdentity");
    TEST_CHECK(strcmp(s(u, "type"), "IAMUser") == 0);
    TEST_CHECK(strcmp(s(u, "principalId"), "AIDAEXAMPLEEXAMPLE1") == 0);
    TEST_CHECK(strcmp(s(u, "arn"), "arn:aws:iam::222222222222:user/developer") == 0);
    TEST_CHECK(strcmp(s(u, "accountId"), "222222222222") == 0);
    TEST_CHECK(strcmp(s(u, "accessKeyId"), "AKIATESTSOURCE000001") == 0);
    TEST_CHECK(strcmp(s(u, "userName"), "developer") == 0);
    TEST_CHECK(strcmp(s(rec, "eventTime"), "2023-11-14T22:13:20Z") == 0);
    TEST_CHECK(strcmp(s(rec, "eventSource"), "logs.amazonaws.com") == 0);
    TEST_CHECK(strcmp(s(rec, "eventName"), "CreateLogGroup") == 0);
    TEST_CHECK(strcmp(s(rec, "awsRegion"), "us-east-1") == 0);
    TEST_CHECK(strcmp(s(rec, "sourceIPAddress"), "10.1.2.3") == 0);
    TEST_CHECK(strcmp(s(rec, "userAgent"), "aws-cli/2.0") == 0);
    TEST_CHECK(strcmp(s(rec, "requestID"), ev.request_id) == 0);
    TEST_CHECK(strcmp(s(rec, "eventID"), ev.event_id) == 0);
    TEST_CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rec, "readOnly")));
    TEST_CHECK(strcmp(s(rec, "eventType"), "AwsApiCall") == 0);
    TEST_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "managementEvent")));
    TEST_CHECK(strcmp(s(rec, "recipientAccountId"), "222222222222") == 0);
    TEST_CHECK(strcmp(s(rec, "eventCategory"), "Management") == 0);
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(rec, "requestParameters");
    TEST_CHECK(strcmp(s(rp, "logGroupName"), "/app") == 0);
    TEST_CHECK(cJSON_GetObjectItemCaseSensitive(rec, "errorCode") == NULL);
    TEST_CHECK(cJSON_GetObjectItemCaseSensitive(rec, "tlsDetails") == NULL);
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(rec, "responseElements");
    TEST_CHECK(cJSON_IsObject(re));
    cJSON_Delete(rec);
    cJSON_Delete(in);
    cJSON_Delete(out);
}

static void test_error_root_read_only(void)
{
    struct ts_aws_caller c;
    memset(&c, 0, sizeof(c));
    ts_strlcpy(c.account, "333333333333", sizeof(c.account));
    ts_strlcpy(c.arn, "arn:aws:iam::333333333333:root", sizeof(c.arn));
    ts_strlcpy(c.access_key, "AKIAROOT", sizeof(c.access_key));
    c.root = true;
    cJSON *out = cJSON_Parse("{\"logGroups\":[]}");
    struct ts_ct_event ev = {.caller = &c, .event_name = "DescribeLogGroups",
                             .region = "eu-west-1", .time_ms = 0, .response = out,
                             .error_code = "AccessDeniedException", .error_message = "no",
                             .tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_128_GCM_SHA256",
                             .host = "logs.eu-west-1.amazonaws.com"};
    cJSON *rec = build(&ev, "logs");
    TEST_ASSERT(rec != NULL);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "userIdentity");
    TEST_CHECK(strcmp(s(u, "type"), "Root") == 0);
    TEST_CHECK(strcmp(s(u, "principalId"), "333333333333") == 0);
    TEST_CHECK(cJSON_GetObjectItemCaseSensitive(u, "userName") == NULL);
    TEST_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "readOnly")));
    TEST_CHECK(strcmp(s(rec, "errorCode"), "AccessDeniedException") == 0);
    TEST_CHECK(strcmp(s(rec, "errorMessage"), "no") == 0);
    TEST_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "responseElements")));
    TEST_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "requestParameters")));
    TEST_CHECK(strlen(s(rec, "eventID")) == 36);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "tlsDetails");
    TEST_CHECK(strcmp(s(t, "tlsVersion"), "TLSv1.3") == 0);
    TEST_CHECK(strcmp(s(t, "clientProvidedHostHeader"), "logs.eu-west-1.amazonaws.com") == 0);
    cJSON_Delete(rec);
    cJSON_Delete(out);
}

static void test_classify(void)
{
    struct ts_ct_class c;
    ts_ct_classify("kinesis", "PutRecords", &c);
    TEST_CHECK(c.data && !c.read_only && strcmp(c.resource_type, "AWS::Kinesis::Stream") == 0);
    ts_ct_classify("kinesis", "GetShardIterator", &c);
    TEST_CHECK(c.data && c.read_only);
    ts_ct_classify("kinesis", "CreateStream", &c);
    TEST_CHECK(!c.data && !c.read_only);
    TEST_CHECK(strcmp(c.event_source, "kinesis.amazonaws.com") == 0);
    ts_ct_classify("logs", "PutLogEvents", &c);
    TEST_CHECK(c.data && !c.read_only);
    ts_ct_classify("cloudtrail", "LookupEvents", &c);
    TEST_CHECK(!c.data && c.read_only);
    ts_ct_classify("s3", "GetObject", &c);
    TEST_CHECK(c.data && c.read_only && strcmp(c.resource_type, "AWS::S3::Object") == 0);
    ts_ct_classify("sts", "GetCallerIdentity", &c);
    TEST_CHECK(strcmp(c.event_source, "sts.amazonaws.com") == 0 && c.read_only);
}

static void test_redaction_and_data_resources(void)
{
    struct ts_aws_caller c = user_caller();
    cJSON *in = cJSON_Parse("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"U0VDUkVU\","
                            "\"PartitionKey\":\"k\"}],\"SecretAccessKey\":\"sek\","
                            "\"nested\":{\"Password\":\"pw\",\"SessionToken\":\"tok\","
                            "\"keep\":true}}");
    struct ts_ct_event ev = {.caller = &c, .event_name = "PutRecords", .region = "us-east-1",
                             .time_ms = 1, .request = in};
    struct ts_ct_class cls;
    ts_ct_classify("kinesis", "PutRecords", &cls);
    struct ts_buf b;
    ts_buf_init(&b, TS_CT_RECORD_MAX);
    TEST_ASSERT(ts_cloudtrail_record_build(&ev, &cls, &b) == 0);
    TEST_CHECK(strstr(b.data, "U0VDUkVU") == NULL);
    TEST_CHECK(strstr(b.data, "sek") == NULL);
    TEST_CHECK(strstr(b.data, "\"pw\"") == NULL);
    TEST_CHECK(strstr(b.data, "tok") == NULL);
    TEST_CHECK(strstr(b.data, "\"keep\":true") != NULL);
    cJSON *rec = cJSON_Parse(b.data);
    TEST_CHECK(strcmp(s(rec, "eventCategory"), "Data") == 0);
    TEST_CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rec, "managementEvent")));
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rec, "resources"), 0);
    TEST_CHECK(strcmp(s(r0, "ARN"), "arn:aws:kinesis:us-east-1:222222222222:stream/s") == 0);
    TEST_CHECK(strcmp(s(r0, "type"), "AWS::Kinesis::Stream") == 0);
    cJSON_Delete(rec);
    ts_buf_free(&b);
    cJSON_Delete(in);
}

static void test_long_fields_truncated(void)
{
    struct ts_aws_caller c = user_caller();
    char ua[3000];
    memset(ua, 'a', sizeof(ua) - 1);
    ua[sizeof(ua) - 1] = '\0';
    cJSON *in = cJSON_CreateObject();
    char *big = ts_malloc(200 * 1024);
    TEST_ASSERT(big != NULL);
    memset(big, 'b', 200 * 1024 - 1);
    big[200 * 1024 - 1] = '\0';
    cJSON_AddStringToObject(in, "policy", big);
    struct ts_ct_event ev = {.caller = &c, .event_name = "PutDestinationPolicy",
                             .region = "us-east-1", .time_ms = 1, .request = in,
                             .user_agent = ua};
    cJSON *rec = build(&ev, "logs");
    TEST_ASSERT(rec != NULL);
    TEST_CHECK(strlen(s(rec, "userAgent")) == TS_CT_FIELD_MAX);
    TEST_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "requestParameters")));
    cJSON_Delete(rec);
    cJSON_Delete(in);
    ts_free(big);
}

TEST_LIST = {
    {"management_event_fields", test_management_event_fields},
    {"error_root_read_only", test_error_root_read_only},
    {"classify", test_classify},
    {"redaction_and_data_resources", test_redaction_and_data_resources},
    {"long_fields_truncated", test_long_fields_truncated},
    {NULL, NULL},
};
