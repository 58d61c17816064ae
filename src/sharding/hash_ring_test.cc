#include "sharding/hash_ring.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/random.h"

namespace dkv::sharding {
namespace {

// Deterministic random keys; the seed is part of every failure message.
constexpr uint64_t kKeySeed = 20261124;

std::vector<std::string> RandomKeys(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; i++) {
    keys.push_back("user:" + std::to_string(rng.Next()) + ":" + std::to_string(i));
  }
  return keys;
}

HashRing RingWith(const std::vector<ShardId>& ids, uint32_t vnodes = kDefaultVnodesPerShard) {
  HashRing ring(vnodes);
  for (ShardId id : ids) EXPECT_TRUE(ring.AddShard(id).ok());
  return ring;
}

std::vector<ShardId> Owners(const HashRing& ring, const std::vector<std::string>& keys) {
  std::vector<ShardId> owners;
  owners.reserve(keys.size());
  for (const auto& k : keys) owners.push_back(*ring.ShardFor(k));
  return owners;
}

std::vector<ShardId> Range(ShardId first, ShardId n) {
  std::vector<ShardId> ids;
  for (ShardId i = 0; i < n; i++) ids.push_back(first + i);
  return ids;
}

TEST(HashRingTest, EmptyRingIsUnavailable) {
  HashRing ring;
  EXPECT_TRUE(ring.ShardFor("k").status().IsUnavailable());
  EXPECT_TRUE(ring.Shards().empty());
}

TEST(HashRingTest, AddingAPresentShardOrRemovingAMissingOneFails) {
  HashRing ring;
  ASSERT_TRUE(ring.AddShard(3).ok());
  EXPECT_TRUE(ring.AddShard(3).IsInvalidArgument());
  EXPECT_TRUE(ring.RemoveShard(4).IsNotFound());
  ASSERT_TRUE(ring.RemoveShard(3).ok());
  EXPECT_TRUE(ring.RemoveShard(3).IsNotFound());
  EXPECT_TRUE(ring.ShardFor("k").status().IsUnavailable());
}

TEST(HashRingTest, ShardsAreListedAscending) {
  HashRing ring = RingWith({9, 2, 5});
  EXPECT_EQ(ring.Shards(), (std::vector<ShardId>{2, 5, 9}));
  EXPECT_TRUE(ring.Contains(5));
  EXPECT_FALSE(ring.Contains(4));
}

TEST(HashRingTest, ShardCountIsLimited) {
  HashRing ring(1);
  for (ShardId id = 0; id < kMaxShards; id++) ASSERT_TRUE(ring.AddShard(id).ok());
  EXPECT_TRUE(ring.AddShard(kMaxShards).IsResourceExhausted());
}

TEST(HashRingTest, VnodePositionsAreFrozen) {
  // These values decide where data lives; they must never change.
  EXPECT_EQ(HashRing::VnodePosition(7, 0), Hash64("shard-7#0", 0));
  EXPECT_EQ(HashRing::VnodePosition(12, 127), Hash64("shard-12#127", 0));
  EXPECT_EQ(HashRing::KeyPosition("user:alice"), Hash64("user:alice", 0));
  EXPECT_EQ(HashRing::VnodePosition(0, 0), UINT64_C(13876453388865137260));
  EXPECT_EQ(HashRing::VnodePosition(1, 5), UINT64_C(8835357911012231003));
}

TEST(HashRingTest, SingleShardOwnsEverything) {
  HashRing ring = RingWith({42});
  for (const auto& k : RandomKeys(1000, kKeySeed)) EXPECT_EQ(*ring.ShardFor(k), 42u);
}

TEST(HashRingTest, EveryKeyMapsToAnExistingShard) {
  EXPECT_TRUE(rc::check("ShardFor returns a shard on the ring",
                        [](const std::set<ShardId>& ids, const std::vector<std::string>& keys) {
                          RC_PRE(!ids.empty() && ids.size() <= 64);
                          HashRing ring(16);
                          for (ShardId id : ids) RC_ASSERT(ring.AddShard(id).ok());
                          for (const auto& k : keys) {
                            auto r = ring.ShardFor(k);
                            RC_ASSERT(r.ok());
                            RC_ASSERT(ids.count(*r) == 1);
                          }
                        }));
}

TEST(HashRingTest, PlacementDoesNotDependOnInsertionOrder) {
  EXPECT_TRUE(rc::check("same shards, any order, same owners", [](std::vector<ShardId> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    RC_PRE(!ids.empty() && ids.size() <= 32);
    const auto keys = RandomKeys(500, kKeySeed);
    HashRing forward(16);
    for (ShardId id : ids) RC_ASSERT(forward.AddShard(id).ok());
    HashRing backward(16);
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) RC_ASSERT(backward.AddShard(*it).ok());
    RC_ASSERT(Owners(forward, keys) == Owners(backward, keys));
  }));
}

