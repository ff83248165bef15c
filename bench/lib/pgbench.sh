# Shared by the database-backed benchmarks (bench/auth-token, bench/employee-roles): a throwaway
# PostgreSQL with the reference's settings (durability on), pgbench and wrk runners writing one
# TSV, and the ratio table. The caller sets WORK DATA OUT RESULTS PGPORT PGBIN AS HERE DBNAME
# and, before the runners, URL (the service) and SVC (its pid, stopped on exit).

export BENCH_LIB
BENCH_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

start_cluster() {
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
  trap stop_cluster EXIT
  psql -X -q "postgres://postgres@127.0.0.1:$PGPORT/postgres" -c "CREATE DATABASE $DBNAME"
  DB="postgres://postgres@127.0.0.1:$PGPORT/$DBNAME"
  printf 'kind\tconns\ttool\trate\tp50_ms\tp99_ms\terrors\n' > "$RESULTS"
}

stop_cluster() {
  [ -n "$SVC" ] && kill "$SVC" 2>/dev/null && wait "$SVC" 2>/dev/null || true
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$DATA"
}

# Starts the service binary with env already exported by the caller; waits for /ready.
start_service() { # name bin
  "$2" serve > "$WORK/$1.log" 2>&1 &
  SVC=$!
  for _ in $(seq 1 200); do curl -fs "$URL/ready" >/dev/null 2>&1 && break; sleep 0.05; done
  curl -fs "$URL/ready" >/dev/null || { log "$1 did not start"; cat "$WORK/$1.log"; exit 1; }
}

# Each tool starts from a quiet cluster: otherwise autovacuum of the rows the previous run wrote
# (80k+ updated codes, 160k+ new tokens per exchange run) runs during the next tool's turn.
quiet() { psql -X -q "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT"; }
pg() { # kind conns script extra-args...
  local kind=$1 c=$2 script=$3; shift 3
  quiet
  local prefix="$OUT/pg-$kind-$c"
  local out
  out=$(cd "$OUT" && pgbench -n -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -c "$c" -j 2 -T "$T" \
        -l --sampling-rate=0.2 --log-prefix="$prefix" "$@" -f "$HERE/$script" "$DBNAME" 2>&1) || { echo "$out" >&2; log "pgbench failed"; return 1; }
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
  out=$(wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"${T}s" --latency -s "$HERE/$script" "$URL" -- "$@")
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


summarize() {
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
}
