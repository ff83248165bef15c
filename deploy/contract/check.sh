#!/usr/bin/env bash
# Runs inside deploy/local/run.sh's stack (make contract): schemathesis against each document,
# once with a fixed seed and once with a seed of its own choosing; prints each closing summary.
# `public` is the gateway's public document, called through the gateway with the demo token.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/target/contract"
mkdir -p "$OUT"
ST="$ROOT/target/contract-venv/bin/schemathesis"
export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$HERE"
export CONTRACT_USER_ID="$DEMO_USER_ID" CONTRACT_CLIENT_ID="$DEMO_MSP_ID" CONTRACT_SCOPE=""
export CONTRACT_ACCESS_TOKEN="$DEMO_ACCESS_TOKEN" CONTRACT_API_KEY="$DEMO_MIS_API_KEY"
export CONTRACT_REDIRECT_URI="$DEMO_REDIRECT"
export ADMIN_TOKEN IDENTITY_SIGNING_KEY

declare -A DOCS=(
  [mithril-api]="$MITHRIL" [auth-token]="$AUTH" [employee-roles]="$ROLES" [gatekeeper-ops]="$GATE_OPS"
  [public]="$GATE"
)
NAMES=${CONTRACT_ONLY:-"mithril-api auth-token employee-roles gatekeeper-ops public"}
passed=0; failed=0
echo "== contract (schemathesis $("$ST" --version | awk '{print $NF}'))"
for name in $NAMES; do
  for run in fixed random; do
    args=(--max-examples "${RANDOM_EXAMPLES:-10}")
    [ "$run" = fixed ] && args=(--seed "${SEED:-20261205}" --max-examples "${EXAMPLES:-25}")
    log="$OUT/$name-$run.txt"
    "$ST" --config-file "$HERE/schemathesis.toml" run "${DOCS[$name]}/openapi.json" \
      --checks all --no-color "${args[@]}" >"$log" 2>&1
    status=$?
    summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$log" | tail -1)
    seed=$(awk '/^Seed:/{print $2}' "$log" | tail -1)
    echo "$name ($run run, seed $seed): $summary"
    if [ "$status" -eq 0 ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      sed -n '/^=* FAILURES =*$/,/^=* SUMMARY =*$/p;/^=* ERRORS =*$/,/^=* SUMMARY =*$/p' "$log" | head -n 150
      echo "   (whole output: $log)"
    fi
  done
done
echo "contract runs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
