#!/usr/bin/env bash
# Quick-start command 2: install what is missing, build, and run every test.
#
#   ./scripts/test.sh                 release build, all tests + a short fuzz smoke run
#   ./scripts/test.sh --preset debug  the same under ASan+UBSan (or: tsan)
#   ./scripts/test.sh --no-fuzz       skip the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
fuzz=1
while (($#)); do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    --preset=*) preset="${1#*=}"; shift ;;
    --no-fuzz) fuzz=0; shift ;;
    *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
jobs=$(nproc)

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"

if ((fuzz)) && [[ "$preset" == release ]]; then
  ./scripts/fuzz.sh --smoke
fi

ctest --preset "$preset" -j "$jobs"
