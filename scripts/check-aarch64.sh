#!/usr/bin/env bash
# Checks that the whole workspace (every crate, tests and benches included, the desktop app too)
# compiles for 64-bit ARM Linux: `cargo check --target aarch64-unknown-linux-gnu`. The C parts
# (llama.cpp, SQLite, QuickJS) are cross-compiled during the check, so it installs the Rust target
# and the GNU cross toolchain first when they are missing.
# `crates/cli/build.rs` builds the model host for aarch64 too (llama.cpp cross-compiled and
# linked), so the check also proves that part links. Uses its own target folder
# ($HOME/.cache/localgpt/target-aarch64): 16 minutes from empty on 2 cores, with the apt install.
# Usage: scripts/check-aarch64.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v aarch64-linux-gnu-g++ >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get install -y gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
fi

export CARGO_TARGET_DIR="${AARCH64_TARGET_DIR:-$HOME/.cache/localgpt/target-aarch64}"
export CARGO_INCREMENTAL=0
echo "== cargo check --workspace --all-targets --target $target"
cargo check --workspace --all-targets --target "$target"
