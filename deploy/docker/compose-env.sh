#!/usr/bin/env bash
# make compose-env: writes .env (read by docker compose and podman-compose) with fresh
# credentials: the admin token, the gatekeeper's service token, the identity signing key and the
# database password. An existing .env is kept: delete it to rotate everything at once (README,
# "Rotation" for rotating one credential without downtime).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -f .env ]; then echo ".env exists; kept"; exit 0; fi
secret() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
umask 077
cat > .env <<ENV
EHEALTH_ADMIN_TOKENS=$(secret)
EHEALTH_SERVICE_TOKEN=$(secret)
EHEALTH_SIGNING_KEYS=$(secret)
EHEALTH_DB_PASSWORD=$(secret)
ENV
echo "wrote .env; the admin token: $(sed -n 's/^EHEALTH_ADMIN_TOKENS=//p' .env)"
