#!/usr/bin/env bash
# Gatekeeper against nginx on loopback, one origin, same box, same run (make bench-gatekeeper).
#
# Scenarios (wrk, 2 threads, CONNS connections, DUR seconds after a WARM-second warm-up):
#   nginx_proxy : nginx keepalive proxy (spec/bench-reference/nginx/proxy.conf.tmpl) -> origin
#   haproxy_proxy : haproxy (one thread, keep-alive reuse) -> origin
#   gk_pass     : gatekeeper, route without authentication -> origin
#   gk_token    : gatekeeper, bearer token + scope rule, verify cache warm -> origin
#   tls_*       : TLS 1.3 HTTP/1.1 (wrk https) to nginx, haproxy and a gatekeeper with TLS on
#                 (pass-through route), each -> the plain origin
#   h2_*        : HTTP/2 over TLS (h2load, CONNS connections, 10 streams each) to the same three
#   c1_*        : the same at one connection, plus the origin direct (latency of one hop)
# The certificate is a fresh ECDSA P-256 one (openssl), the same for every TLS peer.
# The origin is nginx serving the reference's 316-byte JSON body. CPU per request of the proxy
# (A) and the origin (B) come from /proc/<pid>/stat, as in spec/perf_baselines.md §2.
# The verify answer comes from verify_stub.py: with a warm cache it is called once per run.
# Each server runs in a session of its own, as nginx does once it daemonizes: with the kernel's
# autogroup scheduling (sched_autogroup_enabled=1) a server left in this script's session would
# share one CPU share with wrk, while nginx gets a share of its own.
# The gatekeeper signs the identity headers it sends on token routes, as every deployment does
# (GK_SIGNING_KEY= runs it without a key, for an A/B of the signature's cost).
# Env: DUR (15) CONNS (64) WARM (3) GK_WORKERS (1) NGINX_WORKERS (1) RUNS (1) GK_SIGNING_KEY
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DUR=${DUR:-15}; CONNS=${CONNS:-64}; WARM=${WARM:-3}; GK_WORKERS=${GK_WORKERS:-1}; NGINX_WORKERS=${NGINX_WORKERS:-1}
HAPROXY=18300; HAPROXY_TLS=18301; NGINX_TLS=18401; GK_TLS=18200; GK_TLS_OPS=18201
WORK="$ROOT/target/bench/gatekeeper"; HZ=$(getconf CLK_TCK)
ORIGIN=18080; PROXY=18000; GK=18100; GK_OPS=18101; VERIFY=18102
RESULTS="$ROOT/bench/results/gatekeeper-$(date -u +%Y%m%dT%H%M%SZ).tsv"
TOKEN=benchmark-token-0123456789abcdefghijklmnopqrstuv
log() { echo "[$(date +%T)] $*" >&2; }

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"; apt-get update -q >/dev/null; apt-get install -y -q "${need[@]}" >/dev/null
fi
log "building gatekeeper (release)"
(cd "$ROOT" && cargo build -q --release -p gatekeeper)
BIN="$ROOT/target/release/gatekeeper"

rm -rf "$WORK"; mkdir -p "$WORK/logs" "$(dirname "$RESULTS")"
PIDS=()
stop_all() { local p; for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done; PIDS=(); }
trap stop_all EXIT

start_nginx() {  # name template port upstream_port
  local prefix="$WORK/nginx-$1"; mkdir -p "$prefix"
  sed -e "s|\${WORKERS}|$NGINX_WORKERS|g" -e "s|\${PORT}|$3|g" -e "s|\${PREFIX}|$prefix|g" \
      -e "s|\${PERF_DIR}|$HERE|g" -e "s|\${UPSTREAM_PORT}|${4:-0}|g" \
      -e "s|\${CERT}|$WORK/cert.pem|g" -e "s|\${KEY}|$WORK/key.pem|g" "$HERE/nginx/$2" >"$prefix/nginx.conf"
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  local i; for i in $(seq 1 50); do [ -s "$prefix/nginx.pid" ] && break; sleep 0.1; done
  PIDS+=("$(cat "$prefix/nginx.pid")")
}
tree() { echo "$1 $(ps -o pid= --ppid "$1" | tr '\n' ' ')"; }
wait_ok() {
  local i; for i in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$@")" = 200 ] && return 0; sleep 0.1
  done; log "no 200 from $*"; return 1
}
ticks() { local t=0 p f; for p in $1; do f=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) || f=0; t=$((t + ${f:-0})); done; echo "$t"; }
sys_ticks() { awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6}' /proc/stat; }
to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} }'; }

