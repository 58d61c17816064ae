#!/usr/bin/env bash
# Soak the Raft group in the deterministic simulator: run many seeds, report
# how many passed, and print the one-line replay command of every failure.
#
#   ./scripts/sim-soak.sh                      10,000 seeds, every scenario in turn, 3 nodes
#   ./scripts/sim-soak.sh -n 500 --nodes 5 --scenario partition --seed 77
#   ./scripts/sim-soak.sh -j 2                 split the seeds over 2 processes
#   DISTKV_SIM=/path/to/distkv-sim ./scripts/sim-soak.sh
#
# Seeds are consecutive from --seed; the same arguments always run the same
# simulations. Exit status 1 if any seed failed.
set -euo pipefail
cd "$(dirname "$0")/.."

count=10000
seed=1
nodes=3
scenario=all
jobs=1
while (($#)); do
  case "$1" in
    -n|--count) count="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    -j|--jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "sim-soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

sim="${DISTKV_SIM:-}"
if [[ -z "$sim" ]]; then
  for candidate in build/release/src/sim/distkv-sim build/h-sim/src/sim/distkv-sim \
                   build/debug/src/sim/distkv-sim; do
    if [[ -x "$candidate" ]]; then sim="$candidate"; break; fi
  done
fi
if [[ -z "$sim" || ! -x "$sim" ]]; then
  echo "sim-soak.sh: distkv-sim not found; build it (cmake --build --preset release --target distkv-sim)" >&2
  echo "             or point DISTKV_SIM at it" >&2
  exit 2
fi

out=$(mktemp -d /tmp/sim-soak.XXXXXX)
trap 'rm -rf "$out"' EXIT

per=$(( (count + jobs - 1) / jobs ))
pids=()
for ((j = 0; j < jobs; j++)); do
  first=$(( seed + j * per ))
  n=$(( count - j * per ))
  (( n > per )) && n=$per
  (( n <= 0 )) && break
  "$sim" --seed="$first" --seeds="$n" --scenario="$scenario" --nodes="$nodes" --quiet \
    >"$out/$j.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

passed=0
failed=0
for log in "$out"/*.log; do
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
  if [[ -z "$line" ]]; then
    echo "sim-soak.sh: a worker died without a summary:" >&2
    tail -20 "$log" >&2
    status=1
    continue
  fi
  passed=$(( passed + $(awk '{print $1}' <<<"$line") ))
  failed=$(( failed + $(awk '{print $3}' <<<"$line") ))
  grep -E '^seed .* FAILED|replay:' "$log" || true
done
echo "sim soak: $passed passed, $failed failed (seeds $seed..$(( seed + count - 1 )), scenario $scenario, $nodes nodes)"
exit $status
