"""Kinesis with the real aws CLI: every operation family once, and the CLI's view of errors."""

import base64
import json
import os
import unittest

import harness


class KinesisCliTest(harness.ServerTestCase):

    def aws_json(self, *args, profile="security"):
        _, out, _ = self.server.aws("kinesis", *args, profile=profile)
        return json.loads(out) if out.strip() else {}

    def test_cli_end_to_end(self):
        self.aws_json("create-stream", "--stream-name", "cli", "--shard-count", "2")
        self.aws_json("wait", "stream-exists", "--stream-name", "cli")
        s = self.aws_json("describe-stream-summary", "--stream-name", "cli")
        self.assertEqual(s["StreamDescriptionSummary"]["OpenShardCount"], 2)
        # AWS CLI v1 takes blob arguments as raw bytes: binary data comes from a file
        path = os.path.join(self.server.tmp, "blob.bin")
        with open(path, "wb") as f:
            f.write(b"\x00hello\xff")
        put = self.aws_json("put-record", "--stream-name", "cli", "--partition-key", "pk1",
                            "--data", "fileb://" + path)
        self.assertEqual(put["ShardId"], "shardId-000000000001")  # MD5("pk1") is in the upper half
        batch = self.aws_json("put-records", "--stream-name", "cli", "--records",
                              json.dumps([{"Data": "r%d" % i, "PartitionKey": "pk1"}
                                          for i in range(3)]))
        self.assertEqual(batch["FailedRecordCount"], 0)
        it = self.aws_json("get-shard-iterator", "--stream-name", "cli", "--shard-id",
                           put["ShardId"], "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
                           "--starting-sequence-number", put["SequenceNumber"])["ShardIterator"]
        recs = self.aws_json("get-records", "--shard-iterator", it)
        self.assertEqual([base64.b64decode(r["Data"]) for r in recs["Records"]],
                         [b"\x00hello\xff", b"r0", b"r1", b"r2"])
        self.assertEqual(recs["Records"][0]["SequenceNumber"], put["SequenceNumber"])
        shards = self.aws_json("list-shards", "--stream-name", "cli")["Shards"]
        self.assertEqual([x["ShardId"] for x in shards],
                         ["shardId-000000000000", "shardId-000000000001"])
        self.aws_json("add-tags-to-stream", "--stream-name", "cli", "--tags", "owner=sec")
        self.assertEqual(self.aws_json("list-tags-for-stream", "--stream-name", "cli")["Tags"],
                         [{"Key": "owner", "Value": "sec"}])
        self.aws_json("increase-stream-retention-period", "--stream-name", "cli",
                      "--retention-period-hours", "72")
        up = self.aws_json("update-shard-count", "--stream-name", "cli", "--target-shard-count",
                           "4", "--scaling-type", "UNIFORM_SCALING")
        self.assertEqual((up["CurrentShardCount"], up["TargetShardCount"]), (2, 4))
        self.assertIn("cli", self.aws_json("list-streams")["StreamNames"])
        self.aws_json("delete-stream", "--stream-name", "cli")
        rc, _, err = self.server.aws("kinesis", "describe-stream", "--stream-name", "cli",
                                     check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)
        self.assertIn("Stream cli under account 111111111111 not found.", err)

    def test_cli_other_account_and_errors(self):
        self.aws_json("create-stream", "--stream-name", "sec-only", "--shard-count", "1")
        rc, _, err = self.server.aws("kinesis", "put-record", "--stream-arn",
                                     "arn:aws:kinesis:us-east-1:111111111111:stream/sec-only",
                                     "--partition-key", "k", "--data", "AA==",
                                     profile="source", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("AccessDeniedException", err)
        rc, _, err = self.server.aws("kinesis", "create-stream", "--stream-name", "sec-only",
                                     "--shard-count", "1", check=False)
        self.assertIn("ResourceInUseException", err)
        rc, _, err = self.server.aws("kinesis", "get-records", "--shard-iterator",
                                     "AAAAAAAAAAFtaXNzaW5n", check=False)
        self.assertIn("InvalidArgumentException", err)


if __name__ == "__main__":
    unittest.main()
