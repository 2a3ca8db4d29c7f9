#!/bin/sh
# Usage: bootstrap.sh ADAPTER_DIR
# Creates ADAPTER_DIR/.venv from ADAPTER_DIR/requirements.txt on first use (and again whenever
# requirements.txt changes: upgrading an SDK is a one-line change there), then runs adapter.py.
# All installer output goes to stderr: stdout belongs to the testee protocol. When the
# environment cannot be created (no registry, no python3 venv), the adapter answers the hello
# with `unavailable` instead.
dir=$(cd "$1" && pwd)
common=$(cd "$(dirname "$0")" && pwd)
venv="$dir/.venv"
stamp="$venv/.installed-requirements"
if ! cmp -s "$dir/requirements.txt" "$stamp" 2>/dev/null; then
  echo "cloudconform adapter: creating $venv from requirements.txt (first use)" >&2
  if ! { python3 -m venv "$venv" \
      && "$venv/bin/pip" install --disable-pip-version-check -q -r "$dir/requirements.txt" \
      && cp "$dir/requirements.txt" "$stamp"; } 1>&2; then
    exec python3 "$common/unavailable.py" "could not install $(basename "$dir")/requirements.txt into $venv (pip output on stderr)"
  fi
fi
exec "$venv/bin/python" "$dir/adapter.py"
