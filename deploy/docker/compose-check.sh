#!/usr/bin/env bash
# make compose-check: builds the images, starts docker-compose.yml with podman-compose, checks it
# from outside and from inside its network (deploy/docker/compose_check.py), tears it down.
#
# On a machine with no container registry (this project's CI): base images come from
# debootstrap, the binaries from cargo on the host (the Dockerfile's `prebuilt` target), and
# PostgreSQL and Redis from deploy/docker/local-deps.Dockerfile. It installs what it lacks
# (podman, runc, debootstrap, iptables from Debian; podman-compose from PyPI) and, as root,
# configures podman for this kernel: the runc runtime and no default ulimits.
# Env: GATEWAY_PORT (14000), KEEP=1 leaves the stack up.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PROJECT=ehealth-check
GATEWAY_PORT="${GATEWAY_PORT:-14000}"
WORK="$ROOT/target/compose-check"
PODMAN_COMPOSE_VERSION=1.6.0
log() { echo "[compose-check $(date +%T)] $*" >&2; }
mkdir -p "$WORK"

install_tools() {
  local need=()
  for tool in podman runc debootstrap iptables; do command -v "$tool" >/dev/null || need+=("$tool"); done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends podman runc debootstrap iptables \
      netavark aardvark-dns uidmap fuse-overlayfs >/dev/null
  fi
  if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("podman-compose"))' 2>/dev/null)" != "$PODMAN_COMPOSE_VERSION" ]; then
    log "installing podman-compose $PODMAN_COMPOSE_VERSION"
    python3 -m pip install -q "podman-compose==$PODMAN_COMPOSE_VERSION"
  fi
  # crun fails on this kernel's cgroups, and setting RLIMIT_NPROC is refused: runc, no ulimits.
  local conf=/etc/containers/containers.conf
  if [ "$(id -u)" = 0 ] && ! grep -qs '^runtime *= *"runc"' "$conf"; then
    log "configuring podman ($conf)"
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' > "$conf"
  fi
}

# The stand-in images are tagged by what they are built from, so that a changed Dockerfile or
# entrypoint builds them anew on a machine that kept older ones.
DEPS_INPUTS=$(cat deploy/docker/local-deps.Dockerfile deploy/docker/local-postgres-entrypoint.sh | sha256sum | cut -c1-12)
deps_image() { # target
  case $1 in
    postgres) echo "localhost/ehealth-postgres:15-$DEPS_INPUTS" ;;
    redis) echo "localhost/ehealth-redis:7-$DEPS_INPUTS" ;;
    *) echo "localhost/ehealth-$1:$DEPS_INPUTS" ;;
  esac
}

base_images() {
  if ! podman image exists localhost/ehealth-base:bookworm; then
    log "base image: debootstrap bookworm (minbase, CA certificates)"
    local rootfs="$WORK/rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" >"$WORK/debootstrap.log" 2>&1
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import - localhost/ehealth-base:bookworm >/dev/null
    rm -rf "$rootfs"
  fi
  for target in postgres redis toolbox; do
    local tag
    tag=$(deps_image "$target")
    if ! podman image exists "$tag"; then
      log "image $tag"
      podman build -q --format docker -f deploy/docker/local-deps.Dockerfile --target "$target" \
        -t "$tag" . >/dev/null
    fi
  done
}

compose() { python3 -m podman_compose -p "$PROJECT" --env-file "$WORK/compose.env" "$@"; }

diagnose() { # every container's last lines, when a step failed
  local c
  for c in $(podman ps -a -q --filter "label=com.docker.compose.project=$PROJECT"); do
    echo "--- $(podman inspect --format '{{.Name}} {{.State.Status}} restarts={{.RestartCount}}' "$c")" >&2
    podman logs "$c" 2>&1 | tail -15 | cut -c1-300 >&2
  done
}

teardown() {
  [ "${status:-1}" = 0 ] || diagnose
  if [ "${KEEP:-}" = 1 ]; then log "KEEP=1: the stack stays up (python3 -m podman_compose -p $PROJECT down -v)"; return; fi
  log "teardown"
  podman rm -f -t 0 "$PROJECT-toolbox" >/dev/null 2>&1 || true
  compose down -v >/dev/null 2>&1 || true
}

container() { podman ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | head -1; }

wait_healthy() { # service: its own `healthcheck` subcommand, run inside its container, three times in a row
  local id ok=0
  for _ in $(seq 1 240); do
    id=$(container "$1")
    if [ -n "$id" ] && podman exec "$id" /usr/local/bin/service healthcheck >/dev/null 2>&1; then
      ok=$((ok + 1))
      if [ $ok -ge 3 ]; then log "$1 is ready (restarts: $(podman inspect --format '{{.RestartCount}}' "$id"))"; return 0; fi
    else
      ok=0
    fi
    sleep 0.5
  done
  log "$1 did not become ready"; podman logs "$(container "$1")" 2>&1 | tail -30 >&2 || true
  return 1
}

