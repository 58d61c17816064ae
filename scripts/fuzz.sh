#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs them.
#
#   ./scripts/fuzz.sh --smoke          each target for a few seconds (CI)
#   ./scripts/fuzz.sh [SECONDS] [NAME] each target (or just NAME) for SECONDS (default 300)
# Crashes are written to build/fuzz/crashes/; reproduce with
#   build/fuzz/fuzz/<target> build/fuzz/crashes/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=300
only=""
if [[ "${1:-}" == "--smoke" ]]; then
  seconds=${DKV_FUZZ_SMOKE_SECONDS:-10}
  shift
elif [[ -n "${1:-}" ]]; then
  seconds="$1"
  only="${2:-}"
fi

./scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target fuzz_all

mkdir -p build/fuzz/crashes
status=0
for target in build/fuzz/fuzz/*_fuzz; do
  [[ -x "$target" ]] || continue
  name=$(basename "$target")
  [[ -n "$only" && "$name" != "$only" ]] && continue
  corpus="build/fuzz/corpus/$name"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/${name%_fuzz}"
  [[ -d "$seeds" ]] || seeds=""
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="build/fuzz/crashes/$name-" "$corpus" $seeds >"build/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see build/fuzz/$name.log and build/fuzz/crashes/" >&2
    tail -40 "build/fuzz/$name.log" >&2
    status=1
  else
    grep -E "^#[0-9]+ *DONE" "build/fuzz/$name.log" | tail -1 || true
  fi
done
exit $status
