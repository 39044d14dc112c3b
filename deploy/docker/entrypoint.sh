#!/bin/sh
# cim-entrypoint DAEMON: run one daemon with its config file; the address other
# processes reach it at defaults to this container's IP.
set -e
daemon=${1:?usage: cim-entrypoint im-gateway|im-logic|im-repo|im-task}
: "${CIM_ADVERTISE_HOST:=$(hostname -i | cut -d' ' -f1)}"
export CIM_ADVERTISE_HOST
exec "$daemon" -c "/etc/cim/$daemon.conf"
