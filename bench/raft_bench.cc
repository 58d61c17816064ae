// dkv_raft_bench: how fast the simulator runs, how fast Raft fails over, and
// how many entries per second the Raft core commits with no I/O at all.
//
//   (a) simulator speed: simulated seconds per wall second, 5-node group under
//       client load (goal >= 100x);
//   (b) failover: virtual time from crashing the leader to the first entry
//       committed by its successor, over many seeds, default timeouts
//       (raft::kDefaultTickMicros = 25 ms ticks, election_tick 10, pre-vote
//       and check-quorum on);
//   (c) core throughput: committed entries/s through an in-process 3-node
//       group whose Ready handling is a MemoryLogStorage append and a direct
//       Step of each message (goal >= 1,000,000/s).
//
// The target lives in src/sim/CMakeLists.txt (bench/CMakeLists.txt belongs to
// the storage benchmarks). Usage: dkv_raft_bench [--quick] [--only=sim|failover|core]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/log_storage.h"
#include "raft/raw_node.h"
#include "sim/fault_options.h"
#include "sim/kv_state_machine.h"
#include "sim/raft_cluster.h"

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Process CPU seconds: the machine is shared, so wall time overstates cost.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// (a) ---------------------------------------------------------------------
struct SimSpeed {
  double virtual_s = 0, wall_s = 0, cpu_s = 0;
  uint64_t events = 0;
  size_t ops = 0;
};

SimSpeed MeasureSimSpeed(int64_t virtual_us, int clients) {
  dkv::sim::ClusterOptions o;
  o.nodes = 5;
  o.clients = clients;
  o.keys = 16;
  o.faults = dkv::sim::ScenarioFaults("clean").value();
  dkv::sim::RaftCluster cluster(1, o);
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
  cluster.Start(/*clients=*/true);
  cluster.RunFor(virtual_us);
  SimSpeed s;
  s.wall_s = SecondsSince(start);
  s.cpu_s = CpuSeconds() - cpu_start;
  s.virtual_s = static_cast<double>(cluster.loop().now_us()) / 1e6;
  s.events = cluster.loop().events_run();
  s.ops = cluster.history().size();
  return s;
}

// (b) ---------------------------------------------------------------------
struct Failover {
  std::vector<double> ms;
  int no_leader = 0;
};

