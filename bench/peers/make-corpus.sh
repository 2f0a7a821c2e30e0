#!/usr/bin/env bash
# Builds the markdown corpus for side-by-side memory benchmarks: the `*.md` files of the
# documentation shipped in OpenClaw's npm package (node_modules/openclaw/docs), copied with their
# subfolders into OUT_DIR (emptied first). OpenClaw 2026.9.6 ships 1,283 such files (~16 MB).
# With N, only the first N files in C-locale path order are copied (compare-memory.sh uses 400).
#
# Usage: make-corpus.sh OUT_DIR [N]
# The package is found with install-openclaw.sh (installing it if needed), or at
# $LOCALGPT_OPENCLAW_PACKAGE (a directory holding the package's docs/) when that is set.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [N]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"; count="${2:-}"
if [ -n "${LOCALGPT_OPENCLAW_PACKAGE:-}" ]; then
  package="$LOCALGPT_OPENCLAW_PACKAGE"
else
  package="$("$here/install-openclaw.sh" | sed -n 's/^package: *\([^ ]*\) .*/\1/p')"
fi
[ -d "$package/docs" ] || { echo "no docs/ in $package" >&2; exit 1; }
case "$(cd "$(dirname "$out")" 2>/dev/null && pwd)/$(basename "$out")" in
  "$package"*) echo "refusing to write inside the package: $out" >&2; exit 1 ;;
esac
rm -rf "$out" && mkdir -p "$out"
(cd "$package/docs" && find . -type f -name '*.md' | LC_ALL=C sort | { if [ -n "$count" ]; then head -n "$count"; else cat; fi; }) |
  while IFS= read -r file; do
    mkdir -p "$out/$(dirname "$file")"
    cp "$package/docs/$file" "$out/$file"
  done
files="$(find "$out" -type f -name '*.md' | wc -l)"
bytes="$(find "$out" -type f -name '*.md' -print0 | du -cb --files0-from=- | tail -n 1 | cut -f1)"
echo "$files files, $bytes bytes in $out"
