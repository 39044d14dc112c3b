#!/usr/bin/env bash
# demo-record.sh [TRANSCRIPT] — record the full walkthrough: start a cluster of its own
# (up.sh in a fresh run folder, on free ports, so it runs beside any other cluster on the
# box), run every deploy/local/demo.sh scene against it, write what it printed to
# TRANSCRIPT (default docs/demo-transcript.txt), and tear the cluster down (down.sh).
# CIM_BUILD / CIM_SKIP_BUILD pass through to up.sh (run binaries already built).
# Ids, timestamps and latencies differ from run to run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-$ROOT/docs/demo-transcript.txt}
RUN=$(mktemp -d /tmp/cim-demo-XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
# gRPC/admin ports below the kernel's ephemeral range, as tests/e2e/run.sh picks them
LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
BASE=$((20000 + RANDOM % ((LOW - 20000 - 400) / 100) * 100))
trap '"$ROOT/deploy/local/down.sh" "$RUN" >/dev/null 2>&1 || true; rm -rf "$RUN"' EXIT
CIM_KAFKA_JVM=${CIM_KAFKA_JVM:--XX:TieredStopAtLevel=1} CIM_RUN="$RUN" CIM_GATEWAY_PORTS="$PA $PB" \
  CIM_PORT_BASE=$BASE "$ROOT/deploy/local/up.sh" | tail -n 3
set +e
{
  echo "# cim walkthrough transcript: deploy/local/demo.sh, every scene, recorded by deploy/local/demo-record.sh"
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), a fresh up.sh cluster"
  echo "# (2 gateways, 2 im-logic, 1 im-repo, 1 im-task) on this 2-core box; ids, times and latencies vary."
  "$ROOT/deploy/local/demo.sh" --run "$RUN"
} 2>&1 | sed -e "s#$RUN#RUN#g" | tee "$OUT"
rc=${PIPESTATUS[0]}
set -e
echo "demo-record: transcript in $OUT"
exit "$rc"
