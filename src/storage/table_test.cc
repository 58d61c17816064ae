// Tests for TableBuilder and Table: round trips under every compression type,
// a randomized comparison against std::map, point lookups through the filter
// and the block cache, in-place reads from files with stable results (as
// mmapped ones), and corruption of each part of the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/random.h"
#include "storage/block.h"
#include "storage/block_builder.h"
#include "storage/cache.h"
#include "storage/compression.h"
#include "storage/dbformat.h"
#include "storage/filter_policy.h"
#include "storage/table.h"
#include "storage/table_builder.h"
#include "storage/table_format.h"
#include "storage/two_level_iterator.h"

// Counts heap allocations while g_count_allocations is set (for the
// allocation-free lookup test). GCC cannot see that new and delete below are
// a matching replacement pair and warns where gtest's news are inlined.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<bool> g_count_allocations{false};
static std::atomic<int> g_allocations{0};
void* operator new(size_t n) {
  if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations++;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace dkv::storage {
namespace {

// A WritableFile that appends to a string.
class StringSink final : public WritableFile {
 public:
  Status Append(std::string_view data) override {
    contents_.append(data.data(), data.size());
    return Status::OK();
  }
  Status Flush() override { return Status::OK(); }
  Status Sync() override { return Status::OK(); }
  Status Close() override { return Status::OK(); }
  std::string& contents() { return contents_; }

 private:
  std::string contents_;
};

// A RandomAccessFile over a string that counts reads.
class StringSource final : public RandomAccessFile {
 public:
  StringSource(std::string contents, std::atomic<int>* reads)
      : contents_(std::move(contents)), reads_(reads) {}
  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (reads_ != nullptr) (*reads_)++;
    if (offset > contents_.size()) return Status::IOError("string source", "read past end");
    n = std::min(n, contents_.size() - static_cast<size_t>(offset));
    std::memcpy(scratch, contents_.data() + offset, n);
    *result = std::string_view(scratch, n);
    return Status::OK();
  }

 private:
  std::string contents_;
  std::atomic<int>* reads_;
};

// A RandomAccessFile over a string whose reads point into the string itself
// and never touch scratch, as an mmapped file's do (StableResults).
class StableStringSource final : public RandomAccessFile {
 public:
  StableStringSource(std::string contents, std::atomic<int>* reads)
      : contents_(std::move(contents)), reads_(reads) {}
  Status Read(uint64_t offset, size_t n, std::string_view* result,
              char* /*scratch*/) const override {
    if (reads_ != nullptr) (*reads_)++;
    if (offset > contents_.size()) return Status::IOError("stable string source", "read past end");
    n = std::min(n, contents_.size() - static_cast<size_t>(offset));
    *result = std::string_view(contents_.data() + offset, n);
    return Status::OK();
  }
  bool StableResults() const override { return true; }

 private:
  const std::string contents_;
  std::atomic<int>* reads_;
};

std::string Key(int i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "k%08d", i);
  return buf;
}

std::string Value(int i, size_t len = 100) {
  std::string v = "value-" + std::to_string(i) + "-";
  while (v.size() < len) v += static_cast<char>('a' + (v.size() * 7 + i) % 26);
  return v;
}

std::string Build(const TableOptions& options, const std::map<std::string, std::string>& kvs) {
  StringSink sink;
  TableBuilder builder(options, &sink);
  for (const auto& [k, v] : kvs) builder.Add(k, v);
  EXPECT_TRUE(builder.Finish().ok());
  EXPECT_EQ(builder.NumEntries(), kvs.size());
  EXPECT_EQ(builder.FileSize(), sink.contents().size());
  return sink.contents();
}

Result<std::unique_ptr<Table>> OpenTable(const TableOptions& options, const std::string& data,
                                         std::atomic<int>* reads = nullptr) {
  return Table::Open(options, std::make_unique<StringSource>(data, reads), data.size(),
                     "000042.sst");
}

Result<std::unique_ptr<Table>> OpenStableTable(const TableOptions& options, const std::string& data,
                                               std::atomic<int>* reads = nullptr) {
  return Table::Open(options, std::make_unique<StableStringSource>(data, reads), data.size(),
                     "000042.sst");
}

std::map<std::string, std::string> MakeKvs(int n, size_t value_len = 100) {
  std::map<std::string, std::string> kvs;
  for (int i = 0; i < n; i++) kvs[Key(i * 2)] = Value(i, value_len);
  return kvs;
}

// Point lookup that reports the found key only if it equals key exactly.
Status Get(const Table& t, std::string_view key, std::string* value, bool* hit,
           const ReadOptions& ro = ReadOptions()) {
  *hit = false;
  return t.InternalGet(ro, key, [&](std::string_view k, std::string_view v) {
    if (k == key) {
      *hit = true;
      value->assign(v.data(), v.size());
    }
  });
}

struct Layout {
  Footer footer;
  BlockHandle filter;  // size 0 if none
};

Layout ReadLayout(const std::string& data) {
  Layout l;
  EXPECT_TRUE(
      l.footer.DecodeFrom(std::string_view(data).substr(data.size() - Footer::kEncodedLength), "t")
          .ok());
  std::string_view meta = std::string_view(data).substr(l.footer.metaindex_handle().offset(),
                                                        l.footer.metaindex_handle().size());
  Block block(meta);
  BlockIter it(&block, BytewiseComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    if (it.key().substr(0, 7) == kFilterMetaPrefix) {
      std::string_view v = it.value();
      EXPECT_TRUE(l.filter.DecodeFrom(&v));
    }
  }
  return l;
}

const CompressionType kAllCompressions[] = {CompressionType::kNone, CompressionType::kZstd,
                                            CompressionType::kLz4};

TEST(TableTest, EmptyTableOpensAndHasNoEntries) {
  TableOptions options;
  std::string data = Build(options, {});
  auto t = OpenTable(options, data);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto it = (*t)->NewIterator(ReadOptions());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  bool hit;
  std::string v;
  EXPECT_TRUE(Get(**t, "x", &v, &hit).ok());
  EXPECT_FALSE(hit);
}

TEST(TableTest, RoundTripUnderEveryCompressionType) {
  auto kvs = MakeKvs(3000);
  for (CompressionType c : kAllCompressions) {
    SCOPED_TRACE(static_cast<int>(c));
    TableOptions options;
    options.compression = c;
    std::string data = Build(options, kvs);
    auto t = OpenTable(options, data);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto it = (*t)->NewIterator(ReadOptions());
    auto m = kvs.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_NE(m, kvs.end());
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
    }
    EXPECT_EQ(m, kvs.end());
    EXPECT_TRUE(it->status().ok());
    auto r = kvs.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      ASSERT_NE(r, kvs.rend());
      ASSERT_EQ(it->key(), r->first);
    }
    EXPECT_EQ(r, kvs.rend());
  }
}

