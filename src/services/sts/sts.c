/*
 * sts.c - AWS Security Token Service, query protocol.
 *
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
 */
#include "trailstream/ts_services.h"

static int get_caller_identity(void *ctx, struct ts_aws_req *req, struct ts_aws_resp *resp,
                               struct ts_aws_error *err)
{
    struct ts_buf *x = &resp->xml;
    int rc = ts_buf_adds(x, "    <Arn>");
    rc = rc ? rc : ts_buf_add_xml(x, req->caller.arn);
    rc = rc ? rc : ts_buf_adds(x, "</Arn>\n    <UserId>");
    rc = rc ? rc : ts_buf_add_xml(x, req->caller.user_id);
    rc = rc ? rc : ts_buf_adds(x, "</UserId>\n    <Account>");
    rc = rc ? rc : ts_buf_add_xml(x, req->caller.account);
    rc = rc ? rc : ts_buf_adds(x, "</Account>\n");
    if (rc) {
        return ts_aws_fail(err, "InternalFailure", "The response could not be built.");
    }
    return 0;
}

static const struct ts_aws_op sts_ops[] = {
    {"GetCallerIdentity", get_caller_identity, NULL},
};

static const struct ts_aws_service sts_service = {
    .name = "sts",
    .signing_name = "sts",
    .protocol = TS_AWS_QUERY,
    .api_version = "2011-06-15",
    .xmlns = "https://sts.amazonaws.com/doc/2011-06-15/",
    .validation_code = "ValidationError",
    .ops = sts_ops,
    .n_ops = TS_ARRAY_LEN(sts_ops),
};

const struct ts_aws_service *ts_sts_service(void)
{
    return &sts_service;
}
