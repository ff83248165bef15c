#!/usr/bin/env bash
# Token service vs PostgreSQL, same box, same cluster, same run (make bench-auth).
#
# For each concurrency: pgbench runs the service's own exchange statements, then wrk drives
# POST /oauth/tokens; then the same for verify. Ratios are HTTP req/s over pgbench TPS.
# The cluster uses the reference's settings (spec/bench-reference/pg/run_pg.sh): durability on.
# Env: T (15 s per run), CONNS ("16 64"), OPS ("exchange verify"), NTOKENS (200000), MAXRATE (12000, sizes the code pool),
#      WORKERS (1: the service shares 2 cores with Postgres and the load tools; see RESULTS.md), POOL (64), PGPORT (55433), APORT (55420), KEEP=1 keeps the data directory.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
T=${T:-15}; CONNS=${CONNS:-"16 64"}; OPS=${OPS:-"exchange verify"}; NTOKENS=${NTOKENS:-200000}; MAXRATE=${MAXRATE:-12000}
WORKERS=${WORKERS:-1}; POOL=${POOL:-64}; PGPORT=${PGPORT:-55433}; APORT=${APORT:-55420}
WORK="$ROOT/target/bench/auth-token"; DATA="$WORK/pg"; OUT="$WORK/out"
RESULTS="$ROOT/bench/results/auth-token-$(date -u +%Y%m%dT%H%M%SZ).tsv"
log() { echo "[$(date +%T)] $*" >&2; }

command -v wrk >/dev/null || { log "installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
AS=(); [ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)

log "building auth-token (release)"
(cd "$ROOT" && cargo build -q --release -p auth-token)
BIN="$ROOT/target/release/auth-token"

DBNAME=mithril
# shellcheck source=../lib/pgbench.sh
source "$HERE/../lib/pgbench.sh"
start_cluster
AUTH_TOKEN__DATABASE__URL="$DB" "$BIN" migrate

# One code range per (tool, concurrency): enough for MAXRATE per second over the run.
n_conns=$(echo $CONNS | wc -w)
PER_RUN=$(( MAXRATE * (T + 2) ))
NCODES=$(( PER_RUN * n_conns ))
log "seeding: 2 x $NCODES codes, $NTOKENS access tokens"
psql -X -q "$DB" -v ncodes="$NCODES" -v ntokens="$NTOKENS" -f "$HERE/seed.sql"

export AUTH_TOKEN__DATABASE__URL="$DB" AUTH_TOKEN__SERVER__PORT="$APORT" AUTH_TOKEN__SERVER__WORKERS="$WORKERS" \
  AUTH_TOKEN__DATABASE__POOL_SIZE="$POOL" AUTH_TOKEN__TELEMETRY__LOG_FILTER=warn AUTH_TOKEN__CLEANUP__ENABLED=false
URL="http://127.0.0.1:$APORT"
start_service auth-token "$BIN"
# Sanity: one exchange and one verify answer as the benchmark expects.
curl -fs -o /dev/null -X POST "$URL/oauth/tokens" -H 'content-type: application/json' \
  -d '{"token":{"grant_type":"authorization_code","client_id":"00000000-0000-7000-8000-0000000000aa","client_secret":"bench-secret","code":"code-0","redirect_uri":"https://mis.example.com/cb"}}' 2>/dev/null \
  && { log "code-0 should not exist"; exit 1; } || true
curl -fs -o /dev/null "$URL/admin/tokens/tok-1/verify" || { log "verify sanity check failed"; exit 1; }

if [ "${HOLD:-0}" = 1 ]; then
  echo "HOLD: auth-token $URL (pid $SVC), postgres $DB; Ctrl-C ends" >&2
  wait "$SVC"
fi
# Verify first, on the freshly seeded cluster: the exchange runs add ~2x PER_RUN rows and WAL,
# after which verify (of both tools) runs on a different state.
VERIFY_CONNS=$CONNS
case " $OPS " in *" verify "*) ;; *) VERIFY_CONNS="" ;; esac
[ -n "$VERIFY_CONNS" ] && log "verify warm-up"
[ -n "$VERIFY_CONNS" ] && wrk -t2 -c16 -d2s -s "$HERE/verify.lua" "$URL" -- "$NTOKENS" >/dev/null
for c in $VERIFY_CONNS; do
  log "verify, $c connections"
  pg verify "$c" pg_verify.sql -D ntokens="$NTOKENS"
  http verify "$c" verify.lua "$NTOKENS"
done

psql -X -q "$DB" -c "CHECKPOINT"
used_codes() { psql -X -qtA "$DB" -c "SELECT count(*) FROM tokens WHERE name = 'authorization_code' AND used_at IS NOT NULL"; }
# Every exchange must redeem a fresh code: newly used codes = transactions (pgbench) = 201s (wrk).
# wrk stops counting with up to <conns> requests in flight, so that many more may be redeemed.
check_redeemed() { # label before expected slack
  local now diff; now=$(used_codes); diff=$(( now - $2 - $3 ))
  if [ "$diff" -lt 0 ] || [ "$diff" -gt "$4" ]; then log "WARNING: $1 redeemed $(( now - $2 )) codes for $3 exchanges"; fi
  log "$1: $(( now - $2 )) codes redeemed for $3 exchanges"
}
slot=0
for c in $CONNS; do
  case " $OPS " in *" exchange "*) ;; *) break ;; esac
  log "exchange, $c connections"
  before=$(used_codes)
  pg exchange "$c" pg_exchange.sql -D base=$(( slot * PER_RUN )) -D stride=$(( PER_RUN / c )) -D n=0
  check_redeemed "pgbench" "$before" "$(awk '/actually processed/ {print $6; exit}' "$OUT/pgbench-exchange-$c.txt")" "$c"
  before=$(used_codes)
  http exchange "$c" exchange.lua $(( slot * PER_RUN )) $(( PER_RUN / 2 ))
  check_redeemed "wrk" "$before" "$(awk '/requests in/ {print $1; exit}' "$OUT/wrk-exchange-$c.txt")" "$c"
  slot=$(( slot + 1 ))
done
summarize
grep -q . <(tail -n +2 "$RESULTS") || log "no runs selected"
log "raw results: $RESULTS"
