#!/usr/bin/env bash
# The "hello world" HTTP server benchmark: examples/http_hello (gort) against the same tiny
# server on tokio, on std threads (a thread per connection), on may, and Go's net/http
# (benches/go/http_hello), each loaded in turn by wrk on 127.0.0.1. Prints one table of
# requests/s and p99 latency per server and connection count.
#
#   benches/http/run.sh                      # 100 and 1000 connections, 10 s each
#   DURATION=5 benches/http/run.sh           # shorter runs
#   CONNS="100" SERVERS="gort tokio" benches/http/run.sh
#   PROCS=2 WRK_THREADS=2 benches/http/run.sh
#
# Needs wrk (apt-get install -y wrk); the Go row is skipped without a Go toolchain. All
# traffic stays on loopback; every load run is bounded by DURATION. The load generator shares
# the machine with the server, so figures are ratios within one run, not absolutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${DURATION:-10}"
warmup="${WARMUP:-1}"
conns_list="${CONNS:-100 1000}"
procs="${PROCS:-$(nproc)}"
wrk_threads="${WRK_THREADS:-2}"
servers="${SERVERS:-gort tokio std may go}"
base_port="${PORT:-18180}"

command -v wrk >/dev/null || { echo "benches/http/run.sh: wrk not found (apt-get install -y wrk)"; exit 1; }
# wrk and the thread-per-connection server need a descriptor each per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "building the servers (release)..." >&2
(cd "$root" && cargo build --release --quiet --example http_hello --example http_tokio \
    --example http_std --example http_may)
bin="$root/target/release/examples"

go_bin=""
if [[ " $servers " == *" go "* ]]; then
    go_bin="$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -z "$go_bin" ]] && go_bin="$(command -v go || true)"
    if [[ -n "$go_bin" ]]; then
        (cd "$root/benches/go" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
            GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/gort-bench-gocache}" \
            "$go_bin" build -o "$work/go_http_hello" ./http_hello)
    else
        echo "no Go toolchain: skipping the Go row" >&2
    fi
fi

# Starts server $1 on port $2; prints its pid.
start_server() {
    local name="$1" port="$2" addr="127.0.0.1:$2"
    case "$name" in
        # `exec`: the background subshell becomes the server, so `$!` is the server's pid and
        # the kill below (and the cleanup trap) stops the server itself, not a wrapper.
        gort) exec "$bin/http_hello" --addr "$addr" --procs "$procs" ;;
        tokio) exec "$bin/http_tokio" --addr "$addr" --procs "$procs" ;;
        std) exec "$bin/http_std" --addr "$addr" ;;
        may) exec "$bin/http_may" --addr "$addr" --procs "$procs" ;;
        go) exec "$work/go_http_hello" -addr "$addr" -procs "$procs" ;;
    esac >"$work/$name.out" 2>"$work/$name.log" &
    echo $!
}

# Waits (at most 10 s) until something accepts on port $1.
wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

# wrk's latency figure ("812.00us", "6.96ms", "1.02s") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
results="$work/results.tsv"
: >"$results"
port="$base_port"
for name in $servers; do
    [[ "$name" == go && -z "$go_bin" ]] && continue
    port=$((port + 1))
    pid="$(start_server "$name" "$port")"
    pids+=("$pid")
    if ! wait_port "$port"; then
        echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
    fi
    for c in $conns_list; do
        echo "  $name, $c connections, ${duration}s..." >&2
        wrk -t"$wrk_threads" -c"$c" -d"${warmup}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
        out="$(wrk -t"$wrk_threads" -c"$c" -d"${duration}s" --latency "http://127.0.0.1:$port/" 2>&1)"
        rps="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")"
        p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
        errors="$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr -s ' ' | paste -sd';' -)"
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "${rps:-0}" "$p99" "${errors:-}" >>"$results"
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "http_hello under wrk: $wrk_threads wrk threads, ${duration}s per run, servers with $procs procs, $(nproc) CPUs"
echo "load average before: $load_before, after: $load_after (figures are noisy if it was above ~$(nproc) before)"
echo
printf '| %-6s | %11s | %10s | %9s | %s\n' "server" "connections" "requests/s" "p99 (ms)" "errors"
printf '|--------|-------------|------------|-----------|-------\n'
while IFS=$'\t' read -r name c rps p99 errors; do
    printf '| %-6s | %11s | %10s | %9s | %s\n' "$name" "$c" "$rps" "$p99" "$errors"
done <"$results"