TEST(TableTest, MultiMegabyteValueRoundTripsUnderEveryCompression) {
  std::map<std::string, std::string> kvs = MakeKvs(10);
  std::string big(5 << 20, 'x');
  Rng rng(5);
  for (auto& c : big) c = static_cast<char>('a' + rng.Uniform(3));
  kvs[Key(7)] = big;
  for (CompressionType c : kAllCompressions) {
    TableOptions options;
    options.compression = c;
    auto t = OpenTable(options, Build(options, kvs));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    bool hit;
    std::string v;
    ASSERT_TRUE(Get(**t, Key(7), &v, &hit).ok());
    ASSERT_TRUE(hit);
    EXPECT_TRUE(v == big) << static_cast<int>(c);
  }
}

TEST(TableTest, CompressionShrinksCompressibleData) {
  auto kvs = MakeKvs(2000, 400);
  TableOptions options;
  const size_t raw = Build(options, kvs).size();
  for (CompressionType c : {CompressionType::kZstd, CompressionType::kLz4}) {
    options.compression = c;
    EXPECT_LT(Build(options, kvs).size(), raw / 2) << static_cast<int>(c);
  }
}

TEST(TableTest, RandomizedAgainstStdMap) {
  const uint64_t seed = 4242;
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  auto filter = NewBloomFilterPolicy(10);
  for (int round = 0; round < 12; round++) {
    TableOptions options;
    options.compression = kAllCompressions[round % 3];
    options.block_size = static_cast<size_t>(rng.Range(64, 4096));
    options.block_restart_interval = static_cast<int>(rng.Range(1, 32));
    if (rng.OneIn(2)) options.block_cache = NewLRUCache(rng.OneIn(2) ? 1 << 20 : 2000);
    if (rng.OneIn(2)) options.filter_policy = filter.get();
    SCOPED_TRACE("round " + std::to_string(round));

    std::map<std::string, std::string> model;
    const int n = static_cast<int>(rng.Range(0, 2000));
    for (int i = 0; i < n; i++) {
      std::string k(rng.Range(1, 16), 'x');
      for (auto& c : k) c = static_cast<char>('a' + rng.Uniform(6));
      model[k] = std::string(rng.Range(0, 300), static_cast<char>('A' + rng.Uniform(26)));
    }
    std::string data = Build(options, model);
    auto t = OpenTable(options, data);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto it = (*t)->NewIterator(ReadOptions());
    for (int op = 0; op < 500; op++) {
      std::string target(rng.Range(0, 16), 'x');
      for (auto& c : target) c = static_cast<char>('a' + rng.Uniform(6));
      auto m = model.lower_bound(target);
      switch (rng.Uniform(4)) {
        case 0:
          it->Seek(target);
          break;
        case 1:
          it->SeekToFirst();
          m = model.begin();
          break;
        case 2:
          it->SeekToLast();
          m = model.empty() ? model.end() : std::prev(model.end());
          break;
        default: {  // point lookup, then a seek
          bool hit;
          std::string v;
          ASSERT_TRUE(Get(**t, target, &v, &hit).ok());
          auto exact = model.find(target);
          ASSERT_EQ(hit, exact != model.end()) << target;
          if (hit) {
            ASSERT_EQ(v, exact->second);
          }
          it->Seek(target);
        }
      }
      for (int step = 0; step < 8; step++) {
        ASSERT_EQ(it->Valid(), m != model.end());
        if (!it->Valid()) break;
        ASSERT_EQ(it->key(), m->first);
        ASSERT_EQ(it->value(), m->second);
        if (rng.OneIn(2)) {
          it->Next();
          ++m;
        } else {
          it->Prev();
          if (m == model.begin()) {
            ASSERT_FALSE(it->Valid());
            break;
          }
          --m;
        }
      }
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
    }
  }
}

