// Raft: the consensus state machine of one replica (Raft paper §5, thesis §3-§9).
//
// Inputs are ticks, messages and local requests; outputs accumulate in msgs() and
// read_states() and in the RaftLog's unstable tail, which RawNode packages into a
// Ready. Behaviour per role lives in one step function per role, chosen on each
// role change (StepLeader, StepCandidate, StepFollower). Internal to src/raft:
// use RawNode. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "raft/log_storage.h"
#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raft_log.h"
#include "raft/raw_node.h"
#include "raft/types.h"

namespace dkv::raft {

class Raft {
 public:
  static Result<std::unique_ptr<Raft>> Create(const Config& config, LogStorage* storage);

  void Tick();
  Status Step(const Message& m);
  Status Campaign();
  Status Propose(std::string data);
  Status ProposeBatch(std::vector<std::string> data);
  Status ProposeConfChange(const ConfChange& cc);
  Status TransferLeadership(NodeId to);
  Status ReadIndex(std::string context);
  void ReportUnreachable(NodeId id);

  SoftState soft_state() const { return {lead_, role_}; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  std::vector<Message>& msgs() { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  NodeStatus GetStatus() const;
  NodeStatus GetBasicStatus() const;
  NodeId id() const { return id_; }
  // Progress of a member (leader only); nullptr if unknown. For tests.
  const Progress* progress(NodeId id) const;

 private:
  using StepFn = Status (Raft::*)(const Message&);
  using TickFn = void (Raft::*)();
  struct ConfPoint {
    uint64_t index;  // log index of the kConfChange entry
    ConfState conf;  // membership once that entry is in the log
  };
  struct PendingRead {
    uint64_t seq;    // heartbeat round that must be acknowledged by a quorum
    uint64_t index;  // commit index when the request arrived
    NodeId from;
    std::string context;
  };
  struct WaitingRead {
    NodeId from;
    std::string context;
  };

  Raft(const Config& config, LogStorage* storage);
  Status Init();

  // Role changes.
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  void Hup(bool transfer);
  void StartCampaign(bool pre_vote, bool transfer);
  VoteResult Poll(NodeId id, bool granted);

  // Per-role behaviour.
  Status StepLeader(const Message& m);
  Status StepCandidate(const Message& m);
  Status StepFollower(const Message& m);
  void TickElection();
  void TickHeartbeat();
  void HandleVoteRequest(const Message& m);
  Status CheckMessageShape(const Message& m) const;

  // Follower side of replication.
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshotChunk(const Message& m);
  bool RestoreSnapshot(Snapshot snap);

  // Leader side of replication.
  // Appends ents (leader) or forwards them as one kMsgProp (follower).
  Status ProposeEntries(std::vector<Entry> ents);
  Status AppendProposal(std::vector<Entry> ents);
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  void SendAppend(NodeId to) { MaybeSendAppend(to, true); }
  void BcastAppend();
  void BcastHeartbeat();
  void SendHeartbeat(NodeId to);
  bool SendSnapshot(NodeId to, Progress& pr);
  void SendSnapshotChunk(NodeId to, Progress& pr);
  void HandleAppendResponse(const Message& m, Progress& pr);
  void HandleHeartbeatResponse(const Message& m, Progress& pr);
  void HandleSnapshotResponse(const Message& m, Progress& pr);
  bool MaybeCommit();
  void AfterCommit();
  bool QuorumActive();
  Status HandleTransferLeader(NodeId target);
  void AbortLeaderTransfer() { lead_transferee_ = kNoNode; }
  void SendTimeoutNow(NodeId to);

  // Reads.
  Status HandleReadIndex(NodeId from, std::string context);
  void AnswerRead(NodeId from, uint64_t index, std::string context);
  void CheckReads();
  bool LeaseValid() const;
  bool CommittedInTerm() const { return log_.committed() >= term_start_index_; }

  // Membership (takes effect when the entry is appended; see docs/raft.md).
  void AppendToLog(const std::vector<Entry>& ents, size_t from);
  void SetConf(const ConfState& conf, uint64_t index);
  void FoldConfHistory();
  void SyncProgress();
  bool Promotable() const { return conf_.IsVoter(id_); }
  Progress& AddProgress(NodeId id, bool learner);

  void Send(Message m);
  void ResetRandomizedElectionTimeout();

  // Configuration.
  const NodeId id_;
  const Config config_;
  LogStorage* const storage_;
  Rng rng_;

  // Persistent state (§5: term, vote, log).
  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  RaftLog log_;

  // Volatile state.
  Role role_ = Role::kFollower;
  NodeId lead_ = kNoNode;
  StepFn step_ = &Raft::StepFollower;
  TickFn tick_ = &Raft::TickElection;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t ticks_ = 0;       // ticks since creation: the leader's lease clock
  uint64_t start_term_ = 0;  // term when this instance was created
  std::map<NodeId, bool> votes_;

  // Membership: base (committed, or from the snapshot) plus uncommitted changes.
  ConfState conf_;
  uint64_t conf_index_ = 0;  // index of the entry that produced conf_ (0: base)
  ConfState conf_base_;
  std::vector<ConfPoint> conf_history_;

  // Leader state.
  std::map<NodeId, Progress> prs_;
  uint64_t term_start_index_ = UINT64_MAX;  // index of this leader's first entry
  uint64_t uncommitted_bytes_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> uncommitted_;  // (last index, bytes) per proposal
  NodeId lead_transferee_ = kNoNode;
  bool lease_revoked_ = false;  // a transfer started this term: no lease reads
  uint64_t read_seq_ = 0;
  std::deque<PendingRead> pending_reads_;
  std::vector<WaitingRead> reads_before_commit_;
  Snapshot snapshot_cache_;  // the snapshot being streamed to followers

  // Follower state: a snapshot being reassembled from chunks.
  std::optional<SnapshotMetadata> incoming_snapshot_meta_;
  std::string incoming_snapshot_data_;       // without a snapshot sink
  uint64_t incoming_snapshot_bytes_ = 0;     // received so far (with or without a sink)
  NodeId incoming_snapshot_from_ = kNoNode;  // the leader streaming it, and its term
  uint64_t incoming_snapshot_msg_term_ = 0;

  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
};

}  // namespace dkv::raft
