"""kill -9 of the server while producers put CloudTrail-shaped events into a subscribed log
group and the dispatcher delivers them through a cross-account destination; after each
restart every acknowledged matching event must reach the stream at least once, never out of
order within its log stream, and the duplicates must be one replay per log stream of the
payloads delivered after the last committed cursor (the payloads in flight at the kill)."""

import gzip
import json
import threading
import time
import unittest

import harness

SEC, SRC = "111111111111", "222222222222"
STREAMS = ("s0", "s1", "s2")
BATCH = 25
CYCLES = 2
MAX_REPLAYED_PAYLOADS = 16  # per log stream: what can be put between two cursor commits


def event(stream, seq):
    name = "GetObject" if seq % 4 == 3 else "ConsoleLogin"
    return json.dumps({"eventVersion": "1.08", "eventName": name, "eventSource":
                       "signin.amazonaws.com", "recipientAccountId": SRC,
                       "userIdentity": {"type": "IAMUser", "accountId": SRC},
                       "stream": stream, "seq": seq}, separators=(",", ":"))


class Producer(threading.Thread):
    def __init__(self, server, group, stream, start):
        super().__init__(daemon=True)
        self.client = server.client("logs", "source")
        self.group, self.stream, self.seq = group, stream, start
        self.acked = []  # seq of acknowledged matching events

    def run(self):
        while True:
            seqs = list(range(self.seq, self.seq + BATCH))
            try:
                self.client.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=[
                        {"timestamp": int(time.time() * 1000), "message": event(self.stream, s)}
                        for s in seqs])
            except Exception:
                return
            self.acked.extend(s for s in seqs if s % 4 != 3)
            self.seq += BATCH