TEST(TableTest, FilterSkipsBlockReadsForAbsentKeys) {
  auto filter = NewBloomFilterPolicy(10);
  TableOptions options;
  options.filter_policy = filter.get();
  auto kvs = MakeKvs(2000);
  std::string data = Build(options, kvs);
  std::atomic<int> reads{0};
  auto t = OpenTable(options, data, &reads);
  ASSERT_TRUE(t.ok());
  const int after_open = reads.load();
  bool hit;
  std::string v;
  for (int i = 0; i < 1000; i++) {
    ASSERT_TRUE(Get(**t, Key(i * 2 + 1), &v, &hit).ok());  // odd keys are absent
    EXPECT_FALSE(hit);
  }
  // ~1% false positives; each costs one block read.
  EXPECT_LT(reads.load() - after_open, 40);
  for (int i = 0; i < 2000; i += 97) {
    ASSERT_TRUE(Get(**t, Key(i * 2), &v, &hit).ok());
    ASSERT_TRUE(hit);
    EXPECT_EQ(v, Value(i));
  }
}

TEST(TableTest, BlockCacheServesRepeatedReads) {
  TableOptions options;
  options.block_cache = NewLRUCache(8 << 20);
  auto kvs = MakeKvs(2000);
  std::string data = Build(options, kvs);
  std::atomic<int> reads{0};
  auto t = OpenTable(options, data, &reads);
  ASSERT_TRUE(t.ok());
  bool hit;
  std::string v;
  ASSERT_TRUE(Get(**t, Key(100), &v, &hit).ok());
  ASSERT_TRUE(hit);
  const int after_first = reads.load();
  for (int i = 0; i < 10; i++) ASSERT_TRUE(Get(**t, Key(100), &v, &hit).ok());
  EXPECT_EQ(reads.load(), after_first);
  EXPECT_GT(options.block_cache->TotalCharge(), 0u);

  // fill_cache = false reads without caching.
  ReadOptions no_fill;
  no_fill.fill_cache = false;
  ASSERT_TRUE(Get(**t, Key(3000), &v, &hit, no_fill).ok());
  const int after_nofill = reads.load();
  ASSERT_TRUE(Get(**t, Key(3000), &v, &hit, no_fill).ok());
  EXPECT_EQ(reads.load(), after_nofill + 1);
}

