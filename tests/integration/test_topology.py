"""The config file's `topology:` section: the pipeline's resources are provisioned at start
through the real operations (as each account's own principal), exist as if made with the AWS
CLI, carry a source account's calls to the security account's stream, survive a restart
unchanged, and bad entries stop the start with FILE:LINE: key: problem."""

import base64
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import harness

SEC = harness.ACCOUNTS["security"]["id"]
SRC = harness.ACCOUNTS["source"]["id"]
DEST_ARN = f"arn:aws:logs:us-east-1:{SEC}:destination:audit-destination"

TOPOLOGY = f"""topology:
  - account: "{SEC}"
    kinesis_streams: [{{name: audit, shards: 2}}]
    destinations:
      - {{name: audit-destination, target_stream: audit, allow_accounts: ["{SRC}"]}}
  - account: "{SRC}"
    region: us-east-1
    log_groups: [{{name: /trailstream/cloudtrail}}]
    trails: [{{name: main, log_group: /trailstream/cloudtrail, start_logging: true}}]
    subscription_filters:
      - {{log_group: /trailstream/cloudtrail, name: to-security, pattern: "",
          destination: "{DEST_ARN}"}}
"""

SUMMARY = "topology: 1 stream, 1 destination, 1 log group, 1 trail, 1 subscription filter ready"


