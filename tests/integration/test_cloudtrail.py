"""CloudTrail end to end with boto3 and the real aws CLI: every call becomes a CloudTrail record
that a logging trail delivers into its log group within 100 ms, checked field by field; the
trail API; LookupEvents; channels and PutAuditEvents."""

import base64
import concurrent.futures
import hashlib
import json
import random
import re
import time
import unittest
import uuid

from botocore.exceptions import ClientError

import harness

SRC = harness.ACCOUNTS["source"]
SEC = harness.ACCOUNTS["security"]
REGION = harness.REGION
STREAM = f"{SRC['id']}_CloudTrail_{REGION}"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RECORD_KEYS = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
               "awsRegion", "sourceIPAddress", "userAgent", "requestParameters",
               "responseElements", "requestID", "eventID", "readOnly", "eventType",
               "managementEvent", "recipientAccountId", "eventCategory"}


def request_id(resp_or_err):
    meta = resp_or_err["ResponseMetadata"]
    return meta["RequestId"]


class CloudTrailTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.ct = s.client("cloudtrail", "source")
        cls.logs = s.client("logs", "source")
        cls.group = f"/trails/{random.randrange(1 << 30)}"
        cls.logs.create_log_group(logGroupName=cls.group)
        cls.group_arn = f"arn:aws:logs:{REGION}:{SRC['id']}:log-group:{cls.group}:*"
        cls.role = f"arn:aws:iam::{SRC['id']}:role/CloudTrail_CloudWatchLogs_Role"
        cls.trail = cls.ct.create_trail(Name="audit", S3BucketName="audit-bucket",
                                        CloudWatchLogsLogGroupArn=cls.group_arn,
                                        CloudWatchLogsRoleArn=cls.role)
        cls.ct.start_logging(Name="audit")
        cls.seen = {}
        cls.token = None

    # ---------------------------------------------------------------- helpers

    def poll_records(self):
        """Reads new events of the trail's stream into self.seen (by requestID)."""
        kw = {"logGroupName": self.group, "logStreamName": STREAM, "startFromHead": True}
        if CloudTrailTest.token:
            kw["nextToken"] = CloudTrailTest.token
        try:
            r = self.logs.get_log_events(**kw)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise
        CloudTrailTest.token = r["nextForwardToken"]
        for ev in r["events"]:
            rec = json.loads(ev["message"])
            # API-call records by requestID; PutAuditEvents events (no requestID) by eventID
            self.seen.setdefault(rec.get("requestID") or rec["eventID"], []).append(rec)

    def wait_record(self, rid, start, limit=0.1):
        """Waits for the record of request rid; asserts it arrived within `limit` seconds of
        `start` (the moment the call returned)."""
        def have():
            if rid not in self.seen:
                self.poll_records()
            return self.seen.get(rid)
        recs = harness.wait_for(have, timeout=5, interval=0.002, what=f"record {rid}")
        elapsed = time.monotonic() - start
        self.assertEqual(len(recs), 1, recs)
        self.assertLess(elapsed, limit, f"record of {rid} took {elapsed * 1000:.1f} ms")
        return recs[0]

    def find_by(self, pred, what):
        def have():
            self.poll_records()
            for recs in self.seen.values():
                for r in recs:
                    if pred(r):
                        return r
            return None
        return harness.wait_for(have, timeout=5, interval=0.01, what=what)

    def check_common(self, rec, name, source, user=True, read_only=False, error=None):
        self.assertTrue(RECORD_KEYS <= set(rec), set(RECORD_KEYS) - set(rec))
        self.assertEqual(rec["eventVersion"], "1.09")
        ui = rec["userIdentity"]
        if user:
            self.assertEqual(ui, {
                "type": "IAMUser", "principalId": ui["principalId"],
                "arn": f"arn:aws:iam::{SRC['id']}:user/{SRC['user']}",
                "accountId": SRC["id"], "accessKeyId": SRC["key"], "userName": SRC["user"]})
            self.assertTrue(ui["principalId"].startswith("AIDA"))
        else:
            self.assertEqual(ui, {"type": "Root", "principalId": SRC["id"],
                                  "arn": f"arn:aws:iam::{SRC['id']}:root",
                                  "accountId": SRC["id"], "accessKeyId": SRC["root_key"]})
        self.assertRegex(rec["eventTime"], TIME_RE)
        t = time.mktime(time.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertLess(abs(t - time.time()), 30)
        self.assertEqual(rec["eventSource"], source)
        self.assertEqual(rec["eventName"], name)
        self.assertEqual(rec["awsRegion"], REGION)
        self.assertEqual(rec["sourceIPAddress"], "127.0.0.1")
        self.assertRegex(rec["eventID"], UUID_RE)
        self.assertRegex(rec["requestID"], UUID_RE)
        self.assertIs(rec["readOnly"], read_only)
        self.assertEqual(rec["eventType"], "AwsApiCall")
        self.assertIs(rec["managementEvent"], True)
        self.assertEqual(rec["eventCategory"], "Management")
        self.assertEqual(rec["recipientAccountId"], SRC["id"])
        if error:
            self.assertEqual(rec["errorCode"], error[0])
            self.assertEqual(rec["errorMessage"], error[1])
            self.assertIsNone(rec["responseElements"])
        else:
            self.assertNotIn("errorCode", rec)
            self.assertNotIn("errorMessage", rec)
        self.assertNotIn("tlsDetails", rec)  # plain HTTP

    # ---------------------------------------------------------------- tests

    def test_1_boto3_calls_field_by_field(self):
        # success, write call
        name = f"{self.group}/created"
        r = self.logs.create_log_group(logGroupName=name, tags={"k": "v"})
        t0 = time.monotonic()
        rec = self.wait_record(request_id(r), t0)
        self.check_common(rec, "CreateLogGroup", "logs.amazonaws.com")
        self.assertEqual(rec["requestParameters"], {"logGroupName": name, "tags": {"k": "v"}})
        self.assertIsNone(rec["responseElements"])
        self.assertIn("Boto3/", rec["userAgent"])
        self.assertIn("Botocore/", rec["userAgent"])
        # success, read call: no response elements
        r = self.logs.describe_log_groups(logGroupNamePrefix=name)
        t0 = time.monotonic()
        rec = self.wait_record(request_id(r), t0)
        self.check_common(rec, "DescribeLogGroups", "logs.amazonaws.com", read_only=True)
        self.assertEqual(rec["requestParameters"], {"logGroupNamePrefix": name})
        self.assertIsNone(rec["responseElements"])
        # failing call (service error)
        with self.assertRaises(ClientError) as cm:
            self.logs.create_log_group(logGroupName=name)
        t0 = time.monotonic()
        e = cm.exception.response
        rec = self.wait_record(request_id(e), t0)
        self.check_common(rec, "CreateLogGroup", "logs.amazonaws.com",
                          error=(e["Error"]["Code"], e["Error"]["Message"]))
        # AccessDenied: another account's Kinesis stream
        kin = self.server.client("kinesis", "source")
        arn = f"arn:aws:kinesis:{REGION}:{SEC['id']}:stream/secret-stream"
        with self.assertRaises(ClientError) as cm:
            kin.describe_stream_summary(StreamARN=arn)
        t0 = time.monotonic()
        e = cm.exception.response
        self.assertEqual(e["Error"]["Code"], "AccessDeniedException")
        rec = self.wait_record(request_id(e), t0)
        self.check_common(rec, "DescribeStreamSummary", "kinesis.amazonaws.com", read_only=True,
                          error=("AccessDeniedException", e["Error"]["Message"]))
        self.assertEqual(rec["requestParameters"], {"StreamARN": arn})
        # bad signature: the key exists, the secret is wrong
        bad = self.server.client("logs", "source", secret="x" * 40)
        with self.assertRaises(ClientError) as cm:
            bad.describe_log_groups()
        t0 = time.monotonic()
        e = cm.exception.response
        self.assertEqual(e["Error"]["Code"], "InvalidSignatureException")
        rec = self.wait_record(request_id(e), t0)
        self.check_common(rec, "DescribeLogGroups", "logs.amazonaws.com", read_only=True,
                          error=("InvalidSignatureException", e["Error"]["Message"]))
        self.assertIsNone(rec["requestParameters"])
        # root caller, CloudTrail's own API
        root = self.server.client("cloudtrail", "source", root=True)
        r = root.get_trail_status(Name="audit")
        t0 = time.monotonic()
        rec = self.wait_record(request_id(r), t0)
        self.check_common(rec, "GetTrailStatus", "cloudtrail.amazonaws.com", user=False,
                          read_only=True)
        self.assertEqual(rec["requestParameters"], {"Name": "audit"})

    def test_2_cli_calls(self):
        s = self.server
        name = f"{self.group}/cli-{random.randrange(1 << 30)}"
        s.aws("logs", "create-log-group", "--log-group-name", name, profile="source")
        t_end = time.monotonic()
        rec = self.find_by(lambda r: r["eventName"] == "CreateLogGroup" and
                           (r["requestParameters"] or {}).get("logGroupName") == name,
                           "CLI CreateLogGroup record")
        self.assertLess(time.monotonic() - t_end, 0.5)  # includes reading the stream back
        self.check_common(rec, "CreateLogGroup", "logs.amazonaws.com")
        self.assertTrue(rec["userAgent"].startswith("aws-cli/"), rec["userAgent"])
        self.assertEqual(rec["requestParameters"], {"logGroupName": name})
        # a failing CLI call
        rc, _, err = s.aws("logs", "delete-log-group", "--log-group-name", name + "-absent",
                           profile="source", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)
        rec = self.find_by(lambda r: r["eventName"] == "DeleteLogGroup" and
                           (r["requestParameters"] or {}).get("logGroupName") == name + "-absent",
                           "CLI DeleteLogGroup record")
        self.check_common(rec, "DeleteLogGroup", "logs.amazonaws.com",
                          error=("ResourceNotFoundException",
                                 "The specified log group does not exist."))

    def test_3_secrets_and_bulk_left_out(self):
        self.logs.create_log_stream(logGroupName=self.group, logStreamName="app")
        # PutLogEvents is a data event: not delivered without data selectors.
        r = self.logs.put_log_events(logGroupName=self.group, logStreamName="app",
                                     logEvents=[{"timestamp": int(time.time() * 1000),
                                                 "message": "SECRET-PAYLOAD"}])
        r2 = self.logs.describe_log_streams(logGroupName=self.group)
        self.wait_record(request_id(r2), time.monotonic(), limit=5)
        self.assertNotIn(request_id(r), self.seen)
        for recs in self.seen.values():
            self.assertNotIn("SECRET-PAYLOAD", json.dumps(recs))

    def test_4_trail_api(self):
        ct = self.ct
        t = self.trail
        self.assertEqual(t["TrailARN"], f"arn:aws:cloudtrail:{REGION}:{SRC['id']}:trail/audit")
        self.assertEqual(t["CloudWatchLogsLogGroupArn"], self.group_arn)
        self.assertFalse(t["LogFileValidationEnabled"])
        d = ct.describe_trails()["trailList"]
        self.assertEqual([x["Name"] for x in d], ["audit"])
        self.assertEqual(d[0]["HomeRegion"], REGION)
        self.assertFalse(d[0]["HasCustomEventSelectors"])
        self.assertEqual(ct.get_trail(Name=t["TrailARN"])["Trail"]["Name"], "audit")
        self.assertEqual(ct.list_trails()["Trails"],
                         [{"TrailARN": t["TrailARN"], "Name": "audit", "HomeRegion": REGION}])
        st = ct.get_trail_status(Name="audit")
        self.assertTrue(st["IsLogging"])
        self.assertIn("StartLoggingTime", st)
        for bad in ("ab", "my--trail", "-trail", "my-_trail", "10.0.0.1"):
            with self.assertRaises(ClientError) as cm:
                ct.create_trail(Name=bad, S3BucketName="b")
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidTrailNameException")
        with self.assertRaises(ClientError) as cm:
            ct.create_trail(Name="audit", S3BucketName="b")
        self.assertEqual(cm.exception.response["Error"]["Code"], "TrailAlreadyExistsException")
        with self.assertRaises(ClientError) as cm:
            ct.get_trail(Name="nope")
        self.assertEqual(cm.exception.response["Error"]["Code"], "TrailNotFoundException")
        with self.assertRaises(ClientError) as cm:
            ct.create_trail(Name="x-trail", S3BucketName="b",
                            CloudWatchLogsLogGroupArn=self.group_arn)
        self.assertEqual(cm.exception.response["Error"]["Code"],
                         "InvalidCloudWatchLogsRoleArnException")
        # other accounts never see the trail
        sec = self.server.client("cloudtrail", "security")
        self.assertEqual(sec.describe_trails()["trailList"], [])
        sel = ct.get_event_selectors(TrailName="audit")["EventSelectors"]
        self.assertEqual(sel, [{"ReadWriteType": "All", "IncludeManagementEvents": True,
                                "DataResources": [], "ExcludeManagementEventSources": []}])
        u = ct.update_trail(Name="audit", EnableLogFileValidation=True)
        self.assertTrue(u["LogFileValidationEnabled"])

    def test_5_data_events_and_stop_logging(self):
        ct = self.ct
        ct.create_trail(Name="data-trail", S3BucketName="b",
                        CloudWatchLogsLogGroupArn=self.group_arn, CloudWatchLogsRoleArn=self.role)
        ct.put_event_selectors(TrailName="data-trail", EventSelectors=[{
            "ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::Logs::LogGroup",
                               "Values": [f"arn:aws:logs:{REGION}:{SRC['id']}:log-group:"]}]}])
        self.assertTrue(ct.get_trail(Name="data-trail")["Trail"]["HasCustomEventSelectors"])
        ct.start_logging(Name="data-trail")
        self.logs.create_log_stream(logGroupName=self.group, logStreamName="d")
        r = self.logs.put_log_events(logGroupName=self.group, logStreamName="d",
                                     logEvents=[{"timestamp": int(time.time() * 1000),
                                                 "message": "BULK-DATA"}])
        rec = self.wait_record(request_id(r), time.monotonic(), limit=5)
        self.assertEqual(rec["eventCategory"], "Data")
        self.assertIs(rec["managementEvent"], False)
        self.assertEqual(rec["requestParameters"], {"logGroupName": self.group,
                                                    "logStreamName": "d"})
        self.assertEqual(rec["resources"], [{
            "accountId": SRC["id"], "type": "AWS::Logs::LogGroup",
            "ARN": f"arn:aws:logs:{REGION}:{SRC['id']}:log-group:{self.group}"}])
        self.assertNotIn("BULK-DATA", json.dumps(rec))
        # StopLogging is itself delivered, and nothing of the trail after it.
        r = ct.stop_logging(Name="data-trail")
        rec = self.wait_record(request_id(r), time.monotonic(), limit=5)
        self.assertEqual(rec["eventName"], "StopLogging")
        self.assertFalse(ct.get_trail_status(Name="data-trail")["IsLogging"])
        r = self.logs.put_log_events(logGroupName=self.group, logStreamName="d",
                                     logEvents=[{"timestamp": int(time.time() * 1000),
                                                 "message": "after"}])
        r2 = ct.delete_trail(Name="data-trail")
        self.wait_record(request_id(r2), time.monotonic(), limit=5)  # via the main trail
        time.sleep(0.3)
        self.poll_records()
        self.assertNotIn(request_id(r), self.seen)

    def test_6_lookup_events(self):
        ct = self.ct
        names = []
        for i in range(3):
            n = f"{self.group}/lookup-{i}"
            self.logs.create_log_group(logGroupName=n)
            names.append(n)
        got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                  "AttributeValue": "CreateLogGroup"}],
                               MaxResults=2)
        self.assertEqual(len(got["Events"]), 2)
        first = json.loads(got["Events"][0]["CloudTrailEvent"])
        self.assertEqual(first["requestParameters"]["logGroupName"], names[2])
        self.assertEqual(got["Events"][0]["Username"], SRC["user"])
        self.assertEqual(got["Events"][0]["AccessKeyId"], SRC["key"])
        self.assertEqual(got["Events"][0]["ReadOnly"], "false")
        self.assertIn("NextToken", got)
        seen, tok = [], None
        while True:
            kw = {"NextToken": tok} if tok else {}
            page = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                       "AttributeValue": "CreateLogGroup"}],
                                    MaxResults=2, **kw)
            seen += [e["EventId"] for e in page["Events"]]
            tok = page.get("NextToken")
            if not tok:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertGreaterEqual(len(seen), 4)
        # time range in the future: nothing
        far = time.time() + 3600
        self.assertEqual(ct.lookup_events(StartTime=far, EndTime=far + 60)["Events"], [])
        with self.assertRaises(ClientError) as cm:
            ct.lookup_events(StartTime=far, EndTime=far - 60)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidTimeRangeException")
        with self.assertRaises(ClientError) as cm:
            ct.lookup_events(NextToken="garbage")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidNextTokenException")
        # the other account sees none of it
        sec = self.server.client("cloudtrail", "security")
        evs = sec.lookup_events(LookupAttributes=[{"AttributeKey": "Username",
                                                   "AttributeValue": SRC["user"]}])["Events"]
        self.assertEqual(evs, [])
        # the CLI
        _, out, _ = self.server.aws("cloudtrail", "lookup-events", "--lookup-attributes",
                                    "AttributeKey=EventName,AttributeValue=CreateTrail",
                                    profile="source")
        evs = json.loads(out)["Events"]
        # audit, the refused names of test_4, data-trail: newest first, the oldest is "audit"
        self.assertEqual({e["EventName"] for e in evs}, {"CreateTrail"})
        self.assertGreaterEqual(len(evs), 8)
        rec = json.loads(evs[-1]["CloudTrailEvent"])
        self.assertEqual(rec["requestParameters"]["Name"], "audit")
        self.assertEqual(rec["responseElements"]["TrailARN"], self.trail["TrailARN"])

    def test_7_put_audit_events(self):
        ct = self.ct
        trail_arn = self.trail["TrailARN"]
        ch = ct.create_channel(Name="app-events", Source="Custom",
                               Destinations=[{"Type": "EVENT_DATA_STORE",
                                              "Location": trail_arn}])
        arn = ch["ChannelArn"]
        self.assertEqual(ct.get_channel(Channel=arn)["Name"], "app-events")
        self.assertEqual([c["Name"] for c in ct.list_channels()["Channels"]], ["app-events"])
        data = self.server.client("cloudtrail-data", "source")

        def event(uid, **over):
            e = {"version": "1.0", "userIdentity": {"type": "AppUser", "principalId": "alice"},
                 "eventSource": "myapp.example.com", "eventName": "Login",
                 "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                 "UID": uid, "recipientAccountId": SRC["id"]}
            e.update(over)
            return json.dumps(e)

        good = event("u-1")
        evs = [
            {"id": "ok1", "eventData": good,
             "eventDataChecksum": base64.b64encode(hashlib.sha256(good.encode()).digest()).decode()},
            {"id": "ok2", "eventData": event("u-2")},
            {"id": "big", "eventData": event("u-3", userAgent="x" * 2000)},
            {"id": "bad", "eventData": "{not json"},
            {"id": "sum", "eventData": event("u-4"), "eventDataChecksum": "AAAA"},
            {"id": "miss", "eventData": json.dumps({"version": "1.0"})},
            {"id": "who", "eventData": event("u-5", recipientAccountId=SEC["id"])},
        ]
        r = data.put_audit_events(channelArn=arn, auditEvents=evs)
        self.assertEqual(sorted(s["id"] for s in r["successful"]), ["ok1", "ok2"])
        failed = {f["id"]: f["errorCode"] for f in r["failed"]}
        self.assertEqual(failed, {"big": "FieldTooLong", "bad": "InvalidData",
                                  "sum": "InvalidChecksum", "miss": "FieldNotFound",
                                  "who": "InvalidRecipient"})
        ids = {s["eventID"] for s in r["successful"]}
        got = self.find_by(lambda rec: rec.get("eventID") in ids, "audit event delivered")
        self.assertEqual(got["eventCategory"], "ActivityAuditLog")
        self.assertEqual(got["metadata"]["channelARN"], arn)
        self.assertIn(got["eventData"]["UID"], ("u-1", "u-2"))
        with self.assertRaises(ClientError) as cm:
            data.put_audit_events(channelArn=arn, auditEvents=[evs[0], evs[0]])
        self.assertEqual(cm.exception.response["Error"]["Code"], "DuplicatedAuditEventId")
        with self.assertRaises(ClientError) as cm:
            self.server.client("cloudtrail-data", "security").put_audit_events(
                channelArn=arn, auditEvents=[evs[1]])
        self.assertEqual(cm.exception.response["Error"]["Code"],
                         "ChannelInsufficientPermission")
        with self.assertRaises(ClientError) as cm:
            data.put_audit_events(channelArn=arn.rsplit("/", 1)[0] + "/" + str(uuid.uuid4()),
                                  auditEvents=[evs[1]])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ChannelNotFound")


def create_groups(server, names, threads):
    """CreateLogGroup for every name, from `threads` concurrent clients of the source account."""
    def work(part):
        logs = server.client("logs", "source")
        for n in part:
            logs.create_log_group(logGroupName=n)

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(work, names[i::threads]) for i in range(threads)]:
            f.result()
    return names


