#!/bin/sh
# CloudTrail costs: (1) per-call latency of a recorded API call (STS GetCallerIdentity, one
# pre-signed request replayed by wrk, as bench/http does) without any trail and with a logging
# trail delivering into a log group; (2) `trailstream import` rate in records/s.
#
# Usage: bench/cloudtrail/run.sh [TRAILSTREAM_BINARY]   (default build/release/apps/trailstream)
# Env:   DURATION (10s) THREADS (2) CONNECTIONS (32) RECORDS (200000) FSYNC (group) PYTHON
# Builds nothing. The server is always reaped on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-build/release/apps/trailstream}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
RECORDS=${RECORDS:-200000}
FSYNC=${FSYNC:-group}
PYTHON=${PYTHON:-python3}
KEY=AKIABENCHROOT0000001
SECRET=benchRootSecret/000000000000000000001
ACCOUNT=111111111111

[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable (make build?)" >&2; exit 2; }
. "$HERE/../lib.sh"
bench_require wrk "$PYTHON"

TMP=$(mktemp -d)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

cat > "$TMP/trailstream.yaml" <<YAML
log:
  level: warn
storage:
  fsync: $FSYNC
accounts:
  - id: "$ACCOUNT"
    name: bench
    root_access_keys: [{id: $KEY, secret: "$SECRET"}]
YAML

start_server() {
    bench_start_trailstream "$TMP/trailstream.yaml"
}

stop_server() {
    bench_stop_trailstream
}

run_wrk() { # NAME
    name=$1
    "$PYTHON" "$HERE/../http/presign.py" "$TS_URL" "$KEY" "$SECRET" "$TMP/$name.lua"
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$HERE/../http/replay.lua" "$TS_URL" > "$TMP/$name.wrk" 2>&1
    line=$(grep '^requests ' "$TMP/$name.wrk")
    set -- $line
    if [ "$4" != 0 ] || [ "$6" != 0 ]; then
        echo "run.sh: $name: $4 non-200 responses, $6 socket errors" >&2
        cat "$TMP/$name.wrk" >&2
        exit 1
    fi
    echo "$name: $8 req/s  p50 ${10} us  p99 ${12} us"
    eval "${name}_P50=${10} ${name}_P99=${12} ${name}_RPS=$8"
}

echo "GetCallerIdentity (recorded: one durable CloudTrail append per call), wrk -t$THREADS" \
     "-c$CONNECTIONS -d$DURATION, fsync $FSYNC, $(nproc) CPUs"
start_server
run_wrk no_trail
"$PYTHON" - "$TS_URL" "$KEY" "$SECRET" "$ACCOUNT" <<'PY'
import sys, boto3
url, key, secret, acct = sys.argv[1:5]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
          aws_secret_access_key=secret)
boto3.client("logs", **kw).create_log_group(logGroupName="bench-trail")
ct = boto3.client("cloudtrail", **kw)
ct.create_trail(Name="bench", S3BucketName="bench-bucket",
                CloudWatchLogsLogGroupArn=f"arn:aws:logs:us-east-1:{acct}:log-group:bench-trail:*",
                CloudWatchLogsRoleArn=f"arn:aws:iam::{acct}:role/ct")
ct.start_logging(Name="bench")
PY
run_wrk trail
stop_server
"$PYTHON" - "$no_trail_P50" "$no_trail_P99" "$trail_P50" "$trail_P99" \
    "$no_trail_RPS" "$trail_RPS" <<'PY'
import sys
a50, a99, b50, b99, ar, br = map(float, sys.argv[1:7])
print(f"logging trail vs none: p50 {100 * (b50 - a50) / a50:+.1f}%  "
      f"p99 {100 * (b99 - a99) / a99:+.1f}%  throughput {100 * (br - ar) / ar:+.1f}%")
PY

# Import: RECORDS records in gzip'd log files of 10,000 records (the shared set's records
# cycled, each with a fresh eventID; synthetic ones when the set is absent).
"$PYTHON" - "$TMP/import" "$RECORDS" "$HERE/../../../shared/data/cloudtrail" <<'PY'
import glob, gzip, json, os, sys, uuid
out, total, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out)
base = []
for p in sorted(glob.glob(os.path.join(data, "*.json"))):
    base += json.load(open(p))["Records"]
if not base:
    base = [{"eventVersion": "1.09", "eventName": "GetObject", "awsRegion": "us-east-1",
             "eventSource": "s3.amazonaws.com", "requestParameters": {"bucketName": "b"}}]
for f in range(0, total, 10000):
    recs = []
    for i in range(f, min(total, f + 10000)):
        r = dict(base[i % len(base)])
        r["eventID"] = str(uuid.uuid4())
        r["awsRegion"] = "us-east-1"
        recs.append(json.dumps(r, separators=(",", ":")))
    with gzip.open(os.path.join(out, "%06d.json.gz" % f), "wt") as g:
        g.write('{"Records":[' + ",".join(recs) + "]}")
PY
"$BIN" import --account "$ACCOUNT" --config "$TMP/trailstream.yaml" --data-dir "$TMP/data" \
    --quiet "$TMP"/import/*.json.gz 2> "$TMP/import.err" || { cat "$TMP/import.err" >&2; exit 1; }
echo "import ($RECORDS records, gzip, fsync $FSYNC): $(tail -n 1 "$TMP/import.err" | sed 's/^import: //')"
