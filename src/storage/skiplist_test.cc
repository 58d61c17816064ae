#include "storage/skiplist.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "common/random.h"

namespace dkv::storage {
namespace {

struct U64Compare {
  int operator()(const uint64_t& a, const uint64_t& b) const {
    if (a < b) return -1;
    if (a > b) return +1;
    return 0;
  }
};
using IntList = SkipList<uint64_t, U64Compare>;

TEST(SkipListTest, EmptyListHasNothing) {
  Arena arena;
  IntList list(U64Compare(), &arena);
  EXPECT_FALSE(list.Contains(10));
  IntList::Iterator iter(&list);
  EXPECT_FALSE(iter.Valid());
  iter.SeekToFirst();
  EXPECT_FALSE(iter.Valid());
  iter.Seek(100);
  EXPECT_FALSE(iter.Valid());
  iter.SeekToLast();
  EXPECT_FALSE(iter.Valid());
}

TEST(SkipListTest, MatchesStdSetForwardBackwardAndSeek) {
  const uint64_t seed = 301;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  constexpr int kInserts = 2000;
  constexpr uint64_t kRange = 5000;
  Rng rng(seed);
  Arena arena;
  IntList list(U64Compare(), &arena, seed);
  std::set<uint64_t> model;
  for (int i = 0; i < kInserts; i++) {
    uint64_t k = rng.Uniform(kRange);
    if (model.insert(k).second) list.Insert(k);
  }
  for (uint64_t k = 0; k < kRange; k++) ASSERT_EQ(list.Contains(k), model.count(k) == 1) << k;

  // Forward walk.
  IntList::Iterator iter(&list);
  iter.SeekToFirst();
  for (uint64_t k : model) {
    ASSERT_TRUE(iter.Valid());
    ASSERT_EQ(iter.key(), k);
    iter.Next();
  }
  EXPECT_FALSE(iter.Valid());

  // Backward walk.
  iter.SeekToLast();
  for (auto it = model.rbegin(); it != model.rend(); ++it) {
    ASSERT_TRUE(iter.Valid());
    ASSERT_EQ(iter.key(), *it);
    iter.Prev();
  }
  EXPECT_FALSE(iter.Valid());

  // Seek lands on the first key >= target.
  for (uint64_t t = 0; t < kRange + 2; t += 7) {
    iter.Seek(t);
    auto it = model.lower_bound(t);
    if (it == model.end()) {
      ASSERT_FALSE(iter.Valid()) << t;
    } else {
      ASSERT_TRUE(iter.Valid()) << t;
      ASSERT_EQ(iter.key(), *it);
    }
  }
}

TEST(SkipListTest, SameSeedAndInsertsUseSameArenaBytes) {
  // Heights come from the seeded Rng, so the shape (and memory) is reproducible.
  Arena a1, a2;
  IntList l1(U64Compare(), &a1, 7), l2(U64Compare(), &a2, 7);
  for (uint64_t k = 0; k < 1000; k++) {
    l1.Insert(k * 3);
    l2.Insert(k * 3);
  }
  EXPECT_EQ(a1.MemoryUsage(), a2.MemoryUsage());
}

// One writer inserts while readers look up and walk the list. Every key
// published before a reader looks must be found, and every walk must be
// strictly increasing. Interleavings vary run to run; the checks hold in all.
TEST(SkipListTest, ConcurrentReadersSeeConsistentListWhileOneWriterInserts) {
  const uint64_t seed = 99;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  constexpr size_t kKeys = 100000;
  constexpr int kReaders = 2;
  Rng rng(seed);
  std::vector<uint64_t> keys;
  {
    std::set<uint64_t> unique;
    while (unique.size() < kKeys) {
      uint64_t k = rng.Next() >> 1;
      if (unique.insert(k).second) keys.push_back(k);
    }
  }

  Arena arena;
  IntList list(U64Compare(), &arena, seed);
  std::atomic<size_t> published{0};
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};

  auto reader = [&](uint64_t reader_seed) {
    Rng r(reader_seed);
    int rounds = 0;
    while (!done.load(std::memory_order_acquire) || rounds < 3) {
      rounds++;
      const size_t n = published.load(std::memory_order_acquire);
      for (int i = 0; i < 50 && n > 0; i++) {
        if (!list.Contains(keys[r.Uniform(n)])) failures++;
      }
      // A bounded walk from a random point must be strictly increasing.
      IntList::Iterator iter(&list);
      iter.Seek(r.Next() >> 1);
      uint64_t last = 0;
      bool first = true;
      for (int steps = 0; iter.Valid() && steps < 200; steps++) {
        if (!first && iter.key() <= last) failures++;
        last = iter.key();
        first = false;
        iter.Next();
      }
    }
  };

  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; i++) readers.emplace_back(reader, seed + 1 + i);
  for (size_t i = 0; i < kKeys; i++) {
    list.Insert(keys[i]);
    published.store(i + 1, std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);

  // After the writer stops, the full walk has exactly the inserted keys.
  std::set<uint64_t> model(keys.begin(), keys.end());
  IntList::Iterator iter(&list);
  iter.SeekToFirst();
  for (uint64_t k : model) {
    ASSERT_TRUE(iter.Valid());
    ASSERT_EQ(iter.key(), k);
    iter.Next();
  }
  EXPECT_FALSE(iter.Valid());
}

TEST(ArenaTest, AlignedAllocationsAreAlignedAndUsageGrows) {
  Arena arena;
  EXPECT_EQ(arena.MemoryUsage(), 0u);
  Rng rng(5);
  std::vector<std::pair<char*, size_t>> allocs;
  for (int i = 0; i < 2000; i++) {
    size_t n = 1 + rng.Uniform(i % 50 == 0 ? 6000 : 100);
    char* p = (i % 3 == 0) ? arena.AllocateAligned(n) : arena.Allocate(n);
    if (i % 3 == 0) {
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % Arena::kAlignment, 0u);
    }
    // Fill so that overlapping allocations would be caught below.
    for (size_t j = 0; j < n; j++) p[j] = static_cast<char>(i);
    allocs.emplace_back(p, n);
  }
  for (size_t i = 0; i < allocs.size(); i++) {
    for (size_t j = 0; j < allocs[i].second; j++) {
      ASSERT_EQ(allocs[i].first[j], static_cast<char>(i)) << i;
    }
  }
  EXPECT_GT(arena.MemoryUsage(), 0u);
}

}  // namespace
}  // namespace dkv::storage