TEST(TableTest, CachedPointLookupDoesNotAllocate) {
  InternalKeyComparator icmp(BytewiseComparator());
  auto user_filter = NewBloomFilterPolicy(10);
  auto filter = NewInternalFilterPolicy(user_filter.get());
  TableOptions options;
  options.comparator = &icmp;
  options.filter_policy = filter.get();
  options.block_cache = NewLRUCache(8 << 20);
  StringSink sink;
  TableBuilder builder(options, &sink);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; i++) {
    std::string k;
    AppendInternalKey(&k, "user-key-" + Key(i), 7, ValueType::kValue);
    builder.Add(k, Value(i));
    keys.emplace_back(LookupKey("user-key-" + Key(i), 100).internal_key());
  }
  ASSERT_TRUE(builder.Finish().ok());
  auto t = OpenTable(options, sink.contents());
  ASSERT_TRUE(t.ok());
  size_t hits = 0;
  auto found = [](void* arg, std::string_view, std::string_view) { ++*static_cast<size_t*>(arg); };
  for (const auto& k : keys) ASSERT_TRUE((*t)->InternalGet(ReadOptions(), k, &hits, found).ok());
  ASSERT_EQ(hits, keys.size());  // every block is now cached
  g_allocations = 0;
  g_count_allocations = true;
  for (const auto& k : keys) {
    Status s = (*t)->InternalGet(ReadOptions(), k, &hits, found);
    if (!s.ok()) break;
  }
  g_count_allocations = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(hits, 2 * keys.size());
}

TEST(TableTest, StableFileReadsInPlaceAndCachesOnlyCompressedBlocks) {
  auto kvs = MakeKvs(3000);
  for (CompressionType c : kAllCompressions) {
    SCOPED_TRACE(static_cast<int>(c));
    TableOptions options;
    options.compression = c;
    options.block_cache = NewLRUCache(8 << 20);
    std::string data = Build(options, kvs);
    auto t = OpenStableTable(options, data);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    for (const auto& [k, v] : kvs) {
      bool hit;
      std::string got;
      ASSERT_TRUE(Get(**t, k, &got, &hit).ok());
      ASSERT_TRUE(hit) << k;
      ASSERT_EQ(got, v);
    }
    auto it = (*t)->NewIterator(ReadOptions());
    auto m = kvs.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_NE(m, kvs.end());
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
    }
    EXPECT_EQ(m, kvs.end());
    EXPECT_TRUE(it->status().ok());
    auto r = kvs.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      ASSERT_NE(r, kvs.rend());
      ASSERT_EQ(it->key(), r->first);
    }
    EXPECT_EQ(r, kvs.rend());
    if (c == CompressionType::kNone) {
      EXPECT_EQ(options.block_cache->TotalCharge(), 0u);  // the file's bytes are the block
    } else {
      EXPECT_GT(options.block_cache->TotalCharge(), 0u);  // decompressed copies are cached
    }
  }
}

TEST(TableTest, InPlacePointLookupDoesNotAllocateEvenOnFirstRead) {
  TableOptions options;
  options.block_cache = NewLRUCache(8 << 20);
  auto kvs = MakeKvs(2000);
  auto t = OpenStableTable(options, Build(options, kvs));
  ASSERT_TRUE(t.ok());
  size_t hits = 0;
  auto found = [](void* arg, std::string_view, std::string_view) { ++*static_cast<size_t*>(arg); };
  g_allocations = 0;
  g_count_allocations = true;
  for (const auto& [k, v] : kvs) {
    Status s = (*t)->InternalGet(ReadOptions(), k, &hits, found);
    if (!s.ok()) break;
  }
  g_count_allocations = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(hits, kvs.size());
}

