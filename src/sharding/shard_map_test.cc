#include "sharding/shard_map.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <set>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/hash.h"

namespace dkv::sharding {
namespace {

ShardMap ThreeShards() {
  ShardMap map(64);
  EXPECT_TRUE(map.AddShard(1, {10, 11, 12}).ok());
  EXPECT_TRUE(map.AddShard(2, {11, 12, 13}).ok());
  EXPECT_TRUE(map.AddShard(300, {13, 10, 1u << 20}).ok());
  EXPECT_TRUE(map.SetLeaderHint(2, 12).ok());
  return map;
}

// Frames a body as the format page describes, so tests can hand Decode
// well-checksummed bytes whose content is wrong.
std::string Frame(const std::string& body, uint8_t format = kShardMapFormatVersion) {
  std::string out(kShardMapMagic, sizeof(kShardMapMagic));
  out.push_back(static_cast<char>(format));
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  PutFixed32(&out, Checksum32(out, body));
  return out + body;
}

std::string Body(uint64_t version, uint32_t vnodes,
                 const std::vector<std::tuple<uint32_t, std::vector<uint64_t>, uint64_t>>& shards) {
  std::string b;
  PutVarint64(&b, version);
  PutVarint32(&b, vnodes);
  PutVarint32(&b, static_cast<uint32_t>(shards.size()));
  for (const auto& [id, replicas, leader] : shards) {
    PutVarint32(&b, id);
    PutVarint32(&b, static_cast<uint32_t>(replicas.size()));
    for (uint64_t r : replicas) PutVarint64(&b, r);
    PutVarint64(&b, leader);
  }
  return b;
}

TEST(ShardMapTest, EveryChangeBumpsTheVersion) {
  ShardMap map;
  EXPECT_EQ(map.version(), 0u);
  ASSERT_TRUE(map.AddShard(5, {1, 2, 3}).ok());
  ASSERT_TRUE(map.SetLeaderHint(5, 2).ok());
  ASSERT_TRUE(map.SetReplicas(5, {2, 3, 4}).ok());
  ASSERT_TRUE(map.RemoveShard(5).ok());
  EXPECT_EQ(map.version(), 4u);
  // Failed changes do not.
  EXPECT_TRUE(map.RemoveShard(5).IsNotFound());
  EXPECT_EQ(map.version(), 4u);
}

TEST(ShardMapTest, ShardsAreKeptInIdOrder) {
  ShardMap map = ThreeShards();
  ASSERT_EQ(map.shards().size(), 3u);
  EXPECT_EQ(map.shards()[0].id, 1u);
  EXPECT_EQ(map.shards()[2].id, 300u);
  ASSERT_NE(map.Find(2), nullptr);
  EXPECT_EQ(map.Find(2)->leader_hint, 12u);
  EXPECT_EQ(map.Find(3), nullptr);
}

TEST(ShardMapTest, InvalidReplicaSetsAreRejected) {
  ShardMap map;
  EXPECT_TRUE(map.AddShard(1, {}).IsInvalidArgument());
  EXPECT_TRUE(map.AddShard(1, {1, 2, 1}).IsInvalidArgument());
  EXPECT_TRUE(map.AddShard(1, {0, 2}).IsInvalidArgument());
  EXPECT_TRUE(map.AddShard(1, {1, 2, 3, 4, 5, 6, 7, 8}).IsInvalidArgument());
  ASSERT_TRUE(map.AddShard(1, {1, 2, 3, 4, 5, 6, 7}).ok());
  EXPECT_TRUE(map.AddShard(1, {1}).IsInvalidArgument());
  EXPECT_TRUE(map.SetReplicas(1, {4, 4}).IsInvalidArgument());
  EXPECT_TRUE(map.SetReplicas(2, {4}).IsNotFound());
  EXPECT_EQ(map.version(), 1u);
}

TEST(ShardMapTest, LeaderHintMustBeAReplica) {
  ShardMap map;
  ASSERT_TRUE(map.AddShard(1, {1, 2, 3}).ok());
  Status s = map.SetLeaderHint(1, 9);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("leader hint 9"), std::string::npos) << s.ToString();
  EXPECT_TRUE(map.SetLeaderHint(1, kNoNode).ok());
  EXPECT_TRUE(map.SetLeaderHint(7, 1).IsNotFound());
}

TEST(ShardMapTest, ReplacingReplicasClearsALeaderHintThatLeft) {
  ShardMap map;
  ASSERT_TRUE(map.AddShard(1, {1, 2, 3}).ok());
  ASSERT_TRUE(map.SetLeaderHint(1, 2).ok());
  ASSERT_TRUE(map.SetReplicas(1, {2, 3, 4}).ok());
  EXPECT_EQ(map.Find(1)->leader_hint, 2u);
  ASSERT_TRUE(map.SetReplicas(1, {3, 4, 5}).ok());
  EXPECT_EQ(map.Find(1)->leader_hint, kNoNode);
}

TEST(ShardMapTest, BuildRingHoldsEveryShard) {
  ShardMap map = ThreeShards();
  HashRing ring = map.BuildRing();
  EXPECT_EQ(ring.Shards(), (std::vector<ShardId>{1, 2, 300}));
  EXPECT_EQ(ring.vnodes_per_shard(), 64u);
  EXPECT_TRUE(ring.ShardFor("user:alice").ok());
}

TEST(ShardMapTest, EncodingRoundTrips) {
  ShardMap map = ThreeShards();
  std::string bytes = map.Encode();
  auto decoded = ShardMap::Decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, map);
  EXPECT_EQ(decoded->Encode(), bytes);
  auto empty = ShardMap::Decode(ShardMap(1).Encode());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, ShardMap(1));
}

