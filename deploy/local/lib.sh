# lib.sh — sourced: start and stop cim's infrastructure on loopback, all state under $RUN.
# Each server runs in the background with its pid in $RUN/pids/NAME.pid and its log in
# $RUN/logs/NAME.log; each start_* waits until the server answers, and does nothing if
# that server is already running. stop_all stops exactly those pids.
LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_LIB=${CIM_KAFKA_LIB:-$LIB_ROOT/deploy/kafka/lib}
ZIPKIN_LIB=${CIM_ZIPKIN_LIB:-$LIB_ROOT/deploy/zipkin/lib}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# running NAME: true if NAME's pid file names a live process.
running() { [ -f "$RUN/pids/$1.pid" ] && kill -0 "$(cat "$RUN/pids/$1.pid")" 2>/dev/null; }

# wait_until NAME SECONDS CMD...: poll CMD until it succeeds; on timeout show NAME's log.
wait_until() {
  local name=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ] || ! running "$name"; then
      echo "infra: $name did not come up; log tail:" >&2
      tail -n 30 "$RUN/logs/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# spawn NAME CMD...: run CMD in the background as NAME.
spawn() {
  local name=$1; shift
  mkdir -p "$RUN/pids" "$RUN/logs"
  setsid "$@" >>"$RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/pids/$name.pid"
}

# kafka_jars: fetch the broker's jars through deploy/kafka/pom.xml once.
kafka_jars() {
  if ! ls "$KAFKA_LIB"/kafka_2.13-*.jar >/dev/null 2>&1; then
    echo "infra: fetching Kafka jars with Maven"
    mvn -q -B -f "$LIB_ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIB"
  fi
}

# start_mariadb PORT: MariaDB with database cim, user cim/cim over TCP.
start_mariadb() {
  local port=$1 data=$RUN/mariadb
  running mariadb && return 0
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"
    mariadb-install-db --no-defaults --user=root --datadir="$data" --auth-root-authentication-method=normal \
      --skip-test-db >"$RUN/logs/mariadb-install.log" 2>&1
  fi
  spawn mariadb mariadbd --no-defaults --user=root --datadir="$data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$RUN/mariadb.sock" --skip-name-resolve \
    --pid-file="$RUN/mariadb.pidfile" --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
    --max-connections=500 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
  wait_until mariadb 60 mariadb-admin --no-defaults --socket="$RUN/mariadb.sock" -uroot ping
  mariadb --no-defaults --socket="$RUN/mariadb.sock" -uroot -e \
    "CREATE DATABASE IF NOT EXISTS cim CHARACTER SET utf8mb4;
     CREATE USER IF NOT EXISTS 'cim'@'127.0.0.1' IDENTIFIED BY 'cim';
     CREATE USER IF NOT EXISTS 'cim'@'localhost' IDENTIFIED BY 'cim';
     GRANT ALL ON cim.* TO 'cim'@'127.0.0.1'; GRANT ALL ON cim.* TO 'cim'@'localhost';"
}

# apply_schema: create cim's tables (idempotent).
apply_schema() {
  mariadb --no-defaults --socket="$RUN/mariadb.sock" -uroot cim < "$LIB_ROOT/deploy/schema.sql"
}

# start_redis PORT: Redis without persistence.
start_redis() {
  local port=$1
  running redis && return 0
  mkdir -p "$RUN/redis"
  spawn redis redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$RUN/redis" --daemonize no --maxclients 10000
  wait_until redis 30 redis-cli -p "$port" ping
}

# start_etcd PORT: a single etcd member.
start_etcd() {
  local port=$1 peer
  running etcd && return 0
  peer=$(free_port)
  spawn etcd etcd --name default --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "default=http://127.0.0.1:$peer"
  wait_until etcd 30 curl -sf "http://127.0.0.1:$port/health"
}

# start_kafka PORT: one KRaft node (broker + controller), small heap, one network and one
# request-handler thread: every request crosses a thread handoff each way, and on two
# cores more threads only add wakeups (13 % less broker CPU at 1,000 msg/s than Kafka's
# 3 + 8, docs/BENCHMARKS.md).
start_kafka() {
  local port=$1 dir=$RUN/kafka ctrl
  running kafka && return 0
  kafka_jars
  mkdir -p "$dir"
  if [ ! -f "$dir/server.properties" ]; then
    ctrl=$(free_port)
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
num.network.threads=${CIM_KAFKA_NET_THREADS:-1}
num.io.threads=${CIM_KAFKA_IO_THREADS:-1}
PROPS
    local tool=(java -Dlog4j.configuration="file:$LIB_ROOT/deploy/kafka/log4j.properties" -Dkafka.logs.dir="$dir" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool)
    "${tool[@]}" format -t "$("${tool[@]}" random-uuid)" \
      -c "$dir/server.properties" >"$RUN/logs/kafka-format.log" 2>&1
  fi
  # The JIT: the default tiers (C2) for a cluster that runs for a while. Once warm (a minute
  # or two of load) the broker takes half the CPU per request it takes on C1 alone, and the
  # p50 at 1,000 msg/s is 13-18 ms instead of 80-100 ms (docs/BENCHMARKS.md); while C2
  # compiles, its threads take most of a core. Short runs (the test suites) pass
  # CIM_KAFKA_JVM=-XX:TieredStopAtLevel=1, C1 only, which is at full speed at once.
  # shellcheck disable=SC2086
  spawn kafka java -Xms256m -Xmx512m -XX:+UseSerialGC ${CIM_KAFKA_JVM:-} -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$LIB_ROOT/deploy/kafka/log4j.properties" -Dkafka.logs.dir="$dir" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties"
  wait_until kafka 90 kcat -b "127.0.0.1:$port" -L -m 2
}

# zipkin_jar: fetch the Zipkin server's jar through deploy/zipkin/pom.xml once.
zipkin_jar() {
  if ! ls "$ZIPKIN_LIB"/zipkin-server-*-exec.jar >/dev/null 2>&1; then
    echo "infra: fetching the Zipkin server with Maven"
    mvn -q -B -f "$LIB_ROOT/deploy/zipkin/pom.xml" dependency:copy-dependencies -DoutputDirectory="$ZIPKIN_LIB"
  fi
}

# start_zipkin PORT: a Zipkin server (spans kept in memory) for the daemons' traces; its jar
# is fetched through deploy/zipkin/pom.xml once. C1 only and a small heap: it starts in
# ~20 s and is not on the message path.
start_zipkin() {
  local port=$1 jar
  running zipkin && return 0
  zipkin_jar
  jar=$(ls "$ZIPKIN_LIB"/zipkin-server-*-exec.jar | head -n 1)
  spawn zipkin java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar "$jar" \
    --server.port="$port" --logging.level.root=WARN
  wait_until zipkin 120 curl -sf "http://127.0.0.1:$port/health"
}

# stop_all: TERM every pid of this run folder, KILL what is left after 15 s.
stop_all() {
  local f pid
  for f in "$RUN"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 75); do
    local left=0
    for f in "$RUN"/pids/*.pid; do
      [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && left=1
    done
    [ $left -eq 0 ] && break
    sleep 0.2
  done
  for f in "$RUN"/pids/*.pid; do
    [ -e "$f" ] || continue
    kill -KILL "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}
