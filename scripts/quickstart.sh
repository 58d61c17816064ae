#!/usr/bin/env bash
# Quick-start command 1: install what is missing, build, and run DistKV.
#
# Until the server lands (issue #4) DistKV's runnable job is its storage
# engine: this opens an interactive shell on an engine in /tmp/distkv-demo.
# Pass --bench to run the storage benchmark against RocksDB and LevelDB instead.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

if [[ "${1:-}" == "--bench" ]]; then
  shift
  exec ./bench/run_storage_bench.sh "$@"
fi
exec ./build/release/tools/distkv-shell /tmp/distkv-demo "$@"
