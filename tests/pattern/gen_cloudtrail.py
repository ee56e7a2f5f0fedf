#!/usr/bin/env python3
"""gen_cloudtrail.py - CloudTrail-shaped fixtures for the filter pattern tests and bench.

  gen_cloudtrail.py cis OUT.jsonl        the CIS test events of reference/filter-patterns.md 7.1
                                         (common fields merged with each event's overrides)
  gen_cloudtrail.py random N SEED OUT    N realistic records of about 1 KB each: a mix of
                                         the API calls the CIS patterns watch (matching) and
                                         ordinary read-only calls (not matching), console
                                         sign-ins with and without MFA, root activity, errors

Each output line is {"id": ..., "message": "<the record as one JSON line>"}. The records are
synthetic (documentation IP ranges, example account ids); expected outcomes for the random set
come from refeval.py, an independent evaluator, not from this generator.
"""
import json
import random
import sys

COMMON = {"eventVersion": "1.08", "eventTime": "2024-01-01T00:00:00Z", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1", "eventType": "AwsApiCall", "recipientAccountId": "111111111111", "userIdentity": {"type": "IAMUser", "accountId": "111111111111", "userName": "alice"}}

EVENTS = [
[
"unauth_ec2",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "RunInstances",
"errorCode": "Client.UnauthorizedOperation",
"errorMessage": "You are not authorized to perform this operation."
}
],
[
"unauth_s3",
{
"eventSource": "s3.amazonaws.com",
"eventName": "GetObject",
"errorCode": "AccessDenied"
}
],
[
"unauth_headbucket",
{
"eventSource": "s3.amazonaws.com",
"eventName": "HeadBucket",
"errorCode": "AccessDenied"
}
],
[
"ok_call",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "DescribeInstances"
}
],
[
"login_nomfa_iam_ok",
{
"eventType": "AwsConsoleSignIn",
"eventSource": "signin.amazonaws.com",
"eventName": "ConsoleLogin",
"additionalEventData": {
"MFAUsed": "No"
},
"responseElements": {
"ConsoleLogin": "Success"
}
}
],
[
"login_mfa",
{
"eventType": "AwsConsoleSignIn",
"eventSource": "signin.amazonaws.com",
"eventName": "ConsoleLogin",
"additionalEventData": {
"MFAUsed": "Yes"
},
"responseElements": {
"ConsoleLogin": "Success"
}
}
],
[
"login_nomfa_sso",
{
"eventType": "AwsConsoleSignIn",
"userIdentity": {
"type": "AssumedRole",
"accountId": "111111111111"
},
"eventSource": "signin.amazonaws.com",
"eventName": "ConsoleLogin",
"additionalEventData": {
"MFAUsed": "No"
},
"responseElements": {
"ConsoleLogin": "Success"
}
}
],
[
"login_failed",
{
"eventType": "AwsConsoleSignIn",
"eventSource": "signin.amazonaws.com",
"eventName": "ConsoleLogin",
"errorMessage": "Failed authentication",
"additionalEventData": {
"MFAUsed": "No"
},
"responseElements": {
"ConsoleLogin": "Failure"
}
}
],
[
"root_call",
{
"userIdentity": {
"type": "Root",
"accountId": "111111111111",
"arn": "arn:aws:iam::111111111111:root"
},
"eventSource": "iam.amazonaws.com",
"eventName": "ListUsers"
}
],
[
"root_invokedby",
{
"userIdentity": {
"type": "Root",
"accountId": "111111111111",
"invokedBy": "support.amazonaws.com"
},
"eventSource": "iam.amazonaws.com",
"eventName": "ListUsers"
}
],
[
"root_svcevent",
{
"eventType": "AwsServiceEvent",
"userIdentity": {
"type": "Root",
"accountId": "111111111111"
},
"eventSource": "iam.amazonaws.com",
"eventName": "X"
}
],
[
"iam_putrolepolicy",
{
"eventSource": "iam.amazonaws.com",
"eventName": "PutRolePolicy"
}
],
[
"iam_createuser",
{
"eventSource": "iam.amazonaws.com",
"eventName": "CreateUser"
}
],
[
"ct_stoplogging",
{
"eventSource": "cloudtrail.amazonaws.com",
"eventName": "StopLogging"
}
],
[
"kms_disable",
{
"eventSource": "kms.amazonaws.com",
"eventName": "DisableKey"
}
],
[
"kms_schedule",
{
"eventSource": "kms.amazonaws.com",
"eventName": "ScheduleKeyDeletion"
}
],
[
"kms_enable",
{
"eventSource": "kms.amazonaws.com",
"eventName": "EnableKey"
}
],
[
"ec2_disablekey_wrongsource",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "DisableKey"
}
],
[
"s3_putbucketpolicy",
{
"eventSource": "s3.amazonaws.com",
"eventName": "PutBucketPolicy"
}
],
[
"s3_getbucketpolicy",
{
"eventSource": "s3.amazonaws.com",
"eventName": "GetBucketPolicy"
}
],
[
"config_stop",
{
"eventSource": "config.amazonaws.com",
"eventName": "StopConfigurationRecorder"
}
],
[
"sg_ingress",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "AuthorizeSecurityGroupIngress"
}
],
[
"nacl_entry",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "ReplaceNetworkAclEntry"
}
],
[
"igw_attach",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "AttachInternetGateway"
}
],
[
"route_create",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "CreateRoute"
}
],
[
"vpc_peer",
{
"eventSource": "ec2.amazonaws.com",
"eventName": "CreateVpcPeeringConnection"
}
],
[
"org_createaccount",
{
"eventSource": "organizations.amazonaws.com",
"eventName": "CreateAccount"
}
],
[
"org_describe",
{
"eventSource": "organizations.amazonaws.com",
"eventName": "DescribeOrganization"
}
],
[
"unauth_from_delivery",
{
"sourceIPAddress": "delivery.logs.amazonaws.com",
"eventSource": "ec2.amazonaws.com",
"eventName": "RunInstances",
"errorCode": "Client.UnauthorizedOperation",
"errorMessage": "You are not authorized to perform this operation."
}
],
[
"unauth_s3_from_delivery",
{
"sourceIPAddress": "delivery.logs.amazonaws.com",
"eventSource": "s3.amazonaws.com",
"eventName": "GetObject",
"errorCode": "AccessDenied"
}
]
]

