#!/usr/bin/env bash
# employee-roles vs PostgreSQL, same box, same cluster, same run (make bench-roles).
#
# For each concurrency: pgbench runs the service's own statements (pg_get.sql, pg_deactivate.sql),
# then wrk drives the HTTP endpoint with the gatekeeper's identity headers. Ratios are HTTP
# req/s over pgbench TPS. The cluster uses the reference's settings: durability on.
# Env: T (15 s per run), CONNS ("16 64"), OPS ("get deactivate"), MAXRATE (9000, sizes the role
#      pool), WORKERS (1: the service shares 2 cores with Postgres and the load tools; see RESULTS.md), POOL (64), PGPORT (55434), APORT (55430), KEEP=1 keeps the data.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
T=${T:-15}; CONNS=${CONNS:-"16 64"}; OPS=${OPS:-"get deactivate"}; MAXRATE=${MAXRATE:-9000}
WORKERS=${WORKERS:-1}; POOL=${POOL:-64}; PGPORT=${PGPORT:-55434}; APORT=${APORT:-55430}
WORK="$ROOT/target/bench/employee-roles"; DATA="$WORK/pg"; OUT="$WORK/out"
RESULTS="$ROOT/bench/results/employee-roles-$(date -u +%Y%m%dT%H%M%SZ).tsv"
log() { echo "[$(date +%T)] $*" >&2; }
export BENCH_DIR="$HERE"

command -v wrk >/dev/null || { log "installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
AS=(); [ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)

log "building employee-roles (release)"
(cd "$ROOT" && cargo build -q --release -p employee-roles)
BIN="$ROOT/target/release/employee-roles"

DBNAME=prm
# shellcheck source=../lib/pgbench.sh
source "$HERE/../lib/pgbench.sh"
start_cluster
EMPLOYEE_ROLES__DATABASE__URL="$DB" "$BIN" migrate

# One role range per (tool, concurrency) of deactivations: enough for MAXRATE per second.
n_conns=$(echo $CONNS | wc -w)
PER_RUN=$(( MAXRATE * (T + 2) ))
NROLES=$(( PER_RUN * n_conns * 2 ))
[ "$NROLES" -le 999000 ] || { log "MAXRATE*T too large for the seeded pairs"; exit 1; }
log "seeding: $NROLES roles"
psql -X -q "$DB" -v nroles="$NROLES" -f "$HERE/seed.sql"

export EMPLOYEE_ROLES__DATABASE__URL="$DB" EMPLOYEE_ROLES__SERVER__PORT="$APORT" \
  EMPLOYEE_ROLES__SERVER__WORKERS="$WORKERS" EMPLOYEE_ROLES__DATABASE__POOL_SIZE="$POOL" \
  EMPLOYEE_ROLES__TELEMETRY__LOG_FILTER=warn
URL="http://127.0.0.1:$APORT"
start_service employee-roles "$BIN"
curl -fs -o /dev/null "$URL/api/employee_roles/00000000-0000-4000-8000-000000000001" \
  -H 'x-consumer-id: 00000000-0000-4000-8000-0000000000ee' \
  -H 'x-consumer-metadata: {"client_id":"00000000-0000-4000-8000-00000000000a"}' \
  || { log "get sanity check failed"; exit 1; }

case " $OPS " in *" get "*)
  log "get warm-up"
  wrk -t2 -c16 -d2s -s "$HERE/get.lua" "$URL" -- "$NROLES" >/dev/null
  for c in $CONNS; do
    log "get, $c connections"
    pg get "$c" pg_get.sql -D nroles="$NROLES"
    http get "$c" get.lua "$NROLES"
  done ;;
esac

inactive() { psql -X -qtA "$DB" -c "SELECT count(*) FROM employee_roles WHERE status = 'INACTIVE'"; }
slot=0
for c in $CONNS; do
  case " $OPS " in *" deactivate "*) ;; *) break ;; esac
  log "deactivate, $c connections"
  before=$(inactive)
  pg deactivate "$c" pg_deactivate.sql -D base=$(( slot * PER_RUN )) -D stride=$(( PER_RUN / c )) -D n=0
  log "pgbench: $(( $(inactive) - before )) roles deactivated"
  slot=$(( slot + 1 )); before=$(inactive)
  http deactivate "$c" deactivate.lua $(( slot * PER_RUN )) $(( PER_RUN / 2 ))
  log "wrk: $(( $(inactive) - before )) roles deactivated"
  slot=$(( slot + 1 ))
done
summarize
log "raw results: $RESULTS"
