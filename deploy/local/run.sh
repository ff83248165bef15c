#!/usr/bin/env bash
# `make run`: PostgreSQL under target/dev-pg (or the server in DATABASE_URL), migrations, demo
# data loaded through the real admin API, and the services in the foreground. Ctrl-C stops
# everything this script started.
# RUN_COMMAND, when set, runs once the stack is up (with the credentials and the demo data in its
# environment) instead of waiting; the script then stops everything and exits with its status
# (make contract). RUN_DATA and RUN_CREDENTIALS move the database and the credentials file.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

PG_PORT="${PG_PORT:-54329}"
MITHRIL_PORT="${MITHRIL_API_PORT:-4010}"
AUTH_PORT="${AUTH_TOKEN_PORT:-4020}"
ROLES_PORT="${EMPLOYEE_ROLES_PORT:-4030}"
GATE_PORT="${GATEKEEPER_PORT:-4000}"
GATE_OPS_PORT="${GATEKEEPER_OPS_PORT:-4001}"
SMS_PORT="${SMS_STUB_PORT:-4040}"
DATA="${RUN_DATA:-$ROOT/target/dev-pg}"
PIDS=()

cleanup() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ -n "${STARTED_PG:-}" ]; then as_pg "$PG_BIN/pg_ctl" -D "$DATA/data" -m fast stop >/dev/null 2>&1 || true; fi
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup EXIT INT TERM

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

wait_for() { # url, what
  for _ in $(seq 1 300); do
    if curl -fs "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not become ready ($1)" >&2; exit 1
}

if [ -n "${DATABASE_URL:-}" ]; then
  DB_SERVER="${DATABASE_URL%/*}"
  echo "== using PostgreSQL at $DB_SERVER"
else
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql, or set DATABASE_URL" >&2; exit 1; }
  if [ ! -f "$DATA/data/PG_VERSION" ]; then
    echo "== initdb $DATA/data"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    as_pg "$PG_BIN/initdb" -U postgres -A trust -E UTF8 --locale=C -D "$DATA/data" >/dev/null
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$DATA/data" status >/dev/null 2>&1; then
    # Left running by an earlier run that was killed before its clean-up: reused, not stopped.
    echo "== reusing the PostgreSQL already running on $DATA/data"
  else
    echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA/data" -l "$DATA/postgres.log" -w \
      -o "-p $PG_PORT -k $DATA -c listen_addresses=127.0.0.1" start >/dev/null
    STARTED_PG=1
  fi
  DB_SERVER="postgres://postgres@127.0.0.1:$PG_PORT"
fi
for db in mithril prm; do
  psql "$DB_SERVER/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql "$DB_SERVER/postgres" -qc "CREATE DATABASE $db"
done

# Credentials, generated once and kept under target/ so that scripts can source them: the admin
# token of the internal APIs and the gatekeeper's ops endpoints, the gatekeeper's service token
# for auth-token, the identity signing key, and the password of the gatekeeper's revocation
# listener (a database role that may only LISTEN).
CREDENTIALS="${RUN_CREDENTIALS:-$ROOT/target/dev-credentials.env}"
secret() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
(
  umask 077
  mkdir -p "$(dirname "$CREDENTIALS")"
  touch "$CREDENTIALS"
  for key in ADMIN_TOKEN SERVICE_TOKEN IDENTITY_SIGNING_KEY LISTENER_PASSWORD; do
    grep -q "^$key=" "$CREDENTIALS" || printf '%s=%s\n' "$key" "$(secret)" >> "$CREDENTIALS"
  done
)
# shellcheck disable=SC1090
source "$CREDENTIALS"
for prefix in MITHRIL_API AUTH_TOKEN EMPLOYEE_ROLES GATEKEEPER; do
  export "${prefix}__ADMIN__TOKENS=$ADMIN_TOKEN" "${prefix}__IDENTITY__SIGNING_KEYS=$IDENTITY_SIGNING_KEY"
done
export AUTH_TOKEN__SERVICE__TOKENS="$SERVICE_TOKEN" GATEKEEPER__VERIFY__SERVICE_TOKEN="$SERVICE_TOKEN"
psql "$DB_SERVER/postgres" -q -v ON_ERROR_STOP=1 -v listener_password="$LISTENER_PASSWORD" \
  -f "$ROOT/deploy/docker/initdb/gatekeeper-listener.psql"
# The same server as the services', as the listener role.
DB_HOST="${DB_SERVER#*://}"; DB_HOST="${DB_HOST#*@}"
export GATEKEEPER__REVOCATIONS__URL="postgres://gatekeeper_listener:$LISTENER_PASSWORD@$DB_HOST/mithril"

echo "== building"
cargo build -q -p mithril-api -p auth-token -p employee-roles -p gatekeeper
cargo build -q -p testkit --bin sms-stub

# A stand-in SMS provider: the codes of two-factor logins are read at $SMS/messages.
target/debug/sms-stub "127.0.0.1:$SMS_PORT" > /dev/null &
PIDS+=($!)
SMS="http://127.0.0.1:$SMS_PORT"
wait_for "$SMS/messages" sms-stub
export AUTH_TOKEN__SMS__URL="$SMS"
# The sign-in pages' session cookie without `Secure`: this stack is plain http.
export AUTH_TOKEN__SIGN_IN__SECURE_COOKIE=false
# The standard OAuth issuer: the gateway as clients reach it (RFC 8414 metadata, `iss`).
export AUTH_TOKEN__OAUTH__ISSUER="http://127.0.0.1:$GATE_PORT"

