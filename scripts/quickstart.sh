#!/usr/bin/env bash
# Quick-start command 1: install what is missing, build, and run DistKV.
#
# Starts a local 3-node DistKV cluster on loopback (8 shards, each a Raft
# group of 3 replicas; client ports 7379, 7479, 7579; data and logs in
# /tmp/distkv-demo) and stays in the foreground; talk to any node with
# redis-cli or any Redis client; Ctrl-C stops every node (SIGTERM, then
# SIGKILL after 10 s). Running it again restarts the same cluster on its data.
#   --standalone   one single-node distkv-server on 127.0.0.1:7379 instead
#                  (every command of docs/server.md; data in /tmp/distkv-standalone)
#   --bench        run the storage benchmark against RocksDB and LevelDB instead
#   --redis-bench  run distkv-server against redis-server with redis-benchmark instead
#   --shell        open the storage engine's shell (distkv-shell) instead
# Extra arguments go to the program started (`distkv cluster up`, e.g.
# --loglevel debug; distkv-server with --standalone).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

case "${1:-}" in
  --bench)
    shift
    exec ./bench/run_storage_bench.sh "$@"
    ;;
  --redis-bench)
    shift
    exec ./bench/run_redis_bench.sh --no-build "$@"
    ;;
  --shell)
    shift
    exec ./build/release/tools/distkv-shell /tmp/distkv-shell-demo "$@"
    ;;
  --standalone)
    shift
    cat <<'MSG'
distkv-server (standalone): 127.0.0.1:7379, data in /tmp/distkv-standalone, appendfsync always.
Connect from another terminal with:  redis-cli -p 7379
Stop with Ctrl-C. Configuration and commands: docs/server.md
MSG
    exec ./build/release/src/server/distkv-server --port 7379 --dir /tmp/distkv-standalone "$@"
    ;;
esac

dir=/tmp/distkv-demo
config="$dir/cluster.toml"
distkv=./build/release/tools/distkv
mkdir -p "$dir"
if [[ ! -f "$config" ]]; then
  # Fixed ports so the instructions below hold; node N: client 7279+100N,
  # peer +1, admin HTTP +2. Timing and the rest are the defaults (docs/cluster.md).
  {
    echo '# Written by scripts/quickstart.sh (format: docs/cluster.md).'
    echo 'cluster_id = "quickstart"'
    echo "data_dir = \"$dir\""
    echo 'shards = 8'
    echo 'replication_factor = 3'
    for n in 1 2 3; do
      base=$((7279 + 100 * n))
      echo
      echo '[[nodes]]'
      echo "id = $n"
      echo "client_addr = \"127.0.0.1:$base\""
      echo "peer_addr = \"127.0.0.1:$((base + 1))\""
      echo "admin_port = $((base + 2))"
    done
  } >"$config"
fi

stop_cluster() {
  trap - EXIT INT TERM
  echo
  "$distkv" cluster down --config "$config" || true
}
trap stop_cluster EXIT INT TERM
"$distkv" cluster up --config "$config" "$@"
# Every node has founded its shards: from now on a node whose data dir was
# wiped must rejoin (distkv cluster up --join N), never found them again.
if ! grep -q '^cluster_state' "$config"; then
  sed -i 's/^cluster_id = .*/&\ncluster_state = "existing"/' "$config"
fi

cat <<'MSG'

A 3-node DistKV cluster is serving on 127.0.0.1:7379, :7479 and :7579
(8 shards, each replicated on all three nodes by Raft; every write is on a
quorum's disk before it is acknowledged). From another terminal:
    redis-cli -p 7379 SET greeting hello
    redis-cli -p 7579 GET greeting          # any node serves any key
    redis-cli -p 7479 DKV.STATUS            # shards, roles, leaders, terms
    ./build/release/tools/distkv cluster status --config /tmp/distkv-demo/cluster.toml
Logs: /tmp/distkv-demo/node-N/server.log. Stop every node with Ctrl-C.
Commands in cluster mode: docs/runtime.md; the single-node server with every
command: ./scripts/quickstart.sh --standalone (docs/server.md).
MSG
while sleep 2; do
  # Leave if every node has died (the trap stops the rest and cleans up).
  any=0
  for n in 1 2 3; do
    pid_file="$dir/node-$n/server.pid"
    if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then any=1; fi
  done
  if [[ $any == 0 ]]; then
    echo "every node has stopped; see $dir/node-N/server.log" >&2
    exit 1
  fi
done
