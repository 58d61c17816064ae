#!/usr/bin/env bash
# Soak the multi-Raft node code under seeded faults (src/node/node_test.cc,
# NodeChaosTest: crashes with torn writes, restarts, isolation, a lossy network,
# snapshot catch-up; every acknowledged write kept, and the history of puts and
# reads through every node checked linearizable with src/check). Runs many
# seeds in chunks, reports how many passed, and prints the one-line replay
# command of every failing seed.
#
#   ./scripts/node-chaos-soak.sh                 200 seeds from 1, 1500 steps each
#   ./scripts/node-chaos-soak.sh -n 1000 --seed 5001 --steps 3000 -j 2
#   DKV_NODE_TEST=/path/to/node_test ./scripts/node-chaos-soak.sh
#
# Seeds are consecutive from --seed; the same arguments run the same
# simulations (one process, virtual time). Exit status 1 if any seed failed.
set -euo pipefail
cd "$(dirname "$0")/.."

count=200
seed=1
steps=1500
jobs=1
chunk=20
while (($#)); do
  case "$1" in
    -n|--count) count="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -j|--jobs) jobs="$2"; shift 2 ;;
    --chunk) chunk="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "node-chaos-soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bin="${DKV_NODE_TEST:-}"
if [[ -z "$bin" ]]; then
  for candidate in build/release/src/node/node_test build/src/node/node_test \
                   build/debug/src/node/node_test; do
    if [[ -x "$candidate" ]]; then bin="$candidate"; break; fi
  done
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "node-chaos-soak.sh: node_test not found; build it (cmake --build --preset release --target node_test)" >&2
  echo "                    or point DKV_NODE_TEST at it" >&2
  exit 2
fi

out=$(mktemp -d /tmp/node-chaos-soak.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT

# One chunk of seeds in one process; its output says which seeds failed.
run_chunk() {
  local first="$1" n="$2"
  DKV_NODE_CHAOS_FIRST_SEED="$first" DKV_NODE_CHAOS_SEEDS="$n" DKV_NODE_CHAOS_STEPS="$steps" \
    "$bin" --gtest_filter='NodeChaosTest.*' >"$out/chunk-$first.log" 2>&1 ||
    echo "$first" >>"$out/failed-chunks"
}

start=$(date +%s)
next=$seed
end=$((seed + count))
while ((next < end)); do
  n=$((end - next < chunk ? end - next : chunk))
  run_chunk "$next" "$n" &
  pids+=($!)
  next=$((next + n))
  while (($(jobs -rp | wc -l) >= jobs)); do sleep 0.2; done
done
wait
pids=()

failed_seeds=()
if [[ -f "$out/failed-chunks" ]]; then
  while read -r first; do
    # gtest prints the SCOPED_TRACE of each failure: "seed N; replay: ..."
    while read -r line; do failed_seeds+=("$line"); done < <(
      grep -o 'replay: .*' "$out/chunk-$first.log" | sort -u)
    if ! grep -q 'replay: ' "$out/chunk-$first.log"; then
      # Aborted (an assertion) before gtest could print: show the chunk's tail.
      echo "chunk from seed $first died:" >&2
      tail -20 "$out/chunk-$first.log" >&2
      failed_seeds+=("replay: DKV_NODE_CHAOS_FIRST_SEED=$first DKV_NODE_CHAOS_SEEDS=$chunk DKV_NODE_CHAOS_STEPS=$steps $bin --gtest_filter='NodeChaosTest.*'")
    fi
  done <"$out/failed-chunks"
fi

elapsed=$(($(date +%s) - start))
if ((${#failed_seeds[@]} == 0)); then
  echo "node-chaos-soak: $count seeds from $seed x $steps steps passed (2 chaos tests each) in ${elapsed}s"
  exit 0
fi
echo "node-chaos-soak: FAILED (${#failed_seeds[@]} failing runs) of $count seeds from $seed x $steps steps in ${elapsed}s"
for line in "${failed_seeds[@]}"; do echo "  ${line//<build>\/src\/node\/node_test/$bin}"; done
exit 1
