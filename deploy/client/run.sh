#!/usr/bin/env bash
# make client-check: a Python client generated from the gateway's public document (pinned
# openapi-python-client from PyPI) runs seeds 000-004 through the gateway, on a fresh stack.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
GENERATOR_VERSION=0.29.1
VENV="$ROOT/target/client-venv"
if [ "$("$VENV/bin/openapi-python-client" --version 2>/dev/null)" != "openapi-python-client version: $GENERATOR_VERSION" ]; then
  echo "== installing openapi-python-client $GENERATOR_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "openapi-python-client==$GENERATOR_VERSION"
fi
exec bash deploy/local/with-stack.sh client "bash '$ROOT/deploy/client/check.sh'"
