#!/usr/bin/env bash
# Quick-start command 1: install what is missing, build, and run DistKV.
#
# Starts distkv-server in the foreground on 127.0.0.1:7379 with its data in
# /tmp/distkv-demo (appendfsync always); talk to it with redis-cli or any
# Redis client, stop it with Ctrl-C (it syncs and exits cleanly).
#   --bench        run the storage benchmark against RocksDB and LevelDB instead
#   --redis-bench  run distkv-server against redis-server with redis-benchmark instead
#   --shell        open the storage engine's shell (distkv-shell) instead
# Extra arguments go to the program started (e.g. --appendfsync everysec).
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
esac

cat <<'MSG'
distkv-server: 127.0.0.1:7379, data in /tmp/distkv-demo, appendfsync always.
Connect from another terminal with:
    redis-cli -p 7379
    127.0.0.1:7379> SET greeting hello
    127.0.0.1:7379> GET greeting
Stop with Ctrl-C. Configuration and commands: docs/server.md
MSG
exec ./build/release/src/server/distkv-server --port 7379 --dir /tmp/distkv-demo "$@"
