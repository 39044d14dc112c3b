#!/bin/bash
# docker-entrypoint.sh [mariadbd] [ARGS...] — what the public mariadb image's entrypoint
# does, for the Debian-built stand-in: on first start (no /var/lib/mysql/mysql) install
# the system tables, set the root password (MARIADB_ROOT_PASSWORD, or
# MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MARIADB_RANDOM_ROOT_PASSWORD), create
# MARIADB_DATABASE and MARIADB_USER / MARIADB_PASSWORD (MYSQL_* accepted too, *_FILE reads
# a value from a file), run /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz,sql.xz,sql.zst}
# in order on a server without networking; then run mariadbd as the mysql user.
set -euo pipefail
case ${1:-} in -*) set -- mariadbd "$@" ;; esac
case $1 in
  mariadbd|mysqld) ;;
  *) exec "$@" ;;
esac
if [ "$(id -u)" = 0 ]; then
  chown -R mysql:mysql /var/lib/mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

log() { echo "entrypoint: $*" >&2; }

# env_of NAME: $MARIADB_NAME, $MYSQL_NAME, or the content of the file either *_FILE names.
env_of() {
  local v
  for v in "MARIADB_$1" "MYSQL_$1"; do
    if [ -n "${!v:-}" ]; then printf '%s' "${!v}"; return; fi
    local f="${v}_FILE"
    if [ -n "${!f:-}" ]; then cat "${!f}"; return; fi
  done
}
sql_str() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }   # a quoted SQL string
# shellcheck disable=SC2016  # the backticks are SQL's
sql_id() { printf '`%s`' "${1//\`/\`\`}"; }                           # a quoted identifier

DATADIR=/var/lib/mysql SOCKET=/run/mysqld/mysqld.sock
if [ ! -d "$DATADIR/mysql" ]; then
  root_pw=$(env_of ROOT_PASSWORD)
  if [ -z "$root_pw" ] && [ -n "$(env_of RANDOM_ROOT_PASSWORD)" ]; then
    root_pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    echo "GENERATED ROOT PASSWORD: $root_pw"
  fi
  if [ -z "$root_pw" ] && [ -z "$(env_of ALLOW_EMPTY_ROOT_PASSWORD)" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
    log "database is uninitialized and no root password option is set:"
    log "set MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD"
    exit 1
  fi
  log "initializing $DATADIR"
  mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve >/dev/null
  "$@" --skip-networking --socket="$SOCKET" &
  pid=$!
  for _ in $(seq 1 300); do
    mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { log "temporary server exited"; exit 1; }
    sleep 0.2
  done
  client=(mariadb --protocol=socket --socket="$SOCKET" -uroot)
  db=$(env_of DATABASE) user=$(env_of USER) pw=$(env_of PASSWORD)
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DELETE FROM mysql.user WHERE user='' ;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$root_pw");"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_str "$root_pw");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$db" ]; then echo "CREATE DATABASE IF NOT EXISTS $(sql_id "$db");"; fi
    if [ -n "$user" ] && [ -n "$pw" ]; then
      echo "CREATE USER $(sql_str "$user")@'%' IDENTIFIED BY $(sql_str "$pw");"
      if [ -n "$db" ]; then echo "GRANT ALL ON $(sql_id "$db").* TO $(sql_str "$user")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | "${client[@]}"
  if [ -n "$root_pw" ]; then client+=(-p"$root_pw"); fi
  if [ -n "$db" ]; then client+=("$db"); fi
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090  # an init script is the user's, sourced as the public image does
    case $f in
      *.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; "${client[@]}" < "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ;;
      *.sql.xz) log "running $f"; xzcat "$f" | "${client[@]}" ;;
      *.sql.zst) log "running $f"; zstd -dc "$f" | "${client[@]}" ;;
      *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
    esac
  done
  mariadb-admin --socket="$SOCKET" -uroot ${root_pw:+-p"$root_pw"} shutdown
  wait "$pid" || true
  log "initialized"
fi
exec "$@"
