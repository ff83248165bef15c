# Sourced by the headless-Chromium checks (run.sh, sign-in.sh): installs Debian's chromium when
# missing and playwright-core (pinned in package-lock.json).
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
