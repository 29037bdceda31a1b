#!/usr/bin/env bash
# Runs the Go twins of gort's benchmarks and prints one table of medians.
#
#   benches/go/run.sh                 # every workload, REPS processes (default 5)
#   REPS=3 benches/go/run.sh          # fewer repetitions
#   QUICK=1 benches/go/run.sh         # 1/10 sizes, 1 repetition: a sanity check, noisy
#   FILTER='^spawn' benches/go/run.sh # only rows whose name matches (Go regexp)
#   PARKED=1000000 benches/go/run.sh  # memory rows with 1M parked goroutines (~2.7 GB RSS)
#   GO=/usr/lib/go-1.23/bin/go benches/go/run.sh  # pick the toolchain
#
# Each repetition is a fresh process (each workload: 1 warm-up run, 1 measured run). Memory
# rows (bytes per parked goroutine) run in their own processes. With no Go toolchain installed
# the script says so and exits 0, so it can sit in CI scripts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

find_go() {
    if [[ -n "${GO:-}" ]]; then
        echo "$GO"
        return
    fi
    # Prefer the newest Debian versioned toolchain (/usr/lib/go-1.N), then whatever `go` is.
    local newest
    newest="$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$newest" && -x "$newest" ]]; then
        echo "$newest"
    elif command -v go >/dev/null 2>&1; then
        command -v go
    fi
}

go_bin="$(find_go)"
if [[ -z "$go_bin" ]]; then
    echo "benches/go/run.sh: no Go toolchain found (neither \`go\` on PATH nor /usr/lib/go-1.*/bin/go); skipping the Go twins."
    exit 0
fi

# Build offline with the installed toolchain only: the twins use the standard library alone.
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/gort-bench-gocache}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$here" && "$go_bin" build -o "$work/gortbench" . && "$go_bin" build -o "$work/http_hello" ./http_hello)

reps="${REPS:-5}"
args=()
if [[ -n "${QUICK:-}" ]]; then
    reps="${REPS:-1}"
    args+=(-quick)
fi
if [[ -n "${FILTER:-}" ]]; then
    args+=(-run "$FILTER")
fi
parked="${PARKED:-100000}"

# 100000 -> 100k, 1000000 -> 1m: the label the Go program puts in the memory row names.
count_label() {
    local n="$1"
    if ((n % 1000000 == 0)); then echo "$((n / 1000000))m"
    elif ((n % 1000 == 0)); then echo "$((n / 1000))k"
    else echo "$n"; fi
}

echo "Go twins: $("$go_bin" version), GOMAXPROCS set per row, $reps repetition(s), $(nproc) CPUs"

raw="$work/rows.tsv"
: >"$raw"
for ((rep = 1; rep <= reps; rep++)); do
    echo "  repetition $rep/$reps..." >&2
    "$work/gortbench" "${args[@]}" >>"$raw"
    for variant in parked parked_own_chan; do
        row="${variant}_$(count_label "$parked")/go"
        if [[ -z "${FILTER:-}" || "$row" =~ ${FILTER} ]]; then
            flags=(-parked "$parked")
            [[ "$variant" == parked_own_chan ]] && flags+=(-own-chan)
            "$work/gortbench" "${flags[@]}" >>"$raw"
        fi
    done
done

# Rows keep the order of their first appearance; each gets median [min-max] over repetitions.
awk -F'\t' '!($1 in order) { order[$1] = ++n } { print order[$1] "\t" $0 }' "$raw" |
    sort -t$'\t' -k1,1n -k3,3g |
    awk -F'\t' '
        function flush() {
            if (count == 0) return
            if (count % 2) median = v[(count + 1) / 2]
            else median = (v[count / 2] + v[count / 2 + 1]) / 2
            printf "%-36s %14.1f  [%.1f - %.1f]  %s  (n=%d)\n", name, median, v[1], v[count], unit, count
            count = 0
        }
        $2 != name { flush(); name = $2; unit = $4 }
        { v[++count] = $3 }
        END { flush() }
    ' | { printf "%-36s %14s  %s\n" "row" "median" "[min - max]  unit"; cat; }
