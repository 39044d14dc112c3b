#!/usr/bin/env bash
# infra.sh RUN_DIR — MariaDB (with cim's schema), Redis, etcd and Kafka on loopback, state
# under RUN_DIR. Ports are picked once and kept in RUN_DIR/ports.env (CIM_MYSQL_PORT,
# CIM_REDIS_PORT, CIM_ETCD_PORT, CIM_KAFKA_PORT); running it again starts only what is
# not running. Stop with deploy/local/down.sh RUN_DIR.
set -euo pipefail
RUN=$(mkdir -p "${1:?usage: infra.sh RUN_DIR}" && cd "$1" && pwd)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$RUN/pids" "$RUN/logs"

if [ ! -f "$RUN/ports.env" ]; then
  {
    echo "CIM_MYSQL_PORT=${CIM_MYSQL_PORT:-$(free_port)}"
    echo "CIM_REDIS_PORT=${CIM_REDIS_PORT:-$(free_port)}"
    echo "CIM_ETCD_PORT=${CIM_ETCD_PORT:-$(free_port)}"
    echo "CIM_KAFKA_PORT=${CIM_KAFKA_PORT:-$(free_port)}"
  } > "$RUN/ports.env"
fi
set -a
# shellcheck disable=SC1091
source "$RUN/ports.env"
set +a

t0=$SECONDS
start_mariadb "$CIM_MYSQL_PORT"; apply_schema
start_redis "$CIM_REDIS_PORT"
start_etcd "$CIM_ETCD_PORT"
start_kafka "$CIM_KAFKA_PORT"
echo "infra: up in $((SECONDS - t0)) s: mysql=$CIM_MYSQL_PORT redis=$CIM_REDIS_PORT etcd=$CIM_ETCD_PORT kafka=$CIM_KAFKA_PORT (run $RUN)"
