#include "node/node.h"

#include <algorithm>
#include <future>
#include <memory>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "node/limits.h"

namespace dkv::node {

struct Node::Replica {
  ShardId shard = 0;
  GroupLog* log = nullptr;  // owned by the store
  std::unique_ptr<ShardStateMachine> sm;
  std::unique_ptr<raft::RawNode> raw;
  // Proposals by log index; (index, term) names the entry this leader appended.
  std::map<uint64_t, PendingProposal> proposals;
  // Reads not yet asked of Raft: the next round asks ONE ReadIndex for all of
  // them (a read index obtained after a read arrived serves that read), so N
  // reads cost one heartbeat round, not N.
  std::vector<PendingRead> reads_unsent;
  // Reads waiting for their read index, by ReadIndex context.
  std::map<std::string, std::vector<PendingRead>> reads_by_context;
  // Reads whose read index is known, waiting for applied >= index.
  std::vector<PendingRead> reads_waiting;
  // GC proposals (leader): the earliest tick a new pass may start, and the
  // index of the last kGc proposed (0: none in flight) with its deadline.
  uint64_t gc_next_pass_tick = 0;
  uint64_t gc_inflight_index = 0;
  uint64_t gc_inflight_deadline_tick = 0;
};

// A round between StartRound and FinishRound: the readies taken, and the
// raft-log write handed out (its result arrives through `written`).
struct Node::Round {
  struct Group {
    Replica* r = nullptr;
    raft::Ready rd;
    // Committed entries applied in StartRound (durable here before the round).
    size_t applied_early = 0;
  };
  std::vector<Group> groups;
  std::future<Status> written;
  bool write_submitted = false;
};

namespace {

std::string EncodeReplicaInfo(const std::vector<NodeId>& peers) {
  std::string v;
  PutVarint64(&v, peers.size());
  for (NodeId p : peers) PutVarint64(&v, p);
  return v;
}

Result<std::vector<NodeId>> DecodeReplicaInfo(std::string_view v) {
  uint64_t n;
  if (!GetVarint64(&v, &n) || n > v.size()) return Status::Corruption("replica info", "bad count");
  std::vector<NodeId> peers;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t id;
    if (!GetVarint64(&v, &id)) return Status::Corruption("replica info", "bad id");
    peers.push_back(id);
  }
  if (!v.empty()) return Status::Corruption("replica info", "trailing bytes");
  return peers;
}

std::string ShardName(ShardId shard) { return "shard " + std::to_string(shard); }

}  // namespace

Node::Node(const NodeOptions& options, Transport* transport)
    : options_(options),
      transport_(transport),
      env_(options.env != nullptr ? options.env : storage::Env::Posix()) {}

Node::~Node() = default;

Result<std::unique_ptr<Node>> Node::Open(const NodeOptions& options, Transport* transport) {
  if (options.id == raft::kNoNode) return Status::InvalidArgument("node options", "id is 0");
  if (options.clock == nullptr) return Status::InvalidArgument("node options", "no clock");
  if (options.data_dir.empty()) return Status::InvalidArgument("node options", "no data_dir");
  if (transport == nullptr) return Status::InvalidArgument("node options", "no transport");
  if (options.max_snapshot_chunk_bytes == 0 ||
      options.max_snapshot_chunk_bytes > kMaxSnapshotChunkBytes) {
    return Status::InvalidArgument("node options", "max_snapshot_chunk_bytes out of range");
  }
  if (options.gc_versions_per_step == 0 || options.gc_ttl_us < 0) {
    return Status::InvalidArgument("node options", "gc_versions_per_step 0 or gc_ttl_us < 0");
  }
  std::unique_ptr<Node> node(new Node(options, transport));
  node->hlc_ = std::make_unique<Hlc>(*options.clock, options.max_clock_offset_us);
  DKV_RETURN_IF_ERROR(node->env_->CreateDir(options.data_dir));
  DKV_ASSIGN_OR_RETURN(node->store_, RaftLogStore::Open(node->env_, options.data_dir + "/raft"));
  for (ShardId shard : node->store_->Groups()) {
    Result<std::string> info = node->store_->GetReplicaInfo(shard);
    if (info.status().IsNotFound()) continue;  // records of no replica: ignored
    DKV_RETURN_IF_ERROR(info.status());
    DKV_ASSIGN_OR_RETURN(std::vector<NodeId> peers, DecodeReplicaInfo(*info));
    DKV_RETURN_IF_ERROR(node->OpenReplica(shard, peers).WithContext(ShardName(shard)));
  }
  return node;
}

