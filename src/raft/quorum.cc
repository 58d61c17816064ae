#include "raft/quorum.h"

#include <algorithm>
#include <string>

namespace dkv::raft {

namespace {
// Voter sets are small: sort on the stack when they fit.
constexpr size_t kInlineVoters = 16;

void InsertSorted(std::vector<NodeId>* ids, NodeId id) {
  ids->insert(std::lower_bound(ids->begin(), ids->end(), id), id);
}
void Erase(std::vector<NodeId>* ids, NodeId id) {
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
}
}  // namespace

uint64_t MajorityValue(const std::vector<NodeId>& voters,
                       const std::function<uint64_t(NodeId)>& value) {
  const size_t n = voters.size();
  if (n == 0) return 0;
  uint64_t inline_buf[kInlineVoters];
  std::vector<uint64_t> heap_buf;
  uint64_t* vals = inline_buf;
  if (n > kInlineVoters) {
    heap_buf.resize(n);
    vals = heap_buf.data();
  }
  for (size_t i = 0; i < n; i++) vals[i] = value(voters[i]);
  // Sorted descending, the (n/2)-th value is held by n/2+1 voters: a majority.
  std::sort(vals, vals + n, std::greater<uint64_t>());
  return vals[n / 2];
}

VoteResult MajorityVoteResult(const std::vector<NodeId>& voters,
                              const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;  // by convention; never campaigned on
  size_t granted = 0, rejected = 0;
  for (NodeId id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    if (it->second) {
      granted++;
    } else {
      rejected++;
    }
  }
  const size_t quorum = voters.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (granted + (voters.size() - granted - rejected) >= quorum) return VoteResult::kPending;
  return VoteResult::kLost;
}

Status ValidateConfChange(const ConfState& cs, const ConfChange& cc) {
  const std::string who = "node " + std::to_string(cc.node_id);
  if (cc.node_id == kNoNode) return Status::InvalidArgument("conf change", "node id 0");
  switch (cc.type) {
    case ConfChangeType::kAddVoter:
      if (cs.IsVoter(cc.node_id))
        return Status::InvalidArgument("conf change", who + " is a voter");
      return Status::OK();
    case ConfChangeType::kAddLearner:
      if (cs.IsVoter(cc.node_id)) {
        return Status::InvalidArgument("conf change", who + " is a voter (no demotion)");
      }
      if (cs.IsLearner(cc.node_id)) {
        return Status::InvalidArgument("conf change", who + " is a learner");
      }
      return Status::OK();
    case ConfChangeType::kRemoveNode:
      if (!cs.Contains(cc.node_id)) {
        return Status::InvalidArgument("conf change", who + " is not a member");
      }
      if (cs.IsVoter(cc.node_id) && cs.voters.size() == 1) {
        return Status::InvalidArgument("conf change", who + " is the last voter");
      }
      return Status::OK();
  }
  return Status::InvalidArgument("conf change", "unknown type");
}

ConfState ApplyConfChange(const ConfState& cs, const ConfChange& cc) {
  if (!ValidateConfChange(cs, cc).ok()) return cs;
  ConfState out = cs;
  switch (cc.type) {
    case ConfChangeType::kAddVoter:
      Erase(&out.learners, cc.node_id);
      InsertSorted(&out.voters, cc.node_id);
      break;
    case ConfChangeType::kAddLearner:
      InsertSorted(&out.learners, cc.node_id);
      break;
    case ConfChangeType::kRemoveNode:
      Erase(&out.voters, cc.node_id);
      Erase(&out.learners, cc.node_id);
      break;
  }
  return out;
}

}  // namespace dkv::raft
