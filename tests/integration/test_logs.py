"""CloudWatch Logs end to end with boto3 and the real aws CLI: every operation, its errors and
limits, across two accounts that never see each other's resources."""

import json
import random
import re
import time
import unittest

from botocore.exceptions import ClientError

import harness

DAY = 86400 * 1000


def now_ms():
    return int(time.time() * 1000)


class LogsTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sec = cls.server.client("logs", "security")
        cls.src = cls.server.client("logs", "source")

    def assertError(self, fn, code, fragment=None, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        if fragment:
            self.assertIn(fragment, err["Message"])
        return err

    def group(self, client=None, name=None, streams=("s1",)):
        client = client or self.src
        name = name or f"/test/{self._testMethodName}/{random.randrange(1 << 30)}"
        client.create_log_group(logGroupName=name)
        for s in streams:
            client.create_log_stream(logGroupName=name, logStreamName=s)
        return name

    # ------------------------------------------------------------------ groups

    def test_group_lifecycle_and_describe(self):
        base = f"/lc/{random.randrange(1 << 30)}"
        names = [f"{base}/{c}" for c in ("b", "a", "c", "d", "e")]
        for n in names:
            self.src.create_log_group(logGroupName=n, tags={"team": "sec"})
        self.assertError(self.src.create_log_group, "ResourceAlreadyExistsException",
                         logGroupName=names[0])
        got = self.src.describe_log_groups(logGroupNamePrefix=base)["logGroups"]
        self.assertEqual([g["logGroupName"] for g in got], sorted(names))
        g = got[0]
        self.assertEqual(g["arn"], f"arn:aws:logs:us-east-1:222222222222:log-group:{g['logGroupName']}:*")
        self.assertEqual(g["logGroupArn"], g["arn"][:-2])
        self.assertNotIn("retentionInDays", g)
        self.assertEqual(g["metricFilterCount"], 0)
        self.assertIsInstance(g["creationTime"], int)
        # pagination
        seen, token = [], None
        while True:
            kw = {"logGroupNamePrefix": base, "limit": 2}
            if token:
                kw["nextToken"] = token
            r = self.src.describe_log_groups(**kw)
            self.assertLessEqual(len(r["logGroups"]), 2)
            seen += [x["logGroupName"] for x in r["logGroups"]]
            token = r.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, sorted(names))
        self.assertError(self.src.describe_log_groups, "InvalidParameterException",
                         nextToken="garbage")
        # pattern: substring, fewer fields
        r = self.src.describe_log_groups(logGroupNamePattern=base.split("/")[2] + "/c")
        self.assertEqual([x["logGroupName"] for x in r["logGroups"]], [f"{base}/c"])
        self.assertNotIn("metricFilterCount", r["logGroups"][0])
        self.assertError(self.src.describe_log_groups, "InvalidParameterException",
                         logGroupNamePrefix="a", logGroupNamePattern="b")
        self.assertError(self.src.describe_log_groups, "InvalidParameterException", limit=51)
        # the other account sees none of them
        self.assertEqual(self.sec.describe_log_groups(logGroupNamePrefix=base)["logGroups"], [])
        self.assertError(self.sec.delete_log_group, "ResourceNotFoundException",
                         logGroupName=names[0])
        for n in names:
            self.src.delete_log_group(logGroupName=n)
        self.assertEqual(self.src.describe_log_groups(logGroupNamePrefix=base)["logGroups"], [])
        self.assertError(self.src.delete_log_group, "ResourceNotFoundException",
                         logGroupName=names[0])

    def test_group_name_rules(self):
        for bad in ("has space", "colon:no", "star*", "x" * 513):
            self.assertError(self.src.create_log_group, "InvalidParameterException",
                             logGroupName=bad)
        self.assertError(self.src.create_log_group, "InvalidParameterException",
                         "reserved", logGroupName="aws/lambda/mine")
        self.assertError(self.src.create_log_group, "InvalidParameterException",
                         logGroupName="ok-name", logGroupClass="CHEAP")
        name = "x" * 512
        self.src.create_log_group(logGroupName=name)
        self.src.delete_log_group(logGroupName=name)

    def test_same_name_in_two_accounts_and_regions(self):
        name = f"/shared/{random.randrange(1 << 30)}"
        self.src.create_log_group(logGroupName=name)
        self.sec.create_log_group(logGroupName=name)
        west = self.server.client("logs", "source", region="eu-west-1")
        west.create_log_group(logGroupName=name)
        self.src.create_log_stream(logGroupName=name, logStreamName="s")
        self.src.put_log_events(logGroupName=name, logStreamName="s",
                                logEvents=[{"timestamp": now_ms(), "message": "source only"}])
        self.assertError(self.sec.put_log_events, "ResourceNotFoundException",
                         "log stream", logGroupName=name, logStreamName="s",
                         logEvents=[{"timestamp": now_ms(), "message": "x"}])
        self.assertEqual(self.sec.filter_log_events(logGroupName=name)["events"], [])
        self.assertEqual(west.filter_log_events(logGroupName=name)["events"], [])
        self.assertEqual(len(self.src.filter_log_events(logGroupName=name)["events"]), 1)
        for c in (self.src, self.sec, west):
            c.delete_log_group(logGroupName=name)

    def test_retention(self):
        name = self.group()
        self.assertError(self.src.put_retention_policy, "InvalidParameterException",
                         logGroupName=name, retentionInDays=2)
        self.src.put_retention_policy(logGroupName=name, retentionInDays=1)
        g = self.src.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
        self.assertEqual(g["retentionInDays"], 1)
        # an event older than the retention is rejected as expired, the rest stored
        t = now_ms()
        r = self.src.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
            {"timestamp": t - 2 * DAY, "message": "expired"},
            {"timestamp": t, "message": "kept"}])
        self.assertEqual(r["rejectedLogEventsInfo"], {"expiredLogEventEndIndex": 1})
        msgs = [e["message"] for e in self.src.filter_log_events(logGroupName=name)["events"]]
        self.assertEqual(msgs, ["kept"])
        self.src.delete_retention_policy(logGroupName=name)
        g = self.src.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
        self.assertNotIn("retentionInDays", g)
        # events stored without retention become invisible once a shorter one is set
        self.src.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
            {"timestamp": t - 3 * DAY, "message": "old"}])
        self.assertEqual(len(self.src.filter_log_events(logGroupName=name)["events"]), 2)
        self.src.put_retention_policy(logGroupName=name, retentionInDays=1)
        msgs = [e["message"] for e in self.src.filter_log_events(logGroupName=name)["events"]]
        self.assertEqual(msgs, ["kept"])
        self.assertError(self.src.put_retention_policy, "ResourceNotFoundException",
                         logGroupName=name + "-missing", retentionInDays=1)

    def test_tags(self):
        name = self.group()
        arn = f"arn:aws:logs:us-east-1:222222222222:log-group:{name}"
        self.src.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
        self.assertEqual(self.src.list_tags_for_resource(resourceArn=arn)["tags"],
                         {"a": "1", "b": "2"})
        self.src.untag_resource(resourceArn=arn, tagKeys=["a"])
        self.assertEqual(self.src.list_tags_for_resource(resourceArn=arn + ":*")["tags"],
                         {"b": "2"})
        self.src.tag_log_group(logGroupName=name, tags={"c": "3"})
        self.assertEqual(self.src.list_tags_log_group(logGroupName=name)["tags"],
                         {"b": "2", "c": "3"})
        self.assertError(self.sec.list_tags_for_resource, "ResourceNotFoundException",
                         resourceArn=arn)
        self.assertError(self.src.tag_resource, "InvalidParameterException",
                         resourceArn=arn, tags={"aws:x": "y"})

    # ------------------------------------------------------------------ streams

    def test_streams(self):
        name = self.group(streams=())
        self.assertError(self.src.create_log_stream, "ResourceNotFoundException",
                         logGroupName=name + "-nope", logStreamName="s")
        for s in ("b", "a", "c"):
            self.src.create_log_stream(logGroupName=name, logStreamName=s)
        self.assertError(self.src.create_log_stream, "ResourceAlreadyExistsException",
                         logGroupName=name, logStreamName="a")
        self.assertError(self.src.create_log_stream, "InvalidParameterException",
                         logGroupName=name, logStreamName="bad:name")
        t = now_ms()
        # c gets the oldest event, a the newest
        for s, dt in (("c", -3000), ("b", -2000), ("a", -1000)):
            self.src.put_log_events(logGroupName=name, logStreamName=s,
                                    logEvents=[{"timestamp": t + dt, "message": s}])
        r = self.src.describe_log_streams(logGroupName=name)["logStreams"]
        self.assertEqual([x["logStreamName"] for x in r], ["a", "b", "c"])
        self.assertEqual(r[0]["firstEventTimestamp"], t - 1000)
        self.assertEqual(r[0]["lastEventTimestamp"], t - 1000)
        self.assertGreaterEqual(r[0]["lastIngestionTime"], t - 60000)
        self.assertEqual(r[0]["arn"],
                         f"arn:aws:logs:us-east-1:222222222222:log-group:{name}:log-stream:a")
        r = self.src.describe_log_streams(logGroupName=name, orderBy="LastEventTime")
        self.assertEqual([x["logStreamName"] for x in r["logStreams"]], ["c", "b", "a"])
        r = self.src.describe_log_streams(logGroupName=name, orderBy="LastEventTime",
                                          descending=True, limit=2)
        self.assertEqual([x["logStreamName"] for x in r["logStreams"]], ["a", "b"])
        r = self.src.describe_log_streams(logGroupName=name, orderBy="LastEventTime",
                                          descending=True, limit=2, nextToken=r["nextToken"])
        self.assertEqual([x["logStreamName"] for x in r["logStreams"]], ["c"])
        self.assertNotIn("nextToken", r)
        r = self.src.describe_log_streams(logGroupIdentifier=name, logStreamNamePrefix="b")
        self.assertEqual([x["logStreamName"] for x in r["logStreams"]], ["b"])
        self.assertError(self.src.describe_log_streams, "InvalidParameterException",
                         logGroupName=name, logStreamNamePrefix="a", orderBy="LastEventTime")
        self.assertError(self.src.describe_log_streams, "InvalidParameterException",
                         logGroupName=name, logGroupIdentifier=name)
        put_b = lambda m: self.src.put_log_events(  # noqa: E731
            logGroupName=name, logStreamName="b",
            logEvents=[{"timestamp": now_ms(), "message": m}])
        put_b("before")  # PutLogEvents now remembers the stream's id with its group
        self.src.delete_log_stream(logGroupName=name, logStreamName="b")
        self.assertError(self.src.delete_log_stream, "ResourceNotFoundException",
                         logGroupName=name, logStreamName="b")
        self.assertError(put_b, "ResourceNotFoundException", m="gone")
        # a stream created again under the same name starts empty and takes new events
        self.src.create_log_stream(logGroupName=name, logStreamName="b")
        self.assertEqual(self.src.get_log_events(logGroupName=name, logStreamName="b",
                                                 startFromHead=True)["events"], [])
        put_b("after")
        self.assertEqual([e["message"] for e in self.src.get_log_events(
            logGroupName=name, logStreamName="b", startFromHead=True)["events"]], ["after"])

    # ------------------------------------------------------------------ PutLogEvents

    def test_put_rules(self):
        name = self.group()
        t = now_ms()
        put = lambda evs, **kw: self.src.put_log_events(  # noqa: E731
            logGroupName=name, logStreamName="s1", logEvents=evs, **kw)
        r = put([{"timestamp": t, "message": "one"}], sequenceToken="ignored-anything")
        self.assertRegex(r["nextSequenceToken"], r"^\d{56}$")
        self.assertNotIn("rejectedLogEventsInfo", r)
        self.assertError(put, "InvalidParameterException", "chronological order",
                         evs=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}])
        self.assertError(put, "InvalidParameterException", "cannot span more than 24 hours",
                         evs=[{"timestamp": t - 25 * 3600 * 1000, "message": "a"},
                              {"timestamp": t, "message": "b"}])
        r = put([{"timestamp": t - 15 * DAY, "message": "old1"},
                 {"timestamp": t - 15 * DAY + 1, "message": "old2"},
                 {"timestamp": t, "message": "ok"},
                 {"timestamp": t + 3 * 3600 * 1000, "message": "new"}])
        self.assertEqual(r["rejectedLogEventsInfo"],
                         {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3})
        msgs = [e["message"] for e in self.src.get_log_events(
            logGroupName=name, logStreamName="s1", startFromHead=True)["events"]]
        self.assertEqual(msgs, ["one", "ok"])
        # sizes: 1,048,576 bytes including 26 per event
        big = "x" * (1048576 - 26)
        put([{"timestamp": t, "message": big}])
        self.assertError(put, "InvalidParameterException", "too large",
                         evs=[{"timestamp": t, "message": big + "x"}])
        half = "y" * (524288 - 26)
        self.assertError(put, "InvalidParameterException", "Upload too large",
                         evs=[{"timestamp": t, "message": half}, {"timestamp": t, "message": half + "z"}])
        self.assertError(put, "InvalidParameterException",
                         evs=[{"timestamp": t, "message": "m"}] * 10001)
        put([{"timestamp": t, "message": "m"}] * 10000)
        self.assertError(self.src.put_log_events, "ResourceNotFoundException", "log stream",
                         logGroupName=name, logStreamName="missing",
                         logEvents=[{"timestamp": t, "message": "x"}])
        self.assertError(self.src.put_log_events, "ResourceNotFoundException", "log group",
                         logGroupName=name + "x", logStreamName="s1",
                         logEvents=[{"timestamp": t, "message": "x"}])

    def raw_put(self, body):
        """A PutLogEvents call with an exact body, signed by botocore."""
        import urllib.error
        import urllib.request
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        a = harness.ACCOUNTS["source"]
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=self.server.url + "/", data=body,
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": "Logs_20140328.PutLogEvents"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(a["key"], a["secret"]),
                                "logs", "us-east-1").add_auth(req)
        p = req.prepare()
        r = urllib.request.Request(p.url, data=body, method="POST", headers=dict(p.headers))
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_put_raw_bodies(self):
        name = self.group()
        t = now_ms()
        ev = '{"timestamp": %d, "message": "%%s"}' % t
        good = lambda msgs, extra="": ('{"logGroupName": "%s", %s"logStreamName": "s1", '  # noqa: E731
                                       '"logEvents": [%s]}' % (name, extra, ", ".join(ev % m for m in msgs))).encode()
        # raw UTF-8 (not escaped), also past the first 64 KiB received
        status, r = self.raw_put(good(["B" * 100000 + "caf\u00e9"]))
        self.assertEqual(status, 200, r)
        got = self.src.get_log_events(logGroupName=name, logStreamName="s1", startFromHead=True)
        self.assertEqual(got["events"][-1]["message"], "B" * 100000 + "caf\u00e9")
        # escapes, unicode, member order, unknown and null members
        status, r = self.raw_put(good([r"tab\tquote\" \u00e9\ud83d\ude00 slash\/"],
                                      extra='"sequenceToken": null, "entity": {"keyAttributes": {"a": [1, 2.5e3, true]}}, '))
        self.assertEqual(status, 200, r)
        got = self.src.get_log_events(logGroupName=name, logStreamName="s1", startFromHead=True)
        self.assertEqual(got["events"][-1]["message"], "tab\tquote\" \u00e9\U0001F600 slash/")
        status, r = self.raw_put(('{"logEvents": [{"message": "m", "timestamp": %d}], '
                                  '"logStreamName": "s1", "logGroupName": "%s"}' % (t, name)).encode())
        self.assertEqual(status, 200, r)
        bad = [
            good(["x"]) + b" trailing",
            good(["x"])[:-5],
            good([r"\ud800 lone surrogate"]),
            good([r"bad \q escape"]),
            # raw invalid UTF-8, at the start and past the first 64 KiB received
            good(["ok"]).replace(b"ok", b"\xc3\x28"),
            good(["A" * 100000 + "ok"]).replace(b"ok", b"\xff"),
            b'{"logGroupName": 5, "logStreamName": "s1", "logEvents": []}',
            b'[1, 2]',
            ('{"logGroupName": "%s", "logStreamName": "s1", "logEvents": [{"timestamp": 1.5, "message": "x"}]}' % name).encode(),
            ('{"logGroupName": "%s", "logStreamName": "s1", "logEvents": [{"timestamp": %d, "message": 7}]}' % (name, t)).encode(),
            ('{"logGroupName": "%s", "logStreamName": "s1", "logEvents": {}}' % name).encode(),
            b"{" * 100 + b"}" * 100,
        ]
        for body in bad:
            status, r = self.raw_put(body)
            self.assertEqual((status, r["__type"]), (400, "SerializationException"), body[:80])
        status, r = self.raw_put(('{"logGroupName": "%s", "logEvents": []}' % name).encode())
        self.assertEqual((status, r["__type"]), (400, "InvalidParameterException"))
        self.assertIn("logStreamName", r["message"])
        status, r = self.raw_put(('{"logGroupName": "%s", "logStreamName": "s1", "logEvents": [{"timestamp": %d}]}' % (name, t)).encode())
        self.assertEqual((status, r["__type"]), (400, "InvalidParameterException"))
        self.assertIn("message", r["message"])
        self.assertServerUp()

    def test_put_from_the_cli(self):
        name = self.group()
        t = now_ms()
        events = json.dumps([{"timestamp": t, "message": "from the cli"},
                             {"timestamp": t + 1, "message": "second"}])
        _, out, _ = self.server.aws("logs", "put-log-events", "--log-group-name", name,
                                    "--log-stream-name", "s1", "--log-events", events,
                                    profile="source")
        self.assertIn("nextSequenceToken", json.loads(out))
        _, out, _ = self.server.aws("logs", "get-log-events", "--log-group-name", name,
                                    "--log-stream-name", "s1", "--start-from-head",
                                    profile="source")
        self.assertEqual([e["message"] for e in json.loads(out)["events"]],
                         ["from the cli", "second"])
        _, out, _ = self.server.aws("logs", "filter-log-events", "--log-group-name", name,
                                    "--filter-pattern", "second", profile="source")
        self.assertEqual([e["message"] for e in json.loads(out)["events"]], ["second"])
        _, out, _ = self.server.aws("logs", "describe-log-groups", "--log-group-name-prefix",
                                    name, profile="source")
        self.assertEqual(json.loads(out)["logGroups"][0]["logGroupName"], name)
        rc, _, err = self.server.aws("logs", "describe-log-groups", profile=None,
                                     check=False, env={"AWS_SECRET_ACCESS_KEY": "wrong" * 8,
                                                       "AWS_ACCESS_KEY_ID": harness.ACCOUNTS["security"]["key"]})
        self.assertNotEqual(rc, 0)

    # ------------------------------------------------------------------ GetLogEvents

    def test_get_paging(self):
        name = self.group()
        t = now_ms() - 100000
        self.src.put_log_events(logGroupName=name, logStreamName="s1",
                                logEvents=[{"timestamp": t + i, "message": f"m{i}"} for i in range(25)])
        get = lambda **kw: self.src.get_log_events(  # noqa: E731
            logGroupName=name, logStreamName="s1", **kw)
        # forward from the head
        seen, tok = [], None
        for _ in range(10):
            kw = {"startFromHead": True, "limit": 10}
            if tok:
                kw["nextToken"] = tok
            r = get(**kw)
            seen += [e["message"] for e in r["events"]]
            self.assertTrue(r["nextForwardToken"].startswith("f/"))
            self.assertRegex(r["nextBackwardToken"], r"^b/\d{56}$")
            if r["nextForwardToken"] == tok:
                break
            tok = r["nextForwardToken"]
        self.assertEqual(seen, [f"m{i}" for i in range(25)])
        # default: the newest page, then backwards
        r = get(limit=10)
        self.assertEqual([e["message"] for e in r["events"]], [f"m{i}" for i in range(15, 25)])
        r2 = get(limit=10, nextToken=r["nextBackwardToken"])
        self.assertEqual([e["message"] for e in r2["events"]], [f"m{i}" for i in range(5, 15)])
        r3 = get(limit=10, nextToken=r2["nextBackwardToken"])
        self.assertEqual([e["message"] for e in r3["events"]], [f"m{i}" for i in range(0, 5)])
        # the forward token of the newest page sees only what comes next
        tail = get(nextToken=r["nextForwardToken"], startFromHead=True)
        self.assertEqual(tail["events"], [])
        self.src.put_log_events(logGroupName=name, logStreamName="s1",
                                logEvents=[{"timestamp": t + 100, "message": "late"}])
        tail = get(nextToken=r["nextForwardToken"], startFromHead=True)
        self.assertEqual([e["message"] for e in tail["events"]], ["late"])
        # time range: start inclusive, end exclusive
        r = get(startFromHead=True, startTime=t + 5, endTime=t + 8)
        self.assertEqual([e["message"] for e in r["events"]], ["m5", "m6", "m7"])
        for e in r["events"]:
            self.assertEqual(set(e), {"timestamp", "message", "ingestionTime"})
        # identifier by ARN
        arn = f"arn:aws:logs:us-east-1:222222222222:log-group:{name}"
        r = get(startFromHead=True, limit=1)
        r2 = self.src.get_log_events(logGroupIdentifier=arn, logStreamName="s1",
                                     startFromHead=True, limit=1)
        self.assertEqual(r["events"], r2["events"])
        self.assertError(self.sec.get_log_events, "ResourceNotFoundException",
                         logGroupIdentifier=arn, logStreamName="s1")
        self.assertError(get, "InvalidParameterException", nextToken="f/bogus")
        self.assertError(get, "InvalidParameterException", limit=10001)

    # ------------------------------------------------------------------ FilterLogEvents

    def test_filter_interleaved_and_paged(self):
        name = self.group(streams=("a", "b", "c"))
        t = now_ms() - 50000
        for k, s in enumerate(("a", "b", "c")):
            evs = [{"timestamp": t + 3 * i + k,
                    "message": json.dumps({"n": 3 * i + k, "stream": s, "kind": "odd" if (3 * i + k) % 2 else "even"})}
                   for i in range(20)]
            self.src.put_log_events(logGroupName=name, logStreamName=s, logEvents=evs)
        r = self.src.filter_log_events(logGroupName=name)
        ns = [json.loads(e["message"])["n"] for e in r["events"]]
        self.assertEqual(ns, list(range(60)))
        e = r["events"][0]
        self.assertEqual(e["logStreamName"], "a")
        self.assertRegex(e["eventId"], r"^\d{56}$")
        self.assertEqual(len({x["eventId"] for x in r["events"]}), 60)
        self.assertEqual(r["searchedLogStreams"], [])
        # a JSON pattern, paged by 7
        got, tok = [], None
        while True:
            kw = {"logGroupName": name, "filterPattern": '{ $.kind = "odd" }', "limit": 7}
            if tok:
                kw["nextToken"] = tok
            r = self.src.filter_log_events(**kw)
            got += [json.loads(x["message"])["n"] for x in r["events"]]
            tok = r.get("nextToken")
            if not tok:
                break
        self.assertEqual(got, list(range(1, 60, 2)))
        # stream selection
        r = self.src.filter_log_events(logGroupName=name, logStreamNames=["b", "c"],
                                       filterPattern='{ $.n < 6 }')
        self.assertEqual([x["logStreamName"] for x in r["events"]], ["b", "c", "b", "c"])
        r = self.src.filter_log_events(logGroupName=name, logStreamNamePrefix="c",
                                       startTime=t, endTime=t + 5)
        self.assertEqual([json.loads(x["message"])["n"] for x in r["events"]], [2, 5])
        self.assertError(self.src.filter_log_events, "InvalidParameterException",
                         logGroupName=name, logStreamNames=["a"], logStreamNamePrefix="a")
        err = self.assertError(self.src.filter_log_events, "InvalidParameterException",
                               logGroupName=name, filterPattern='{ $.n = }')
        self.assertTrue(err["Message"])
        self.assertError(self.src.filter_log_events, "ResourceNotFoundException",
                         logGroupName=name + "-nope")
        # the token is bound to its query
        r = self.src.filter_log_events(logGroupName=name, limit=5)
        self.assertError(self.src.filter_log_events, "InvalidParameterException",
                         logGroupName=name, limit=5, filterPattern="x", nextToken=r["nextToken"])

    # ------------------------------------------------------------------ metric filters

    def test_metric_filters(self):
        name = self.group()
        mt = [{"metricName": "RootLogins", "metricNamespace": "CIS", "metricValue": "1"}]
        self.src.put_metric_filter(logGroupName=name, filterName="root",
                                   filterPattern='{ $.userIdentity.type = "Root" }',
                                   metricTransformations=mt)
        self.src.put_metric_filter(logGroupName=name, filterName="bytes",
                                   filterPattern='[ip, user, bytes > 0]',
                                   metricTransformations=[{"metricName": "Bytes",
                                                           "metricNamespace": "Web",
                                                           "metricValue": "$bytes",
                                                           "defaultValue": 0}])
        r = self.src.describe_metric_filters(logGroupName=name)["metricFilters"]
        self.assertEqual([f["filterName"] for f in r], ["bytes", "root"])
        self.assertEqual(r[1]["metricTransformations"][0]["metricName"], "RootLogins")
        self.assertEqual(r[1]["logGroupName"], name)
        r = self.src.describe_metric_filters(logGroupName=name, filterNamePrefix="ro")
        self.assertEqual([f["filterName"] for f in r["metricFilters"]], ["root"])
        r = self.src.describe_metric_filters(metricName="Bytes", metricNamespace="Web")
        self.assertIn("bytes", [f["filterName"] for f in r["metricFilters"]])
        self.assertEqual(self.src.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["metricFilterCount"], 2)
        self.assertError(self.src.put_metric_filter, "InvalidParameterException",
                         logGroupName=name, filterName="bad", filterPattern='{ $.x = ',
                         metricTransformations=mt)
        self.assertError(self.src.put_metric_filter, "InvalidParameterException",
                         logGroupName=name, filterName="bad", filterPattern='x',
                         metricTransformations=[dict(mt[0], metricValue="lots")])
        self.assertError(self.src.describe_metric_filters, "InvalidParameterException",
                         metricName="Bytes")
        t = now_ms()
        self.src.put_log_events(logGroupName=name, logStreamName="s1", logEvents=[
            {"timestamp": t, "message": json.dumps({"userIdentity": {"type": "Root"}})},
            {"timestamp": t, "message": json.dumps({"userIdentity": {"type": "IAMUser"}})},
            {"timestamp": t, "message": "10.0.0.1 alice 512"},
            {"timestamp": t, "message": "10.0.0.2 bob 1000"}])
        _, text = self.server.get("/metrics")
        acct = 'account="222222222222",region="us-east-1"'
        self.assertRegex(text, re.escape(f'ts_logs_metric_filter_matches_total{{{acct},namespace="CIS",metric="RootLogins",dimensions=""}}') + r" 1\b")
        self.assertRegex(text, re.escape(f'ts_logs_metric_filter_value_total{{{acct},namespace="Web",metric="Bytes",dimensions=""}}') + r" 1512\b")
        self.src.delete_metric_filter(logGroupName=name, filterName="root")
        self.assertError(self.src.delete_metric_filter, "ResourceNotFoundException",
                         logGroupName=name, filterName="root")
        self.assertEqual([f["filterName"] for f in self.src.describe_metric_filters(
            logGroupName=name)["metricFilters"]], ["bytes"])

    def test_metric_filter_limit(self):
        name = self.group(streams=())
        mt = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
        for i in range(100):
            self.src.put_metric_filter(logGroupName=name, filterName=f"f{i:03d}",
                                       filterPattern="x", metricTransformations=mt)
        self.assertError(self.src.put_metric_filter, "LimitExceededException",
                         logGroupName=name, filterName="one-more", filterPattern="x",
                         metricTransformations=mt)
        # updating an existing one is not a new filter
        self.src.put_metric_filter(logGroupName=name, filterName="f000", filterPattern="y",
                                   metricTransformations=mt)

    def test_test_metric_filter(self):
        r = self.src.test_metric_filter(
            filterPattern="[ip, user, status = 4*]",
            logEventMessages=["1.2.3.4 alice 404", "1.2.3.4 bob 200", "5.6.7.8 carol 403"])
        self.assertEqual([m["eventNumber"] for m in r["matches"]], [1, 3])
        self.assertEqual(r["matches"][0]["eventMessage"], "1.2.3.4 alice 404")
        self.assertEqual(r["matches"][0]["extractedValues"],
                         {"$ip": "1.2.3.4", "$user": "alice", "$status": "404"})
        r = self.src.test_metric_filter(filterPattern="ERROR",
                                        logEventMessages=["an ERROR here", "fine"])
        self.assertEqual(r["matches"][0]["extractedValues"], {})
        self.assertError(self.src.test_metric_filter, "InvalidParameterException",
                         filterPattern="{ $.a = ", logEventMessages=["x"])

    def test_filter_agrees_with_test_metric_filter(self):
        """Property: for random JSON events and patterns, FilterLogEvents selects exactly the
        events TestMetricFilter says match."""
        rng = random.Random(20261128)
        name = self.group()
        names = ["ConsoleLogin", "GetObject", "PutObject", "DeleteTrail"]
        events = []
        t = now_ms() - 10000
        for i in range(50):
            e = {"eventName": rng.choice(names), "n": rng.randrange(10),
                 "userIdentity": {"type": rng.choice(["Root", "IAMUser"])}}
            if rng.random() < 0.3:
                e["errorCode"] = rng.choice(["AccessDenied", "UnauthorizedOperation"])
            events.append(json.dumps(e, sort_keys=True))
        self.src.put_log_events(logGroupName=name, logStreamName="s1",
                                logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(events)])
        atoms = ['$.eventName = "ConsoleLogin"', "$.n > 4", '$.userIdentity.type = "Root"',
                 '$.errorCode = "*Denied"', "$.errorCode NOT EXISTS", '$.eventName = "*Object"']
        for _ in range(12):
            a, b = rng.sample(atoms, 2)
            pattern = "{ (%s) %s (%s) }" % (a, rng.choice(["&&", "||"]), b)
            filt = [e["message"] for e in self.src.filter_log_events(
                logGroupName=name, filterPattern=pattern)["events"]]
            tested = []
            for chunk in range(0, len(events), 50):
                r = self.src.test_metric_filter(filterPattern=pattern,
                                                logEventMessages=events[chunk:chunk + 50])
                tested += [m["eventMessage"] for m in r["matches"]]
            self.assertEqual(filt, tested, pattern)


class LogsRestartTest(unittest.TestCase):

    def test_events_survive_restart(self):
        s = harness.Server()
        try:
            s.start()
            c = s.client("logs", "source")
            c.create_log_group(logGroupName="/restart")
            c.create_log_stream(logGroupName="/restart", logStreamName="s")
            t = now_ms()
            c.put_log_events(logGroupName="/restart", logStreamName="s",
                             logEvents=[{"timestamp": t + i, "message": f"e{i}"} for i in range(100)])
            s.stop()
            s.start()
            c = s.client("logs", "source")
            r = c.get_log_events(logGroupName="/restart", logStreamName="s", startFromHead=True)
            self.assertEqual([e["message"] for e in r["events"]], [f"e{i}" for i in range(100)])
            self.assertEqual(len(c.describe_log_groups(logGroupNamePrefix="/restart")["logGroups"]), 1)
            s.stop()
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
