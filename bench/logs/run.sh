#!/bin/sh
# PutLogEvents throughput: 1,000-event batches of ~1 KB CloudTrail-shaped records, signed, from
# 8 concurrent keep-alive clients; trailstream (release build, fsync: group) against moto_server
# in the same run, and the ratio; the raw disk rate for durable 1 MiB writes as a peer; then
# the body parser alone (bench_put_parse: each string
# decoder against memcpy and SHA-256 of the same body).
#
# The two servers are measured in alternating rounds (trailstream, moto_server, trailstream,
# moto_server), DURATION in all for each, so that both see the same machine: on a shared
# machine the speed drifts over tens of seconds, and one half after the other moved the ratio
# by +-15%. Rounds are 10 s by default, not shorter: the calls in flight when a round ends are
# not counted, which for moto_server (~270 ms a call, 8 at a time) is ~1.5% of a 10 s round and
# would grow as rounds shrink.
#
# Usage: bench/logs/run.sh [TRAILSTREAM_BINARY]     (default build/release/apps/trailstream)
# Env:   DURATION (20s per server) ROUNDS (2) CLIENTS (8) EVENTS (1000) FSYNC (group)
#        PYTHON (python3)
# Builds nothing: run `make build` first. Both servers are always reaped on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-build/release/apps/trailstream}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-8}
EVENTS=${EVENTS:-1000}
FSYNC=${FSYNC:-group}
PYTHON=${PYTHON:-python3}
KEY=AKIABENCHROOT0000001
SECRET=benchRootSecret/000000000000000000001

[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable (make build?)" >&2; exit 2; }
. "$HERE/../lib.sh"
bench_require wrk moto_server "$PYTHON"

# The data directory is on the repository's disk (not tmpfs), like a real deployment.
mkdir -p build
TMP=$(mktemp -d "$(pwd)/build/bench-logs.XXXXXX")
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

cat > "$TMP/trailstream.yaml" <<YAML
log:
  level: warn
server:
  max_body_size: 16MiB
storage:
  fsync: $FSYNC
accounts:
  - id: "111111111111"
    name: bench
    root_access_keys: [{id: $KEY, secret: "$SECRET"}]
YAML
bench_start_trailstream "$TMP/trailstream.yaml"
bench_start_moto

# Signs the request for NAME's server and checks that it is accepted; sets NAME_BODY.
prepare() { # NAME URL
    name=$1
    url=$2
    body=$("$PYTHON" "$HERE/presign_logs.py" "$url" "$KEY" "$SECRET" "$EVENTS" "$TMP/$name.lua")
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t1 -c1 -d1s -s "$HERE/../http/replay.lua" "$url" \
        > "$TMP/$name.check" 2>&1
    if ! grep -q 'non200 0 errors 0' "$TMP/$name.check"; then
        echo "run.sh: $name does not accept the signed PutLogEvents:" >&2
        cat "$TMP/$name.check" >&2
        exit 1
    fi
    eval "${name}_BODY=$body"
    : > "$TMP/$name.rounds"
}

# One round of NAME: appends wrk's result line to $TMP/NAME.rounds.
round() { # NAME URL DURATION
    TS_BENCH_REQUEST="$TMP/$1.lua" wrk -t2 -c"$CLIENTS" -d"$3" --timeout 30s \
        -s "$HERE/../http/replay.lua" "$2" > "$TMP/$1.wrk" 2>&1
    bench_wrk_result "$TMP/$1.wrk" "$1"
    echo "$WRK_LINE" >> "$TMP/$1.rounds"
}

# Prints NAME's figures over all its rounds (calls / time in calls; the median round's p50 and
# the worst round's p99) and sets NAME_RPS.
summarize() { # NAME BODY_BYTES
    rps=$("$PYTHON" - "$1" "$EVENTS" "$2" "$TMP/$1.rounds" <<'PY'
import statistics, sys
name, events, body, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rounds = [line.split() for line in open(path) if line.startswith("requests ")]
calls = sum(int(r[1]) for r in rounds)
secs = sum(int(r[1]) / float(r[7]) for r in rounds)
rps = calls / secs
p50 = statistics.median(int(r[9]) for r in rounds)
p99 = max(int(r[11]) for r in rounds)
per = " ".join(f"{float(r[7]):.1f}" for r in rounds)
print(f"{name}: {rps:.1f} calls/s, {rps * events:.0f} events/s, {rps * body / 1e6:.1f} MB/s, "
      f"call latency p50 {p50 / 1000:.1f} ms p99 {p99 / 1000:.1f} ms "
      f"(rounds: {per} calls/s)", file=sys.stderr)
print(f"{rps:.3f}")
PY
)
    eval "${1}_RPS=$rps"
}

PHASE=$(( ${DURATION%s} / ROUNDS ))
[ "$PHASE" -ge 1 ] || { echo "run.sh: DURATION must give each of the $ROUNDS rounds 1s" >&2; exit 2; }
echo "PutLogEvents: $EVENTS events (~1 KB each) per call, $CLIENTS clients, fsync $FSYNC, $(nproc) CPUs, $ROUNDS alternating rounds of ${PHASE}s per server"
prepare trailstream "$TS_URL"
prepare moto "$MOTO_URL"
r=0
while [ $r -lt "$ROUNDS" ]; do
    # Each round starts with no dirty data left in the page cache, so that neither server pays
    # for the other's writeback (trailstream's rounds leave gigabytes of it).
    sync
    round trailstream "$TS_URL" "${PHASE}s"
    sync
    round moto "$MOTO_URL" "${PHASE}s"
    r=$((r + 1))
done
summarize trailstream "$trailstream_BODY" 2>&1
summarize moto "$moto_BODY" 2>&1
"$PYTHON" - "$trailstream_RPS" "$moto_RPS" <<'PY'
import sys
ts, moto = float(sys.argv[1]), float(sys.argv[2])
print(f"ratio trailstream/moto_server: {ts / moto:.1f}x")
PY
RAW_BENCH="$(dirname "$BIN")/../bench/logs/bench_raw_write"
if [ -x "$RAW_BENCH" ]; then
    # The disk's own rate for durable 1 MiB writes, on the data directory's disk, same length.
    sync
    RAW_MBS=$("$RAW_BENCH" "$TMP" "$PHASE")
    "$PYTHON" - "$trailstream_RPS" "$trailstream_BODY" "$RAW_MBS" <<'PY'
import sys
rps, body, raw = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
print(f"peer: raw disk, 1 MiB pwrite + fdatasync in a loop: {raw:.1f} MB/s; trailstream wrote "
      f"{rps * body / 1e6:.1f} MB/s of request bodies = {100 * rps * body / 1e6 / raw:.0f}% of it")
PY
fi

PARSE_BENCH="$(dirname "$BIN")/../bench/logs/bench_put_parse"
if [ -x "$PARSE_BENCH" ]; then
    # both servers stop first: the parser's figures are per CPU-second of an idle machine
    kill "$TS_PID" "$MOTO_PID" 2>/dev/null || true
    wait "$TS_PID" "$MOTO_PID" 2>/dev/null || true
    TS_PID=""
    MOTO_PID=""
    echo
    "$PARSE_BENCH" 1
fi
