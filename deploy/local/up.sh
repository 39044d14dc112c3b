#!/usr/bin/env bash
# up.sh — the whole cim system on this machine, in the background, on loopback:
# MariaDB, Redis, etcd, Kafka (KRaft) and 1 im-repo, 2 im-logic, 2 im-gateway, 1 im-task
# (CIM_GATEWAY_PORTS="8080 8081 8082" for three gateways, and so on).
# Installs what is missing (deps.sh), fetches the Kafka jars (Maven), builds, creates
# the schema, waits until every part is healthy, prints the web client's addresses.
# Everything lives under ./run (or $CIM_RUN); running it again starts only what is not
# running. Stop with deploy/local/down.sh. CIM_TRACING=1 also starts a Zipkin server and
# traces every message (CIM_TRACE_ONE_IN=N: one in N); CIM_TLS=1 serves HTTPS/WSS with a
# self-signed certificate (your browser will ask you to accept it).
# CIM_METRICS=1 also starts Prometheus (Debian's package, installed if missing) scraping
# every daemon registered in etcd, on CIM_PROMETHEUS_PORT (9090).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${CIM_RUN:-$ROOT/run}
BUILD=${CIM_BUILD:-$ROOT/build}
mkdir -p "$RUN/logs" "$RUN/pids"

"$ROOT/deploy/local/deps.sh"
if [ -z "${CIM_SKIP_BUILD:-}" ]; then   # set it to run binaries already in $CIM_BUILD (benchmarks)
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null 2>&1 ||
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
  echo "up: built in $BUILD"
fi

"$ROOT/deploy/local/infra.sh" "$RUN"
# shellcheck disable=SC1091
source "$RUN/ports.env"