TEST(TableTest, InternalKeysWithInternalFilter) {
  InternalKeyComparator icmp(BytewiseComparator());
  auto user_filter = NewBloomFilterPolicy(10);
  auto filter = NewInternalFilterPolicy(user_filter.get());
  TableOptions options;
  options.comparator = &icmp;
  options.filter_policy = filter.get();
  options.compression = CompressionType::kLz4;
  StringSink sink;
  TableBuilder builder(options, &sink);
  // Each user key has versions at sequences 30 (value) and 20 (deletion).
  for (int i = 0; i < 500; i++) {
    std::string k30, k20;
    AppendInternalKey(&k30, Key(i), 30, ValueType::kValue);
    AppendInternalKey(&k20, Key(i), 20, ValueType::kDeletion);
    builder.Add(k30, Value(i));
    builder.Add(k20, "");
  }
  ASSERT_TRUE(builder.Finish().ok());
  auto t = OpenTable(options, sink.contents());
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 500; i += 7) {
    for (SequenceNumber snap : {SequenceNumber{100}, SequenceNumber{25}, SequenceNumber{10}}) {
      LookupKey lk(Key(i), snap);
      ParsedInternalKey found;
      std::string found_key;  // found.user_key points into it
      std::string value;
      bool called = false;
      ASSERT_TRUE((*t)->InternalGet(ReadOptions(), lk.internal_key(),
                                    [&](std::string_view k, std::string_view v) {
                                      found_key.assign(k.data(), k.size());
                                      called = ParseInternalKey(found_key, &found);
                                      value.assign(v.data(), v.size());
                                    })
                      .ok());
      if (snap == 10) {
        // Nothing of this key is visible: the entry found (if any) is another key's.
        EXPECT_TRUE(!called || found.user_key != Key(i));
      } else {
        ASSERT_TRUE(called);
        EXPECT_EQ(found.user_key, Key(i));
        EXPECT_EQ(found.sequence, snap == 100 ? 30u : 20u);
        if (snap == 100) {
          EXPECT_EQ(value, Value(i));
        }
      }
    }
  }
}

TEST(TableTest, ApproximateOffsetsGrowWithKeys) {
  TableOptions options;
  auto kvs = MakeKvs(5000);
  std::string data = Build(options, kvs);
  auto t = OpenTable(options, data);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->ApproximateOffsetOf(""), 0u);
  uint64_t last = 0;
  for (int i = 0; i < 10000; i += 1000) {
    uint64_t off = (*t)->ApproximateOffsetOf(Key(i));
    EXPECT_GE(off, last);
    last = off;
  }
  EXPECT_GT(last, data.size() / 2);
  EXPECT_LE((*t)->ApproximateOffsetOf("zzz"), data.size());
}

// --- Corruption: every damaged byte gives Corruption or the right answer. ---

class TableCorruptionTest : public ::testing::Test {
 protected:
  TableCorruptionTest() : filter_(NewBloomFilterPolicy(10)) {
    options_.filter_policy = filter_.get();
    kvs_ = MakeKvs(2000);
    data_ = Build(options_, kvs_);
    layout_ = ReadLayout(data_);
  }

  std::string Flipped(uint64_t offset) const {
    std::string d = data_;
    d[offset] = static_cast<char>(d[offset] ^ 0x40);
    return d;
  }

  // Reads every key; returns the first error, and checks that no read
  // returns a wrong value or a false "not found".
  Status ReadAll(const Table& t) const {
    for (const auto& [k, v] : kvs_) {
      bool hit;
      std::string got;
      Status s = Get(t, k, &got, &hit);
      if (!s.ok()) return s;
      EXPECT_TRUE(hit) << k;
      if (hit) {
        EXPECT_EQ(got, v);
      }
    }
    return Status::OK();
  }