Status Node::OpenReplica(ShardId shard, const std::vector<NodeId>& peers) {
  auto r = std::make_unique<Replica>();
  r->shard = shard;
  DKV_ASSIGN_OR_RETURN(r->sm, ShardStateMachine::Open(env_, options_.data_dir, shard));
  r->sm->set_gc_versions_per_step(options_.gc_versions_per_step);
  r->gc_next_pass_tick = tick_ + options_.gc_interval_ticks;
  r->log = store_->GetOrCreate(shard);
  const AppliedState& applied = r->sm->applied();
  if (applied.index > r->log->hard_state().commit) {
    // The kv engine is ahead of the commit index the raft engine kept. Either
    // a commit-only hard state change was lost (those writes are not synced,
    // while the kv engine may have flushed): the entries are in the log, and
    // what was applied was committed, so only the commit index moves up. Or
    // the kv engine installed a snapshot and the crash came before the raft
    // engine recorded it: finish the install (the kv engine is the durable part).
    Result<uint64_t> term = r->log->Term(applied.index);
    raft::HardState hs = r->log->hard_state();
    if (!term.ok() || *term != applied.term) {
      DKV_RETURN_IF_ERROR(
          store_->ApplySnapshot(shard, {applied.index, applied.term, applied.conf}));
      if (hs.term < applied.term) hs = raft::HardState{applied.term, raft::kNoNode, 0};
    }
    hs.commit = applied.index;
    store_->SetHardState(shard, hs);
    DKV_RETURN_IF_ERROR(store_->Commit(true));
  }
  if (applied.index + 1 < r->log->FirstIndex()) {
    return Status::Corruption(ShardName(shard),
                              "log compacted to " + std::to_string(r->log->FirstIndex() - 1) +
                                  " beyond the applied index " + std::to_string(applied.index));
  }
  raft::Config c;
  c.id = options_.id;
  c.peers = peers;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.applied = applied.index;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  c.max_snapshot_chunk_bytes = options_.max_snapshot_chunk_bytes;
  c.snapshot_sink = r->sm->snapshot_sink();  // received chunks go to disk as they arrive
  c.clock_drift_bound_ticks = options_.lease_clock_drift_bound_ticks;
  c.forward_proposals = false;  // the server forwards, with the leader hint we return
  c.rng_seed = options_.rng_seed ^ Hash64(std::to_string(shard), options_.id);
  DKV_ASSIGN_OR_RETURN(r->raw, raft::RawNode::Create(c, r->log));
  // Snapshots are made on demand at the applied index, from a checkpoint of
  // the shard engine, whose applied state gives the metadata; raft reads the
  // bytes from the checkpoint's files chunk by chunk as it sends them.
  ShardStateMachine* sm = r->sm.get();
  r->log->SetSnapshotProvider([sm]() -> Result<raft::Snapshot> {
    raft::Snapshot s;
    DKV_ASSIGN_OR_RETURN(s.source, sm->CreateSnapshotSource());
    const AppliedState& a = sm->applied();
    s.metadata = raft::SnapshotMetadata{a.index, a.term, a.conf};
    return s;
  });
  replicas_[shard] = std::move(r);
  return Status::OK();
}

Status Node::CreateReplica(ShardId shard, std::vector<NodeId> peers) {
  // Its synced write must not overlap a round's (nor be ordered before it).
  DKV_RETURN_IF_ERROR(SettleRound());
  if (HasReplica(shard)) return Status::InvalidArgument(ShardName(shard), "already hosted");
  if (!peers.empty() && std::find(peers.begin(), peers.end(), options_.id) == peers.end()) {
    return Status::InvalidArgument(ShardName(shard), "founding peers do not include this node");
  }
  if (ShardStateMachine::Exists(env_, options_.data_dir, shard)) {
    // Left by a RemoveReplica that crashed after dropping the group's log: a
    // new replica starts empty, never from another incarnation's data.
    DKV_ASSIGN_OR_RETURN(std::unique_ptr<ShardStateMachine> stale,
                         ShardStateMachine::Open(env_, options_.data_dir, shard));
    DKV_RETURN_IF_ERROR(stale->Destroy());
  }
  store_->PutReplicaInfo(shard, EncodeReplicaInfo(peers));
  DKV_RETURN_IF_ERROR(store_->Commit(true));
  return OpenReplica(shard, peers);
}

