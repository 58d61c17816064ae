// Block: a read-only view of one SSTable block built by BlockBuilder, and
// BlockIter, its iterator (forward, backward, Seek by binary search over the
// restart array). Keys are decoded in place into one reused buffer; values
// point into the block. Malformed contents never cause an out-of-bounds read:
// the iterator becomes !Valid() with a Corruption status.
//
// A Block is immutable and may be read by many threads at once; each BlockIter
// is used by one thread and must not outlive its Block. Owned by the table
// engineer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "storage/comparator.h"
#include "storage/iterator.h"
#include "storage/table_format.h"

namespace dkv::storage {

class Block {
 public:
  // Takes ownership of the contents' buffer (if any).
  explicit Block(BlockContents contents);
  // Borrows data, which must outlive the Block (tests, fuzzing).
  explicit Block(std::string_view data);
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  size_t size() const { return data_.size(); }
  // False if the restart array is malformed; every iterator then reports
  // Corruption.
  bool well_formed() const { return restart_offset_ != 0 || num_restarts_ != 0; }

  std::unique_ptr<Iterator> NewIterator(const Comparator* comparator) const;

 private:
  friend class BlockIter;
  void Init();

  std::unique_ptr<char[]> heap_;
  std::string_view data_;
  uint32_t restart_offset_ = 0;  // start of the restart array
  uint32_t num_restarts_ = 0;    // 0 means malformed
};

// Concrete so hot paths (Table::InternalGet) can keep one on the stack.
class BlockIter final : public Iterator {
 public:
  // REQUIRES: block and comparator outlive the iterator.
  BlockIter(const Block* block, const Comparator* comparator);

  // Re-targets the iterator at another block (keeping its key buffer), in
  // the state of a freshly made one: not Valid(), status OK. The error
  // context is kept. REQUIRES: block outlives the iterator's use of it.
  void Reset(const Block* block);

  bool Valid() const override { return current_ < restart_offset_; }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override {
    DKV_DASSERT(Valid());
    return std::string_view(key_, key_size_);
  }
  std::string_view value() const override {
    DKV_DASSERT(Valid());
    return value_;
  }
  Status status() const override { return status_; }

  // Names the file and block offset in Corruption statuses (instead of
  // "block"). file_name must outlive the iterator.
  void SetErrorContext(std::string_view file_name, uint64_t block_offset) {
    file_name_ = file_name;
    block_offset_ = block_offset;
  }

 private:
  uint32_t RestartPoint(uint32_t index) const;
  void SeekToRestartPoint(uint32_t index);
  // Decodes the entry at next_offset_ into key_/value_. False at the end of
  // the entries or on corruption (then the iterator is invalid).
  bool ParseNextEntry();
  void MarkCorrupted(const char* what);
  uint32_t NextEntryOffset() const {
    return static_cast<uint32_t>(value_.data() + value_.size() - data_);
  }

  const Comparator* const comparator_;
  const char* data_;
  uint32_t restart_offset_;
  uint32_t num_restarts_;

  // current_ == restart_offset_ means !Valid().
  uint32_t current_;
  uint32_t restart_index_;  // restart block holding current_
  // Makes room for a key of `need` bytes, keeping the first key_size_.
  void GrowKey(size_t need);

  // The current key is key_[0, key_size_). It lives in inline_key_ until a
  // key outgrows it, then in heap_key_, which only grows: decoding an entry
  // is one memcpy, and point lookups on ordinary keys never allocate.
  static constexpr size_t kInlineKeyBytes = 64;
  char* key_ = inline_key_;
  size_t key_size_ = 0;
  size_t key_capacity_ = kInlineKeyBytes;
  std::unique_ptr<char[]> heap_key_;
  char inline_key_[kInlineKeyBytes];
  std::string_view value_;
  Status status_;
  std::string_view file_name_;
  uint64_t block_offset_ = 0;
};

}  // namespace dkv::storage
