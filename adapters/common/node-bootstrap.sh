#!/bin/sh
# Usage: node-bootstrap.sh ADAPTER_DIR
# Installs ADAPTER_DIR/node_modules from package.json on first use (and again whenever
# package.json changes: upgrading an SDK is a one-line change there), then runs adapter.js.
# npm output goes to stderr; without node/npm or a registry the adapter answers `unavailable`.
dir=$(cd "$1" && pwd)
common=$(cd "$(dirname "$0")" && pwd)
stamp="$dir/node_modules/.installed-package.json"
if ! cmp -s "$dir/package.json" "$stamp" 2>/dev/null; then
  echo "cloudconform adapter: installing $dir/node_modules from package.json (first use)" >&2
  if ! { command -v node >/dev/null && (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) \
      && cp "$dir/package.json" "$stamp"; } 1>&2; then
    exec python3 "$common/unavailable.py" "could not install $(basename "$dir")/package.json with npm (output on stderr)"
  fi
fi
exec node "$dir/adapter.js"