class SubscriptionCrashTest(unittest.TestCase):

    def read_payloads(self, kinesis, name):
        """Every DATA_MESSAGE of the stream, per shard in shard order."""
        out = []
        for s in kinesis.list_shards(StreamName=name)["Shards"]:
            it = kinesis.get_shard_iterator(StreamName=name, ShardId=s["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while True:
                r = kinesis.get_records(ShardIterator=it, Limit=10000)
                it = r["NextShardIterator"]
                for rec in r["Records"]:
                    p = json.loads(gzip.decompress(rec["Data"]))
                    if p["messageType"] == "DATA_MESSAGE":
                        out.append(p)
                if not r["Records"]:
                    break
        return out

    def metric(self, server, name):
        _, text = server.get("/metrics")
        return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                   if l.startswith(name + "{"))

    def test_kill_during_put_and_delivery(self):
        server = harness.Server()
        data_dir = server.data_dir
        server.start()
        try:
            sk = server.client("kinesis", "security")
            sk.create_stream(StreamName="siem", ShardCount=2)
            arn = sk.describe_stream_summary(StreamName="siem")[
                "StreamDescriptionSummary"]["StreamARN"]
            sl = server.client("logs", "security")
            d = sl.put_destination(destinationName="d", targetArn=arn,
                                   roleArn=f"arn:aws:iam::{SEC}:role/r")["destination"]
            sl.put_destination_policy(destinationName="d", accessPolicy=json.dumps({
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": SRC},
                               "Action": "logs:PutSubscriptionFilter", "Resource": d["arn"]}]}))
            src = server.client("logs", "source")
            src.create_log_group(logGroupName="trail")
            for s in STREAMS:
                src.create_log_stream(logGroupName="trail", logStreamName=s)
            src.put_subscription_filter(logGroupName="trail", filterName="f",
                                        filterPattern='{ $.eventName = "ConsoleLogin" }',
                                        destinationArn=d["arn"])
            acked = {s: [] for s in STREAMS}
            next_seq = {s: 0 for s in STREAMS}
            for cycle in range(CYCLES):
                producers = [Producer(server, "trail", s, next_seq[s]) for s in STREAMS]
                for p in producers:
                    p.start()
                harness.wait_for(lambda: self.metric(server, "ts_delivery_events_total") > 200,
                                 timeout=20, what="delivery under way")
                time.sleep(0.3 + 0.4 * cycle)
                server.proc.kill()  # SIGKILL while puts and deliveries are in flight
                server.proc.wait()
                for p in producers:
                    p.join(10)
                    acked[p.stream].extend(p.acked)
                    next_seq[p.stream] = p.seq + BATCH  # skip the batch in doubt
                server.kill()
                server = harness.Server(data_dir=data_dir)
                server.start()

            sk = server.client("kinesis", "security")
            want = sum(len(v) for v in acked.values())

            def delivered_all():
                got = {}
                for p in self.read_payloads(sk, "siem"):
                    for e in p["logEvents"]:
                        got.setdefault(p["logStream"], set()).add(json.loads(e["message"])["seq"])
                return all(set(acked[s]) <= got.get(s, set()) for s in STREAMS)

            harness.wait_for(delivered_all, timeout=30, interval=0.2,
                             what=f"all {want} acknowledged events delivered")
            payloads = self.read_payloads(sk, "siem")
            dups = 0
            for s in STREAMS:
                seen, high, replays, replay_payloads = set(), -1, 0, 0
                in_replay = False
                first_order = []
                for p in (p for p in payloads if p["logStream"] == s):
                    seqs = [json.loads(e["message"])["seq"] for e in p["logEvents"]]
                    self.assertEqual(seqs, sorted(seqs), "events out of order in a payload")
                    self.assertTrue(all(q % 4 != 3 for q in seqs), "non-matching delivered")
                    if seqs[0] <= high:
                        # a replay of payloads put after the last committed cursor
                        if not in_replay:
                            replays += 1
                            in_replay = True
                        replay_payloads += 1
                    else:
                        in_replay = False
                    for q in seqs:
                        if q in seen:
                            dups += 1
                        else:
                            self.assertGreater(q, high, f"{s}: event {q} after {high}")
                            seen.add(q)
                            first_order.append(q)
                        high = max(high, q)
                self.assertEqual(first_order, sorted(first_order))
                self.assertTrue(set(acked[s]) <= seen)
                self.assertLessEqual(replays, CYCLES, f"{s}: more replays than crashes")
                self.assertLessEqual(replay_payloads, MAX_REPLAYED_PAYLOADS * CYCLES)
            print(f"\nacknowledged {want} matching events, delivered "
                  f"{sum(len(p['logEvents']) for p in payloads)} in {len(payloads)} payloads, "
                  f"{dups} duplicates")
            server.stop()
        finally:
            server.cleanup()

    def test_kill_while_draining(self):
        """A filter deleted just before a kill -9 stays deleted (never active again), resumes
        draining at restart, delivers what it owed and then stops for good."""
        server = harness.Server()
        data_dir = server.data_dir
        server.start()
        try:
            sk = server.client("kinesis", "security")
            sk.create_stream(StreamName="siem", ShardCount=1)
            arn = sk.describe_stream_summary(StreamName="siem")[
                "StreamDescriptionSummary"]["StreamARN"]
            sl = server.client("logs", "security")
            d = sl.put_destination(destinationName="d", targetArn=arn,
                                   roleArn=f"arn:aws:iam::{SEC}:role/r")["destination"]
            sl.put_destination_policy(destinationName="d", accessPolicy=json.dumps({
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": SRC},
                               "Action": "logs:PutSubscriptionFilter", "Resource": d["arn"]}]}))
            src = server.client("logs", "source")
            src.create_log_group(logGroupName="g")
            src.create_log_stream(logGroupName="g", logStreamName="s")

            def put(msg):
                src.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
                    {"timestamp": int(time.time() * 1000), "message": msg}])

            def messages():
                return [e["message"] for p in self.read_payloads(sk, "siem")
                        for e in p["logEvents"]]

            src.put_subscription_filter(logGroupName="g", filterName="f", filterPattern="",
                                        destinationArn=d["arn"])
            put("before")
            harness.wait_for(lambda: "before" in messages(), timeout=10, what="first event")
            src.delete_subscription_filter(logGroupName="g", filterName="f")
            put("during")
            server.proc.kill()  # SIGKILL while the deleted filter drains (grace: 5 s)
            server.proc.wait()
            server.kill()
            server = harness.Server(data_dir=data_dir)
            server.start()
            src = server.client("logs", "source")
            sk = server.client("kinesis", "security")
            self.assertEqual(src.describe_subscription_filters(logGroupName="g")[
                "subscriptionFilters"], [])
            harness.wait_for(lambda: ':g:f" stopped (deleted filter drained)'
                             in server.stderr_text(), timeout=20, what="drain end")
            self.assertIn("during", messages())
            put("after")
            time.sleep(0.5)
            self.assertNotIn("after", messages())
            server.stop()
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
