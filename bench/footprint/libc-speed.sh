#!/usr/bin/env bash
# The same LocalGPT code linked two ways (e.g. the static musl headless binary and a glibc build):
# does the C library (its allocator, memcpy, start-up) change the speed of what runs in the
# `localgpt` process itself? Model work runs in the model host, a glibc program either way, so
# this times what does not touch a model: indexing the Cranfield collection's 1,400 documents
# keyword-only (`memory reindex --force` in a home without an embedding model: markdown chunking,
# SQLite FTS5 inserts) and keyword searches (`memory search --mode keyword`, the whole command:
# start, open the index, FTS5, print). The binaries run alternately, ROUNDS rounds; CPU time
# (task-clock) is the figure that compares on a busy machine.
# Usage: bench/footprint/libc-speed.sh BINARY_A BINARY_B [ROUNDS=3] [SEARCHES=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$(realpath "$1")
b=$(realpath "$2")
rounds="${3:-3}"
searches="${4:-30}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/smart/make_workspace.py tests/data/cranfield "$work/workspace" >/dev/null
export LOCALGPT_HOME="$work/home"
"$a" config init >/dev/null
"$a" config set memory.workspace "$work/workspace" >/dev/null
queries=(
  "boundary layer transition" "heat transfer in hypersonic flow" "buckling of cylindrical shells"
  "shock wave interaction" "supersonic wing flutter" "laminar flow skin friction"
)

# cpu_ms COMMAND...: CPU milliseconds (task-clock, `perf stat`) of the command and its children.
cpu_ms() {
  perf stat -x, -e task-clock -o "$work/perf" "$@" >/dev/null 2>&1
  awk -F, '/task-clock/ { printf "%.3f\n", $1 }' "$work/perf"
}

: >"$work/samples"
for round in $(seq "$rounds"); do
  for name in a b; do
    binary=${!name}
    echo "$name reindex $(cpu_ms "$binary" memory reindex --force)" >>"$work/samples"
    for i in $(seq "$searches"); do
      echo "$name search $(cpu_ms "$binary" memory search --mode keyword "${queries[$((i % ${#queries[@]}))]}")" >>"$work/samples"
    done
  done
  echo "round $round done" >&2
done
echo "a = $a"
echo "b = $b"
awk '{ sum[$1 " " $2] += $3; n[$1 " " $2]++ }
  END {
    for (who in n) printf "%s: %.1f ms CPU per command (mean of %d)\n", who, sum[who] / n[who], n[who]
    printf "a / b CPU: reindex %.2fx, keyword search %.2fx\n",
      (sum["a reindex"] / n["a reindex"]) / (sum["b reindex"] / n["b reindex"]),
      (sum["a search"] / n["a search"]) / (sum["b search"] / n["b search"])
  }' "$work/samples"
