#!/bin/sh
# kafka-broker-api-versions.sh --bootstrap-server HOST:PORT — at the path the public image
# has it, so the compose file's healthcheck works with either image; here it asks the
# broker for its metadata with kcat instead of starting a JVM (about a second of CPU per
# healthcheck), and exits non-zero when the broker does not answer within 5 s.
set -eu
server=localhost:9092
while [ $# -gt 0 ]; do
  case $1 in
    --bootstrap-server) server=$2; shift 2 ;;
    --bootstrap-server=*) server=${1#*=}; shift ;;
    *) shift ;;
  esac
done
exec kcat -b "$server" -L -m 5