Status Node::RemoveReplica(ShardId shard) {
  // The round in flight may hold this replica's Ready and its log's records.
  if (round_ != nullptr) DKV_RETURN_IF_ERROR(SettleRound());
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  for (auto& [index, p] : r->proposals) {
    Complete(p.token, Status::Unavailable(ShardName(shard), "replica removed"), index);
  }
  const Status removed = Status::Unavailable(ShardName(shard), "replica removed");
  for (auto& [ctx, reads] : r->reads_by_context) FailReads(reads, removed);
  FailReads(r->reads_unsent, removed);
  FailReads(r->reads_waiting, removed);
  r->raw.reset();
  store_->DropGroup(shard);
  Status st = store_->Commit(true);
  Status destroyed = r->sm->Destroy();
  replicas_.erase(shard);
  DKV_RETURN_IF_ERROR(st);
  return destroyed;
}

std::vector<ShardId> Node::Shards() const {
  std::vector<ShardId> out;
  for (const auto& [shard, r] : replicas_) out.push_back(shard);
  return out;
}

Result<Node::Replica*> Node::Get(ShardId shard) const {
  auto it = replicas_.find(shard);
  if (it == replicas_.end()) return Status::NotFound(ShardName(shard), "no replica on this node");
  return it->second.get();
}

void Node::Complete(uint64_t token, Status status, uint64_t index, std::string value) {
  DKV_ASSERT(pending_requests_ > 0);
  pending_requests_--;
  Completion c;
  c.token = token;
  c.status = std::move(status);
  c.index = index;
  c.value = std::move(value);
  completions_.push_back(std::move(c));
}

// ---------------------------------------------------------------------------
// Inputs

void Node::Tick() {
  tick_++;
  for (auto& [shard, r] : replicas_) {
    r->raw->Tick();
    for (auto it = r->proposals.begin(); it != r->proposals.end();) {
      if (it->second.deadline_tick > tick_) {
        ++it;
        continue;
      }
      Complete(it->second.token, Status::TimedOut(ShardName(shard), "proposal not applied in time"),
               it->first);
      it = r->proposals.erase(it);
    }
    for (auto it = r->reads_by_context.begin(); it != r->reads_by_context.end();) {
      ExpireReads(it->second, Status::TimedOut(ShardName(shard), "no read index in time"));
      it = it->second.empty() ? r->reads_by_context.erase(it) : std::next(it);
    }
    ExpireReads(r->reads_waiting, Status::TimedOut(ShardName(shard), "read index not applied"));
    MaybeProposeGc(*r);
  }
}

void Node::Receive(const MessageBatch& batch) {
  if (!failed_.ok()) return;
  if (batch.hlc != Timestamp{}) {
    Result<Timestamp> updated = hlc_->Update(batch.hlc);
    if (!updated.ok()) {
      // The peer's clock is too far ahead: its timestamp is refused, its
      // messages are not (Raft does not depend on clocks; the state machine
      // keeps commit timestamps in log order whatever a leader's clock says).
      refused_clock_updates_++;
      last_clock_error_ =
          "from node " + std::to_string(batch.from) + ": " + updated.status().ToString();
    }
  }
  for (const Envelope& env : batch.messages) {
    auto it = replicas_.find(env.shard);
    if (it == replicas_.end()) {
      dropped_messages_++;
      continue;
    }
    // Stale or misaddressed messages are Raft's to ignore; nothing to report.
    it->second->raw->Step(env.msg).IgnoreError();
  }
}

Status Node::NotLeader(const Replica& r) const {
  const NodeId leader = r.raw->GetBasicStatus().leader_id;
  return Status::Unavailable("not leader, leader is " + std::to_string(leader));
}

