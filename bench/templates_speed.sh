#!/usr/bin/env bash
# Template-mining throughput on one core: the Content column of the ten Loghub-2k systems
# (20,000 messages), repeated 50 times (1,000,000 lines, steady state). Prints the library's
# mine/lookup rates (no I/O) and the CPU time of `kasbah templates` end to end (two passes,
# reading the file twice, table output). Needs ../shared/loghub (or $KASBAH_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${KASBAH_SHARED:-../shared}"
TARGET="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 - "$SHARED/loghub" "$WORK/corpus.txt" <<'PY'
import csv, os, sys
root, out = sys.argv[1], sys.argv[2]
lines = []
for s in sorted(os.listdir(root)):
    p = os.path.join(root, s, f"{s}_2k.log_structured_corrected.csv")
    if os.path.exists(p):
        with open(p, newline="", encoding="utf-8") as f:
            lines += [" ".join(r["Content"].split()) for r in csv.DictReader(f)]
with open(out, "w", encoding="utf-8") as f:
    for _ in range(50):
        f.write("\n".join(lines) + "\n")
PY
cargo build --release -q -p kasbah-ml --example mine_speed
cargo build --release -q -p kasbah-cli
echo "library (one thread, best of 3):"
for _ in 1 2 3; do taskset -c 0 "$TARGET/release/examples/mine_speed" "$WORK/corpus.txt"; done
LINES=$(wc -l < "$WORK/corpus.txt")
read -r WALL CPU < <(taskset -c 0 python3 bench/timeit.py "$TARGET/release/kasbah" templates "$WORK/corpus.txt")
python3 -c "print(f'kasbah templates: {$LINES} lines, wall {$WALL:.2f} s, CPU {$CPU:.2f} s, {$LINES/$CPU:,.0f} lines/s per core')"
