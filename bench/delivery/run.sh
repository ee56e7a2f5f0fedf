#!/bin/sh
# End-to-end subscription delivery benchmark (bench/delivery/README.md). Release build, then
# latency at 1,000 and 20,000 events/s and backlog/sustained throughput, under the default
# fsync policy (group) and under interval.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-/tmp/ts-bench-release}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTS_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bench_delivery >/dev/null
B="$BUILD/bench/delivery/bench_delivery"
for fs in group interval; do
    "$B" --mode latency --fsync $fs --seconds ${SECONDS_PER_RATE:-5}
    "$B" --mode throughput --fsync $fs --backlog ${BACKLOG:-300000}
    "$B" --mode throughput --fsync $fs --backlog ${BACKLOG:-300000} --match quarter
done
