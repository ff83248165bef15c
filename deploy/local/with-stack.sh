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
# STACK_PORT_BASE and STACK_PG_PORT move the stack (two suites at once on one machine).
BASE=${STACK_PORT_BASE:-4200}
export PG_PORT=${STACK_PG_PORT:-54339} GATEKEEPER_PORT=$BASE GATEKEEPER_OPS_PORT=$((BASE + 1)) \
  MITHRIL_API_PORT=$((BASE + 10)) AUTH_TOKEN_PORT=$((BASE + 20)) EMPLOYEE_ROLES_PORT=$((BASE + 30)) \
  SMS_STUB_PORT=$((BASE + 40)) LOG_FORMAT=json
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
