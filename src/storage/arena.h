// Arena: a bump allocator that backs one memtable's entries and skiplist nodes.
//
// Memory is handed out from 4 KiB blocks (large requests get their own block)
// and is only freed all at once when the arena is destroyed, which is exactly
// the lifetime of a memtable. Owned by its MemTable. Allocation is NOT
// thread-safe (the memtable has one writer at a time); MemoryUsage() may be
// called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/assert.h"

namespace dkv::storage {

class Arena {
 public:
  // Size of the blocks small requests are carved from: a page, so the waste at
  // the end of a block stays small next to the block.
  static constexpr size_t kBlockSize = 4096;
  // Requests above this get a block of their own, so that a big value does not
  // throw away the rest of the current block.
  static constexpr size_t kLargeRequestThreshold = kBlockSize / 4;
  // Alignment of AllocateAligned: enough for pointers and std::atomic<T*>.
  static constexpr size_t kAlignment = alignof(std::max_align_t) > 8 ? alignof(std::max_align_t)
                                                                     : 8;
  static_assert((kAlignment & (kAlignment - 1)) == 0, "alignment must be a power of two");

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() = default;

  // Returns bytes bytes with no alignment promise. REQUIRES: bytes > 0.
  char* Allocate(size_t bytes) {
    DKV_DASSERT(bytes > 0);
    if (bytes <= remaining_) {
      char* result = ptr_;
      ptr_ += bytes;
      remaining_ -= bytes;
      return result;
    }
    return AllocateFallback(bytes);
  }

  // Returns bytes bytes aligned to kAlignment. REQUIRES: bytes > 0.
  char* AllocateAligned(size_t bytes);

  // Bytes reserved from the system so far (blocks plus bookkeeping). Thread-safe.
  size_t MemoryUsage() const { return memory_usage_.load(std::memory_order_relaxed); }

 private:
  char* AllocateFallback(size_t bytes);
  char* AllocateNewBlock(size_t block_bytes);

  char* ptr_ = nullptr;
  size_t remaining_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> memory_usage_{0};
};

}  // namespace dkv::storage
