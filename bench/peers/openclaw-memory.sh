#!/usr/bin/env bash
# Measures OpenClaw's memory indexing and search on a markdown corpus, keyword-only and offline.
#
# Usage: openclaw-memory.sh CORPUS_DIR
#   env: WORK=dir     throwaway OpenClaw home and logs (default: a new mktemp dir, kept for inspection)
#        RUNS=5       hyperfine runs per query (plus 1 warm-up)
#        OFFLINE=0    do not wrap the measurements in a network namespace (see below)
#        QUERY1..3    override the three queries
#
# What it does:
#  1. install-openclaw.sh (idempotent; the only step that uses the network, and only when installing).
#  2. Re-runs itself inside `unshare -n` (a fresh network namespace with no interfaces, loopback
#     down) when it can, so OpenClaw cannot reach any network during the measurements.
#  3. Builds a throwaway home: HOME, OPENCLAW_HOME, OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH all
#     point inside $WORK; `openclaw setup --baseline` seeds config + workspace; the seeded USER.md is
#     removed (OpenClaw indexes a root USER.md as memory, so only the corpus gets indexed).
#  4. Config: memory.search = { provider: "none" (FTS/BM25 keyword-only; no embedding provider, no
#     model download), fallback: "none", sources: ["memory"], rememberAcrossConversations: false
#     (otherwise "sessions" is added to the sources), extraPaths: [CORPUS_DIR] (scanned recursively,
#     so every *.md under it is indexed) }. Provider API-key variables are unset.
#  5. /usr/bin/time -v: `openclaw memory index --force`, then `openclaw memory search QUERY` for each
#     query (wall time, peak RSS = largest single process: the launcher respawns one Node child);
#     files/chunks from `memory status --json`, cross-checked in the agent SQLite database;
#     hyperfine --runs $RUNS per query for the median; strace counts connect() calls to anything but
#     a Unix socket during one more index and search.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: $0 CORPUS_DIR" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
corpus="$(realpath "$1")"   # OpenClaw skips symlinked roots: give it the canonical path
RUNS="${RUNS:-5}"
QUERY1="${QUERY1:-gateway configuration}"
QUERY2="${QUERY2:-how do skills get loaded}"
QUERY3="${QUERY3:-telegram bot token}"

if [ -z "${_OPENCLAW_BENCH_INNER:-}" ]; then
  openclaw="$("$here/install-openclaw.sh" | tail -n 1)"
  export OPENCLAW_BIN="$openclaw"
  export WORK="${WORK:-$(mktemp -d /tmp/openclaw-memory-bench.XXXXXX)}"
  export RUNS QUERY1 QUERY2 QUERY3 _OPENCLAW_BENCH_INNER=1
  if [ "${OFFLINE:-1}" = 1 ] && unshare -n true 2>/dev/null; then
    export _OPENCLAW_BENCH_NETNS="unshare -n (no network interfaces)"
    exec unshare -n "$0" "$corpus"
  fi
  export _OPENCLAW_BENCH_NETNS="none (OFFLINE=0 or unshare not permitted): offline by config only"
  exec "$0" "$corpus"
fi

openclaw="$OPENCLAW_BIN"
work="$WORK"
home="$work/home"
logs="$work/logs"
rm -rf "$home" "$logs" && mkdir -p "$home" "$logs"
export HOME="$home" OPENCLAW_HOME="$home" OPENCLAW_STATE_DIR="$home/.openclaw"
export OPENCLAW_CONFIG_PATH="$home/.openclaw/openclaw.json"
unset OPENAI_API_KEY GEMINI_API_KEY GOOGLE_API_KEY VOYAGE_API_KEY MISTRAL_API_KEY DEEPINFRA_API_KEY \
  ANTHROPIC_API_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_BEARER_TOKEN_BEDROCK OPENCLAW_PROFILE \
  OPENCLAW_WORKSPACE_DIR OPENCLAW_AGENT_DIR 2>/dev/null || true

corpus_files="$(find "$corpus" -type f -name '*.md' | wc -l)"
corpus_bytes="$(find "$corpus" -type f -name '*.md' -print0 | du -cb --files0-from=- | tail -n 1 | cut -f1)"
version="$("$openclaw" --version | sed -n 's/^OpenClaw \([^ ]*\).*/\1/p')"
node_version="$("$(sed -n 's/^exec "\([^"]*\)" .*/\1/p' "$openclaw")" --version)"
echo "OpenClaw $version ($openclaw), Node $node_version"
echo "corpus: $corpus ($corpus_files .md files, $corpus_bytes bytes)"
echo "work dir: $work; network: $_OPENCLAW_BENCH_NETNS"