Failover MeasureFailover(int nodes, int seeds) {
  Failover f;
  for (int seed = 1; seed <= seeds; ++seed) {
    dkv::sim::ClusterOptions o;
    o.nodes = nodes;
    o.faults = dkv::sim::ScenarioFaults("clean").value();
    dkv::sim::RaftCluster cluster(static_cast<uint64_t>(seed), o);
    uint64_t old_term = UINT64_MAX;
    int64_t crash_us = -1, first_commit_us = -1;
    cluster.on_apply = [&](dkv::raft::NodeId, const dkv::raft::Entry& e) {
      if (crash_us >= 0 && first_commit_us < 0 && e.term > old_term) {
        first_commit_us = cluster.loop().now_us();
      }
    };
    cluster.Start(false);
    cluster.RunFor(2'000'000);
    const dkv::raft::NodeId leader = cluster.Leader();
    if (leader == dkv::raft::kNoNode) {
      ++f.no_leader;
      continue;
    }
    old_term = cluster.TermOf(leader);
    // Crash at a random point of the heartbeat cycle.
    cluster.RunFor(static_cast<int64_t>(seed * 7919 % 10'000));
    crash_us = cluster.loop().now_us();
    cluster.CrashNode(leader);
    for (int i = 0; i < 100 && first_commit_us < 0; ++i) cluster.RunFor(100'000);
    if (first_commit_us < 0) {
      ++f.no_leader;
      continue;
    }
    f.ms.push_back(static_cast<double>(first_commit_us - crash_us) / 1000.0);
  }
  std::sort(f.ms.begin(), f.ms.end());
  return f;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// (c) ---------------------------------------------------------------------
struct CoreGroup {
  std::vector<std::unique_ptr<dkv::raft::MemoryLogStorage>> storage;
  std::vector<std::unique_ptr<dkv::raft::RawNode>> nodes;
  std::deque<dkv::raft::Message> wire;
  uint64_t committed_on_leader = 0;
  dkv::raft::NodeId leader = 1;

  explicit CoreGroup(int n) {
    std::vector<dkv::raft::NodeId> peers;
    for (int i = 1; i <= n; ++i) peers.push_back(static_cast<dkv::raft::NodeId>(i));
    for (int i = 1; i <= n; ++i) {
      storage.push_back(std::make_unique<dkv::raft::MemoryLogStorage>());
      dkv::raft::Config c;
      c.id = static_cast<dkv::raft::NodeId>(i);
      c.peers = peers;
      c.rng_seed = static_cast<uint64_t>(i);
      c.max_inflight_msgs = 4096;
      c.max_size_per_msg = 4 << 20;
      c.max_committed_size_per_ready = 64 << 20;
      nodes.push_back(dkv::raft::RawNode::Create(c, storage.back().get()).value());
    }
  }

  // Handles every Ready and delivers every message until the group is quiet.
  void Pump() {
    bool busy = true;
    while (busy) {
      busy = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        dkv::raft::RawNode& node = *nodes[i];
        while (node.HasReady()) {
          busy = true;
          dkv::raft::Ready rd = node.GetReady();
          if (rd.snapshot.has_value()) storage[i]->ApplySnapshot(*rd.snapshot).IgnoreError();
          if (!rd.entries.empty()) storage[i]->Append(rd.entries).IgnoreError();
          if (rd.hard_state.has_value()) storage[i]->SetHardState(*rd.hard_state);
          for (auto& m : rd.messages) wire.push_back(std::move(m));
          if (node.id() == leader) {
            for (const auto& e : rd.committed_entries) {
              if (e.type == dkv::raft::EntryType::kNormal && !e.data.empty()) {
                ++committed_on_leader;
              }
            }
          }
          node.Advance(rd);
        }
      }
      while (!wire.empty()) {
        busy = true;
        dkv::raft::Message m = std::move(wire.front());
        wire.pop_front();
        nodes[m.to - 1]->Step(m).IgnoreError();
      }
    }
  }
};

struct CoreThroughput {
  uint64_t entries = 0;
  double cpu_s = 0;
  bool ok = false;
};

// `batch` proposals per round: one Propose call each, or (as_one_message)
// all in one kMsgProp stepped into the leader, as a follower forwarding a
// batch would -- RawNode has no multi-entry Propose for the leader itself.
CoreThroughput MeasureCore(uint64_t target, int batch, bool as_one_message) {
  CoreThroughput t;
  CoreGroup g(3);
  if (!g.nodes[0]->Campaign().ok()) return t;
  g.Pump();
  if (g.nodes[0]->GetStatus().role != dkv::raft::Role::kLeader) return t;
  const std::string payload(16, 'x');
  const double cpu_start = CpuSeconds();
  while (g.committed_on_leader < target) {
    if (as_one_message) {
      dkv::raft::Message m;
      m.type = dkv::raft::MessageType::kMsgProp;
      m.from = 2;  // as if follower 2 forwarded a batch (Step refuses from == self)
      m.to = 1;
      m.entries.resize(static_cast<size_t>(batch));
      for (auto& e : m.entries) e.data = payload;
      if (!g.nodes[0]->Step(m).ok()) break;
    } else {
      for (int i = 0; i < batch; ++i) {
        if (!g.nodes[0]->Propose(payload).ok()) break;
      }
    }
    g.Pump();
  }
  t.cpu_s = CpuSeconds() - cpu_start;
  t.entries = g.committed_on_leader;
  t.ok = true;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;  // sim, failover or core: run just that part
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      only = argv[i] + 7;
    } else {
      std::fprintf(stderr, "usage: dkv_raft_bench [--quick] [--only=sim|failover|core]\n");
      return 2;
    }
  }
  auto runs = [&](const char* part) { return only.empty() || only == part; };
  std::printf("%-58s %s\n", "measure", "result");
  std::printf("%-58s %s\n", std::string(58, '-').c_str(), std::string(34, '-').c_str());

  for (int clients : {4, 16}) {
    if (!runs("sim")) break;
    const SimSpeed s = MeasureSimSpeed(quick ? 20'000'000 : 120'000'000, clients);
    char label[96];
    std::snprintf(label, sizeof(label), "(a) simulator speed, 5 nodes, %d clients (%.0f ops/s)",
                  clients, static_cast<double>(s.ops) / s.virtual_s);
    std::printf("%-58s %.0fx CPU, %.0fx wall (%.0f virtual s, %.0f events/CPU s)\n", label,
                s.virtual_s / s.cpu_s, s.virtual_s / s.wall_s, s.virtual_s,
                static_cast<double>(s.events) / s.cpu_s);
  }

  for (int nodes : {3, 5}) {
    if (!runs("failover")) break;
    const Failover f = MeasureFailover(nodes, quick ? 50 : 300);
    char label[96];
    std::snprintf(label, sizeof(label), "(b) failover to first new-leader commit, %d nodes", nodes);
    std::printf("%-58s median %.1f ms, p99 %.1f ms, max %.1f ms (%zu seeds, %d without)\n", label,
                Percentile(f.ms, 0.5), Percentile(f.ms, 0.99), f.ms.empty() ? 0 : f.ms.back(),
                f.ms.size(), f.no_leader);
  }

  struct CoreCase {
    int batch;
    bool as_one_message;
  };
  for (CoreCase cc : {CoreCase{1, false}, CoreCase{64, false}, CoreCase{1024, false},
                      CoreCase{64, true}, CoreCase{1024, true}}) {
    if (!runs("core")) break;
    const CoreThroughput c = MeasureCore(quick ? 200'000 : 2'000'000, cc.batch, cc.as_one_message);
    char label[96];
    std::snprintf(label, sizeof(label), "(c) core throughput, 3 nodes, no I/O, %d %s", cc.batch,
                  cc.as_one_message ? "per kMsgProp" : "Propose calls/round");
    if (!c.ok) {
      std::printf("%-58s no leader elected\n", label);
      continue;
    }
    std::printf("%-58s %.0f entries/s (%llu in %.2f s CPU)\n", label,
                static_cast<double>(c.entries) / c.cpu_s,
                static_cast<unsigned long long>(c.entries), c.cpu_s);
  }
  return 0;
}
