#include "sim/raft_cluster.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "common/hash.h"
#include "sim/raft_cluster_internal.h"

namespace dkv::sim {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::Ready;
using raft::Role;

namespace {

// Formats into a caller's buffer with to_chars: this runs for every delivered
// message, and snprintf alone was a sixth of the simulator's time.
std::string_view MessageLine(const Message& m, char (&buf)[160]) {
  char* p = buf;
  char* const end = buf + sizeof(buf);
  auto put = [&](std::string_view text) {
    const size_t n = std::min(text.size(), static_cast<size_t>(end - p));
    std::memcpy(p, text.data(), n);
    p += n;
  };
  auto num = [&](uint64_t v) { p = std::to_chars(p, end, v).ptr; };
  put("m ");
  num(m.from);
  put(">");
  num(m.to);
  put(" ");
  put(raft::MessageTypeName(m.type));
  put(" t");
  num(m.term);
  put(" i");
  num(m.index);
  put(" lt");
  num(m.log_term);
  put(" c");
  num(m.commit);
  put(" n");
  num(m.entries.size());
  if (m.reject) put(" reject");
  return std::string_view(buf, static_cast<size_t>(p - buf));
}

uint64_t EntryHash(const Entry& e) { return Hash64(e.data, static_cast<uint64_t>(e.type) + 1); }

}  // namespace

std::string RunReport::Summary() const {
  std::string s = ok ? "ok" : "FAILED";
  s += " virtual_ms=" + std::to_string(virtual_us / 1000);
  s += " events=" + std::to_string(events);
  s += " ops=" + std::to_string(ops) + " (acked " + std::to_string(ops_acked) + ", unknown " +
       std::to_string(ops_unknown) + ", refused " + std::to_string(ops_failed) + ")";
  s += " check=" + std::string(check::VerdictName(verdict));
  s += " elections=" + std::to_string(elections) + " crashes=" + std::to_string(crashes) +
       " partitions=" + std::to_string(partitions) +
       " membership=" + std::to_string(membership_changes) +
       " transfers=" + std::to_string(transfers) + " snapshots=" + std::to_string(snapshots);
  s += " msgs=" + std::to_string(network.sent);
  char hash[32];
  snprintf(hash, sizeof(hash), " trace=%016llx", static_cast<unsigned long long>(trace_hash));
  s += hash;
  return s;
}

RaftCluster::RaftCluster(uint64_t seed, ClusterOptions options)
    : seed_(seed), options_(std::move(options)), rng_(seed) {
  DKV_ASSERT(options_.nodes >= 1);
  DKV_ASSERT(options_.clients >= 0);
  max_node_id_ = static_cast<NodeId>(options_.nodes + options_.max_added_nodes);
  next_fresh_id_ = static_cast<NodeId>(options_.nodes) + 1;
  network_ = std::make_unique<Network>(&loop_, &rng_, max_node_id_, options_.faults.link);
}

RaftCluster::~RaftCluster() = default;

void RaftCluster::Fail(const std::string& what) {
  if (!failure_.empty()) return;
  failure_ = what;
  loop_.Trace("FAIL " + what);
}

// ---------------------------------------------------------------- nodes

void RaftCluster::CreateNode(NodeId id, bool original) {
  DKV_ASSERT(id >= 1 && id <= max_node_id_);
  DKV_ASSERT(nodes_.count(id) == 0);
  auto n = std::make_unique<Node>();
  n->id = id;
  n->original = original;
  n->disk = std::make_unique<Disk>("disk of node " + std::to_string(id));
  const FaultOptions& f = options_.faults;
  const int64_t skew =
      f.clock_skew_us_max > 0 ? rng_.Range(-f.clock_skew_us_max, f.clock_skew_us_max) : 0;
  const double drift =
      f.clock_drift_ppm_max > 0 ? (rng_.NextDouble() * 2 - 1) * f.clock_drift_ppm_max : 0.0;
  n->clock = std::make_unique<SimClock>(&loop_, skew, drift);
  Node& ref = *n;
  nodes_.emplace(id, std::move(n));
  BootNode(ref);
}

void RaftCluster::BootNode(Node& n) {
  DKV_ASSERT(!n.up);
  DKV_ASSERT(!n.removed);
  raft::Config config;
  config.id = n.id;
  if (n.original) config.peers = original_voters_;
  config.election_tick = options_.election_tick;
  config.heartbeat_tick = options_.heartbeat_tick;
  config.pre_vote = options_.pre_vote && options_.faults.pre_vote;
  config.check_quorum = options_.check_quorum && options_.faults.check_quorum;
  // Small messages and snapshot chunks so paging and chunking paths run too.
  config.max_size_per_msg = 4096;
  config.max_snapshot_chunk_bytes = 256;
  if (options_.faults.lease_drift_bound_ticks >= 0) {
    config.clock_drift_bound_ticks = options_.faults.lease_drift_bound_ticks;
  }
  config.rng_seed = rng_.Next();
  // See ClusterOptions::explicit_applied_on_restart.
  auto snap_for_applied = n.disk->storage()->GetSnapshot();
  if (snap_for_applied.ok() && options_.explicit_applied_on_restart) {
    config.applied = snap_for_applied->metadata.index;
  }
  auto raw = raft::RawNode::Create(config, n.disk->storage());
  if (!raw.ok()) {
    Fail("node " + std::to_string(n.id) + " failed to start: " + raw.status().ToString());
    return;
  }
  n.raw = std::move(raw).value();
  n.up = true;
  n.ready_in_flight = false;
  n.sm.Clear();
  n.applied = 0;
  auto snap = n.disk->storage()->GetSnapshot();
  if (snap.ok() && !snap->IsEmpty()) {
    Status st = n.sm.RestoreSnapshot(snap->data);
    if (!st.ok()) Fail("node " + std::to_string(n.id) + " snapshot restore: " + st.ToString());
    n.applied = snap->metadata.index;
  }
  n.last_snapshot_index = n.applied;
  n.last_commit = 0;
  n.completeness_term = 0;
  loop_.Trace("boot " + std::to_string(n.id) + " applied " + std::to_string(n.applied));
  // A random phase so that nodes do not tick in lock step.
  const NodeId id = n.id;
  const uint64_t inc = n.incarnation;
  loop_.Schedule(rng_.Range(0, options_.tick_us - 1), [this, id, inc] {
    Node& node = *nodes_.at(id);
    if (node.up && node.incarnation == inc) ScheduleTick(node);
  });
  ProcessReady(n);
}

void RaftCluster::ScheduleTick(Node& n) {
  const NodeId id = n.id;
  const uint64_t inc = n.incarnation;
  loop_.Schedule(n.clock->ToVirtualDuration(options_.tick_us), [this, id, inc] {
    Node& node = *nodes_.at(id);
    if (!node.up || node.incarnation != inc) return;
    node.raw->Tick();
    ProcessReady(node);
    AfterStep(node);
    ScheduleTick(node);
  });
}

void RaftCluster::CrashNode(NodeId id) {
  Node& n = *nodes_.at(id);
  if (!n.up) return;
  loop_.Trace("crash " + std::to_string(id));
  n.up = false;
  n.raw.reset();
  n.disk->Crash();
  ++n.incarnation;
  n.ready_in_flight = false;
  n.sm.Clear();
  n.applied = 0;
  n.reads_by_context.clear();
  n.reads_waiting.clear();
  n.writes.clear();
  ++report_.crashes;
}

void RaftCluster::RestartNode(NodeId id) {
  Node& n = *nodes_.at(id);
  if (n.up || n.removed) return;
  ++report_.restarts;
  BootNode(n);
}

bool RaftCluster::IsUp(NodeId id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second->up;
}

uint64_t RaftCluster::TermOf(NodeId id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second->up) return 0;
  return it->second->raw->GetBasicStatus().hard_state.term;
}

