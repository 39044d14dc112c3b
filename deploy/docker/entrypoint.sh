#!/bin/sh
# cim-entrypoint DAEMON [ARGS...]: run one cim daemon (im-gateway, im-logic, im-repo,
# im-task) with its config file /etc/cim/DAEMON.conf; every key can be overridden as
# CIM_<KEY> in the environment. The address other processes reach it at
# (advertise_host) defaults to this container's IP. Any other command runs as given.
set -eu
daemon=${1:?usage: cim-entrypoint im-gateway|im-logic|im-repo|im-task [args]}
case $daemon in
  im-gateway|im-logic|im-repo|im-task) shift ;;
  *) exec "$@" ;;
esac
if [ -z "${CIM_ADVERTISE_HOST:-}" ]; then
  CIM_ADVERTISE_HOST=$(hostname -i | cut -d' ' -f1)
  export CIM_ADVERTISE_HOST
fi
exec "$daemon" -c "/etc/cim/$daemon.conf" "$@"
