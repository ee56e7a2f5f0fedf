# bench/lib.sh - shell helpers shared by the benchmark scripts (sourced, POSIX sh).
#
# Expects: BIN (the trailstream binary), TMP (a scratch directory), PYTHON. Provides:
#   bench_require TOOL...          stop unless every tool is on PATH
#   bench_free_port                print a free loopback port
#   bench_wait_http URL            poll URL until it answers (bounded: 20 s)
#   bench_start_trailstream CONFIG [DATA]
#                                  start `serve` with CONFIG, data in DATA (default $TMP/data);
#                                  sets TS_PID and TS_URL (from the first line it prints); every
#                                  server started is reaped by bench_cleanup
#   bench_stop_trailstream         SIGTERM and wait; fails unless it exits 0
#   bench_start_moto               start moto_server on a free port; sets MOTO_PID, MOTO_URL
#   bench_wrk_result FILE NAME     sets WRK_LINE to the result line of a replay.lua run
#                                  ("requests N non200 N errors N rps R p50_us P p99_us P");
#                                  stops the script if any answer was not 200 or a socket
#                                  error happened
#   bench_cleanup                  reap both servers and remove TMP (install with trap)

TS_PID=""
TS_PIDS=""
MOTO_PID=""

bench_require() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
    done
}

bench_free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_wait_http() {
    i=0
    until "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "$1" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 200 ] || { echo "$0: $1 did not come up" >&2; exit 1; }
        sleep 0.1
    done
}

bench_start_trailstream() {
    data=${2:-$TMP/data}
    out="$data.out"
    : > "$out"
    "$BIN" serve --config "$1" --data-dir "$data" --listen 127.0.0.1:0 \
        > "$out" 2>> "$TMP/ts.err" &
    TS_PID=$!
    TS_PIDS="$TS_PIDS $TS_PID"
    i=0
    until grep -q '^listening on ' "$out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -ge 200 ] || ! kill -0 "$TS_PID" 2>/dev/null; then
            echo "$0: trailstream did not start:" >&2
            cat "$TMP/ts.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    TS_URL=$(sed -n 's/^listening on //p' "$out" | head -n 1)
    bench_wait_http "$TS_URL/health"
}

bench_stop_trailstream() {
    kill "$TS_PID"
    wait "$TS_PID" || { echo "$0: the server did not stop cleanly" >&2; exit 1; }
    TS_PID=""
}

bench_start_moto() {
    MOTO_PORT=$(bench_free_port)
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$TMP/moto.log" 2>&1 &
    MOTO_PID=$!
    MOTO_URL="http://127.0.0.1:$MOTO_PORT"
    bench_wait_http "$MOTO_URL/moto-api/"
}

bench_wrk_result() {
    WRK_LINE=$(grep '^requests ' "$1" || true)
    case "$WRK_LINE" in
    "requests "*" non200 0 errors 0 "*) ;;
    *)
        echo "$0: $2: answers that were not 200, or socket errors:" >&2
        cat "$1" >&2
        exit 1
        ;;
    esac
}

bench_cleanup() {
    for pid in $TS_PIDS $MOTO_PID; do
        { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; } || true
    done
    rm -rf "$TMP"
}
