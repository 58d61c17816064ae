#include "server/value_cache.h"

#include <gtest/gtest.h>

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