NodeId RaftCluster::Leader() const {
  NodeId best = raft::kNoNode;
  uint64_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (!n->up) continue;
    raft::NodeStatus s = n->raw->GetBasicStatus();
    if (s.role == Role::kLeader && s.hard_state.term >= best_term) {
      best = id;
      best_term = s.hard_state.term;
    }
  }
  return best;
}

Status RaftCluster::ProposeAt(NodeId id, std::string data) {
  Node& n = *nodes_.at(id);
  if (!n.up) return Status::Unavailable("node " + std::to_string(id), "down");
  Status st = n.raw->Propose(std::move(data));
  ProcessReady(n);
  AfterStep(n);
  return st;
}

void RaftCluster::ProcessReady(Node& n) {
  if (!n.up || n.ready_in_flight || !n.raw->HasReady()) return;
  auto ready = std::make_shared<Ready>(n.raw->GetReady());
  n.ready_in_flight = true;
  const uint64_t generation = n.disk->BeginSync();
  if (options_.bug == InjectedBug::kSendBeforeSync) {
    for (Message& m : ready->messages) {
      const NodeId from = m.from, to = m.to;
      network_->Send(from, to, [this, msg = std::move(m)] { Deliver(msg); });
    }
    ready->messages.clear();
  }
  if (ready->must_sync || ready->snapshot.has_value()) {
    const FaultOptions& f = options_.faults;
    const int64_t fsync_us = rng_.Range(f.fsync_us_min, std::max(f.fsync_us_min, f.fsync_us_max));
    const NodeId id = n.id;
    const uint64_t inc = n.incarnation;
    loop_.Schedule(fsync_us,
                   [this, id, inc, generation, ready] { FinishReady(id, inc, generation, ready); });
  } else {
    FinishReady(n.id, n.incarnation, generation, ready);
  }
}

