// Tests for the sharded LRU cache: hits, eviction order, pinning, deleters.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/coding.h"
#include "storage/cache.h"

namespace dkv::storage {
namespace {

std::string EncodeKey(int k) {
  std::string s;
  PutFixed32(&s, static_cast<uint32_t>(k));
  return s;
}

// Records every deleter call.
std::vector<std::pair<int, int>>* g_deleted = nullptr;

void Deleter(std::string_view key, void* v) {
  g_deleted->emplace_back(static_cast<int>(DecodeFixed32(key.data())),
                          static_cast<int>(reinterpret_cast<uintptr_t>(v)));
}

std::atomic<size_t> g_counted{0};
void CountingDeleter(std::string_view, void*) { g_counted++; }

class CacheTest : public ::testing::Test {
 protected:
  // Small enough that one shard holds ~62 unit-charge entries.
  static constexpr size_t kCapacity = 1000;
  CacheTest() : cache_(NewLRUCache(kCapacity)) { g_deleted = &deleted_; }
  ~CacheTest() override {
    cache_.reset();
    g_deleted = nullptr;
  }

  int Lookup(int key) {
    Cache::Handle* h = cache_->Lookup(EncodeKey(key));
    if (h == nullptr) return -1;
    int v = static_cast<int>(reinterpret_cast<uintptr_t>(cache_->Value(h)));
    cache_->Release(h);
    return v;
  }
  void Insert(int key, int value, size_t charge = 1) {
    cache_->Release(InsertPinned(key, value, charge));
  }
  Cache::Handle* InsertPinned(int key, int value, size_t charge = 1) {
    return cache_->Insert(EncodeKey(key), reinterpret_cast<void*>(uintptr_t(value)), charge,
                          &Deleter);
  }

  std::vector<std::pair<int, int>> deleted_;
  std::shared_ptr<Cache> cache_;
};

TEST_F(CacheTest, HitAndMiss) {
  EXPECT_EQ(Lookup(100), -1);
  Insert(100, 101);
  EXPECT_EQ(Lookup(100), 101);
  EXPECT_EQ(Lookup(200), -1);
  Insert(200, 201);
  EXPECT_EQ(Lookup(100), 101);
  EXPECT_EQ(Lookup(200), 201);
  Insert(100, 102);
  EXPECT_EQ(Lookup(100), 102);
  ASSERT_EQ(deleted_.size(), 1u);
  EXPECT_EQ(deleted_[0], std::make_pair(100, 101));
}

TEST_F(CacheTest, EraseRunsDeleterOnce) {
  cache_->Erase(EncodeKey(200));
  EXPECT_TRUE(deleted_.empty());
  Insert(100, 101);
  cache_->Erase(EncodeKey(100));
  EXPECT_EQ(Lookup(100), -1);
  ASSERT_EQ(deleted_.size(), 1u);
  cache_->Erase(EncodeKey(100));
  EXPECT_EQ(deleted_.size(), 1u);
}

TEST_F(CacheTest, PinnedEntryOutlivesEraseAndReplace) {
  Insert(100, 101);
  Cache::Handle* h1 = cache_->Lookup(EncodeKey(100));
  ASSERT_NE(h1, nullptr);
  Insert(100, 102);  // replaces while h1 is pinned
  Cache::Handle* h2 = cache_->Lookup(EncodeKey(100));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(cache_->Value(h1)), 101u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(cache_->Value(h2)), 102u);
  EXPECT_TRUE(deleted_.empty());
  cache_->Release(h1);
  ASSERT_EQ(deleted_.size(), 1u);
  cache_->Erase(EncodeKey(100));
  EXPECT_EQ(Lookup(100), -1);
  EXPECT_EQ(deleted_.size(), 1u);  // h2 still pinned
  cache_->Release(h2);
  EXPECT_EQ(deleted_.size(), 2u);
}

TEST_F(CacheTest, EvictsLeastRecentlyUsedButKeepsRecentlyUsed) {
  Insert(100, 101);
  Insert(200, 201);
  Cache::Handle* pinned = InsertPinned(300, 301);
  // Insert far more than the capacity, touching 100 each time.
  for (int i = 0; i < static_cast<int>(kCapacity) * 4; i++) {
    Insert(1000 + i, 2000 + i);
    EXPECT_EQ(Lookup(1000 + i), 2000 + i);
    EXPECT_EQ(Lookup(100), 101);
  }
  EXPECT_EQ(Lookup(100), 101);
  EXPECT_EQ(Lookup(200), -1);   // never touched: evicted
  EXPECT_EQ(Lookup(300), 301);  // pinned: cannot be evicted
  cache_->Release(pinned);
  EXPECT_LE(cache_->TotalCharge(), kCapacity + 16);
}

TEST_F(CacheTest, HeavyEntriesUseUpCapacity) {
  // Entries of charge 1 and 10 alternate; what survives is bounded by charge.
  for (int i = 0; i < 1000; i++) Insert(i, i, (i & 1) ? 10 : 1);
  size_t cached_weight = 0;
  for (int i = 0; i < 1000; i++) {
    if (Lookup(i) == i) cached_weight += (i & 1) ? 10 : 1;
  }
  EXPECT_LE(cached_weight, kCapacity + kCapacity / 10);
  EXPECT_EQ(cache_->TotalCharge(), cached_weight);
}

TEST_F(CacheTest, ZeroCapacityCachesNothingButHandlesWork) {
  cache_ = NewLRUCache(0);
  Cache::Handle* h = InsertPinned(1, 100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(cache_->Value(h)), 100u);
  EXPECT_EQ(Lookup(1), -1);
  cache_->Release(h);
  EXPECT_EQ(deleted_.size(), 1u);
}

TEST_F(CacheTest, NewIdIsUnique) {
  uint64_t a = cache_->NewId();
  uint64_t b = cache_->NewId();
  EXPECT_NE(a, b);
}

TEST_F(CacheTest, DestroyingCacheRunsEveryDeleter) {
  for (int i = 0; i < 50; i++) Insert(i, i);
  cache_.reset();
  EXPECT_EQ(deleted_.size(), 50u);
}

TEST_F(CacheTest, ConcurrentUseIsSafe) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 20000; i++) {
        const int k = (i * 7 + t) % 3000;
        Cache::Handle* h = cache_->Lookup(EncodeKey(k));
        if (h == nullptr) {
          h = cache_->Insert(EncodeKey(k), reinterpret_cast<void*>(uintptr_t(k)), 1,
                             &CountingDeleter);
        }
        EXPECT_EQ(reinterpret_cast<uintptr_t>(cache_->Value(h)), uintptr_t(k));
        cache_->Release(h);
      }
    });
  }
  for (auto& t : threads) t.join();
  const size_t live = cache_->TotalCharge();
  cache_.reset();
  // Every inserted entry was deleted exactly once (the last ones at reset).
  EXPECT_GE(g_counted.load(), live);
}

}  // namespace
}  // namespace dkv::storage
