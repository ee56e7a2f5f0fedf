#!/bin/sh
# HTTP throughput of STS GetCallerIdentity: trailstream (release build) against moto_server,
# same machine, same run, same pre-signed request replayed by wrk over keep-alive connections.
#
# Usage: bench/http/run.sh [TRAILSTREAM_BINARY]     (default build/release/apps/trailstream)
# Env:   DURATION (10s) THREADS (2) CONNECTIONS (32) PYTHON (python3)
# Builds nothing: run `make build` first. Both servers are always reaped on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-build/release/apps/trailstream}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
PYTHON=${PYTHON:-python3}
KEY=AKIABENCHROOT0000001
SECRET=benchRootSecret/000000000000000000001

[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable (make build?)" >&2; exit 2; }
for tool in wrk moto_server "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done

TMP=$(mktemp -d)
TS_PID=""
MOTO_PID=""
cleanup() {
    [ -n "$TS_PID" ] && kill "$TS_PID" 2>/dev/null && wait "$TS_PID" 2>/dev/null
    [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls a URL until it answers (bounded: 20 s).
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
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# trailstream: one account, root key, data in TMP, port chosen by the kernel.
cat > "$TMP/trailstream.yaml" <<YAML
log:
  level: warn
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

run_wrk() { # NAME URL
    name=$1
    url=$2
    "$PYTHON" "$HERE/presign.py" "$url" "$KEY" "$SECRET" "$TMP/$name.lua"
    # One request first: it must succeed, or the numbers would measure errors.
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t1 -c1 -d1s -s "$HERE/replay.lua" "$url" \
        > "$TMP/$name.check" 2>&1
    if ! grep -q 'non200 0 errors 0' "$TMP/$name.check"; then
        echo "run.sh: $name does not answer the signed request with 200:" >&2
        cat "$TMP/$name.check" >&2
        exit 1
    fi
    TS_BENCH_REQUEST="$TMP/$name.lua" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$HERE/replay.lua" "$url" > "$TMP/$name.wrk" 2>&1
    line=$(grep '^requests ' "$TMP/$name.wrk")
    echo "$name: $line"
    set -- $line
    if [ "$4" != 0 ] || [ "$6" != 0 ]; then
        echo "run.sh: $name answered $4 non-200 responses and had $6 socket errors" >&2
        cat "$TMP/$name.wrk" >&2
        exit 1
    fi
    eval "${name}_RPS=$8"
}

echo "GetCallerIdentity, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, $(nproc) CPUs"
run_wrk trailstream "$TS_URL"
run_wrk moto "$MOTO_URL"
"$PYTHON" - "$trailstream_RPS" "$moto_RPS" <<'PY'
import sys
ts, moto = float(sys.argv[1]), float(sys.argv[2])
print(f"trailstream {ts:.0f} req/s, moto_server {moto:.0f} req/s, ratio {ts / moto:.1f}x")
PY
