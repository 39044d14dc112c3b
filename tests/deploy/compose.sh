#!/usr/bin/env bash
# compose.sh — the compose stage of tests/run.sh: build cim's images on this machine with
# no image registry (a debootstrap'd `debian:bookworm`, the cim image, the infra images of
# deploy/docker-compose.local.yml), bring deploy/docker-compose.yml up (HAProxy, 2
# gateways, 2 logic, repo, task, MariaDB, Redis, etcd, Kafka), run tests/deploy/e2e.py
# from a container on the compose network through the balancer (two users on two
# gateways, a group message; one gateway killed, the client reconnects through the
# balancer and catches up by sync), start the killed gateway again and see it come back
# under the same instance id, see Prometheus scrape all four cim services, then `down -v`.
# Installs docker.io and docker-compose if missing; starts dockerd when no engine answers
# and stops it on exit. Exits 77 after one "compose: SKIP: why" line when no Docker engine
# can be had here. CIM_COMPOSE picks the compose command ("docker compose" for v2). Every
# container's log is kept in tests/out/deploy-compose-services.log.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=$(mktemp -d /tmp/cim-compose-XXXXXX)
PROJECT=${CIM_COMPOSE_PROJECT:-cimtest}
T0=$SECONDS
say() { echo "compose: $*"; }
skip() { say "SKIP: $*"; exit 77; }
step() { say "[$((SECONDS - T0)) s] $*"; }
DOCKERD_PID=
UP=0
cleanup() {
  local rc=$?
  if [ "$UP" = 1 ]; then
    docker rm -f "$PROJECT-e2e" >/dev/null 2>&1 || true
    mkdir -p "$ROOT/tests/out"
    compose logs --no-color > "$ROOT/tests/out/deploy-compose-services.log" 2>&1 || true
    say "every container's log: tests/out/deploy-compose-services.log ($(grep -cE 'level=(warn|error)' \
      "$ROOT/tests/out/deploy-compose-services.log" || true) cim lines at level warn or error)"
    if [ $rc -ne 0 ]; then
      say "logs of the cim services (tail):"
      compose logs --no-color --tail=20 im-gateway im-logic im-repo im-task lb 2>&1 | tail -n 120 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    say "down -v done"
  fi
  if [ -n "$DOCKERD_PID" ]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    say "stopped the dockerd started here (pid $DOCKERD_PID)"
  fi
  rm -rf "$RUN"
  exit $rc
}
trap cleanup EXIT

# ---- tools: a Docker client and engine, a compose, the Kafka jars' Maven ----
need=()
if ! command -v docker >/dev/null 2>&1 || { ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; }; then
  need+=(docker.io)
fi
if [ -z "${CIM_COMPOSE:-}" ] && ! command -v docker-compose >/dev/null 2>&1 &&
   ! docker compose version >/dev/null 2>&1; then need+=(docker-compose); fi
if ! ls "$ROOT"/deploy/kafka/lib/kafka_2.13-*.jar >/dev/null 2>&1 && ! command -v mvn >/dev/null 2>&1; then
  need+=(maven)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || skip "not root, and ${need[*]} missing"
  say "installing ${need[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; }
  } >"$RUN/apt.log" 2>&1 || skip "apt-get install ${need[*]} failed: $(tail -n 1 "$RUN/apt.log")"
fi
# Debian's client (20.10) builds with BuildKit by itself; a newer client (23+, such as one
# in /usr/local/bin) needs the buildx plugin for that. Prefer Debian's when it is there.
if [ -x /usr/bin/docker ]; then export PATH="/usr/bin:$PATH"; fi
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
if [ -n "${CIM_COMPOSE:-}" ]; then read -r -a COMPOSE <<< "$CIM_COMPOSE"
elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=(docker-compose)
else COMPOSE=(docker compose); fi

# ---- the engine: the one that answers, or one started here and stopped on exit ----
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "no Docker engine answers and only root may start one"
  command -v dockerd >/dev/null 2>&1 || skip "no dockerd to start"
  setsid dockerd >"$RUN/dockerd.log" 2>&1 < /dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 300); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 5 "$RUN/dockerd.log" | sed 's/^/  dockerd: /'
    skip "dockerd could not be started here"
  fi
  step "started dockerd (pid $DOCKERD_PID, $(docker version -f '{{.Server.Version}}'))"
else
  step "using the running Docker engine ($(docker version -f '{{.Server.Version}}'))"
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$ROOT/deploy/docker-compose.yml" -f "$ROOT/deploy/docker-compose.local.yml" "$@"; }
step "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo '?'))"

# the compose file requires a JWT secret (every compose command reads it), of 32+ bytes
export CIM_JWT_SECRET
CIM_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# ---- images ----
"$ROOT/deploy/docker/base-image.sh"
# shellcheck source=deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"
export MAVEN_OPTS="${MAVEN_OPTS:-} -Dstyle.color=never"   # no colour codes in the log
kafka_jars
zipkin_jar
compose build --parallel > "$RUN/build.log" 2>&1 || { tail -n 40 "$RUN/build.log"; exit 1; }
docker build -q -f "$ROOT/tests/deploy/client.Dockerfile" -t cim-local/testclient:latest "$ROOT/tests" >/dev/null
step "images built: $(compose config --services 2>/dev/null | wc -l) services, cim $(docker image inspect -f '{{.Size}}' cim:latest | awk '{printf "%d MB", $1/1e6}')"