[ -s "$RUN/jwt_secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$RUN/jwt_secret"
export CIM_JWT_SECRET=$(cat "$RUN/jwt_secret")
export CIM_ETCD_ENDPOINTS="http://127.0.0.1:$CIM_ETCD_PORT"
export CIM_KAFKA_BROKERS="127.0.0.1:$CIM_KAFKA_PORT"
export CIM_WEB_ROOT="$ROOT/web"
export CIM_FILES_DIR="$RUN/files"   # uploads, shared by the gateways
# Every client of a local cluster logs in from 127.0.0.1, the browser as much as im-bench
# registering thousands of users: the per-address login limit of a public gateway (30 a
# minute) would refuse them. Per-username limits stay as configured.
export CIM_LOGIN_ADDR_PER_MIN=${CIM_LOGIN_ADDR_PER_MIN:-1000000}
export CIM_CONN_ADDR_PER_MIN=${CIM_CONN_ADDR_PER_MIN:-1000000}   # and im-bench's thousands of connections
if [ -n "${CIM_TRACING:-}" ]; then   # every message's spans to a local Zipkin (docs/OBSERVABILITY.md)
  ZIPKIN_PORT=${CIM_ZIPKIN_PORT:-9411}
  (source "$ROOT/deploy/local/lib.sh"; start_zipkin "$ZIPKIN_PORT")
  export CIM_TRACING_URL="http://127.0.0.1:$ZIPKIN_PORT"
  export CIM_TRACE_ONE_IN=${CIM_TRACE_ONE_IN:-1}
fi
SCHEME=http
if [ -n "${CIM_TLS:-}" ]; then   # HTTPS/WSS with a self-signed certificate for localhost, made once
  if [ ! -s "$RUN/tls/cert.pem" ]; then
    mkdir -p "$RUN/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" 2>/dev/null
  fi
  export CIM_TLS_CERT="$RUN/tls/cert.pem" CIM_TLS_KEY="$RUN/tls/key.pem"
  SCHEME=https
fi
GW_PORTS=(${CIM_GATEWAY_PORTS:-8080 8081})
B=${CIM_PORT_BASE:-9100}   # gRPC and admin ports: B+1, B+11, ... (gateways), B+100.. (logic), B+200.. (repo), B+301 (task)

alive() { [ -f "$RUN/pids/$1.pid" ] && kill -0 "$(cat "$RUN/pids/$1.pid")" 2>/dev/null; }

# start NAME SERVICE [VAR=value ...]: one daemon with its config file plus overrides.
start() {
  local name=$1 service=$2; shift 2
  if alive "$name"; then echo "up: $name already running"; return; fi
  env CIM_INSTANCE_ID="$name" "$@" "$BUILD/$service/$service" -c "$ROOT/deploy/config/$service.conf" \
    >>"$RUN/logs/$name.log" 2>&1 &
  echo $! > "$RUN/pids/$name.pid"
}

# healthy NAME: registered in etcd and its admin port answers /healthz.
healthy() {
  local key reg admin
  key=$(printf '/im/services/%s/%s' "$2" "$1" | base64 -w0)
  reg=$(curl -sf "http://127.0.0.1:$CIM_ETCD_PORT/v3/kv/range" -d "{\"key\":\"$key\"}" |
        sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null) || return 1
  admin=$(printf '%s' "$reg" | sed -n 's/.*"admin":"\([^"]*\)".*/\1/p')
  [ -n "$admin" ] && curl -sf "http://$admin/healthz" >/dev/null
}

start repo-1 im-repo CIM_GRPC_PORT=$((B + 200)) CIM_ADMIN_PORT=$((B + 201)) CIM_MYSQL_PORT="$CIM_MYSQL_PORT" CIM_REDIS_PORT="$CIM_REDIS_PORT"
start logic-1 im-logic CIM_GRPC_PORT=$((B + 100)) CIM_ADMIN_PORT=$((B + 101)) CIM_REDIS_PORT="$CIM_REDIS_PORT"
start logic-2 im-logic CIM_GRPC_PORT=$((B + 110)) CIM_ADMIN_PORT=$((B + 111)) CIM_REDIS_PORT="$CIM_REDIS_PORT"
DAEMONS="repo-1:im-repo logic-1:im-logic logic-2:im-logic task-1:im-task"
for i in "${!GW_PORTS[@]}"; do   # one gateway per port in CIM_GATEWAY_PORTS
  start "gw-$((i + 1))" im-gateway CIM_PORT="${GW_PORTS[$i]}" CIM_ADMIN_PORT=$((B + 1 + 10 * i)) CIM_REDIS_PORT="$CIM_REDIS_PORT"
  DAEMONS="$DAEMONS gw-$((i + 1)):im-gateway"
done
start task-1 im-task CIM_ADMIN_PORT=$((B + 301))

for pair in $DAEMONS; do
  name=${pair%%:*} service=${pair#*:}
  for _ in $(seq 1 300); do
    healthy "$name" "$service" && break
    if ! alive "$name"; then echo "up: $name exited; log tail:" >&2; tail -n 20 "$RUN/logs/$name.log" >&2; exit 1; fi
    sleep 0.2
  done
  healthy "$name" "$service" || { echo "up: $name not healthy; see $RUN/logs/$name.log" >&2; exit 1; }
done
for p in "${GW_PORTS[@]}"; do
  for _ in $(seq 1 100); do curl -ksf "$SCHEME://127.0.0.1:$p/api/ping" >/dev/null && break; sleep 0.2; done
done

echo "up: cim is running (logs in $RUN/logs, stop with deploy/local/down.sh)"
for p in "${GW_PORTS[@]}"; do echo "$SCHEME://127.0.0.1:$p"; done
if [ -n "${CIM_TRACING:-}" ]; then echo "tracing: http://127.0.0.1:$ZIPKIN_PORT"; fi
if [ -n "${CIM_METRICS:-}" ]; then   # Prometheus scraping every daemon in etcd (docs/OBSERVABILITY.md)
  PROMETHEUS_PORT=${CIM_PROMETHEUS_PORT:-9090}
  (source "$ROOT/deploy/local/lib.sh"; source "$ROOT/deploy/observability/prometheus.sh"
   start_prometheus "$PROMETHEUS_PORT" "$CIM_ETCD_PORT")
  echo "metrics: http://127.0.0.1:$PROMETHEUS_PORT"
fi