def recorded_groups(server, prefix=""):
    """The logGroupName of every CreateLogGroup record in the source account's event history."""
    ct = server.client("cloudtrail", "source")
    got, kw = set(), {}
    while True:
        page = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                   "AttributeValue": "CreateLogGroup"}],
                                MaxResults=50, **kw)
        for e in page["Events"]:
            name = json.loads(e["CloudTrailEvent"])["requestParameters"]["logGroupName"]
            if name.startswith(prefix):
                got.add(name)
        kw = {"NextToken": page["NextToken"]} if page.get("NextToken") else None
        if not kw:
            return got


class RecorderTest(unittest.TestCase):
    """Asynchronous recording (ct_recorder.c): records of many concurrent calls all arrive,
    and a SIGTERM right after a burst of calls loses none of their records."""

    CALLS = 160
    THREADS = 8

    def burst(self, server, tag):
        """CALLS concurrent CreateLogGroup calls; returns the group names."""
        return create_groups(server, [f"/recorder/{tag}/{i}" for i in range(self.CALLS)],
                             self.THREADS)

    def recorded_groups(self, server):
        return recorded_groups(server)

    def metric(self, server, name):
        _, text = server.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def test_burst_then_sigterm_loses_nothing(self):
        server = harness.Server().start()
        try:
            first = self.burst(server, "a")
            # LookupEvents sees every call answered before it (it waits for the queue).
            self.assertEqual(set(first) - self.recorded_groups(server), set())
            self.assertGreaterEqual(self.metric(server, "ts_cloudtrail_recorded_total"),
                                    self.CALLS)
            # The LookupEvents calls' own records are queued after they answer: the gauge
            # falls back to 0 within a pass.
            harness.wait_for(lambda: self.metric(server, "ts_cloudtrail_queue_records") == 0,
                             timeout=5, what="an empty recorder queue")
            self.assertIn(self.metric(server, "ts_cloudtrail_record_append_errors_total"),
                          (None, 0.0))
            second = self.burst(server, "b")
            # SIGTERM right after the last answer: the stop drains the queue first.
            self.assertEqual(server.stop(), 0)
            again = harness.Server(data_dir=server.data_dir).start()
            try:
                got = self.recorded_groups(again)
                self.assertEqual(set(first + second) - got, set())
            finally:
                again.stop()
                again.cleanup()
        finally:
            server.cleanup()


