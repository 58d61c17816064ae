#include "sim/raft_cluster.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "common/hash.h"

namespace dkv::sim {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::Ready;
using raft::Role;

// A client request as it travels to a node and waits there for its answer.
struct RaftCluster::Request {
  uint64_t client = 0;
  uint64_t request = 0;
  KvCommand command;
  bool read_index = false;  // a get served by ReadIndex rather than through the log
};

struct RaftCluster::Node {
  NodeId id = raft::kNoNode;
  bool original = false;  // one of the bootstrap voters
  std::unique_ptr<Disk> disk;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<raft::RawNode> raw;  // null while down
  bool up = false;
  bool removed = false;      // taken out of the group: stopped for good
  uint64_t incarnation = 0;  // bumped by every crash; stale callbacks check it
  bool ready_in_flight = false;

  // Volatile state, rebuilt from the disk on restart.
  KvStateMachine sm;
  uint64_t applied = 0;
  uint64_t last_commit = 0;
  uint64_t last_snapshot_index = 0;
  uint64_t completeness_term = 0;  // a leader-completeness check is due for this term
  std::map<std::string, std::shared_ptr<Request>> reads_by_context;
  std::vector<std::pair<uint64_t, std::shared_ptr<Request>>> reads_waiting;  // (read index, req)
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<Request>> writes;  // (client, request)
};

struct RaftCluster::Client {
  uint64_t id = 0;
  uint64_t next_request = 1;
  uint64_t outstanding = 0;  // request id in flight, 0 = none
  size_t op_index = 0;       // its Operation in history_
  EventLoop::EventId timeout = 0;
  NodeId leader_hint = raft::kNoNode;
  std::map<std::string, std::optional<std::string>> last_seen;  // for CAS expectations
};

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
  return it->second->raw->GetStatus().hard_state.term;
}

