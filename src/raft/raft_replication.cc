// The leader's side of replication (proposals, MsgApp pipelining, snapshots in
// chunks, commit), the follower's handling of what the leader sends, leadership
// transfer and linearizable reads (ReadIndex and leases).
#include <algorithm>
#include <string>

#include "common/coding.h"
#include "raft/limits.h"
#include "raft/raft.h"

namespace dkv::raft {

namespace {
std::string EncodeReadSeq(uint64_t seq) {
  std::string s;
  PutFixed64(&s, seq);
  return s;
}
}  // namespace

// ---------------------------------------------------------------------------
// Leader: proposals and MsgApp

Status Raft::AppendProposal(std::vector<Entry> ents) {
  DKV_ASSERT(role_ == Role::kLeader);
  if (!conf_.IsVoter(id_)) {
    return Status::Unavailable("raft", "not leader, leader is being removed from the group");
  }
  if (lead_transferee_ != kNoNode) {
    return Status::Unavailable("raft", "not leader, leadership transfer to " +
                                           std::to_string(lead_transferee_) + " in progress");
  }
  if (ents.size() > kMaxEntriesPerMsg) {
    return Status::InvalidArgument("raft", "too many entries in one proposal");
  }
  uint64_t bytes = 0;
  bool conf_change_seen = false;
  for (const Entry& e : ents) {
    bytes += e.ByteSize();
    if (e.type != EntryType::kConfChange) continue;
    // One change at a time (docs/raft.md): the previous change must be committed,
    // and so must an entry of this leader's term (the fix to the single-server
    // change bug, thesis errata).
    if (conf_change_seen || conf_index_ > log_.committed() || !CommittedInTerm()) {
      return Status::Busy("raft", "a membership change is pending");
    }
    DKV_ASSIGN_OR_RETURN(ConfChange cc, DecodeConfChange(e.data));
    DKV_RETURN_IF_ERROR(ValidateConfChange(conf_, cc));
    conf_change_seen = true;
  }
  const uint64_t limit = config_.max_uncommitted_entries_size > 0
                             ? config_.max_uncommitted_entries_size
                             : kMaxUncommittedBytes;
  // The leader's empty entry is always accepted, and so is one proposal when
  // nothing is outstanding, whatever its size.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > limit) {
    return Status::ResourceExhausted("raft", "too many uncommitted bytes");
  }
  uint64_t index = log_.LastIndex();
  for (Entry& e : ents) {
    e.term = term_;
    e.index = ++index;
  }
  AppendToLog(ents, 0);
  uncommitted_bytes_ += bytes;
  uncommitted_.emplace_back(index, bytes);
  // A leader that has just logged its own removal no longer counts itself.
  if (auto self = prs_.find(id_); self != prs_.end()) self->second.MaybeUpdate(index);
  if (MaybeCommit() && role_ != Role::kLeader) return Status::OK();
  BcastAppend();
  return Status::OK();
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  Progress& pr = prs_.at(to);
  if (pr.IsPaused()) return false;
  const uint64_t prev = pr.next - 1;
  const std::optional<uint64_t> prev_term = log_.Term(prev);
  std::vector<Entry> ents;
  Status s = Status::OK();
  if (prev_term) s = log_.Slice(pr.next, log_.LastIndex() + 1, config_.max_size_per_msg, &ents);
  if (!prev_term || !s.ok()) {
    // The follower needs entries we no longer have: send a snapshot instead.
    return SendSnapshot(to, pr);
  }
  if (ents.size() > kMaxEntriesPerMsg) ents.resize(kMaxEntriesPerMsg);
  if (ents.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kMsgApp;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  const uint64_t last = ents.empty() ? prev : ents.back().index;
  pr.SentEntries(last, ents.size());
  m.entries = std::move(ents);
  Send(std::move(m));
  return true;
}

void Raft::BcastAppend() {
  for (auto& [id, pr] : prs_) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::SendHeartbeat(NodeId to) {
  const Progress& pr = prs_.at(to);
  Message m;
  m.type = MessageType::kMsgHeartbeat;
  m.to = to;
  // Never tell a follower to commit beyond what it is known to hold.
  m.commit = std::min(pr.match, log_.committed());
  m.leader_tick = ticks_;
  if (read_seq_ > 0) m.context = EncodeReadSeq(read_seq_);
  Send(std::move(m));
}

void Raft::BcastHeartbeat() {
  for (auto& [id, pr] : prs_) {
    if (id != id_) SendHeartbeat(id);
  }
}

bool Raft::MaybeCommit() {
  const uint64_t quorum_match = MajorityValue(conf_.voters, [this](NodeId id) -> uint64_t {
    auto it = prs_.find(id);
    return it == prs_.end() ? 0 : it->second.match;
  });
  // §5.4.2 (Figure 8): MaybeCommit only commits an entry of the current term.
  if (!log_.MaybeCommit(quorum_match, term_)) return false;
  AfterCommit();
  return true;
}

void Raft::AfterCommit() {
  const uint64_t committed = log_.committed();
  FoldConfHistory();
  while (!uncommitted_.empty() && uncommitted_.front().first <= committed) {
    uncommitted_bytes_ -= uncommitted_.front().second;
    uncommitted_.pop_front();
  }
  if (!reads_before_commit_.empty() && CommittedInTerm()) {
    std::vector<WaitingRead> waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (WaitingRead& w : waiting) HandleReadIndex(w.from, std::move(w.context)).IgnoreError();
  }
  // Thesis §4.2.2: a leader that removed itself manages the group until the change
  // commits, then steps down.
  if (!conf_.IsVoter(id_) && conf_index_ <= committed) BecomeFollower(term_, kNoNode);
}

Status Raft::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kMsgProp: {
      if (m.entries.empty()) return Status::OK();
      std::vector<Entry> ents = m.entries;
      for (Entry& e : ents) {
        e.term = 0;
        e.index = 0;
      }
      // A forwarded proposal that cannot be accepted is dropped: the proposer's
      // runtime times out and retries, as with a lost message.
      AppendProposal(std::move(ents)).IgnoreError();
      return Status::OK();
    }
    case MessageType::kMsgReadIndex:
      HandleReadIndex(m.from, m.context).IgnoreError();
      return Status::OK();
    case MessageType::kMsgTransferLeader:
      HandleTransferLeader(m.from).IgnoreError();
      return Status::OK();
    default:
      break;
  }
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return Status::OK();  // not (or no longer) a member
  switch (m.type) {
    case MessageType::kMsgAppResp:
      HandleAppendResponse(m, it->second);
      break;
    case MessageType::kMsgHeartbeatResp:
      HandleHeartbeatResponse(m, it->second);
      break;
    case MessageType::kMsgSnapResp:
      HandleSnapshotResponse(m, it->second);
      break;
    default:
      break;
  }
  return Status::OK();
}

