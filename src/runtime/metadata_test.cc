// Unit tests of the metadata group as a node hosts it: founded only in the
// founding start mode and only on its voters, its map stored under the
// well-known key of the group's kv engine, recovered after a crash that loses
// everything unsynced (the write was acknowledged, so it is in the synced
// raft log and applied again), and damaged stored bytes decoded to
// Corruption, never to a map.
#include <gtest/gtest.h>

#include <memory>

#include "node/node.h"
#include "runtime/admin_founding.h"
#include "sharding/metadata.h"
#include "storage/fault_env.h"

namespace dkv::runtime {
namespace {

using sharding::kMetadataGroupId;
using sharding::kShardMapKey;

// A single-voter group sends nothing; anything sent is a test failure.
class NoTransport : public node::Transport {
 public:
  void Send(node::MessageBatch) override { ADD_FAILURE() << "a one-node group sent a message"; }
};

class FixedClock : public Clock {
 public:
  int64_t NowMicros() override { return 1'700'000'000'000'000; }
  int64_t MonotonicMicros() override { return 1'700'000'000'000'000; }
};

class MetadataGroupTest : public ::testing::Test {
 protected:
  void Open() {
    node::NodeOptions o;
    o.id = 1;
    o.data_dir = "/node";
    o.env = &env_;
    o.clock = &clock_;
    o.election_tick = 3;
    Result<std::unique_ptr<node::Node>> n = node::Node::Open(o, &net_);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    node_ = std::move(n.value());
  }

  cluster::NodePlan Plan(std::vector<node::NodeId> meta_voters) {
    cluster::NodePlan p;
    p.self = 1;
    p.metadata_voters = std::move(meta_voters);
    return p;
  }

  // Runs rounds until `token` completes (or a bound passes); its status.
  Status RunUntil(uint64_t token) {
    for (int i = 0; i < 1000; i++) {
      node_->Tick();
      while (node_->HasReady()) {
        Result<std::vector<node::Completion>> done = node_->ProcessReady();
        if (!done.ok()) return done.status();
        for (const node::Completion& c : done.value()) {
          if (c.token == token) return c.status;
        }
      }
    }
    return Status::TimedOut("test", "no completion");
  }

  // Makes this node lead the metadata group (a one-voter group).
  void Lead() {
    ASSERT_TRUE(node_->Campaign(kMetadataGroupId).ok());
    for (int i = 0; i < 100 && node_->LeaderOf(kMetadataGroupId) != 1; i++) {
      node_->Tick();
      while (node_->HasReady()) ASSERT_TRUE(node_->ProcessReady().ok());
    }
    ASSERT_EQ(node_->LeaderOf(kMetadataGroupId), 1u);
  }

  Status Write(std::string value, uint64_t token) {
    Status s =
        node_->Propose(kMetadataGroupId,
                       node::ShardCommand::Put(std::string(kShardMapKey), std::move(value)), token);
    if (!s.ok()) return s;
    return RunUntil(token);
  }

  Result<sharding::ShardMap> Stored() {
    DKV_ASSIGN_OR_RETURN(node::ReadResult r, node_->LocalRead(kMetadataGroupId, kShardMapKey));
    if (!r.found) return Status::NotFound("test", "no stored map");
    return sharding::ShardMap::Decode(r.value);
  }

  storage::FaultInjectionEnv env_;
  FixedClock clock_;
  NoTransport net_;
  std::unique_ptr<node::Node> node_;
};

sharding::ShardMap SomeMap() {
  sharding::ShardMap m(8);
  EXPECT_TRUE(m.AddShard(0, {1}).ok());
  EXPECT_TRUE(m.AddShard(1, {1}).ok());
  return sharding::FoundingMap(m);
}

TEST_F(MetadataGroupTest, FoundedOnlyWhenTheClusterIsFoundedAndOnlyOnItsVoters) {
  Open();
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kRecover, Plan({1}), node_.get()).ok());
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kJoin, Plan({1}), node_.get()).ok());
  EXPECT_FALSE(node_->HasReplica(kMetadataGroupId));
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kFound, Plan({2, 3, 4}), node_.get()).ok());
  EXPECT_FALSE(node_->HasReplica(kMetadataGroupId)) << "node 1 is no metadata voter";
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kFound, Plan({1}), node_.get()).ok());
  EXPECT_TRUE(node_->HasReplica(kMetadataGroupId));
  // A first start cut short and run again founds nothing twice.
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kFound, Plan({1}), node_.get()).ok());
}

TEST_F(MetadataGroupTest, AnAcknowledgedMapSurvivesACrashAndIsAppliedAgain) {
  Open();
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kFound, Plan({1}), node_.get()).ok());
  Lead();
  EXPECT_TRUE(Stored().status().IsNotFound()) << "a founded group holds no map until written";
  sharding::ShardMap m = SomeMap();
  ASSERT_TRUE(Write(m.Encode(), 1).ok());
  ASSERT_TRUE(
      sharding::ApplyMapChange(&m, {sharding::MapChange::Kind::kSetLeaderHint, 1, {}, 1}).value());
  ASSERT_TRUE(Write(m.Encode(), 2).ok());
  ASSERT_EQ(Stored().value(), m);

  node_.reset();
  env_.Crash();  // the kv engine's unsynced applies are gone; the raft log is not
  Open();
  ASSERT_TRUE(node_->HasReplica(kMetadataGroupId)) << "recovered like any group";
  Lead();  // the one voter commits its log again and applies it
  Result<sharding::ShardMap> back = Stored();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value(), m);
  EXPECT_EQ(back.value().version(), 2u);  // founding version 1, one change
}

TEST_F(MetadataGroupTest, DamagedStoredBytesAreCorruptionNeverAMap) {
  Open();
  ASSERT_TRUE(FoundMetadataGroup(StartMode::kFound, Plan({1}), node_.get()).ok());
  Lead();
  std::string bytes = SomeMap().Encode();
  bytes[bytes.size() - 1] ^= 0x5A;
  ASSERT_TRUE(Write(bytes, 1).ok());
  EXPECT_TRUE(Stored().status().IsCorruption());
  ASSERT_TRUE(Write("not a map at all", 2).ok());
  EXPECT_TRUE(Stored().status().IsCorruption());
  ASSERT_TRUE(Write("", 3).ok());
  EXPECT_TRUE(Stored().status().IsCorruption());
}

}  // namespace
}  // namespace dkv::runtime
