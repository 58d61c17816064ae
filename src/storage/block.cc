#include "storage/block.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "common/coding.h"

namespace dkv::storage {

Block::Block(BlockContents contents) : heap_(std::move(contents.heap)), data_(contents.data) {
  Init();
}

Block::Block(std::string_view data) : data_(data) { Init(); }

void Block::Init() {
  // Anything the file can hold must be representable: offsets are 32-bit.
  if (data_.size() < sizeof(uint32_t) || data_.size() > UINT32_MAX) return;
  const size_t max_restarts = (data_.size() - sizeof(uint32_t)) / sizeof(uint32_t);
  const uint32_t n = DecodeFixed32(data_.data() + data_.size() - sizeof(uint32_t));
  if (n == 0 || n > max_restarts) return;  // malformed: leave num_restarts_ = 0
  num_restarts_ = n;
  restart_offset_ = static_cast<uint32_t>(data_.size() - (1 + size_t{n}) * sizeof(uint32_t));
  DKV_ASSERT(restart_offset_ + (1 + size_t{n}) * sizeof(uint32_t) == data_.size());
}

std::unique_ptr<Iterator> Block::NewIterator(const Comparator* comparator) const {
  return std::make_unique<BlockIter>(this, comparator);
}

BlockIter::BlockIter(const Block* block, const Comparator* comparator)
    : comparator_(comparator),
      data_(block->data_.data()),
      restart_offset_(block->restart_offset_),
      num_restarts_(block->num_restarts_),
      current_(block->restart_offset_),
      restart_index_(block->num_restarts_) {}

void BlockIter::Reset(const Block* block) {
  data_ = block->data_.data();
  restart_offset_ = block->restart_offset_;
  num_restarts_ = block->num_restarts_;
  current_ = restart_offset_;
  restart_index_ = num_restarts_;
  key_size_ = 0;
  value_ = {};
  status_ = Status::OK();
}

namespace {
// Decodes an entry header at [p, limit). nullptr if truncated or if the key
// and value would run past limit.
inline const char* DecodeEntry(const char* p, const char* limit, uint32_t* shared,
                               uint32_t* non_shared, uint32_t* value_size) {
  if (limit - p < 3) return nullptr;
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  *shared = u[0];
  *non_shared = u[1];
  *value_size = u[2];
  if ((*shared | *non_shared | *value_size) < 128) {
    p += 3;  // fast path: all three fit in one byte each
  } else {
    if ((p = GetVarint32Ptr(p, limit, shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, non_shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, value_size)) == nullptr) return nullptr;
  }
  if (static_cast<uint64_t>(limit - p) < uint64_t{*non_shared} + *value_size) return nullptr;
  return p;
}
}  // namespace

uint32_t BlockIter::RestartPoint(uint32_t index) const {
  DKV_DASSERT(index < num_restarts_);
  return DecodeFixed32(data_ + restart_offset_ + index * sizeof(uint32_t));
}

void BlockIter::GrowKey(size_t need) {
  const size_t capacity = std::max(need, 2 * key_capacity_);
  std::unique_ptr<char[]> bigger(new char[capacity]);
  std::memcpy(bigger.get(), key_, key_size_);
  heap_key_ = std::move(bigger);
  key_ = heap_key_.get();
  key_capacity_ = capacity;
}

void BlockIter::MarkCorrupted(const char* what) {
  current_ = restart_offset_;
  restart_index_ = num_restarts_;
  status_ = file_name_.empty() ? Status::Corruption("block", what)
                               : BlockCorruption(file_name_, what, block_offset_);
  key_size_ = 0;
  value_ = {};
}

void BlockIter::SeekToRestartPoint(uint32_t index) {
  key_size_ = 0;
  restart_index_ = index;
  const uint32_t offset = RestartPoint(index);
  if (offset > restart_offset_) {
    MarkCorrupted("restart point out of range");
    return;
  }
  // ParseNextEntry starts from the end of value_.
  value_ = std::string_view(data_ + offset, 0);
}

// Inlined into Next(), the hot path of every scan.
[[gnu::always_inline]] inline bool BlockIter::ParseNextEntry() {
  current_ = NextEntryOffset();
  const char* p = data_ + current_;
  const char* limit = data_ + restart_offset_;
  if (p >= limit) {
    current_ = restart_offset_;
    restart_index_ = num_restarts_;
    return false;
  }
  uint32_t shared, non_shared, value_size;
  p = DecodeEntry(p, limit, &shared, &non_shared, &value_size);
  if (p == nullptr || key_size_ < shared) {
    MarkCorrupted("bad entry in block");
    return false;
  }
  const size_t need = size_t{shared} + non_shared;
  if (need > key_capacity_) GrowKey(need);
  std::memcpy(key_ + shared, p, non_shared);
  key_size_ = need;
  value_ = std::string_view(p + non_shared, value_size);
  while (restart_index_ + 1 < num_restarts_ && RestartPoint(restart_index_ + 1) < current_) {
    restart_index_++;
  }
  return true;
}

void BlockIter::SeekToFirst() {
  if (num_restarts_ == 0) return MarkCorrupted("malformed restart array");
  SeekToRestartPoint(0);
  if (status_.ok()) ParseNextEntry();
}

void BlockIter::SeekToLast() {
  if (num_restarts_ == 0) return MarkCorrupted("malformed restart array");
  SeekToRestartPoint(num_restarts_ - 1);
  if (!status_.ok()) return;
  while (ParseNextEntry() && NextEntryOffset() < restart_offset_) {
  }
}

void BlockIter::Next() {
  DKV_ASSERT(Valid());
  ParseNextEntry();
}

void BlockIter::Prev() {
  DKV_ASSERT(Valid());
  const uint32_t original = current_;
  // Back up to the last restart point strictly before the current entry.
  while (RestartPoint(restart_index_) >= original) {
    if (restart_index_ == 0) {
      current_ = restart_offset_;
      restart_index_ = num_restarts_;
      return;
    }
    restart_index_--;
  }
  SeekToRestartPoint(restart_index_);
  if (!status_.ok()) return;
  // Walk forward to the entry just before original.
  do {
    if (!ParseNextEntry()) return;
  } while (NextEntryOffset() < original);
}

void BlockIter::Seek(std::string_view target) {
  if (num_restarts_ == 0) return MarkCorrupted("malformed restart array");
  // Find the last restart point whose key is < target, then scan forward.
  uint32_t left = 0;
  uint32_t right = num_restarts_ - 1;
  if (Valid()) {
    // Reuse the current position to narrow the search (sequential seeks).
    const int c = comparator_->Compare(key(), target);
    if (c < 0) {
      left = restart_index_;
    } else if (c > 0) {
      right = restart_index_;
    } else {
      return;
    }
  }
  const char* limit = data_ + restart_offset_;
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    const uint32_t offset = RestartPoint(mid);
    uint32_t shared, non_shared, value_size;
    const char* p = offset < restart_offset_
                        ? DecodeEntry(data_ + offset, limit, &shared, &non_shared, &value_size)
                        : nullptr;
    if (p == nullptr || shared != 0) {
      return MarkCorrupted("bad restart entry in block");
    }
    if (comparator_->Compare(std::string_view(p, non_shared), target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestartPoint(left);
  if (!status_.ok()) return;
  while (ParseNextEntry()) {
    if (comparator_->Compare(key(), target) >= 0) return;
  }
}

}  // namespace dkv::storage