void Raft::HandleAppendResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject) {
    // Fast backtracking (thesis §5.3 optimisation): the follower told us the last
    // index whose term is <= the term we probed; skip further down to where our own
    // log has a term no larger than the follower's there.
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index)) return;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) pr.BecomeReplicate();
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index);
      break;
  }
  const NodeId from = m.from;
  if (MaybeCommit()) {
    if (role_ != Role::kLeader) return;  // we removed ourselves and stepped down
    BcastAppend();
  } else if (was_paused) {
    SendAppend(from);
  }
  auto it = prs_.find(from);
  if (it == prs_.end()) return;
  // Pipelining: keep the window full. Bounded by the in-flight window, since every
  // send in the replicate state takes a slot.
  while (MaybeSendAppend(from, false)) {
  }
  if (from == lead_transferee_ && it->second.match == log_.LastIndex()) SendTimeoutNow(from);
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  // A lost MsgApp would otherwise keep a full window full forever.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  pr.lease_ack = std::max(pr.lease_ack, m.leader_tick + 1);
  if (m.context.size() == 8) pr.read_ack = std::max(pr.read_ack, DecodeFixed64(m.context.data()));
  if (pr.state == ProgressState::kSnapshot) {
    if (pr.snapshot_offset == pr.snapshot_offset_at_heartbeat) {
      SendSnapshotChunk(m.from, pr);  // no progress for a heartbeat: resend the chunk
    }
    pr.snapshot_offset_at_heartbeat = pr.snapshot_offset;
  } else if (pr.match < log_.LastIndex()) {
    SendAppend(m.from);
  }
  CheckReads();
}

