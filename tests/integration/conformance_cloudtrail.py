"""CloudTrail conformance suite (ctest label `conformance`).

1. Every record of the shared public set (TS_SHARED_DATA/cloudtrail/*.json) survives
   `trailstream import` and delivery by a multi-region logging trail unchanged: each one
   arrives in the trail's log group as one log event whose message is byte-identical to the
   record as written in the set, exactly once.
2. Every record trailstream itself produces (the API calls of this run, delivered through the
   same trail) validates against the record schema of the reference (§1: required members and
   their JSON types).

Runs only when the data set exists; prints SKIPPED and exits 77 otherwise (SKIP_RETURN_CODE).
Usage: TRAILSTREAM_BIN=... python3 conformance_cloudtrail.py DATA_DIR
"""

import collections
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import time

import harness

SRC = "222222222222"
GROUP = "ct-conformance"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
IDENTITY_TYPES = {"Root", "IAMUser", "AssumedRole", "Role", "FederatedUser", "Directory",
                  "AWSAccount", "AWSService", "Unknown", "SAMLUser", "WebIdentityUser"}
EVENT_TYPES = {"AwsApiCall", "AwsServiceEvent", "AwsConsoleAction", "AwsConsoleSignIn",
               "AwsCloudTrailInsight"}


def schema_errors(text):
    """Reference §1: required members and types of one record; returns a list of problems."""
    errs = []
    if len(text.encode()) > 256 * 1024:
        errs.append("over 256 KB")
    r = json.loads(text)
    if not isinstance(r, dict):
        return ["not an object"]

    def need(name, types, check=None):
        if name not in r:
            errs.append(f"missing {name}")
        elif not isinstance(r[name], types):
            errs.append(f"{name} has type {type(r[name]).__name__}")
        elif check and not check(r[name]):
            errs.append(f"{name} = {r[name]!r}")

    def opt(name, types, check=None):
        if name in r:
            need(name, types, check)

    need("eventVersion", str, lambda v: re.match(r"^\d+\.\d+$", v))
    need("userIdentity", dict, lambda v: v.get("type") in IDENTITY_TYPES
         and all(isinstance(v.get(k), str) for k in ("principalId", "arn", "accountId")))
    need("eventTime", str, TIME.match)
    need("eventSource", str, lambda v: v.endswith(".amazonaws.com"))
    for m in ("eventName", "awsRegion", "sourceIPAddress", "requestID"):
        need(m, str)
    need("eventID", str, GUID.match)
    need("eventType", str, lambda v: v in EVENT_TYPES)
    need("eventCategory", str, lambda v: v in ("Management", "Data", "Insight"))
    need("requestParameters", (dict, type(None)))
    opt("responseElements", (dict, type(None)))
    for m in ("userAgent", "errorCode", "errorMessage"):
        opt(m, str, lambda v: len(v.encode()) <= 1024)
    opt("readOnly", bool)
    opt("managementEvent", bool)
    opt("recipientAccountId", str, lambda v: re.match(r"^\d{12}$", v))
    opt("resources", list, lambda v: all(isinstance(x, dict) and {"ARN", "type"} <= set(x)
                                         for x in v))
    opt("tlsDetails", dict)
    opt("additionalEventData", dict)
    if r.get("readOnly") is True and r.get("responseElements") not in (None,):
        errs.append("read-only call with responseElements")
    return errs


