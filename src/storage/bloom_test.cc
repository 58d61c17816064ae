// Tests for the bloom filter policy and its internal-key wrapper.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/coding.h"
#include "storage/dbformat.h"
#include "storage/filter_policy.h"

namespace dkv::storage {
namespace {

std::string IntKey(uint32_t i) {
  std::string s;
  PutFixed32(&s, i);
  return s;
}

std::string BuildFilter(const FilterPolicy& policy, const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::string filter;
  policy.CreateFilter(views, &filter);
  return filter;
}

TEST(BloomTest, EmptyFilterMatchesNothing) {
  auto policy = NewBloomFilterPolicy(10);
  std::string filter = BuildFilter(*policy, {});
  EXPECT_FALSE(policy->KeyMayMatch("hello", filter));
  EXPECT_FALSE(policy->KeyMayMatch("world", filter));
}

TEST(BloomTest, NeverAFalseNegative) {
  auto policy = NewBloomFilterPolicy(10);
  for (uint32_t n : {1u, 10u, 100u, 1000u, 10000u}) {
    std::vector<std::string> keys;
    for (uint32_t i = 0; i < n; i++) keys.push_back(IntKey(i));
    std::string filter = BuildFilter(*policy, keys);
    for (const auto& k : keys) ASSERT_TRUE(policy->KeyMayMatch(k, filter)) << n;
  }
}

TEST(BloomTest, FalsePositiveRateNearOnePercentAtTenBitsPerKey) {
  auto policy = NewBloomFilterPolicy(10);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < 10000; i++) keys.push_back(IntKey(i));
  std::string filter = BuildFilter(*policy, keys);
  EXPECT_LE(filter.size(), 10000 * 10 / 8 + 16);
  int hits = 0;
  for (uint32_t i = 0; i < 10000; i++) {
    if (policy->KeyMayMatch(IntKey(1000000000 + i), filter)) hits++;
  }
  // Expected ~1%; 2% leaves room for the hash without being lax.
  EXPECT_LT(hits, 200) << hits;
}

TEST(BloomTest, FalsePositiveRateStaysLowAcrossSizes) {
  auto policy = NewBloomFilterPolicy(10);
  for (uint32_t n : {1u, 7u, 100u, 1000u, 5000u, 30000u}) {
    std::vector<std::string> keys;
    for (uint32_t i = 0; i < n; i++) keys.push_back(IntKey(i));
    std::string filter = BuildFilter(*policy, keys);
    int hits = 0;
    for (uint32_t i = 0; i < 10000; i++) {
      if (policy->KeyMayMatch(IntKey(2000000000 + i), filter)) hits++;
    }
    // Tiny filters get the 64-bit minimum, which is generous; 3% bounds all.
    EXPECT_LT(hits, 300) << "n=" << n << " hits=" << hits;
  }
}

TEST(BloomTest, MalformedFilterAnswersMayMatch) {
  auto policy = NewBloomFilterPolicy(10);
  EXPECT_TRUE(policy->KeyMayMatch("x", ""));
  EXPECT_TRUE(policy->KeyMayMatch("x", "a"));
  std::string reserved(10, '\0');
  reserved.back() = static_cast<char>(60);  // reserved probe count
  EXPECT_TRUE(policy->KeyMayMatch("x", reserved));
}

TEST(BloomTest, InternalPolicyIgnoresSequenceAndType) {
  auto user = NewBloomFilterPolicy(10);
  auto internal = NewInternalFilterPolicy(user.get());
  EXPECT_STREQ(internal->Name(), "dkv.Internal(dkv.BloomFilter1)");
  std::vector<std::string> keys;
  for (int i = 0; i < 100; i++) {
    std::string k;
    AppendInternalKey(&k, "user" + std::to_string(i), 100 + i, ValueType::kValue);
    keys.push_back(k);
  }
  std::string filter = BuildFilter(*internal, keys);
  for (int i = 0; i < 100; i++) {
    LookupKey lk("user" + std::to_string(i), 5000);
    EXPECT_TRUE(internal->KeyMayMatch(lk.internal_key(), filter));
    // The user-key filter answers the same for the bare user key.
    EXPECT_TRUE(user->KeyMayMatch(lk.user_key(), filter));
  }
  int hits = 0;
  for (int i = 0; i < 1000; i++) {
    LookupKey lk("absent" + std::to_string(i), 5000);
    if (internal->KeyMayMatch(lk.internal_key(), filter)) hits++;
  }
  EXPECT_LT(hits, 50);
}

}  // namespace
}  // namespace dkv::storage
