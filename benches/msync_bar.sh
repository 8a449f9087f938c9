#!/bin/sh
# The bar for scenario `msync`: ipcbench's msync/msync-sync/disk/N median against the minimal C
# loop in msync_reference.c, for N = 1, 64, 4096 pages, run side by side in one session. Disk
# flush times on a VM drift (and jump between modes), so each pair runs back to back, 1 s each,
# in alternating order, several rounds; compare the pairs, not the rounds.
# Both flush files in the same directory (default: the system temp dir).
#
#   cargo build --release && sh benches/msync_bar.sh [ROUNDS [DIR]]
set -eu
rounds=${1:-4}
dir=${2:-${TMPDIR:-/tmp}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/msync_reference" benches/msync_reference.c

ours() { # pages -> p50 ns of msync/msync-sync/disk/<pages>
    # One size: msync-sync/disk is the run's first case, so it runs right beside the reference.
    ./target/release/ipcbench scenario msync --size "$(($1 * 4))K" --duration 1s --dir "$dir" \
        --out "$work/out" >/dev/null 2>&1 || true
    python3 -c "import json; print([c for c in json.load(open('$work/out/latest.json'))['cases'] \
        if c['id'] == 'msync/msync-sync/disk/$1'][0]['latency_ns']['flush']['p50'])"
}
reference() { # pages -> p50 ns
    "$work/msync_reference" "$dir" "$1" 1000000 1 | sed 's/.*p50_ns \([0-9]*\).*/\1/'
}

echo "pages round order ipcbench_p50_ns reference_p50_ns ratio"
for n in 1 64 4096; do
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then
            a=$(ours "$n"); b=$(reference "$n"); order=ipcbench-first
        else
            b=$(reference "$n"); a=$(ours "$n"); order=reference-first
        fi
        echo "$n $r $order $a $b $(python3 -c "print(f'{$a / $b:.3f}')")"
    done
done