def stream_payloads(kinesis):
    """Every payload in the stream 'audit', decoded (base64 by botocore, then gzip, JSON)."""
    out = []
    for shard in kinesis.list_shards(StreamName="audit")["Shards"]:
        it = kinesis.get_shard_iterator(StreamName="audit", ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kinesis.get_records(ShardIterator=it, Limit=1000)
            out += [json.loads(gzip.decompress(rec["Data"])) for rec in r["Records"]]
            if not r["Records"] or r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
    return out


class TopologyTest(unittest.TestCase):

    def setUp(self):
        self.server = harness.Server(TOPOLOGY)

    def tearDown(self):
        self.server.cleanup()

    def summary(self):
        lines = [l for l in self.server.stdout_lines if l.startswith("topology: ")]
        self.assertEqual(len(lines), 1, self.server.stdout_lines)
        return lines[0]

    def check_resources(self, s):
        kin = s.client("kinesis", "security")
        self.assertEqual(kin.list_streams()["StreamNames"], ["audit"])
        self.assertEqual(kin.describe_stream_summary(StreamName="audit")
                         ["StreamDescriptionSummary"]["OpenShardCount"], 2)
        dests = s.client("logs", "security").describe_destinations()["destinations"]
        self.assertEqual([d["destinationName"] for d in dests], ["audit-destination"])
        self.assertEqual(dests[0]["targetArn"], f"arn:aws:kinesis:us-east-1:{SEC}:stream/audit")
        self.assertEqual(dests[0]["arn"], DEST_ARN)
        policy = json.loads(dests[0]["accessPolicy"])
        self.assertEqual(policy["Statement"][0]["Principal"], {"AWS": [SRC]})
        logs = s.client("logs", "source")
        groups = logs.describe_log_groups()["logGroups"]
        self.assertEqual([g["logGroupName"] for g in groups], ["/trailstream/cloudtrail"])
        ct = s.client("cloudtrail", "source")
        trails = ct.describe_trails()["trailList"]
        self.assertEqual([t["Name"] for t in trails], ["main"])
        self.assertTrue(trails[0]["CloudWatchLogsLogGroupArn"].startswith(
            f"arn:aws:logs:us-east-1:{SRC}:log-group:/trailstream/cloudtrail"))
        self.assertTrue(ct.get_trail_status(Name="main")["IsLogging"])
        filters = logs.describe_subscription_filters(
            logGroupName="/trailstream/cloudtrail")["subscriptionFilters"]
        self.assertEqual([(f["filterName"], f["filterPattern"], f["destinationArn"])
                          for f in filters], [("to-security", "", DEST_ARN)])

    def source_call_reaches_security(self, s):
        """A source-account call becomes a CloudTrail record in the security stream."""
        marker = "marker-" + uuid.uuid4().hex
        s.client("logs", "source").describe_log_groups(logGroupNamePrefix=marker)
        kin = s.client("kinesis", "security")

        def delivered():
            for m in stream_payloads(kin):
                if m["messageType"] != "DATA_MESSAGE":
                    continue
                for e in m["logEvents"]:
                    r = json.loads(e["message"])
                    if (r.get("requestParameters") or {}).get("logGroupNamePrefix") == marker:
                        return m, r
            return None

        m, r = harness.wait_for(delivered, timeout=15, interval=0.1, what="the record in 'audit'")
        self.assertEqual((m["owner"], m["logGroup"]), (SRC, "/trailstream/cloudtrail"))
        self.assertEqual(m["subscriptionFilters"], ["to-security"])
        self.assertEqual(r["eventName"], "DescribeLogGroups")
        self.assertEqual(r["userIdentity"]["arn"], f"arn:aws:iam::{SRC}:user/developer")

    def test_provisioned_delivers_and_restart_changes_nothing(self):
        s = self.server.start()
        self.assertTrue(self.summary().startswith(SUMMARY + " ("), self.summary())
        self.assertNotIn("no changes", self.summary())
        # The summary comes after the existing start lines.
        self.assertTrue(s.stdout_lines[0].startswith("listening on "))
        self.assertTrue(s.stdout_lines[2].startswith("try: "))
        self.check_resources(s)
        self.source_call_reaches_security(s)
        kin = s.client("kinesis", "security")
        controls = sum(m["messageType"] == "CONTROL_MESSAGE" for m in stream_payloads(kin))
        self.assertEqual(s.stop(), 0)

        # Same config, same data: starts fine, nothing created or put again.
        s.start()
        self.assertEqual(self.summary(), SUMMARY + " (no changes)")
        self.check_resources(s)
        kin = s.client("kinesis", "security")
        self.assertEqual(
            sum(m["messageType"] == "CONTROL_MESSAGE" for m in stream_payloads(kin)), controls)
        self.source_call_reaches_security(s)
        self.assertEqual(s.stop(), 0)


class TopologyErrorsTest(unittest.TestCase):
    """Bad entries stop the start, naming the file, the line and the key; nothing is served."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ts-topo-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_bin(self, *args):
        return subprocess.run([harness.BIN] + list(args), capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def serve(self, path):
        p = self.run_bin("serve", "--config", path, "--data-dir", os.path.join(self.tmp, "d"),
                         "--listen", "127.0.0.1:0")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, "")
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            self.assertNotIn(marker, p.stderr)
        return p

    def write(self, text):
        path = os.path.join(self.tmp, "c.yaml")
        with open(path, "w") as f:
            f.write(harness.config_text(text))
        return path

    def test_invalid_entries_refused_at_load(self):
        cases = [
            (f'topology:\n  - account: "{SEC}"\n    kinesis_streams: [{{name: a, shardz: 2}}]\n',
             ":3: topology.kinesis_streams.shardz: unknown key"),
            (f'topology:\n  - account: "{SEC}"\n    colour: red\n',
             ":3: topology.colour: unknown key"),
            ('topology:\n  - account: "999999999999"\n    log_groups: [{name: g}]\n',
             ":2: topology.account: account 999999999999 is not in 'accounts'"),
            (f'topology:\n  - account: "{SEC}"\n    destinations:\n      - {{name: d}}\n',
             ":4: topology.destinations: 'target_stream' is required"),
            (f'topology:\n  - account: "{SRC}"\n    trails: [{{name: t, start_logging: maybe}}]\n',
             ":3: topology.trails.start_logging: 'maybe' is not true or false"),
        ]
        for text, fragment in cases:
            path = self.write(text)
            p = self.run_bin("check-config", path)
            self.assertEqual(p.returncode, 1, text)
            self.assertIn(path + fragment, p.stderr)
            p = self.serve(path)
            self.assertIn("invalid config: " + path + fragment, p.stderr)

    def test_failing_step_names_its_line(self):
        # The stream the destination targets does not exist: PutDestination refuses it.
        path = self.write(f'topology:\n  - account: "{SEC}"\n    kinesis_streams: [{{name: s}}]\n'
                          "    destinations:\n"
                          "      - {name: d, target_stream: missing}\n")
        self.assertEqual(self.run_bin("check-config", path).returncode, 0)
        p = self.serve(path)
        self.assertIn(f"cannot provision the topology: {path}:5: topology.destinations: "
                      f"destination 'd' of account {SEC} (us-east-1): PutDestination failed: "
                      "InvalidParameterException", p.stderr)
        # A source filter pointing at a destination that does not exist.
        path = self.write(f'topology:\n  - account: "{SRC}"\n    log_groups: [{{name: g}}]\n'
                          "    subscription_filters:\n"
                          f'      - {{log_group: g, name: f, destination: "{DEST_ARN}"}}\n')
        p = self.serve(path)
        self.assertIn(f"{path}:5: topology.subscription_filters: subscription filter 'f' of "
                      f"account {SRC} (us-east-1): PutSubscriptionFilter failed: "
                      "ResourceNotFoundException", p.stderr)


if __name__ == "__main__":
    unittest.main()
