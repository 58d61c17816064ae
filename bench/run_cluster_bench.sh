#!/usr/bin/env bash
# A 3-node DistKV cluster against a 3-member etcd cluster, same machine, same
# run, same load generator (issue #5's benchmark; not a test).
#
# Starts etcd (Debian's etcd-server: 3 members on free loopback ports, temp
# data dirs, default 100 ms heartbeat / 1000 ms election timeout) and DistKV
# (`distkv cluster up --nodes 3`: three replicated nodes, 8 Raft groups of 3
# replicas, default timing), then runs dkv_kvload against each: put and
# linearizable get, 16-byte keys, 100-byte values, uniform over --keys keys,
# 1/16/64/256 closed-loop clients spread round-robin over the three
# endpoints (a DistKV node forwards what it does not lead; a follower serves
# a linearizable get through ReadIndex); then kill -9 of a leader -> time to
# the next successful write, --failover-rounds times (the killed member is
# restarted in between). For DistKV "the leader" is the leader of shard
# r mod shards in round r, and the writes go to keys of that shard only.
# Before the get runs every key is written once (fill), so gets find values.
# Prints a table with ratios, says which of issue #5's bars are met, and
# writes everything to bench/results/cluster.json.
#
# Usage: bench/run_cluster_bench.sh [--duration S] [--clients "1 16 64 256"]
#          [--keys N] [--rounds R] [--failover-rounds R] [--etcd-protocol etcd|etcd-http]
#          [--build-dir DIR] [--no-build] [--json PATH]
#   --duration S          seconds per load run (default 10)
#   --rounds R            load runs per (store, op, clients); the median is reported (default 1)
#   --etcd-protocol P     etcd (gRPC KV API, default when kvload has it) or etcd-http
#   --build-dir DIR       where distkv, distkv-server, dkv_kvload are built
#                         (default build/release, configured with the release preset)
# Environment: JOBS (build parallelism, default 2).
# Every process it starts is killed and every temp dir removed on exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-2}"
duration=10
clients_list="1 16 64 256"
keys=100000
failover_rounds=3
rounds=1
etcd_protocol=""
build_dir="$root/build/release"
build=1
json="$root/bench/results/cluster.json"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --clients) clients_list="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --failover-rounds) failover_rounds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --etcd-protocol) etcd_protocol="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --json) json="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The peers and gRPC (for dkv_kvload's native etcd client) come from Debian.
"$root/scripts/install-deps.sh" --bench

for tool in etcd etcdctl python3 redis-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing (apt-get install etcd-server etcd-client python3 redis-tools)" >&2
    exit 1
  fi
done

