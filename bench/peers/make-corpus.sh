#!/usr/bin/env bash
# Builds the markdown corpus for side-by-side memory benchmarks: the first N (default 400)
# markdown files, in path order, of the documentation shipped in OpenClaw's npm package.
# Usage: make-corpus.sh OUT_DIR [N]
set -euo pipefail
out="$1"; count="${2:-400}"
package="${LOCALGPT_OPENCLAW_PACKAGE:-$HOME/.cache/localgpt/test-data/openclaw/package}"
rm -rf "$out" && mkdir -p "$out"
(cd "$package/docs" && find . -name '*.md' | LC_ALL=C sort | head -n "$count") | while read -r file; do
  mkdir -p "$out/$(dirname "$file")"
  cp "$package/docs/$file" "$out/$file"
done
echo "$(find "$out" -name '*.md' | wc -l) files, $(du -sb "$out" | cut -f1) bytes in $out"
