#!/usr/bin/env bash
# Durable SET throughput of distkv-server vs redis-server, same machine, same
# run: both with appendfsync always, redis-benchmark -t set -c 50 -P 1.
# Prints both rates and the ratio (the bar for issue #4 is >= 1.2).
#
# usage: tests/server/bench_vs_redis.sh [path/to/distkv-server] [requests]
# Not a test: timing depends on the machine. Everything it starts is killed
# and every temp dir removed on exit, even on failure.
set -euo pipefail

SERVER=${1:-build/h-server/src/server/distkv-server}
REQUESTS=${2:-50000}
CLIENTS=50
TMP=$(mktemp -d /tmp/dkv-bench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ping() {
  for _ in $(seq 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  return 1
}
rate() {  # prints requests/s of SET
  redis-benchmark -p "$1" -t set -c "$CLIENTS" -P 1 -n "$REQUESTS" -r 1000000 --csv 2>/dev/null |
    awk -F, '/"SET"/ { gsub(/"/, "", $2); print $2 }'
}

RPORT=$(free_port)
redis-server --port "$RPORT" --dir "$TMP" --appendonly yes --appendfsync always --save '' \
  --loglevel warning >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
wait_ping "$RPORT"
REDIS=$(rate "$RPORT")

DPORT=$(free_port)
"$SERVER" --port "$DPORT" --dir "$TMP/distkv" --appendfsync always --loglevel warn \
  >"$TMP/distkv.log" 2>&1 &
PIDS+=($!)
wait_ping "$DPORT"
DISTKV=$(rate "$DPORT")

echo "redis-server  appendfsync always: ${REDIS} SET/s"
echo "distkv-server appendfsync always: ${DISTKV} SET/s"
awk -v d="$DISTKV" -v r="$REDIS" 'BEGIN { printf "ratio distkv/redis: %.2f\n", d / r }'
