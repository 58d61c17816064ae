#!/usr/bin/env bash
# distkv-server against redis-server, same machine, same run (issue #4).
#
# Builds the release preset's distkv-server, then for each round starts each
# server fresh (new temp dir, free loopback port) and runs redis-benchmark
# (-c 50 -d 100 -r 100000, SET GET INCR MSET, -P 1 and -P 16) against it, in
# two modes:
#   durable:     DistKV --appendfsync always  vs  Redis --appendonly yes --appendfsync always
#   nondurable:  DistKV --appendfsync no      vs  Redis --appendonly no (no persistence)
# Prints one row per (mode, command, pipeline) with the median over rounds of
# DistKV ops/s, Redis ops/s and their ratio, and writes every figure to
# bench/results/redis.json. The order of the two servers alternates between
# rounds so a change of machine load does not always favour the same one.
#
# Usage: bench/run_redis_bench.sh [--rounds R] [--requests N] [--requests-pipelined M]
#                                 [--server PATH] [--no-build] [--json PATH]
#   --rounds R               rounds (default 3); the median is reported
#   --requests N             requests per test at -P 1 (default 100000)
#   --requests-pipelined M   requests per test at -P 16 (default 200000)
#   --server PATH            distkv-server binary (default build/release/src/server/distkv-server)
#   --no-build               do not build first
# Environment: JOBS (build parallelism, default 2).
# Not a test: the figures depend on the machine and its load. Every process it
# starts is killed and every temp dir removed on exit, even on failure or ^C.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-2}"
rounds=3
requests=100000
requests_pipelined=200000
server="$root/build/release/src/server/distkv-server"
build=1
json="$root/bench/results/redis.json"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --requests-pipelined) requests_pipelined="$2"; shift 2 ;;
    --server) server="$2"; build=0; shift 2 ;;
    --no-build) build=0; shift ;;
    --json) json="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in redis-server redis-benchmark redis-cli python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing (apt-get install redis-server redis-tools python3)" >&2
    exit 1
  fi
done

if [[ "$build" == 1 ]]; then
  cmake --preset release -S "$root" >/dev/null
  cmake --build --preset release --target distkv-server -j "$jobs"
fi
[[ -x "$server" ]] || { echo "no distkv-server at $server" >&2; exit 1; }

tmp="$(mktemp -d /tmp/dkv-redis-bench-XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

wait_ping() {  # port
  for _ in $(seq 200); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on port $1 did not answer PING" >&2
  return 1
}

stop_server() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}

start_server() {  # engine mode port dir
  local engine="$1" mode="$2" port="$3" dir="$4"
  mkdir -p "$dir"
  if [[ "$engine" == redis ]]; then
    local persistence=(--appendonly yes --appendfsync always)
    [[ "$mode" == nondurable ]] && persistence=(--appendonly no)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' "${persistence[@]}" \
      --loglevel warning >"$dir/server.log" 2>&1 &
  else
    local fsync=always
    [[ "$mode" == nondurable ]] && fsync=no
    "$server" --port "$port" --dir "$dir/data" --appendfsync "$fsync" --loglevel warn \
      >"$dir/server.log" 2>&1 &
  fi
  pid=$!
  wait_ping "$port"
}

# Appends "engine,mode,round,pipeline,test,rps" lines to $tmp/raw.csv.
run_one() {  # engine mode round
  local engine="$1" mode="$2" round="$3"
  local port dir
  port="$(free_port)"
  dir="$tmp/$engine-$mode-$round"
  start_server "$engine" "$mode" "$port" "$dir"
  for p in 1 16; do
    local n="$requests"
    [[ "$p" == 16 ]] && n="$requests_pipelined"
    redis-benchmark -h 127.0.0.1 -p "$port" -q --csv -c 50 -d 100 -r 100000 -n "$n" \
      -t set,get,incr,mset -P "$p" 2>/dev/null |
      awk -F, -v e="$engine" -v m="$mode" -v r="$round" -v p="$p" '
        NR > 1 { gsub(/"/, ""); split($1, t, " "); print e "," m "," r "," p "," t[1] "," $2 }' \
        >>"$tmp/raw.csv"
  done
  stop_server
  rm -rf "$dir"
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
start_s=$SECONDS
: >"$tmp/raw.csv"
for round in $(seq "$rounds"); do
  for mode in durable nondurable; do
    if (( round % 2 == 1 )); then order=(distkv redis); else order=(redis distkv); fi
    for engine in "${order[@]}"; do
      echo "round $round/$rounds: $mode $engine ..." >&2
      run_one "$engine" "$mode" "$round"
    done
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$(dirname "$json")"
python3 - "$tmp/raw.csv" "$json" "$rounds" "$requests" "$requests_pipelined" \
  "$load_start" "$load_end" "$((SECONDS - start_s))" <<'EOF'
import csv, datetime, json, statistics, sys

raw, out, rounds, n1, n16, load_start, load_end, seconds = sys.argv[1:]
data = {}
for engine, mode, rnd, p, test, rps in csv.reader(open(raw)):
    data.setdefault((mode, test, int(p)), {}).setdefault(engine, []).append(float(rps))

rows = []
order = {"SET": 0, "GET": 1, "INCR": 2, "MSET": 3}
for (mode, test, p) in sorted(data, key=lambda k: (k[0] != "durable", order.get(k[1], 9), k[2])):
    d = data[(mode, test, p)].get("distkv", [])
    r = data[(mode, test, p)].get("redis", [])
    dm = statistics.median(d) if d else 0.0
    rm = statistics.median(r) if r else 0.0
    rows.append({"mode": mode, "command": test, "pipeline": p,
                 "distkv_ops_per_s": dm, "redis_ops_per_s": rm,
                 "ratio": dm / rm if rm else None,
                 "distkv_rounds": d, "redis_rounds": r})

result = {
    "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
    "rounds": int(rounds), "requests_p1": int(n1), "requests_p16": int(n16),
    "clients": 50, "value_bytes": 100, "keyspace": 100000,
    "loadavg_start": load_start, "loadavg_end": load_end, "seconds": int(seconds),
    "durable": "distkv appendfsync always vs redis appendonly yes appendfsync always",
    "nondurable": "distkv appendfsync no vs redis without persistence",
    "results": rows,
}
json.dump(result, open(out, "w"), indent=1)

print(f"{'mode':<11} {'command':<7} {'-P':>3} {'DistKV ops/s':>13} {'Redis ops/s':>12} {'ratio':>6}")
for row in rows:
    ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
    print(f"{row['mode']:<11} {row['command']:<7} {row['pipeline']:>3} "
          f"{row['distkv_ops_per_s']:>13.0f} {row['redis_ops_per_s']:>12.0f} {ratio:>6}")
print(f"median of {rounds} rounds; load average {load_start} at start, {load_end} at end; "
      f"{seconds} s; written to {out}")
EOF
