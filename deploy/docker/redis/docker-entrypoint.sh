#!/bin/bash
# docker-entrypoint.sh [redis-server] [CONF] [ARGS...] — the public redis image's entrypoint,
# for the Debian-built stand-in: run redis-server as the redis user in /data with
# protected mode off by default (the public image builds it so; Debian's binary has it
# on, which refuses every client from another container).
set -euo pipefail
case ${1:-} in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "${1:-}" = redis-server ]; then
  shift
  if [ "${1:-}" != "${1%.conf}" ]; then conf=$1; shift; set -- redis-server "$conf" --protected-mode no "$@"
  else set -- redis-server --protected-mode no "$@"; fi
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
