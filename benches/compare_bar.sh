#!/usr/bin/env bash
# The bar `compare` is held to, on this host, with the built release binary:
#   - false alarms: two back-to-back `scenario pingpong --quick` runs of one build must compare
#     with no `regressed` case in at least 9 pairs of 10;
#   - detection: with IPCBENCH_SLOWDOWN=posix-shm:30 on the second run (each side of posix-shm
#     delays its sends by 30 % of its warm-up one-way p50), compare must call the small
#     posix-shm spin cases regressed in every pair.
# Each round runs A, B, then B' (slowed down): A→B counts false alarms, B→B' detection.
#
#   cargo build --release && benches/compare_bar.sh [ROUNDS] [OUT]
# Prints one line per round and the tallies; the result files stay in OUT (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
out=${2:-$(mktemp -d /tmp/ipcbench-bar.XXXXXX)}
bin=./target/release/ipcbench
pin=${IPCBENCH_BAR_PIN:-0,1}
must_catch='pingpong/posix-shm/fork/spin/64 pingpong/posix-shm/spawn/spin/64'
run() { # DIR [env...]
    local dir=$1; shift
    env "$@" "$bin" scenario pingpong --quick --pin "$pin" --no-report --out "$dir" >/dev/null ||
        echo "warning: a case failed in $dir (see its result file)" >&2
    echo "$dir/latest.json"
}
regressed() { # BASE NEW: the ids of cases with a regressed figure, one per line
    # (compare exits 1 when something regressed: that is the answer, not a failure)
    { "$bin" compare "$1" "$2" --format json || [ $? -eq 1 ]; } |
        python3 -c 'import json,sys
c=json.load(sys.stdin)
for k in c["cases"]:
    figs=[f["name"] for f in k["figures"] if f["verdict"]=="regressed"]
    if figs: print(k["id"], "(" + ", ".join(figs) + ")")'
}
clean=0; caught=0
for i in $(seq 1 "$rounds"); do
    a=$(run "$out/$i-a"); b=$(run "$out/$i-b"); s=$(run "$out/$i-slow" IPCBENCH_SLOWDOWN=posix-shm:30)
    false_alarms=$(regressed "$a" "$b")
    detected=$(regressed "$b" "$s")
    [ -z "$false_alarms" ] && clean=$((clean + 1))
    missed=""
    for id in $must_catch; do
        grep -q "^$id " <<<"$detected" || missed="$missed $id"
    done
    [ -z "$missed" ] && caught=$((caught + 1))
    echo "round $i: false alarms: ${false_alarms:-none}" | tr '\n' ';'; echo
    echo "round $i: posix-shm regressed: $(grep -c '^pingpong/posix-shm/' <<<"$detected" || true)," \
        "other cases regressed: $(grep -vc '^pingpong/posix-shm/' <<<"$detected" || true)," \
        "missed:${missed:- none}"
done
echo "no false alarm in $clean of $rounds pairs; slowdown caught in $caught of $rounds pairs"
echo "results in $out"