TEST(ShardMapTest, EncodingMatchesTheDocumentedLayout) {
  ShardMap map(128);
  ASSERT_TRUE(map.AddShard(1, {1, 2, 3}).ok());
  ASSERT_TRUE(map.SetLeaderHint(1, 2).ok());
  // docs/formats/shard_map.md: version 2, 128 vnodes, one shard {1: [1,2,3], leader 2}.
  const std::string body("\x02\x80\x01\x01\x01\x03\x01\x02\x03\x02", 10);
  EXPECT_EQ(map.Encode(), Frame(body));
}

TEST(ShardMapTest, RandomMapsRoundTrip) {
  EXPECT_TRUE(rc::check("Decode(Encode(m)) == m", [](const std::vector<uint32_t>& ids,
                                                     uint32_t vnodes_raw, uint64_t node_base) {
    ShardMap map(1 + vnodes_raw % kMaxVnodesPerShard);
    for (uint32_t id : ids) {
      if (map.Find(id) != nullptr || map.shards().size() >= 50) continue;
      const NodeId first = 1 + (node_base + id) % (UINT64_MAX - 10);
      const size_t n = 1 + id % kMaxReplicasPerShard;
      std::vector<NodeId> replicas;
      for (size_t i = 0; i < n; i++) replicas.push_back(first + i);
      RC_ASSERT(map.AddShard(id, replicas).ok());
      if (id % 2 == 0) RC_ASSERT(map.SetLeaderHint(id, replicas[id % n]).ok());
    }
    auto decoded = ShardMap::Decode(map.Encode());
    RC_ASSERT(decoded.ok());
    RC_ASSERT(*decoded == map);
  }));
}

TEST(ShardMapTest, EveryBitFlipIsCorruption) {
  const std::string bytes = ThreeShards().Encode();
  for (size_t i = 0; i < bytes.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto r = ShardMap::Decode(bad);
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
    }
  }
}

TEST(ShardMapTest, EveryTruncationAndTrailingByteIsCorruption) {
  const std::string bytes = ThreeShards().Encode();
  for (size_t n = 0; n < bytes.size(); n++) {
    EXPECT_TRUE(ShardMap::Decode(bytes.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(ShardMap::Decode(bytes + '\0').status().IsCorruption());
}

TEST(ShardMapTest, WellChecksummedButInvalidContentIsCorruption) {
  using Shards = std::vector<std::tuple<uint32_t, std::vector<uint64_t>, uint64_t>>;
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"unknown format", Frame(Body(1, 8, {}), 2)},
      {"zero vnodes", Frame(Body(1, 0, {}))},
      {"too many vnodes", Frame(Body(1, kMaxVnodesPerShard + 1, {}))},
      {"duplicate replica", Frame(Body(1, 8, Shards{{1, {4, 4}, 0}}))},
      {"node id zero", Frame(Body(1, 8, Shards{{1, {0, 4}, 0}}))},
      {"no replicas", Frame(Body(1, 8, Shards{{1, {}, 0}}))},
      {"too many replicas", Frame(Body(1, 8, Shards{{1, {1, 2, 3, 4, 5, 6, 7, 8}, 0}}))},
      {"leader not a replica", Frame(Body(1, 8, Shards{{1, {1, 2}, 3}}))},
      {"shards out of order", Frame(Body(1, 8, Shards{{2, {1}, 0}, {1, {1}, 0}}))},
      {"duplicate shard", Frame(Body(1, 8, Shards{{2, {1}, 0}, {2, {1}, 0}}))},
      {"trailing body bytes", Frame(Body(1, 8, Shards{{2, {1}, 0}}) + "x")},
      {"truncated shard", Frame(Body(1, 8, Shards{{2, {1}, 0}}).substr(0, 6))},
  };
  for (const Case& c : cases) {
    auto r = ShardMap::Decode(c.bytes);
    EXPECT_TRUE(r.status().IsCorruption()) << c.what << ": " << r.status().ToString();
  }
  // A huge shard count with no shards behind it fails without a huge allocation.
  std::string b;
  PutVarint64(&b, 1);
  PutVarint32(&b, 8);
  PutVarint32(&b, kMaxShards + 1);
  EXPECT_TRUE(ShardMap::Decode(Frame(b)).status().IsCorruption());
  // And a body length beyond the maximum is refused before the checksum.
  std::string header(kShardMapMagic, 4);
  header.push_back(static_cast<char>(kShardMapFormatVersion));
  PutFixed32(&header, UINT32_MAX);
  PutFixed32(&header, 0);
  EXPECT_TRUE(ShardMap::Decode(header).status().IsCorruption());
}

}  // namespace
}  // namespace dkv::sharding