void Node::TrackProposals(Replica& r, const std::vector<uint64_t>& tokens) {
  const raft::NodeStatus st = r.raw->GetBasicStatus();
  DKV_ASSERT(st.role == raft::Role::kLeader);
  DKV_ASSERT(st.last_index >= tokens.size());
  const uint64_t first = st.last_index + 1 - tokens.size();
  // Proposals of an earlier term at or above these indexes were cut from our
  // log (a later leader had other entries there), so by leader completeness
  // they were never committed and never will be.
  for (auto it = r.proposals.lower_bound(first); it != r.proposals.end();) {
    DKV_ASSERT(it->second.term < st.hard_state.term);
    Complete(it->second.token,
             Status::Aborted(ShardName(r.shard), "another leader's entry took its place"),
             it->first);
    it = r.proposals.erase(it);
  }
  for (size_t i = 0; i < tokens.size(); i++) {
    r.proposals[first + i] =
        PendingProposal{tokens[i], st.hard_state.term, tick_ + options_.request_timeout_ticks};
    pending_requests_++;
  }
}

Status Node::Propose(ShardId shard, ShardCommand command, uint64_t token) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  DKV_RETURN_IF_ERROR(command.Validate());
  if (r->raw->GetBasicStatus().role != raft::Role::kLeader) return NotLeader(*r);
  if (pending_requests_ >= kMaxPendingRequests) {
    return Status::ResourceExhausted(ShardName(shard), "too many pending requests");
  }
  command.ts = hlc_->Now();
  DKV_RETURN_IF_ERROR(r->raw->Propose(EncodeShardCommand(command)));
  TrackProposals(*r, {token});
  return Status::OK();
}

Status Node::ProposeBatch(ShardId shard, std::vector<std::pair<ShardCommand, uint64_t>> commands) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  if (commands.empty()) return Status::OK();
  for (const auto& [cmd, token] : commands) DKV_RETURN_IF_ERROR(cmd.Validate());
  if (r->raw->GetBasicStatus().role != raft::Role::kLeader) return NotLeader(*r);
  if (pending_requests_ + commands.size() > kMaxPendingRequests) {
    return Status::ResourceExhausted(ShardName(shard), "too many pending requests");
  }
  std::vector<std::string> data;
  std::vector<uint64_t> tokens;
  data.reserve(commands.size());
  tokens.reserve(commands.size());
  for (auto& [cmd, token] : commands) {
    cmd.ts = hlc_->Now();
    data.push_back(EncodeShardCommand(cmd));
    tokens.push_back(token);
  }
  DKV_RETURN_IF_ERROR(r->raw->ProposeBatch(std::move(data)));
  TrackProposals(*r, tokens);
  return Status::OK();
}

Status Node::ProposeConfChange(ShardId shard, const raft::ConfChange& change, uint64_t token) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  if (r->raw->GetBasicStatus().role != raft::Role::kLeader) return NotLeader(*r);
  DKV_RETURN_IF_ERROR(r->raw->ProposeConfChange(change));
  TrackProposals(*r, {token});
  return Status::OK();
}

Status Node::Read(ShardId shard, std::string key, uint64_t token, std::optional<Timestamp> at) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument(ShardName(shard), "key size out of range");
  }
  if (pending_requests_ >= kMaxPendingRequests) {
    return Status::ResourceExhausted(ShardName(shard), "too many pending requests");
  }
  const NodeId leader = r->raw->GetBasicStatus().leader_id;
  if (leader == raft::kNoNode) return Status::Unavailable("not leader, leader is 0");
  r->reads_unsent.push_back(
      PendingRead{token, std::move(key), 0, tick_ + options_.request_timeout_ticks, at});
  pending_requests_++;
  return Status::OK();
}

Status Node::TransferLeadership(ShardId shard, NodeId to) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  return r->raw->TransferLeadership(to);
}

Status Node::Campaign(ShardId shard) {
  if (!failed_.ok()) return failed_;
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  return r->raw->Campaign();
}

// ---------------------------------------------------------------------------
// The round

bool Node::HasReady() const {
  if (!completions_.empty()) return true;
  for (const auto& [shard, r] : replicas_) {
    if (r->raw->HasReady() || !r->reads_unsent.empty()) return true;
  }
  return false;
}

