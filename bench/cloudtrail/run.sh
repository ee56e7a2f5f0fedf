#!/bin/sh
# CloudTrail costs: (1) what a logging trail adds to each recorded API call (STS
# GetCallerIdentity, one pre-signed request replayed by wrk, as bench/http does); (2)
# `trailstream import` rate in records/s.
#
# (1) runs three servers of the same binary and config side by side: A and C without a trail,
# B with a logging trail delivering into a log group. Every call is recorded on all three
# (event history); B's trail writer also appends each record to the log group. The runs
# alternate A, B, C, A, B, C... (ROUNDS rounds) so that all see the same machine, and medians
# are reported, B against A (what the trail adds) beside C against A (what two identical
# servers differ by on this machine: the noise floor of the figures):
#   - saturated: wrk -c CONNECTIONS as fast as the server answers: throughput, p50/p99, and the
#     server's CPU time per call (utime+stime from /proc, read once B's trail writer has caught
#     up, so its delivery work is counted);
#   - fixed load: FIXED_CONNECTIONS connections each waiting FIXED_DELAY_MS between calls (well
#     below saturation): p50/p99 latency of a call, without queueing.
#
# Usage: bench/cloudtrail/run.sh [TRAILSTREAM_BINARY]   (default build/release/apps/trailstream)
# Env:   DURATION (3s) ROUNDS (7) THREADS (2) CONNECTIONS (32) FIXED_CONNECTIONS (8)
#        FIXED_DELAY_MS (1) FIXED_DURATION (3s) RECORDS (200000) FSYNC (group) PYTHON
# Builds nothing. The servers are always reaped on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-build/release/apps/trailstream}
DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-7}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
FIXED_CONNECTIONS=${FIXED_CONNECTIONS:-8}
FIXED_DELAY_MS=${FIXED_DELAY_MS:-1}
FIXED_DURATION=${FIXED_DURATION:-3s}
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

bench_start_trailstream "$TMP/trailstream.yaml" "$TMP/a"
A_PID=$TS_PID
A_URL=$TS_URL
bench_start_trailstream "$TMP/trailstream.yaml" "$TMP/b"
B_PID=$TS_PID
B_URL=$TS_URL
bench_start_trailstream "$TMP/trailstream.yaml" "$TMP/c"
C_PID=$TS_PID
C_URL=$TS_URL
"$PYTHON" - "$B_URL" "$KEY" "$SECRET" "$ACCOUNT" <<'PY'
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
"$PYTHON" "$HERE/../http/presign.py" "$A_URL" "$KEY" "$SECRET" "$TMP/a.lua"
"$PYTHON" "$HERE/../http/presign.py" "$B_URL" "$KEY" "$SECRET" "$TMP/b.lua"
"$PYTHON" "$HERE/../http/presign.py" "$C_URL" "$KEY" "$SECRET" "$TMP/c.lua"

