"""`kinesis: {limits: aws}` turns on AWS's per-shard write limits; off (the default) does not
throttle."""

import unittest

import harness


class LimitsOnTest(harness.ServerTestCase):
    extra_config = "kinesis:\n  limits: aws\n"

    def test_write_limit_per_shard(self):
        k = self.server.client("kinesis", "security")
        k.create_stream(StreamName="limited", ShardCount=1)
        harness.wait_for(lambda: k.describe_stream_summary(StreamName="limited")
                         ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
        failed = 0
        codes = set()
        # 4 x 500 records at once: well over 1,000 records/s for one shard.
        for _ in range(4):
            r = k.put_records(StreamName="limited", Records=[
                {"Data": b"x" * 10, "PartitionKey": str(i)} for i in range(500)])
            failed += r["FailedRecordCount"]
            codes |= {e.get("ErrorCode") for e in r["Records"] if "ErrorCode" in e}
        self.assertGreater(failed, 0)
        self.assertEqual(codes, {"ProvisionedThroughputExceededException"})


class LimitsOffTest(harness.ServerTestCase):

    def test_no_throttling_by_default(self):
        k = self.server.client("kinesis", "security")
        k.create_stream(StreamName="fast", ShardCount=1)
        harness.wait_for(lambda: k.describe_stream_summary(StreamName="fast")
                         ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
        for _ in range(4):
            r = k.put_records(StreamName="fast", Records=[
                {"Data": b"x" * 10, "PartitionKey": str(i)} for i in range(500)])
            self.assertEqual(r["FailedRecordCount"], 0)


if __name__ == "__main__":
    unittest.main()
