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
. "$HERE/../lib.sh"
bench_require wrk moto_server "$PYTHON"

TMP=$(mktemp -d)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# trailstream: one account, root key, data in TMP, port chosen by the kernel.
cat > "$TMP/trailstream.yaml" <<YAML
log:
  level: warn
accounts:
  - id: "111111111111"
    name: bench
    root_access_keys: [{id: $KEY, secret: "$SECRET"}]
YAML
bench_start_trailstream "$TMP/trailstream.yaml"
bench_start_moto

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
    bench_wrk_result "$TMP/$name.wrk" "$name"
    echo "$name: $WRK_LINE"
    set -- $WRK_LINE
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
