#!/usr/bin/env bash
# run.sh RUN_DIR — the browser end-to-end test: a real local cluster in RUN_DIR (up.sh),
# then chat.mjs in headless Chromium against its two gateways, then down.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${1:?usage: run.sh RUN_DIR}
"$ROOT/deploy/local/e2e-deps.sh" >/dev/null
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
trap '"$ROOT/deploy/local/down.sh" "$RUN" >/dev/null 2>&1 || true' EXIT
# ports of its own, so it runs beside another local cluster: a base below the kernel's
# ephemeral range (up.sh uses base+1 .. base+301), so no client socket of anything else
# on the box can already hold one; the broker on C1 only for a short run (lib.sh)
LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
BASE=$((20000 + RANDOM % ((LOW - 20000 - 400) / 100) * 100))
CIM_KAFKA_JVM=${CIM_KAFKA_JVM:--XX:TieredStopAtLevel=1} CIM_RUN="$RUN" CIM_GATEWAY_PORTS="$PA $PB" CIM_PORT_BASE=$BASE "$ROOT/deploy/local/up.sh" | tail -n 3
node "$ROOT/tests/e2e/chat.mjs" "http://127.0.0.1:$PA" "http://127.0.0.1:$PB"
# (over TLS: CIM_TLS=1 up.sh and https:// URLs; chat.mjs accepts the self-signed
# certificate. Not in this run: large uploads can stall over the gateway's own TLS, docs/OPERATIONS.md)
