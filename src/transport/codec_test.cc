#include "transport/codec.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <string>
#include <vector>

#include "raft/limits.h"

namespace dkv::transport {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;

bool SameConfState(const raft::ConfState& a, const raft::ConfState& b) {
  return a.voters == b.voters && a.learners == b.learners;
}

// raft::Message has no operator==; compares every field.
bool SameMessage(const Message& a, const Message& b) {
  return a.type == b.type && a.from == b.from && a.to == b.to && a.term == b.term &&
         a.index == b.index && a.log_term == b.log_term && a.entries == b.entries &&
         a.commit == b.commit && a.reject == b.reject && a.reject_hint == b.reject_hint &&
         a.snapshot.index == b.snapshot.index && a.snapshot.term == b.snapshot.term &&
         SameConfState(a.snapshot.conf_state, b.snapshot.conf_state) &&
         a.snapshot_offset == b.snapshot_offset && a.snapshot_last_chunk == b.snapshot_last_chunk &&
         a.snapshot_chunk == b.snapshot_chunk && a.leader_tick == b.leader_tick &&
         a.context == b.context;
}

// Strictly increasing non-zero ids from arbitrary ones.
std::vector<uint64_t> SortedIds(std::vector<uint64_t> ids) {
  std::vector<uint64_t> out;
  for (uint64_t id : ids) {
    if (id != 0) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A random, valid raft::Message: every field may be set whatever the type.
Message GenMessage() {
  Message m;
  m.type = static_cast<MessageType>(*rc::gen::inRange(1, 16));
  m.from = *rc::gen::arbitrary<uint64_t>();
  m.to = *rc::gen::arbitrary<uint64_t>();
  m.term = *rc::gen::arbitrary<uint64_t>();
  m.index = *rc::gen::arbitrary<uint64_t>();
  m.log_term = *rc::gen::arbitrary<uint64_t>();
  const int entries = *rc::gen::inRange(0, 8);
  for (int i = 0; i < entries; i++) {
    Entry e;
    e.term = *rc::gen::arbitrary<uint64_t>();
    e.index = *rc::gen::arbitrary<uint64_t>();
    e.type = static_cast<EntryType>(*rc::gen::inRange(0, 2));
    e.data = raft::Payload(std::string_view(*rc::gen::arbitrary<std::string>()));
    m.entries.push_back(e);
  }
  m.commit = *rc::gen::arbitrary<uint64_t>();
  m.reject = *rc::gen::arbitrary<bool>();
  m.reject_hint = *rc::gen::arbitrary<uint64_t>();
  m.snapshot.index = *rc::gen::arbitrary<uint64_t>();
  m.snapshot.term = *rc::gen::arbitrary<uint64_t>();
  m.snapshot.conf_state.voters = SortedIds(*rc::gen::arbitrary<std::vector<uint64_t>>());
  for (uint64_t id : SortedIds(*rc::gen::arbitrary<std::vector<uint64_t>>())) {
    if (!m.snapshot.conf_state.IsVoter(id)) m.snapshot.conf_state.learners.push_back(id);
  }
  m.snapshot_offset = *rc::gen::arbitrary<uint64_t>();
  m.snapshot_last_chunk = *rc::gen::arbitrary<bool>();
  m.snapshot_chunk = *rc::gen::arbitrary<std::string>();
  m.leader_tick = *rc::gen::arbitrary<uint64_t>();
  m.context = *rc::gen::arbitrary<std::string>();
  return m;
}

Message Heartbeat() {
  Message m;
  m.type = MessageType::kMsgHeartbeat;
  m.from = 1;
  m.to = 2;
  m.term = 7;
  m.commit = 42;
  m.leader_tick = 9;
  return m;
}

TEST(CodecTest, AnyMessageRoundTripsThroughProtoAndBytes) {
  EXPECT_TRUE(rc::check("raft::Message -> proto -> bytes -> proto -> raft::Message", [] {
    const Message m = GenMessage();
    rpc::RaftMessage p;
    ToProto(m, &p);
    rpc::RaftMessage parsed;
    RC_ASSERT(parsed.ParseFromString(p.SerializeAsString()));
    Result<Message> back = FromProto(parsed);
    RC_ASSERT(back.ok());
    RC_ASSERT(SameMessage(m, *back));
  }));
}

TEST(CodecTest, AnyBatchRoundTrips) {
  EXPECT_TRUE(rc::check("MessageBatch round trip", [] {
    node::MessageBatch batch;
    batch.from = *rc::gen::arbitrary<uint64_t>();
    batch.to = *rc::gen::arbitrary<uint64_t>();
    const int n = *rc::gen::inRange(0, 5);
    for (int i = 0; i < n; i++) {
      batch.messages.push_back({*rc::gen::arbitrary<uint64_t>(), GenMessage()});
    }
    rpc::RaftBatch p;
    ToProto(batch, &p);
    rpc::RaftBatch parsed;
    RC_ASSERT(parsed.ParseFromString(p.SerializeAsString()));
    Result<node::MessageBatch> back = FromProto(parsed);
    RC_ASSERT(back.ok());
    RC_ASSERT(back->from == batch.from);
    RC_ASSERT(back->to == batch.to);
    RC_ASSERT(back->messages.size() == batch.messages.size());
    for (size_t i = 0; i < batch.messages.size(); i++) {
      RC_ASSERT(back->messages[i].shard == batch.messages[i].shard);
      RC_ASSERT(SameMessage(back->messages[i].msg, batch.messages[i].msg));
    }
  }));
}

TEST(CodecTest, HeartbeatWithoutSnapshotStaysSmall) {
  rpc::RaftMessage p;
  ToProto(Heartbeat(), &p);
  EXPECT_FALSE(p.has_snapshot());
  EXPECT_LT(p.ByteSizeLong(), 16u);
}

TEST(CodecTest, UnknownMessageTypeIsCorruption) {
  rpc::RaftMessage p;
  ToProto(Heartbeat(), &p);
  for (uint32_t type : {0u, 16u, 255u, 1000u}) {
    p.set_type(type);
    Result<Message> m = FromProto(p);
    ASSERT_FALSE(m.ok()) << type;
    EXPECT_TRUE(m.status().IsCorruption()) << m.status().ToString();
  }
}

TEST(CodecTest, UnknownEntryTypeIsCorruption) {
  rpc::RaftMessage p;
  ToProto(Heartbeat(), &p);
  p.set_type(static_cast<uint32_t>(MessageType::kMsgApp));
  rpc::Entry* e = p.add_entries();
  e->set_type(2);
  Result<Message> m = FromProto(p);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().ToString(), "Corruption: rpc message: unknown entry type 2");
}

TEST(CodecTest, UnsortedOrOverlappingMembershipIsCorruption) {
  rpc::RaftMessage p;
  ToProto(Heartbeat(), &p);
  p.mutable_snapshot()->mutable_conf_state()->add_voters(3);
  p.mutable_snapshot()->mutable_conf_state()->add_voters(2);
  EXPECT_TRUE(FromProto(p).status().IsCorruption());

  p.mutable_snapshot()->mutable_conf_state()->clear_voters();
  p.mutable_snapshot()->mutable_conf_state()->add_voters(0);
  EXPECT_TRUE(FromProto(p).status().IsCorruption());

  p.mutable_snapshot()->mutable_conf_state()->clear_voters();
  p.mutable_snapshot()->mutable_conf_state()->add_voters(2);
  p.mutable_snapshot()->mutable_conf_state()->add_learners(2);
  Result<Message> m = FromProto(p);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().ToString(), "Corruption: rpc message: node both voter and learner");
}

TEST(CodecTest, MoreEntriesThanRaftAllowsIsCorruption) {
  rpc::RaftMessage p;
  ToProto(Heartbeat(), &p);
  for (size_t i = 0; i <= raft::kMaxEntriesPerMsg; i++) p.add_entries();
  EXPECT_TRUE(FromProto(p).status().IsCorruption());
}

TEST(CodecTest, EnvelopeWithoutMessageIsCorruption) {
  rpc::RaftBatch p;
  p.add_envelopes()->set_shard(5);
  EXPECT_TRUE(FromProto(p).status().IsCorruption());
}

}  // namespace
}  // namespace dkv::transport
