#include "raft/types.h"

#include <algorithm>

#include "common/coding.h"

namespace dkv::raft {

bool ConfState::IsVoter(NodeId id) const {
  return std::find(voters.begin(), voters.end(), id) != voters.end();
}

bool ConfState::IsLearner(NodeId id) const {
  return std::find(learners.begin(), learners.end(), id) != learners.end();
}

std::string EncodeConfChange(const ConfChange& cc) {
  std::string out;
  out.push_back(static_cast<char>(cc.type));
  PutVarint64(&out, cc.node_id);
  PutLengthPrefixed(&out, cc.context);
  return out;
}

Result<ConfChange> DecodeConfChange(std::string_view data) {
  ConfChange cc;
  if (data.empty()) return Status::Corruption("conf change", "empty");
  const auto type = static_cast<uint8_t>(data[0]);
  if (type > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) {
    return Status::Corruption("conf change", "unknown type " + std::to_string(type));
  }
  cc.type = static_cast<ConfChangeType>(type);
  data.remove_prefix(1);
  std::string_view context;
  if (!GetVarint64(&data, &cc.node_id) || !GetLengthPrefixed(&data, &context)) {
    return Status::Corruption("conf change", "truncated");
  }
  if (!data.empty()) return Status::Corruption("conf change", "trailing bytes");
  cc.context = std::string(context);
  return cc;
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kMsgApp:
      return "MsgApp";
    case MessageType::kMsgAppResp:
      return "MsgAppResp";
    case MessageType::kMsgVote:
      return "MsgVote";
    case MessageType::kMsgVoteResp:
      return "MsgVoteResp";
    case MessageType::kMsgPreVote:
      return "MsgPreVote";
    case MessageType::kMsgPreVoteResp:
      return "MsgPreVoteResp";
    case MessageType::kMsgHeartbeat:
      return "MsgHeartbeat";
    case MessageType::kMsgHeartbeatResp:
      return "MsgHeartbeatResp";
    case MessageType::kMsgSnap:
      return "MsgSnap";
    case MessageType::kMsgSnapResp:
      return "MsgSnapResp";
    case MessageType::kMsgTimeoutNow:
      return "MsgTimeoutNow";
    case MessageType::kMsgReadIndex:
      return "MsgReadIndex";
    case MessageType::kMsgReadIndexResp:
      return "MsgReadIndexResp";
    case MessageType::kMsgProp:
      return "MsgProp";
    case MessageType::kMsgTransferLeader:
      return "MsgTransferLeader";
  }
  return "MsgUnknown";
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
    case Role::kPreCandidate:
      return "pre-candidate";
  }
  return "unknown";
}

}  // namespace dkv::raft