NodeId RaftCluster::Leader() const {
  NodeId best = raft::kNoNode;
  uint64_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (!n->up) continue;
    raft::NodeStatus s = n->raw->GetStatus();
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
      for (const auto& [index, th] : applied_) {
        if (th.first >= n.completeness_term || index < storage.FirstIndex()) continue;
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
  auto [it, inserted] = applied_.emplace(e.index, std::make_pair(e.term, EntryHash(e)));
  if (!inserted && (it->second.first != e.term || it->second.second != EntryHash(e))) {
    Fail("state machine safety: node " + std::to_string(n.id) + " applied a different entry at " +
         std::to_string(e.index) + " (term " + std::to_string(e.term) + " vs " +
         std::to_string(it->second.first) + ")");
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
      } else {
        voters_.erase(cc->node_id);
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
  raft::NodeStatus s = n.raw->GetStatus();
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

// ---------------------------------------------------------------- clients

void RaftCluster::ClientNext(Client& c, int64_t delay_us) {
  const uint64_t id = c.id;
  loop_.Schedule(delay_us, [this, id] { ClientIssue(*clients_[id - 1]); });
}

void RaftCluster::ClientIssue(Client& c) {
  if (!clients_on_ || failed()) return;
  DKV_ASSERT(c.outstanding == 0);
  auto req = std::make_shared<Request>();
  req->client = c.id;
  req->request = c.next_request++;
  KvCommand& cmd = req->command;
  cmd.client = c.id;
  cmd.request = req->request;
  cmd.key = "k" + std::to_string(rng_.Uniform(static_cast<uint64_t>(options_.keys)));
  const uint64_t dice = rng_.Uniform(10);
  check::Operation op;
  if (dice < 4) {
    cmd.kind = check::OpKind::kGet;
    req->read_index = rng_.Bernoulli(options_.read_index_probability);
    op = check::Operation::Get(c.id, cmd.key, std::nullopt, loop_.now_us(),
                               check::kUnknownCompletion);
  } else {
    cmd.value = "c" + std::to_string(c.id) + "-" + std::to_string(req->request);
    if (dice < 8) {
      cmd.kind = check::OpKind::kPut;
      op = check::Operation::Put(c.id, cmd.key, cmd.value, loop_.now_us(),
                                 check::kUnknownCompletion);
    } else {
      cmd.kind = check::OpKind::kCas;
      auto seen = c.last_seen.find(cmd.key);
      if (seen != c.last_seen.end()) cmd.expected = seen->second;
      op = check::Operation::Cas(c.id, cmd.key, cmd.expected, cmd.value, false, loop_.now_us(),
                                 check::kUnknownCompletion);
    }
  }
  c.outstanding = req->request;
  c.op_index = history_.size();
  history_.push_back(std::move(op));
  refused_.push_back(false);

  // Target: the leader it last heard of, else any node it knows of.
  NodeId target = c.leader_hint;
  if (target == raft::kNoNode || nodes_.count(target) == 0 || nodes_.at(target)->removed) {
    std::vector<NodeId> candidates;
    for (const auto& [id, n] : nodes_) {
      if (!n->removed) candidates.push_back(id);
    }
    target = candidates[rng_.Uniform(candidates.size())];
  }
  loop_.Trace("client " + std::to_string(c.id) + " req " + std::to_string(req->request) + " -> " +
              std::to_string(target) + " " + std::to_string(static_cast<int>(cmd.kind)) + " " +
              cmd.key);
  loop_.Schedule(rng_.Range(options_.client_latency_us_min, options_.client_latency_us_max),
                 [this, target, req] { HandleRequest(target, req); });
  const uint64_t client = c.id;
  const uint64_t request = req->request;
  c.timeout = loop_.Schedule(options_.client_timeout_us,
                             [this, client, request] { ClientTimeout(client, request); });
}

void RaftCluster::HandleRequest(NodeId id, std::shared_ptr<Request> req) {
  Node& n = *nodes_.at(id);
  if (!n.up) return;  // the client will time out
  Status st;
  if (options_.bug == InjectedBug::kStaleReads && req->command.kind == check::OpKind::kGet) {
    Reply(*req, false, raft::kNoNode, n.sm.Read(req->command.key), false);
    return;
  }
  if (req->command.kind == check::OpKind::kGet && req->read_index) {
    std::string context = "n" + std::to_string(id) + "." + std::to_string(n.incarnation) + "c" +
                          std::to_string(req->client) + "r" + std::to_string(req->request);
    st = n.raw->ReadIndex(context);
    if (st.ok()) n.reads_by_context[context] = req;
  } else {
    st = n.raw->Propose(EncodeCommand(req->command));
    if (st.ok()) {
      if (options_.bug == InjectedBug::kAckBeforeCommit &&
          req->command.kind == check::OpKind::kPut) {
        Reply(*req, false, raft::kNoNode, std::nullopt, false);
      } else {
        n.writes[{req->client, req->request}] = req;
      }
    }
  }
  if (!st.ok()) {
    // Refused before entering the log: it cannot take effect.
    Reply(*req, true, n.raw->GetStatus().leader_id, std::nullopt, false);
  }
  ProcessReady(n);
  AfterStep(n);
}

void RaftCluster::Reply(const Request& req, bool refused, NodeId leader_hint,
                        std::optional<std::string> value, bool cas_ok) {
  const uint64_t client = req.client;
  const uint64_t request = req.request;
  loop_.Schedule(rng_.Range(options_.client_latency_us_min, options_.client_latency_us_max),
                 [this, client, request, refused, leader_hint, value, cas_ok] {
                   ClientReply(client, request, refused, leader_hint, value, cas_ok);
                 });
}

void RaftCluster::ClientReply(uint64_t client, uint64_t request, bool refused, NodeId leader_hint,
                              std::optional<std::string> value, bool cas_ok) {
  Client& c = *clients_[client - 1];
  if (c.outstanding != request) return;  // a late answer to an op already timed out
  loop_.Cancel(c.timeout);
  c.outstanding = 0;
  check::Operation& op = history_[c.op_index];
  if (refused) {
    refused_[c.op_index] = true;
    c.leader_hint = leader_hint;
    loop_.Trace("client " + std::to_string(client) + " refused " + std::to_string(request));
    ClientNext(c, rng_.Range(1000, 10'000));
    return;
  }
  op.complete_us = loop_.now_us();
  switch (op.kind) {
    case check::OpKind::kGet:
      op.output = value;
      c.last_seen[op.key] = value;
      break;
    case check::OpKind::kPut:
      c.last_seen[op.key] = op.value;
      break;
    case check::OpKind::kCas:
      op.cas_ok = cas_ok;
      if (cas_ok)
        c.last_seen[op.key] = op.value;
      else
        c.last_seen.erase(op.key);
      break;
  }
  if (in_heal_) ++acked_in_heal_;
  loop_.Trace("client " + std::to_string(client) + " done " + std::to_string(request) + " " +
              (value.has_value() ? *value : std::string("-")) + (cas_ok ? " ok" : ""));
  ClientNext(c, rng_.Range(0, options_.client_think_us_max));
}

void RaftCluster::ClientTimeout(uint64_t client, uint64_t request) {
  Client& c = *clients_[client - 1];
  if (c.outstanding != request) return;
  c.outstanding = 0;
  c.leader_hint = raft::kNoNode;
  loop_.Trace("client " + std::to_string(client) + " timeout " + std::to_string(request));
  ClientNext(c, rng_.Range(0, options_.client_think_us_max));
}

check::History RaftCluster::history() const {
  check::History h;
  for (size_t i = 0; i < history_.size(); ++i) {
    if (!refused_[i]) h.push_back(history_[i]);
  }
  return h;
}

// ---------------------------------------------------------------- driver

std::vector<NodeId> RaftCluster::Voters() const { return {voters_.begin(), voters_.end()}; }

std::vector<NodeId> RaftCluster::UpVoters() const {
  std::vector<NodeId> out;
  for (NodeId v : voters_) {
    auto it = nodes_.find(v);
    if (it != nodes_.end() && it->second->up) out.push_back(v);
  }
  return out;
}

void RaftCluster::Start(bool clients) {
  for (int i = 1; i <= options_.nodes; ++i) original_voters_.push_back(static_cast<NodeId>(i));
  voters_.insert(original_voters_.begin(), original_voters_.end());
  for (NodeId id : original_voters_) CreateNode(id, true);
  if (!clients) return;
  clients_on_ = true;
  for (int i = 1; i <= options_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->id = static_cast<uint64_t>(i);
    clients_.push_back(std::move(c));
    ClientNext(*clients_.back(), rng_.Range(0, 10 * options_.tick_us));
  }
}

bool RaftCluster::RunFor(int64_t us) {
  if (failed()) return false;
  loop_.RunUntil(loop_.now_us() + us, [this] { return failed(); });
  return !failed();
}

void RaftCluster::StartPartition() {
  const FaultOptions& f = options_.faults;
  std::vector<NodeId> members;
  for (const auto& [id, n] : nodes_) {
    if (!n->removed) members.push_back(id);
  }
  if (members.size() < 2) return;
  for (size_t i = members.size() - 1; i > 0; --i) {
    std::swap(members[i], members[rng_.Uniform(i + 1)]);
  }
  std::vector<int> kinds;
  if (f.partition_symmetric) kinds.push_back(0);
  if (f.partition_asymmetric) kinds.push_back(1);
  if (f.partition_isolate) kinds.push_back(2);
  if (f.partition_bridge && members.size() >= 3) kinds.push_back(3);
  if (kinds.empty()) return;
  const NodeId leader = Leader();
  switch (kinds[rng_.Uniform(kinds.size())]) {
    case 0: {
      const size_t cut = 1 + rng_.Uniform(members.size() - 1);
      network_->PartitionSymmetric({members.begin(), members.begin() + cut},
                                   {members.begin() + cut, members.end()});
      break;
    }
    case 1: {
      NodeId from = members[0];
      NodeId to = members[1];
      if (leader != raft::kNoNode && rng_.OneIn(2)) {
        from = leader;
        to = members[0] == leader ? members[1] : members[0];
      }
      if (rng_.OneIn(2)) std::swap(from, to);
      network_->BlockOneWay(from, to);
      break;
    }
    case 2:
      network_->Isolate(leader != raft::kNoNode && rng_.OneIn(2) ? leader : members[0]);
      break;
    case 3: {
      const NodeId bridge = members[0];
      const size_t cut = 1 + rng_.Uniform(members.size() - 2);  // both halves non-empty
      network_->Bridge({members.begin() + 1, members.begin() + 1 + cut}, bridge,
                       {members.begin() + 1 + cut, members.end()});
      break;
    }
  }
  partition_steps_left_ = static_cast<int>(rng_.Range(1, f.partition_steps_max));
  ++report_.partitions;
  loop_.Trace("partition " + network_->partition_description());
}

void RaftCluster::StartMembershipChange() {
  const NodeId leader = Leader();
  if (leader == raft::kNoNode) return;
  Node& l = *nodes_.at(leader);
  const size_t voters = voters_.size();
  const size_t target = static_cast<size_t>(options_.nodes);
  bool add = voters < target || (voters == target && rng_.OneIn(2));
  if (add && next_fresh_id_ > max_node_id_) add = false;
  if (!add && voters <= target - 1 && voters <= 2) return;
  if (!add && voters < target) return;
  ConfChange cc;
  if (add) {
    cc.type = ConfChangeType::kAddVoter;
    cc.node_id = next_fresh_id_++;
    CreateNode(cc.node_id, false);
  } else {
    std::vector<NodeId> candidates;
    for (NodeId v : voters_) {
      if (v != leader) candidates.push_back(v);
    }
    if (candidates.empty()) return;
    cc.type = ConfChangeType::kRemoveNode;
    cc.node_id = candidates[rng_.Uniform(candidates.size())];
  }
  Status st = l.raw->ProposeConfChange(cc);
  loop_.Trace("propose conf " + std::to_string(static_cast<int>(cc.type)) + " node " +
              std::to_string(cc.node_id) + ": " + st.ToString());
  if (st.ok()) ++report_.membership_changes;
  ProcessReady(l);
  AfterStep(l);
}

void RaftCluster::DriverStep() {
  if (!faults_on_ || failed()) return;
  const FaultOptions& f = options_.faults;

  for (auto it = restart_in_steps_.begin(); it != restart_in_steps_.end();) {
    if (--it->second <= 0) {
      const NodeId id = it->first;
      it = restart_in_steps_.erase(it);
      RestartNode(id);
    } else {
      ++it;
    }
  }
  if (network_->partitioned()) {
    if (--partition_steps_left_ <= 0) {
      network_->Heal();
      loop_.Trace("heal partition");
    }
  } else if (f.partition_probability > 0 && rng_.Bernoulli(f.partition_probability)) {
    StartPartition();
  }

  // Crashes keep a majority of the voters up, so the group can still progress.
  auto may_crash = [this] {
    if (options_.faults.crash_majority) return true;
    const size_t voters = voters_.size();
    const size_t down = voters - UpVoters().size();
    return down + 1 <= (voters - 1) / 2;
  };
  auto crash = [this](NodeId id) {
    CrashNode(id);
    restart_in_steps_[id] = static_cast<int>(rng_.Range(1, options_.faults.crash_steps_max));
  };
  if (f.crash_probability > 0 && rng_.Bernoulli(f.crash_probability) && may_crash()) {
    std::vector<NodeId> up = UpVoters();
    if (!up.empty()) crash(up[rng_.Uniform(up.size())]);
  }
  if (f.crash_leader_probability > 0 && rng_.Bernoulli(f.crash_leader_probability) && may_crash()) {
    const NodeId leader = Leader();
    if (leader != raft::kNoNode) crash(leader);
  }
  if (f.membership_probability > 0 && rng_.Bernoulli(f.membership_probability)) {
    StartMembershipChange();
  }
  if (f.transfer_probability > 0 && rng_.Bernoulli(f.transfer_probability)) {
    const NodeId leader = Leader();
    std::vector<NodeId> others;
    for (NodeId v : voters_) {
      if (v != leader) others.push_back(v);
    }
    if (leader != raft::kNoNode && !others.empty()) {
      const NodeId to = others[rng_.Uniform(others.size())];
      Node& l = *nodes_.at(leader);
      Status st = l.raw->TransferLeadership(to);
      loop_.Trace("transfer " + std::to_string(leader) + " -> " + std::to_string(to) + ": " +
                  st.ToString());
      ++report_.transfers;
      ProcessReady(l);
      AfterStep(l);
    }
  }
  if (failed()) return;
  loop_.Schedule(options_.step_us, [this] { DriverStep(); });
}

void RaftCluster::HealAll() {
  faults_on_ = false;
  network_->Heal();
  for (NodeId a = 1; a <= max_node_id_; ++a) {
    for (NodeId b = 1; b <= max_node_id_; ++b) network_->SetLink(a, b, LinkOptions{});
  }
  restart_in_steps_.clear();
  for (const auto& [id, n] : nodes_) {
    if (!n->up && !n->removed) RestartNode(id);
  }
  loop_.Trace("heal all");
}

bool RaftCluster::CheckConvergence() {
  // Every running member must reach the same applied index and state. Idle
  // heartbeats carry the commit index, so a few election timeouts suffice.
  constexpr int kMaxRounds = 100;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (!RunFor(options_.step_us)) return false;
    uint64_t applied = 0;
    uint64_t fingerprint = 0;
    bool same = true;
    bool first = true;
    for (NodeId v : voters_) {
      const Node& n = *nodes_.at(v);
      if (!n.up) continue;
      const uint64_t fp = n.sm.Fingerprint();
      if (first) {
        applied = n.applied;
        fingerprint = fp;
        first = false;
      } else if (n.applied != applied || fp != fingerprint) {
        same = false;
      }
    }
    if (same && !first && Leader() != raft::kNoNode && applied == max_applied_) return true;
  }
  std::string detail;
  for (NodeId v : voters_) {
    const Node& n = *nodes_.at(v);
    detail += " node " + std::to_string(v) + (n.up ? "" : "(down)") + " applied " +
              std::to_string(n.applied);
  }
  Fail("no convergence after healing:" + detail + "; max applied " + std::to_string(max_applied_) +
       "; leader " + std::to_string(Leader()));
  return false;
}

void RaftCluster::CheckLostWrites(const std::map<std::string, std::string>& final_state) {
  // Values are unique per operation, so the final value of a key names the
  // write that produced it. A write acknowledged to a client is lost if that
  // write finished before the acknowledged one even began.
  std::map<std::string, const check::Operation*> writer;  // value -> op
  for (const check::Operation& op : history_) {
    if (op.kind != check::OpKind::kGet) writer[op.value] = &op;
  }
  for (int k = 0; k < options_.keys; ++k) {
    const std::string key = "k" + std::to_string(k);
    auto it = final_state.find(key);
    const check::Operation* last = nullptr;
    if (it != final_state.end()) {
      auto w = writer.find(it->second);
      if (w == writer.end()) {
        Fail("key " + key + " holds \"" + it->second + "\", which no client wrote");
        return;
      }
      last = w->second;
      const size_t index = static_cast<size_t>(last - history_.data());
      if (refused_[index]) {
        Fail("key " + key + " holds \"" + it->second + "\" from a refused request");
        return;
      }
    }
    for (size_t i = 0; i < history_.size(); ++i) {
      const check::Operation& op = history_[i];
      if (op.key != key || refused_[i] || op.unknown()) continue;
      const bool acked_write =
          op.kind == check::OpKind::kPut || (op.kind == check::OpKind::kCas && op.cas_ok);
      if (!acked_write || &op == last) continue;
      if (last == nullptr || (!last->unknown() && last->complete_us < op.invoke_us)) {
        Fail("lost write: acknowledged " + check::Describe(op) + " but key " + key + " ends as " +
             (last ? "\"" + last->value + "\"" : std::string("<absent>")));
        return;
      }
    }
  }
}

RunReport RaftCluster::Run() {
  Start(true);
  faults_on_ = true;
  loop_.Schedule(options_.step_us, [this] { DriverStep(); });
  RunFor(options_.fault_steps * options_.step_us);
  if (!failed()) {
    HealAll();
    in_heal_ = true;
    RunFor(options_.heal_steps * options_.step_us);
    if (!failed() && options_.clients > 0 && acked_in_heal_ == 0) {
      Fail("no progress: no client operation completed in " +
           std::to_string(options_.heal_steps * options_.step_us / 1000) + " ms after healing");
    }
  }
  if (!failed()) {
    clients_on_ = false;  // let outstanding requests finish or time out
    RunFor(options_.client_timeout_us + options_.step_us);
  }
  if (!failed() && CheckConvergence()) {
    CheckLostWrites(nodes_.at(Leader())->sm.data());
  }

  check::History h = history();
  report_.ops = h.size();
  for (const check::Operation& op : h) {
    if (op.unknown())
      ++report_.ops_unknown;
    else
      ++report_.ops_acked;
  }
  report_.ops_failed = history_.size() - h.size();
  if (!failed()) {
    check::CheckResult cr = check::CheckLinearizable(h, options_.check);
    report_.verdict = cr.verdict;
    report_.check_steps = cr.steps;
    if (cr.verdict == check::Verdict::kViolation) Fail("linearizability: " + cr.explanation);
  }
  report_.ok = !failed();
  report_.failure = failure_;
  report_.trace_hash = loop_.trace_hash();
  report_.events = loop_.events_run();
  report_.virtual_us = loop_.now_us();
  report_.network = network_->stats();
  return report_;
}

}  // namespace dkv::sim
