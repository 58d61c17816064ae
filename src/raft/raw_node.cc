#include "raft/raw_node.h"

#include <algorithm>

#include "raft/limits.h"
#include "raft/raft.h"

namespace dkv::raft {

Status Config::Validate() const {
  if (id == kNoNode) return Status::InvalidArgument("raft config", "id must not be 0");
  if (heartbeat_tick <= 0) return Status::InvalidArgument("raft config", "heartbeat_tick <= 0");
  if (election_tick <= heartbeat_tick) {
    return Status::InvalidArgument("raft config", "election_tick must exceed heartbeat_tick");
  }
  if (election_tick > kMaxElectionTick) {
    return Status::InvalidArgument("raft config", "election_tick above kMaxElectionTick");
  }
  if (max_inflight_msgs == 0 || max_inflight_msgs > kMaxInflightMsgsLimit) {
    return Status::InvalidArgument("raft config", "max_inflight_msgs out of [1, 4096]");
  }
  if (max_snapshot_chunk_bytes == 0 || max_snapshot_chunk_bytes > kMaxSnapshotChunkBytes) {
    return Status::InvalidArgument("raft config", "max_snapshot_chunk_bytes out of range");
  }
  if (max_size_per_msg == 0) return Status::InvalidArgument("raft config", "max_size_per_msg 0");
  if (clock_drift_bound_ticks) {
    if (*clock_drift_bound_ticks < 0 || *clock_drift_bound_ticks >= election_tick) {
      return Status::InvalidArgument("raft config",
                                     "clock_drift_bound_ticks out of [0, election_tick)");
    }
    if (!check_quorum) {
      return Status::InvalidArgument("raft config", "lease reads need check_quorum");
    }
  }
  for (NodeId l : learners) {
    if (std::find(peers.begin(), peers.end(), l) != peers.end()) {
      return Status::InvalidArgument("raft config", "a node is both peer and learner");
    }
  }
  return Status::OK();
}

RawNode::RawNode(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_ = raft_->soft_state();
  prev_hard_ = HardState{};
}

RawNode::~RawNode() = default;

Result<std::unique_ptr<RawNode>> RawNode::Create(const Config& config, LogStorage* storage) {
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<Raft> raft, Raft::Create(config, storage));
  std::unique_ptr<RawNode> node(new RawNode(std::move(raft)));
  // What storage already holds need not be reported again.
  node->prev_hard_ = storage->GetInitialState().hard_state;
  return node;
}

void RawNode::Tick() { raft_->Tick(); }
Status RawNode::Campaign() { return raft_->Campaign(); }
Status RawNode::Step(const Message& msg) { return raft_->Step(msg); }
Status RawNode::Propose(std::string data) { return raft_->Propose(std::move(data)); }
Status RawNode::ProposeBatch(std::vector<std::string> data) {
  return raft_->ProposeBatch(std::move(data));
}
Status RawNode::ProposeConfChange(const ConfChange& cc) { return raft_->ProposeConfChange(cc); }
Status RawNode::TransferLeadership(NodeId to) { return raft_->TransferLeadership(to); }
Status RawNode::ReadIndex(std::string context) { return raft_->ReadIndex(std::move(context)); }
void RawNode::ReportUnreachable(NodeId id) { raft_->ReportUnreachable(id); }
NodeStatus RawNode::GetStatus() const { return raft_->GetStatus(); }
NodeStatus RawNode::GetBasicStatus() const { return raft_->GetBasicStatus(); }
NodeId RawNode::id() const { return raft_->id(); }

bool RawNode::HasReady() const {
  if (ready_outstanding_) return false;
  const RaftLog& log = raft_->log();
  return raft_->soft_state() != prev_soft_ || raft_->hard_state() != prev_hard_ ||
         !log.unstable_entries().empty() || log.unstable_snapshot().has_value() ||
         !raft_->msgs().empty() || !raft_->read_states().empty() || log.HasNextCommittedEntries();
}

Ready RawNode::GetReady() {
  DKV_ASSERT(!ready_outstanding_);  // one Ready at a time: Advance first
  ready_outstanding_ = true;
  Ready rd;
  const SoftState ss = raft_->soft_state();
  if (ss != prev_soft_) rd.soft_state = ss;
  const HardState hs = raft_->hard_state();
  if (hs != prev_hard_) rd.hard_state = hs;
  RaftLog& log = raft_->log();
  rd.entries = log.unstable_entries();
  if (log.unstable_snapshot()) rd.snapshot = *log.unstable_snapshot();
  rd.committed_entries = log.NextCommittedEntries();
  rd.messages = std::move(raft_->msgs());
  raft_->msgs().clear();
  rd.read_states = std::move(raft_->read_states());
  raft_->read_states().clear();
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() ||
                 (rd.hard_state && (hs.term != prev_hard_.term || hs.vote != prev_hard_.vote));
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  DKV_ASSERT(ready_outstanding_);
  ready_outstanding_ = false;
  if (rd.soft_state) prev_soft_ = *rd.soft_state;
  if (rd.hard_state) prev_hard_ = *rd.hard_state;
  RaftLog& log = raft_->log();
  if (rd.snapshot) log.StableSnapTo(rd.snapshot->metadata.index);
  if (!rd.entries.empty()) log.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) log.AppliedTo(rd.committed_entries.back().index);
}

}  // namespace dkv::raft