  std::unique_ptr<const FilterPolicy> filter_;
  TableOptions options_;
  std::map<std::string, std::string> kvs_;
  std::string data_;
  Layout layout_;
};

TEST_F(TableCorruptionTest, FlippedDataBlockByteIsCorruptionOnReadAndScan) {
  std::string d = Flipped(10);  // inside the first data block
  auto t = OpenTable(options_, d);
  ASSERT_TRUE(t.ok());
  Status s = ReadAll(**t);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("000042.sst"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("checksum mismatch at 0"), std::string::npos) << s.ToString();
  auto it = (*t)->NewIterator(ReadOptions());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsCorruption());
}

TEST_F(TableCorruptionTest, FlippedDataBlockByteIsCorruptionWhenReadInPlace) {
  std::string d = Flipped(10);  // inside the first data block
  auto t = OpenStableTable(options_, d);
  ASSERT_TRUE(t.ok());
  Status s = ReadAll(**t);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("000042.sst: block checksum mismatch at 0"), std::string::npos)
      << s.ToString();
  auto it = (*t)->NewIterator(ReadOptions());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().IsCorruption());
  // Without verification the damage is not looked for, and the read does
  // not fail on the checksum (what it returns from damaged bytes is moot).
  ReadOptions no_verify;
  no_verify.verify_checksums = false;
  bool hit;
  std::string v;
  s = Get(**t, Key(2), &v, &hit, no_verify);
  EXPECT_EQ(s.ToString().find("checksum"), std::string::npos) << s.ToString();
}

TEST_F(TableCorruptionTest, FlippedIndexBlockByteFailsOpen) {
  auto t = OpenTable(options_, Flipped(layout_.footer.index_handle().offset() + 3));
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsCorruption()) << t.status().ToString();
  EXPECT_NE(t.status().ToString().find("000042.sst"), std::string::npos);
}

TEST_F(TableCorruptionTest, FlippedMetaindexByteFailsOpen) {
  auto t = OpenTable(options_, Flipped(layout_.footer.metaindex_handle().offset() + 1));
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsCorruption()) << t.status().ToString();
}

TEST_F(TableCorruptionTest, FlippedFilterByteDisablesFilterWithoutFalseNotFound) {
  ASSERT_GT(layout_.filter.size(), 0u);
  // Damage many filter bytes: with the filter trusted, most keys would vanish.
  std::string d = data_;
  for (uint64_t i = 0; i < layout_.filter.size(); i += 2) d[layout_.filter.offset() + i] = 0;
  auto t = OpenTable(options_, d);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(ReadAll(**t).ok());
}

TEST_F(TableCorruptionTest, FlippedFooterByteFailsOpen) {
  for (size_t i = 0; i < Footer::kEncodedLength; i++) {
    auto t = OpenTable(options_, Flipped(data_.size() - Footer::kEncodedLength + i));
    if (t.ok()) {
      // Only padding bytes could be harmless, and the checksum covers them.
      ADD_FAILURE() << "footer byte " << i << " flipped but the table opened";
      continue;
    }
    EXPECT_TRUE(t.status().IsCorruption()) << i << " " << t.status().ToString();
  }
}

TEST_F(TableCorruptionTest, TruncatedFileFailsOpen) {
  for (size_t len : {size_t{0}, size_t{10}, data_.size() / 2, data_.size() - 1}) {
    auto t = OpenTable(options_, data_.substr(0, len));
    ASSERT_FALSE(t.ok());
    EXPECT_TRUE(t.status().IsCorruption()) << len << " " << t.status().ToString();
  }
}

TEST_F(TableCorruptionTest, EveryFlippedByteGivesCorruptionOrTheRightAnswer) {
  // Sweep one byte in every 97 across the whole file.
  for (uint64_t off = 0; off < data_.size(); off += 97) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto t = OpenTable(options_, Flipped(off));
    if (!t.ok()) {
      EXPECT_TRUE(t.status().IsCorruption()) << t.status().ToString();
      continue;
    }
    Status s = ReadAll(**t);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
  }
}