void RaftCluster::FinishReady(NodeId id, uint64_t incarnation, uint64_t generation,
                              std::shared_ptr<Ready> ready) {
  Node& n = *nodes_.at(id);
  if (!n.up || n.incarnation != incarnation) return;  // crashed meanwhile: the write is lost
  const bool synced = ready->must_sync || ready->snapshot.has_value();
  const bool fail = synced && faults_on_ && options_.faults.fsync_fail_probability > 0 &&
                    rng_.Bernoulli(options_.faults.fsync_fail_probability);
  DiskWrite write{ready->snapshot, ready->entries, ready->hard_state};
  Status st = n.disk->CompleteSync(generation, write, fail);
  if (st.IsIOError()) {
    // A failed fsync leaves the file in an unknown state: the only safe
    // reaction is to stop and recover from what is known durable.
    loop_.Trace("fsync failed on " + std::to_string(id));
    CrashNode(id);
    restart_in_steps_[id] = static_cast<int>(rng_.Range(1, options_.faults.crash_steps_max));
    return;
  }
  if (!st.ok()) {
    Fail("node " + std::to_string(id) + " could not persist a Ready: " + st.ToString());
    return;
  }

  // Log matching: an (index, term) pair names one entry, on every node.
  for (const Entry& e : ready->entries) {
    auto [it, inserted] = log_entries_.emplace(std::make_pair(e.index, e.term), EntryHash(e));
    if (!inserted && it->second != EntryHash(e)) {
      Fail("log matching: node " + std::to_string(id) + " persisted a different entry at index " +
           std::to_string(e.index) + " term " + std::to_string(e.term));
      return;
    }
  }

  // Leader completeness: once the new leader's first entry of its term is
  // durable, its log must hold every entry committed in earlier terms.
  if (n.completeness_term != 0) {
    bool has_own = false;
    for (const Entry& e : ready->entries) has_own |= e.term == n.completeness_term;
    if (has_own) {
      const raft::MemoryLogStorage& storage = *n.disk->storage();
      for (uint64_t index = storage.FirstIndex(); index < applied_.size(); ++index) {
        const auto& th = applied_[index];
        if (th.first == 0 || th.first >= n.completeness_term) continue;
        auto term = storage.Term(index);
        if (!term.ok() || *term != th.first) {
          Fail("leader completeness: leader " + std::to_string(id) + " of term " +
               std::to_string(n.completeness_term) + " lacks committed entry " +
               std::to_string(index) + " (term " + std::to_string(th.first) + ")");
          return;
        }
      }
      n.completeness_term = 0;
    }
  }

  if (ready->snapshot.has_value()) {
    const raft::Snapshot& snap = *ready->snapshot;
    Status rs = n.sm.RestoreSnapshot(snap.data);
    if (!rs.ok()) {
      Fail("node " + std::to_string(id) + " got a bad snapshot: " + rs.ToString());
      return;
    }
    loop_.Trace("install-snapshot " + std::to_string(id) + " at " +
                std::to_string(snap.metadata.index));
    n.applied = snap.metadata.index;
    n.last_snapshot_index = snap.metadata.index;
    n.reads_waiting.clear();  // rare; their clients time out
  }

  // Moved out: Advance does not look at messages, and this is the hot path.
  for (Message& m : ready->messages) {
    if (m.to < 1 || m.to > max_node_id_) {
      Fail("node " + std::to_string(id) + " sent to unknown node " + std::to_string(m.to));
      return;
    }
    const NodeId from = m.from, to = m.to;
    network_->Send(from, to, [this, msg = std::move(m)] { Deliver(msg); });
  }

  for (const Entry& e : ready->committed_entries) {
    ApplyEntry(n, e);
    if (failed() || !n.up) return;
  }

  for (const raft::ReadState& rs : ready->read_states) {
    auto it = n.reads_by_context.find(rs.context);
    if (it == n.reads_by_context.end()) continue;
    n.reads_waiting.emplace_back(rs.index, it->second);
    n.reads_by_context.erase(it);
  }

  n.raw->Advance(*ready);
  n.ready_in_flight = false;
  ServeReads(n);
  MaybeSnapshot(n);
  AfterStep(n);
  ProcessReady(n);
}

