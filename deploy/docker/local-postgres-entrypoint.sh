#!/bin/sh
# The local postgres stand-in's start: initdb on first start (password authentication with
# POSTGRES_PASSWORD), POSTGRES_DB and the init scripts, then the server in the foreground.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pwfile"
  initdb -U postgres -A scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /run/postgresql" -w start >/dev/null
  export PGPASSWORD="$POSTGRES_PASSWORD"
  if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
    psql -h /run/postgresql -U postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  # As the postgres image does: *.sql run by psql, *.sh executed, in name order.
  export PGHOST=/run/postgresql
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) psql -U postgres -v ON_ERROR_STOP=1 -q -f "$f" ;;
      *.sh) "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k /run/postgresql
