// dkv_raft_throughput_bench: committed entries per second through an in-process
// 3-node Raft group with no I/O, for several proposal batch sizes.
//
// Each round the leader gets `batch` proposals, either as `batch` Propose calls or
// as one ProposeBatch call; then every Ready is handled (a MemoryLogStorage
// append, messages stepped straight into their target) until the group is quiet.
// An entry counts once the leader hands it out as committed. Each figure is the
// median of three runs, each bounded by CPU time; rates are per process-CPU
// second (the machine is shared, wall time overstates cost). The logs are
// compacted as they grow so memory stays bounded however long a run lasts.
//
// Usage: dkv_raft_throughput_bench [--seconds=S] [--payload=BYTES] [--batches=1,16,...]
//                                  [--mode=calls|batch]  (default: both)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/log_storage.h"
#include "raft/raw_node.h"

namespace {

using dkv::raft::Entry;
using dkv::raft::EntryType;
using dkv::raft::MemoryLogStorage;
using dkv::raft::Message;
using dkv::raft::NodeId;
using dkv::raft::RawNode;
using dkv::raft::Ready;

// Entries applied on a node between two compactions of its log.
constexpr uint64_t kCompactEvery = 1 << 16;
// Runs per figure (the median is reported).
constexpr int kRuns = 3;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

class Group {
 public:
  explicit Group(int n) {
    std::vector<NodeId> peers;
    for (int i = 1; i <= n; ++i) peers.push_back(static_cast<NodeId>(i));
    for (int i = 1; i <= n; ++i) {
      storage_.push_back(std::make_unique<MemoryLogStorage>());
      dkv::raft::Config c;
      c.id = static_cast<NodeId>(i);
      c.peers = peers;
      c.rng_seed = static_cast<uint64_t>(i);
      c.max_inflight_msgs = 4096;
      c.max_size_per_msg = 4 << 20;
      c.max_committed_size_per_ready = 64 << 20;
      nodes_.push_back(RawNode::Create(c, storage_.back().get()).value());
    }
    applied_.assign(nodes_.size(), 0);
    compacted_.assign(nodes_.size(), 0);
  }

  RawNode& leader() { return *nodes_[0]; }
  uint64_t committed_on_leader() const { return committed_on_leader_; }

  // Handles every Ready and delivers every message until the group is quiet.
  void Pump() {
    bool busy = true;
    while (busy) {
      busy = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        RawNode& node = *nodes_[i];
        while (node.HasReady()) {
          busy = true;
          Ready rd = node.GetReady();
          MemoryLogStorage& st = *storage_[i];
          if (rd.snapshot.has_value()) st.ApplySnapshot(*rd.snapshot).IgnoreError();
          if (!rd.entries.empty()) st.Append(rd.entries).IgnoreError();
          if (rd.hard_state.has_value()) st.SetHardState(*rd.hard_state);
          for (Message& m : rd.messages) wire_.push_back(std::move(m));
          if (i == 0) {
            for (const Entry& e : rd.committed_entries) {
              if (e.type == EntryType::kNormal && !e.data.empty()) ++committed_on_leader_;
            }
          }
          if (!rd.committed_entries.empty()) applied_[i] = rd.committed_entries.back().index;
          node.Advance(rd);
          MaybeCompact(i);
        }
      }
      while (!wire_.empty()) {
        busy = true;
        Message m = std::move(wire_.front());
        wire_.pop_front();
        nodes_[m.to - 1]->Step(m).IgnoreError();
      }
    }
  }

 private:
  void MaybeCompact(size_t i) {
    if (applied_[i] < compacted_[i] + kCompactEvery) return;
    MemoryLogStorage& st = *storage_[i];
    const dkv::raft::ConfState cs = nodes_[i]->GetStatus().conf_state;
    if (!st.CreateSnapshot(applied_[i], cs, "").ok()) return;
    // Keep a tail so a follower a little behind still gets entries, not a snapshot.
    const uint64_t keep = 4096;
    if (applied_[i] > keep) st.Compact(applied_[i] - keep).IgnoreError();
    compacted_[i] = applied_[i];
  }

