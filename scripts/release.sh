#!/usr/bin/env bash
# Builds the release archives for this machine's architecture (Linux x86_64 or aarch64):
#   localgpt-VERSION-ARCH-linux-headless.tar.gz   no desktop app, no GUI library
#   localgpt-VERSION-ARCH-linux.tar.gz            with the desktop app (eframe/egui on OpenGL)
# and SHA256SUMS beside them. Each archive holds one folder with the `localgpt` binary, llama.cpp's
# libraries (one CPU backend per CPU family, the best one picked at run time: feature `portable`),
# the OpenMP runtime, README.md and LICENSE. The model host inside the binary (crates/model-host,
# built by crates/cli/build.rs) finds the libraries in the binary's folder.
#
# Built with the `dist` profile (Cargo.toml) and without `-C target-cpu=native`: the archive runs
# on any CPU of the architecture with glibc ≥ the version printed at the end (needed by the model
# host and llama.cpp's libraries). On x86_64 the headless archive's `localgpt` is static
# (`x86_64-unknown-linux-musl`: no shared library at all, so it starts in less memory); the model
# host it carries is built for x86_64-unknown-linux-gnu as always. llama.cpp's AMX
# backend (Sapphire Rapids) is left out: its kernels crash on quantized chat models (see
# .cargo/config.toml); those CPUs get the AVX-512 backend.
#
# Usage: scripts/release.sh [--headless-only] [OUT_DIR]    (OUT_DIR defaults to ./dist)
# Took 29 minutes for the headless archive on 2 cores shared with a CI run, from an empty
# target folder (llama.cpp is compiled once per CPU family: 14 backends on x86_64). Uses its own target folder, $HOME/.cache/localgpt/target-release, because its
# flags differ from the everyday build's and would otherwise rebuild everything there.
set -euo pipefail
cd "$(dirname "$0")/.."

headless_only=false
out=dist
for arg in "$@"; do
  case "$arg" in
    --headless-only) headless_only=true ;;
    -*) echo "usage: scripts/release.sh [--headless-only] [OUT_DIR]" >&2; exit 2 ;;
    *) out="$arg" ;;
  esac
done

arch=$(uname -m)
case "$arch" in
  x86_64 | aarch64) ;;
  *) echo "release archives are built on Linux x86_64 or aarch64, not $arch" >&2; exit 1 ;;
esac
version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)

export CARGO_TARGET_DIR="${RELEASE_TARGET_DIR:-$HOME/.cache/localgpt/target-release}"
export CARGO_INCREMENTAL=0
# Replaces .cargo/config.toml's target-cpu=native (a set RUSTFLAGS, even a harmless one, wins
# over the configuration). The model host finds the libraries through LD_LIBRARY_PATH, which
# localgpt sets to its own folder for it: it runs from memory, where $ORIGIN means nothing.
export RUSTFLAGS='-C link-arg=-Wl,-rpath,$ORIGIN'

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The model host's own build (nested in the localgpt build, target folder `model-host`).
host_dist="$CARGO_TARGET_DIR/model-host/$arch-unknown-linux-gnu/dist"

# The llama.cpp libraries of the last portable build of the model host: libllama/libggml (+ their
# soname links) and the CPU backends.
llama_out() {
  local dir
  for dir in $(ls -td "$host_dist"/build/llama-cpp-sys-2-*/out 2>/dev/null); do
    if [ -d "$dir/backends" ] && ls "$dir"/backends/*.so >/dev/null 2>&1; then
      echo "$dir"
      return
    fi
  done
  echo "no portable llama.cpp build under $host_dist/build" >&2
  exit 1
}

# package NAME TARGET CARGO_ARGS...: builds one variant (for TARGET, or this machine when empty)
# and writes NAME.tar.gz.
package() {
  local name="$1" target="$2" built="$CARGO_TARGET_DIR/dist/localgpt"
  shift 2
  if [ -n "$target" ]; then
    set -- --target "$target" "$@"
    built="$CARGO_TARGET_DIR/$target/dist/localgpt"
  fi
  echo "== cargo build --profile dist -p localgpt --features portable $*"
  cargo build --profile dist -p localgpt --features portable "$@"
  local dir="$work/$name" llama
  mkdir -p "$dir"
  cp "$built" "$dir/"
  llama=$(llama_out)
  cp -a "$llama"/lib*/lib*.so* "$dir/"
  cp "$llama"/backends/*.so "$dir/"
  rm -f "$dir"/libggml-cpu-sapphirerapids.so
  local gomp
  gomp=$(ldd "$host_dist/localgpt-model-host" | awk '/libgomp\.so/ { print $3 }')
  if [ -n "$gomp" ]; then cp -L "$gomp" "$dir/"; fi
  cp README.md LICENSE "$dir/"

  # The archive must work from its own folder: every library resolved, the binary runs, a CPU
  # backend is there.
  if ldd "$dir/localgpt" | grep -q 'not found' \
    || LD_LIBRARY_PATH="$dir" ldd "$host_dist/localgpt-model-host" | grep -q 'not found'; then
    ldd "$dir/localgpt" >&2
    LD_LIBRARY_PATH="$dir" ldd "$host_dist/localgpt-model-host" >&2
    echo "$name: a library is missing" >&2
    exit 1
  fi
  ls "$dir"/libggml-cpu-*.so >/dev/null
  # A user's first minutes with it: remote and local models, search, sandbox, daemon.
  scripts/smoke-binary.sh "$dir/localgpt"

  tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
  local glibc
  # The newest glibc symbol version any part asks for: the model host (carried inside the binary)
  # and the libraries; the binary itself too unless it is static.
  glibc=$(objdump -T "$dir"/localgpt "$host_dist/localgpt-model-host" "$dir"/*.so* \
    | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  echo "$name.tar.gz: $(stat -c %s "$out/$name.tar.gz" | awk '{ printf "%.1f MB", $1 / 1e6 }') compressed," \
    "$(du -sb "$dir" | awk '{ printf "%.1f MB", $1 / 1e6 }') unpacked; needs ${glibc/_/ ≥ }"
}

headless_target=""
[ "$arch" = x86_64 ] && headless_target=x86_64-unknown-linux-musl
package "localgpt-$version-$arch-linux-headless" "$headless_target" --no-default-features
if [ "$headless_only" = false ]; then
  package "localgpt-$version-$arch-linux" ""
fi

(cd "$out" && sha256sum localgpt-"$version"-"$arch"-linux*.tar.gz >SHA256SUMS)
cat "$out/SHA256SUMS"