if [[ "$build" == 1 ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDKV_BUILD_BENCH=ON >/dev/null
  ninja -C "$build_dir" -j "$jobs" distkv distkv-server dkv_kvload
fi
distkv="$build_dir/tools/distkv"
server="$build_dir/src/server/distkv-server"
kvload="$build_dir/bench/kvload/dkv_kvload"
for bin in "$distkv" "$server" "$kvload"; do
  [[ -x "$bin" ]] || { echo "missing $bin (build it or pass --build-dir)" >&2; exit 1; }
done
if [[ -z "$etcd_protocol" ]]; then
  # gRPC when this kvload was built with it (see bench/kvload/CMakeLists.txt).
  if "$kvload" --list-protocols | grep -qw etcd; then
    etcd_protocol=etcd
  else
    etcd_protocol=etcd-http
  fi
fi

tmp="$(mktemp -d /tmp/dkv-cluster-bench-XXXXXX)"
results="$tmp/results.jsonl"
etcd_pids=()
cleanup() {
  for p in "${etcd_pids[@]}"; do
    [[ -n "$p" ]] && kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ -f "$tmp/distkv/cluster.toml" ]]; then
    "$distkv" cluster down --dir "$tmp/distkv" --timeout-ms 3000 >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# ---- etcd: 3 members --------------------------------------------------------
declare -a eclient epeer
initial=""
for i in 0 1 2; do
  eclient[$i]=$(free_port)
  epeer[$i]=$(free_port)
  initial+="${initial:+,}m$((i + 1))=http://127.0.0.1:${epeer[$i]}"
done
etcd_endpoints="127.0.0.1:${eclient[0]},127.0.0.1:${eclient[1]},127.0.0.1:${eclient[2]}"

start_etcd_member() {  # index state
  local i="$1" state="$2" name="m$(( $1 + 1 ))"
  rm -f "$tmp/etcd-$name.pid"
  # A subshell waits for etcd, so a kill -9 of etcd ends it quietly (bash
  # would report a killed background job) and we still know etcd's own pid.
  (
    etcd --name "$name" --data-dir "$tmp/etcd/$name" \
      --listen-client-urls "http://127.0.0.1:${eclient[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${eclient[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${epeer[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${epeer[$i]}" \
      --initial-cluster "$initial" --initial-cluster-state "$state" \
      --initial-cluster-token dkv-bench --logger zap --log-level error \
      >>"$tmp/etcd-$name.log" 2>&1 &
    echo $! >"$tmp/etcd-$name.pid.tmp"
    mv "$tmp/etcd-$name.pid.tmp" "$tmp/etcd-$name.pid"
    wait
  ) 2>/dev/null &
  for _ in $(seq 100); do
    [[ -s "$tmp/etcd-$name.pid" ]] && break
    sleep 0.05
  done
  etcd_pids[$i]="$(cat "$tmp/etcd-$name.pid")"
}

wait_gone() {  # pid
  for _ in $(seq 200); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
}

etcd_wait_healthy() {
  for _ in $(seq 300); do
    if ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" --command-timeout=2s \
        endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "etcd did not become healthy; logs in $tmp" >&2
  cat "$tmp"/etcd-*.log >&2
  return 1
}

etcd_leader_index() {
  ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" endpoint status -w json 2>/dev/null |
    python3 -c '
import json, sys
ports = sys.argv[1:]
for s in json.load(sys.stdin):
    if s["Status"]["leader"] == s["Status"]["header"]["member_id"]:
        print(ports.index(s["Endpoint"].rsplit(":", 1)[1]))
        break
' "${eclient[@]}"
}

mkdir -p "$tmp/etcd"
for i in 0 1 2; do start_etcd_member "$i" new; done
etcd_wait_healthy
echo "etcd $(etcd --version | head -1 | awk '{print $3}'): 3 members at $etcd_endpoints (client: $etcd_protocol)"

# ---- DistKV: 3 nodes ----------------------------------------------------------
"$distkv" cluster up --nodes 3 --dir "$tmp/distkv" --server-bin "$server" --loglevel warn \
  >"$tmp/distkv-up.log"
dkv_endpoints="$("$distkv" cluster endpoints --dir "$tmp/distkv")"
IFS=, read -r -a dkv_eps <<<"$dkv_endpoints"
dkv_label="distkv"

# DKV.STATUS of every reachable node, as "shard leader" lines (one per
# replica a node hosts; a node that is down is skipped).
dkv_leaders() {
  for ep in "${dkv_eps[@]}"; do
    redis-cli -h "${ep%:*}" -p "${ep##*:}" DKV.STATUS 2>/dev/null |
      sed -n 's/.*shard=\([0-9]*\) .*leader=\([0-9]*\).*/\1 \2/p'
  done
}

# Waits until every shard has a leader that all reachable replicas agree on.
dkv_wait_leaders() {
  local shards
  shards="$(sed -n 's/^shards *= *\([0-9]*\).*/\1/p' "$tmp/distkv/cluster.toml")"
  for _ in $(seq 300); do
    if dkv_leaders | python3 -c '
import sys
n = int(sys.argv[1]); seen = {}
for line in sys.stdin:
    s, l = map(int, line.split()); seen.setdefault(s, set()).add(l)
ok = len(seen) == n and all(len(v) == 1 and 0 not in v for v in seen.values())
sys.exit(0 if ok else 1)' "$shards"; then
      return 0
    fi
    sleep 0.1
  done
  echo "distkv: not every shard has a leader; logs in $tmp/distkv" >&2
  return 1
}

# The node id leading `shard` (as its replicas report it).
dkv_leader_of() {
  dkv_leaders | awk -v s="$1" '$1 == s && $2 != 0 { print $2; exit }'
}

dkv_wait_leaders
dkv_shards="$(sed -n 's/^shards *= *\([0-9]*\).*/\1/p' "$tmp/distkv/cluster.toml")"
echo "distkv: 3 replicated nodes at $dkv_endpoints ($dkv_shards shards, every one led)"

load() {  # label protocol endpoints op clients
  "$kvload" --label "$1" --protocol "$2" --endpoints "$3" --op "$4" --clients "$5" \
    --duration "$duration" --keys "$keys" --key-size 16 --value-size 100 --json "$results" |
    sed -n 1p
}

fill() {  # label protocol endpoints
  "$kvload" --label "$1" --protocol "$2" --endpoints "$3" --op fill --clients 64 \
    --keys "$keys" --key-size 16 --value-size 100 --json "$results" | sed -n 1p
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for op in put get; do
  if [[ "$op" == get ]]; then
    fill etcd "$etcd_protocol" "$etcd_endpoints"
    fill "$dkv_label" resp "$dkv_endpoints"
  fi
  for round in $(seq "$rounds"); do
    for c in $clients_list; do
      # Alternate which store goes first, so a change of machine load does
      # not always favour the same one.
      if (( round % 2 == 1 )); then
        load etcd "$etcd_protocol" "$etcd_endpoints" "$op" "$c"
        load "$dkv_label" resp "$dkv_endpoints" "$op" "$c"
      else
        load "$dkv_label" resp "$dkv_endpoints" "$op" "$c"
        load etcd "$etcd_protocol" "$etcd_endpoints" "$op" "$c"
      fi
    done
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- failover: kill -9 the leader, time to the next successful write ----------
for r in $(seq "$failover_rounds"); do
  leader="$(etcd_leader_index)"
  if [[ -z "$leader" ]]; then
    echo "etcd: no leader found" >&2
    break
  fi
  "$kvload" --label etcd --protocol "$etcd_protocol" --endpoints "$etcd_endpoints" \
    --op failover --kill-pid "${etcd_pids[$leader]}" --json "$results" | sed -n 1p
  wait_gone "${etcd_pids[$leader]}"
  start_etcd_member "$leader" existing
  etcd_wait_healthy
  # DistKV: kill the leader of one shard (a different one each round) and
  # write keys of that shard only; restarting the node is `cluster up`.
  shard=$(( (r - 1) % dkv_shards ))
  dleader="$(dkv_leader_of "$shard")"
  if [[ -z "$dleader" ]]; then
    echo "distkv: no leader of shard $shard found" >&2
    break
  fi
  "$kvload" --label "$dkv_label" --protocol resp --endpoints "$dkv_endpoints" \
    --op failover --kill-pid "$(cat "$tmp/distkv/node-$dleader/server.pid")" \
    --failover-shard "$shard" --cluster-config "$tmp/distkv/cluster.toml" \
    --json "$results" | sed -n 1p
  wait_gone "$(cat "$tmp/distkv/node-$dleader/server.pid")"
  "$distkv" cluster up --dir "$tmp/distkv" --server-bin "$server" --loglevel warn >/dev/null
  dkv_wait_leaders
done

# ---- report -------------------------------------------------------------------
mkdir -p "$(dirname "$json")"
python3 - "$results" "$json" "$duration" "$keys" "$etcd_protocol" "$rounds" \
  "$load_start" "$load_end" <<'PY'
import json, statistics, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out_path, duration, keys, etcd_protocol = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rounds, load_start, load_end = int(sys.argv[6]), sys.argv[7], sys.argv[8]
def find(label_prefix, op, clients):
    """The run with the median ops/s over the rounds."""
    runs = [r for r in rows
            if r["label"].startswith(label_prefix) and r["op"] == op and r.get("clients") == clients]
    if not runs:
        return None
    runs.sort(key=lambda r: r["ops_per_s"])
    return runs[(len(runs) - 1) // 2]
print()
print("DistKV: 3 replicated nodes (8 Raft groups x 3 replicas, every put durable on a quorum);")
print("etcd: 3 members. Ratio = DistKV ops/s / etcd ops/s.")
print(f"median of {rounds} round(s); load average {load_start} at start, {load_end} at end")
print(f"{'op':<5} {'clients':>7} | {'etcd ops/s':>10} {'p50 ms':>7} {'p99 ms':>7} | "
      f"{'distkv ops/s':>12} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>6}")
table = []
clients = sorted({r["clients"] for r in rows if r["op"] in ("put", "get")})
for op in ("put", "get"):
    for c in clients:
        e, d = find("etcd", op, c), find("distkv", op, c)
        if not e or not d:
            continue
        ratio = d["ops_per_s"] / e["ops_per_s"] if e["ops_per_s"] else None
        table.append({"op": op, "clients": c, "etcd": e, "distkv": d, "ratio": ratio})
        print(f"{op:<5} {c:>7} | {e['ops_per_s']:>10.0f} {e['p50_us']/1000:>7.2f} "
              f"{e['p99_us']/1000:>7.2f} | {d['ops_per_s']:>12.0f} {d['p50_us']/1000:>7.2f} "
              f"{d['p99_us']/1000:>7.2f} | {ratio:>5.2f}x")
fo = {}
for who in ("etcd", "distkv"):
    ms = [r["failover_ms"] for r in rows if r["op"] == "failover" and r["label"].startswith(who)
          and r["recovered"]]
    fo[who] = {"runs_ms": ms, "median_ms": statistics.median(ms) if ms else None}
print(f"failover (kill -9 leader -> next write), median ms: etcd {fo['etcd']['median_ms']} "
      f"{fo['etcd']['runs_ms']}, distkv {fo['distkv']['median_ms']} {fo['distkv']['runs_ms']}")
# Issue #5's bar. A bar whose rows were not run is "not measured", never met.
def row(op, c):
    return next((t for t in table if t["op"] == op and t["clients"] == c), None)
bars = []
p64, g64 = row("put", 64), row("get", 64)
if p64:
    ok = p64["ratio"] >= 2.0 and p64["distkv"]["p99_us"] <= p64["etcd"]["p99_us"]
    bars.append(("put@64 >= 2x etcd, p99 <= etcd's", ok,
                 f"{p64['ratio']:.2f}x, p99 {p64['distkv']['p99_us']/1000:.1f} vs "
                 f"{p64['etcd']['p99_us']/1000:.1f} ms"))
else:
    bars.append(("put@64 >= 2x etcd, p99 <= etcd's", None, "not measured"))
if g64:
    bars.append(("linearizable get@64 >= 2x etcd", g64["ratio"] >= 2.0, f"{g64['ratio']:.2f}x"))
else:
    bars.append(("linearizable get@64 >= 2x etcd", None, "not measured"))
m = fo["distkv"]["median_ms"]
bars.append(("failover median < 1500 ms", None if m is None else m < 1500,
             "not measured" if m is None else f"{m:.0f} ms"))
print("issue #5 bar:")
for name, ok, what in bars:
    print(f"  {name:<36} {'MET' if ok else ('not measured' if ok is None else 'NOT met')}: {what}")
json.dump({
    "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "distkv_mode": "3 replicated nodes (distkv cluster up --nodes 3)",
    "bar": [{"bar": n, "met": ok, "figure": w} for n, ok, w in bars],
    "etcd_client": etcd_protocol,
    "duration_s": duration, "keys": keys, "key_size": 16, "value_size": 100,
    "rounds": rounds, "loadavg_start": load_start, "loadavg_end": load_end,
    "table": table, "failover": fo, "runs": rows,
}, open(out_path, "w"), indent=1)
print(f"wrote {out_path}")
PY
