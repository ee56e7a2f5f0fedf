"""Kinesis Data Streams end to end with boto3 (and raw CBOR requests) against a real server.

Covers: MD5 routing of 10,000 random keys and explicit hash keys to the right shard, binary
round trips, every iterator type, per-shard sequence order across a restart, iterator tampering,
cross-account isolation, resharding lineage and per-key order, errors, and the CBOR protocol.
"""

import base64
import hashlib
import os
import random
import struct
import time
import unittest
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNTS

MAX_HASH = 2 ** 128 - 1


def md5_hash(key):
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")


def shard_for(shards, h):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    return None


def open_shards(client, name):
    return [s for s in client.list_shards(StreamName=name)["Shards"]
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def read_all(client, name, shard_id, it_type="TRIM_HORIZON"):
    """Every record of a shard from it_type on, following NextShardIterator until caught up."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                   ShardIteratorType=it_type)["ShardIterator"]
    out = []
    while it:
        r = client.get_records(ShardIterator=it)
        out.extend(r["Records"])
        it = r.get("NextShardIterator")
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            break
    return out


class KinesisTest(harness.ServerTestCase):

    def setUp(self):
        self.k = self.server.client("kinesis")

    def code(self, ctx):
        return ctx.exception.response["Error"]["Code"]

    def test_routing_10000_random_keys(self):
        self.k.create_stream(StreamName="route", ShardCount=7)
        shards = self.k.describe_stream(StreamName="route")["StreamDescription"]["Shards"]
        self.assertEqual(len(shards), 7)
        self.assertEqual(shards[0]["HashKeyRange"]["StartingHashKey"], "0")
        self.assertEqual(shards[-1]["HashKeyRange"]["EndingHashKey"], str(MAX_HASH))
        rnd = random.Random(1234)
        keys = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789-é")
                        for _ in range(rnd.randint(1, 40))) for _ in range(10000)]
        for i in range(0, len(keys), 500):
            batch = keys[i:i + 500]
            r = self.k.put_records(StreamName="route", Records=[
                {"Data": k.encode(), "PartitionKey": k} for k in batch])
            self.assertEqual(r["FailedRecordCount"], 0)
            for key, res in zip(batch, r["Records"]):
                self.assertEqual(res["ShardId"], shard_for(shards, md5_hash(key)), key)
        # Explicit hash keys: both ends of the space and of every shard.
        explicit = [0, MAX_HASH]
        for s in shards:
            explicit += [int(s["HashKeyRange"]["StartingHashKey"]),
                         int(s["HashKeyRange"]["EndingHashKey"])]
        r = self.k.put_records(StreamName="route", Records=[
            {"Data": b"x", "PartitionKey": "ignored", "ExplicitHashKey": str(h)} for h in explicit])
        self.assertEqual(r["FailedRecordCount"], 0)
        for h, res in zip(explicit, r["Records"]):
            self.assertEqual(res["ShardId"], shard_for(shards, h), h)
        r = self.k.put_record(StreamName="route", Data=b"x", PartitionKey="p",
                              ExplicitHashKey=str(MAX_HASH))
        self.assertEqual(r["ShardId"], shards[-1]["ShardId"])
        with self.assertRaises(ClientError) as ctx:
            self.k.put_record(StreamName="route", Data=b"x", PartitionKey="p",
                              ExplicitHashKey=str(MAX_HASH + 1))
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        self.assertIn("ExplicitHashKey must be in the range", str(ctx.exception))

    def test_binary_round_trip(self):
        self.k.create_stream(StreamName="bin", ShardCount=1)
        rnd = random.Random(7)
        payloads = [b"", bytes(range(256)), b"\x00" * 1000, os.urandom(4096),
                    bytes(rnd.getrandbits(8) for _ in range(1024 * 1024 - 10))]
        seqs = []
        for i, p in enumerate(payloads):
            seqs.append(self.k.put_record(StreamName="bin", Data=p,
                                          PartitionKey="k%d" % i)["SequenceNumber"])
        # exactly 1 MiB of data + key is the limit
        with self.assertRaises(ClientError) as ctx:
            self.k.put_record(StreamName="bin", Data=b"z" * (1024 * 1024), PartitionKey="k")
        self.assertEqual(self.code(ctx), "ValidationException")
        recs = read_all(self.k, "bin", "shardId-000000000000")
        self.assertEqual([r["Data"] for r in recs], payloads)
        self.assertEqual([r["SequenceNumber"] for r in recs], seqs)
        self.assertEqual([r["PartitionKey"] for r in recs], ["k%d" % i for i in range(5)])
        for r in recs:
            self.assertEqual(len(r["SequenceNumber"]), 56)
            self.assertIsNotNone(r["ApproximateArrivalTimestamp"].tzinfo)

    def test_iterator_types(self):
        self.k.create_stream(StreamName="its", ShardCount=1)
        sid = "shardId-000000000000"
        seqs = [self.k.put_record(StreamName="its", Data=b"r%d" % i,
                                  PartitionKey="pk")["SequenceNumber"] for i in range(5)]
        # boto3 sends timestamps in whole seconds: put the second half in a later second
        time.sleep(1.02 - time.time() % 1)
        mid = self.k.put_records(StreamName="its", Records=[
            {"Data": b"r%d" % i, "PartitionKey": "pk"} for i in range(5, 10)])
        seqs += [r["SequenceNumber"] for r in mid["Records"]]
        self.assertEqual(seqs, sorted(seqs, key=int))
        self.assertEqual(len(set(seqs)), 10)

        def first(it_type, **kw):
            it = self.k.get_shard_iterator(StreamName="its", ShardId=sid,
                                           ShardIteratorType=it_type, **kw)["ShardIterator"]
            recs = self.k.get_records(ShardIterator=it)["Records"]
            return [r["Data"] for r in recs]

        self.assertEqual(first("TRIM_HORIZON")[0], b"r0")
        self.assertEqual(first("AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[3])[0], b"r3")
        self.assertEqual(first("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[3])[0], b"r4")
        self.assertEqual(first("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[9]), [])
        start = self.k.list_shards(StreamName="its")["Shards"][0]["SequenceNumberRange"]
        self.assertEqual(first("AT_SEQUENCE_NUMBER",
                               StartingSequenceNumber=start["StartingSequenceNumber"])[0], b"r0")
        ts = self.k.get_records(ShardIterator=self.k.get_shard_iterator(
            StreamName="its", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=seqs[5])["ShardIterator"], Limit=1)["Records"][0][
                "ApproximateArrivalTimestamp"]
        self.assertEqual(first("AT_TIMESTAMP", Timestamp=ts)[0], b"r5")
        self.assertEqual(first("AT_TIMESTAMP", Timestamp=0)[0], b"r0")
        it = self.k.get_shard_iterator(StreamName="its", ShardId=sid,
                                       ShardIteratorType="LATEST")["ShardIterator"]
        r = self.k.get_records(ShardIterator=it)
        self.assertEqual(r["Records"], [])
        self.assertEqual(r["MillisBehindLatest"], 0)
        self.k.put_record(StreamName="its", Data=b"new", PartitionKey="pk")
        r2 = self.k.get_records(ShardIterator=r["NextShardIterator"])
        self.assertEqual([x["Data"] for x in r2["Records"]], [b"new"])
        # the used iterator stays valid (5 minutes) and reads the same again
        self.assertEqual([x["Data"] for x in self.k.get_records(
            ShardIterator=r["NextShardIterator"])["Records"]], [b"new"])
        # Limit, and MillisBehindLatest from the tip
        lim = self.k.get_records(ShardIterator=self.k.get_shard_iterator(
            StreamName="its", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"],
            Limit=3)
        self.assertEqual(len(lim["Records"]), 3)
        self.assertGreater(lim["MillisBehindLatest"], 0)
        for kw, code in [
                ({"ShardIteratorType": "AT_SEQUENCE_NUMBER"}, "InvalidArgumentException"),
                ({"ShardIteratorType": "LATEST", "StartingSequenceNumber": seqs[0]},
                 "InvalidArgumentException"),
                ({"ShardIteratorType": "AT_TIMESTAMP"}, "InvalidArgumentException"),
                ({"ShardIteratorType": "AT_SEQUENCE_NUMBER",
                  "StartingSequenceNumber": "12345"}, "InvalidArgumentException")]:
            with self.assertRaises(ClientError) as ctx:
                self.k.get_shard_iterator(StreamName="its", ShardId=sid, **kw)
            self.assertEqual(self.code(ctx), code, kw)
        with self.assertRaises(ClientError) as ctx:
            self.k.get_shard_iterator(StreamName="its", ShardId="shardId-000000000042",
                                      ShardIteratorType="LATEST")
        self.assertEqual(self.code(ctx), "ResourceNotFoundException")

    def test_iterator_tampering(self):
        self.k.create_stream(StreamName="tamper", ShardCount=1)
        self.k.put_record(StreamName="tamper", Data=b"secret", PartitionKey="pk")
        it = self.k.get_shard_iterator(StreamName="tamper", ShardId="shardId-000000000000",
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertLessEqual(len(it), 512)
        raw = bytearray(base64.b64decode(it))
        for pos in (0, 5, 12, 20, len(raw) // 2, len(raw) - 20, len(raw) - 1):
            bad = bytearray(raw)
            bad[pos] ^= 0x01
            with self.assertRaises(ClientError) as ctx:
                self.k.get_records(ShardIterator=base64.b64encode(bytes(bad)).decode())
            self.assertEqual(self.code(ctx), "InvalidArgumentException")
            self.assertEqual(ctx.exception.response["Error"]["Message"], "Invalid ShardIterator.")
        for junk in ("AAAA", "not-an-iterator", it[:-4]):
            with self.assertRaises(ClientError) as ctx:
                self.k.get_records(ShardIterator=junk)
            self.assertEqual(self.code(ctx), "InvalidArgumentException")
        # bound to the account and the region
        other = self.server.client("kinesis", account="source")
        with self.assertRaises(ClientError) as ctx:
            other.get_records(ShardIterator=it)
        self.assertEqual(self.code(ctx), "AccessDeniedException")
        west = self.server.client("kinesis", region="eu-west-1")
        with self.assertRaises(ClientError) as ctx:
            west.get_records(ShardIterator=it)
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        self.assertEqual(self.k.get_records(ShardIterator=it)["Records"][0]["Data"], b"secret")

    def test_accounts_are_isolated(self):
        self.k.create_stream(StreamName="mine", ShardCount=1)
        other = self.server.client("kinesis", account="source")
        self.assertNotIn("mine", other.list_streams()["StreamNames"])
        with self.assertRaises(ClientError) as ctx:
            other.describe_stream(StreamName="mine")
        self.assertEqual(self.code(ctx), "ResourceNotFoundException")
        self.assertIn("under account 222222222222 not found", str(ctx.exception))
        arn = self.k.describe_stream_summary(StreamName="mine")[
            "StreamDescriptionSummary"]["StreamARN"]
        self.assertEqual(arn, "arn:aws:kinesis:us-east-1:111111111111:stream/mine")
        with self.assertRaises(ClientError) as ctx:
            other.put_record(StreamARN=arn, Data=b"x", PartitionKey="p")
        self.assertEqual(self.code(ctx), "AccessDeniedException")
        # the owner may use the ARN; the same name in another account is another stream
        self.k.put_record(StreamARN=arn, Data=b"x", PartitionKey="p")
        other.create_stream(StreamName="mine", ShardCount=2)
        self.assertEqual(other.describe_stream_summary(StreamName="mine")[
            "StreamDescriptionSummary"]["OpenShardCount"], 2)

    def test_resharding_keeps_per_key_order(self):
        self.k.create_stream(StreamName="reshard", ShardCount=2)
        keys = ["key-%d" % i for i in range(40)]
        rounds = 0

        def put_round():
            r = self.k.put_records(StreamName="reshard", Records=[
                {"Data": b"%d" % rounds, "PartitionKey": k} for k in keys])
            self.assertEqual(r["FailedRecordCount"], 0)

        put_round()
        for target in (3, 5, 4, 2):
            rounds += 1
            r = self.k.update_shard_count(StreamName="reshard", TargetShardCount=target,
                                          ScalingType="UNIFORM_SCALING")
            self.assertEqual(r["TargetShardCount"], target)
            self.assertEqual(len(open_shards(self.k, "reshard")), target)
            put_round()
        shards = self.k.list_shards(StreamName="reshard")["Shards"]
        by_id = {s["ShardId"]: s for s in shards}
        # lineage: every parent listed, closed, and older
        for s in shards:
            for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")):
                if p:
                    self.assertIn("EndingSequenceNumber", by_id[p]["SequenceNumberRange"])
                    self.assertLess(int(by_id[p]["SequenceNumberRange"]["StartingSequenceNumber"]),
                                    int(s["SequenceNumberRange"]["StartingSequenceNumber"]))
        # read parents before children (topological order), as KCL does
        done, order = set(), []
        while len(order) < len(shards):
            for s in shards:
                parents = {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None}
                if s["ShardId"] not in done and parents <= done:
                    order.append(s["ShardId"])
                    done.add(s["ShardId"])
        seen = {k: [] for k in keys}
        for sid in order:
            it = self.k.get_shard_iterator(StreamName="reshard", ShardId=sid,
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            r = self.k.get_records(ShardIterator=it)
            for rec in r["Records"]:
                seen[rec["PartitionKey"]].append(int(rec["Data"]))
            if "EndingSequenceNumber" in by_id[sid]["SequenceNumberRange"]:
                # a closed shard ends: no next iterator, its children named
                self.assertIsNone(r.get("NextShardIterator"))
                self.assertTrue(r["ChildShards"])
                for c in r["ChildShards"]:
                    self.assertIn(sid, c["ParentShards"])
        for k in keys:
            self.assertEqual(seen[k], list(range(rounds + 1)), k)
        with self.assertRaises(ClientError) as ctx:
            self.k.update_shard_count(StreamName="reshard", TargetShardCount=5,
                                      ScalingType="UNIFORM_SCALING")
        self.assertEqual(self.code(ctx), "LimitExceededException")

    def test_stream_lifecycle_and_errors(self):
        k = self.k
        k.create_stream(StreamName="life", ShardCount=2, Tags={"team": "sec"})
        k.get_waiter("stream_exists").wait(StreamName="life",
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 2})
        with self.assertRaises(ClientError) as ctx:
            k.create_stream(StreamName="life", ShardCount=2)
        self.assertEqual(self.code(ctx), "ResourceInUseException")
        d = k.describe_stream(StreamName="life")["StreamDescription"]
        self.assertEqual((d["StreamStatus"], d["RetentionPeriodHours"], d["HasMoreShards"]),
                         ("ACTIVE", 24, False))
        self.assertEqual(k.describe_stream(StreamName="life", Limit=1)["StreamDescription"][
            "HasMoreShards"], True)
        k.increase_stream_retention_period(StreamName="life", RetentionPeriodHours=168)
        with self.assertRaises(ClientError) as ctx:
            k.increase_stream_retention_period(StreamName="life", RetentionPeriodHours=8761)
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        with self.assertRaises(ClientError) as ctx:
            k.decrease_stream_retention_period(StreamName="life", RetentionPeriodHours=200)
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        k.decrease_stream_retention_period(StreamName="life", RetentionPeriodHours=48)
        self.assertEqual(k.describe_stream_summary(StreamName="life")[
            "StreamDescriptionSummary"]["RetentionPeriodHours"], 48)
        k.add_tags_to_stream(StreamName="life", Tags={"env": "prod"})
        tags = k.list_tags_for_stream(StreamName="life")
        self.assertEqual(tags["Tags"], [{"Key": "env", "Value": "prod"},
                                        {"Key": "team", "Value": "sec"}])
        self.assertFalse(tags["HasMoreTags"])
        with self.assertRaises(ClientError) as ctx:
            k.add_tags_to_stream(StreamName="life",
                                 Tags={"t%d" % i: "v" for i in range(49)})
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        # ListStreams paging and ListShards filters
        for i in range(3):
            k.create_stream(StreamName="page-%d" % i, ShardCount=1)
        page = k.list_streams(Limit=2)
        self.assertTrue(page["HasMoreStreams"])
        rest = k.list_streams(NextToken=page["NextToken"])
        names = page["StreamNames"] + rest["StreamNames"]
        self.assertEqual(names, sorted(names))
        self.assertTrue({"life", "page-0", "page-1", "page-2"} <= set(names))
        ls = k.list_shards(StreamName="life", MaxResults=1)
        self.assertEqual(len(ls["Shards"]), 1)
        ls2 = k.list_shards(NextToken=ls["NextToken"])
        self.assertEqual([s["ShardId"] for s in ls2["Shards"]], ["shardId-000000000001"])
        after = k.list_shards(StreamName="life", ShardFilter={
            "Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000000"})
        self.assertEqual(len(after["Shards"]), 1)
        # request-level validation errors boto3 lets through
        with self.assertRaises(ClientError) as ctx:
            k.put_records(StreamName="life", Records=[
                {"Data": b"x", "PartitionKey": "p"}] * 501)
        self.assertEqual(self.code(ctx), "ValidationException")
        with self.assertRaises(ClientError) as ctx:
            k.put_records(StreamName="life", Records=[
                {"Data": b"x" * (1000 * 1000), "PartitionKey": "p"}] * 6)
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        with self.assertRaises(ClientError) as ctx:
            k.get_records(ShardIterator="x" * 10, Limit=10001)
        self.assertEqual(self.code(ctx), "InvalidArgumentException")
        k.delete_stream(StreamName="life")
        for call in (lambda: k.describe_stream(StreamName="life"),
                     lambda: k.put_record(StreamName="life", Data=b"x", PartitionKey="p"),
                     lambda: k.delete_stream(StreamName="life")):
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertEqual(self.code(ctx), "ResourceNotFoundException")
            self.assertEqual(ctx.exception.response["Error"]["Message"],
                             "Stream life under account 111111111111 not found.")

    def test_on_demand(self):
        self.k.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        s = self.k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
        self.assertEqual(s["StreamModeDetails"]["StreamMode"], "ON_DEMAND")
        self.assertEqual(s["OpenShardCount"], 4)


class KinesisRestartTest(unittest.TestCase):
    """Sequence numbers increase per shard and survive a clean restart."""

    def test_sequence_numbers_survive_restart(self):
        srv = harness.Server().start()
        try:
            k = srv.client("kinesis")
            k.create_stream(StreamName="durable", ShardCount=3)
            acked = {}
            for rnd in range(2):
                r = k.put_records(StreamName="durable", Records=[
                    {"Data": b"%d-%d" % (rnd, i), "PartitionKey": "p%d" % i} for i in range(60)])
                for i, res in enumerate(r["Records"]):
                    acked.setdefault(res["ShardId"], []).append(
                        (res["SequenceNumber"], b"%d-%d" % (rnd, i)))
            it = k.get_shard_iterator(StreamName="durable", ShardId="shardId-000000000000",
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            srv.stop()
            srv.start()
            k = srv.client("kinesis")
            # iterators are sealed with the data directory's key: still valid after a restart
            self.assertEqual(len(k.get_records(ShardIterator=it)["Records"]),
                             len(acked["shardId-000000000000"]))
            r = k.put_records(StreamName="durable", Records=[
                {"Data": b"2-%d" % i, "PartitionKey": "p%d" % i} for i in range(60)])
            for i, res in enumerate(r["Records"]):
                acked[res["ShardId"]].append((res["SequenceNumber"], b"2-%d" % i))
            for sid, want in acked.items():
                seqs = [int(s) for s, _ in want]
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), len(seqs))
                got = [(x["SequenceNumber"], x["Data"]) for x in read_all(k, "durable", sid)]
                self.assertEqual(got, want)
        finally:
            srv.stop()
            srv.cleanup()


# ---------------------------------------------------------------- CBOR (AWS SDK for Java)

def cbor_encode(v):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | ai]) + struct.pack(fmt, n)
        raise ValueError(n)
    if v is None:
        return b"\xf6"
    if v is True or v is False:
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(x) for k, x in v.items())
    if isinstance(v, tuple) and v[0] == "tag":
        return head(6, v[1]) + cbor_encode(v[2])
    raise TypeError(v)


def cbor_decode(b):
    def item(i):
        ib = b[i]
        major, ai = ib >> 5, ib & 31
        i += 1
        if ai < 24:
            n = ai
        else:
            size = 1 << (ai - 24)
            n = int.from_bytes(b[i:i + size], "big")
            if major == 7:
                raw = b[i:i + size]
                i += size
                return {2: lambda: struct.unpack(">e", raw)[0],
                        4: lambda: struct.unpack(">f", raw)[0],
                        8: lambda: struct.unpack(">d", raw)[0]}[size](), i
            i += size
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major == 2:
            return bytes(b[i:i + n]), i + n
        if major == 3:
            return b[i:i + n].decode(), i + n
        if major == 4:
            out = []
            for _ in range(n):
                x, i = item(i)
                out.append(x)
            return out, i
        if major == 5:
            out = {}
            for _ in range(n):
                key, i = item(i)
                out[key], i = item(i)
            return out, i
        if major == 6:
            x, i = item(i)
            return ("tag", n, x), i
        return {20: False, 21: True, 22: None}[ai], i
    v, end = item(0)
    assert end == len(b)
    return v


class KinesisCborTest(harness.ServerTestCase):

    def call(self, op, body, account="security"):
        a = ACCOUNTS[account]
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=self.server.url + "/", data=cbor_encode(body),
            headers={"Content-Type": "application/x-amz-cbor-1.1",
                     "X-Amz-Target": "Kinesis_20131202." + op})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(a["key"], a["secret"]),
                                "kinesis", harness.REGION).add_auth(req)
        p = req.prepare()
        r = urllib.request.Request(p.url, data=p.body, method="POST", headers=dict(p.headers))
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, resp.headers["Content-Type"], cbor_decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Type"], cbor_decode(e.read())

    def test_cbor_put_and_get(self):
        st, ct, out = self.call("CreateStream", {"StreamName": "cbor", "ShardCount": 1})
        self.assertEqual((st, ct, out), (200, "application/x-amz-cbor-1.1", {}))
        blob = bytes(range(256)) * 3
        st, _, out = self.call("PutRecord", {"StreamName": "cbor", "Data": blob,
                                             "PartitionKey": "pk"})
        self.assertEqual(st, 200)
        self.assertEqual(out["ShardId"], "shardId-000000000000")
        st, _, it = self.call("GetShardIterator", {
            "StreamName": "cbor", "ShardId": "shardId-000000000000",
            "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ("tag", 1, 0)})
        self.assertEqual(st, 200, it)
        st, _, recs = self.call("GetRecords", {"ShardIterator": it["ShardIterator"]})
        self.assertEqual(st, 200)
        rec = recs["Records"][0]
        self.assertEqual(rec["Data"], blob)  # a CBOR byte string, byte-exact
        self.assertEqual(rec["SequenceNumber"], out["SequenceNumber"])
        tag, num, ms = rec["ApproximateArrivalTimestamp"]
        self.assertEqual((tag, num), ("tag", 1))
        self.assertIsInstance(ms, int)  # epoch milliseconds, as the AWS SDKs expect
        self.assertGreater(ms, 1_600_000_000_000)
        # what boto3 (JSON) sees of the same record is the same
        k = self.server.client("kinesis")
        j = k.get_records(ShardIterator=it["ShardIterator"])["Records"][0]
        self.assertEqual(j["Data"], blob)
        self.assertEqual(int(j["ApproximateArrivalTimestamp"].timestamp() * 1000), ms)

    def test_cbor_errors(self):
        st, ct, out = self.call("DescribeStream", {"StreamName": "absent"})
        self.assertEqual((st, ct), (400, "application/x-amz-cbor-1.1"))
        self.assertEqual(out["__type"], "ResourceNotFoundException")
        self.assertIn("absent", out["message"])


if __name__ == "__main__":
    unittest.main()
