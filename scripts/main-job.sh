#!/usr/bin/env bash
# The main job on a fresh machine, with its own set-up: builds LocalGPT, creates a LocalGPT home
# (in $LOCALGPT_HOME, default ~/.localgpt) and shows what it will use.
# Usage: scripts/main-job.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
cargo build --release -p localgpt
localgpt="$CARGO_TARGET_DIR/release/localgpt"

"$localgpt" config init
"$localgpt" config show