wait_postgres() {
  for _ in $(seq 1 120); do
    podman exec "$(container postgres)" pg_isready -q -h 127.0.0.1 -U postgres 2>/dev/null && { log "postgres is ready"; return 0; }
    sleep 0.5
  done
  log "postgres did not become ready"; podman logs "$(container postgres)" 2>&1 | tail -30 >&2; return 1
}

install_tools
base_images

log "release binaries (cargo, on the host)"
cargo build -q --release --locked -p mithril-api -p auth-token -p employee-roles -p gatekeeper

secret() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
ADMIN_TOKEN=$(secret)
cat >"$WORK/compose.env" <<ENV
IMAGE_TARGET=prebuilt
RUNTIME_IMAGE=localhost/ehealth-base:bookworm
POSTGRES_IMAGE=$(deps_image postgres)
REDIS_IMAGE=$(deps_image redis)
GATEWAY_PORT=$GATEWAY_PORT
EHEALTH_ADMIN_TOKENS=$ADMIN_TOKEN
EHEALTH_SERVICE_TOKEN=$(secret)
EHEALTH_SIGNING_KEYS=$(secret)
EHEALTH_DB_PASSWORD=$(secret)
EHEALTH_LISTENER_PASSWORD=$(secret)
ENV
chmod 600 "$WORK/compose.env"

trap teardown EXIT
podman rm -f -t 0 "$PROJECT-toolbox" >/dev/null 2>&1 || true
compose down -v >/dev/null 2>&1 || true
rm -f "$WORK/up.log"
log "building the images"
compose build >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
# Each rebuild leaves the images it replaced untagged (some 160 MB each): remove ours.
podman image prune -f --filter label=org.opencontainers.image.vendor=ehealth-authz >/dev/null
# In the order depends_on gives, each stage once the one before is ready: podman-compose does not
# wait on service_healthy with this podman, and podman 4.3 refuses the --requires it would add.
up() { compose up -d --no-deps "$@" >>"$WORK/up.log" 2>&1 || { tail -30 "$WORK/up.log" >&2; exit 1; }; }
log "starting the stack"
up postgres redis
wait_postgres
# The toolbox joins the network now, before the services, so that only the gatekeeper starts
# once they run: right after a container started, a service's new database connections were
# seen to time out here (see wait_serving below).
network=$(podman network ls --format '{{.Name}}' | grep -E "^${PROJECT}_internal$")
podman run -d --name "$PROJECT-toolbox" --network "$network" -v "$ROOT/deploy:/deploy:ro" \
  "$(deps_image toolbox)" sleep infinity >/dev/null
up mithril-api auth-token employee-roles
for service in mithril-api auth-token employee-roles; do wait_healthy "$service"; done
up gatekeeper
wait_healthy gatekeeper
# Each service serving a database read to the toolbox, three times in a row (new connections,
# each worker's pool): right after a container starts, new connections on this podman's network
# were seen to take seconds (a 503 from a service whose /ready had passed).
wait_serving() { # url
  local ok=0
  for _ in $(seq 1 120); do
    if podman exec "$PROJECT-toolbox" curl -fsS -o /dev/null --max-time 3 \
         -H "authorization: Bearer $ADMIN_TOKEN" "$1" 2>/dev/null; then
      ok=$((ok + 1)); [ $ok -ge 3 ] && return 0
    else
      ok=0
    fi
    sleep 0.5
  done
  log "$1 did not serve"; return 1
}
for url in http://mithril-api:4010/admin/client_types http://auth-token:4020/admin/tokens \
    "http://employee-roles:4030/admin/employees/00000000-0000-0000-0000-000000000000/employee_roles"; do
  wait_serving "$url"
done
log "the services serve database reads"

inside() { # runs a command in the toolbox on the internal network, with deploy/ mounted
  podman exec -e ADMIN_TOKEN="$ADMIN_TOKEN" -e DEMO_MSP_ID="${DEMO_MSP_ID:-}" "$PROJECT-toolbox" "$@"
}
log "demo data, through the admin APIs and the gateway, from inside the network"
inside bash /deploy/local/demo_data.sh http://mithril-api:4010 http://auth-token:4020 \
  http://employee-roles:4030 http://gatekeeper:4000 >"$WORK/demo.env" 2>"$WORK/demo.err" \
  || { cat "$WORK/demo.err" >&2; exit 1; }
set -a; source "$WORK/demo.env"; set +a
log "checks inside the network"
inside python3 /deploy/docker/compose_check.py inside || status=1
log "checks through the published port 127.0.0.1:$GATEWAY_PORT"
python3 deploy/docker/compose_check.py outside "127.0.0.1:$GATEWAY_PORT" || status=1
status=${status:-0}
exit $status