"$openclaw" setup --baseline > "$logs/setup.log" 2>&1
workspace="$home/.openclaw/workspace"
rm -f "$workspace/USER.md"
python3 - "$OPENCLAW_CONFIG_PATH" "$corpus" <<'PY'
import json, sys
path, corpus = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config.setdefault("memory", {})["search"] = {
    "enabled": True,
    "provider": "none",
    "fallback": "none",
    "sources": ["memory"],
    "rememberAcrossConversations": False,
    "extraPaths": [corpus],
}
json.dump(config, open(path, "w"), indent=2)
PY

# Warm the page cache for Node and OpenClaw's modules, and check the config took.
"$openclaw" memory status --json > "$logs/status-before.json" 2> "$logs/status-before.err"
python3 - "$logs/status-before.json" "$corpus_files" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))[0]["status"]
eligible = sum(s.get("eligible", 0) for s in status["sourceCounts"])
problems = []
if status["provider"] != "none": problems.append(f"provider is {status['provider']}")
if status["sources"] != ["memory"]: problems.append(f"sources are {status['sources']}")
if eligible != int(sys.argv[2]): problems.append(f"{eligible} eligible files, corpus has {sys.argv[2]}")
if problems: sys.exit("config check failed: " + "; ".join(problems))
print(f"config ok: provider none, sources {status['sources']}, {eligible} eligible files")
PY

# timed CMD... : runs CMD under /usr/bin/time -v, stdout to $logs/$name.out; sets wall / rss_mb.
timed() {
  local name="$1"; shift
  /usr/bin/time -v -o "$logs/$name.time" "$@" > "$logs/$name.out" 2> "$logs/$name.err"
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; printf "%.2f", s}' "$logs/$name.time")"
  rss_mb="$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$logs/$name.time")"
}

timed index "$openclaw" memory index --force
index_wall="$wall"; index_rss="$rss_mb"
echo "index: $(tail -n 1 "$logs/index.out")"

"$openclaw" memory status --json > "$logs/status.json" 2> "$logs/status.err"
read -r st_files st_chunks < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))[0]["status"]
print(s["files"], s["chunks"])' "$logs/status.json")
db="$home/.openclaw/agents/main/agent/openclaw-agent.sqlite"
read -r db_files db_chunks < <(python3 -c '
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("select count(*) from memory_index_sources").fetchone()[0],
      db.execute("select count(*) from memory_index_chunks").fetchone()[0])' "$db")
echo "indexed: status $st_files files / $st_chunks chunks; sqlite $db_files files / $db_chunks chunks"

rows=()
i=0
for query in "$QUERY1" "$QUERY2" "$QUERY3"; do
  i=$((i + 1))
  timed "search$i" "$openclaw" memory search "$query"
  hits="$(grep -cE '^[0-9]+\.[0-9]{3} ' "$logs/search$i.out" || true)"
  top="$(grep -m 1 -E '^[0-9]+\.[0-9]{3} ' "$logs/search$i.out" | awk -v root="$(basename "$corpus")/" \
    '{ p = index($2, root); if (p) $2 = substr($2, p + length(root)); print $1, $2 }' || true)"
  hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$logs/hyperfine$i.json" \
    "$openclaw memory search '$query'" > "$logs/hyperfine$i.txt" 2>&1
  read -r median mean sd < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f %.2f %.2f" % (r["median"], r["mean"], r["stddev"]))' "$logs/hyperfine$i.json")
  rows+=("| \`$query\` | $wall s | $rss_mb MB | **$median s** ($mean ± $sd) | $hits | $top |")
done

# Network check: which sockets does OpenClaw try to open? (strace, not timed.)
net_attempts=n/a
if command -v strace > /dev/null; then
  strace -f -qq --seccomp-bpf -e trace=connect -o "$logs/strace.index" "$openclaw" memory index --force > /dev/null 2>&1 || true
  strace -f -qq --seccomp-bpf -e trace=connect -o "$logs/strace.search" "$openclaw" memory search "$QUERY1" > /dev/null 2>&1 || true
  net_attempts="$(cat "$logs/strace.index" "$logs/strace.search" | grep 'connect(' | grep -vc 'AF_UNIX' || true)"
fi

echo
echo "## OpenClaw $version on Node $node_version, keyword-only (memory.search.provider = none), $(date -u +%Y-%m-%d)"
echo
echo "Corpus: $corpus_files markdown files, $corpus_bytes bytes. Indexed: $st_files files, $st_chunks chunks (sqlite: $db_files / $db_chunks)."
echo
echo "| command | wall | peak RSS |"
echo "|---|---|---|"
echo "| \`openclaw memory index --force\` | $index_wall s | $index_rss MB |"
echo
echo "| \`openclaw memory search …\` | wall (time -v) | peak RSS | hyperfine median (mean ± sd, $RUNS runs) | hits | top hit |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Network: $_OPENCLAW_BENCH_NETNS; connect() calls to non-Unix sockets during one index + one search: $net_attempts."
echo "Logs and the throwaway OpenClaw home: $work"
