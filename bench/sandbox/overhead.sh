#!/usr/bin/env bash
# Overhead of the OS sandbox per shell command: runs `localgpt sandbox run -- true` N times with
# `[sandbox] level = "off"` (scrubbed environment only) and with `level = "auto"` (Landlock,
# seccomp, rlimits, pids cgroup as root), and prints the mean wall time of each and the difference.
# Both include the same binary start-up, so the difference is what confinement costs.
# Usage: bench/sandbox/overhead.sh [N] [path/to/localgpt]
set -euo pipefail
runs=${1:-200}
bin=${2:-${CARGO_TARGET_DIR:-target}/release/localgpt}
[ -x "$bin" ] || { echo "build first: cargo build --release -p localgpt (or pass the binary)" >&2; exit 1; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
measure() {
  printf '[sandbox]\nlevel = "%s"\n' "$1" > "$home/config.toml"
  LOCALGPT_HOME=$home "$bin" sandbox run -- true  # warm up, create the workspace
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do LOCALGPT_HOME=$home "$bin" sandbox run -- true; done
  end=$(date +%s%N)
  echo $(( (end - start) / runs / 1000 ))
}
off=$(measure off)
auto=$(measure auto)
echo "runs: $runs"
echo "unconfined (level=off):  ${off} us per command"
echo "confined   (level=auto): ${auto} us per command"
echo "overhead:                $(( auto - off )) us per command"
