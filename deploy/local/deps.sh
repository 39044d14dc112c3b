#!/usr/bin/env bash
# deps.sh — install what cim needs to build, run and test on Debian (bookworm).
# Idempotent: packages already present are skipped; the Kafka jars come through
# deploy/kafka/pom.xml into deploy/kafka/lib (see kafka.sh).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git curl ca-certificates procps lsof
  libwebsockets-dev libuv1-dev libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  librdkafka-dev libhiredis-dev default-libmysqlclient-dev libcurl4-openssl-dev
  libjansson-dev libjwt-dev libsodium-dev libssl-dev libvips-dev libmagic-dev
  mariadb-server mariadb-client redis-server redis-tools etcd-server etcd-client
  openjdk-17-jre-headless maven kcat
  python3 python3-grpcio python3-grpc-tools python3-pytest python3-websocket
  python3-h2 python3-jwt python3-cryptography
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; cim runs its own instances on other ports.
for s in mariadb redis-server etcd; do
  systemctl is-active "$s" >/dev/null 2>&1 && systemctl stop "$s" >/dev/null 2>&1 || true
done
echo "deps: ok"
