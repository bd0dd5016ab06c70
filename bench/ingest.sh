#!/usr/bin/env bash
# Ingestion, disk and search benchmark of `kasbah serve` on this machine.
# EVENTS (default 10,000,000) events over CONNECTIONS (4) syslog TCP connections; see bench/ingest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p kasbah-cli --locked
python3 bench/ingest.py --kasbah target/release/kasbah --events "${EVENTS:-10000000}" \
  --connections "${CONNECTIONS:-4}" --work target/bench-ingest --runs "${RUNS:-20}"
# Detection on ingestion: all SigmaHQ Windows rules over replayed Windows attack events.
python3 bench/detect.py --kasbah target/release/kasbah --events "${DETECT_EVENTS:-2000000}" \
  --connections "${CONNECTIONS:-4}" --work target/bench-detect
