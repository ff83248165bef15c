#!/usr/bin/env bash
# make verify: the faults of deploy/verify/faults.py on a fresh stack (deploy/local/with-stack.sh),
# their figures written to target/verify/results.json. VERIFY_SHORT=1: each fault once, briefly
# (CI); VERIFY_ONLY: fault names, space-separated.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REQUESTS_VERSION=2.32.5
VENV="$ROOT/target/verify-venv"
# shellcheck disable=SC1091
source deploy/local/pinned-venv.sh
pinned_venv "$VENV" "requests==$REQUESTS_VERSION"
mkdir -p target/verify
export VERIFY_RESULTS="$ROOT/target/verify/results.json" ROOT_TARGET="$ROOT/target/verify"
exec bash deploy/local/with-stack.sh verify "'$VENV/bin/python' '$ROOT/deploy/verify/faults.py'"
