#!/usr/bin/env bash
# make verify: the faults of deploy/verify/faults.py on a fresh stack (deploy/local/with-stack.sh),
# their figures written to target/verify/results.json. VERIFY_SHORT=1: each fault once, briefly
# (CI); VERIFY_ONLY: fault names, space-separated.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REQUESTS_VERSION=2.32.5
VENV="$ROOT/target/verify-venv"
want="requests==$REQUESTS_VERSION"
if [ "$(cat "$VENV/.pinned" 2>/dev/null)" != "$want" ]; then
  echo "== installing $want into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q $want
  echo "$want" > "$VENV/.pinned"
fi
mkdir -p target/verify
export VERIFY_RESULTS="$ROOT/target/verify/results.json" ROOT_TARGET="$ROOT/target/verify"
exec bash deploy/local/with-stack.sh verify "'$VENV/bin/python' '$ROOT/deploy/verify/faults.py'"