TEST_F(TableCorruptionTest, EveryFlippedByteGivesCorruptionOrTheRightAnswerInPlace) {
  for (uint64_t off = 0; off < data_.size(); off += 97) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto t = OpenStableTable(options_, Flipped(off));
    if (!t.ok()) {
      EXPECT_TRUE(t.status().IsCorruption()) << t.status().ToString();
      continue;
    }
    Status s = ReadAll(**t);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
  }
}

// Through the real Env: Env::Posix() maps table files, so these reads are in
// place, and damage in a block is still found by its checksum.
class MmapTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dkv_table_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<Table>> WriteAndOpen(const TableOptions& options, const std::string& data,
                                              const std::string& name) {
    const std::string path = dir_ + "/" + name;
    DKV_RETURN_IF_ERROR(WriteStringToFile(Env::Posix(), data, path, false));
    DKV_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                         Env::Posix()->NewRandomAccessFile(path));
    EXPECT_TRUE(file->StableResults());  // mapped: far below the mapping limit
    return Table::Open(options, std::move(file), data.size(), name);
  }

  std::string dir_;
};

TEST_F(MmapTableTest, MappedTableReadsCorrectlyAndDamagedBlockIsCorruption) {
  TableOptions options;
  options.block_cache = NewLRUCache(8 << 20);
  auto filter = NewBloomFilterPolicy(10);
  options.filter_policy = filter.get();
  auto kvs = MakeKvs(5000);
  const std::string data = Build(options, kvs);
  auto t = WriteAndOpen(options, data, "000007.sst");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  for (const auto& [k, v] : kvs) {
    bool hit;
    std::string got;
    ASSERT_TRUE(Get(**t, k, &got, &hit).ok());
    ASSERT_TRUE(hit) << k;
    ASSERT_EQ(got, v);
    ASSERT_TRUE(Get(**t, k + "x", &got, &hit).ok());  // absent: between two keys
    ASSERT_FALSE(hit);
  }
  auto it = (*t)->NewIterator(ReadOptions());
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(n, kvs.size());
  EXPECT_EQ(options.block_cache->TotalCharge(), 0u);

  // A damaged copy (the first file stays mapped and intact).
  std::string bad = data;
  const uint64_t damaged_block = ReadLayout(data).footer.index_handle().offset() / 2;
  bad[damaged_block] = static_cast<char>(bad[damaged_block] ^ 0x01);
  auto tb = WriteAndOpen(options, bad, "000008.sst");
  ASSERT_TRUE(tb.ok()) << tb.status().ToString();
  Status first_error;
  for (const auto& [k, v] : kvs) {
    bool hit;
    std::string got;
    Status s = Get(**tb, k, &got, &hit);
    if (!s.ok()) {
      first_error = s;
      break;
    }
    ASSERT_TRUE(hit);
    ASSERT_EQ(got, v);
  }
  EXPECT_TRUE(first_error.IsCorruption()) << first_error.ToString();
  EXPECT_NE(first_error.ToString().find("000008.sst: block checksum mismatch"), std::string::npos)
      << first_error.ToString();
  auto bit = (*tb)->NewIterator(ReadOptions());
  for (bit->SeekToFirst(); bit->Valid(); bit->Next()) {
  }
  EXPECT_TRUE(bit->status().IsCorruption()) << bit->status().ToString();
  // The intact table is unaffected.
  bool hit;
  std::string got;
  ASSERT_TRUE(Get(**t, Key(0), &got, &hit).ok());
  EXPECT_TRUE(hit);
}

