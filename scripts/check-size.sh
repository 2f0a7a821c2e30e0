#!/usr/bin/env bash
# Checks the size of the shipped binaries against their budgets, and reports what
# `localgpt --version` costs (peak RSS, wall time). Fails when a binary is over its budget:
#   headless (`--no-default-features`, no desktop app)  ≤ HEADLESS_BUDGET_MB (default 20)
#   full (default features, with the desktop app)       ≤ FULL_BUDGET_MB (default 28)
# Sizes are in MB of 1,000,000 bytes, of the file as shipped (stripped). Measured sizes and what
# makes them up: BENCHMARKS.md, "Footprint". scripts/test.sh (CI) runs it for both.
#
# On x86_64 the headless binary is the static one the release archive ships
# (`--target x86_64-unknown-linux-musl`: no dynamic loader, no shared C library; its model host
# is a glibc program), and scripts/smoke-binary.sh runs it through a user's first minutes.
# HEADLESS_TARGET overrides the target ("" for this machine's own).
#
# Builds both with the `dist` profile (Cargo.toml) unless HEADLESS_BINARY and/or FULL_BINARY name
# binaries already built; `--headless-only` skips the full build. A portable build's llama.cpp
# libraries count too: with LIBS_DIR set, the `*.so` files in it are added to each binary's size.
# Usage: scripts/check-size.sh [--headless-only]
set -euo pipefail
cd "$(dirname "$0")/.."

headless_budget_mb="${HEADLESS_BUDGET_MB:-20}"
full_budget_mb="${FULL_BUDGET_MB:-28}"
headless_only=false
for arg in "$@"; do
  case "$arg" in
    --headless-only) headless_only=true ;;
    *) echo "usage: scripts/check-size.sh [--headless-only]" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localgpt/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# build NAME TARGET CARGO_ARGS...: builds one variant with the dist profile (for TARGET, or this
# machine when empty) and copies the binary out of the target folder (the other variant's build
# overwrites it there).
build() {
  local name="$1" target="$2" built="$CARGO_TARGET_DIR/dist/localgpt"
  shift 2
  if [ -n "$target" ]; then
    set -- --target "$target" "$@"
    built="$CARGO_TARGET_DIR/$target/dist/localgpt"
  fi
  echo "== cargo build --profile dist -p localgpt $*" >&2
  cargo build --quiet --profile dist -p localgpt "$@" >&2
  cp "$built" "$work/$name"
  echo "$work/$name"
}

headless_target="${HEADLESS_TARGET-}"
if [ -z "${HEADLESS_TARGET+set}" ] && [ "$(uname -m)" = x86_64 ]; then
  headless_target=x86_64-unknown-linux-musl
fi

libs_bytes=0
if [ -n "${LIBS_DIR:-}" ]; then
  libs_bytes=$(find "$LIBS_DIR" -maxdepth 1 -name '*.so*' -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
fi

failed=0
# check NAME BINARY BUDGET_MB: prints the size and fails the run when it is over the budget.
check() {
  local name="$1" binary="$2" budget_mb="$3"
  local bytes total
  bytes=$(stat -c %s "$binary")
  total=$((bytes + libs_bytes))
  local line
  line=$(awk -v n="$name" -v b="$bytes" -v l="$libs_bytes" -v t="$total" -v m="$budget_mb" 'BEGIN {
    s = sprintf("%-9s %6.1f MB", n, t / 1e6)
    if (l > 0) s = s sprintf(" (binary %.1f MB + llama.cpp libraries %.1f MB)", b / 1e6, l / 1e6)
    printf "%s, budget %s MB", s, m
  }')
  if [ "$total" -gt $((budget_mb * 1000000)) ]; then
    echo "$line: OVER BUDGET"
    failed=1
  else
    echo "$line: ok"
  fi
}

# version_cost BINARY: peak RSS of `--version` (the least of 20 runs) and its time: with `perf`, the
# mean CPU time (task-clock) and wall time of 50 runs; otherwise the mean wall time of 200 runs
# from this shell. On a busy machine wall time is mostly waiting for a core: CPU time is the
# figure that compares across runs.
version_cost() {
  local binary="$1" best_kb="" kb start end stats
  for _ in $(seq 20); do
    kb=$(/usr/bin/time -f '%M' "$binary" --version 2>&1 >/dev/null | tail -1)
    if [ -z "$best_kb" ] || [ "$kb" -lt "$best_kb" ]; then best_kb="$kb"; fi
  done
  printf '          --version: peak RSS %s MB, ' "$(awk -v k="$best_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
  if stats=$(perf stat -x, -e task-clock -r 50 "$binary" --version 2>&1 >/dev/null) && [ -n "$stats" ]; then
    start=$(date +%s%N)
    for _ in $(seq 50); do "$binary" --version >/dev/null; done
    end=$(date +%s%N)
    awk -F, -v ns=$((end - start)) '/task-clock/ { cpu = $1 }
      END { printf "%.2f ms CPU, %.1f ms wall per run (mean of 50)\n", cpu, ns / 50 / 1e6 }' <<<"$stats"
  else
    start=$(date +%s%N)
    for _ in $(seq 200); do "$binary" --version >/dev/null; done
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.2f ms wall per run (mean of 200)\n", ns / 200 / 1e6 }'
  fi
}

# llama.cpp belongs in the model host the binary carries (crates/model-host): the executable
# itself must not load a C++ runtime, OpenMP or llama.cpp's libraries at every start.
no_engine() {
  local name="$1" binary="$2" needed
  needed=$(readelf -d "$binary" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }' | tr '\n' ' ')
  if grep -qE 'libstdc\+\+|libgomp|libllama|libggml' <<<"$needed"; then
    echo "$name links the model engine's libraries: $needed"
    failed=1
  elif [ -z "$needed" ]; then
    echo "          links no shared library (static)"
  else
    echo "          links only: $needed"
  fi
}

headless="${HEADLESS_BINARY:-}"
[ -n "$headless" ] || headless=$(build headless "$headless_target" --no-default-features)
check headless "$headless" "$headless_budget_mb"
no_engine headless "$headless"
version_cost "$headless"
scripts/smoke-binary.sh "$headless" || failed=1

if [ "$headless_only" = false ]; then
  full="${FULL_BINARY:-}"
  [ -n "$full" ] || full=$(build full "")
  check full "$full" "$full_budget_mb"
  no_engine full "$full"
  version_cost "$full"
fi

exit "$failed"
