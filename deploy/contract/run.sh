#!/usr/bin/env bash
# make contract: every service's OpenAPI document, and the gateway's public one, against the
# real thing, by schemathesis (check.sh), on a fresh stack (deploy/local/with-stack.sh).
# Env: SEED (20261205), EXAMPLES (25: per operation, fixed seed), RANDOM_EXAMPLES (10: a second
# run with a seed of schemathesis's choosing, printed), CONTRACT_ONLY (names, space-separated).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/target/contract-venv"

if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
exec bash deploy/local/with-stack.sh contract "bash '$ROOT/deploy/contract/check.sh'"
