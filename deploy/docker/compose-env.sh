#!/usr/bin/env bash
# make compose-env: writes .env (read by docker compose and podman-compose) with fresh
# credentials: the admin token, the gatekeeper's service token, the identity signing key, the
# database password and the gatekeeper's revocation listener's password. Values already in .env
# are kept: delete it to rotate everything at once (README, "Rotation" for rotating one
# credential without downtime).
set -euo pipefail
cd "$(dirname "$0")/../.."
secret() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
umask 077
touch .env
# Each credential once: an existing value is kept (a credential added by a later version is
# appended to an older .env).
for key in EHEALTH_ADMIN_TOKENS EHEALTH_SERVICE_TOKEN EHEALTH_SIGNING_KEYS EHEALTH_DB_PASSWORD \
           EHEALTH_LISTENER_PASSWORD; do
  grep -q "^$key=" .env || printf '%s=%s\n' "$key" "$(secret)" >> .env
done
echo "credentials in .env; the admin token: $(sed -n 's/^EHEALTH_ADMIN_TOKENS=//p' .env)"