Result<std::vector<Completion>> Node::ProcessReady() {
  DKV_RETURN_IF_ERROR(SettleRound());
  LogWriteTask write;
  DKV_ASSIGN_OR_RETURN(std::vector<Completion> out,
                       StartRound([&write](LogWriteTask w) { write = std::move(w); }));
  if (write) write();
  DKV_ASSIGN_OR_RETURN(std::vector<Completion> rest, FinishRound());
  for (Completion& c : rest) out.push_back(std::move(c));
  return out;
}

std::vector<Completion> Node::TakeCompletions() {
  std::vector<Completion> out;
  out.swap(completions_);
  return out;
}

Status Node::SettleRound() {
  if (round_ == nullptr) return failed_;
  Result<std::vector<Completion>> done = FinishRound();
  DKV_RETURN_IF_ERROR(done.status());
  for (Completion& c : *done) completions_.push_back(std::move(c));
  return Status::OK();
}

Result<std::vector<Completion>> Node::StartRound(const std::function<void(LogWriteTask)>& submit) {
  DKV_ASSERT(round_ == nullptr);
  if (!failed_.ok()) return failed_;
  for (auto& [shard, r] : replicas_) {
    if (r->reads_unsent.empty()) continue;
    std::string context = "R";
    PutFixed64(&context, next_read_seq_++);
    Status st = r->raw->ReadIndex(context);
    if (st.ok()) {
      r->reads_by_context[context] = std::move(r->reads_unsent);
    } else {
      FailReads(r->reads_unsent, st);
    }
    r->reads_unsent.clear();
  }
  auto round = std::make_unique<Round>();
  std::vector<std::pair<Replica*, raft::Ready>> readies;
  for (auto& [shard, r] : replicas_) {
    if (r->raw->HasReady()) readies.emplace_back(r.get(), r->raw->GetReady());
  }

  // A leader's appends and heartbeats leave BEFORE its own fsync (Raft
  // thesis 10.2.1: the leader may write its log in parallel with
  // replicating), so its fsync and the followers' overlap instead of adding
  // up. Safe because the leader counts itself for commitment only through a
  // follower's answer, and the commit that answer allows is taken out of
  // raft (and shown to anyone) only in a later round, after this round's
  // write returned; its term and vote were made durable before it could win.
  // Everything else (votes, append answers, anything of a non-leader) waits
  // for the write (FinishRound).
  SendMessages(readies, /*leader_appends_only=*/true);

  // Steps 1-2 for every group: install snapshots, stage entries and hard
  // states, then one write (synced if any group needs it) for all of them.
  bool sync = false;
  for (auto& [r, rd] : readies) {
    if (rd.snapshot.has_value()) {
      const raft::SnapshotMetadata& meta = rd.snapshot->metadata;
      Status st = rd.snapshot->staged ? r->sm->InstallReceivedSnapshot()
                                      : r->sm->RestoreSnapshot(rd.snapshot->data);
      if (st.ok() && r->sm->applied().index != meta.index) {
        st = Status::Corruption(ShardName(r->shard),
                                "snapshot for index " + std::to_string(meta.index) +
                                    " holds a state at " + std::to_string(r->sm->applied().index));
      }
      if (!st.ok()) {
        failed_ = st.WithContext("install snapshot");
        return failed_;
      }
      if (st = store_->ApplySnapshot(r->shard, meta); !st.ok()) {
        failed_ = st;
        return failed_;
      }
      // Proposals the snapshot covers may or may not be inside it.
      for (auto it = r->proposals.begin(); it != r->proposals.end() && it->first <= meta.index;) {
        Complete(it->second.token,
                 Status::Unavailable(ShardName(r->shard), "outcome unknown (snapshot installed)"),
                 it->first);
        it = r->proposals.erase(it);
      }
      sync = true;
    }
    Status st = store_->Append(r->shard, rd.entries);
    if (!st.ok()) {
      failed_ = st;
      return failed_;
    }
    if (rd.hard_state.has_value()) store_->SetHardState(r->shard, *rd.hard_state);
    sync |= rd.must_sync;
  }
  for (auto& [r, rd] : readies) round->groups.push_back(Round::Group{r, std::move(rd), 0});
  Round* rp = round.get();
  round_ = std::move(round);
  RaftLogStore::LogWrite lw = store_->TakeStaged(sync);
  if (lw.batch.Count() > 0 || lw.sync) {
    auto task = std::make_shared<std::packaged_task<Status()>>(
        [store = store_.get(), lw = std::move(lw)]() mutable {
          return store->Write(std::move(lw));
        });
    rp->written = task->get_future();
    rp->write_submitted = true;
    submit([task] { (*task)(); });
  }

  // While the write runs: apply and answer what was committed and is durable
  // here already, i.e. every committed entry below this round's own appends
  // (a committed entry is never overwritten, and every earlier round's write
  // has returned). Entries this round appends may be committed too (a group
  // of one voter): those wait for the write. Reads are served as the applied
  // index reaches them; a read index needs no durability of its own.
  for (Round::Group& g : rp->groups) {
    Replica& r = *g.r;
    if (!g.rd.snapshot.has_value()) {
      const uint64_t durable_below = g.rd.entries.empty() ? UINT64_MAX : g.rd.entries.front().index;
      std::vector<raft::Entry>& committed = g.rd.committed_entries;
      size_t n = 0;
      while (n < committed.size() && committed[n].index < durable_below) n++;
      if (n > 0) {
        std::vector<raft::Entry> early(committed.begin(),
                                       committed.begin() + static_cast<std::ptrdiff_t>(n));
        if (Status st = r.sm->Apply(early); !st.ok()) {
          failed_ = st.WithContext("apply " + ShardName(r.shard));
          return failed_;
        }
        ApplyCompleted(r, early);
        g.applied_early = n;
      }
    }
    for (raft::ReadState& rs : g.rd.read_states) {
      auto it = r.reads_by_context.find(rs.context);
      if (it == r.reads_by_context.end()) continue;  // timed out meanwhile
      for (PendingRead& read : it->second) {
        read.index = rs.index;
        r.reads_waiting.push_back(std::move(read));
      }
      r.reads_by_context.erase(it);
    }
    ServeReads(r);
  }
  return TakeCompletions();
}

