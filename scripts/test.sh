#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it:
# formatting, lints with warnings as errors, every unit/integration/property test, doc tests.
# Tests that need ../shared (real EVTX, SigmaHQ, Loghub) skip with a message when it is absent;
# KASBAH_SHARED points them elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests' parsed-rule caches stay in the build directory, not in the user's ~/.cache.
export KASBAH_CACHE_DIR="${KASBAH_CACHE_DIR:-$PWD/target/rule-cache}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "doc tests"
cargo test --workspace --doc --locked

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
