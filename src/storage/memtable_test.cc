#include "storage/memtable.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "common/random.h"
#include "storage/write_batch.h"
#include "storage/write_batch_internal.h"

namespace dkv::storage {
namespace {

// Holds one reference for the test's lifetime.
class MemTableTest : public ::testing::Test {
 protected:
  MemTableTest() : icmp_(BytewiseComparator()), mem_(new MemTable(icmp_)) { mem_->Ref(); }
  ~MemTableTest() override { mem_->Unref(); }

  // Returns "NOTFOUND-NONE" when the memtable knows nothing, "DELETED" for a
  // tombstone, else the value.
  std::string Get(std::string_view key, SequenceNumber seq) {
    std::string value;
    Status s = Status::OK();
    if (!mem_->Get(LookupKey(key, seq), &value, &s)) return "NONE";
    if (s.IsNotFound()) return "DELETED";
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }

  InternalKeyComparator icmp_;
  MemTable* mem_;
};

TEST_F(MemTableTest, EmptyMemTableFindsNothing) {
  EXPECT_EQ(Get("a", 100), "NONE");
  auto iter = mem_->NewIterator();
  iter->SeekToFirst();
  EXPECT_FALSE(iter->Valid());
  EXPECT_TRUE(iter->status().ok());
}

TEST_F(MemTableTest, GetReturnsNewestVisibleVersionAtSnapshot) {
  mem_->Add(10, ValueType::kValue, "k", "v10");
  mem_->Add(20, ValueType::kValue, "k", "v20");
  mem_->Add(30, ValueType::kDeletion, "k", "");
  mem_->Add(40, ValueType::kValue, "k", "v40");
  EXPECT_EQ(Get("k", 5), "NONE");
  EXPECT_EQ(Get("k", 10), "v10");
  EXPECT_EQ(Get("k", 19), "v10");
  EXPECT_EQ(Get("k", 20), "v20");
  EXPECT_EQ(Get("k", 30), "DELETED");
  EXPECT_EQ(Get("k", 39), "DELETED");
  EXPECT_EQ(Get("k", kMaxSequenceNumber), "v40");
}

TEST_F(MemTableTest, GetDoesNotConfuseKeysThatShareAPrefix) {
  mem_->Add(1, ValueType::kValue, "ab", "x");
  mem_->Add(2, ValueType::kValue, "abc", "y");
  mem_->Add(3, ValueType::kValue, "", "empty-key");
  EXPECT_EQ(Get("a", 10), "NONE");
  EXPECT_EQ(Get("ab", 10), "x");
  EXPECT_EQ(Get("abc", 10), "y");
  EXPECT_EQ(Get("abcd", 10), "NONE");
  EXPECT_EQ(Get("", 10), "empty-key");
}

TEST_F(MemTableTest, IteratorYieldsInternalKeysInOrderBothWays) {
  mem_->Add(5, ValueType::kValue, "b", "b5");
  mem_->Add(7, ValueType::kValue, "b", "b7");
  mem_->Add(6, ValueType::kDeletion, "a", "");
  mem_->Add(1, ValueType::kValue, "c", "c1");

  // Expected: a@6(del), b@7, b@5, c@1.
  std::vector<std::tuple<std::string, SequenceNumber, ValueType, std::string>> want = {
      {"a", 6, ValueType::kDeletion, ""},
      {"b", 7, ValueType::kValue, "b7"},
      {"b", 5, ValueType::kValue, "b5"},
      {"c", 1, ValueType::kValue, "c1"},
  };
  auto check = [&](Iterator* iter, size_t i) {
    ParsedInternalKey p;
    ASSERT_TRUE(ParseInternalKey(iter->key(), &p));
    EXPECT_EQ(std::string(p.user_key), std::get<0>(want[i]));
    EXPECT_EQ(p.sequence, std::get<1>(want[i]));
    EXPECT_EQ(p.type, std::get<2>(want[i]));
    EXPECT_EQ(std::string(iter->value()), std::get<3>(want[i]));
  };
  auto iter = mem_->NewIterator();
  iter->SeekToFirst();
  for (size_t i = 0; i < want.size(); i++) {
    ASSERT_TRUE(iter->Valid());
    check(iter.get(), i);
    iter->Next();
  }
  EXPECT_FALSE(iter->Valid());
  iter->SeekToLast();
  for (size_t i = want.size(); i-- > 0;) {
    ASSERT_TRUE(iter->Valid());
    check(iter.get(), i);
    iter->Prev();
  }
  EXPECT_FALSE(iter->Valid());

  // Seeking to (b, 6) lands on b@5: the newest entry at or below sequence 6.
  std::string target;
  AppendInternalKey(&target, "b", 6, kValueTypeForSeek);
  iter->Seek(target);
  ASSERT_TRUE(iter->Valid());
  check(iter.get(), 2);
}

TEST_F(MemTableTest, MatchesModelOnRandomWorkload) {
  const uint64_t seed = 1234;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Rng rng(seed);
  // model: user key -> (seq -> value or nullopt for delete)
  std::map<std::string, std::map<SequenceNumber, std::optional<std::string>>> model;
  SequenceNumber seq = 1;
  for (int i = 0; i < 3000; i++, seq++) {
    std::string key = "key" + std::to_string(rng.Uniform(300));
    if (rng.OneIn(5)) {
      mem_->Add(seq, ValueType::kDeletion, key, "");
      model[key][seq] = std::nullopt;
    } else {
      std::string value(rng.Uniform(40), static_cast<char>('a' + rng.Uniform(26)));
      mem_->Add(seq, ValueType::kValue, key, value);
      model[key][seq] = value;
    }
  }
  for (int i = 0; i < 2000; i++) {
    std::string key = "key" + std::to_string(rng.Uniform(320));
    SequenceNumber snap = rng.Uniform(seq + 1);
    std::string want = "NONE";
    auto it = model.find(key);
    if (it != model.end()) {
      auto v = it->second.upper_bound(snap);  // first seq > snap
      if (v != it->second.begin()) {
        --v;
        want = v->second ? *v->second : "DELETED";
      }
    }
    ASSERT_EQ(Get(key, snap), want) << key << " @" << snap;
  }
  EXPECT_GT(mem_->ApproximateMemoryUsage(), 3000u * 8);
}

TEST_F(MemTableTest, InsertIntoAppliesBatchWithConsecutiveSequences) {
  WriteBatch batch;
  batch.Put("x", "1");
  batch.Delete("y");
  batch.Put("z", "3");
  batch.SetSequence(100);
  ASSERT_TRUE(WriteBatchInternal::InsertInto(batch, mem_).ok());
  EXPECT_EQ(WriteBatchInternal::ByteSize(batch), batch.Contents().size());
  EXPECT_EQ(Get("x", 100), "1");
  EXPECT_EQ(Get("x", 99), "NONE");
  EXPECT_EQ(Get("y", 101), "DELETED");
  EXPECT_EQ(Get("z", 101), "NONE");
  EXPECT_EQ(Get("z", 102), "3");
}

TEST_F(MemTableTest, InsertIntoRejectsSequenceOverflow) {
  WriteBatch batch;
  batch.Put("x", "1");
  batch.Put("y", "2");
  batch.SetSequence(kMaxSequenceNumber);
  EXPECT_TRUE(WriteBatchInternal::InsertInto(batch, mem_).IsCorruption());
  EXPECT_EQ(Get("x", kMaxSequenceNumber), "NONE");
}

TEST(MemTableRefTest, LastUnrefDeletesAndIteratorMayOutliveOtherRefs) {
  InternalKeyComparator icmp(BytewiseComparator());
  auto* mem = new MemTable(icmp);
  mem->Ref();
  mem->Ref();
  mem->Add(1, ValueType::kValue, "a", std::string(5000, 'v'));  // a large-block entry
  auto iter = mem->NewIterator();
  mem->Unref();
  iter->SeekToFirst();
  ASSERT_TRUE(iter->Valid());
  EXPECT_EQ(iter->value().size(), 5000u);
  iter.reset();
  mem->Unref();  // deletes; ASan/valgrind would flag a leak otherwise
}

}  // namespace
}  // namespace dkv::storage
