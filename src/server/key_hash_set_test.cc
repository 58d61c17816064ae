#include "server/key_hash_set.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_set>

namespace dkv::server {
namespace {

TEST(KeyHashSetTest, InsertEraseContainsAgreeWithStdSet) {
  // Random hashes folded into a small range so probe runs collide, wrap
  // around the table's end and grow and shrink it; checked against std.
  const uint64_t seed = 20261124;
  std::mt19937_64 rng(seed);
  KeyHashSet set;
  std::unordered_set<uint64_t> model;
  for (int i = 0; i < 200000; i++) {
    uint64_t h = 2 + rng() % 5000;           // 0 and 1 share a slot by design
    if (h % 7 == 3) h |= uint64_t{1} << 63;  // high bits too
    switch (rng() % 3) {
      case 0:
      case 1:
        ASSERT_EQ(set.Insert(h), model.insert(h).second) << "seed " << seed << " step " << i;
        break;
      default:
        ASSERT_EQ(set.Erase(h), model.erase(h) == 1) << "seed " << seed << " step " << i;
    }
    ASSERT_EQ(set.size(), model.size());
  }
  for (uint64_t h = 2; h < 5002; h++) ASSERT_EQ(set.Contains(h), model.count(h) == 1) << h;
}

TEST(KeyHashSetTest, ShrinksAfterMassDeletionAndStaysCorrect) {
  KeyHashSet set;
  for (uint64_t h = 1; h <= 100000; h++) ASSERT_TRUE(set.Insert(h * 0x9E3779B97F4A7C15ull));
  for (uint64_t h = 1; h <= 99990; h++) ASSERT_TRUE(set.Erase(h * 0x9E3779B97F4A7C15ull));
  EXPECT_EQ(set.size(), 10u);
  for (uint64_t h = 99991; h <= 100000; h++) EXPECT_TRUE(set.Contains(h * 0x9E3779B97F4A7C15ull));
  EXPECT_FALSE(set.Contains(5 * 0x9E3779B97F4A7C15ull));
}

TEST(KeyHashSetTest, HashZeroIsStorable) {
  KeyHashSet set;
  EXPECT_TRUE(set.Insert(0));
  EXPECT_TRUE(set.Contains(0));
  EXPECT_TRUE(set.Erase(0));
  EXPECT_FALSE(set.Contains(0));
}

}  // namespace
}  // namespace dkv::server