cpu_ticks() { # PID: utime + stime in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

writer_ticks() { # PID: utime + stime of the trail writer thread (named ts-ct-trails)
    for task in /proc/"$1"/task/*; do
        [ "$(cat "$task/comm" 2>/dev/null)" = ts-ct-trails ] && awk '{print $14 + $15}' "$task/stat"
    done | awk '{t += $1} END {print t + 0}'
}

metric() { # URL NAME: the sum of a metric's samples in /metrics
    "$PYTHON" - "$1" "$2" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=5).read().decode()
print(int(sum(float(l.split()[-1]) for l in text.splitlines()
              if l.startswith(sys.argv[2]) and l[len(sys.argv[2])] in " {")))
PY
}

# Until B's log group stops growing (its trail writer has caught up); bounded.
wait_delivered() {
    last=-1
    i=0
    while [ $i -lt 100 ]; do
        now=$(metric "$B_URL" ts_logs_ingested_events_total)
        [ "$now" = "$last" ] && return 0
        last=$now
        i=$((i + 1))
        sleep 0.2
    done
    echo "run.sh: the trail writer did not catch up within 20 s" >&2
    exit 1
}

run_one() { # SERVER(a|b|c) MODE(sat|fixed) -> appends a line to $TMP/results
    server=$1
    mode=$2
    case $server in
    a) url=$A_URL pid=$A_PID ;;
    b) url=$B_URL pid=$B_PID ;;
    *) url=$C_URL pid=$C_PID ;;
    esac
    c0=$(cpu_ticks "$pid")
    w0=$(writer_ticks "$pid")
    if [ "$mode" = sat ]; then
        TS_BENCH_REQUEST="$TMP/$server.lua" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
            -s "$HERE/../http/replay.lua" "$url" > "$TMP/wrk.out" 2>&1
    else
        TS_BENCH_REQUEST="$TMP/$server.lua" TS_BENCH_DELAY_MS=$FIXED_DELAY_MS \
            wrk -t"$THREADS" -c"$FIXED_CONNECTIONS" -d"$FIXED_DURATION" \
            -s "$HERE/../http/replay.lua" "$url" > "$TMP/wrk.out" 2>&1
    fi
    [ "$server" = b ] && wait_delivered
    c1=$(cpu_ticks "$pid")
    w1=$(writer_ticks "$pid")
    bench_wrk_result "$TMP/wrk.out" "$server $mode"
    set -- $WRK_LINE
    echo "$server $mode $2 $8 ${10} ${12} $((c1 - c0)) $((w1 - w0))" >> "$TMP/results"
}

echo "GetCallerIdentity, every call recorded; A and C: no trail, B: a logging trail into a log group"
echo "saturated: wrk -t$THREADS -c$CONNECTIONS -d$DURATION; fixed: -c$FIXED_CONNECTIONS with" \
     "${FIXED_DELAY_MS} ms between calls -d$FIXED_DURATION; $ROUNDS rounds, A and B alternating;" \
     "fsync $FSYNC, $(nproc) CPUs"
: > "$TMP/results"
r=0
while [ $r -lt "$ROUNDS" ]; do
    run_one a sat
    run_one b sat
    run_one c sat
    run_one a fixed
    run_one b fixed
    run_one c fixed
    r=$((r + 1))
done
delivered=$(metric "$B_URL" ts_logs_ingested_events_total)
"$PYTHON" - "$TMP/results" "$(getconf CLK_TCK)" "$delivered" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
tck, delivered = float(sys.argv[2]), int(sys.argv[3])
def med(server, mode, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == server and r[1] == mode)
def cpu(server):
    return statistics.median(float(r[6]) / tck / int(r[2]) * 1e6
                             for r in rows if r[0] == server and r[1] == "sat")
def pct(a, b):
    return f"{100 * (b - a) / a:+.1f}%"
for mode in ("sat", "fixed"):
    for server in ("a", "b", "c"):
        runs = [r for r in rows if r[0] == server and r[1] == mode]
        print(f"  rounds {mode:5s} {server}: " + ", ".join(
            f"{float(r[3]):.0f}/s p50 {r[4]} p99 {r[5]}" for r in runs))
for server, name in (("a", "no trail (A)"), ("b", "logging trail"), ("c", "no trail (C)")):
    print(f"{name:14s} saturated: {med(server, 'sat', 3):8.0f} calls/s  p50 {med(server, 'sat', 4):6.0f} us"
          f"  p99 {med(server, 'sat', 5):6.0f} us  CPU {cpu(server):5.1f} us/call | fixed load: "
          f"{med(server, 'fixed', 3):6.0f} calls/s  p50 {med(server, 'fixed', 4):5.0f} us  "
          f"p99 {med(server, 'fixed', 5):5.0f} us")
def diff(other, label):
    print(f"{label}: CPU per call {pct(cpu('a'), cpu(other))}; saturated throughput "
          f"{pct(med('a', 'sat', 3), med(other, 'sat', 3))}, p50 "
          f"{pct(med('a', 'sat', 4), med(other, 'sat', 4))}, p99 "
          f"{pct(med('a', 'sat', 5), med(other, 'sat', 5))}; fixed load p50 "
          f"{pct(med('a', 'fixed', 4), med(other, 'fixed', 4))}, p99 "
          f"{pct(med('a', 'fixed', 5), med(other, 'fixed', 5))}")
diff("b", "logging trail (B) vs none (A), medians")
diff("c", "noise floor: none (C) vs none (A)   ")
calls_b = sum(int(r[2]) for r in rows if r[0] == "b")
writer_us = sum(float(r[7]) for r in rows if r[0] == "b") / tck * 1e6 / calls_b
print(f"trail writer thread: {writer_us:.2f} us of CPU per delivered record = "
      f"{100 * writer_us / cpu('a'):.1f}% of a call's CPU without a trail (the trail's own work; "
      "the medians above also carry the machine's run-to-run spread)")
print(f"trail delivery: {delivered} records in B's log group for {calls_b} benchmarked calls"
      " (plus the set-up calls)")
if delivered < calls_b:
    sys.exit("run.sh: the trail did not deliver every recorded call")
PY
kill "$A_PID" "$B_PID" "$C_PID"
wait "$A_PID" "$B_PID" "$C_PID" || { echo "run.sh: a server did not stop cleanly" >&2; exit 1; }
TS_PIDS=""

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
"$BIN" import --account "$ACCOUNT" --config "$TMP/trailstream.yaml" --data-dir "$TMP/b" \
    --quiet "$TMP"/import/*.json.gz 2> "$TMP/import.err" || { cat "$TMP/import.err" >&2; exit 1; }
echo "import ($RECORDS records, gzip, fsync $FSYNC): $(tail -n 1 "$TMP/import.err" | sed 's/^import: //')"
