#!/usr/bin/env bash
# make sign-in-check: the sign-in pages in headless Chromium through the gateway (sign-in.mjs),
# on a fresh stack. Installs Debian's chromium when missing and playwright-core (pinned in
# package-lock.json).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
if [ ! -d deploy/docs/node_modules/playwright-core ]; then
  echo "== installing playwright-core"
  npm ci --prefix deploy/docs --no-audit --no-fund >/dev/null
fi
exec bash deploy/local/with-stack.sh sign-in "node '$ROOT/deploy/docs/sign-in.mjs'"
