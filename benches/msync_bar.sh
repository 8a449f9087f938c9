#!/bin/sh
# The bar for scenario `msync`: ipcbench's msync/msync-sync/disk/N median against the minimal C
# loop in msync_reference.c, for N = 1, 64, 4096 pages, run side by side in one session. Disk
# flush times on a VM drift (and jump between modes: ~4 ms, ~0.2 ms), so each pair runs back to
# back for SECS each, in alternating order, for several rounds; read the median of the pairs'
# ratios. ipcbench is stopped (SIGINT) as soon as msync-sync/disk, its first case, is saved.
# Both flush files in the same directory (default: the system temp dir).
#
#   cargo build --release && sh benches/msync_bar.sh [ROUNDS [DIR [SECS]]]
set -eu
rounds=${1:-4}
dir=${2:-${TMPDIR:-/tmp}}
secs=${3:-0.5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/msync_reference" benches/msync_reference.c

p50() { # pages -> p50 ns of msync/msync-sync/disk/<pages> in the latest result, if saved
    python3 -c "import json; print([c for c in json.load(open('$work/out/latest.json'))['cases'] \
        if c['id'] == 'msync/msync-sync/disk/$1'][0]['latency_ns']['flush']['p50'])" 2>/dev/null
}
ours() { # pages -> p50 ns
    rm -f "$work/out/latest.json"
    # One size: msync-sync/disk is the run's first case, so it runs right beside the reference.
    ./target/release/ipcbench scenario msync --size "$(($1 * 4))K" --duration "${secs}s" \
        --dir "$dir" --out "$work/out" >/dev/null 2>&1 &
    pid=$!
    until p50 "$1" >/dev/null; do sleep 0.02; done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
    p50 "$1"
}
reference() { # pages -> p50 ns
    "$work/msync_reference" "$dir" "$1" 1000000 "$secs" | sed 's/.*p50_ns \([0-9]*\).*/\1/'
}

echo "pages round order ipcbench_p50_ns reference_p50_ns ratio" | tee "$work/pairs"
for n in 1 64 4096; do
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then
            a=$(ours "$n"); b=$(reference "$n"); order=ipcbench-first
        else
            b=$(reference "$n"); a=$(ours "$n"); order=reference-first
        fi
        echo "$n $r $order $a $b $(python3 -c "print(f'{$a / $b:.3f}')")" | tee -a "$work/pairs"
    done
done
python3 - "$work/pairs" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
print("pages  pairs  median ipcbench p50  median reference p50  median of pair ratios")
for n in sorted({int(r[0]) for r in rows}):
    rs = [r for r in rows if int(r[0]) == n]
    a = statistics.median(int(r[3]) for r in rs)
    b = statistics.median(int(r[4]) for r in rs)
    ratio = statistics.median(float(r[5]) for r in rs)
    print(f"{n:5}  {len(rs):5}  {a / 1e3:14.1f} us  {b / 1e3:16.1f} us  {ratio:21.3f}")
PY
