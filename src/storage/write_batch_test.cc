#include "storage/write_batch.h"

#include <gtest/gtest.h>

#include <string>

#include "common/coding.h"
#include "common/random.h"

namespace dkv::storage {
namespace {

// Renders the records as "Put(k, v)Delete(k)..." for comparison.
class Recorder final : public WriteBatch::Handler {
 public:
  void Put(std::string_view key, std::string_view value) override {
    out += "Put(" + std::string(key) + ", " + std::string(value) + ")";
  }
  void Delete(std::string_view key) override { out += "Delete(" + std::string(key) + ")"; }
  std::string out;
};

std::string Render(const WriteBatch& b) {
  Recorder r;
  Status s = b.Iterate(&r);
  if (!s.ok()) return "ERROR: " + s.ToString();
  return r.out;
}

TEST(WriteBatchTest, EmptyBatchHasHeaderOnly) {
  WriteBatch b;
  EXPECT_EQ(b.Count(), 0u);
  EXPECT_EQ(b.Contents().size(), WriteBatch::kHeaderSize);
  EXPECT_EQ(b.ApproximateSize(), WriteBatch::kHeaderSize);
  EXPECT_EQ(Render(b), "");
}

TEST(WriteBatchTest, RecordsComeBackInOrder) {
  WriteBatch b;
  b.Put("foo", "bar");
  b.Delete("box");
  b.Put("baz", "");
  b.SetSequence(100);
  EXPECT_EQ(b.Count(), 3u);
  EXPECT_EQ(b.Sequence(), 100u);
  EXPECT_EQ(Render(b), "Put(foo, bar)Delete(box)Put(baz, )");
}

TEST(WriteBatchTest, SerializedFormIsFrozen) {
  WriteBatch b;
  b.SetSequence(0x0102030405060708ull);
  b.Put("k", "vv");
  b.Delete("d");
  const std::string want = std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8) +
                           std::string("\x02\x00\x00\x00", 4) + std::string("\x01\x01k\x02vv", 6) +
                           std::string(
                               "\x00\x01"
                               "d",
                               3);
  EXPECT_EQ(std::string(b.Contents()), want);
}

TEST(WriteBatchTest, ContentsRoundTripThroughSetContents) {
  WriteBatch a;
  a.Put("x", std::string(300, 'y'));  // two-byte varint length
  a.Delete("z");
  a.SetSequence(42);
  WriteBatch b;
  ASSERT_TRUE(b.SetContents(a.Contents()).ok());
  EXPECT_EQ(b.Sequence(), 42u);
  EXPECT_EQ(b.Count(), 2u);
  EXPECT_EQ(Render(b), Render(a));
}

TEST(WriteBatchTest, AppendConcatenatesRecordsAndKeepsSequence) {
  WriteBatch a, b;
  a.SetSequence(7);
  a.Put("a", "1");
  b.SetSequence(99);
  b.Delete("b");
  b.Put("c", "3");
  a.Append(b);
  EXPECT_EQ(a.Count(), 3u);
  EXPECT_EQ(a.Sequence(), 7u);
  EXPECT_EQ(Render(a), "Put(a, 1)Delete(b)Put(c, 3)");
  a.Clear();
  EXPECT_EQ(a.Count(), 0u);
  EXPECT_EQ(a.Sequence(), 0u);
  EXPECT_EQ(Render(a), "");
}

TEST(WriteBatchTest, SetContentsRejectsShortHeader) {
  WriteBatch b;
  b.Put("keep", "me");
  Status s = b.SetContents(std::string(11, '\0'));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Render(b), "Put(keep, me)");  // unchanged on error
}

TEST(WriteBatchTest, SetContentsRejectsUnknownTag) {
  WriteBatch good;
  good.Put("a", "b");
  std::string bytes(good.Contents());
  bytes[WriteBatch::kHeaderSize] = 7;
  WriteBatch b;
  EXPECT_TRUE(b.SetContents(bytes).IsCorruption());
}

TEST(WriteBatchTest, SetContentsRejectsTruncatedRecord) {
  WriteBatch good;
  good.Put("key", "value");
  std::string bytes(good.Contents());
  for (size_t len = WriteBatch::kHeaderSize + 1; len < bytes.size(); len++) {
    WriteBatch b;
    EXPECT_TRUE(b.SetContents(std::string_view(bytes).substr(0, len)).IsCorruption()) << len;
  }
}

TEST(WriteBatchTest, SetContentsRejectsCountMismatch) {
  WriteBatch good;
  good.Put("a", "1");
  good.Put("b", "2");
  std::string bytes(good.Contents());
  EncodeFixed32(bytes.data() + 8, 3);
  WriteBatch b;
  EXPECT_TRUE(b.SetContents(bytes).IsCorruption());
  EncodeFixed32(bytes.data() + 8, 1);
  EXPECT_TRUE(b.SetContents(bytes).IsCorruption());
}

TEST(WriteBatchTest, SetContentsRejectsLengthPastEnd) {
  // Header claims one Put whose key length is a huge varint.
  std::string bytes(8, '\0');
  PutFixed32(&bytes, 1);
  bytes.push_back(1);
  PutVarint32(&bytes, 0xffffffffu);
  bytes += "abc";
  WriteBatch b;
  EXPECT_TRUE(b.SetContents(bytes).IsCorruption());
  // An overlong varint (more than 5 bytes) is corruption too.
  std::string overlong(8, '\0');
  PutFixed32(&overlong, 1);
  overlong.push_back(0);
  overlong += std::string(7, '\x80');
  EXPECT_TRUE(b.SetContents(overlong).IsCorruption());
}

TEST(WriteBatchTest, IterateReportsCorruptionAfterSetCount) {
  // SetCount can make an in-memory batch inconsistent; Iterate must say so.
  WriteBatch b;
  b.Put("a", "1");
  b.SetCount(5);
  Recorder r;
  EXPECT_TRUE(b.Iterate(&r).IsCorruption());
}

TEST(WriteBatchTest, RandomBytesNeverCrashAndAcceptedBatchesIterate) {
  const uint64_t seed = 77;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Rng rng(seed);
  WriteBatch base;
  for (int i = 0; i < 10; i++) base.Put("key" + std::to_string(i), std::string(i * 20, 'v'));
  base.Delete("gone");
  const std::string good(base.Contents());
  int accepted = 0;
  for (int i = 0; i < 5000; i++) {
    std::string bytes = good;
    // Mutate: flip bytes, truncate, or append garbage.
    int flips = 1 + static_cast<int>(rng.Uniform(4));
    for (int f = 0; f < flips; f++) {
      bytes[rng.Uniform(bytes.size())] = static_cast<char>(rng.Uniform(256));
    }
    if (rng.OneIn(3)) bytes.resize(rng.Uniform(bytes.size() + 1));
    if (rng.OneIn(5)) bytes.append(rng.Uniform(8), static_cast<char>(rng.Uniform(256)));
    WriteBatch b;
    Status s = b.SetContents(bytes);
    if (s.ok()) {
      accepted++;
      Recorder r;
      ASSERT_TRUE(b.Iterate(&r).ok());
    } else {
      ASSERT_TRUE(s.IsCorruption() || s.IsInvalidArgument()) << s.ToString();
    }
  }
  // Flipping a value byte keeps the batch well formed, so some are accepted.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace dkv::storage
