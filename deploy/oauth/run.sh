#!/usr/bin/env bash
# make oauth-check: a stock OAuth 2 client library (authlib from PyPI, pinned) runs the standard
# flow through the gateway on a fresh stack: metadata, authorize with PKCE (the sign-in pages'
# forms posted as a browser posts them), token, a seed call, refresh (rotation and reuse),
# introspect, revoke, introspect again, the seed call refused; then a public client.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
AUTHLIB_VERSION=1.6.5
REQUESTS_VERSION=2.32.5
VENV="$ROOT/target/oauth-venv"
want="authlib==$AUTHLIB_VERSION requests==$REQUESTS_VERSION"
if [ "$(cat "$VENV/.pinned" 2>/dev/null)" != "$want" ]; then
  echo "== installing $want into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $want
  echo "$want" > "$VENV/.pinned"
fi
exec bash deploy/local/with-stack.sh oauth "'$VENV/bin/python' '$ROOT/deploy/oauth/check.py'"
