// KeyHashSet: the set of 64-bit hashes of the keys in the keyspace, in a flat
// open-addressing table (about 16 bytes per key at the lowest load).
//
// The Keyspace keeps it so a write knows whether its key is new (for DBSIZE)
// and a read of an absent key is answered without an engine lookup, instead
// of reading the engine on every SET. Every stored key's hash is in the set,
// so "not in the set" proves the key absent; NB: two keys with the same hash
// (odds about n^2 / 2^65) would make DBSIZE count one key short until they
// are deleted. Owned by the Keyspace; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/assert.h"

namespace dkv::server {

class KeyHashSet {
 public:
  KeyHashSet() { slots_.assign(kMinSlots, kEmpty); }

  size_t size() const { return size_; }
  bool Contains(uint64_t h) const {
    h = Fix(h);
    for (size_t i = h & mask(); slots_[i] != kEmpty; i = (i + 1) & mask()) {
      if (slots_[i] == h) return true;
    }
    return false;
  }
  // True if h was not in the set.
  bool Insert(uint64_t h) {
    h = Fix(h);
    if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) Resize(slots_.size() * 2);
    size_t i = h & mask();
    for (; slots_[i] != kEmpty; i = (i + 1) & mask()) {
      if (slots_[i] == h) return false;
    }
    slots_[i] = h;
    size_++;
    return true;
  }
  // True if h was in the set.
  bool Erase(uint64_t h) {
    h = Fix(h);
    size_t i = h & mask();
    for (; slots_[i] != h; i = (i + 1) & mask()) {
      if (slots_[i] == kEmpty) return false;
    }
    // Backward-shift deletion: move later members of the probe run into the
    // hole when their home slot allows it, so no tombstones are needed.
    size_t hole = i;
    for (size_t j = (i + 1) & mask(); slots_[j] != kEmpty; j = (j + 1) & mask()) {
      size_t home = slots_[j] & mask();
      // Moving j to hole keeps it findable iff home is not in (hole, j].
      bool in_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!in_between) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kEmpty;
    size_--;
    if (slots_.size() > kMinSlots && size_ * kShrinkDen < slots_.size()) Resize(slots_.size() / 2);
    return true;
  }
  void Clear() {
    slots_.assign(kMinSlots, kEmpty);
    size_ = 0;
  }

 private:
  // 0 marks an empty slot, so the hash 0 is stored as 1 (a collision like
  // any other).
  static constexpr uint64_t kEmpty = 0;
  static constexpr size_t kMinSlots = 1024;
  // Grow past 7/10 full (linear probing stays short below that); shrink
  // under 1/8 full so FLUSHDB-like deletions give memory back.
  static constexpr size_t kMaxLoadNum = 7;
  static constexpr size_t kMaxLoadDen = 10;
  static constexpr size_t kShrinkDen = 8;
  static_assert((kMinSlots & (kMinSlots - 1)) == 0, "a power of two");

  static uint64_t Fix(uint64_t h) { return h == kEmpty ? 1 : h; }
  size_t mask() const { return slots_.size() - 1; }
  void Resize(size_t n) {
    DKV_ASSERT((n & (n - 1)) == 0);
    DKV_ASSERT(n >= kMinSlots);
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(n, kEmpty);
    for (uint64_t h : old) {
      if (h == kEmpty) continue;
      size_t i = h & mask();
      while (slots_[i] != kEmpty) i = (i + 1) & mask();
      slots_[i] = h;
    }
  }

  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

}  // namespace dkv::server