start() { # binary env-prefix port database → starts it and waits until it is ready
  local prefix=$2
  export "${prefix}__DATABASE__URL=$DB_SERVER/$4" "${prefix}__SERVER__PORT=$3" \
    "${prefix}__TELEMETRY__LOG_FORMAT=${LOG_FORMAT:-pretty}"
  "target/debug/$1" serve &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$3/ready" "$1"
}
start mithril-api MITHRIL_API "$MITHRIL_PORT" mithril
start auth-token AUTH_TOKEN "$AUTH_PORT" mithril
start employee-roles EMPLOYEE_ROLES "$ROLES_PORT" prm
MITHRIL="http://127.0.0.1:$MITHRIL_PORT" AUTH="http://127.0.0.1:$AUTH_PORT" ROLES="http://127.0.0.1:$ROLES_PORT"

# The gateway, with the default route table pointed at these ports.
export MITHRIL_API_URL="$MITHRIL" AUTH_TOKEN_URL="$AUTH" EMPLOYEE_ROLES_URL="$ROLES"
export GATEKEEPER__SERVER__PORT="$GATE_PORT"
export GATEKEEPER__OPS__PORT="$GATE_OPS_PORT"
# RUN_ROUTES_FILE: another route table (make verify adds a route with ABAC to the default one).
export GATEKEEPER__ROUTES__FILE="${RUN_ROUTES_FILE:-$ROOT/deploy/config/gatekeeper.yaml}"
export GATEKEEPER__VERIFY__URL="$AUTH"
export GATEKEEPER__TELEMETRY__LOG_FORMAT="${LOG_FORMAT:-pretty}"
target/debug/gatekeeper serve &
PIDS+=($!)
GATE="http://127.0.0.1:$GATE_PORT"
wait_for "http://127.0.0.1:$GATE_OPS_PORT/ready" gatekeeper

echo "== demo data"
ADMIN_TOKEN="$ADMIN_TOKEN" bash deploy/local/demo_data.sh "$MITHRIL" "$AUTH" "$ROLES" "$GATE" > "$DATA.demo.env"
# shellcheck disable=SC1090
source "$DATA.demo.env"

if [ -n "${RUN_COMMAND:-}" ]; then
  set -a
  # shellcheck disable=SC1090
  source "$CREDENTIALS"; source "$DATA.demo.env"
  set +a
  export MITHRIL AUTH ROLES GATE SMS GATE_OPS="http://127.0.0.1:$GATE_OPS_PORT"
  status=0
  bash -c "$RUN_COMMAND" || status=$?
  exit "$status"
fi

SIGN_IN_URL="$GATE/sign-in?$(python3 -c 'import sys, urllib.parse as u; print(u.urlencode({"response_type": "code", "client_id": sys.argv[1], "redirect_uri": sys.argv[2], "scope": "legal_entity:read employee:read", "state": "demo"}))' "$DEMO_MSP_ID" "$DEMO_REDIRECT")"

cat <<MSG

  gateway      $GATE   (ops: http://127.0.0.1:$GATE_OPS_PORT/metrics, /routes with the admin token; routes: deploy/config/gatekeeper.yaml)
  mithril-api  $MITHRIL   (docs: $MITHRIL/docs, metrics: $MITHRIL/metrics)
  auth-token   $AUTH   (docs: $AUTH/docs)
  employee-roles $ROLES   (docs: $ROLES/docs)
  SMS stub     $SMS/messages   (the codes sent to users with a two-factor factor)
  PostgreSQL   $DB_SERVER/mithril, $DB_SERVER/prm

  Demo: MSP client $DEMO_MSP_ID (BROKER), MIS client $DEMO_MIS_ID, admin client $DEMO_ADMIN_ID
        user $DEMO_EMAIL / $DEMO_PASSWORD (OWNER of the MSP)
        connection $DEMO_CONNECTION_ID (MSP ← MIS), client_secret $DEMO_CONNECTION_SECRET
        MIS api-key (its self-connection secret) $DEMO_MIS_API_KEY

  A demo access token for the MSP (login → authorize → code exchange, just now):
    $DEMO_ACCESS_TOKEN

  Call seed 000 through the gateway (the MSP is a broker client: the MIS sends its api-key):
    curl -s $GATE/api/clients/$DEMO_MSP_ID/connections \\
      -H 'authorization: Bearer $DEMO_ACCESS_TOKEN' -H 'api-key: $DEMO_MIS_API_KEY'

  Seed 004 through the gateway: deactivate the demo employee role
    curl -s -X PATCH $GATE/api/employee_roles/$DEMO_ROLE_ID/actions/deactivate \\
      -H 'authorization: Bearer $DEMO_ACCESS_TOKEN' -H 'api-key: $DEMO_MIS_API_KEY'

  Sign in as the demo user in a browser, as the MIS would send them (the MSP's app asks for two
  scopes; after the consent the browser goes to the MIS's redirect URI with ?code=…&state=demo):
    $SIGN_IN_URL

  Internal APIs and the gateway's ops endpoints take the admin token (kept, with the service
  token and the identity signing key, in $CREDENTIALS):
    ADMIN_TOKEN=$ADMIN_TOKEN

  Ask the gateway why it would allow or refuse a call (nothing is forwarded):
    curl -s http://127.0.0.1:$GATE_OPS_PORT/explain -H 'content-type: application/json' \\
      -H 'authorization: Bearer $ADMIN_TOKEN' \\
      -d '{"method":"DELETE","path":"/api/clients/$DEMO_MSP_ID/connections/$DEMO_CONNECTION_ID","token":"$DEMO_ACCESS_TOKEN","api_key":"$DEMO_MIS_API_KEY"}'

  Ctrl-C stops everything.
MSG
wait
