#include "common/random.h"

#include <gtest/gtest.h>

namespace dkv {
namespace {

TEST(RngTest, SameSeedSameSequence) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; i++) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= (x != c.Next());
  }
  EXPECT_TRUE(differs);
}

TEST(RngTest, UniformStaysInRangeAndCoversIt) {
  Rng r(7);
  int seen[10] = {};
  for (int i = 0; i < 10000; i++) {
    uint64_t v = r.Uniform(10);
    ASSERT_LT(v, 10u);
    seen[v]++;
  }
  for (int s : seen) EXPECT_GT(s, 800);
}

TEST(RngTest, KnownFirstOutputIsFrozen) {
  // Simulation seeds printed in bug reports must replay forever: the sequence is frozen.
  Rng r(1);
  uint64_t first = r.Next();
  Rng r2(1);
  EXPECT_EQ(first, r2.Next());
  EXPECT_EQ(Rng(0).Range(5, 5), 5);
}

}  // namespace
}  // namespace dkv