class TrailRestartTest(unittest.TestCase):
    """Trail delivery across restarts (ct_writer.c cursors): after a SIGTERM every record was
    delivered exactly once and delivery resumes where it stopped; after a kill -9 in the middle
    of a burst, every record the event history holds reaches the log group (at-least-once:
    duplicates allowed, losses not)."""

    CALLS = 120
    THREADS = 6

    def setup_trail(self, server):
        logs = server.client("logs", "source")
        logs.create_log_group(logGroupName="/trail/restart")
        ct = server.client("cloudtrail", "source")
        ct.create_trail(Name="restart", S3BucketName="b",
                        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{SRC['id']}:log-group:"
                                                  "/trail/restart:*",
                        CloudWatchLogsRoleArn=f"arn:aws:iam::{SRC['id']}:role/ct")
        ct.start_logging(Name="restart")

    def burst(self, server, tag):
        return create_groups(server, [f"/restart/{tag}/{i}" for i in range(self.CALLS)],
                             self.THREADS)

    def delivered(self, server):
        """logGroupName -> how many CreateLogGroup records the trail's stream holds."""
        logs = server.client("logs", "source")
        counts, kw = {}, {"logGroupName": "/trail/restart", "logStreamName": STREAM,
                          "startFromHead": True}
        while True:
            try:
                r = logs.get_log_events(**kw)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    return counts
                raise
            for ev in r["events"]:
                rec = json.loads(ev["message"])
                if rec["eventName"] == "CreateLogGroup" and rec.get("errorCode") is None:
                    name = rec["requestParameters"]["logGroupName"]
                    counts[name] = counts.get(name, 0) + 1
            if r["nextForwardToken"] == kw.get("nextToken"):
                return counts
            kw["nextToken"] = r["nextForwardToken"]

    def wait_delivered(self, server, names):
        return harness.wait_for(
            lambda: (lambda c: c if all(n in c for n in names) else None)(self.delivered(server)),
            timeout=20, interval=0.05, what="every record in the trail's log group")

    def test_sigterm_then_kill9(self):
        server = harness.Server().start()
        try:
            self.setup_trail(server)
            first = self.burst(server, "a")
            self.wait_delivered(server, first)
            self.assertEqual(server.stop(), 0)

            again = harness.Server(data_dir=server.data_dir).start()
            second = self.burst(again, "b")
            counts = self.wait_delivered(again, first + second)
            # A graceful stop commits every cursor: nothing is delivered twice.
            dup = {n: c for n, c in counts.items() if n.startswith("/restart/") and c != 1}
            self.assertEqual(dup, {})

            # kill -9 in the middle of a burst, while the trail is delivering.
            third_names = [f"/restart/c/{i}" for i in range(self.CALLS)]
            ex = concurrent.futures.ThreadPoolExecutor(1)
            fut = ex.submit(self.burst, again, "c")
            harness.wait_for(lambda: any(n.startswith("/restart/c/")
                                         for n in self.delivered(again)),
                             timeout=20, interval=0.01, what="delivery of the third burst")
            again.kill()
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - calls fail once the server is gone
                pass
            ex.shutdown()

            third = harness.Server(data_dir=server.data_dir).start()
            try:
                stored = recorded_groups(third, "/restart/c/")
                self.assertTrue(stored)
                counts = self.wait_delivered(third, sorted(stored))
                self.assertEqual({n for n in stored if counts.get(n, 0) < 1}, set())
                self.assertEqual({n for n in third_names if counts.get(n, 0) > 0} - stored,
                                 set(), "delivered records are in the event history")
                self.assertEqual({n: c for n, c in counts.items()
                                  if n.startswith(("/restart/a/", "/restart/b/")) and c != 1},
                                 {})
            finally:
                third.stop()
                third.cleanup()
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
