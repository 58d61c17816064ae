#!/usr/bin/env bash
# Installs the Debian 12 packages DistKV builds, tests and benchmarks with.
# Idempotent and quick when everything is already there (no apt-get update).
#
#   scripts/install-deps.sh          what building and testing need
#   scripts/install-deps.sh --bench  also the cluster benchmark's peers (etcd, and
#                                    gRPC for dkv_kvload's native etcd client)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ git
  libasio-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libxxhash-dev libzstd-dev liblz4-dev libssl-dev
  libjemalloc-dev  # distkv-server's allocator, as Redis's (docs/server.md)
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  clang libclang-rt-14-dev
  librocksdb-dev libleveldb-dev
  libhiredis-dev redis-tools redis-server python3
  iproute2 nftables  # network-namespace partitions in tests/cluster_faults (docs/testing.md)
)
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(etcd-server etcd-client libgrpc++-dev protobuf-compiler-grpc)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
