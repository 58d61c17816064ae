#!/usr/bin/env bash
# Builds the release preset's dkv_db_bench and runs DistKV's storage engine
# against LevelDB and RocksDB with the same settings, writing the table to
# stdout and the results to bench/results/storage.json.
#
# Usage: bench/run_storage_bench.sh [extra dkv_db_bench flags, e.g. --num=100000 --runs=1]
# Environment: JOBS (build parallelism, default 2), DB_DIR (default /tmp).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-2}"
db_dir="${DB_DIR:-/tmp}"

cmake --preset release -S "$root" -DDKV_BUILD_BENCH=ON >/dev/null
cmake --build "$root/build/release" --target dkv_db_bench -j "$jobs"

mkdir -p "$root/bench/results"
"$root/build/release/bench/dkv_db_bench" \
  --num=1000000 --runs=3 \
  --engines=distkv,leveldb,rocksdb \
  --db_dir="$db_dir" \
  --json="$root/bench/results/storage.json" \
  "$@"
