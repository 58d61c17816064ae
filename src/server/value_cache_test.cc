#include "server/value_cache.h"

#include <gtest/gtest.h>

#include <map>

#include "common/random.h"

#include "server/test_harness.h"

namespace dkv::server {
namespace {

StoredValue Val(const std::string& payload, int64_t expire_at_ms = 0) {
  StoredValue v;
  v.payload = payload;
  v.expire_at_ms = expire_at_ms;
  return v;
}

TEST(ValueCacheTest, FindChecksTheFullKeyNotJustTheHash) {
  ValueCache cache(1 << 20);
  cache.Insert(7, "a", Val("1"));
  ASSERT_TRUE(cache.Find(7, "a"));
  EXPECT_EQ(cache.Find(7, "a")->payload, "1");
  EXPECT_FALSE(cache.Find(7, "b"));  // same hash, other key
  EXPECT_FALSE(cache.Find(7, ""));
  cache.UpdateIfPresent(7, "b", Val("2"));  // drops the colliding entry
  EXPECT_FALSE(cache.Find(7, "a"));
  EXPECT_FALSE(cache.Find(7, "b"));
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ValueCacheTest, UpdateIfPresentNeverInserts) {
  ValueCache cache(1 << 20);
  cache.UpdateIfPresent(1, "k", Val("v"));
  EXPECT_EQ(cache.size(), 0u);
  cache.Insert(1, "k", Val("v"));
  cache.UpdateIfPresent(1, "k", Val("w", 99));
  EXPECT_EQ(cache.Find(1, "k")->payload, "w");
  EXPECT_EQ(cache.Find(1, "k")->expire_at_ms, 99);
  cache.Erase(1, "k");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ValueCacheTest, StaysWithinItsBudget) {
  const size_t budget = 64 << 10;
  ValueCache cache(budget);
  for (uint64_t i = 0; i < 10000; i++) {
    cache.Insert(i, "key" + std::to_string(i), Val(std::string(100, 'x')));
    ASSERT_LE(cache.bytes(), budget);
  }
  EXPECT_GT(cache.size(), 100u);
  ASSERT_TRUE(cache.Find(9999, "key9999"));  // the newest is kept
}

TEST(ValueCacheTest, ZeroBudgetCachesNothing) {
  ValueCache cache(0);
  cache.Insert(1, "k", Val("v"));
  EXPECT_FALSE(cache.Find(1, "k"));
}

// The flat table against a model: inserts, updates, erases and finds with
// hashes crowded into few home slots (long probe runs, wrap-around), so the
// backward-shift erase and the growth are exercised.
TEST(ValueCacheTest, MatchesAMapModelUnderRandomOperations) {
  const uint64_t seed = 20261124;
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  ValueCache cache(1 << 30);
  std::map<uint64_t, std::pair<std::string, std::string>> model;  // hash -> key, payload
  for (int step = 0; step < 20000; step++) {
    // Hashes in a small range, some far apart, so runs collide and wrap.
    const uint64_t h = rng.Uniform(300) * ((step & 1) ? 1 : 1024);
    const std::string key = "k" + std::to_string(h);
    switch (rng.Uniform(4)) {
      case 0:
      case 1: {
        const std::string payload(rng.Uniform(40), static_cast<char>('a' + step % 26));
        cache.Insert(h, key, Val(payload, step));
        model[h] = {key, payload};
        break;
      }
      case 2:
        cache.Erase(h, key);
        model.erase(h);
        break;
      default:
        break;
    }
    auto it = model.find(h);
    std::optional<ValueCache::View> v = cache.Find(h, key);
    ASSERT_EQ(v.has_value(), it != model.end()) << "step " << step;
    if (v) {
      ASSERT_EQ(v->payload, it->second.second) << "step " << step;
    }
    ASSERT_EQ(cache.size(), model.size()) << "step " << step;
  }
  for (const auto& [h, kv] : model) {
    ASSERT_TRUE(cache.Find(h, kv.first)) << h;
    EXPECT_EQ(cache.Find(h, kv.first)->payload, kv.second);
  }
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ValueCacheTest, SetCapacityEvictsDownToTheNewBudgetAndZeroTurnsItOff) {
  ValueCache cache(1 << 20);
  for (uint64_t h = 1; h <= 100; h++)
    cache.Insert(h, "k" + std::to_string(h), Val(std::string(100, 'x')));
  EXPECT_EQ(cache.size(), 100u);
  const size_t before = cache.bytes();
  cache.SetCapacity(before / 4);
  EXPECT_EQ(cache.capacity(), before / 4);
  EXPECT_LE(cache.bytes(), before / 4);
  EXPECT_GT(cache.size(), 0u);
  EXPECT_LT(cache.size(), 100u);
  cache.SetCapacity(0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.Insert(1, "k1", Val("v"));  // off: nothing is cached
  EXPECT_FALSE(cache.Find(1, "k1"));
  cache.SetCapacity(1 << 20);
  cache.Insert(1, "k1", Val("v"));
  EXPECT_EQ(cache.Find(1, "k1")->payload, "v");
}

// Point reads count as hits or misses of the cache; with the cache off every
// read is a miss and still finds the value in the engine.
TEST(ValueCacheTest, KeyspaceCountsCacheHitsAndMisses) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.keyspace.value_cache_hits(), 1);
  EXPECT_EQ(h.keyspace.value_cache_misses(), 0);
  EXPECT_EQ(h.Run({"get", "absent"}), "$-1\r\n");
  EXPECT_EQ(h.keyspace.value_cache_misses(), 1);
  h.keyspace.SetValueCacheBytes(0);
  EXPECT_EQ(h.keyspace.value_cache_bytes(), 0u);
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.keyspace.value_cache_hits(), 1);
  EXPECT_EQ(h.keyspace.value_cache_misses(), 2);
  EXPECT_EQ(h.keyspace.cached_values(), 0u);  // the engine read filled nothing
}

