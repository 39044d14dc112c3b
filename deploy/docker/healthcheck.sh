#!/bin/sh
# cim-healthcheck: exit 0 when the daemon of this container (pid 1) answers GET /healthz
# on its admin port: CIM_ADMIN_PORT, else admin_port of /etc/cim/<daemon>.conf.
set -eu
port=${CIM_ADMIN_PORT:-}
if [ -z "$port" ]; then
  daemon=$(tr '\0' '\n' < /proc/1/cmdline | head -n 1)
  daemon=${daemon##*/}
  port=$(sed -n 's/^admin_port *= *\([0-9][0-9]*\).*/\1/p' "/etc/cim/$daemon.conf")
fi
exec curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:${port:?no admin port}/healthz"
