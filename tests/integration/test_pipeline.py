"""The cross-account audit pipeline, end to end with boto3: the security account owns a Kinesis
stream, a Logs destination on it and a policy allowing the source account; the source account
has a log group, a logging trail delivering into it and a subscription filter to the
destination. The source account's API calls arrive on the security account's stream as
CloudTrail records (GetRecords -> gzip -> DATA_MESSAGE -> log events -> records), and the
source account cannot stop that flow without the stopping call (StopLogging, DeleteTrail,
DeleteSubscriptionFilter) appearing on the stream first. Every wait is bounded."""

import gzip
import json
import random
import time
import unittest

import harness

SEC, SRC = "111111111111", "222222222222"
REGION = harness.REGION
ROLE = f"arn:aws:iam::{SEC}:role/CWLtoKinesisRole"
CT_ROLE = f"arn:aws:iam::{SRC}:role/CloudTrail_CWLogs"


class Stream:
    """Reads the security stream shard by shard and decodes CloudTrail records from it."""

    def __init__(self, kinesis, name):
        self.k, self.name = kinesis, name
        self.iters = {}
        self.records = []

    def poll(self):
        for s in self.k.list_shards(StreamName=self.name)["Shards"]:
            sid = s["ShardId"]
            if sid not in self.iters:
                self.iters[sid] = self.k.get_shard_iterator(
                    StreamName=self.name, ShardId=sid,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while True:
                r = self.k.get_records(ShardIterator=self.iters[sid], Limit=1000)
                self.iters[sid] = r["NextShardIterator"]
                for rec in r["Records"]:
                    # botocore undid the base64: Data is the gzip member.
                    payload = json.loads(gzip.decompress(rec["Data"]))
                    if payload["messageType"] != "DATA_MESSAGE":
                        continue
                    for e in payload["logEvents"]:
                        self.records.append(json.loads(e["message"]))
                if not r["Records"]:
                    break
        return self.records

    def find(self, pred, what, timeout=10.0):
        return harness.wait_for(lambda: [r for r in self.poll() if pred(r)], timeout=timeout,
                                interval=0.1, what=what)


class PipelineTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.sec_logs = s.client("logs", "security")
        cls.sec_kin = s.client("kinesis", "security")
        cls.src_logs = s.client("logs", "source")
        cls.src_ct = s.client("cloudtrail", "source")

    def pipeline(self):
        """Builds the whole pipeline; returns (stream reader, trail name, group, filter)."""
        tag = "%08x" % random.randrange(1 << 32)
        sname = f"siem-{tag}"
        self.sec_kin.create_stream(StreamName=sname, ShardCount=1)
        self.sec_kin.get_waiter("stream_exists").wait(
            StreamName=sname, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        sarn = self.sec_kin.describe_stream_summary(StreamName=sname)[
            "StreamDescriptionSummary"]["StreamARN"]
        dname = f"audit-{tag}"
        d = self.sec_logs.put_destination(destinationName=dname, targetArn=sarn,
                                          roleArn=ROLE)["destination"]
        self.sec_logs.put_destination_policy(destinationName=dname, accessPolicy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [SRC]},
                           "Action": "logs:PutSubscriptionFilter", "Resource": d["arn"]}]}))

        group = f"/cloudtrail/{tag}"
        self.src_logs.create_log_group(logGroupName=group)
        trail = f"trail-{tag}"
        self.src_ct.create_trail(
            Name=trail, S3BucketName="audit-bucket",
            CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{SRC}:log-group:{group}:*",
            CloudWatchLogsRoleArn=CT_ROLE)
        self.src_ct.start_logging(Name=trail)
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="ToSecurity",
                                              filterPattern="", destinationArn=d["arn"])
        return Stream(self.sec_kin, sname), trail, group, tag

    def calls_arrive(self, stream, tag):
        """The source account's calls arrive on the security stream as CloudTrail records."""
        marker = f"/app/{tag}"
        rid = self.src_logs.create_log_group(logGroupName=marker)[
            "ResponseMetadata"]["RequestId"]
        recs = stream.find(lambda r: r.get("requestID") == rid, "CreateLogGroup record")
        r = recs[0]
        self.assertEqual(r["eventName"], "CreateLogGroup")
        self.assertEqual(r["eventSource"], "logs.amazonaws.com")
        self.assertEqual(r["userIdentity"]["accountId"], SRC)
        self.assertEqual(r["requestParameters"], {"logGroupName": marker})
        self.assertEqual(r["recipientAccountId"], SRC)
        # The pipeline's own set-up calls were recorded too (after StartLogging).
        names = {x["eventName"] for x in stream.poll()}
        self.assertIn("PutSubscriptionFilter", names)

    def assertStopArrives(self, stream, op_name, rid):
        recs = stream.find(lambda r: r.get("requestID") == rid, f"{op_name} record")
        self.assertEqual(recs[0]["eventName"], op_name)
        self.assertEqual(recs[0]["userIdentity"]["accountId"], SRC)
        self.assertEqual(recs[0]["eventSource"], "cloudtrail.amazonaws.com")

    def test_stop_logging_is_delivered_first(self):
        stream, trail, _, tag = self.pipeline()
        self.calls_arrive(stream, tag)
        rid = self.src_ct.stop_logging(Name=trail)["ResponseMetadata"]["RequestId"]
        self.assertStopArrives(stream, "StopLogging", rid)
        # The trail stopped at that record: a later call is not delivered.
        after = self.src_logs.create_log_group(logGroupName=f"/after/{tag}")[
            "ResponseMetadata"]["RequestId"]
        status = self.src_ct.get_trail_status(Name=trail)
        self.assertFalse(status["IsLogging"])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.1)
            self.assertFalse([r for r in stream.poll() if r.get("requestID") == after])
        self.assertFalse([r for r in stream.poll() if r.get("requestID") == after])
        self.assertServerUp()

    def test_delete_trail_is_delivered_first(self):
        stream, trail, _, tag = self.pipeline()
        self.calls_arrive(stream, tag)
        rid = self.src_ct.delete_trail(Name=trail)["ResponseMetadata"]["RequestId"]
        self.assertStopArrives(stream, "DeleteTrail", rid)
        self.assertServerUp()

    def test_delete_subscription_filter_is_delivered_first(self):
        stream, _, group, tag = self.pipeline()
        self.calls_arrive(stream, tag)
        rid = self.src_logs.delete_subscription_filter(
            logGroupName=group, filterName="ToSecurity")["ResponseMetadata"]["RequestId"]
        # Gone from the API at once, while it drains.
        self.assertEqual(self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"], [])
        recs = stream.find(lambda r: r.get("requestID") == rid, "DeleteSubscriptionFilter")
        self.assertEqual(recs[0]["eventName"], "DeleteSubscriptionFilter")
        self.assertEqual(recs[0]["userIdentity"]["accountId"], SRC)
        # The drain ended at that record: a later call is not delivered.
        after = self.src_logs.create_log_group(logGroupName=f"/after/{tag}")[
            "ResponseMetadata"]["RequestId"]
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.1)
            self.assertFalse([r for r in stream.poll() if r.get("requestID") == after])
        self.assertServerUp()

    def test_deleted_filter_frees_its_name_and_slot_at_once(self):
        stream, _, group, tag = self.pipeline()
        self.calls_arrive(stream, tag)
        dest = self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"][0]["destinationArn"]
        rid = self.src_logs.delete_subscription_filter(
            logGroupName=group, filterName="ToSecurity")["ResponseMetadata"]["RequestId"]
        # While the old filter drains, the same name and both slots of the group are free.
        for name in ("ToSecurity", "Second"):
            self.src_logs.put_subscription_filter(logGroupName=group, filterName=name,
                                                  filterPattern="", destinationArn=dest)
        names = [f["filterName"] for f in self.src_logs.describe_subscription_filters(
            logGroupName=group)["subscriptionFilters"]]
        self.assertEqual(sorted(names), ["Second", "ToSecurity"])
        stream.find(lambda r: r.get("requestID") == rid, "DeleteSubscriptionFilter")
        # The new filters deliver (a call after the re-creation arrives).
        later = self.src_logs.create_log_group(logGroupName=f"/later/{tag}")[
            "ResponseMetadata"]["RequestId"]
        stream.find(lambda r: r.get("requestID") == later, "call after re-creation")
        self.assertServerUp()

if __name__ == "__main__":
    unittest.main()