// ---------------------------------------------------------------------------
// Leader: snapshots, sent in chunks, one in flight per follower

bool Raft::SendSnapshot(NodeId to, Progress& pr) {
  if (!pr.recent_active) return false;  // do not stream to a node that seems down
  if (snapshot_cache_.IsEmpty() || snapshot_cache_.metadata.index + 1 < log_.FirstIndex()) {
    Result<Snapshot> snap = log_.GetSnapshot();
    // A staged snapshot (received, not yet installed) has no bytes to send.
    if (!snap.ok() || snap->IsEmpty() || snap->staged) return false;  // offered later
    snapshot_cache_ = std::move(snap).value();
  }
  pr.BecomeSnapshot(snapshot_cache_.metadata.index);
  SendSnapshotChunk(to, pr);
  return pr.state == ProgressState::kSnapshot;  // false: the chunk could not be read
}

void Raft::SendSnapshotChunk(NodeId to, Progress& pr) {
  DKV_ASSERT(pr.state == ProgressState::kSnapshot);
  if (snapshot_cache_.metadata.index != pr.pending_snapshot) {
    // The cached snapshot was replaced by a newer one: start that one over.
    if (snapshot_cache_.IsEmpty()) {
      pr.BecomeProbe();
      return;
    }
    pr.BecomeSnapshot(snapshot_cache_.metadata.index);
  }
  const uint64_t size = snapshot_cache_.DataSize();
  const uint64_t offset = std::min<uint64_t>(pr.snapshot_offset, size);
  const uint64_t len = std::min<uint64_t>(config_.max_snapshot_chunk_bytes, size - offset);
  Message m;
  m.type = MessageType::kMsgSnap;
  m.to = to;
  m.snapshot = snapshot_cache_.metadata;
  m.snapshot_offset = offset;
  if (snapshot_cache_.source) {
    Status st = snapshot_cache_.source->Read(offset, len, &m.snapshot_chunk);
    if (!st.ok() || m.snapshot_chunk.size() != len) {
      // The bytes cannot be read: drop this snapshot; probing the follower
      // again (next heartbeat answer) makes a fresh one.
      snapshot_cache_ = Snapshot{};
      pr.BecomeProbe();
      return;
    }
  } else {
    m.snapshot_chunk.assign(snapshot_cache_.data, offset, len);
  }
  m.snapshot_last_chunk = offset + len == size;
  Send(std::move(m));
}

void Raft::HandleSnapshotResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (pr.state != ProgressState::kSnapshot || m.snapshot.index != pr.pending_snapshot) return;
  // The follower says how many bytes it holds: resume from there. An answer equal
  // to our offset asks for the chunk already on its way (a duplicate): ignore it,
  // so one answer never sends more than one chunk.
  if (m.reject && m.reject_hint == kSnapRejectBadData) {
    // The follower's sink refused the bytes: do not resend the same ones at
    // once; a fresh snapshot goes out when the follower is probed again.
    snapshot_cache_ = Snapshot{};
    pr.BecomeProbe();
    return;
  }
  const uint64_t held = m.reject ? 0 : m.index;
  if (held == pr.snapshot_offset || held > snapshot_cache_.DataSize()) return;
  pr.snapshot_offset = held;
  SendSnapshotChunk(m.from, pr);
}

// ---------------------------------------------------------------------------
// Follower: what the leader sends

