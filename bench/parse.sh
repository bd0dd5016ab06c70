#!/usr/bin/env bash
# End-to-end parse benchmark: events/s and MB/s per core for each format, beside the physical
# floor on the same machine (reading the bytes; splitting lines; for EVTX, the evtx crate's own
# record iteration). Prints a markdown table; paste it into bench/RESULTS.md with machine notes.
#
#   bench/parse.sh [--mb N]        (default 64 MB of synthetic data per format)
#
# Synthetic data comes from bench/gen.py (deterministic); EVTX from ../shared/evtx
# (KASBAH_SHARED overrides ../shared). Everything runs pinned to one core.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=64
[ "${1:-}" = "--mb" ] && MB=$2
DATA=target/bench-data
SHARED=${KASBAH_SHARED:-../shared}
CORE="taskset -c 1"
command -v taskset >/dev/null || CORE=""

cargo build --release -q -p kasbah-cli
cargo build --release -q -p kasbah-parse --example evtx_floor
python3 bench/gen.py --out "$DATA" --mb "$MB" >/dev/null
BIN=target/release/kasbah
FLOOR=target/release/examples/evtx_floor

# "wall cpu" best-of-3 seconds of a command (see bench/timeit.py); cpu() keeps the CPU part.
timing() { python3 bench/timeit.py "$@"; }
cpu() { timing "$@" | awk '{print $2}'; }
events() { { "$BIN" parse --output none "$@" 2>&1 >/dev/null || true; } | awk '/ events, /{print $4}' | head -1; }
rate() { awk -v a="$1" -v t="$2" 'BEGIN{ if (t>0) printf "%.0f", a/t; else print "-" }'; }
mbs() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t>0) printf "%.0f", b/1048576/t; else print "-" }'; }

echo "Rates per core, from CPU time (user+sys) of the best of 3 runs, pinned to one core."
echo
echo "| input | format | MB | events | read MB/s | lines MB/s | parse MB/s | parse events/s | parse+JSON out MB/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for f in "$DATA"/*.log; do
  name=$(basename "$f" .log); fmt=${name#*.}; bytes=$(stat -c %s "$f")
  cat "$f" >/dev/null # warm the page cache
  t_read=$(cpu $CORE cat "$f")
  t_lines=$(cpu $CORE wc -l "$f")
  t_parse=$(cpu $CORE "$BIN" parse --quiet --output none -f "$fmt" "$f")
  t_json=$(cpu $CORE "$BIN" parse --quiet -f "$fmt" "$f")
  n=$(events -f "$fmt" "$f")
  echo "| ${name%%.*} | $fmt | $(( bytes >> 20 )) | $n | $(mbs "$bytes" "$t_read") | $(mbs "$bytes" "$t_lines") | $(mbs "$bytes" "$t_parse") | $(rate "$n" "$t_parse") | $(mbs "$bytes" "$t_json") |"
done

if [ -d "$SHARED/evtx" ]; then
  bytes=$(find "$SHARED/evtx" -name '*.evtx' -printf '%s\n' | awk '{s+=$1} END{print s}')
  n=$(events -f evtx "$SHARED/evtx")
  t_xml=$(cpu $CORE "$FLOOR" --mode xml "$SHARED/evtx")
  t_value=$(cpu $CORE "$FLOOR" --mode json-value "$SHARED/evtx")
  t_parse=$(cpu $CORE "$BIN" parse --quiet --output none -f evtx "$SHARED/evtx")
  t_json=$(cpu $CORE "$BIN" parse --quiet -f evtx "$SHARED/evtx")
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
  echo
  echo "| EVTX corpus | MB | events | evtx crate: XML text (s) | evtx crate: JSON values (s) | kasbah parse (s) | vs XML text | vs JSON values | events/s | parse+JSON out (s) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  echo "| $SHARED/evtx | $(( bytes >> 20 )) | $n | $t_xml | $t_value | $t_parse | $(ratio "$t_parse" "$t_xml") | $(ratio "$t_parse" "$t_value") | $(rate "$n" "$t_parse") | $t_json |"
else
  echo "(EVTX skipped: $SHARED/evtx not found)"
fi