# row LABEL CONNS REQ_S REQUESTS P50 P99 A0 A1 B0 B1 "SYS0 SYS1" T0 T1 ERRORS: one TSV line, with the
# CPU per request of the proxy (A) and the origin (B) from their tick counts before and after.
row() {
  python3 - "$@" "$HZ" <<'PY' | tee -a "$RESULTS"
import sys
(label, conns, rps, reqs, p50, p99, a0, a1, b0, b1, sysw, t0, t1, errs, hz) = sys.argv[1:16]
hz = float(hz); reqs = float(reqs or 0)
sb0, st0, sb1, st1 = map(float, sysw.split())
busy = (sb1 - sb0) / (st1 - st0) * 2.0 if st1 > st0 else 0.0
a_us = (float(a1) - float(a0)) / hz / reqs * 1e6 if reqs else 0
b_us = (float(b1) - float(b0)) / hz / reqs * 1e6 if reqs else 0
print("\t".join([label, conns, f"{float(rps or 0):.0f}", f"{float(p50 or 0):.0f}", f"{float(p99 or 0):.0f}",
                 f"{a_us:.1f}", f"{b_us:.1f}", f"{busy:.2f}", errs.strip() or "-"]))
PY
}

# bench LABEL URL CONNS DUR A_PIDS B_PIDS [wrk args...]
bench() {
  local label=$1 url=$2 conns=$3 dur=$4 apids=$5 bpids=$6; shift 6
  local th=2; [ "$conns" -lt 2 ] && th=1
  wrk -t"$th" -c"$conns" -d"${WARM}s" "$@" "$url" >/dev/null 2>&1
  local a0 b0 s0 a1 b1 s1 t0 t1 out
  a0=$(ticks "$apids"); b0=$(ticks "$bpids"); s0=$(sys_ticks); t0=$(date +%s.%N)
  out=$(wrk -t"$th" -c"$conns" -d"${dur}s" --latency "$@" "$url")
  t1=$(date +%s.%N); a1=$(ticks "$apids"); b1=$(ticks "$bpids"); s1=$(sys_ticks)
  echo "$out" >"$WORK/logs/$label.txt"
  row "$label" "$conns" "$(awk '/^Requests\/sec/{print $2}' <<<"$out")" "$(awk '/requests in/{print $1}' <<<"$out")" \
    "$(to_us "$(awk '$1=="50%"{print $2}' <<<"$out")")" "$(to_us "$(awk '$1=="99%"{print $2}' <<<"$out")")" \
    "$a0" "$a1" "$b0" "$b1" "$s0 $s1" "$t0" "$t1" "$(awk '/Non-2xx|Socket errors/{printf "%s ", $0}' <<<"$out")"
}

# bench_h2 LABEL URL CONNS DUR A_PIDS B_PIDS: h2load, 10 concurrent streams per connection. Its
# latency columns are the mean and the max of "time for request" (h2load gives no percentiles).
bench_h2() {
  local label=$1 url=$2 conns=$3 dur=$4 apids=$5 bpids=$6
  h2load -c"$conns" -m10 -t2 -D"$WARM" "$url" >/dev/null 2>&1
  local a0 b0 s0 a1 b1 s1 t0 t1 out
  a0=$(ticks "$apids"); b0=$(ticks "$bpids"); s0=$(sys_ticks); t0=$(date +%s.%N)
  out=$(h2load -c"$conns" -m10 -t2 -D"$dur" "$url")
  t1=$(date +%s.%N); a1=$(ticks "$apids"); b1=$(ticks "$bpids"); s1=$(sys_ticks)
  echo "$out" >"$WORK/logs/$label.txt"
  local done rps mean max failed
  done=$(awk '/^requests:/{print $8}' <<<"$out")
  rps=$(awk '/^finished in/{print $4}' <<<"$out")
  mean=$(to_us "$(awk '/^time for request:/{print $6}' <<<"$out")")
  max=$(to_us "$(awk '/^time for request:/{print $5}' <<<"$out")")
  failed=$(awk '/^requests:/{ if ($10 + $12 > 0) printf "failed %s errored %s", $10, $12 }' <<<"$out")
  row "$label" "$conns" "$rps" "$done" "$mean" "$max" "$a0" "$a1" "$b0" "$b1" "$s0 $s1" "$t0" "$t1" "$failed"
}

