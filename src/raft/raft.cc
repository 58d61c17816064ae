// Roles, elections, message dispatch and membership. Replication, snapshots and
// reads are in raft_replication.cc.
#include "raft/raft.h"

#include "raft/limits.h"

#include <algorithm>
#include <string>

namespace dkv::raft {

namespace {
constexpr char kTransferContext[] = "transfer";

}  // namespace

Raft::Raft(const Config& config, LogStorage* storage)
    : id_(config.id),
      config_(config),
      storage_(storage),
      rng_(config.rng_seed),
      log_(storage, config.max_committed_size_per_ready) {}

Result<std::unique_ptr<Raft>> Raft::Create(const Config& config, LogStorage* storage) {
  DKV_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Raft> r(new Raft(config, storage));
  DKV_RETURN_IF_ERROR(r->Init());
  return r;
}

Status Raft::Init() {
  const InitialState init = storage_->GetInitialState();
  const bool fresh =
      init.hard_state.IsEmpty() && init.conf_state.IsEmpty() && storage_->LastIndex() == 0;
  conf_base_ = init.conf_state;
  conf_ = conf_base_;
  conf_index_ = 0;
  if (fresh && (!config_.peers.empty() || !config_.learners.empty())) {
    // Bootstrap: one committed conf change per member at term 1, identical on every
    // original member, so a node added later learns the membership from the log.
    std::vector<NodeId> voters = config_.peers, learners = config_.learners;
    std::sort(voters.begin(), voters.end());
    std::sort(learners.begin(), learners.end());
    std::vector<Entry> ents;
    uint64_t index = 1;
    for (NodeId v : voters) {
      ents.push_back({1, index++, EntryType::kConfChange,
                      EncodeConfChange({ConfChangeType::kAddVoter, v, {}})});
    }
    for (NodeId l : learners) {
      ents.push_back({1, index++, EntryType::kConfChange,
                      EncodeConfChange({ConfChangeType::kAddLearner, l, {}})});
    }
    AppendToLog(ents, 0);
    term_ = 1;
    // Committed but not applied: the application sees these entries like any
    // later member would, so it can track the membership from index 1.
    log_.CommitTo(log_.LastIndex());
    FoldConfHistory();
  } else {
    // A restart: Config::peers is ignored, the storage knows the membership.
    term_ = init.hard_state.term;
    vote_ = init.hard_state.vote;
    // Re-read the membership changes logged after the snapshot (the storage's conf
    // state is the one as of its snapshot, which may lie above FirstIndex() - 1).
    DKV_ASSIGN_OR_RETURN(Snapshot stored_snap, storage_->GetSnapshot());
    const uint64_t snap_index = stored_snap.metadata.index;
    stored_snap.data.clear();
    const uint64_t first = std::max(storage_->FirstIndex(), snap_index + 1);
    const uint64_t last = storage_->LastIndex();
    for (uint64_t lo = first; lo <= last;) {
      std::vector<Entry> ents;
      DKV_RETURN_IF_ERROR(log_.Slice(lo, last + 1, 4 << 20, &ents));
      DKV_ASSERT(!ents.empty());
      for (const Entry& e : ents) {
        if (e.type != EntryType::kConfChange) continue;
        DKV_ASSIGN_OR_RETURN(ConfChange cc, DecodeConfChange(e.data));
        conf_history_.push_back({e.index, ApplyConfChange(conf_, cc)});
        conf_ = conf_history_.back().conf;
        conf_index_ = e.index;
      }
      lo = ents.back().index + 1;
    }
    if (init.hard_state.commit > log_.LastIndex()) {
      return Status::Corruption("raft log", "commit " + std::to_string(init.hard_state.commit) +
                                                " beyond last index " +
                                                std::to_string(log_.LastIndex()));
    }
    log_.CommitTo(init.hard_state.commit);
    // Applied defaults to the snapshot's index (the state machine restarts from
    // the snapshot), which may lie above FirstIndex() - 1 when the runtime kept
    // entries behind its snapshot.
    uint64_t applied = config_.applied;
    if (applied == 0) {
      applied = snap_index;
      if (applied > log_.committed() && applied <= log_.LastIndex()) log_.CommitTo(applied);
    }
    if (applied > log_.committed()) {
      return Status::InvalidArgument("raft config", "applied " + std::to_string(applied) +
                                                        " beyond commit " +
                                                        std::to_string(log_.committed()));
    }
    log_.AppliedTo(std::max(applied, log_.applied()));
    FoldConfHistory();
  }
  BecomeFollower(term_, kNoNode);
  start_term_ = term_;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Role changes

void Raft::ResetRandomizedElectionTimeout() {
  // §5.2: randomized in [election, 2 * election) so split votes are rare.
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(rng_.Uniform(config_.election_tick));
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  prs_.clear();
  term_start_index_ = UINT64_MAX;
  uncommitted_bytes_ = 0;
  uncommitted_.clear();
  lease_revoked_ = false;
  pending_reads_.clear();
  reads_before_commit_.clear();
  snapshot_cache_ = Snapshot{};
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  step_ = &Raft::StepFollower;
  tick_ = &Raft::TickElection;
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::BecomeCandidate() {
  DKV_ASSERT(role_ != Role::kLeader);
  step_ = &Raft::StepCandidate;
  tick_ = &Raft::TickElection;
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::BecomePreCandidate() {
  DKV_ASSERT(role_ != Role::kLeader);
  // Pre-vote changes neither term nor vote: a failed pre-campaign leaves no trace.
  step_ = &Raft::StepCandidate;
  tick_ = &Raft::TickElection;
  votes_.clear();
  lead_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::BecomeLeader() {
  DKV_ASSERT(role_ == Role::kCandidate);
  step_ = &Raft::StepLeader;
  tick_ = &Raft::TickHeartbeat;
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  SyncProgress();
  if (auto it = prs_.find(id_); it != prs_.end()) {
    it->second.match = log_.LastIndex();
    it->second.next = log_.LastIndex() + 1;
    it->second.BecomeReplicate();
    it->second.recent_active = true;
  }
  // §8 / thesis §6.4: a new leader commits an empty entry of its own term; until it
  // does, it knows no commit index it may serve reads at or build changes on.
  term_start_index_ = log_.LastIndex() + 1;
  Status s = AppendProposal({Entry{}});
  DKV_ASSERT(s.ok());
}

void Raft::Hup(bool transfer) {
  if (role_ == Role::kLeader) return;
  if (!Promotable()) return;
  StartCampaign(config_.pre_vote && !transfer, transfer);
}

void Raft::StartCampaign(bool pre_vote, bool transfer) {
  uint64_t term;
  MessageType type;
  if (pre_vote) {
    BecomePreCandidate();
    type = MessageType::kMsgPreVote;
    term = term_ + 1;  // the term we would campaign in; our own term is unchanged
  } else {
    BecomeCandidate();
    type = MessageType::kMsgVote;
    term = term_;
  }
  if (Poll(id_, true) == VoteResult::kWon) {
    // A single-voter group wins at once.
    if (pre_vote) {
      StartCampaign(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId v : conf_.voters) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    if (transfer) m.context = kTransferContext;
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(NodeId id, bool granted) {
  votes_.emplace(id, granted);  // the first answer from a node counts
  return MajorityVoteResult(conf_.voters, votes_);
}

// ---------------------------------------------------------------------------
// Inputs

void Raft::Tick() {
  ticks_++;
  (this->*tick_)();
}

void Raft::TickElection() {
  election_elapsed_++;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    Hup(false);
  }
}

void Raft::TickHeartbeat() {
  heartbeat_elapsed_++;
  election_elapsed_++;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !QuorumActive()) {
      // Thesis §6.2: a leader that cannot hear from a quorum steps down, so clients
      // stop waiting on it and its lease (if any) has already run out.
      BecomeFollower(term_, kNoNode);
      return;
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (lead_transferee_ != kNoNode) AbortLeaderTransfer();
  }
  if (role_ != Role::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    BcastHeartbeat();
  }
}

bool Raft::QuorumActive() {
  std::map<NodeId, bool> active;
  for (auto& [id, pr] : prs_) {
    if (id == id_) {
      active[id] = true;
      continue;
    }
    if (pr.recent_active && !pr.is_learner) active[id] = true;
    pr.recent_active = false;
  }
  return MajorityVoteResult(conf_.voters, active) == VoteResult::kWon;
}

Status Raft::Campaign() {
  if (!Promotable()) {
    return Status::Unavailable("raft", "node " + std::to_string(id_) + " is not a voter");
  }
  Hup(false);
  return Status::OK();
}

// Structural checks on what a peer sent: a malformed message is the world's
// doing (a bug elsewhere, a bad decoder) and gets a Status, not an assertion
// deep inside the log.
Status Raft::CheckMessageShape(const Message& m) const {
  if (m.type < MessageType::kMsgApp || m.type > MessageType::kMsgTransferLeader) {
    return Status::InvalidArgument(
        "raft step", "unknown message type " + std::to_string(static_cast<int>(m.type)));
  }
  if (m.type == MessageType::kMsgApp || m.type == MessageType::kMsgProp) {
    if (m.entries.size() > kMaxEntriesPerMsg) {
      return Status::InvalidArgument("raft step", "too many entries in one message");
    }
  }
  if (m.type == MessageType::kMsgApp) {
    uint64_t prev_term = m.log_term;
    for (size_t k = 0; k < m.entries.size(); k++) {
      const Entry& e = m.entries[k];
      if (e.index != m.index + 1 + k || e.term < prev_term || e.term > m.term) {
        return Status::InvalidArgument("raft step", "MsgApp from " + std::to_string(m.from) +
                                                        ": entry " + std::to_string(k) +
                                                        " out of sequence");
      }
      prev_term = e.term;
    }
  }
  if (m.type == MessageType::kMsgSnap &&
      (m.snapshot.index == 0 || m.snapshot.term == 0 || m.snapshot.term > m.term)) {
    return Status::InvalidArgument("raft step", "MsgSnap with bad metadata");
  }
  return Status::OK();
}

Status Raft::Step(const Message& m) {
  if (m.to != id_) {
    return Status::InvalidArgument("raft step", "message for node " + std::to_string(m.to) +
                                                    " delivered to " + std::to_string(id_));
  }
  if (m.from == kNoNode || m.from == id_) {
    return Status::InvalidArgument("raft step", "bad sender " + std::to_string(m.from));
  }
  DKV_RETURN_IF_ERROR(CheckMessageShape(m));
  const bool vote_request = m.type == MessageType::kMsgVote || m.type == MessageType::kMsgPreVote;
  if (m.term == 0) {
    // Forwarded requests carry no term; they go straight to the role. Anything
    // else without a term is malformed (it would otherwise pass as current).
    if (m.type != MessageType::kMsgProp && m.type != MessageType::kMsgReadIndex &&
        m.type != MessageType::kMsgTransferLeader) {
      return Status::InvalidArgument("raft step", std::string(MessageTypeName(m.type)) + " from " +
                                                      std::to_string(m.from) + " has no term");
    }
  } else if (m.term > term_) {
    if (vote_request) {
      const bool force = m.context == kTransferContext;
      // With leases on, a node that just (re)started may have acknowledged a
      // leader's heartbeat before it went down: stay sticky for the first election
      // timeout after start, or a restart would cut another leader's lease short.
      // (A node that started at term <= 1 never had a leader: no need.)
      const bool starting = config_.clock_drift_bound_ticks.has_value() && start_term_ > 1 &&
                            ticks_ < static_cast<uint64_t>(config_.election_tick);
      const bool in_lease = config_.check_quorum && (lead_ != kNoNode || starting) &&
                            election_elapsed_ < config_.election_tick;
      if (!force && in_lease) {
        // Leader stickiness (thesis §4.2.3): we heard from a live leader within an
        // election timeout, so ignore this vote without even adopting its term.
        return Status::OK();
      }
    }
    if (m.type == MessageType::kMsgPreVote) {
      // Never change term for a pre-vote request.
    } else if (m.type == MessageType::kMsgPreVoteResp && !m.reject) {
      // A granted pre-vote carries the term we would campaign in: keep ours until
      // we win the pre-vote.
    } else if (m.type == MessageType::kMsgApp || m.type == MessageType::kMsgHeartbeat ||
               m.type == MessageType::kMsgSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kMsgApp || m.type == MessageType::kMsgHeartbeat)) {
      // A stale leader (perhaps cut off and now back) learns our term from this and
      // steps down; without it, pre-vote could leave it stuck forever.
      Message resp;
      resp.type = MessageType::kMsgAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (m.type == MessageType::kMsgPreVote) {
      Message resp;
      resp.type = MessageType::kMsgPreVoteResp;
      resp.to = m.from;
      resp.reject = true;
      Send(std::move(resp));
    }
    return Status::OK();  // other stale messages are dropped
  }
  if (vote_request) {
    HandleVoteRequest(m);
    return Status::OK();
  }
  return (this->*step_)(m);
}

void Raft::HandleVoteRequest(const Message& m) {
  // §5.2: one vote per term, first come first served; a pre-vote for a future term
  // promises nothing, so it can be granted freely.
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                        (m.type == MessageType::kMsgPreVote && m.term > term_);
  Message resp;
  resp.to = m.from;
  resp.type =
      m.type == MessageType::kMsgVote ? MessageType::kMsgVoteResp : MessageType::kMsgPreVoteResp;
  // §5.4.1 election restriction: only a candidate whose log is at least as up to
  // date as ours may get our vote.
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    resp.term = m.term;
    if (m.type == MessageType::kMsgVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  msgs_.push_back(std::move(resp));
  msgs_.back().from = id_;
}

Status Raft::StepCandidate(const Message& m) {
  const MessageType my_resp =
      role_ == Role::kPreCandidate ? MessageType::kMsgPreVoteResp : MessageType::kMsgVoteResp;
  switch (m.type) {
    case MessageType::kMsgApp:
      BecomeFollower(m.term, m.from);  // §5.2: a leader of our term exists
      HandleAppend(m);
      return Status::OK();
    case MessageType::kMsgHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      return Status::OK();
    case MessageType::kMsgSnap:
      BecomeFollower(m.term, m.from);
      HandleSnapshotChunk(m);
      return Status::OK();
    case MessageType::kMsgVoteResp:
    case MessageType::kMsgPreVoteResp: {
      if (m.type != my_resp) return Status::OK();  // from an earlier campaign
      switch (Poll(m.from, !m.reject)) {
        case VoteResult::kWon:
          if (role_ == Role::kPreCandidate) {
            StartCampaign(false, false);
          } else {
            BecomeLeader();  // appends and broadcasts its empty entry
          }
          break;
        case VoteResult::kLost:
          // Pre-candidates keep their term; candidates already moved to theirs.
          BecomeFollower(term_, kNoNode);
          break;
        case VoteResult::kPending:
          break;
      }
      return Status::OK();
    }
    case MessageType::kMsgTimeoutNow:
      return Status::OK();  // already campaigning
    default:
      return Status::OK();  // proposals and reads fail at the API while no leader is known
  }
}

Status Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kMsgApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppend(m);
      return Status::OK();
    case MessageType::kMsgHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      return Status::OK();
    case MessageType::kMsgSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshotChunk(m);
      return Status::OK();
    case MessageType::kMsgProp:
    case MessageType::kMsgTransferLeader:
    case MessageType::kMsgReadIndex:
      // A request forwarded to us by a node with a stale idea of the leader: pass
      // it on once (we never forward what we did not get from the origin).
      if (lead_ != kNoNode && config_.forward_proposals && m.type == MessageType::kMsgProp) {
        Message fwd = m;
        fwd.to = lead_;
        fwd.from = id_;
        Send(std::move(fwd));
      }
      return Status::OK();
    case MessageType::kMsgTimeoutNow:
      // Thesis §3.10: the leader brought us up to date and asks us to campaign now,
      // skipping pre-vote (the leader itself would grant it anyway).
      Hup(true);
      return Status::OK();
    case MessageType::kMsgReadIndexResp:
      read_states_.push_back({m.index, m.context});
      return Status::OK();
    default:
      return Status::OK();
  }
}

// ---------------------------------------------------------------------------
// Local requests

Status Raft::Propose(std::string data) {
  std::vector<Entry> ents(1);
  ents[0].data = std::move(data);
  return ProposeEntries(std::move(ents));
}

Status Raft::ProposeBatch(std::vector<std::string> data) {
  if (data.empty()) return Status::OK();
  if (data.size() > kMaxEntriesPerMsg) {
    return Status::InvalidArgument("raft", "too many entries in one proposal");
  }
  std::vector<Entry> ents(data.size());
  for (size_t k = 0; k < data.size(); k++) ents[k].data = std::move(data[k]);
  return ProposeEntries(std::move(ents));
}

Status Raft::ProposeEntries(std::vector<Entry> ents) {
  if (role_ == Role::kLeader) return AppendProposal(std::move(ents));
  if (lead_ == kNoNode) return Status::Unavailable("raft", "not leader, leader is unknown");
  if (!config_.forward_proposals) {
    return Status::Unavailable("raft", "not leader, leader is " + std::to_string(lead_));
  }
  Message m;
  m.type = MessageType::kMsgProp;
  m.to = lead_;
  m.entries = std::move(ents);
  m.from = id_;
  msgs_.push_back(std::move(m));  // term stays 0: forwarded requests carry none
  return Status::OK();
}

Status Raft::ProposeConfChange(const ConfChange& cc) {
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = EncodeConfChange(cc);
  if (role_ == Role::kLeader) {
    DKV_RETURN_IF_ERROR(ValidateConfChange(conf_, cc));
    return AppendProposal({std::move(e)});
  }
  if (lead_ == kNoNode) return Status::Unavailable("raft", "not leader, leader is unknown");
  if (!config_.forward_proposals) {
    return Status::Unavailable("raft", "not leader, leader is " + std::to_string(lead_));
  }
  Message m;
  m.type = MessageType::kMsgProp;
  m.to = lead_;
  m.from = id_;
  m.entries.push_back(std::move(e));
  msgs_.push_back(std::move(m));
  return Status::OK();
}

Status Raft::TransferLeadership(NodeId to) {
  if (role_ == Role::kLeader) return HandleTransferLeader(to);
  if (lead_ == kNoNode) return Status::Unavailable("raft", "not leader, leader is unknown");
  if (to != id_) {
    return Status::InvalidArgument("raft", "a follower can only ask for leadership for itself");
  }
  Message m;
  m.type = MessageType::kMsgTransferLeader;
  m.to = lead_;
  m.from = id_;
  msgs_.push_back(std::move(m));
  return Status::OK();
}

Status Raft::ReadIndex(std::string context) {
  if (role_ == Role::kLeader) return HandleReadIndex(id_, std::move(context));
  if (lead_ == kNoNode) return Status::Unavailable("raft", "not leader, leader is unknown");
  Message m;
  m.type = MessageType::kMsgReadIndex;
  m.to = lead_;
  m.from = id_;
  m.context = std::move(context);
  msgs_.push_back(std::move(m));
  return Status::OK();
}

void Raft::ReportUnreachable(NodeId id) {
  if (role_ != Role::kLeader) return;
  auto it = prs_.find(id);
  if (it == prs_.end()) return;
  if (it->second.state == ProgressState::kReplicate) it->second.BecomeProbe();
}

void Raft::Send(Message m) {
  m.from = id_;
  // Every message but forwarded requests carries our term; a response to a vote
  // request carries the term it answers (set by the caller).
  const bool keeps_term = m.type == MessageType::kMsgVote || m.type == MessageType::kMsgPreVote ||
                          m.type == MessageType::kMsgVoteResp ||
                          m.type == MessageType::kMsgPreVoteResp;
  if (!keeps_term) {
    if (m.type != MessageType::kMsgProp && m.type != MessageType::kMsgReadIndex &&
        m.type != MessageType::kMsgTransferLeader) {
      m.term = term_;
    }
  } else if (m.term == 0) {
    m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

}  // namespace dkv::raft
