#!/usr/bin/env bash
# Detection-on-ingestion benchmark: all SigmaHQ Windows rules over replayed Windows attack events;
# sustained events/s with detection on and off, and ingest-to-alert latency. See bench/detect.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p kasbah-cli --locked
python3 bench/detect.py --kasbah target/release/kasbah --events "${EVENTS:-2000000}" \
  --connections "${CONNECTIONS:-4}" --work target/bench-detect