printf 'label\tconns\treq_s\tp50_us\tp99_us\tproxy_cpu_us_per_req\torigin_cpu_us_per_req\tbox_busy_cores\terrors\n' | tee "$RESULTS"
start_nginx origin origin.conf.tmpl $ORIGIN; ORIGIN_PIDS=$(tree "${PIDS[-1]}")
start_nginx proxy proxy.conf.tmpl $PROXY $ORIGIN; PROXY_PIDS=$(tree "${PIDS[-1]}")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"
start_nginx tls tls.conf.tmpl $NGINX_TLS $ORIGIN; NGINX_TLS_PIDS=$(tree "${PIDS[-1]}")
sed -e "s|\${PLAIN_PORT}|$HAPROXY|g" -e "s|\${TLS_PORT}|$HAPROXY_TLS|g" -e "s|\${UPSTREAM_PORT}|$ORIGIN|g" \
    -e "s|\${PEM}|$WORK/haproxy.pem|g" "$HERE/haproxy.cfg.tmpl" >"$WORK/haproxy.cfg"
setsid haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/logs/haproxy.log" 2>&1 </dev/null & PIDS+=("$!"); HAPROXY_PID=$!
python3 "$HERE/verify_stub.py" $VERIFY & PIDS+=("$!")
sed "s|\${ORIGIN_PORT}|$ORIGIN|g" "$HERE/routes.yaml.tmpl" >"$WORK/routes.yaml"
# An empty GK_SIGNING_KEY: no key at all (an empty key is a start-up error, as it should be).
SIGNING_KEY="${GK_SIGNING_KEY-bench-identity-signing-key-000000000000000}"
if [ -n "$SIGNING_KEY" ]; then export GATEKEEPER__IDENTITY__SIGNING_KEYS="$SIGNING_KEY"; fi
GATEKEEPER__SERVER__PORT=$GK GATEKEEPER__SERVER__WORKERS=$GK_WORKERS GATEKEEPER__OPS__PORT=$GK_OPS \
GATEKEEPER__ROUTES__FILE="$WORK/routes.yaml" GATEKEEPER__VERIFY__URL="http://127.0.0.1:$VERIFY" \
GATEKEEPER__VERIFY__CACHE_TTL_SECS=3600 GATEKEEPER__TELEMETRY__LOG_FILTER=warn \
  setsid "$BIN" >"$WORK/logs/gatekeeper.log" 2>&1 </dev/null & PIDS+=("$!"); GK_PID=$!
GATEKEEPER__SERVER__PORT=$GK_TLS GATEKEEPER__SERVER__WORKERS=$GK_WORKERS GATEKEEPER__OPS__PORT=$GK_TLS_OPS \
GATEKEEPER__ROUTES__FILE="$WORK/routes.yaml" GATEKEEPER__VERIFY__URL="http://127.0.0.1:$VERIFY" \
GATEKEEPER__TLS__CERT_FILE="$WORK/cert.pem" GATEKEEPER__TLS__KEY_FILE="$WORK/key.pem" \
GATEKEEPER__VERIFY__CACHE_TTL_SECS=3600 GATEKEEPER__TELEMETRY__LOG_FILTER=warn \
  setsid "$BIN" >"$WORK/logs/gatekeeper-tls.log" 2>&1 </dev/null & PIDS+=("$!"); GK_TLS_PID=$!
