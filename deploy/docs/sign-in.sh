#!/usr/bin/env bash
# make sign-in-check: the sign-in pages in headless Chromium through the gateway (sign-in.mjs),
# on a fresh stack. Installs Debian's chromium when missing and playwright-core (pinned in
# package-lock.json).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=deploy/docs/browser.sh
source deploy/docs/browser.sh
exec bash deploy/local/with-stack.sh sign-in "node '$ROOT/deploy/docs/sign-in.mjs'"
