"""Subscriptions and cross-account destinations, end to end with boto3: the security account
owns a Kinesis stream, a Logs destination on it and an access policy naming the source
account; the source account subscribes its log group; the third account is refused; every
matching event reaches the stream at once, in the exact AWS payload format, in order per log
stream, once. Also: Random distribution, same-account streams, deletion, a missing target
(retries, lag in /metrics, catch-up), destination and filter errors and limits."""

import gzip
import json
import random
import re
import time
import unittest
import uuid

from botocore.exceptions import ClientError

import harness

SEC, SRC, THIRD = "111111111111", "222222222222", "333333333333"
REGION = harness.REGION
ROLE = f"arn:aws:iam::{SEC}:role/CWLtoKinesisRole"
SRC_ROLE = f"arn:aws:iam::{SRC}:role/CWLtoKinesisRole"
LOGIN = '{ $.eventName = "ConsoleLogin" }'
PAYLOAD_KEYS = {"messageType", "owner", "logGroup", "logStream", "subscriptionFilters",
                "logEvents"}


def now_ms():
    return int(time.time() * 1000)


def cloudtrail_event(name, account=SRC, n=0):
    """A CloudTrail-shaped record as one log event message."""
    return json.dumps({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                         "arn": f"arn:aws:iam::{account}:user/developer",
                         "accountId": account, "userName": "developer"},
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eventSource": "signin.amazonaws.com" if name == "ConsoleLogin" else "s3.amazonaws.com",
        "eventName": name, "awsRegion": REGION, "sourceIPAddress": "192.0.2.%d" % (n % 250),
        "userAgent": "Mozilla/5.0 \"quoted\" \\ back\tslash",
        "requestParameters": None if name == "ConsoleLogin" else {"bucketName": "b%d" % n},
        "responseElements": {"ConsoleLogin": "Success"} if name == "ConsoleLogin" else None,
        "eventID": str(uuid.uuid4()), "eventType": "AwsApiCall", "seq": n,
        "recipientAccountId": account}, separators=(",", ":"))