// Writes go through to the cache, so a key just written is served from it.
TEST(ValueCacheTest, KeyspaceWritesThroughToTheCache) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"mset", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(h.keyspace.cached_values(), 3u);  // before any read
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.Run({"del", "k"}), ":1\r\n");
  EXPECT_EQ(h.keyspace.cached_values(), 2u);
}

// Through the commands: a cached value never outlives a write, delete,
// expiry, rename, transaction or flush of its key.
TEST(ValueCacheTest, KeyspaceKeepsTheCacheCoherentWithWrites) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "1"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\n1\r\n");  // now cached
  EXPECT_EQ(h.Run({"incr", "k"}), ":2\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\n2\r\n");
  EXPECT_EQ(h.Run({"append", "k", "0"}), ":2\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$2\r\n20\r\n");
  EXPECT_EQ(h.Run({"mset", "k", "m", "j", "x"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nm\r\n");
  EXPECT_EQ(h.Run({"multi"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"set", "k", "t"}), "+QUEUED\r\n");
  EXPECT_EQ(h.Run({"exec"}), "*1\r\n+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nt\r\n");
  EXPECT_EQ(h.Run({"rename", "k", "r"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"get", "r"}), "$1\r\nt\r\n");
  EXPECT_EQ(h.Run({"del", "r"}), ":1\r\n");
  EXPECT_EQ(h.Run({"get", "r"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"set", "e", "v", "PX", "100"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "e"}), "$1\r\nv\r\n");
  h.clock.now_us += 200 * 1000;
  EXPECT_EQ(h.Run({"get", "e"}), "$-1\r\n");  // expiry applies to cached values
  EXPECT_EQ(h.Run({"get", "j"}), "$1\r\nx\r\n");
  EXPECT_EQ(h.Run({"flushdb"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "j"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"dbsize"}), ":0\r\n");
}

}  // namespace
}  // namespace dkv::server
