// Unit tests of the metadata group's value and changes: the founding map,
// who founds the group, the text form of changes, and how the leader applies
// them (idempotent, all-or-nothing, the version counting real changes only).
// The stored map's bytes are ShardMap's encoding (shard_map_test checks that
// damaged bytes decode to Corruption); these tests check a map survives the
// store round trip with its changes.
#include "sharding/metadata.h"

#include <gtest/gtest.h>

namespace dkv::sharding {
namespace {

ShardMap ThreeShards() {
  ShardMap m(16);
  EXPECT_TRUE(m.AddShard(0, {1, 2, 3}).ok());
  EXPECT_TRUE(m.AddShard(1, {2, 3, 1}).ok());
  EXPECT_TRUE(m.AddShard(2, {3, 1, 2}).ok());
  return FoundingMap(m);
}

TEST(MetadataTest, FoundingMapIsVersionOneOfTheInitialPlacement) {
  ShardMap m = ThreeShards();
  EXPECT_EQ(m.version(), kFoundingMapVersion);
  EXPECT_EQ(m.shards().size(), 3u);
  EXPECT_EQ(m.Find(1)->replicas, (std::vector<NodeId>{2, 3, 1}));
}

TEST(MetadataTest, MetadataVotersAreTheLowestIdsUpToThreeOrTheReplicationFactor) {
  EXPECT_EQ(MetadataVoters({5, 1, 3, 2}, 1), (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(MetadataVoters({5, 1, 3, 2}, 3), (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(MetadataVoters({5, 1, 3, 2, 4}, 5), (std::vector<NodeId>{1, 2, 3, 4, 5}));
  EXPECT_EQ(MetadataVoters({7}, 1), (std::vector<NodeId>{7}));
  EXPECT_EQ(MetadataVoters({2, 1}, 2), (std::vector<NodeId>{1, 2}));
}

TEST(MetadataTest, ChangesRoundTripThroughTheirTextForm) {
  const std::vector<MapChange> changes = {
      {MapChange::Kind::kSync, 3, {1, 2, 4}, 4},    {MapChange::Kind::kSync, 0, {7}, 0},
      {MapChange::Kind::kAddReplica, 4095, {9}, 0}, {MapChange::Kind::kRemoveReplica, 1, {2}, 0},
      {MapChange::Kind::kSetLeaderHint, 2, {}, 3},
  };
  for (const MapChange& c : changes) {
    Result<MapChange> back = MapChange::FromArgs(c.ToArgs());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back.value(), c);
  }
}

TEST(MetadataTest, MalformedChangesAreInvalidArgumentNeverACrash) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"SYNC"},
      {"SYNC", "1", "1,2"},
      {"SYNC", "x", "1,2", "0"},
      {"SYNC", "1", "1,,2", "0"},
      {"SYNC", "1", "", "0"},
      {"SYNC", "4096", "1", "0"},
      {"SYNC", "1", "1,2,3,4,5,6,7,8", "0"},
      {"ADD", "1", "0"},
      {"ADD", "1", "-1"},
      {"REMOVE", "1"},
      {"LEADER", "1", "2", "3"},
      {"MOVE", "1", "2"},
      {"ADD", "99999999999999999999", "1"},
  };
  for (const auto& args : bad) {
    Result<MapChange> c = MapChange::FromArgs(args);
    EXPECT_TRUE(c.status().IsInvalidArgument()) << (args.empty() ? "" : args[0]);
  }
}

TEST(MetadataTest, AddAndRemoveReplicaMakeANewVersionOnlyWhenTheyChangeSomething) {
  ShardMap m = ThreeShards();
  Result<bool> r = ApplyMapChange(&m, {MapChange::Kind::kAddReplica, 0, {4}, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value());
  EXPECT_EQ(m.version(), 2u);
  EXPECT_EQ(m.Find(0)->replicas, (std::vector<NodeId>{1, 2, 3, 4}));
  r = ApplyMapChange(&m, {MapChange::Kind::kAddReplica, 0, {4}, 0});  // a retry
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  EXPECT_EQ(m.version(), 2u);
  r = ApplyMapChange(&m, {MapChange::Kind::kRemoveReplica, 0, {2}, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value());
  EXPECT_EQ(m.Find(0)->replicas, (std::vector<NodeId>{1, 3, 4}));
  EXPECT_EQ(m.version(), 3u);
  r = ApplyMapChange(&m, {MapChange::Kind::kRemoveReplica, 0, {2}, 0});
  EXPECT_FALSE(r.value());
}

TEST(MetadataTest, SyncMakesTheReplicaSetKeepingTheOrderOfThoseThatStay) {
  ShardMap m = ThreeShards();
  ASSERT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kSetLeaderHint, 1, {}, 3}).value());
  // Shard 1 is {2,3,1}; the live voters are {1,3,5} with leader 3.
  Result<bool> r = ApplyMapChange(&m, {MapChange::Kind::kSync, 1, {5, 3, 1}, 3});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value());
  EXPECT_EQ(m.Find(1)->replicas, (std::vector<NodeId>{3, 1, 5}));
  EXPECT_EQ(m.Find(1)->leader_hint, 3u);
  const uint64_t v = m.version();
  // The same set in another order is no change.
  r = ApplyMapChange(&m, {MapChange::Kind::kSync, 1, {1, 5, 3}, 0});
  EXPECT_FALSE(r.value());
  EXPECT_EQ(m.version(), v);
}

