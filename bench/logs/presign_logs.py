#!/usr/bin/env python3
"""Prepares a PutLogEvents benchmark against one server: creates the log group and stream with
boto3, then signs one PutLogEvents request of N CloudTrail-shaped events (~1 KB each) with
botocore and writes it as a Lua table for bench/http/replay.lua.

The signed request stays valid for the 15-minute clock-skew window and PutLogEvents ignores
sequence tokens, so wrk can replay the same bytes for the whole run; the events' timestamps are
current, well inside the 2-hour/14-day acceptance window.

Usage: presign_logs.py URL ACCESS_KEY SECRET EVENTS OUT.lua
Prints the request body size in bytes.
"""
import json
import random
import sys
import time
import uuid
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

NAMES = ["ConsoleLogin", "GetObject", "PutObject", "AssumeRole", "DescribeInstances",
         "CreateUser", "AttachRolePolicy", "StopLogging", "AuthorizeSecurityGroupIngress"]


def cloudtrail_record(rng, t_ms):
    """One CloudTrail-shaped record of about 1 KB."""
    name = rng.choice(NAMES)
    rec = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDA" + uuid.UUID(int=rng.getrandbits(128)).hex[:17].upper(),
            "arn": "arn:aws:iam::222222222222:user/developer", "accountId": "222222222222",
            "accessKeyId": "AKIA" + uuid.UUID(int=rng.getrandbits(128)).hex[:16].upper(),
            "userName": "developer",
        },
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_ms / 1000)),
        "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.%d" % rng.randrange(256),
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 prompt/off",
        "requestParameters": {"userName": "user-%d" % rng.randrange(10000),
                              "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": "222222222222", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": "iam.amazonaws.com"},
    }
    return json.dumps(rec, separators=(",", ":"))


def lua_str(s):
    return '"' + "".join(c if c.isalnum() or c in " -_./:;=,+*&%()" else "\\%03d" % ord(c)
                         for c in s) + '"'


def main():
    url, key, secret, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
    group, stream = "/bench/cloudtrail", "bench"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    rng = random.Random(7)
    t = int(time.time() * 1000)
    events = [{"timestamp": t, "message": cloudtrail_record(rng, t)} for _ in range(n)]
    body = json.dumps({"logGroupName": group, "logStreamName": stream, "logEvents": events})
    req = AWSRequest(method="POST", url=url + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": "Logs_20140328.PutLogEvents"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "logs",
                            "us-east-1").add_auth(req)
    prepared = req.prepare()
    headers = dict(prepared.headers.items())
    headers["Host"] = urlsplit(url).netloc
    with open(out, "w") as f:
        f.write("return {\n  method = %s,\n  path = %s,\n  body = %s,\n  headers = {\n"
                % (lua_str("POST"), lua_str("/"), lua_str(body)))
        for k, v in headers.items():
            f.write("    [%s] = %s,\n" % (lua_str(k), lua_str(v)))
        f.write("  },\n}\n")
    per_event = sum(len(e["message"]) + 26 for e in events) / n
    if per_event * n > 1048576:
        sys.exit(f"presign_logs.py: {n} events of {per_event:.0f} bytes exceed the 1 MiB batch")
    print(len(body))


if __name__ == "__main__":
    main()