WATCHED = [
    ("ec2.amazonaws.com", ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                           "RevokeSecurityGroupIngress", "CreateSecurityGroup",
                           "DeleteSecurityGroup", "CreateNetworkAcl", "ReplaceNetworkAclEntry",
                           "CreateCustomerGateway", "AttachInternetGateway", "CreateRoute",
                           "ReplaceRouteTableAssociation", "CreateVpc", "ModifyVpcAttribute",
                           "CreateVpcPeeringConnection", "EnableVpcClassicLink"]),
    ("iam.amazonaws.com", ["PutRolePolicy", "DeleteUserPolicy", "CreatePolicy",
                           "AttachRolePolicy", "DetachGroupPolicy", "CreatePolicyVersion"]),
    ("cloudtrail.amazonaws.com", ["CreateTrail", "UpdateTrail", "StopLogging", "DeleteTrail"]),
    ("kms.amazonaws.com", ["DisableKey", "ScheduleKeyDeletion"]),
    ("s3.amazonaws.com", ["PutBucketPolicy", "PutBucketAcl", "DeleteBucketCors",
                          "PutBucketLifecycle"]),
    ("config.amazonaws.com", ["StopConfigurationRecorder", "PutDeliveryChannel"]),
    ("organizations.amazonaws.com", ["CreateAccount", "AttachPolicy", "LeaveOrganization"]),
]
ORDINARY = [
    ("ec2.amazonaws.com", ["DescribeInstances", "DescribeSecurityGroups", "RunInstances",
                           "DescribeVpcs", "DescribeRouteTables", "CreateTags"]),
    ("s3.amazonaws.com", ["GetObject", "PutObject", "ListBuckets", "GetBucketPolicy",
                          "HeadBucket"]),
    ("iam.amazonaws.com", ["ListUsers", "GetRole", "ListPolicies", "GetPolicyVersion"]),
    ("kms.amazonaws.com", ["Decrypt", "GenerateDataKey", "EnableKey", "DescribeKey"]),
    ("sts.amazonaws.com", ["AssumeRole", "GetCallerIdentity"]),
    ("lambda.amazonaws.com", ["Invoke", "ListFunctions20150331"]),
    ("logs.amazonaws.com", ["PutLogEvents", "CreateLogStream", "DescribeLogGroups"]),
    ("organizations.amazonaws.com", ["DescribeOrganization", "ListAccounts"]),
]
AGENTS = ["aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023 prompt/off",
          "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11",
          "console.amazonaws.com", "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 api/ec2#1.141",
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"]


def hexid(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def identity(rng, kind):
    acct = rng.choice(["111111111111", "222222222222", "123456789012"])
    if kind == "Root":
        ui = {"type": "Root", "principalId": acct, "arn": f"arn:aws:iam::{acct}:root",
              "accountId": acct, "accessKeyId": "ASIA" + hexid(rng, 16).upper()}
        if rng.random() < 0.3:
            ui["invokedBy"] = rng.choice(["support.amazonaws.com", "cloudtrail.amazonaws.com"])
        return ui
    if kind == "AssumedRole":
        role = rng.choice(["Admin", "ReadOnly", "AWSReservedSSO_PowerUser_0123abcd"])
        return {"type": "AssumedRole", "principalId": "AROA" + hexid(rng, 16).upper() + ":bob",
                "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/bob", "accountId": acct,
                "accessKeyId": "ASIA" + hexid(rng, 16).upper(),
                "sessionContext": {"sessionIssuer": {"type": "Role",
                                                     "principalId": "AROA" + hexid(rng, 16).upper(),
                                                     "arn": f"arn:aws:iam::{acct}:role/{role}",
                                                     "accountId": acct, "userName": role},
                                   "attributes": {"creationDate": "2024-01-01T00:00:00Z",
                                                  "mfaAuthenticated": rng.choice(["true", "false"])}}}
    user = rng.choice(["alice", "bob", "carol", "deploy-bot"])
    return {"type": "IAMUser", "principalId": "AIDA" + hexid(rng, 16).upper(),
            "arn": f"arn:aws:iam::{acct}:user/{user}", "accountId": acct,
            "accessKeyId": "AKIA" + hexid(rng, 16).upper(), "userName": user}


def record(rng, i):
    r = rng.random()
    ip = f"198.51.100.{rng.randrange(1, 255)}" if rng.random() < 0.95 else "delivery.logs.amazonaws.com"
    rec = {"eventVersion": "1.08", "userIdentity": None,
           "eventTime": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
           "eventSource": None, "eventName": None, "awsRegion": rng.choice(["us-east-1", "eu-west-1"]),
           "sourceIPAddress": ip, "userAgent": rng.choice(AGENTS)}
    kind = rng.choices(["IAMUser", "AssumedRole", "Root"], [0.5, 0.45, 0.05])[0]
    rec["userIdentity"] = identity(rng, kind)
    if r < 0.08:
        mfa = rng.choice(["Yes", "No"])
        ok = rng.random() < 0.8
        rec.update({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                    "requestParameters": None,
                    "responseElements": {"ConsoleLogin": "Success" if ok else "Failure"},
                    "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                                            "MobileVersion": "No", "MFAUsed": mfa}})
        if not ok:
            rec["errorMessage"] = "Failed authentication"
        rec["eventType"] = "AwsConsoleSignIn"
    else:
        src, names = rng.choice(WATCHED if r < 0.35 else ORDINARY)
        rec["eventSource"] = src
        rec["eventName"] = rng.choice(names)
        rec["requestParameters"] = {"resourceId": "r-" + hexid(rng, 17), "dryRun": False,
                                    "tagSpecificationSet": {"items": [{"resourceType": "instance",
                                                                        "tags": [{"key": "team", "value": "audit"}]}]}}
        rec["responseElements"] = None if rng.random() < 0.5 else {"_return": True,
                                                                    "requestId": hexid(rng, 32)}
        if rng.random() < 0.12:
            rec["errorCode"] = rng.choice(["Client.UnauthorizedOperation", "AccessDenied",
                                           "AccessDeniedException", "ThrottlingException"])
            rec["errorMessage"] = "You are not authorized to perform this operation."
        rec["eventType"] = rng.choice(["AwsApiCall"] * 9 + ["AwsServiceEvent"])
    rec["requestID"] = hexid(rng, 8) + "-" + hexid(rng, 4) + "-" + hexid(rng, 4) + "-" + hexid(rng, 12)
    rec["eventID"] = hexid(rng, 8) + "-" + hexid(rng, 4) + "-" + hexid(rng, 4) + "-" + hexid(rng, 12)
    rec["readOnly"] = rec["eventName"].startswith(("Describe", "Get", "List", "Head"))
    rec["managementEvent"] = True
    rec["recipientAccountId"] = rec["userIdentity"]["accountId"]
    rec["eventCategory"] = "Management"
    rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                         "clientProvidedHostHeader": rec["eventSource"].replace(".amazonaws.com", "") +
                         "." + rec["awsRegion"] + ".amazonaws.com"}
    return {k: v for k, v in rec.items() if v is not None or k in ("requestParameters",)}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "cis":
        with open(sys.argv[2], "w") as f:
            for eid, over in EVENTS:
                rec = dict(COMMON)
                rec.update(over)
                f.write(json.dumps({"id": eid, "message": json.dumps(rec, separators=(",", ":"))}) + "\n")
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "random":
        n, seed = int(sys.argv[2]), int(sys.argv[3])
        rng = random.Random(seed)
        with open(sys.argv[4], "w") as f:
            for i in range(n):
                rec = record(rng, i)
                f.write(json.dumps({"id": f"gen-{i}", "message": json.dumps(rec, separators=(",", ":"))}) + "\n")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