Result<std::vector<Completion>> Node::FinishRound() {
  DKV_ASSERT(round_ != nullptr);
  std::unique_ptr<Round> round = std::move(round_);
  if (!failed_.ok()) return failed_;
  if (round->write_submitted) {
    if (Status st = round->written.get(); !st.ok()) {
      failed_ = st.WithContext("raft engine write");
      return failed_;
    }
  }

  // Step 3: the other messages, now durable.
  std::vector<std::pair<Replica*, raft::Ready>> readies;
  readies.reserve(round->groups.size());
  for (Round::Group& g : round->groups) readies.emplace_back(g.r, std::move(g.rd));
  SendMessages(readies, /*leader_appends_only=*/false);

  // Steps 4-6: apply the rest, answer, advance.
  for (size_t i = 0; i < readies.size(); i++) {
    Replica* r = readies[i].first;
    raft::Ready& rd = readies[i].second;
    const size_t early = round->groups[i].applied_early;
    if (rd.committed_entries.size() > early) {
      std::vector<raft::Entry> late(
          rd.committed_entries.begin() + static_cast<std::ptrdiff_t>(early),
          rd.committed_entries.end());
      if (Status st = r->sm->Apply(late); !st.ok()) {
        failed_ = st.WithContext("apply " + ShardName(r->shard));
        return failed_;
      }
      ApplyCompleted(*r, late);
      ServeReads(*r);
    }
    r->raw->Advance(rd);
    if (Status st = MaybeCompact(*r); !st.ok()) {
      failed_ = st.WithContext("compact " + ShardName(r->shard));
      return failed_;
    }
  }
  return TakeCompletions();
}

