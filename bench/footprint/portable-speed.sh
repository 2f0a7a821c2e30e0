#!/usr/bin/env bash
# Local-model speed of the portable build (llama.cpp's CPU backend picked at run time from the
# libraries beside the executable: feature `portable`, as in the release archives) against the
# native build (`-C target-cpu=native`, one llama.cpp compiled for this CPU), both with the dist
# profile: embedding throughput (all-MiniLM-L6-v2, 256-token chunks, 1 and 2 threads) and the
# built-in chat model's prompt and generation speed (SmolLM2-135M Q4_1). The two run in turns,
# ROUNDS times, so that a busy machine weighs on both alike; each bench prints its best of 3.
# GGML_BACKEND_PATH=/path/libggml-cpu-haswell.so forces one backend (e.g. to time an AVX2-only CPU).
# Usage: bench/footprint/portable-speed.sh EMBED_MODEL.gguf CHAT_MODEL.gguf [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
embed_model="$1"
chat_model="$2"
rounds="${3:-2}"
export CARGO_INCREMENTAL=0

# bench_exes TARGET_DIR CARGO_ARGS...: builds both benches and prints their executables.
bench_exes() {
  local dir="$1"
  shift
  CARGO_TARGET_DIR="$dir" cargo bench --quiet --profile dist -p localgpt-inference --no-run \
    --bench embed_throughput --bench chat_throughput --message-format json "$@" |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["bench"]:
        print(m["target"]["name"], m["executable"])'
}

native_dir="${NATIVE_TARGET_DIR:-$HOME/.cache/localgpt/target-bench}"
portable_dir="${RELEASE_TARGET_DIR:-$HOME/.cache/localgpt/target-release}"
native=$(bench_exes "$native_dir")
portable=$(RUSTFLAGS='-C link-arg=-Wl,-rpath,$ORIGIN' bench_exes "$portable_dir" --features portable)

# The portable benches load the CPU backends from their own folder, as the archive's binary does.
deps=$(dirname "$(awk 'NR == 1 { print $2 }' <<<"$portable")")
llama=$(ls -td "$portable_dir"/dist/build/llama-cpp-sys-2-*/out/backends | head -1)
cp "$llama"/*.so "$deps/"
cp -a "$(dirname "$llama")"/build/bin/lib*.so* "$deps/" # libllama, libggml, libggml-base
rm -f "$deps"/libggml-cpu-sapphirerapids.so

exe() { awk -v n="$2" '$1 == n { print $2 }' <<<"$1"; }
for round in $(seq "$rounds"); do
  for build in native portable; do
    list=$native
    [ "$build" = portable ] && list=$portable
    echo "== round $round, $build"
    "$(exe "$list" embed_throughput)" "$embed_model" --threads 1,2 --batch 256 --chunks 48 | grep -v '^$'
    "$(exe "$list" chat_throughput)" "$chat_model" 2>/dev/null | grep threads
  done
done
