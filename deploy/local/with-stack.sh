#!/usr/bin/env bash
# Runs COMMAND against a fresh stack: PostgreSQL, the four services and the demo data of
# deploy/local/run.sh, on ports of their own (42xx, PostgreSQL 54339) and with their own
# database and credentials under target/, so that `make run` may go on beside it. The stack's
# log goes to target/stack-<name>.log; COMMAND's output is printed; the exit status is COMMAND's.
# Usage: with-stack.sh NAME COMMAND   (make contract, make docs-check)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
NAME=$1; COMMAND=$2
LOG="$ROOT/target/stack-$NAME.log"
mkdir -p "$ROOT/target"
rm -rf target/stack-pg target/stack-pg.demo.env
export PG_PORT=54339 GATEKEEPER_PORT=4200 GATEKEEPER_OPS_PORT=4201 MITHRIL_API_PORT=4210 \
  AUTH_TOKEN_PORT=4220 EMPLOYEE_ROLES_PORT=4230 LOG_FORMAT=json
for prefix in MITHRIL_API AUTH_TOKEN EMPLOYEE_ROLES GATEKEEPER; do
  export "${prefix}__TELEMETRY__LOG_FILTER=error"
done
MARK="== $NAME: the stack is up"
status=0
RUN_DATA="$ROOT/target/stack-pg" RUN_CREDENTIALS="$ROOT/target/stack-credentials.env" \
RUN_COMMAND="echo '$MARK'; $COMMAND" bash deploy/local/run.sh >"$LOG" 2>&1 || status=$?
if grep -q "^$MARK" "$LOG"; then
  grep -v '^{' "$LOG" | sed -n "/^$MARK/,\$p" | grep -v "^$MARK"
else
  echo "the stack did not come up (log: $LOG):"
  grep -v '^{' "$LOG" | tail -n 40
fi
exit "$status"