void Node::SendMessages(std::vector<std::pair<Replica*, raft::Ready>>& readies,
                        bool leader_appends_only) {
  // One batch per peer for all groups.
  std::map<NodeId, MessageBatch> outgoing;
  for (auto& [r, rd] : readies) {
    const raft::NodeStatus st = r->raw->GetBasicStatus();
    const bool leader = st.role == raft::Role::kLeader;
    if (leader_appends_only && !leader) continue;
    std::vector<raft::Message> later;
    for (raft::Message& m : rd.messages) {
      const bool early =
          leader && m.term == st.hard_state.term &&
          (m.type == raft::MessageType::kMsgApp || m.type == raft::MessageType::kMsgHeartbeat);
      if (leader_appends_only && !early) {
        later.push_back(std::move(m));
        continue;
      }
      MessageBatch& b = outgoing[m.to];
      b.from = options_.id;
      b.to = m.to;
      const ShardId shard = r->shard;
      b.messages.push_back(Envelope{shard, std::move(m)});
    }
    rd.messages = std::move(later);
  }
  if (!outgoing.empty()) {
    const Timestamp now = hlc_->Now();
    for (auto& [to, batch] : outgoing) {
      batch.hlc = now;
      if (!transport_->Reachable(to)) {
        // Let each group stop pipelining to a peer the transport cannot reach.
        for (const Envelope& e : batch.messages) {
          auto it = replicas_.find(e.shard);
          if (it != replicas_.end()) it->second->raw->ReportUnreachable(to);
        }
      }
      transport_->Send(std::move(batch));
    }
  }
}

void Node::ApplyCompleted(Replica& r, const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& e : entries) {
    for (auto it = r.proposals.begin(); it != r.proposals.end() && it->first <= e.index;) {
      if (it->first == e.index && it->second.term == e.term) {
        // A kEval's answer goes to its proposer in the Completion's value.
        Complete(it->second.token, Status::OK(), e.index, r.sm->TakeEvalResult(e.index));
      } else {
        Complete(it->second.token,
                 Status::Aborted(ShardName(r.shard), "another leader's entry took its place"),
                 it->first);
      }
      it = r.proposals.erase(it);
    }
  }
  // Keep our clock ahead of every commit timestamp we have applied, so the
  // next write this node stamps as a leader is newer. A peer's clock too far
  // ahead is refused (the state machine still orders its writes).
  hlc_->Update(r.sm->applied().max_ts).status().IgnoreError();
}

void Node::FailReads(std::vector<PendingRead>& reads, const Status& status) {
  for (PendingRead& read : reads) Complete(read.token, status, read.index);
  reads.clear();
}

