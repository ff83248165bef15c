#!/usr/bin/env bash
# Loads the demo data set through the admin API (idempotent: fixed ids, upserts) and prints
# shell assignments of the ids and freshly rotated secrets. Usage: demo_data.sh DB_URL MITHRIL_URL
set -euo pipefail
DB="$1"; API="$2"
USER_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0001
ADMIN_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0010
MSP_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0020
MIS_ID=6d3f0a52-5a0e-4c38-9d1b-0f1e5c0a0030

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
call() { # method path [body]
  curl -fsS -X "$1" "$API$2" -H 'content-type: application/json' ${3:+-d "$3"}
}
type_id() { call GET "/admin/client_types?name=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$1")" | json 'd["data"][0]["id"]'; }

# Users have no API until the auth-token issue lands; the demo user cannot log in yet.
psql "$DB" -qc "INSERT INTO users (id, email, password) VALUES ('$USER_ID', 'demo@example.com', '!') ON CONFLICT DO NOTHING" >/dev/null

client() { # id name type access_type
  call PUT "/admin/clients/$1" "{\"client\":{\"name\":\"$2\",\"user_id\":\"$USER_ID\",\"client_type_id\":\"$(type_id "$3")\",\"priv_settings\":{\"access_type\":\"$4\"},\"settings\":{\"allowed_grant_types\":[\"password\",\"authorization_code\",\"refresh_token\"]}}}" >/dev/null
}
client "$ADMIN_ID" "Demo admin" "Mithril ADMIN" DIRECT
client "$MSP_ID" "Demo clinic (MSP)" MSP BROKER
client "$MIS_ID" "Demo MIS" MIS DIRECT

connection() { # client consumer redirect → id
  call PUT "/admin/clients/$1/connections" "{\"consumer_id\":\"$2\",\"redirect_uri\":\"$3\"}" | json 'd["data"]["id"]'
}
MIS_SELF=$(connection "$MIS_ID" "$MIS_ID" "https://mis.example.com")
CONN=$(connection "$MSP_ID" "$MIS_ID" "https://mis.example.com/callback")
# Secrets are shown once; rotate so this run can print working ones.
MIS_KEY=$(call PATCH "/admin/clients/$MIS_ID/connections/$MIS_SELF/actions/refresh_secret" | json 'd["data"]["secret"]')
SECRET=$(curl -fsS -X PATCH "$API/admin/clients/$MSP_ID/connections/$CONN/actions/refresh_secret" -H "api-key: $MIS_KEY" | json 'd["data"]["secret"]')

cat <<OUT
DEMO_USER_ID=$USER_ID
DEMO_ADMIN_ID=$ADMIN_ID
DEMO_MSP_ID=$MSP_ID
DEMO_MIS_ID=$MIS_ID
DEMO_CONNECTION_ID=$CONN
DEMO_CONNECTION_SECRET=$SECRET
DEMO_MIS_API_KEY=$MIS_KEY
OUT
