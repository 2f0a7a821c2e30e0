#!/usr/bin/env bash
# Fails when a test, bench, script or source file of the repository refers to a path outside it, so
# that a fresh clone runs every test with nothing beside it. Test data lives in tests/data/ (see its
# README); model weights and built tools come from caches under ~/.cache/localgpt, which are allowed.
#
# Looked for in the files git tracks or would add (tests/data/ itself and this script excepted):
#   - a sibling checkout's data: `../shared`, `shared/data/`, `shared/reference/`;
#   - this machine's layout: absolute paths under `/work/`;
#   - climbing out of the repository: `../../..` (from crates/<name>/ or bench/<name>/), or
#     `$(dirname "$0")/../..` in scripts/.
# Usage: scripts/check-self-contained.sh [REPO_DIR]  (default: this script's repository)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

patterns=(
  -e '\.\./shared\b'
  -e '\bshared/(data|reference)/'
  -e '(^|[^[:alnum:]_./~-])/work/'
  -e '\.\./\.\./\.\.'
)

# Tracked files, and new ones not yet committed (but not ignored ones such as node_modules).
listed() {
  git ls-files -z --cached --others --exclude-standard -- "$@" \
    ':!:tests/data/**' ':!:scripts/check-self-contained.sh' ':!:tests/web/package-lock.json'
}
mapfile -d '' files < <(listed crates bench scripts tests docs .config .cargo Cargo.toml README.md BENCHMARKS.md)
mapfile -d '' scripts < <(listed scripts)

found=0
if [ "${#files[@]}" -gt 0 ] && grep -nIE "${patterns[@]}" -- "${files[@]}"; then
  found=1
fi
# scripts/ sits one level below the root: two `..` from the script's folder leave the repository.
if [ "${#scripts[@]}" -gt 0 ] && grep -nIE 'dirname[^)]*\)"?/\.\./\.\.' -- "${scripts[@]}"; then
  found=1
fi

if [ "$found" -ne 0 ]; then
  echo "check-self-contained: the lines above refer to paths outside the repository." >&2
  echo "Copy the data into tests/data/ (with a README stating its source and licence) and read it" >&2
  echo "from there, or fetch it into a cache under ~/.cache/localgpt." >&2
  exit 1
fi
echo "check-self-contained: no test, bench or script refers to a path outside the repository"
