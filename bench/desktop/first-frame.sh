#!/usr/bin/env bash
# Cold start of the desktop app to its first frame, under a virtual X display (Xvfb, Mesa's
# OpenGL), in a fresh home with no model and no daemon — so the window also starts its
# in-process host. Prints, per run: the time from launching `localgpt desktop` to the app's
# "first frame drawn" log line (wall clock, includes process start, configuration, the host and
# the window), and the app's own figure from asking for the window to its first frame.
# Usage: bench/desktop/first-frame.sh [RUNS] [BINARY]   (default 5 runs, the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
bin=${2:-${CARGO_TARGET_DIR:-target}/release/localgpt}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release -p localgpt)" >&2; exit 1; }
command -v Xvfb >/dev/null || { echo "needs Xvfb (scripts/setup.sh installs it)" >&2; exit 1; }

display=:$((300 + RANDOM % 200))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.05; done

for run in $(seq "$runs"); do
  home=$(mktemp -d)
  log="$home/desktop.log"
  start=$(date +%s%N)
  DISPLAY=$display LOCALGPT_HOME=$home HOME=$home LOCALGPT_LOG=info NO_COLOR=1 \
    "$bin" desktop 2>"$log" &
  app=$!
  while ! grep -q 'first frame drawn' "$log" 2>/dev/null; do
    kill -0 "$app" 2>/dev/null || { echo "the app exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.005
  done
  end=$(date +%s%N)
  own=$(grep -o 'ms=[0-9]*' "$log" | head -1 | cut -d= -f2)
  echo "run $run: launch to first frame $(( (end - start) / 1000000 )) ms (window asked to first frame: ${own} ms)"
  kill "$app"; wait "$app" 2>/dev/null || true
  rm -rf "$home"
done