  std::vector<std::unique_ptr<MemoryLogStorage>> storage_;
  std::vector<std::unique_ptr<RawNode>> nodes_;
  std::vector<uint64_t> applied_;
  std::vector<uint64_t> compacted_;
  std::deque<Message> wire_;
  uint64_t committed_on_leader_ = 0;
};

struct Run {
  double cpu_rate = 0;   // committed entries per CPU second
  double wall_rate = 0;  // committed entries per wall second
  bool ok = false;
};

Run MeasureOnce(int batch, bool one_call, double seconds, size_t payload_bytes) {
  Run r;
  Group g(3);
  if (!g.leader().Campaign().ok()) return r;
  g.Pump();
  if (g.leader().GetStatus().role != dkv::raft::Role::kLeader) return r;
  const std::string payload(payload_bytes, 'x');
  const uint64_t start_count = g.committed_on_leader();
  const double cpu_start = CpuSeconds();
  const double wall_start = WallSeconds();
  double cpu_now = cpu_start;
  uint64_t rounds = 0;
  while (cpu_now - cpu_start < seconds) {
    if (one_call) {
      std::vector<std::string> data(static_cast<size_t>(batch), payload);
      if (!g.leader().ProposeBatch(std::move(data)).ok()) return r;
    } else {
      for (int i = 0; i < batch; ++i) {
        if (!g.leader().Propose(payload).ok()) return r;
      }
    }
    g.Pump();
    // Reading the clock costs about as much as a small round: check it sparingly.
    if (++rounds % 64 == 0) cpu_now = CpuSeconds();
  }
  const double cpu = CpuSeconds() - cpu_start;
  const double wall = WallSeconds() - wall_start;
  const auto n = static_cast<double>(g.committed_on_leader() - start_count);
  r.cpu_rate = n / cpu;
  r.wall_rate = n / wall;
  r.ok = true;
  return r;
}

Run MeasureMedian(int batch, bool one_call, double seconds, size_t payload_bytes) {
  std::vector<Run> runs;
  for (int k = 0; k < kRuns; ++k) {
    Run r = MeasureOnce(batch, one_call, seconds, payload_bytes);
    if (!r.ok) return r;
    runs.push_back(r);
  }
  std::sort(runs.begin(), runs.end(),
            [](const Run& a, const Run& b) { return a.cpu_rate < b.cpu_rate; });
  return runs[runs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  size_t payload = 16;
  std::vector<int> batches = {1, 16, 64, 256};
  bool calls = true, one_call = true;  // which ways of proposing to measure
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--seconds=", 10) == 0) {
      seconds = std::atof(a + 10);
    } else if (std::strncmp(a, "--payload=", 10) == 0) {
      payload = static_cast<size_t>(std::atol(a + 10));
    } else if (std::strncmp(a, "--batches=", 10) == 0) {
      batches.clear();
      for (const char* p = a + 10; *p != '\0';) {
        batches.push_back(std::atoi(p));
        p = std::strchr(p, ',');
        if (p == nullptr) break;
        ++p;
      }
    } else if (std::strcmp(a, "--mode=calls") == 0) {
      one_call = false;
    } else if (std::strcmp(a, "--mode=batch") == 0) {
      calls = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seconds=S] [--payload=BYTES] [--batches=1,16,64,256] "
                   "[--mode=calls|batch]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("3 nodes, no I/O, %zu-byte payloads, median of %d runs of %.2f CPU s each\n", payload,
              kRuns, seconds);
  std::printf("%-7s %-22s %18s %18s\n", "batch", "proposed as", "entries/CPU s", "entries/wall s");
  for (int batch : batches) {
    for (bool as_batch : {false, true}) {
      if (as_batch ? !one_call : !calls) continue;
      if (batch == 1 && as_batch && calls) continue;  // the same as one Propose call
      const Run r = MeasureMedian(batch, as_batch, seconds, payload);
      const char* how = as_batch ? "1 ProposeBatch call" : "Propose calls";
      if (!r.ok) {
        std::printf("%-7d %-22s %18s\n", batch, how, "failed (no leader / refused)");
        continue;
      }
      std::printf("%-7d %-22s %18.0f %18.0f\n", batch, how, r.cpu_rate, r.wall_rate);
    }
  }
  return 0;
}