void RaftCluster::Deliver(const Message& m) {
  auto it = nodes_.find(m.to);
  if (it == nodes_.end() || !it->second->up) return;
  Node& n = *it->second;
  char buf[160];
  loop_.Trace(MessageLine(m, buf));
  Status st = n.raw->Step(m);
  if (!st.ok() && !st.IsUnavailable()) {
    loop_.Trace("step error on " + std::to_string(n.id) + ": " + st.ToString());
  }
  ProcessReady(n);
  AfterStep(n);
}

void RaftCluster::ApplyEntry(Node& n, const Entry& e) {
  if (e.index != n.applied + 1) {
    Fail("node " + std::to_string(n.id) + " applied index " + std::to_string(e.index) +
         " right after " + std::to_string(n.applied));
    return;
  }
  // State machine safety: one entry per index, whoever applies it.
  if (applied_.size() <= e.index) applied_.resize(e.index + 1, {0, 0});
  auto& seen = applied_[e.index];
  const uint64_t hash = EntryHash(e);
  if (seen.first == 0) {
    seen = {e.term, hash};
  } else if (seen.first != e.term || seen.second != hash) {
    Fail("state machine safety: node " + std::to_string(n.id) + " applied a different entry at " +
         std::to_string(e.index) + " (term " + std::to_string(e.term) + " vs " +
         std::to_string(seen.first) + ")");
    return;
  }
  n.applied = e.index;
  max_applied_ = std::max(max_applied_, e.index);
  if (on_apply) on_apply(n.id, e);

  if (e.type == EntryType::kConfChange) {
    auto cc = raft::DecodeConfChange(e.data);
    if (!cc.ok()) {
      Fail("undecodable conf change at " + std::to_string(e.index) + ": " + cc.status().ToString());
      return;
    }
    if (e.index > voters_index_) {
      voters_index_ = e.index;
      loop_.Trace("conf " + std::to_string(static_cast<int>(cc->type)) + " node " +
                  std::to_string(cc->node_id) + " at " + std::to_string(e.index));
      if (cc->type == ConfChangeType::kAddVoter) {
        voters_.insert(cc->node_id);
        learners_.erase(cc->node_id);
      } else if (cc->type == ConfChangeType::kAddLearner) {
        learners_.insert(cc->node_id);
        voters_.erase(cc->node_id);
      } else {
        voters_.erase(cc->node_id);
        learners_.erase(cc->node_id);
      }
      if (cc->type == ConfChangeType::kRemoveNode) {
        auto target = nodes_.find(cc->node_id);
        if (target != nodes_.end() && !target->second->removed) {
          target->second->removed = true;
          const NodeId victim = cc->node_id;
          // Stopped in its own event: it may be the node applying this entry.
          loop_.Schedule(0, [this, victim] {
            CrashNode(victim);
            restart_in_steps_.erase(victim);
          });
        }
      }
    }
    return;
  }
  if (e.data.empty()) return;  // a leader's no-op
  auto cmd = DecodeCommand(e.data);
  if (!cmd.ok()) {
    Fail("undecodable entry at " + std::to_string(e.index) + ": " + cmd.status().ToString());
    return;
  }
  KvResult r = n.sm.Apply(*cmd);
  if (!r.applied) return;
  auto w = n.writes.find({cmd->client, cmd->request});
  if (w != n.writes.end()) {
    Reply(*w->second, false, raft::kNoNode, r.value, r.cas_ok);
    n.writes.erase(w);
  }
}