TEST(CompressionTest, HugeSizeFieldIsRefusedBeforeAllocating) {
  std::string compressed;
  ASSERT_TRUE(CompressBlock(CompressionType::kZstd, std::string(1000, 'a'), &compressed));
  std::string bad;
  PutVarint32(&bad, 0xfffffff0u);  // ~4 GiB claimed
  std::string_view rest(compressed);
  uint32_t ignored;
  ASSERT_TRUE(GetVarint32(&rest, &ignored));
  bad.append(rest.data(), rest.size());
  for (CompressionType c : {CompressionType::kZstd, CompressionType::kLz4}) {
    std::unique_ptr<char[]> out;
    size_t n = 0;
    Status s = UncompressBlock(c, bad, kMaxUncompressedBlockBytes, &out, &n);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
}

TEST(CompressionTest, WrongSizeFieldIsCorruption) {
  for (CompressionType c : {CompressionType::kZstd, CompressionType::kLz4}) {
    std::string compressed;
    ASSERT_TRUE(CompressBlock(c, std::string(1000, 'a'), &compressed));
    compressed[0] = static_cast<char>(compressed[0] - 1);  // size field off by one
    std::unique_ptr<char[]> out;
    size_t n = 0;
    EXPECT_TRUE(
        UncompressBlock(c, compressed, kMaxUncompressedBlockBytes, &out, &n).IsCorruption());
  }
}

TEST(TwoLevelIteratorTest, WalksBlocksBothWaysSkippingEmptyOnesAndStopsAtErrors) {
  // Blocks: 0 = {a, b}, 1 = {} (empty), 2 = {c, d}; 3 = damaged.
  std::vector<std::string> blocks;
  for (const std::vector<std::string>& keys :
       {std::vector<std::string>{"a", "b"}, std::vector<std::string>{},
        std::vector<std::string>{"c", "d"}}) {
    BlockBuilder b(2, BytewiseComparator());
    for (const auto& k : keys) b.Add(k, "v" + k);
    blocks.emplace_back(b.Finish());
  }
  blocks.push_back("xx");  // too short to be a block
  BlockBuilder index(1, BytewiseComparator());
  index.Add("b", "0");
  index.Add("bb", "1");
  index.Add("d", "2");
  std::string index_data(index.Finish());
  Block index_block(index_data);
  std::vector<std::unique_ptr<Block>> owned;
  for (const auto& b : blocks) owned.push_back(std::make_unique<Block>(b));
  auto fn = [&](std::string_view v) -> std::unique_ptr<Iterator> {
    return owned[static_cast<size_t>(v[0] - '0')]->NewIterator(BytewiseComparator());
  };
  auto it = NewTwoLevelIterator(index_block.NewIterator(BytewiseComparator()), fn);
  std::string got;
  for (it->SeekToFirst(); it->Valid(); it->Next()) got += it->key();
  EXPECT_EQ(got, "abcd");
  got.clear();
  for (it->SeekToLast(); it->Valid(); it->Prev()) got += it->key();
  EXPECT_EQ(got, "dcba");
  it->Seek("bb");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "c");
  EXPECT_EQ(it->value(), "vc");
  it->Seek("e");
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());

  // An index entry pointing at a damaged block stops the scan with its error.
  BlockBuilder bad_index(1, BytewiseComparator());
  bad_index.Add("b", "0");
  bad_index.Add("c", "3");
  bad_index.Add("d", "2");
  std::string bad_data(bad_index.Finish());
  Block bad_block(bad_data);
  auto bad = NewTwoLevelIterator(bad_block.NewIterator(BytewiseComparator()), fn);
  got.clear();
  for (bad->SeekToFirst(); bad->Valid(); bad->Next()) got += bad->key();
  EXPECT_EQ(got, "ab");
  EXPECT_TRUE(bad->status().IsCorruption());
}

TEST(TableFormatTest, FooterRoundTrips) {
  Footer f;
  f.set_metaindex_handle(BlockHandle(123456789, 42));
  f.set_index_handle(BlockHandle(1, 1ull << 40));
  std::string enc;
  f.EncodeTo(&enc);
  ASSERT_EQ(enc.size(), Footer::kEncodedLength);
  Footer g;
  ASSERT_TRUE(g.DecodeFrom(enc, "t").ok());
  EXPECT_EQ(g.metaindex_handle().offset(), 123456789u);
  EXPECT_EQ(g.metaindex_handle().size(), 42u);
  EXPECT_EQ(g.index_handle().offset(), 1u);
  EXPECT_EQ(g.index_handle().size(), 1ull << 40);
}

}  // namespace
}  // namespace dkv::storage