TEST(HashRingTest, AddingAShardMovesKeysOnlyToIt) {
  EXPECT_TRUE(rc::check("after AddShard(n), a key either stays or goes to n",
                        [](const std::set<ShardId>& ids, ShardId added) {
                          RC_PRE(!ids.empty() && ids.size() <= 32 && ids.count(added) == 0);
                          const auto keys = RandomKeys(2000, kKeySeed);
                          HashRing ring(32);
                          for (ShardId id : ids) RC_ASSERT(ring.AddShard(id).ok());
                          const auto before = Owners(ring, keys);
                          RC_ASSERT(ring.AddShard(added).ok());
                          const auto after = Owners(ring, keys);
                          for (size_t i = 0; i < keys.size(); i++) {
                            RC_ASSERT(after[i] == before[i] || after[i] == added);
                          }
                        }));
}

TEST(HashRingTest, RemovingAShardMovesOnlyItsKeys) {
  EXPECT_TRUE(rc::check("after RemoveShard(r), only r's keys change owner",
                        [](const std::set<ShardId>& ids, size_t pick) {
                          RC_PRE(ids.size() >= 2 && ids.size() <= 32);
                          const ShardId removed =
                              *std::next(ids.begin(), static_cast<ptrdiff_t>(pick % ids.size()));
                          const auto keys = RandomKeys(2000, kKeySeed);
                          HashRing ring(32);
                          for (ShardId id : ids) RC_ASSERT(ring.AddShard(id).ok());
                          const auto before = Owners(ring, keys);
                          RC_ASSERT(ring.RemoveShard(removed).ok());
                          const auto after = Owners(ring, keys);
                          for (size_t i = 0; i < keys.size(); i++) {
                            if (before[i] == removed) {
                              RC_ASSERT(after[i] != removed);
                            } else {
                              RC_ASSERT(after[i] == before[i]);
                            }
                          }
                        }));
}

TEST(HashRingTest, AddingAShardToNMovesAboutOneOverNPlusOne) {
  constexpr size_t kKeys = 20000;
  const auto keys = RandomKeys(kKeys, kKeySeed);
  for (ShardId n : {1u, 2u, 3u, 4u, 7u, 10u, 16u, 31u}) {
    HashRing ring = RingWith(Range(1, n));
    const auto before = Owners(ring, keys);
    ASSERT_TRUE(ring.AddShard(1000).ok());
    const auto after = Owners(ring, keys);
    size_t moved = 0;
    for (size_t i = 0; i < kKeys; i++) {
      if (after[i] != before[i]) {
        moved++;
        ASSERT_EQ(after[i], 1000u) << "key seed " << kKeySeed;
      }
    }
    const double expected = 1.0 / (n + 1);
    const double fraction = static_cast<double>(moved) / kKeys;
    std::printf("MEASURE add to %u: moved %.4f expected %.4f ratio %.3f\n", n, fraction, expected,
                fraction / expected);
    EXPECT_NEAR(fraction / expected, 1.0, 0.35)
        << "n=" << n << " moved " << moved << " of " << kKeys << ", key seed " << kKeySeed;
  }
}

TEST(HashRingTest, LoadIsBalancedWithDefaultVnodes) {
  constexpr size_t kKeys = 200000;
  const auto keys = RandomKeys(kKeys, kKeySeed + 1);
  for (ShardId n : {2u, 4u, 8u, 16u, 32u, 64u}) {
    HashRing ring = RingWith(Range(1, n));
    std::map<ShardId, size_t> load;
    for (const auto& k : keys) load[*ring.ShardFor(k)]++;
    ASSERT_EQ(load.size(), n);
    size_t max_load = 0;
    size_t min_load = kKeys;
    for (const auto& [id, count] : load) {
      max_load = std::max(max_load, count);
      min_load = std::min(min_load, count);
    }
    const double ratio = static_cast<double>(max_load) / static_cast<double>(min_load);
    std::printf("MEASURE balance %u shards: max/min %.3f\n", n, ratio);
    EXPECT_LE(ratio, 2.0) << "n=" << n << ", key seed " << kKeySeed + 1;
  }
}

}  // namespace
}  // namespace dkv::sharding
