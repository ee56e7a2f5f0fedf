#!/usr/bin/env bash
# bench/kinesis/run.sh [BUILD_DIR]
#
# Builds trailstream and the driver in Release, starts `trailstream serve` and `moto_server` on
# free loopback ports, and measures against both, in one run:
#   - PutRecords: 8 producers, 500 x 1 KiB records per call, 4 shards  -> records/s, MB/s
#   - GetRecords: Limit 10000 across the shards, re-reading from TRIM_HORIZON when caught up
#                 (data in the page cache)                             -> MB/s, MB per server CPU s
#   - latency:    PutRecord acknowledged -> seen by a GetRecords loop  -> p50/p99
# and prints the ratios trailstream / moto_server. Knobs: PUT_SECONDS, GET_SECONDS, PRODUCERS,
# SHARDS, LATENCY_COUNT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-/tmp/ts-bench-kinesis}
PUT_SECONDS=${PUT_SECONDS:-5}
GET_SECONDS=${GET_SECONDS:-5}
PRODUCERS=${PRODUCERS:-8}
SHARDS=${SHARDS:-4}
LATENCY_COUNT=${LATENCY_COUNT:-2000}
KEY=AKIABENCHKINESIS0001
SECRET=benchKinesisSecret/0000000000000000001

echo "building (Release) in $BUILD ..." >&2
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF -DTS_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j2 --target trailstream bench_kinesis >/dev/null
DRIVER="$BUILD/bench/kinesis/bench_kinesis"

TMP=$(mktemp -d /tmp/ts-bench-kinesis-XXXXXX)
TS_PID=""
MOTO_PID=""
cleanup() {
    [ -n "$TS_PID" ] && kill "$TS_PID" 2>/dev/null && wait "$TS_PID" 2>/dev/null || true
    [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/trailstream.yaml" <<YAML
accounts:
  - id: "111111111111"
    name: bench
    users:
      - name: bench
        access_keys: [{id: $KEY, secret: "$SECRET"}]
YAML
"$BUILD/apps/trailstream" serve --config "$TMP/trailstream.yaml" --data-dir "$TMP/data" \
    --listen 127.0.0.1:0 --log-level warn > "$TMP/ts.out" 2> "$TMP/ts.err" &
TS_PID=$!
for _ in $(seq 100); do
    grep -q "listening on" "$TMP/ts.out" 2>/dev/null && break
    sleep 0.1
done
TS_URL=$(head -1 "$TMP/ts.out" | sed 's/listening on //')

MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$TMP/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
for _ in $(seq 100); do
    curl -s -o /dev/null "$MOTO_URL/moto-api/" && break
    sleep 0.2
done
# moto_server runs under a Python launcher: measure the CPU of the process serving the port.
MOTO_SERVER_PID=$(pgrep -P "$MOTO_PID" | head -1 || true)
MOTO_SERVER_PID=${MOTO_SERVER_PID:-$MOTO_PID}

export BENCH_KEY=$KEY BENCH_SECRET=$SECRET
run() { # name url pid
    local name=$1 url=$2 pid=$3
    echo "== $name" >&2
    "$DRIVER" put "$url" put "$SHARDS" "$PUT_SECONDS" "$PRODUCERS" | tee -a "$TMP/$name.txt" >&2
    "$DRIVER" get "$url" put "$GET_SECONDS" "$pid" | tee -a "$TMP/$name.txt" >&2
    "$DRIVER" latency "$url" lat "$4" | tee -a "$TMP/$name.txt" >&2
}
run trailstream "$TS_URL" "$TS_PID" "$LATENCY_COUNT"
run moto "$MOTO_URL" "$MOTO_SERVER_PID" 300

python3 - "$TMP/trailstream.txt" "$TMP/moto.txt" <<'PY'
import sys
def load(p):
    out = {}
    for line in open(p):
        kind, *kv = line.split()
        out[kind] = {k: float(v) for k, v in (x.split("=") for x in kv)}
    return out
t, m = load(sys.argv[1]), load(sys.argv[2])
def ratio(a, b):
    return "%.1fx" % (a / b) if b else "n/a"
print()
print("%-40s %14s %14s %8s" % ("", "trailstream", "moto_server", "ratio"))
rows = [("PutRecords records/s (8 x 500 x 1 KiB)", "put", "records_per_s", "%.0f"),
        ("PutRecords MB/s", "put", "mb_per_s", "%.1f"),
        ("GetRecords MB/s (wall clock)", "get", "mb_per_s", "%.1f"),
        ("GetRecords MB per server CPU second", "get", "mb_per_server_cpu_s", "%.1f"),
        ("latency p50 ms (ack -> GetRecords loop)", "latency", "p50_ms", "%.3f"),
        ("latency p99 ms", "latency", "p99_ms", "%.3f")]
for label, kind, key, fmt in rows:
    a, b = t[kind][key], m[kind][key]
    r = ratio(a, b) if kind != "latency" else ratio(b, a)
    print("%-40s %14s %14s %8s" % (label, fmt % a, fmt % b, r))
print("(latency ratio = moto / trailstream; moto latency over 300 records)")
PY