def dataset_records(data_dir):
    """(file, list of record texts exactly as written) for each file of the set."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        json.loads(text)  # the set is valid JSON
        recs = []
        for line in text.split("\n"):
            line = line.rstrip(",")
            if line.startswith("{") and not line.startswith('{"Records"'):
                json.loads(line)
                recs.append(line)
        assert len(recs) == len(json.loads(text)["Records"]), path
        out.append((path, recs))
    return out


def write_log_files(tmp, sets):
    """The records as CloudTrail log files, the way S3 holds them (gzip), every other file
    plain, plus one malformed file that must be skipped whole."""
    files = []
    for i, (path, recs) in enumerate(sets):
        body = ('{"Records":[' + ",".join(recs) + "]}").encode()
        name = os.path.join(tmp, f"{SRC}_CloudTrail_us-east-1_20240101T0000Z_{i:04d}.json")
        if i % 2 == 0:
            name += ".gz"
            body = gzip.compress(body)
        with open(name, "wb") as f:
            f.write(body)
        files.append(name)
    bad = os.path.join(tmp, "malformed.json.gz")
    with open(bad, "wb") as f:
        f.write(gzip.compress(b'{"Records":[{"eventVersion":"1.08"},{"eventName":]}'))
    files.append(bad)
    return files, bad


def all_messages(logs):
    msgs = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=GROUP):
        msgs.extend(e["message"] for e in page["events"])
    return msgs


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else ""
    ct_dir = os.path.join(data, "cloudtrail")
    if not data or not glob.glob(os.path.join(ct_dir, "*.json")):
        print(f"SKIPPED: no CloudTrail data set at {ct_dir}")
        return 77
    t0 = time.monotonic()
    sets = dataset_records(ct_dir)
    expected = collections.Counter(r for _, recs in sets for r in recs)
    total = sum(expected.values())

    # 1. A multi-region trail of the source account, logging into a log group.
    srv = harness.Server()
    srv2 = None
    try:
        srv.start()
        logs = srv.client("logs", "source")
        ct = srv.client("cloudtrail", "source")
        logs.create_log_group(logGroupName=GROUP)
        ct.create_trail(Name="conformance", S3BucketName="ct-bucket", IsMultiRegionTrail=True,
                        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{harness.REGION}:{SRC}:"
                                                  f"log-group:{GROUP}:*",
                        CloudWatchLogsRoleArn=f"arn:aws:iam::{SRC}:role/CloudTrail_CWL")
        ct.start_logging(Name="conformance")
        # Calls whose records trailstream produces (a success, a failure, read-only ones).
        ct.describe_trails()
        try:
            logs.create_log_group(logGroupName=GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_group(logGroupName=GROUP + "-2")
        srv.stop()

        # 2. Offline import into the stopped server's data directory.
        files, bad = write_log_files(srv.tmp, sets)
        p = subprocess.run([harness.BIN, "import", "--account", SRC, "--config",
                            srv.config_path, "--data-dir", srv.data_dir] + files,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, (p.returncode, p.stderr)  # the malformed file was skipped
        assert f"skipped {bad}" in p.stderr, p.stderr
        assert f"{len(sets)} of {len(files)} files imported" in p.stderr, p.stderr
        assert f"{total} records" in p.stderr, p.stderr
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert marker not in p.stderr, p.stderr

        # 3. The server delivers them from its durable cursors when it starts.
        srv2 = harness.Server(data_dir=srv.data_dir)
        srv2.start()
        logs = srv2.client("logs", "source")

        def delivered():
            got = collections.Counter(all_messages(logs))
            return got if all(got[r] >= n for r, n in expected.items()) else None

        try:
            got = harness.wait_for(delivered, timeout=20, interval=0.5,
                                   what="imported records in the log group")
        except AssertionError:
            got = collections.Counter(all_messages(logs))
            missing = [r for r in expected if got[r] < expected[r]]
            raise AssertionError(f"{len(missing)} of {total} records missing or changed, "
                                 f"e.g. {missing[:2]}")
        dup = {r: got[r] for r in expected if got[r] != expected[r]}
        assert not dup, f"records delivered more than once: {list(dup)[:2]}"

        # 4. Schema check of the records trailstream produced itself.
        own = [m for m in got if m not in expected]
        names = collections.Counter(json.loads(m)["eventName"] for m in own)
        for n in ("StartLogging", "DescribeTrails", "CreateLogGroup"):
            assert names[n] >= 1, (n, names)
        assert any("errorCode" in json.loads(m) for m in own), "no failed call recorded"
        bad_recs = [(m[:200], e) for m in own for e in [schema_errors(m)] if e]
        assert not bad_recs, bad_recs[:3]
        srv2.stop()
        print(f"OK: {total} records of {len(sets)} files imported and delivered "
              f"byte-identical; {len(own)} trailstream records validate "
              f"({time.monotonic() - t0:.1f} s)")
        return 0
    finally:
        if srv2:
            srv2.kill()
        srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