wait_ok "http://127.0.0.1:$ORIGIN/json"; wait_ok "http://127.0.0.1:$PROXY/json"
wait_ok "http://127.0.0.1:$HAPROXY/json"; wait_ok -k "https://127.0.0.1:$HAPROXY_TLS/json"
wait_ok -k "https://127.0.0.1:$NGINX_TLS/json"; wait_ok -k "https://127.0.0.1:$GK_TLS/pass/json"
wait_ok "http://127.0.0.1:$GK/pass/json"; wait_ok -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GK/token/json"
# setsid ran the gatekeeper in its own place (no fork): its CPU is read from this pid.
[ "$(cat "/proc/$GK_PID/comm")" = gatekeeper ] || { log "pid $GK_PID is not the gatekeeper"; exit 1; }
[ "$(cat "/proc/$GK_TLS_PID/comm")" = gatekeeper ] || { log "pid $GK_TLS_PID is not the gatekeeper"; exit 1; }

log "c=$CONNS: nginx proxy, haproxy, gatekeeper pass-through, gatekeeper token+scope"
bench nginx_proxy "http://127.0.0.1:$PROXY/json" "$CONNS" "$DUR" "$PROXY_PIDS" "$ORIGIN_PIDS"
bench haproxy_proxy "http://127.0.0.1:$HAPROXY/json" "$CONNS" "$DUR" "$HAPROXY_PID" "$ORIGIN_PIDS"
bench gk_pass "http://127.0.0.1:$GK/pass/json" "$CONNS" "$DUR" "$GK_PID" "$ORIGIN_PIDS"
bench gk_token "http://127.0.0.1:$GK/token/json" "$CONNS" "$DUR" "$GK_PID" "$ORIGIN_PIDS" -H "Authorization: Bearer $TOKEN"
log "c=$CONNS over TLS: HTTP/1.1 (wrk), then HTTP/2 (h2load, 10 streams a connection)"
bench tls_nginx "https://127.0.0.1:$NGINX_TLS/json" "$CONNS" "$DUR" "$NGINX_TLS_PIDS" "$ORIGIN_PIDS"
bench tls_haproxy "https://127.0.0.1:$HAPROXY_TLS/json" "$CONNS" "$DUR" "$HAPROXY_PID" "$ORIGIN_PIDS"
bench tls_gk "https://127.0.0.1:$GK_TLS/pass/json" "$CONNS" "$DUR" "$GK_TLS_PID" "$ORIGIN_PIDS"
bench_h2 h2_nginx "https://127.0.0.1:$NGINX_TLS/json" "$CONNS" "$DUR" "$NGINX_TLS_PIDS" "$ORIGIN_PIDS"
bench_h2 h2_haproxy "https://127.0.0.1:$HAPROXY_TLS/json" "$CONNS" "$DUR" "$HAPROXY_PID" "$ORIGIN_PIDS"
bench_h2 h2_gk "https://127.0.0.1:$GK_TLS/pass/json" "$CONNS" "$DUR" "$GK_TLS_PID" "$ORIGIN_PIDS"
log "c=1: origin direct, nginx proxy, gatekeeper pass-through, gatekeeper token+scope"
bench c1_origin "http://127.0.0.1:$ORIGIN/json" 1 10 "$ORIGIN_PIDS" ""
bench c1_nginx_proxy "http://127.0.0.1:$PROXY/json" 1 10 "$PROXY_PIDS" "$ORIGIN_PIDS"
bench c1_gk_pass "http://127.0.0.1:$GK/pass/json" 1 10 "$GK_PID" "$ORIGIN_PIDS"
bench c1_gk_token "http://127.0.0.1:$GK/token/json" 1 10 "$GK_PID" "$ORIGIN_PIDS" -H "Authorization: Bearer $TOKEN"
RSS=$(awk '/VmHWM/{print $2}' "/proc/$GK_PID/status")
printf 'gatekeeper_peak_rss_kb\t%s\n' "$RSS" | tee -a "$RESULTS"
RSS=$(awk '/VmHWM/{print $2}' "/proc/$GK_TLS_PID/status")
printf 'gatekeeper_tls_peak_rss_kb\t%s\n' "$RSS" | tee -a "$RESULTS"
curl -s "http://127.0.0.1:$GK_OPS/metrics" | grep -E '^gatekeeper_verify_cache_total' >&2 || true
log "raw results: $RESULTS"
python3 "$HERE/summarize.py" "$RESULTS"
