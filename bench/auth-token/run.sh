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

rm -rf "$WORK"; mkdir -p "$DATA" "$OUT" "$(dirname "$RESULTS")"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
"${AS[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$WORK'
max_connections = 200
shared_buffers = 1GB
effective_cache_size = 8GB
work_mem = 16MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_buffers = 64MB
random_page_cost = 1.1
CONF
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$WORK/postgres.log" -w start >/dev/null
SVC=""
cleanup() {
  [ -n "$SVC" ] && kill "$SVC" 2>/dev/null && wait "$SVC" 2>/dev/null || true
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$DATA"
}
trap cleanup EXIT
DB="postgres://postgres@127.0.0.1:$PGPORT/mithril"
psql -X -q "postgres://postgres@127.0.0.1:$PGPORT/postgres" -c "CREATE DATABASE mithril"
AUTH_TOKEN__DATABASE__URL="$DB" "$BIN" migrate

# One code range per (tool, concurrency): enough for MAXRATE per second over the run.
n_conns=$(echo $CONNS | wc -w)
PER_RUN=$(( MAXRATE * (T + 2) ))
NCODES=$(( PER_RUN * n_conns ))
log "seeding: 2 x $NCODES codes, $NTOKENS access tokens"
psql -X -q "$DB" -v ncodes="$NCODES" -v ntokens="$NTOKENS" -f "$HERE/seed.sql"

AUTH_TOKEN__DATABASE__URL="$DB" AUTH_TOKEN__SERVER__PORT="$APORT" AUTH_TOKEN__SERVER__WORKERS="$WORKERS" \
AUTH_TOKEN__DATABASE__POOL_SIZE="$POOL" AUTH_TOKEN__TELEMETRY__LOG_FILTER=warn AUTH_TOKEN__CLEANUP__ENABLED=false \
  "$BIN" serve > "$WORK/auth-token.log" 2>&1 &
SVC=$!
URL="http://127.0.0.1:$APORT"
for _ in $(seq 1 200); do curl -fs "$URL/ready" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fs "$URL/ready" >/dev/null || { log "auth-token did not start"; cat "$WORK/auth-token.log"; exit 1; }
# Sanity: one exchange and one verify answer as the benchmark expects.
curl -fs -o /dev/null -X POST "$URL/oauth/tokens" -H 'content-type: application/json' \
  -d '{"token":{"grant_type":"authorization_code","client_id":"00000000-0000-7000-8000-0000000000aa","client_secret":"bench-secret","code":"code-0","redirect_uri":"https://mis.example.com/cb"}}' 2>/dev/null \
  && { log "code-0 should not exist"; exit 1; } || true
curl -fs -o /dev/null "$URL/admin/tokens/tok-1/verify" || { log "verify sanity check failed"; exit 1; }

printf 'kind\tconns\ttool\trate\tp50_ms\tp99_ms\terrors\n' > "$RESULTS"
# Each tool starts from a quiet cluster: otherwise autovacuum of the rows the previous run wrote
# (80k+ updated codes, 160k+ new tokens per exchange run) runs during the next tool's turn.
quiet() { psql -X -q "$DB" -c "VACUUM ANALYZE tokens" -c "CHECKPOINT"; }
pg() { # kind conns script extra-args...
  local kind=$1 c=$2 script=$3; shift 3
  quiet
  local prefix="$OUT/pg-$kind-$c"
  local out
  out=$(cd "$OUT" && pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c "$c" -j 2 -T "$T" \
        -l --sampling-rate=0.2 --log-prefix="$prefix" "$@" -f "$HERE/$script" mithril 2>&1)
  echo "$out" > "$OUT/pgbench-$kind-$c.txt"
  local tps failed
  tps=$(echo "$out" | awk '/^tps = / {print $3; exit}')
  failed=$(echo "$out" | awk '/number of failed transactions/ {print $5; exit}')
  python3 - "$prefix" "$kind" "$c" "$tps" "${failed:-0}" >> "$RESULTS" <<'PY'
import glob, sys
prefix, kind, c, tps, failed = sys.argv[1:]
lat = sorted(int(l.split()[2]) for f in glob.glob(prefix + ".*") for l in open(f))
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000 if lat else float("nan")
print(f"{kind}\t{c}\tpgbench\t{float(tps):.0f}\t{q(0.5):.2f}\t{q(0.99):.2f}\t{failed}")
PY
}
http() { # kind conns script args...
  local kind=$1 c=$2 script=$3; shift 3
  quiet
  local out
  out=$(wrk -t2 -c"$c" -d"${T}s" --latency -s "$HERE/$script" "$URL" -- "$@")
  echo "$out" > "$OUT/wrk-$kind-$c.txt"
  python3 - "$kind" "$c" >> "$RESULTS" <<PY
import re, sys
out = open("$OUT/wrk-$kind-$c.txt").read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
pct = lambda p: ms(re.search(r"^\s+" + p + r"%\s+(\S+)", out, re.M).group(1))
p50, p99 = pct("50"), pct("99")
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out); e = re.search(r"Socket errors: (.*)", out)
errors = int(m.group(1)) if m else 0
print(f"$kind\t$c\twrk\t{rate:.0f}\t{p50:.2f}\t{p99:.2f}\t{errors}{' socket: ' + e.group(1) if e else ''}")
PY
}

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
python3 - "$RESULTS" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {(r["kind"], r["conns"], r["tool"]): r for r in rows}
print("| operation | conns | pgbench TPS (p50/p99 ms) | HTTP req/s (p50/p99 ms) | ratio | HTTP errors |")
print("|---|---|---|---|---|---|")
for (kind, c, tool), r in by.items():
    if tool != "wrk":
        continue
    p = by.get((kind, c, "pgbench"))
    ratio = float(r["rate"]) / float(p["rate"]) if p and float(p["rate"]) else float("nan")
    print(f"| {kind} | {c} | {p['rate']} ({p['p50_ms']}/{p['p99_ms']}) | {r['rate']} ({r['p50_ms']}/{r['p99_ms']}) | {ratio:.2f}x | {r['errors']} |")
PY
grep -q . <(tail -n +2 "$RESULTS") || log "no runs selected"
log "raw results: $RESULTS"
