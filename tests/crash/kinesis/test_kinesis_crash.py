"""kill -9 of the server while several producers run PutRecords, three times; after each
restart every acknowledged record must be readable exactly once, in order, with the sequence
number and shard it was acknowledged with, and each unacknowledged batch must have reached a
shard all or nothing (the store appends a shard's part of a batch atomically)."""

import hashlib
import random
import threading
import time
import unittest

import harness

PRODUCERS = 4
BATCH = 40
SHARDS = 4
CYCLES = 3


def md5_hash(key):
    return int.from_bytes(hashlib.md5(key.encode()).digest(), "big")


class Producer(threading.Thread):
    def __init__(self, server, pid, cycle):
        super().__init__(daemon=True)
        self.client = server.client("kinesis")
        self.pid, self.cycle = pid, cycle
        self.acked = []      # (shard, seq, data)
        self.unacked = []    # [data...] of the batch in flight when the server died
        self.batches = 0

    def run(self):
        b = 0
        while True:
            datas = [b"%d:%d:%d:%d" % (self.cycle, self.pid, b, i) for i in range(BATCH)]
            keys = ["p%d-k%d" % (self.pid, i % 7) for i in range(BATCH)]
            try:
                r = self.client.put_records(StreamName="crash", Records=[
                    {"Data": d, "PartitionKey": k} for d, k in zip(datas, keys)])
            except Exception:
                self.unacked.append(list(zip(datas, keys)))
                return
            for d, res in zip(datas, r["Records"]):
                assert "SequenceNumber" in res, res
                self.acked.append((res["ShardId"], res["SequenceNumber"], d))
            b += 1
            self.batches = b


class KinesisCrashTest(unittest.TestCase):

    def read_everything(self, client):
        out = {}
        for s in client.list_shards(StreamName="crash")["Shards"]:
            sid = s["ShardId"]
            it = client.get_shard_iterator(StreamName="crash", ShardId=sid,
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            recs = []
            while True:
                r = client.get_records(ShardIterator=it)
                recs.extend((x["SequenceNumber"], x["Data"]) for x in r["Records"])
                it = r["NextShardIterator"]
                if not r["Records"]:
                    break
            out[sid] = recs
        return out

    def test_kill9_during_put_records(self):
        srv = harness.Server()
        rnd = random.Random(42)
        try:
            srv.start()
            k = srv.client("kinesis")
            k.create_stream(StreamName="crash", ShardCount=SHARDS)
            shards = k.list_shards(StreamName="crash")["Shards"]

            def route(key):
                h = md5_hash(key)
                for s in shards:
                    r = s["HashKeyRange"]
                    if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
                        return s["ShardId"]

            acked = {}
            unacked = []
            for cycle in range(CYCLES):
                producers = [Producer(srv, p, cycle) for p in range(PRODUCERS)]
                for p in producers:
                    p.start()
                # let them write, then SIGKILL mid-flight
                time.sleep(0.8 + rnd.random())
                srv.proc.kill()
                for p in producers:
                    p.join(30)
                    self.assertFalse(p.is_alive())
                    self.assertGreater(p.batches, 0)
                    for sid, seq, d in p.acked:
                        acked[d] = (sid, seq)
                    unacked.extend(p.unacked)
                srv.kill()
                srv.start()
                k = srv.client("kinesis")
                got = self.read_everything(k)
                where = {}
                for sid, recs in got.items():
                    seqs = [int(s) for s, _ in recs]
                    self.assertEqual(seqs, sorted(seqs), sid)
                    for seq, d in recs:
                        self.assertNotIn(d, where, "record %r read twice" % d)
                        where[d] = (sid, seq)
                for d, pos in acked.items():
                    self.assertEqual(where.get(d), pos, "acknowledged record %r" % d)
                # a shard's part of an unacknowledged batch: all or nothing
                for batch in unacked:
                    parts = {}
                    for d, key in batch:
                        parts.setdefault(route(key), []).append(d in where)
                    for sid, present in parts.items():
                        self.assertIn(set(present), ({True}, {False}), (sid, batch[0][0]))
                print("cycle %d: %d acknowledged, %d in flight, %d records on disk" % (
                    cycle, len(acked), sum(len(b) for b in unacked),
                    sum(len(r) for r in got.values())))
        finally:
            srv.kill()
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