void Raft::HandleAppend(const Message& m) {
  Message resp;
  resp.type = MessageType::kMsgAppResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    resp.index = log_.committed();  // already have (and committed) all of that
    Send(std::move(resp));
    return;
  }
  if (log_.MatchTerm(m.index, m.log_term)) {
    // §5.3 log matching: the prefix matches, so append, replacing a conflicting
    // suffix if any (never a committed entry).
    const uint64_t last_new = m.index + m.entries.size();
    const uint64_t conflict = log_.FindConflict(m.entries);
    if (conflict != 0) {
      DKV_ASSERT(conflict > log_.committed());
      AppendToLog(m.entries, conflict - m.index - 1);
    }
    log_.CommitTo(std::min(m.commit, last_new));
    FoldConfHistory();
    resp.index = last_new;
    Send(std::move(resp));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.log_term,
  // so the leader can skip a whole term of mismatches per round trip.
  const uint64_t hint = std::min(m.index, log_.LastIndex());
  auto [hint_index, hint_term] = log_.FindConflictByTerm(hint, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hint_index;
  resp.log_term = hint_term;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(m.commit);
  FoldConfHistory();
  Message resp;
  resp.type = MessageType::kMsgHeartbeatResp;
  resp.to = m.from;
  resp.leader_tick = m.leader_tick;
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshotChunk(const Message& m) {
  const SnapshotMetadata& meta = m.snapshot;
  if (meta.index <= log_.committed()) {
    // Already have all of it (perhaps the answer to the last chunk was lost).
    Message resp;
    resp.type = MessageType::kMsgAppResp;
    resp.to = m.from;
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  // A stream is one leader's in one term: another leader's snapshot at the
  // same (index, term) holds other bytes (its own engine's files), so chunks
  // of the two must never be joined.
  const bool same = incoming_snapshot_meta_ && incoming_snapshot_meta_->index == meta.index &&
                    incoming_snapshot_meta_->term == meta.term &&
                    incoming_snapshot_from_ == m.from && incoming_snapshot_msg_term_ == m.term;
  Message resp;
  resp.type = MessageType::kMsgSnapResp;
  resp.to = m.from;
  resp.snapshot.index = meta.index;
  SnapshotSink* const sink = config_.snapshot_sink;
  Status st;
  if (m.snapshot_offset == 0 && !(same && incoming_snapshot_bytes_ > 0)) {
    incoming_snapshot_meta_ = meta;
    incoming_snapshot_from_ = m.from;
    incoming_snapshot_msg_term_ = m.term;
    incoming_snapshot_bytes_ = m.snapshot_chunk.size();
    if (sink != nullptr) {
      st = sink->Begin(meta);
      if (st.ok()) st = sink->Append(m.snapshot_chunk);
    } else {
      incoming_snapshot_data_ = m.snapshot_chunk;
    }
  } else if (same && m.snapshot_offset == incoming_snapshot_bytes_) {
    incoming_snapshot_bytes_ += m.snapshot_chunk.size();
    if (sink != nullptr) {
      st = sink->Append(m.snapshot_chunk);
    } else {
      incoming_snapshot_data_ += m.snapshot_chunk;
    }
  } else {
    // Out of order, a duplicate, or for a snapshot we are not assembling: say
    // where we are.
    resp.reject = !same;
    resp.index = same ? incoming_snapshot_bytes_ : 0;
    Send(std::move(resp));
    return;
  }
  if (st.ok() && m.snapshot_last_chunk && sink != nullptr) st = sink->Finish();
  if (!st.ok()) {
    // The sink refused the bytes (corrupt, or not storable): drop the stream
    // and tell the leader, which starts over with a fresh snapshot later.
    sink->Abort();
    incoming_snapshot_meta_.reset();
    incoming_snapshot_bytes_ = 0;
    resp.reject = true;
    resp.reject_hint = kSnapRejectBadData;
    Send(std::move(resp));
    return;
  }
  if (!m.snapshot_last_chunk) {
    resp.index = incoming_snapshot_bytes_;
    Send(std::move(resp));
    return;
  }
  Snapshot snap;
  snap.metadata = meta;
  snap.data = std::move(incoming_snapshot_data_);
  snap.staged = sink != nullptr;
  incoming_snapshot_meta_.reset();
  incoming_snapshot_data_.clear();
  incoming_snapshot_bytes_ = 0;
  Message done;
  done.type = MessageType::kMsgAppResp;
  done.to = m.from;
  const bool restored = RestoreSnapshot(std::move(snap));
  if (!restored && sink != nullptr) sink->Abort();  // not needed after all
  done.index = restored ? log_.LastIndex() : log_.committed();
  Send(std::move(done));
}

bool Raft::RestoreSnapshot(Snapshot snap) {
  DKV_ASSERT(role_ == Role::kFollower);
  const SnapshotMetadata meta = snap.metadata;
  if (meta.index <= log_.committed()) return false;
  if (log_.MatchTerm(meta.index, meta.term)) {
    // We hold the entries the snapshot covers: just learn they are committed.
    log_.CommitTo(meta.index);
    FoldConfHistory();
    return false;
  }
  log_.Restore(std::move(snap));
  conf_base_ = meta.conf_state;
  conf_history_.clear();
  SetConf(conf_base_, meta.index);
  return true;
}

// ---------------------------------------------------------------------------
// Leadership transfer (thesis §3.10)

Status Raft::HandleTransferLeader(NodeId target) {
  if (target == id_) return Status::OK();  // already the leader
  if (!conf_.IsVoter(target)) {
    return Status::InvalidArgument("raft",
                                   "transfer target " + std::to_string(target) + " is not a voter");
  }
  if (lead_transferee_ != kNoNode) {
    if (lead_transferee_ == target) return Status::OK();
    AbortLeaderTransfer();
  }
  lead_transferee_ = target;
  election_elapsed_ = 0;  // the transfer must finish within an election timeout
  lease_revoked_ = true;  // the target's election ignores stickiness: no lease reads
  if (prs_.at(target).match == log_.LastIndex()) {
    SendTimeoutNow(target);
  } else {
    SendAppend(target);
  }
  return Status::OK();
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kMsgTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

// ---------------------------------------------------------------------------
// Linearizable reads (thesis §6.4)

Status Raft::HandleReadIndex(NodeId from, std::string context) {
  if (!conf_.IsVoter(id_)) return Status::Unavailable("raft", "leader is being removed");
  if (!CommittedInTerm()) {
    // Our commit index may lag the true one until our own entry commits.
    if (reads_before_commit_.size() >= kMaxPendingReadIndex) {
      return Status::ResourceExhausted("raft", "too many pending reads");
    }
    reads_before_commit_.push_back({from, std::move(context)});
    return Status::OK();
  }
  if (conf_.voters.size() == 1 || LeaseValid()) {
    AnswerRead(from, log_.committed(), std::move(context));
    return Status::OK();
  }
  if (pending_reads_.size() >= kMaxPendingReadIndex) {
    return Status::ResourceExhausted("raft", "too many pending reads");
  }
  pending_reads_.push_back({++read_seq_, log_.committed(), from, std::move(context)});
  BcastHeartbeat();
  return Status::OK();
}

void Raft::AnswerRead(NodeId from, uint64_t index, std::string context) {
  if (from == id_) {
    read_states_.push_back({index, std::move(context)});
    return;
  }
  Message m;
  m.type = MessageType::kMsgReadIndexResp;
  m.to = from;
  m.index = index;
  m.context = std::move(context);
  Send(std::move(m));
}

void Raft::CheckReads() {
  if (pending_reads_.empty()) return;
  const uint64_t acked = MajorityValue(conf_.voters, [this](NodeId id) -> uint64_t {
    if (id == id_) return read_seq_;
    auto it = prs_.find(id);
    return it == prs_.end() ? 0 : it->second.read_ack;
  });
  // Bounded by kMaxPendingReadIndex.
  while (!pending_reads_.empty() && pending_reads_.front().seq <= acked) {
    PendingRead& r = pending_reads_.front();
    AnswerRead(r.from, r.index, std::move(r.context));
    pending_reads_.pop_front();
  }
}

bool Raft::LeaseValid() const {
  if (!config_.clock_drift_bound_ticks || lease_revoked_ || role_ != Role::kLeader ||
      !CommittedInTerm()) {
    return false;
  }
  const uint64_t acked = MajorityValue(conf_.voters, [this](NodeId id) -> uint64_t {
    if (id == id_) return ticks_ + 1;
    auto it = prs_.find(id);
    return it == prs_.end() ? 0 : it->second.lease_ack;
  });
  if (acked == 0) return false;
  const uint64_t start = acked - 1;  // leader tick of the quorum's oldest fresh ack
  const uint64_t length =
      static_cast<uint64_t>(config_.election_tick - *config_.clock_drift_bound_ticks);
  return ticks_ < start + length;
}

}  // namespace dkv::raft
