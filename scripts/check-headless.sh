#!/usr/bin/env bash
# Checks that the headless build (`--no-default-features`) links no GUI library: no eframe, egui,
# winit, glow, glutin, wgpu, AccessKit, Wayland or X11 crate in its normal dependency tree, and
# that the full build does have the desktop app. With a built headless binary at
# $HEADLESS_BINARY it also checks with ldd that no GUI system library is linked.
# Usage: scripts/check-headless.sh
set -euo pipefail
cd "$(dirname "$0")/.."

gui='^(eframe|egui|egui-winit|egui_glow|egui-wgpu|egui_extras|egui_commonmark|winit|glow|glutin|glutin-winit|wgpu|wgpu-core|wgpu-hal|accesskit|accesskit_winit|accesskit_unix|wayland-client|wayland-sys|x11-dl|x11rb|smithay-client-toolkit|localgpt-desktop) '

headless=$(cargo tree -e normal --no-default-features -p localgpt --prefix none --format '{p}' | sort -u)
found=$(grep -E "$gui" <<<"$headless" || true)
if [ -n "$found" ]; then
  echo "the headless build depends on GUI crates:" >&2
  echo "$found" >&2
  exit 1
fi
echo "headless build: no GUI crate ($(wc -l <<<"$headless") crates)"

full=$(cargo tree -e normal -p localgpt --prefix none --format '{p}' | sort -u)
if ! grep -qE '^eframe ' <<<"$full"; then
  echo "the default build lacks the desktop app (eframe)" >&2
  exit 1
fi
echo "default build: has the desktop app"

if [ -n "${HEADLESS_BINARY:-}" ]; then
  linked=$(ldd "$HEADLESS_BINARY" | grep -Ei 'libGL|libEGL|libX11|libxcb|libwayland|libxkbcommon|libvulkan' || true)
  if [ -n "$linked" ]; then
    echo "the headless binary links GUI libraries:" >&2
    echo "$linked" >&2
    exit 1
  fi
  echo "headless binary: no GUI system library linked"
fi
