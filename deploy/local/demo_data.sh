#!/usr/bin/env bash
# Loads the demo data set through the admin APIs (idempotent: fixed ids, upserts), runs the OAuth
# flow once through the gateway, and prints shell assignments of ids, secrets and a fresh access
# token. The admin token comes from ADMIN_TOKEN (make run generates it).
# Usage: demo_data.sh MITHRIL_URL AUTH_URL EMPLOYEE_ROLES_URL GATEWAY_URL
set -euo pipefail
API="$1"; AUTH="$2"; ROLES="$3"; GATE="$4"
: "${ADMIN_TOKEN:?ADMIN_TOKEN must name the admin token}"
ADMIN_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0010
MSP_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0020
MIS_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0030
FRONT_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0040
EMAIL=doctor@demo.example.com
PASSWORD=Demo1password
REDIRECT=https://mis.example.com/callback

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
call() { # method url [body] [extra header] [another]: internal (/admin/) calls carry the admin token
  local admin=()
  case "$2" in */admin/*) admin=(-H "authorization: Bearer $ADMIN_TOKEN") ;; esac
  curl -fsS -X "$1" "$2" -H 'content-type: application/json' "${admin[@]}" ${4:+-H "$4"} ${5:+-H "$5"} ${3:+-d "$3"}
}
quote() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$1"; }
type_id() { call GET "$API/admin/client_types?name=$(quote "$1")" | json 'd["data"][0]["id"]'; }
role_id() { call GET "$API/admin/roles?name=$(quote "$1")" | json 'd["data"][0]["id"]'; }

USER_ID=$(call GET "$API/admin/users?email=$EMAIL" | json 'd["data"][0]["id"] if d["data"] else ""')
if [ -z "$USER_ID" ]; then
  USER_ID=$(call POST "$API/admin/users" "{\"user\":{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}}" | json 'd["data"]["id"]')
fi

client() { # id name type priv_settings
  call PUT "$API/admin/clients/$1" "{\"client\":{\"name\":\"$2\",\"user_id\":\"$USER_ID\",\"client_type_id\":\"$(type_id "$3")\",\"priv_settings\":$4,\"settings\":{\"allowed_grant_types\":[\"password\"]}}}" >/dev/null
}
client "$ADMIN_ID" "Demo admin" "Mithril ADMIN" '{"access_type":"DIRECT"}'
client "$MSP_ID" "Demo clinic (MSP)" MSP '{"access_type":"BROKER"}'
client "$MIS_ID" "Demo MIS" MIS '{"access_type":"DIRECT","broker_scope":"connection:read connection:write connection:delete connection:refresh_secret employee_role:read employee_role:write"}'
client "$FRONT_ID" "Demo auth front-end" Auth_FE '{"access_type":"DIRECT"}'

connection() { # client consumer redirect → id
  call PUT "$API/admin/clients/$1/connections" "{\"consumer_id\":\"$2\",\"redirect_uri\":\"$3\"}" | json 'd["data"]["id"]'
}
MIS_SELF=$(connection "$MIS_ID" "$MIS_ID" "https://mis.example.com")
# A public connection (a native or browser app of the front-end): no secret, PKCE on every code.
APP_REDIRECT=https://app.example.com/callback
call PUT "$API/admin/clients/$MSP_ID/connections" "{\"consumer_id\":\"$FRONT_ID\",\"redirect_uri\":\"$APP_REDIRECT\",\"is_public\":true}" >/dev/null
CONN=$(connection "$MSP_ID" "$MIS_ID" "$REDIRECT")
# Secrets are shown once; rotate so this run can print working ones.
MIS_KEY=$(call PATCH "$API/admin/clients/$MIS_ID/connections/$MIS_SELF/actions/refresh_secret" | json 'd["data"]["secret"]')
SECRET=$(call PATCH "$API/admin/clients/$MSP_ID/connections/$CONN/actions/refresh_secret" "" "api-key: $MIS_KEY" | json 'd["data"]["secret"]')

call POST "$API/admin/users/$USER_ID/roles" "{\"user_role\":{\"role_id\":\"$(role_id OWNER)\",\"client_id\":\"$MSP_ID\"}}" >/dev/null 2>&1 || true

# The OAuth flow through the gateway, as a MIS runs it: login at the front-end client, authorize
# the MSP with the login token (the gateway vouches for the user), exchange the code.
LOGIN=$(call POST "$GATE/auth/login" "{\"token\":{\"grant_type\":\"password\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"client_id\":\"$FRONT_ID\",\"scope\":\"app:authorize\"}}" | json 'd["data"]["value"]')
SCOPE="connection:read connection:write connection:delete connection:refresh_secret employee_role:read employee_role:write"
CODE=$(call POST "$GATE/oauth/apps/authorize" "{\"app\":{\"client_id\":\"$MSP_ID\",\"redirect_uri\":\"$REDIRECT\",\"scope\":\"$SCOPE\"}}" "authorization: Bearer $LOGIN" | json 'd["data"]["value"]')
ACCESS=$(call POST "$GATE/oauth/tokens" "{\"token\":{\"grant_type\":\"authorization_code\",\"client_id\":\"$MSP_ID\",\"client_secret\":\"$SECRET\",\"code\":\"$CODE\",\"redirect_uri\":\"$REDIRECT\"}}" | json 'd["data"]["value"]')

# The provider registry's view of the clinic (the legal entity is the MSP client), as the registry
# would push it, and one ACTIVE employee role to deactivate through the gateway.
EMPLOYEE_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0050
SERVICE_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0060
reg() { call PUT "$ROLES/admin/$1" "$2" "x-consumer-id: $USER_ID" >/dev/null; }
reg "legal_entities/$MSP_ID" '{"type":"PRIMARY_CARE","status":"ACTIVE","is_active":true}'
reg "employees/$EMPLOYEE_ID" "{\"legal_entity_id\":\"$MSP_ID\",\"party_id\":\"$USER_ID\",\"employee_type\":\"DOCTOR\",\"status\":\"APPROVED\",\"is_active\":true,\"speciality\":{\"speciality\":\"FAMILY_DOCTOR\",\"speciality_officio\":true}}"
reg "healthcare_services/$SERVICE_ID" "{\"legal_entity_id\":\"$MSP_ID\",\"division_id\":\"$MSP_ID\",\"speciality_type\":\"FAMILY_DOCTOR\",\"category\":\"MSP\",\"status\":\"ACTIVE\",\"is_active\":true}"
# A fresh ACTIVE role each run (earlier ones may have been deactivated by the demo curl).
call PATCH "$ROLES/admin/employees/$EMPLOYEE_ID/employee_roles/actions/deactivate" "" "x-consumer-id: $USER_ID" >/dev/null
ROLE_ID=$(call POST "$GATE/api/employee_roles" "{\"employee_id\":\"$EMPLOYEE_ID\",\"healthcare_service_id\":\"$SERVICE_ID\"}" \
  "authorization: Bearer $ACCESS" "api-key: $MIS_KEY" | json 'd["data"]["id"]')

cat <<OUT
DEMO_USER_ID=$USER_ID
DEMO_EMAIL=$EMAIL
DEMO_PASSWORD=$PASSWORD
DEMO_ADMIN_ID=$ADMIN_ID
DEMO_FRONT_ID=$FRONT_ID
DEMO_REDIRECT=$REDIRECT
DEMO_APP_REDIRECT=$APP_REDIRECT
DEMO_MSP_ID=$MSP_ID
DEMO_MIS_ID=$MIS_ID
DEMO_CONNECTION_ID=$CONN
DEMO_CONNECTION_SECRET=$SECRET
DEMO_MIS_API_KEY=$MIS_KEY
DEMO_ACCESS_TOKEN=$ACCESS
DEMO_EMPLOYEE_ID=$EMPLOYEE_ID
DEMO_ROLE_ID=$ROLE_ID
OUT
