#!/usr/bin/env bash
# Fails when a test, bench, script or source file of the repository refers to a path outside it, so
# that a fresh clone runs every test with nothing beside it. Test data lives in tests/data/ (see its
# README); model weights and built tools come from caches under ~/.cache/localgpt, which are allowed.
#
# Looked for in the files git tracks or would add (tests/data/ itself and this script excepted):
#   - a sibling checkout's data: `../shared`, `shared/data/`, `shared/reference/`;
#   - this machine's layout: absolute paths under `/work/`;
#   - climbing out of the repository: `../../..` from `CARGO_MANIFEST_DIR` (crates/<name>/, on the
#     same line or the next three), `../../..` in bench/ and scripts/, `$(dirname "$0")/../..` in
#     scripts/. Other `../` strings are left alone: adversarial tests use them as attacks.
# Usage: scripts/check-self-contained.sh [REPO_DIR]  (default: this script's repository)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

patterns=(
  -e '\.\./shared\b'
  -e '\bshared/(data|reference)/'
  -e '(^|[^[:alnum:]_./~-])/work/'
)

# Tracked files, and new ones not yet committed (but not ignored ones such as node_modules).
listed() {
  git ls-files -z --cached --others --exclude-standard -- "$@" \
    ':!:tests/data/**' ':!:scripts/check-self-contained.sh' ':!:tests/web/package-lock.json'
}
mapfile -d '' files < <(listed crates bench scripts tests docs .config .cargo Cargo.toml README.md BENCHMARKS.md)
mapfile -d '' bench < <(listed bench)
mapfile -d '' scripts < <(listed scripts)
mapfile -d '' sources < <(listed crates tests)

found=0
if [ "${#files[@]}" -gt 0 ] && grep -nIE "${patterns[@]}" -- "${files[@]}"; then
  found=1
fi
# bench/<name>/ is two levels below the root, scripts/ one.
if [ "${#bench[@]}" -gt 0 ] && grep -nIE '\.\./\.\./\.\.' -- "${bench[@]}"; then
  found=1
fi
if [ "${#scripts[@]}" -gt 0 ] &&
  grep -nIE -e '\.\./\.\./\.\.' -e 'dirname[^)]*\)"?/\.\./\.\.' -- "${scripts[@]}"; then
  found=1
fi
# A crate's folder is two levels below the root: three `..` after CARGO_MANIFEST_DIR leave it.
if [ "${#sources[@]}" -gt 0 ] && awk '
  FNR == 1 { window = 0 }
  /CARGO_MANIFEST_DIR/ { window = 4 }
  window > 0 && /\.\.\/\.\.\/\.\./ { print FILENAME ":" FNR ":" $0; hit = 1 }
  { if (window > 0) window-- }
  END { exit hit ? 0 : 1 }
' "${sources[@]}"; then
  found=1
fi

if [ "$found" -ne 0 ]; then
  echo "check-self-contained: the lines above refer to paths outside the repository." >&2
  echo "Copy the data into tests/data/ (with a README stating its source and licence) and read it" >&2
  echo "from there, or fetch it into a cache under ~/.cache/localgpt." >&2
  exit 1
fi
echo "check-self-contained: no test, bench or script refers to a path outside the repository"
