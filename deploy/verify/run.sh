#!/usr/bin/env bash
# make verify: the faults of deploy/verify/faults.py on a fresh stack (deploy/local/with-stack.sh),
# their figures written to target/verify/results.json. VERIFY_SHORT=1: each fault once, briefly
# (CI); VERIFY_ONLY: fault names, space-separated.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# haproxy stands where Kubernetes' Services would in the rolling restart; redis-server is
# .ci/run's.
if ! command -v haproxy >/dev/null; then
  echo "== installing haproxy"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy >/dev/null
fi
REQUESTS_VERSION=2.32.5
VENV="$ROOT/target/verify-venv"
# shellcheck disable=SC1091
source deploy/local/pinned-venv.sh
MATPLOTLIB_VERSION=3.10.7
pinned_venv "$VENV" "requests==$REQUESTS_VERSION" "matplotlib==$MATPLOTLIB_VERSION"
mkdir -p target/verify
export VERIFY_RESULTS="$ROOT/target/verify/results.json" ROOT_TARGET="$ROOT/target/verify"
# Redis for the gateway's shared rate limits (the redis fault stops and restarts it).
export VERIFY_REDIS_PORT=$(( ${STACK_PORT_BASE:-4200} + 50 ))
redis-server --port "$VERIFY_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >target/verify/redis.log 2>&1 &
export VERIFY_REDIS_PID=$!
trap 'kill "$VERIFY_REDIS_PID" 2>/dev/null || true' EXIT
export GATEKEEPER__RATE_LIMIT__REDIS_URL="redis://127.0.0.1:$VERIFY_REDIS_PORT/0"
# The default route table and one route more: seed 000 under /abac-check, decided by an ABAC
# engine (faults.py serves a stand-in on this port, and stops and starts it).
export VERIFY_ABAC_PORT=$(( ${STACK_PORT_BASE:-4200} + 60 ))
export RUN_ROUTES_FILE="$ROOT/target/verify/routes.yaml"
cat deploy/config/gatekeeper.yaml - > "$RUN_ROUTES_FILE" <<'ROUTE'

  # make verify: seed 000 again, each call decided by the ABAC engine.
  - name: verify-abac
    paths: [/abac-check]
    methods: [GET]
    strip_prefix: true
    upstream: "${MITHRIL_API_URL:-http://127.0.0.1:4010}"
    rules:
      - methods: [GET]
        path: '/api/clients/(?P<client>[0-9a-fA-F-]{36})/connections'
        scopes: [connection:read]
        abac:
          endpoint: "http://127.0.0.1:${VERIFY_ABAC_PORT}/abac"
          action: read
          resource: connection
          contexts: [{type: client, from: client}]

  # make verify (the rolling restart): a slow origin, for a request open while a gateway stops.
  - name: verify-slow
    paths: [/slow-origin]
    methods: [GET]
    strip_prefix: true
    auth: none
    upstream: "http://127.0.0.1:${VERIFY_SLOW_PORT:-1}"
ROUTE
bash deploy/local/with-stack.sh verify "'$VENV/bin/python' '$ROOT/deploy/verify/faults.py'"
