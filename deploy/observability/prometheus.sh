# prometheus.sh — sourced after deploy/local/lib.sh (it uses spawn, running, wait_until and
# $RUN): Prometheus for a local cluster, scraping every daemon registered in etcd.
#   start_prometheus PORT ETCD_PORT
# Installs Debian's `prometheus` package if it is missing, then starts two processes of
# this run folder, each with a pid file in $RUN/pids (so down.sh stops them):
#   prometheus-sd  etcd_sd.py, rewriting $RUN/prometheus/targets/cim.json every 3 s;
#   prometheus     with prometheus.yml + alerts.yml copied into $RUN/prometheus, its data
#                  in $RUN/prometheus/data, answering on 127.0.0.1:PORT.
# Waits until Prometheus is ready. Does nothing for a process already running.
OBS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

start_prometheus() {
  local port=$1 etcd_port=$2 dir=$RUN/prometheus
  if ! command -v prometheus >/dev/null 2>&1; then
    echo "infra: installing Debian's prometheus package"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
      { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
  fi
  mkdir -p "$dir/targets" "$dir/data"
  cp "$OBS_DIR/prometheus.yml" "$OBS_DIR/alerts.yml" "$dir/"
  if ! running prometheus-sd; then
    /usr/bin/python3 "$OBS_DIR/etcd_sd.py" --once "http://127.0.0.1:$etcd_port" "$dir/targets/cim.json" ||
      echo '[]' > "$dir/targets/cim.json"
    spawn prometheus-sd /usr/bin/python3 "$OBS_DIR/etcd_sd.py" "http://127.0.0.1:$etcd_port" "$dir/targets/cim.json" 3
  fi
  running prometheus && return 0
  spawn prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$port" --web.enable-lifecycle
  wait_until prometheus 60 curl -sf "http://127.0.0.1:$port/-/ready"
}
