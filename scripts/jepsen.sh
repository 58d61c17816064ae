#!/usr/bin/env bash
# A longer Jepsen-style run on a real 3-node cluster (tests/cluster_faults/
# jepsen_test.cc, docs/testing.md): concurrent clients SET/GET a few keys while
# a nemesis kills -9 / restarts, pauses (SIGSTOP/SIGCONT) and partitions nodes
# through the fault proxy; the history is checked linearizable with src/check.
#
#   ./scripts/jepsen.sh                          120 s of faults, a random seed
#   ./scripts/jepsen.sh --duration 600 --seed 42
#   ./scripts/jepsen.sh --runs 5 --duration 60   five runs, seeds seed..seed+4
#   DKV_JEPSEN_TEST=/path/to/jepsen_test ./scripts/jepsen.sh
#
# The test kills every process it started and removes its data dir, also when
# it fails. On failure the last line is the command that reruns it (same seed:
# same client and nemesis choices; the kernel's scheduling still varies).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=120
seed=$(( $(date +%s) % 100000 + 1 ))
runs=1
while (($#)); do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "jepsen.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bin="${DKV_JEPSEN_TEST:-}"
if [[ -z "$bin" ]]; then
  for candidate in build/release/tests/cluster_faults/jepsen_test \
                   build/tests/cluster_faults/jepsen_test; do
    if [[ -x "$candidate" ]]; then bin="$candidate"; break; fi
  done
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "jepsen.sh: jepsen_test not found; build it with distkv-server" >&2
  echo "           (cmake --build --preset release --target jepsen_test distkv-server)" >&2
  echo "           or point DKV_JEPSEN_TEST at it" >&2
  exit 2
fi

for ((i = 0; i < runs; i++)); do
  s=$((seed + i))
  echo "jepsen.sh: run $((i + 1))/$runs, seed $s, ${duration}s of faults"
  # The test's own budget is its duration plus startup, healing and the check.
  log=$(mktemp /tmp/jepsen.XXXXXX)
  status=0
  DKV_JEPSEN_SEED="$s" DKV_JEPSEN_DURATION_S="$duration" \
    timeout --signal=KILL $((duration + 300)) "$bin" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    cat "$log"
    rm -f "$log"
    echo "jepsen.sh: FAILED (exit $status); rerun: ./scripts/jepsen.sh --duration $duration --seed $s"
    exit 1
  fi
  grep -E '^jepsen:' "$log" || true
  rm -f "$log"
done
echo "jepsen.sh: $runs run(s) from seed $seed passed (${duration}s of faults each)"
