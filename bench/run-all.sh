#!/bin/sh
# Runs every benchmark in turn against the release build (make bench). Each prints its own
# figures and, where a peer exists on the machine, the ratio to it measured in the same run.
# Usage: bench/run-all.sh [RELEASE_BUILD_DIR]   (default build/release)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
BIN="$BUILD/apps/trailstream"
cd "$ROOT"
run() {
    echo
    echo "==== $1"
    shift
    "$@" || echo "(benchmark failed: $*)"
}
run "store: append, read, recovery vs raw disk and memcpy" \
    "$BUILD/bench/store/bench_store" --quick --dir "$ROOT/build/bench-store"
run "http: signed GetCallerIdentity vs moto_server" bench/http/run.sh "$BIN"
run "logs: PutLogEvents vs moto_server" bench/logs/run.sh "$BIN"
run "pattern: CIS filter evaluation vs moto" python3 bench/pattern/run.py "$BUILD"
run "kinesis: PutRecords/GetRecords/latency vs moto_server" bench/kinesis/run.sh "$ROOT/build/bench-kinesis"
run "delivery: PutLogEvents -> subscription -> GetRecords" env BUILD="$ROOT/build/bench-delivery" bench/delivery/run.sh
run "cloudtrail: recording overhead and import rate" bench/cloudtrail/run.sh "$BIN"
