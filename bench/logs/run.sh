#!/bin/sh
# PutLogEvents throughput: 1,000-event batches of ~1 KB CloudTrail-shaped records, signed, from
# 8 concurrent keep-alive clients; trailstream (release build, fsync: group) against moto_server
# in the same run, and the ratio.
#
# Usage: bench/logs/run.sh [TRAILSTREAM_BINARY]     (default build/release/apps/trailstream)
# Env:   DURATION (10s) CLIENTS (8) EVENTS (1000) FSYNC (group) PYTHON (python3)
# Builds nothing: run `make build` first. Both servers are always reaped on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-build/release/apps/trailstream}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-8}
EVENTS=${EVENTS:-1000}
FSYNC=${FSYNC:-group}
PYTHON=${PYTHON:-python3}
KEY=AKIABENCHROOT0000001
SECRET=benchRootSecret/000000000000000000001

[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable (make build?)" >&2; exit 2; }
for tool in wrk moto_server "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done

# The data directory is on the repository's disk (not tmpfs), like a real deployment.
mkdir -p build
TMP=$(mktemp -d "$(pwd)/build/bench-logs.XXXXXX")
TS_PID=""
MOTO_PID=""
cleanup() {
    [ -n "$TS_PID" ] && kill "$TS_PID" 2>/dev/null && wait "$TS_PID" 2>/dev/null
    [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() {
    i=0
    until "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "$1" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 200 ] || { echo "run.sh: $1 did not come up" >&2; exit 1; }
        sleep 0.1
    done
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

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
"$BIN" serve --config "$TMP/trailstream.yaml" --data-dir "$TMP/data" --listen 127.0.0.1:0 \
    > "$TMP/ts.out" 2> "$TMP/ts.err" &
TS_PID=$!
i=0
until grep -q '^listening on ' "$TMP/ts.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 200 ] || ! kill -0 "$TS_PID" 2>/dev/null; then
        echo "run.sh: trailstream did not start:" >&2
        cat "$TMP/ts.err" >&2
        exit 1
    fi
    sleep 0.1
done
TS_URL=$(sed -n 's/^listening on //p' "$TMP/ts.out" | head -n 1)
wait_http "$TS_URL/health"

MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$TMP/moto.log" 2>&1 &
MOTO_PID=$!
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
wait_http "$MOTO_URL/moto-api/"

run_wrk() { # NAME URL DURATION
    name=$1
    url=$2
    BODY_BYTES=$("$PYTHON" "$HERE/presign_logs.py" "$url" "$KEY" "$SECRET" "$EVENTS" "$TMP/$name.lua")
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t1 -c1 -d1s -s "$HERE/../http/replay.lua" "$url" \
        > "$TMP/$name.check" 2>&1
    if ! grep -q 'non200 0 errors 0' "$TMP/$name.check"; then
        echo "run.sh: $name does not accept the signed PutLogEvents:" >&2
        cat "$TMP/$name.check" >&2
        exit 1
    fi
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t2 -c"$CLIENTS" -d"$3" --timeout 30s \
        -s "$HERE/../http/replay.lua" "$url" > "$TMP/$name.wrk" 2>&1
    line=$(grep '^requests ' "$TMP/$name.wrk")
    set -- $line
    if [ "$4" != 0 ] || [ "$6" != 0 ]; then
        echo "run.sh: $name answered $4 non-200 responses and had $6 socket errors" >&2
        cat "$TMP/$name.wrk" >&2
        exit 1
    fi
    "$PYTHON" - "$name" "$8" "$EVENTS" "$BODY_BYTES" "${10}" "${12}" <<'PY'
import sys
name, rps, events, body, p50, p99 = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"{name}: {rps:.1f} calls/s, {rps * events:.0f} events/s, {rps * body / 1e6:.1f} MB/s, "
      f"call latency p50 {p50 / 1000:.1f} ms p99 {p99 / 1000:.1f} ms")
PY
    eval "${name}_RPS=$8"
}

echo "PutLogEvents: $EVENTS events (~1 KB each) per call, $CLIENTS clients, fsync $FSYNC, $(nproc) CPUs"
run_wrk trailstream "$TS_URL" "$DURATION"
# moto is slow enough that a longer run adds nothing but time.
run_wrk moto "$MOTO_URL" "$DURATION"
"$PYTHON" - "$trailstream_RPS" "$moto_RPS" <<'PY'
import sys
ts, moto = float(sys.argv[1]), float(sys.argv[2])
print(f"ratio trailstream/moto_server: {ts / moto:.1f}x")
PY
