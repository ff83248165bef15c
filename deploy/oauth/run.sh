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
# shellcheck disable=SC1091
source deploy/local/pinned-venv.sh
pinned_venv "$VENV" "authlib==$AUTHLIB_VERSION" "requests==$REQUESTS_VERSION"
exec bash deploy/local/with-stack.sh oauth "'$VENV/bin/python' '$ROOT/deploy/oauth/check.py'"
