#include "transport/codec.h"

#include <string>
#include <utility>

#include "raft/limits.h"

namespace dkv::transport {
namespace {

constexpr const char* kWhere = "rpc message";

bool IsKnownMessageType(uint32_t type) {
  return type >= static_cast<uint32_t>(raft::MessageType::kMsgApp) &&
         type <= static_cast<uint32_t>(raft::MessageType::kMsgTransferLeader);
}

bool IsKnownEntryType(uint32_t type) {
  return type == static_cast<uint32_t>(raft::EntryType::kNormal) ||
         type == static_cast<uint32_t>(raft::EntryType::kConfChange);
}

// Ids must be strictly increasing and never kNoNode (raft keeps them sorted).
bool IsSortedIdList(const google::protobuf::RepeatedField<uint64_t>& ids) {
  for (int i = 0; i < ids.size(); i++) {
    if (ids[i] == raft::kNoNode) return false;
    if (i > 0 && ids[i - 1] >= ids[i]) return false;
  }
  return true;
}

Result<raft::ConfState> FromProto(const rpc::ConfState& in) {
  if (!IsSortedIdList(in.voters()) || !IsSortedIdList(in.learners())) {
    return Status::Corruption(kWhere, "conf state ids not strictly increasing");
  }
  raft::ConfState cs;
  cs.voters.assign(in.voters().begin(), in.voters().end());
  cs.learners.assign(in.learners().begin(), in.learners().end());
  for (raft::NodeId id : cs.learners) {
    if (cs.IsVoter(id)) return Status::Corruption(kWhere, "node both voter and learner");
  }
  return cs;
}

}  // namespace

void ToProto(const raft::Message& msg, rpc::RaftMessage* out) {
  out->Clear();
  out->set_type(static_cast<uint32_t>(msg.type));
  out->set_from(msg.from);
  out->set_to(msg.to);
  out->set_term(msg.term);
  out->set_index(msg.index);
  out->set_log_term(msg.log_term);
  out->mutable_entries()->Reserve(static_cast<int>(msg.entries.size()));
  for (const raft::Entry& e : msg.entries) {
    rpc::Entry* pe = out->add_entries();
    pe->set_term(e.term);
    pe->set_index(e.index);
    pe->set_type(static_cast<uint32_t>(e.type));
    pe->set_data(e.data.data(), e.data.size());
  }
  out->set_commit(msg.commit);
  out->set_reject(msg.reject);
  out->set_reject_hint(msg.reject_hint);
  // Metadata is sent only when it says something, so heartbeats stay small.
  const raft::SnapshotMetadata& sm = msg.snapshot;
  if (sm.index != 0 || sm.term != 0 || !sm.conf_state.IsEmpty()) {
    rpc::SnapshotMetadata* ps = out->mutable_snapshot();
    ps->set_index(sm.index);
    ps->set_term(sm.term);
    rpc::ConfState* pc = ps->mutable_conf_state();
    pc->mutable_voters()->Add(sm.conf_state.voters.begin(), sm.conf_state.voters.end());
    pc->mutable_learners()->Add(sm.conf_state.learners.begin(), sm.conf_state.learners.end());
  }
  out->set_snapshot_offset(msg.snapshot_offset);
  out->set_snapshot_last_chunk(msg.snapshot_last_chunk);
  out->set_snapshot_chunk(msg.snapshot_chunk);
  out->set_leader_tick(msg.leader_tick);
  out->set_context(msg.context);
}

Result<raft::Message> FromProto(const rpc::RaftMessage& in) {
  if (!IsKnownMessageType(in.type())) {
    return Status::Corruption(kWhere, "unknown message type " + std::to_string(in.type()));
  }
  if (static_cast<size_t>(in.entries_size()) > raft::kMaxEntriesPerMsg) {
    return Status::Corruption(kWhere, "too many entries: " + std::to_string(in.entries_size()));
  }
  raft::Message msg;
  msg.type = static_cast<raft::MessageType>(in.type());
  msg.from = in.from();
  msg.to = in.to();
  msg.term = in.term();
  msg.index = in.index();
  msg.log_term = in.log_term();
  msg.entries.reserve(in.entries_size());
  for (const rpc::Entry& pe : in.entries()) {
    if (!IsKnownEntryType(pe.type())) {
      return Status::Corruption(kWhere, "unknown entry type " + std::to_string(pe.type()));
    }
    raft::Entry e;
    e.term = pe.term();
    e.index = pe.index();
    e.type = static_cast<raft::EntryType>(pe.type());
    e.data = raft::Payload(std::string_view(pe.data()));
    msg.entries.push_back(std::move(e));
  }
  msg.commit = in.commit();
  msg.reject = in.reject();
  msg.reject_hint = in.reject_hint();
  if (in.has_snapshot()) {
    msg.snapshot.index = in.snapshot().index();
    msg.snapshot.term = in.snapshot().term();
    DKV_ASSIGN_OR_RETURN(msg.snapshot.conf_state, FromProto(in.snapshot().conf_state()));
  }
  msg.snapshot_offset = in.snapshot_offset();
  msg.snapshot_last_chunk = in.snapshot_last_chunk();
  msg.snapshot_chunk = in.snapshot_chunk();
  msg.leader_tick = in.leader_tick();
  msg.context = in.context();
  return msg;
}

void ToProto(const node::MessageBatch& batch, rpc::RaftBatch* out) {
  out->Clear();
  out->set_from(batch.from);
  out->set_to(batch.to);
  out->mutable_envelopes()->Reserve(static_cast<int>(batch.messages.size()));
  for (const node::Envelope& env : batch.messages) {
    rpc::Envelope* pe = out->add_envelopes();
    pe->set_shard(env.shard);
    ToProto(env.msg, pe->mutable_message());
  }
}

Result<node::MessageBatch> FromProto(const rpc::RaftBatch& in) {
  node::MessageBatch batch;
  batch.from = in.from();
  batch.to = in.to();
  batch.messages.reserve(in.envelopes_size());
  for (const rpc::Envelope& pe : in.envelopes()) {
    node::Envelope env;
    env.shard = pe.shard();
    if (!pe.has_message()) return Status::Corruption(kWhere, "envelope without a message");
    DKV_ASSIGN_OR_RETURN(env.msg, FromProto(pe.message()));
    batch.messages.push_back(std::move(env));
  }
  return batch;
}

}  // namespace dkv::transport
