#!/bin/sh
# First start of the database: the gatekeeper's revocation listener role, with the password
# compose passes as LISTENER_PASSWORD (make compose-env writes it to .env).
set -eu
psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres \
  -v listener_password="${LISTENER_PASSWORD:?LISTENER_PASSWORD is required}" \
  -f /docker-entrypoint-initdb.d/gatekeeper-listener.psql