void Node::ExpireReads(std::vector<PendingRead>& reads, const Status& status) {
  for (size_t i = 0; i < reads.size();) {
    if (reads[i].deadline_tick > tick_) {
      i++;
      continue;
    }
    Complete(reads[i].token, status, reads[i].index);
    reads.erase(reads.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void Node::ServeReads(Replica& r) {
  const uint64_t applied = r.sm->applied().index;
  auto& waiting = r.reads_waiting;
  for (size_t i = 0; i < waiting.size();) {
    if (waiting[i].index > applied) {
      i++;
      continue;
    }
    Completion c;
    c.token = waiting[i].token;
    c.index = waiting[i].index;
    // Reads of the latest judge expiry at this node's clock (never below the
    // newest applied write: the Hlc follows every applied timestamp).
    Result<ReadResult> got = r.sm->Get(waiting[i].key, waiting[i].at, hlc_->Now());
    if (got.ok()) {
      c.found = got->found;
      c.value = std::move(got->value);
      c.ts = got->ts;
    } else {
      c.status = got.status();
    }
    DKV_ASSERT(pending_requests_ > 0);
    pending_requests_--;
    completions_.push_back(std::move(c));
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

Status Node::MaybeCompact(Replica& r) {
  const AppliedState& applied = r.sm->applied();
  if (applied.index < r.log->FirstIndex() + options_.compact_log_entries) return Status::OK();
  if (applied.index > r.log->LastIndex()) return Status::OK();
  // Never drop log entries the shard engine could still lose in a crash.
  DKV_RETURN_IF_ERROR(r.sm->Sync());
  DKV_RETURN_IF_ERROR(store_->Compact(r.shard, applied.index, applied.conf));
  return store_->Commit(false);
}

// ---------------------------------------------------------------------------
// MVCC GC proposals (docs/node.md "GC"): the only hook elsewhere is one call
// per replica per Tick(); passes, steps and the cursor are the state
// machine's (ShardStateMachine::GcStep).

std::optional<Timestamp> Node::GcSafePoint(const Replica& r) {
  const Timestamp now = hlc_->Now();
  if (now.wall_time_us < options_.gc_ttl_us) return std::nullopt;  // a test clock near 0
  Timestamp point{now.wall_time_us - options_.gc_ttl_us, 0};
  // Never collect history a read pending here still needs. Reads at a timestamp
  // on other nodes are not known here: below the safe point they fail with
  // InvalidArgument (never a wrong answer), as any read older than the TTL does.
  auto lower = [&point](const PendingRead& read) {
    if (read.at.has_value()) point = std::min(point, *read.at);
  };
  std::for_each(r.reads_unsent.begin(), r.reads_unsent.end(), lower);
  std::for_each(r.reads_waiting.begin(), r.reads_waiting.end(), lower);
  for (const auto& [context, reads] : r.reads_by_context) {
    std::for_each(reads.begin(), reads.end(), lower);
  }
  return point;
}

void Node::MaybeProposeGc(Replica& r) {
  if (options_.gc_interval_ticks == 0 || !failed_.ok()) return;
  if (r.raw->GetStatus().role != raft::Role::kLeader) {
    r.gc_inflight_index = 0;
    return;
  }
  const AppliedState& applied = r.sm->applied();
  if (r.gc_inflight_index != 0) {
    // One kGc in flight at a time: a step starts where the last one stopped,
    // so proposing the next before the last applied would only repeat it.
    if (applied.index < r.gc_inflight_index && tick_ < r.gc_inflight_deadline_tick) return;
    r.gc_inflight_index = 0;
  }
  ShardCommand gc;
  if (!applied.gc_cursor.empty()) {
    // A pass runs: one more step (the point is the pass's own).
    gc = ShardCommand::Gc(applied.gc_safe_point);
  } else {
    if (tick_ < r.gc_next_pass_tick) return;
    r.gc_next_pass_tick = tick_ + options_.gc_interval_ticks;
    std::optional<Timestamp> point = GcSafePoint(r);
    if (!point.has_value() || *point <= applied.gc_safe_point) return;
    gc = ShardCommand::Gc(*point);
  }
  gc.ts = hlc_->Now();
  // Untracked: no caller waits for it. A failure (a full uncommitted log, a
  // lost leadership) is retried at a later tick.
  if (!r.raw->Propose(EncodeShardCommand(gc)).ok()) return;
  const raft::NodeStatus st = r.raw->GetStatus();
  DKV_ASSERT(st.last_index > applied.index);
  r.gc_inflight_index = st.last_index;
  r.gc_inflight_deadline_tick = tick_ + options_.request_timeout_ticks;
  gc_proposals_++;
}

// ---------------------------------------------------------------------------
// Queries

Result<ReadResult> Node::LocalRead(ShardId shard, std::string_view key,
                                   std::optional<Timestamp> at) {
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  return r->sm->Get(key, at);
}

Status Node::LocalScanKeys(ShardId shard, std::string_view after, size_t limit,
                           std::vector<std::string>* keys, std::string* next) {
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  return r->sm->ScanKeys(after, limit, hlc_->Now(), keys, next);
}

Result<ReplicaStatus> Node::GetReplicaStatus(ShardId shard) const {
  DKV_ASSIGN_OR_RETURN(Replica * r, Get(shard));
  const raft::NodeStatus st = r->raw->GetStatus();
  ReplicaStatus s;
  s.shard = shard;
  s.role = st.role;
  s.leader = st.leader_id;
  s.term = st.hard_state.term;
  s.commit = st.hard_state.commit;
  s.applied = r->sm->applied().index;
  s.first_index = r->log->FirstIndex();
  s.last_index = r->log->LastIndex();
  s.conf = r->sm->applied().conf;
  s.removed = !s.conf.IsEmpty() && !s.conf.Contains(options_.id);
  s.progress = st.progress;
  s.gc_safe_point = r->sm->applied().gc_safe_point;
  s.gc_running = !r->sm->applied().gc_cursor.empty();
  s.pending_proposals = r->proposals.size();
  s.pending_reads = r->reads_unsent.size() + r->reads_waiting.size();
  for (const auto& [ctx, reads] : r->reads_by_context) s.pending_reads += reads.size();
  return s;
}

NodeId Node::LeaderOf(ShardId shard) const {
  auto it = replicas_.find(shard);
  return it == replicas_.end() ? raft::kNoNode : it->second->raw->GetBasicStatus().leader_id;
}

}  // namespace dkv::node
