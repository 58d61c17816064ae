#include "storage/arena.h"

namespace dkv::storage {

char* Arena::AllocateAligned(size_t bytes) {
  DKV_DASSERT(bytes > 0);
  const size_t misalign = reinterpret_cast<uintptr_t>(ptr_) & (kAlignment - 1);
  const size_t slop = misalign == 0 ? 0 : kAlignment - misalign;
  const size_t needed = bytes + slop;
  char* result;
  if (needed <= remaining_) {
    result = ptr_ + slop;
    ptr_ += needed;
    remaining_ -= needed;
  } else {
    // A fresh block from new[] is aligned to at least max_align_t.
    result = AllocateFallback(bytes);
  }
  DKV_ASSERT((reinterpret_cast<uintptr_t>(result) & (kAlignment - 1)) == 0);
  return result;
}

char* Arena::AllocateFallback(size_t bytes) {
  if (bytes > kLargeRequestThreshold) {
    // Own block; the current block keeps serving small requests.
    return AllocateNewBlock(bytes);
  }
  // Waste the tail of the current block and start a new one.
  ptr_ = AllocateNewBlock(kBlockSize);
  remaining_ = kBlockSize;
  char* result = ptr_;
  ptr_ += bytes;
  remaining_ -= bytes;
  return result;
}

char* Arena::AllocateNewBlock(size_t block_bytes) {
  // operator new[] for char returns memory aligned for any fundamental type.
  blocks_.emplace_back(new char[block_bytes]);
  memory_usage_.fetch_add(block_bytes + sizeof(std::unique_ptr<char[]>), std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace dkv::storage