# ---- up ----
compose down -v --remove-orphans >/dev/null 2>&1 || true   # what a killed earlier run left
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PROM_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CIM_HTTP_PORT="127.0.0.1:$PORT" CIM_PROMETHEUS_PORT="127.0.0.1:$PROM_PORT"
UP=1
compose up -d > "$RUN/up.log" 2>&1 || { cat "$RUN/up.log"; exit 1; }

# healthy: every container of the project that has a healthcheck reports healthy.
healthy() {
  local ids states
  ids=$(compose ps -q)
  [ -n "$ids" ] || return 1
  # shellcheck disable=SC2086
  states=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' $ids)
  ! grep -qv -e ' running healthy$' -e ' running -$' <<< "$states"
}
for _ in $(seq 1 600); do healthy && break; sleep 0.5; done
healthy || { say "not healthy after 300 s:"; compose ps; exit 1; }
step "stack up and healthy:"
compose ps
ping=
for _ in $(seq 1 150); do   # the balancer resolves and health-checks the gateways itself
  ping=$(curl -sf "http://127.0.0.1:$PORT/api/ping") && break
  sleep 0.2
done
[ -n "$ping" ] || { say "the balancer's host port does not answer /api/ping"; exit 1; }
say "from the host through the balancer (127.0.0.1:$PORT): /api/ping -> $ping"

# ---- the end-to-end check, from a container on the compose network ----
NET="${PROJECT}_default"
coproc E2E { docker run -i --rm --name "$PROJECT-e2e" --network "$NET" -e CIM_LB=http://lb:8080 cim-local/testclient:latest 2>&1; }
# shellcheck disable=SC2153  # E2E_PID is set by coproc; bash unsets it once the coprocess ends
E2E_IN=${E2E[1]} e2e_pid=$E2E_PID
VICTIM=
while true; do
  st=0
  IFS= read -r -t 300 line <&"${E2E[0]}" || st=$?
  # > 128: the timeout; any other failure: end of output (the container may still be
  # exiting, so its pid is no sign of a hang)
  if [ "$st" -gt 128 ]; then say "e2e printed nothing for 300 s"; exit 1; fi
  [ "$st" -eq 0 ] || break
  echo "  $line"
  case $line in
    "ACTION kill im-gateway-"*)
      id=${line#ACTION kill im-gateway-}; host=${id%-*}   # instance id: im-gateway-{hostname}-{pid}
      [[ $host =~ ^[0-9a-f]{12}$ ]] || { say "unexpected gateway id ${id@Q}"; exit 1; }
      labels=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}/{{index .Config.Labels "com.docker.compose.service"}}' "$host")
      [ "$labels" = "$PROJECT/im-gateway" ] || { say "container $host is not a gateway of $PROJECT"; exit 1; }
      VICTIM=$(docker inspect -f '{{.Name}}' "$host"); VICTIM=${VICTIM#/}
      docker kill "$host" >/dev/null
      say "killed gateway container $VICTIM (SIGKILL)"
      echo "done" >&"$E2E_IN"
      ;;
  esac
done
wait "$e2e_pid" || { say "e2e failed"; exit 1; }
grep -q . <<< "$VICTIM" || { say "e2e never asked for a gateway to be killed"; exit 1; }

# ---- the killed gateway comes back under the same instance id (same downstream topic) ----
docker start "$VICTIM" >/dev/null
for _ in $(seq 1 240); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$VICTIM")" = healthy ] && break; sleep 0.5
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$VICTIM")" = healthy ] || { say "$VICTIM did not come back"; exit 1; }
keys=$(compose exec -T etcd etcdctl get --prefix --keys-only /im/services/im-gateway/ | grep . || true)
again=$(grep "/im-gateway-${host}-" <<< "$keys") || { say "$VICTIM did not re-register as im-gateway-${host}-*"; exit 1; }
step "$VICTIM restarted: healthy, registered again as ${again##*/} ($(grep -c . <<< "$keys") gateways in etcd)"

# ---- Prometheus scrapes every cim service (DNS discovery; one query, retried briefly) ----
q='count(count by (service) (up{service=~"im-.+"} == 1))'
n=
for _ in $(seq 1 60); do
  n=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$q" |
      /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)') || n=
  [ "$n" = 4 ] && break
  sleep 1
done
[ "$n" = 4 ] || { say "Prometheus sees ${n:-no} cim services up, want 4"; exit 1; }
say "Prometheus (127.0.0.1:$PROM_PORT): all 4 cim services scraped and up"

# ---- a third gateway joins behind the balancer with no change to it ----
compose up -d --no-recreate --scale im-gateway=3 im-gateway > "$RUN/scale.log" 2>&1 || { cat "$RUN/scale.log"; exit 1; }
for _ in $(seq 1 240); do healthy && break; sleep 0.5; done
healthy || { say "not healthy after --scale im-gateway=3:"; compose ps; exit 1; }
seen=
for _ in $(seq 1 300); do
  gw=$(curl -sf "http://127.0.0.1:$PORT/api/ping" | sed -n 's/.*"gateway":"\([^"]*\)".*/\1/p') || true
  [ -n "$gw" ] && [[ " $seen " != *" $gw "* ]] && seen="$seen $gw"
  [ "$(wc -w <<< "$seen")" -ge 3 ] && break
  sleep 0.2
done
[ "$(wc -w <<< "$seen")" -ge 3 ] || { say "the balancer reached only:$seen"; exit 1; }
step "--scale im-gateway=3: the balancer reaches 3 gateways:$seen"
say "PASS in $((SECONDS - T0)) s"
