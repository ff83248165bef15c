#!/usr/bin/env bash
# make docs-check: every /docs page (the four services' and the gateway's public one) in
# headless Chromium with the network cut off but loopback (check.mjs), on a fresh stack.
# Installs Debian's chromium when missing and playwright-core (pinned in package-lock.json).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=deploy/docs/browser.sh
source deploy/docs/browser.sh
exec bash deploy/local/with-stack.sh docs "node '$ROOT/deploy/docs/check.mjs'"