TEST(MetadataTest, RemovingTheHintedLeaderClearsTheHint) {
  ShardMap m = ThreeShards();
  ASSERT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kSetLeaderHint, 2, {}, 3}).value());
  ASSERT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kRemoveReplica, 2, {3}, 0}).value());
  EXPECT_EQ(m.Find(2)->leader_hint, kNoNode);
  // A sync naming a leader outside its set drops the hint too.
  ASSERT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kSync, 2, {1, 2}, 9}).ok());
  EXPECT_EQ(m.Find(2)->leader_hint, kNoNode);
}

TEST(MetadataTest, ChangesTheMapCannotHoldFailAndLeaveItUntouched) {
  ShardMap m = ThreeShards();
  const ShardMap before = m;
  EXPECT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kAddReplica, 7, {4}, 0}).status().IsNotFound());
  EXPECT_TRUE(
      ApplyMapChange(&m, {MapChange::Kind::kSetLeaderHint, 0, {}, 9}).status().IsInvalidArgument());
  ShardMap one(16);
  ASSERT_TRUE(one.AddShard(0, {1}).ok());
  const ShardMap one_before = one;
  EXPECT_TRUE(ApplyMapChange(&one, {MapChange::Kind::kRemoveReplica, 0, {1}, 0})
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(one, one_before);
  ShardMap full(16);
  ASSERT_TRUE(full.AddShard(0, {1, 2, 3, 4, 5, 6, 7}).ok());
  EXPECT_TRUE(ApplyMapChange(&full, {MapChange::Kind::kAddReplica, 0, {8}, 0})
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(m, before);
}

TEST(MetadataTest, AChangedMapSurvivesTheStoredEncoding) {
  ShardMap m = ThreeShards();
  ASSERT_TRUE(ApplyMapChange(&m, {MapChange::Kind::kSync, 0, {1, 2, 4}, 4}).ok());
  Result<ShardMap> back = ShardMap::Decode(m.Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), m);
  EXPECT_EQ(back.value().version(), m.version());
  // Any single flipped byte of the stored value is Corruption.
  const std::string bytes = m.Encode();
  for (size_t i = 0; i < bytes.size(); i++) {
    std::string damaged = bytes;
    damaged[i] ^= 0x41;
    EXPECT_TRUE(ShardMap::Decode(damaged).status().IsCorruption()) << i;
  }
}

}  // namespace
}  // namespace dkv::sharding
