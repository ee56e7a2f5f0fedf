"""STS GetCallerIdentity end to end, and every SigV4 refusal, with the real aws CLI and boto3."""

import datetime
import unittest
import unittest.mock
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNTS

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def signed_request(url, key, secret, body=BODY, when=None, headers=None, region="us-east-1",
                   service="sts"):
    """A POST signed by botocore's own SigV4Auth, optionally at a given time."""
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=url + "/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                 **(headers or {})})
    creds = botocore.credentials.Credentials(key, secret)
    if when is None:
        botocore.auth.SigV4Auth(creds, service, region).add_auth(req)
    else:
        with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=when):
            botocore.auth.SigV4Auth(creds, service, region).add_auth(req)
    return req.prepare()


def send(prepared):
    """Sends a prepared request; returns (status, headers, body text)."""
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    r = urllib.request.Request(prepared.url, data=body, method=prepared.method,
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def error_code(body):
    root = ET.fromstring(body)
    return root.find(f"{STS_NS}Error/{STS_NS}Code").text, root.find(f"{STS_NS}Error/{STS_NS}Message").text


class CallerIdentityTest(harness.ServerTestCase):

    def test_cli_each_account(self):
        expected = {
            "security": "arn:aws:iam::111111111111:user/auditor",
            "source": "arn:aws:iam::222222222222:user/developer",
            "third": "arn:aws:iam::333333333333:root",
        }
        import json
        for profile, arn in expected.items():
            _, out, _ = self.server.aws("sts", "get-caller-identity", profile=profile)
            ident = json.loads(out)
            self.assertEqual(ident["Account"], ACCOUNTS[profile]["id"])
            self.assertEqual(ident["Arn"], arn)
            if profile == "third":
                self.assertEqual(ident["UserId"], ACCOUNTS[profile]["id"])
            else:
                self.assertRegex(ident["UserId"], r"^AIDA[A-Z2-7]{17}$")

    def test_boto3_user_and_root_and_regions(self):
        for account in ("security", "source"):
            for root in (False, True):
                for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
                    ident = self.server.client("sts", account, root=root,
                                               region=region).get_caller_identity()
                    self.assertEqual(ident["Account"], ACCOUNTS[account]["id"])
                    self.assertEqual(ident["Arn"].endswith(":root"), root)

    def test_user_id_is_stable(self):
        a = self.server.client("sts", "source").get_caller_identity()["UserId"]
        b = self.server.client("sts", "source").get_caller_identity()["UserId"]
        c = self.server.client("sts", "security").get_caller_identity()["UserId"]
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)

    def assertClientError(self, fn, code, status):
        with self.assertRaises(ClientError) as cm:
            fn()
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertTrue(err["ResponseMetadata"]["RequestId"])
        return err

    def test_wrong_secret(self):
        c = self.server.client("sts", "source", secret="not-the-right-secret-0000000000")
        err = self.assertClientError(c.get_caller_identity, "SignatureDoesNotMatch", 403)
        self.assertIn("does not match the signature you provided", err["Error"]["Message"])
        rc, _, stderr = self.server.aws(
            "sts", "get-caller-identity", profile=None, check=False,
            env={"AWS_ACCESS_KEY_ID": ACCOUNTS["source"]["key"],
                 "AWS_SECRET_ACCESS_KEY": "not-the-right-secret-0000000000"})
        self.assertNotEqual(rc, 0)
        self.assertIn("SignatureDoesNotMatch", stderr)
        self.assertServerUp()

    def test_unknown_key(self):
        c = self.server.client("sts", "source", key="AKIAUNKNOWNKEY000001",
                               secret="whatever-secret-000000000000")
        err = self.assertClientError(c.get_caller_identity, "InvalidClientTokenId", 403)
        self.assertEqual(err["Error"]["Message"],
                         "The security token included in the request is invalid.")

    def test_session_token_refused(self):
        c = harness.boto3.client(
            "sts", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id=ACCOUNTS["source"]["key"],
            aws_secret_access_key=ACCOUNTS["source"]["secret"], aws_session_token="tok")
        self.assertClientError(c.get_caller_identity, "InvalidClientTokenId", 403)

    def test_one_account_key_with_another_secret(self):
        # The key of source with the secret of security: never treated as either account.
        c = self.server.client("sts", "source", secret=ACCOUNTS["security"]["secret"])
        self.assertClientError(c.get_caller_identity, "SignatureDoesNotMatch", 403)
        c = self.server.client("sts", "security", key=ACCOUNTS["source"]["root_key"],
                               secret=ACCOUNTS["security"]["root_secret"])
        self.assertClientError(c.get_caller_identity, "SignatureDoesNotMatch", 403)

    def test_skewed_clock(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        a = ACCOUNTS["source"]
        for delta, fragment in ((-20, "Signature expired"), (20, "Signature not yet current")):
            p = signed_request(self.server.url, a["key"], a["secret"],
                               when=now + datetime.timedelta(minutes=delta))
            status, _, body = send(p)
            self.assertEqual(status, 403)
            code, msg = error_code(body)
            self.assertEqual(code, "SignatureDoesNotMatch")
            self.assertIn(fragment, msg)
            self.assertIn("15 min.", msg)
        # Inside the 15-minute window both ways: accepted.
        for delta in (-14, 14):
            p = signed_request(self.server.url, a["key"], a["secret"],
                               when=now + datetime.timedelta(minutes=delta))
            status, _, body = send(p)
            self.assertEqual(status, 200, body)

    def test_unsigned(self):
        r = urllib.request.Request(self.server.url + "/", data=BODY.encode(), method="POST",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(r, timeout=10)
            self.fail("unsigned request accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
            self.assertTrue(e.headers["x-amzn-RequestId"])
            code, msg = error_code(e.read().decode())
            self.assertEqual(code, "MissingAuthenticationToken")
            self.assertEqual(msg, "Missing Authentication Token")
        rc, _, stderr = self.server.aws("sts", "get-caller-identity", "--no-sign-request",
                                        profile=None, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("MissingAuthenticationToken", stderr)

    def test_incomplete_authorization(self):
        a = ACCOUNTS["source"]
        p = signed_request(self.server.url, a["key"], a["secret"])
        auth = p.headers["Authorization"]
        p.headers["Authorization"] = ", ".join(x for x in auth.split(", ")
                                               if not x.startswith("SignedHeaders"))
        status, _, body = send(p)
        self.assertEqual(status, 400)
        code, msg = error_code(body)
        self.assertEqual(code, "IncompleteSignature")
        self.assertIn("Authorization header requires 'SignedHeaders' parameter.", msg)

    def test_tampered_body_refused(self):
        a = ACCOUNTS["source"]
        p = signed_request(self.server.url, a["key"], a["secret"])
        p.body = p.body.replace(b"2011-06-15", b"2011-06-16") if isinstance(p.body, bytes) \
            else p.body.replace("2011-06-15", "2011-06-16")
        status, _, body = send(p)
        self.assertEqual(status, 403)
        self.assertEqual(error_code(body)[0], "SignatureDoesNotMatch")

    def test_content_sha256_header(self):
        a = ACCOUNTS["source"]
        p = signed_request(self.server.url, a["key"], a["secret"],
                           headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        status, _, body = send(p)
        self.assertEqual(status, 200, body)
        wrong = "0" * 64
        p = signed_request(self.server.url, a["key"], a["secret"],
                           headers={"X-Amz-Content-SHA256": wrong})
        status, _, body = send(p)
        self.assertEqual(status, 403)

    def test_wrong_service_scope(self):
        a = ACCOUNTS["source"]
        p = signed_request(self.server.url, a["key"], a["secret"], service="iam")
        status, _, body = send(p)
        # Scoped to another service: not routed to STS's signing name, refused.
        self.assertIn(status, (400, 403))
        self.assertServerUp()

    def test_presigned_get(self):
        a = ACCOUNTS["security"]
        creds = botocore.credentials.Credentials(a["key"], a["secret"])
        url = self.server.url + "/?Action=GetCallerIdentity&Version=2011-06-15"
        req = botocore.awsrequest.AWSRequest(method="GET", url=url)
        botocore.auth.SigV4QueryAuth(creds, "sts", "us-east-1", expires=60).add_auth(req)
        with urllib.request.urlopen(req.url, timeout=10) as r:
            root = ET.fromstring(r.read())
        self.assertEqual(
            root.find(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account").text, a["id"])
        # Expired presigned URL.
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=3)
        req = botocore.awsrequest.AWSRequest(method="GET", url=url)
        with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=past):
            botocore.auth.SigV4QueryAuth(creds, "sts", "us-east-1", expires=60).add_auth(req)
        try:
            urllib.request.urlopen(req.url, timeout=10)
            self.fail("expired presigned URL accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
            code, msg = error_code(e.read().decode())
            self.assertEqual(code, "SignatureDoesNotMatch")
            self.assertIn("Signature expired", msg)

    def test_both_auth_forms(self):
        a = ACCOUNTS["security"]
        creds = botocore.credentials.Credentials(a["key"], a["secret"])
        url = self.server.url + "/?Action=GetCallerIdentity&Version=2011-06-15"
        req = botocore.awsrequest.AWSRequest(method="GET", url=url)
        botocore.auth.SigV4QueryAuth(creds, "sts", "us-east-1", expires=60).add_auth(req)
        r = urllib.request.Request(req.url, headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20200101/us-east-1/sts/aws4_request, "
                             "SignedHeaders=host, Signature=00"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(r, timeout=10)
        self.assertIn("Found both", cm.exception.read().decode())

    def test_invalid_action_and_version(self):
        a = ACCOUNTS["source"]
        p = signed_request(self.server.url, a["key"], a["secret"],
                           body="Action=AssumeNothing&Version=2011-06-15")
        status, _, body = send(p)
        self.assertEqual(status, 400)
        self.assertEqual(error_code(body)[0], "InvalidAction")
        p = signed_request(self.server.url, a["key"], a["secret"],
                           body="Action=GetCallerIdentity&Version=1999-01-01")
        status, _, body = send(p)
        self.assertEqual(status, 400)
        self.assertEqual(error_code(body)[0], "InvalidAction")

    def test_request_id_and_metrics(self):
        c = self.server.client("sts", "security")
        r = c.get_caller_identity()
        rid = r["ResponseMetadata"]["RequestId"]
        self.assertRegex(rid, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"], rid)
        status, text = self.server.get("/metrics")
        self.assertEqual(status, 200)
        self.assertRegex(text, r'ts_requests_total\{service="sts",operation="GetCallerIdentity",'
                               r'status="200"\} [1-9]')
        self.assertIn("ts_request_duration_seconds_bucket{service=\"sts\",le=\"+Inf\"}", text)
        self.assertIn("ts_http_request_bytes_total", text)
        # Secrets never appear in the server's output.
        for a in ACCOUNTS.values():
            for s in (a["secret"], a["root_secret"]):
                if s:
                    self.assertNotIn(s, self.server.stderr_text())
                    self.assertNotIn(s, text)


if __name__ == "__main__":
    unittest.main()
