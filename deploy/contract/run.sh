#!/usr/bin/env bash
# make contract: every service's OpenAPI document against the service itself, by schemathesis.
#
# A fresh PostgreSQL and the whole stack come from deploy/local/run.sh (its own ports, database
# and credentials under target/), with its demo data; check.sh then runs schemathesis against
# each /openapi.json, calling the services as the gatekeeper and an operator do (hooks.py).
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

rm -rf target/contract-pg target/contract-pg.demo.env
export PG_PORT=54339 GATEKEEPER_PORT=4200 GATEKEEPER_OPS_PORT=4201 MITHRIL_API_PORT=4210 \
  AUTH_TOKEN_PORT=4220 EMPLOYEE_ROLES_PORT=4230 LOG_FORMAT=json
for prefix in MITHRIL_API AUTH_TOKEN EMPLOYEE_ROLES GATEKEEPER; do
  export "${prefix}__TELEMETRY__LOG_FILTER=error"
done
RUN_DATA="$ROOT/target/contract-pg" RUN_CREDENTIALS="$ROOT/target/contract-credentials.env" \
RUN_COMMAND="bash '$ROOT/deploy/contract/check.sh'" \
  bash deploy/local/run.sh >"$ROOT/target/contract-stack.log" 2>&1 || {
    status=$?
    grep -v '^{' "$ROOT/target/contract-stack.log" | tail -n 40
    exit "$status"
  }
grep -v '^{' "$ROOT/target/contract-stack.log" | sed -n '/^== contract/,$p'
