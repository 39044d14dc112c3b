#!/usr/bin/env bash
# down.sh [RUN_DIR] — stop exactly what up.sh / infra.sh started in RUN_DIR (default ./run),
# by pid: daemons first (they deregister and flush), then the servers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${1:-${CIM_RUN:-$ROOT/run}}
[ -d "$RUN/pids" ] || { echo "down: nothing running in $RUN"; exit 0; }
RUN=$(cd "$RUN" && pwd)
# shellcheck source=lib.sh
source "$ROOT/deploy/local/lib.sh"
# daemons first, so they can still reach Kafka, Redis and etcd while they stop
mkdir -p "$RUN/pids/.servers"
for s in mariadb redis etcd kafka; do
  [ -f "$RUN/pids/$s.pid" ] && mv "$RUN/pids/$s.pid" "$RUN/pids/.servers/"
done
stop_all
mv "$RUN/pids/.servers/"*.pid "$RUN/pids/" 2>/dev/null || true
rmdir "$RUN/pids/.servers"
stop_all
echo "down: stopped everything in $RUN"
