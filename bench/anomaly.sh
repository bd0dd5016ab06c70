#!/usr/bin/env bash
# Anomaly alerts of the server on real logs: alerts per 1,000 events after learning on each
# Loghub-2k system, and the ingestion cost of anomaly detection. See bench/anomaly.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p kasbah-cli --locked
python3 bench/anomaly.py --kasbah target/release/kasbah --rounds "${ROUNDS:-25}" --work target/bench-anomaly