void RaftCluster::ServeReads(Node& n) {
  auto& waiting = n.reads_waiting;
  for (size_t i = 0; i < waiting.size();) {
    if (waiting[i].first <= n.applied) {
      const Request& req = *waiting[i].second;
      Reply(req, false, raft::kNoNode, n.sm.Read(req.command.key), false);
      waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

void RaftCluster::MaybeSnapshot(Node& n) {
  const uint64_t every = options_.faults.snapshot_every_entries;
  if (every == 0 || n.applied < n.last_snapshot_index + every) return;
  raft::MemoryLogStorage* storage = n.disk->storage();
  raft::NodeStatus s = n.raw->GetStatus();
  if (s.applied != n.applied || n.applied > storage->LastIndex()) return;
  Status st = storage->CreateSnapshot(n.applied, s.conf_state, n.sm.EncodeSnapshot());
  if (!st.ok()) {
    Fail("node " + std::to_string(n.id) + " snapshot: " + st.ToString());
    return;
  }
  // Keep a few entries behind the snapshot now and then, so both "follower
  // catches up from the log" and "follower needs the snapshot" happen.
  const uint64_t keep = rng_.Uniform(4);
  const uint64_t compact = n.applied > keep ? n.applied - keep : 0;
  if (compact >= storage->FirstIndex()) {
    st = storage->Compact(compact);
    if (!st.ok()) Fail("node " + std::to_string(n.id) + " compact: " + st.ToString());
  }
  n.last_snapshot_index = n.applied;
  ++report_.snapshots;
  loop_.Trace("snapshot " + std::to_string(n.id) + " at " + std::to_string(n.applied));
}

void RaftCluster::AfterStep(Node& n) {
  if (!n.up || failed()) return;
  raft::NodeStatus s = n.raw->GetBasicStatus();
  if (s.role == Role::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(s.hard_state.term, n.id);
    if (inserted) {
      ++report_.elections;
      n.completeness_term = s.hard_state.term;
      loop_.Trace("leader " + std::to_string(n.id) + " term " + std::to_string(s.hard_state.term));
    } else if (it->second != n.id) {
      Fail("election safety: term " + std::to_string(s.hard_state.term) + " has two leaders, " +
           std::to_string(it->second) + " and " + std::to_string(n.id));
      return;
    }
  }
  if (s.hard_state.commit < n.last_commit) {
    Fail("commit index of node " + std::to_string(n.id) + " went back from " +
         std::to_string(n.last_commit) + " to " + std::to_string(s.hard_state.commit));
    return;
  }
  n.last_commit = s.hard_state.commit;
}

}  // namespace dkv::sim