class StreamReader:
    """Reads every record of a stream, shard by shard, remembering where it stopped."""

    def __init__(self, kinesis, name):
        self.k, self.name = kinesis, name
        self.iters = {}
        self.records = []

    def poll(self):
        shards = self.k.list_shards(StreamName=self.name)["Shards"]
        for s in shards:
            sid = s["ShardId"]
            if sid not in self.iters:
                self.iters[sid] = self.k.get_shard_iterator(
                    StreamName=self.name, ShardId=sid,
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while True:
                r = self.k.get_records(ShardIterator=self.iters[sid])
                self.iters[sid] = r["NextShardIterator"]
                for rec in r["Records"]:
                    self.records.append((sid, rec))
                if not r["Records"]:
                    break
        return self.records

    def payloads(self):
        """(shard, partition key, decoded payload) for every record read so far."""
        out = []
        for sid, rec in self.records:
            # botocore already undid the base64 of the JSON protocol: Data is the gzip bytes.
            self_check = rec["Data"][:2]
            assert self_check == b"\x1f\x8b", self_check
            out.append((sid, rec["PartitionKey"], json.loads(gzip.decompress(rec["Data"]))))
        return out

    def data_messages(self):
        return [p for p in self.payloads() if p[2]["messageType"] == "DATA_MESSAGE"]

    def events(self):
        return [e for _, _, p in self.data_messages() for e in p["logEvents"]]


class SubscriptionsTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.sec_logs = s.client("logs", "security")
        cls.sec_kin = s.client("kinesis", "security")
        cls.src_logs = s.client("logs", "source")
        cls.src_kin = s.client("kinesis", "source")
        cls.third_logs = s.client("logs", "third", root=True)

    # ------------------------------------------------------------------ helpers

    def assertError(self, fn, code, message=None, fragment=None, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        if message is not None:
            self.assertEqual(err["Message"], message)
        if fragment is not None:
            self.assertIn(fragment, err["Message"])
        return err

    def uniq(self, base):
        return f"{base}-{random.randrange(1 << 30)}"

    def stream(self, client, shards=2):
        name = self.uniq("siem")
        client.create_stream(StreamName=name, ShardCount=shards)
        client.get_waiter("stream_exists").wait(StreamName=name,
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        arn = client.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamARN"]
        return name, arn

    def destination(self, policy_accounts=(SRC,)):
        name, arn = self.stream(self.sec_kin)
        dname = self.uniq("secDest")
        d = self.sec_logs.put_destination(destinationName=dname, targetArn=arn,
                                          roleArn=ROLE)["destination"]
        if policy_accounts:
            self.sec_logs.put_destination_policy(destinationName=dname, accessPolicy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "", "Effect": "Allow",
                               "Principal": {"AWS": list(policy_accounts)},
                               "Action": "logs:PutSubscriptionFilter",
                               "Resource": d["arn"]}]}))
        return name, arn, dname, d

    def group(self, client, streams=("s1", "s2")):
        g = self.uniq("/trail/audit")
        client.create_log_group(logGroupName=g)
        for s in streams:
            client.create_log_stream(logGroupName=g, logStreamName=s)
        return g

    def put(self, client, group, stream, messages, ts=None):
        t = ts or now_ms()
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": t, "message": m} for m in messages])

    def metric(self, name, labels):
        _, text = self.server.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + "{") and labels in line:
                return float(line.rsplit(" ", 1)[1])
        return None

    # ------------------------------------------------------------------ the real-time path

    def test_cross_account_real_time_path(self):
        sname, sarn, dname, d = self.destination()
        dest_arn = f"arn:aws:logs:{REGION}:{SEC}:destination:{dname}"
        self.assertEqual(d["destinationName"], dname)
        self.assertEqual(d["targetArn"], sarn)
        self.assertEqual(d["roleArn"], ROLE)
        self.assertEqual(d["arn"], dest_arn)
        self.assertIsInstance(d["creationTime"], int)
        self.assertNotIn("accessPolicy", d)
        got = self.sec_logs.describe_destinations(DestinationNamePrefix=dname)["destinations"]
        self.assertEqual(len(got), 1)
        self.assertEqual(json.loads(got[0]["accessPolicy"])["Statement"][0]["Principal"],
                         {"AWS": [SRC]})

        group = self.group(self.src_logs)
        # events before the filter exists are not delivered (no backfill)
        self.put(self.src_logs, group, "s1", [cloudtrail_event("ConsoleLogin", n=-1)])
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="ToSecurity",
                                              filterPattern=LOGIN, destinationArn=dest_arn)
        f = self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"]
        self.assertEqual(len(f), 1)
        self.assertEqual({k: v for k, v in f[0].items() if k != "creationTime"}, {
            "filterName": "ToSecurity", "logGroupName": group, "filterPattern": LOGIN,
            "destinationArn": dest_arn, "distribution": "ByLogStream",
            "applyOnTransformedLogs": False})
        self.assertIsInstance(f[0]["creationTime"], int)

        # The outsider is refused with AWS's error.
        tg = self.group(self.third_logs, streams=())
        self.assertError(self.third_logs.put_subscription_filter, "AccessDeniedException",
                         message=f"User with accountId: {THIRD} is not authorized to perform: "
                                 f"logs:PutSubscriptionFilter on resource: {dest_arn}",
                         logGroupName=tg, filterName="steal", filterPattern="",
                         destinationArn=dest_arn)

        # Matching and non-matching CloudTrail records, several batches, two streams.
        expected = {"s1": [], "s2": []}
        n = 0
        for batch in range(6):
            for stream in ("s1", "s2"):
                msgs = []
                for i in range(7):
                    name = "ConsoleLogin" if (batch + i) % 3 == 0 else "GetObject"
                    m = cloudtrail_event(name, n=n)
                    n += 1
                    msgs.append(m)
                    if name == "ConsoleLogin":
                        expected[stream].append(m)
                self.put(self.src_logs, group, stream, msgs)
        total = sum(len(v) for v in expected.values())

        reader = StreamReader(self.sec_kin, sname)
        harness.wait_for(lambda: len(reader.poll()) and len(reader.events()) >= total,
                         timeout=10, what="the matching events in the security stream")
        time.sleep(0.3)
        reader.poll()
        payloads = reader.payloads()
        controls = [p for _, _, p in payloads if p["messageType"] == "CONTROL_MESSAGE"]
        # one probe when the destination was created, one when the filter was
        self.assertEqual(len(controls), 2)
        for c in controls:
            self.assertEqual(set(c), PAYLOAD_KEYS)
            self.assertEqual((c["owner"], c["logGroup"], c["logStream"],
                              c["subscriptionFilters"]), ("CloudwatchLogs", "", "", []))
            self.assertEqual(len(c["logEvents"]), 1)
            self.assertEqual(c["logEvents"][0]["id"], "")
            self.assertEqual(c["logEvents"][0]["message"],
                             "CWL CONTROL MESSAGE: Checking health of destination Kinesis "
                             "stream.")
        per_stream = {"s1": [], "s2": []}
        ids = set()
        keys = {}
        shards = {}
        for sid, pkey, p in reader.data_messages():
            self.assertEqual(set(p), PAYLOAD_KEYS)
            self.assertEqual(p["messageType"], "DATA_MESSAGE")
            self.assertEqual(p["owner"], SRC)
            self.assertEqual(p["logGroup"], group)
            self.assertIn(p["logStream"], ("s1", "s2"))
            self.assertEqual(p["subscriptionFilters"], ["ToSecurity"])
            self.assertGreaterEqual(len(p["logEvents"]), 1)
            # ByLogStream: one partition key (so one shard) per log stream
            keys.setdefault(p["logStream"], set()).add(pkey)
            shards.setdefault(p["logStream"], set()).add(sid)
            for e in p["logEvents"]:
                self.assertEqual(set(e), {"id", "timestamp", "message"})
                self.assertRegex(e["id"], r"^[0-9]{56}$")
                self.assertIsInstance(e["timestamp"], int)
                self.assertNotIn(e["id"], ids, "an event was delivered twice")
                ids.add(e["id"])
                per_stream[p["logStream"]].append(e["message"])
        self.assertEqual(per_stream, expected)  # exactly the matches, in order, once
        self.assertEqual({s: len(k) for s, k in keys.items()}, {"s1": 1, "s2": 1})
        self.assertEqual({s: len(k) for s, k in shards.items()}, {"s1": 1, "s2": 1})
        # The ids are the ones FilterLogEvents shows (which also has the event put before the
        # filter existed, never delivered).
        fl = self.src_logs.filter_log_events(logGroupName=group, filterPattern=LOGIN)["events"]
        early = [e["eventId"] for e in fl if json.loads(e["message"])["seq"] == -1]
        self.assertEqual(len(early), 1)
        self.assertEqual({e["eventId"] for e in fl} - set(early), ids)
        # Per-subscription metrics.
        labels = f'subscription="{SRC}:{group}:ToSecurity"'
        harness.wait_for(lambda: self.metric("ts_delivery_events_total", labels) == total,
                         timeout=5, what="delivered events metric")
        self.assertEqual(self.metric("ts_delivery_payloads_total", labels),
                         len(reader.data_messages()))
        self.assertGreater(self.metric("ts_delivery_bytes_total", labels), 0)
        harness.wait_for(lambda: self.metric("ts_delivery_lag_events", labels) == 0,
                         timeout=5, what="lag 0")
        self.assertEqual(self.metric("ts_delivery_lag_ms", labels), 0)
        self.assertServerUp()

    def test_latency_is_real_time(self):
        """One event is in the stream within a fraction of a second, without polling delay."""
        sname, sarn, dname, d = self.destination()
        group = self.group(self.src_logs, streams=("only",))
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="rt",
                                              filterPattern="", destinationArn=d["arn"])
        reader = StreamReader(self.sec_kin, sname)
        reader.poll()
        worst = 0
        for i in range(5):
            before = len(reader.events())
            t0 = time.monotonic()
            self.put(self.src_logs, group, "only", [f"event {i}"])
            harness.wait_for(lambda: reader.poll() is not None and
                             len(reader.events()) > before, timeout=5, interval=0.002,
                             what="the event")
            worst = max(worst, time.monotonic() - t0)
        self.assertLess(worst, 0.5)

    def test_random_distribution_same_account_stream(self):
        sname, sarn = self.stream(self.src_kin, shards=4)
        group = self.group(self.src_logs, streams=("a",))
        # a Kinesis stream target needs a role; a destination must not have one
        self.assertError(self.src_logs.put_subscription_filter, "InvalidParameterException",
                         message="destinationArn for vendor kinesis cannot be used without "
                                 "roleArn",
                         logGroupName=group, filterName="r", filterPattern="",
                         destinationArn=sarn)
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="r",
                                              filterPattern="ERROR", destinationArn=sarn,
                                              roleArn=SRC_ROLE, distribution="Random")
        f = self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"][0]
        self.assertEqual((f["distribution"], f["roleArn"]), ("Random", SRC_ROLE))
        want = []
        for i in range(40):
            msgs = [f"ERROR batch {i}", f"INFO batch {i}"]
            want.append(msgs[0])
            self.put(self.src_logs, group, "a", msgs)
        reader = StreamReader(self.src_kin, sname)
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) >= 40,
                         timeout=10, what="40 events")
        got = reader.events()
        self.assertEqual(sorted(e["message"] for e in got), sorted(want))
        keys = {pk for _, pk, p in reader.data_messages()}
        self.assertGreater(len(keys), 1, "Random distribution should vary partition keys")
        for _, pk, _ in reader.data_messages():
            self.assertRegex(pk, r"^[0-9a-f]{32}$")

    def test_delete_filter_stops_delivery(self):
        sname, sarn, dname, d = self.destination()
        group = self.group(self.src_logs, streams=("x",))
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="del",
                                              filterPattern="", destinationArn=d["arn"])
        self.put(self.src_logs, group, "x", ["before delete"])
        reader = StreamReader(self.sec_kin, sname)
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) == 1,
                         timeout=5, what="first event")
        self.src_logs.delete_subscription_filter(logGroupName=group, filterName="del")
        self.assertError(self.src_logs.delete_subscription_filter, "ResourceNotFoundException",
                         message="The specified subscription filter does not exist.",
                         logGroupName=group, filterName="del")
        self.assertEqual(self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"], [])
        # The deleted filter drains: no trail writes its deletion record into this group, so
        # it delivers what arrives during the grace period (5 s), then stops for good.
        self.put(self.src_logs, group, "x", ["during drain"])
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) == 2,
                         timeout=5, what="event put while draining")
        harness.wait_for(lambda: f":{group}:del\" stopped (deleted filter drained)"
                         in self.server.stderr_text(), timeout=15, what="drain end")
        self.put(self.src_logs, group, "x", ["after drain"])
        time.sleep(0.5)
        reader.poll()
        self.assertEqual([e["message"] for e in reader.events()],
                         ["before delete", "during drain"])
        # A new filter of the same name starts fresh: only events after it.
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="del",
                                              filterPattern="", destinationArn=d["arn"])
        self.put(self.src_logs, group, "x", ["after recreate"])
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) == 3,
                         timeout=5, what="event after re-creation")
        time.sleep(0.2)
        reader.poll()
        self.assertEqual([e["message"] for e in reader.events()],
                         ["before delete", "during drain", "after recreate"])
        # Deleting the log group deletes its filters.
        self.src_logs.delete_log_group(logGroupName=group)
        self.src_logs.create_log_group(logGroupName=group)
        self.assertEqual(self.src_logs.describe_subscription_filters(logGroupName=group)[
            "subscriptionFilters"], [])

    def test_missing_target_retries_and_catches_up(self):
        sname, sarn = self.stream(self.src_kin, shards=1)
        group = self.group(self.src_logs, streams=("m",))
        self.src_logs.put_subscription_filter(logGroupName=group, filterName="m",
                                              filterPattern="", destinationArn=sarn,
                                              roleArn=SRC_ROLE)
        self.src_kin.delete_stream(StreamName=sname)
        harness.wait_for(lambda: sname not in self.src_kin.list_streams()["StreamNames"],
                         timeout=10, what="stream deleted")
        want = [f"held {i}" for i in range(25)]
        for i in range(0, 25, 5):
            self.put(self.src_logs, group, "m", want[i:i + 5])
        labels = f'subscription="{SRC}:{group}:m"'
        harness.wait_for(lambda: (self.metric("ts_delivery_errors_total", labels) or 0) >= 2,
                         timeout=10, what="retries counted")
        harness.wait_for(lambda: self.metric("ts_delivery_lag_events", labels) == 25,
                         timeout=5, what="lag visible")
        harness.wait_for(lambda: (self.metric("ts_delivery_lag_ms", labels) or 0) > 0,
                         timeout=5, what="lag in ms visible")
        self.src_kin.create_stream(StreamName=sname, ShardCount=1)
        self.src_kin.get_waiter("stream_exists").wait(
            StreamName=sname, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        reader = StreamReader(self.src_kin, sname)
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) >= 25,
                         timeout=15, what="catch-up after the stream came back")
        time.sleep(0.2)
        reader.poll()
        self.assertEqual([e["message"] for e in reader.events()], want)
        harness.wait_for(lambda: self.metric("ts_delivery_lag_events", labels) == 0,
                         timeout=5, what="lag back to 0")

    # ------------------------------------------------------------------ errors and limits

    def test_destination_errors(self):
        sname, sarn = self.stream(self.sec_kin, shards=1)
        L = self.sec_logs
        self.assertError(L.put_destination, "InvalidParameterException", fragment="targetArn",
                         destinationName="d1", targetArn="arn:aws:sqs:us-east-1:111:q",
                         roleArn=ROLE)
        self.assertError(L.put_destination, "InvalidParameterException", fragment="must belong",
                         destinationName="d1", targetArn=sarn.replace(SEC, SRC), roleArn=ROLE)
        self.assertError(L.put_destination, "InvalidParameterException",
                         fragment="Could not deliver test message", destinationName="d1",
                         targetArn=sarn + "-missing", roleArn=ROLE)
        self.assertError(L.put_destination, "InvalidParameterException", fragment="roleArn",
                         destinationName="d1", targetArn=sarn, roleArn="not-a-role")
        self.assertError(L.put_destination, "InvalidParameterException",
                         fragment="destinationName", destinationName="a:b", targetArn=sarn,
                         roleArn=ROLE)
        base = self.uniq("dst")
        for i in range(3):
            L.put_destination(destinationName=f"{base}-{i}", targetArn=sarn, roleArn=ROLE)
        # update keeps creationTime
        c0 = L.describe_destinations(DestinationNamePrefix=f"{base}-0")["destinations"][0]
        L.put_destination(destinationName=f"{base}-0", targetArn=sarn,
                          roleArn=ROLE.replace("CWLtoKinesisRole", "Other"))
        c1 = L.describe_destinations(DestinationNamePrefix=f"{base}-0")["destinations"][0]
        self.assertEqual(c0["creationTime"], c1["creationTime"])
        self.assertTrue(c1["roleArn"].endswith("role/Other"))
        page = L.describe_destinations(DestinationNamePrefix=base, limit=2)
        self.assertEqual(len(page["destinations"]), 2)
        rest = L.describe_destinations(DestinationNamePrefix=base, nextToken=page["nextToken"])
        self.assertEqual([x["destinationName"] for x in page["destinations"] +
                          rest["destinations"]], [f"{base}-{i}" for i in range(3)])
        self.assertNotIn("nextToken", rest)
        # other accounts do not see them
        self.assertEqual(self.src_logs.describe_destinations(
            DestinationNamePrefix=base)["destinations"], [])
        # policies: malformed ones are refused with the reason
        for bad, frag in (("not json", "not valid JSON"),
                          ('{"Statement":[{"Effect":"Allow","Principal":{"AWS":"12"},'
                           '"Action":"logs:PutSubscriptionFilter","Resource":"*"}]}',
                           "Invalid principal"),
                          ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*",'
                           '"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":'
                           '["o-1"]}}}]}', "Condition"),
                          ('{"Version":"2012-10-17"}', "Statement"),
                          ("x" * 5121, "5120")):
            self.assertError(L.put_destination_policy, "InvalidParameterException",
                             fragment=frag, destinationName=f"{base}-1", accessPolicy=bad)
        self.assertError(L.put_destination_policy, "ResourceNotFoundException",
                         message="The specified destination does not exist.",
                         destinationName=self.uniq("nope"),
                         accessPolicy='{"Statement":[]}')
        L.delete_destination(destinationName=f"{base}-2")
        self.assertError(L.delete_destination, "ResourceNotFoundException",
                         message="The specified destination does not exist.",
                         destinationName=f"{base}-2")

    def test_filter_errors_and_limits(self):
        sname, sarn, dname, d = self.destination()
        S = self.src_logs
        group = self.group(S, streams=())
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         message="destinationArn for vendor logs cannot be used with roleArn",
                         logGroupName=group, filterName="f", filterPattern="",
                         destinationArn=d["arn"], roleArn=SRC_ROLE)
        self.assertError(S.put_subscription_filter, "ResourceNotFoundException",
                         message="The specified log group does not exist.",
                         logGroupName=group + "-none", filterName="f", filterPattern="",
                         destinationArn=d["arn"])
        self.assertError(S.put_subscription_filter, "ResourceNotFoundException",
                         message="The specified destination does not exist.",
                         logGroupName=group, filterName="f", filterPattern="",
                         destinationArn=d["arn"] + "-none")
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         logGroupName=group, filterName="f", filterPattern='{ $.x = ',
                         destinationArn=d["arn"])
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         fragment="distribution", logGroupName=group, filterName="f",
                         filterPattern="", destinationArn=d["arn"], distribution="Sharded")
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         fragment="firehose", logGroupName=group, filterName="f",
                         filterPattern="", roleArn=SRC_ROLE,
                         destinationArn=f"arn:aws:firehose:{REGION}:{SRC}:deliverystream/x")
        # a Kinesis stream of another account directly: refused (use a destination)
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         fragment="destination", logGroupName=group, filterName="f",
                         filterPattern="", destinationArn=sarn, roleArn=SRC_ROLE)
        # two filters per group; updating one of them is not a third
        S.put_subscription_filter(logGroupName=group, filterName="one", filterPattern="",
                                  destinationArn=d["arn"])
        S.put_subscription_filter(logGroupName=group, filterName="two", filterPattern="x",
                                  destinationArn=d["arn"])
        created = S.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        S.put_subscription_filter(logGroupName=group, filterName="two", filterPattern="y",
                                  destinationArn=d["arn"])
        self.assertError(S.put_subscription_filter, "LimitExceededException",
                         logGroupName=group, filterName="three", filterPattern="",
                         destinationArn=d["arn"])
        fs = S.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        self.assertEqual([f["filterName"] for f in fs], ["one", "two"])
        self.assertEqual(fs[1]["filterPattern"], "y")
        self.assertEqual(fs[1]["creationTime"], created[1]["creationTime"])
        page = S.describe_subscription_filters(logGroupName=group, limit=1)
        self.assertEqual([f["filterName"] for f in page["subscriptionFilters"]], ["one"])
        page2 = S.describe_subscription_filters(logGroupName=group, nextToken=page["nextToken"])
        self.assertEqual([f["filterName"] for f in page2["subscriptionFilters"]], ["two"])
        self.assertEqual(S.describe_subscription_filters(
            logGroupName=group, filterNamePrefix="tw")["subscriptionFilters"][0]["filterName"],
            "two")
        # the destination's stream is gone: AWS's probe failure
        g2 = self.group(S, streams=())
        self.sec_kin.delete_stream(StreamName=sname)
        harness.wait_for(lambda: sname not in self.sec_kin.list_streams()["StreamNames"],
                         timeout=10, what="stream deleted")
        self.assertError(S.put_subscription_filter, "InvalidParameterException",
                         message="Could not deliver test message to specified destination. "
                                 "Check if the destination is valid.",
                         logGroupName=g2, filterName="f", filterPattern="",
                         destinationArn=d["arn"])

    def test_deny_wins_and_policy_changes(self):
        sname, sarn, dname, d = self.destination(policy_accounts=())
        S = self.src_logs
        group = self.group(S, streams=("p",))
        denied = (f"User with accountId: {SRC} is not authorized to perform: "
                  f"logs:PutSubscriptionFilter on resource: {d['arn']}")
        # no policy: every other account is refused
        self.assertError(S.put_subscription_filter, "AccessDeniedException", message=denied,
                         logGroupName=group, filterName="f", filterPattern="",
                         destinationArn=d["arn"])
        allow_all = {"Effect": "Allow", "Principal": "*", "Action": "logs:*",
                     "Resource": d["arn"]}
        deny_src = {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{SRC}:root"},
                    "Action": "logs:PutSubscriptionFilter", "Resource": "*"}
        self.sec_logs.put_destination_policy(destinationName=dname, accessPolicy=json.dumps(
            {"Statement": [allow_all, deny_src]}))
        self.assertError(S.put_subscription_filter, "AccessDeniedException", message=denied,
                         logGroupName=group, filterName="f", filterPattern="",
                         destinationArn=d["arn"])
        # a user ARN of the source account, then the account itself
        self.sec_logs.put_destination_policy(destinationName=dname, accessPolicy=json.dumps(
            {"Statement": [dict(allow_all, Principal={
                "AWS": f"arn:aws:iam::{SRC}:user/developer"})]}))
        S.put_subscription_filter(logGroupName=group, filterName="f", filterPattern="",
                                  destinationArn=d["arn"])
        reader = StreamReader(self.sec_kin, sname)
        self.put(S, group, "p", ["allowed"])
        harness.wait_for(lambda: reader.poll() is not None and len(reader.events()) == 1,
                         timeout=5, what="delivery while allowed")
        # The security account withdraws the grant: delivery pauses (events wait).
        self.sec_logs.put_destination_policy(destinationName=dname,
                                             accessPolicy='{"Statement":[]}')
        time.sleep(0.2)
        self.put(S, group, "p", ["held while revoked"])
        time.sleep(0.5)
        reader.poll()
        self.assertEqual(len(reader.events()), 1)
        labels = f'subscription="{SRC}:{group}:f"'
        harness.wait_for(lambda: self.metric("ts_delivery_paused", labels) == 1, timeout=5,
                         what="paused gauge")


if __name__ == "__main__":
    unittest.main()
