#!/usr/bin/env bash
# End-to-end hunting benchmark: every SigmaHQ rule (rules/, rules-emerging-threats/,
# rules-threat-hunting/) over EVTX-ATTACK-SAMPLES with `kasbah hunt`, beside parsing the same
# files alone. Prints wall time, peak memory, events/s and detections as a markdown table; paste
# it into bench/RESULTS.md with machine notes.
#
#   bench/hunt.sh [--copies N]     (N > 1 also runs the corpus copied N times, for scaling)
#
# Data: ../shared/sigma and ../shared/evtx/EVTX-ATTACK-SAMPLES (KASBAH_SHARED overrides
# ../shared). Needs GNU time (/usr/bin/time) for peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${KASBAH_SHARED:-../shared}
COPIES=1
[ "${1:-}" = "--copies" ] && COPIES=$2
EVTX="$SHARED/evtx/EVTX-ATTACK-SAMPLES"
RULES=("$SHARED/sigma/rules" "$SHARED/sigma/rules-emerging-threats" "$SHARED/sigma/rules-threat-hunting")
for d in "$EVTX" "${RULES[@]}"; do
  [ -d "$d" ] || { echo "missing $d (set KASBAH_SHARED)"; exit 1; }
done

cargo build --release -q -p kasbah-cli
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/kasbah
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The parsed-rule cache lives in the temporary folder: "cold" runs parse every rule file
# (--no-rule-cache), "warm" runs take them from the cache the first warm run wrote.
export KASBAH_CACHE_DIR=$TMP/cache
RARGS=()
for r in "${RULES[@]}"; do RARGS+=(-r "$r"); done

# run LABEL CMD...: best wall time of 3 runs, peak RSS of the last, and the command's stderr.
run() {
  local label=$1; shift
  local best=999999 t0 t1 t
  for _ in 1 2 3; do
    t0=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >/dev/null 2>"$TMP/err" || true
    t1=$(date +%s%N); t=$(( (t1 - t0) / 1000000 ))
    [ "$t" -lt "$best" ] && best=$t
  done
  # GNU time prefixes "Command exited with non-zero status N" when the exit status is not 0.
  local rss; rss=$(( $(tail -1 "$TMP/rss") / 1024 ))
  echo "$label|$best|$rss"
}

corpus() {
  local n=$1
  if [ "$n" -eq 1 ]; then echo "$EVTX"; return; fi
  local dir=$TARGET/bench-hunt-x$n
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    for i in $(seq 1 "$n"); do cp -r "$EVTX" "$dir/copy$i"; done
  fi
  echo "$dir"
}

echo "| corpus | run | wall (s) | peak RSS (MiB) | events | events/s | rules loaded | detections |"
echo "|---|---|---|---|---|---|---|---|"
for n in 1 $([ "$COPIES" -gt 1 ] && echo "$COPIES"); do
  input=$(corpus "$n")
  IFS='|' read -r _ ms_parse rss_parse < <(run parse "$BIN" parse --quiet --output none "$input")
  IFS='|' read -r _ ms_cold rss_cold < <(run hunt "$BIN" hunt --no-rule-cache --no-progress --format jsonl -o "$TMP/hunt.jsonl" "${RARGS[@]}" "$input")
  IFS='|' read -r _ ms_hunt rss_hunt < <(run hunt "$BIN" hunt --no-progress --format jsonl -o "$TMP/hunt.jsonl" "${RARGS[@]}" "$input")
  summary=$(cat "$TMP/err")
  events=$(echo "$summary" | sed -n 's/^kasbah hunt: .*), \([0-9]*\) events.*/\1/p')
  loaded=$(echo "$summary" | sed -n 's/^rules: \([0-9]*\) loaded.*/\1/p')
  dets=$(echo "$summary" | sed -n 's/^detections: \([0-9]*\) .*/\1/p')
  rate() { awk -v a="$1" -v ms="$2" 'BEGIN{ if (ms>0 && a>0) printf "%.0f", a*1000/ms; else print "-" }'; }
  label="EVTX-ATTACK-SAMPLES x$n"
  echo "| $label | kasbah parse | $(awk -v m="$ms_parse" 'BEGIN{printf "%.2f", m/1000}') | $rss_parse | ${events:--} | $(rate "${events:-0}" "$ms_parse") | - | - |"
  echo "| $label | kasbah hunt, rules parsed (cold) | $(awk -v m="$ms_cold" 'BEGIN{printf "%.2f", m/1000}') | $rss_cold | ${events:--} | $(rate "${events:-0}" "$ms_cold") | ${loaded:--} | ${dets:--} |"
  echo "| $label | kasbah hunt, rule cache (warm) | $(awk -v m="$ms_hunt" 'BEGIN{printf "%.2f", m/1000}') | $rss_hunt | ${events:--} | $(rate "${events:-0}" "$ms_hunt") | ${loaded:--} | ${dets:--} |"
done
echo
echo "Rule loading alone (kasbah rules check), cold then warm:"
for flag in --no-rule-cache ""; do
  t0=$(date +%s%N); { "$BIN" rules check $flag "${RULES[@]}" || true; } | head -1; t1=$(date +%s%N)
  echo "wall $(( (t1 - t0) / 1000000 )) ms"
done
