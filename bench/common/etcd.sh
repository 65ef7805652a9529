# Sourced by the benchmark scripts that need an etcd (bench/cluster/run_cluster.sh,
# bench/durable/run_cluster.sh): Debian's /usr/bin/etcd on two free loopback
# ports and a data dir of the caller's.
#
#   start_etcd DATA_DIR     # sets etcd_pid and etcd_port; waits until healthy
#
# The caller stops it (kill "$etcd_pid") in its own cleanup.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_etcd() {
  local dir=$1 peer_port
  etcd_port=$(free_port)
  peer_port=$(free_port)
  /usr/bin/etcd --data-dir="$dir" --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" --log-level=error \
    >/dev/null 2>&1 &
  etcd_pid=$!
  local i
  for (( i = 0; i < 200; i++ )); do  # 20 s
    curl -fs "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"' &&
      return 0
    sleep 0.1
  done
  echo "start_etcd: etcd did not become healthy on 127.0.0.1:$etcd_port" >&2
  return 1
}
