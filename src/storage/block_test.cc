// Tests for BlockBuilder and Block/BlockIter: round trips, seeks, backward
// iteration, and robustness against malformed contents.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/random.h"
#include "storage/block.h"
#include "storage/block_builder.h"

namespace dkv::storage {
namespace {

std::string Key(int i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "key%06d", i);
  return buf;
}

std::string BuildBlock(const std::vector<std::pair<std::string, std::string>>& kvs,
                       int restart_interval) {
  BlockBuilder b(restart_interval, BytewiseComparator());
  for (const auto& [k, v] : kvs) b.Add(k, v);
  return std::string(b.Finish());
}

std::vector<std::pair<std::string, std::string>> MakeEntries(int n) {
  std::vector<std::pair<std::string, std::string>> kvs;
  for (int i = 0; i < n; i++) kvs.emplace_back(Key(i * 2), "value" + std::to_string(i));
  return kvs;
}

TEST(BlockTest, EmptyBlockHasNoEntries) {
  std::string data = BuildBlock({}, 16);
  Block block(data);
  ASSERT_TRUE(block.well_formed());
  auto it = block.NewIterator(BytewiseComparator());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek("a");
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(BlockTest, ForwardAndBackwardIterationReturnEveryEntryInOrder) {
  for (int interval : {1, 2, 16, 1000}) {
    auto kvs = MakeEntries(100);
    std::string data = BuildBlock(kvs, interval);
    Block block(data);
    auto it = block.NewIterator(BytewiseComparator());
    size_t i = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
      ASSERT_LT(i, kvs.size());
      EXPECT_EQ(it->key(), kvs[i].first);
      EXPECT_EQ(it->value(), kvs[i].second);
    }
    EXPECT_EQ(i, kvs.size());
    i = kvs.size();
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      ASSERT_GT(i, 0u);
      i--;
      EXPECT_EQ(it->key(), kvs[i].first) << "interval " << interval;
    }
    EXPECT_EQ(i, 0u);
    EXPECT_TRUE(it->status().ok());
  }
}

TEST(BlockTest, SeekFindsFirstKeyAtOrAfterTarget) {
  auto kvs = MakeEntries(100);  // even numbers only
  std::string data = BuildBlock(kvs, 16);
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  for (int i = 0; i < 200; i++) {
    it.Seek(Key(i));
    const int want = (i + 1) / 2;
    if (want >= 100) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid()) << i;
      EXPECT_EQ(it.key(), kvs[want].first);
    }
  }
  it.Seek("");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), kvs[0].first);
  it.Seek("zzz");
  EXPECT_FALSE(it.Valid());
  // Seeking backwards from a valid position works too.
  it.Seek(Key(150));
  it.Seek(Key(10));
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), Key(10));
}

TEST(BlockTest, PrefixCompressionShrinksSharedPrefixes) {
  std::vector<std::pair<std::string, std::string>> kvs;
  for (int i = 0; i < 64; i++) kvs.emplace_back(std::string(100, 'p') + Key(i), "");
  std::string compressed = BuildBlock(kvs, 16);
  std::string uncompressed = BuildBlock(kvs, 1);
  EXPECT_LT(compressed.size(), uncompressed.size() / 3);
}

TEST(BlockTest, RandomizedAgainstStdMap) {
  const uint64_t seed = 20261124;
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 500; i++) {
    std::string k(rng.Range(0, 12), 'x');
    for (auto& c : k) c = static_cast<char>('a' + rng.Uniform(4));
    model[k] = std::string(rng.Range(0, 20), 'v');
  }
  std::vector<std::pair<std::string, std::string>> kvs(model.begin(), model.end());
  std::string data = BuildBlock(kvs, static_cast<int>(rng.Range(1, 20)));
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  for (int op = 0; op < 2000; op++) {
    std::string target(rng.Range(0, 12), 'x');
    for (auto& c : target) c = static_cast<char>('a' + rng.Uniform(4));
    it.Seek(target);
    auto m = model.lower_bound(target);
    for (int step = 0; step < 4; step++) {
      ASSERT_EQ(it.Valid(), m != model.end());
      if (!it.Valid()) break;
      ASSERT_EQ(it.key(), m->first);
      ASSERT_EQ(it.value(), m->second);
      if (rng.OneIn(2)) {
        it.Next();
        ++m;
      } else {
        it.Prev();
        if (m == model.begin()) {
          ASSERT_FALSE(it.Valid());
          break;
        }
        --m;
      }
    }
  }
  EXPECT_TRUE(it.status().ok());
}

TEST(BlockTest, TooShortBlockReportsCorruption) {
  for (std::string data : {std::string(), std::string("abc")}) {
    Block block(data);
    EXPECT_FALSE(block.well_formed());
    BlockIter it(&block, BytewiseComparator());
    it.SeekToFirst();
    EXPECT_FALSE(it.Valid());
    EXPECT_TRUE(it.status().IsCorruption());
  }
}

TEST(BlockTest, HugeRestartCountReportsCorruption) {
  std::string data = BuildBlock(MakeEntries(10), 4);
  EncodeFixed32(data.data() + data.size() - 4, 0x7fffffff);
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  it.Seek("key");
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(it.status().IsCorruption());
}

TEST(BlockTest, RestartPointPastEntriesReportsCorruption) {
  std::string data = BuildBlock(MakeEntries(40), 4);
  // The second restart point now points into the restart array.
  const uint32_t n = DecodeFixed32(data.data() + data.size() - 4);
  EncodeFixed32(data.data() + data.size() - 4 * (n + 1) + 4, static_cast<uint32_t>(data.size()));
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  it.Seek(Key(5));  // the binary search visits restart point 1
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(it.status().IsCorruption());
}

TEST(BlockTest, EntryLengthPastEndReportsCorruption) {
  std::string data = BuildBlock({{"a", "1"}, {"b", "2"}}, 16);
  data[2] = 100;  // value length of the first entry: beyond the block
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(it.status().IsCorruption());
}

TEST(BlockTest, ErrorContextNamesFileAndOffset) {
  std::string data = BuildBlock({{"a", "1"}}, 16);
  data[2] = 100;
  Block block(data);
  BlockIter it(&block, BytewiseComparator());
  it.SetErrorContext("000007.sst", 4096);
  it.SeekToFirst();
  EXPECT_EQ(it.status().ToString(), "Corruption: 000007.sst: bad entry in block at 4096");
}

TEST(BlockTest, RandomGarbageNeverCrashes) {
  const uint64_t seed = 77;
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  std::string good = BuildBlock(MakeEntries(50), 8);
  for (int round = 0; round < 2000; round++) {
    std::string data = good;
    const int flips = static_cast<int>(rng.Range(1, 8));
    for (int f = 0; f < flips; f++) {
      data[rng.Uniform(data.size())] = static_cast<char>(rng.Uniform(256));
    }
    if (rng.OneIn(4)) data.resize(rng.Uniform(data.size() + 1));
    Block block(data);
    BlockIter it(&block, BytewiseComparator());
    int steps = 0;
    for (it.SeekToFirst(); it.Valid() && steps < 1000; it.Next()) steps++;
    steps = 0;
    for (it.SeekToLast(); it.Valid() && steps < 1000; it.Prev()) steps++;
    it.Seek(Key(static_cast<int>(rng.Uniform(100))));
    if (it.Valid()) it.Prev();
  }
}

}  // namespace
}  // namespace dkv::storage
