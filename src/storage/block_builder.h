// BlockBuilder: builds one SSTable block (data, index or metaindex) with
// prefix-compressed keys. Every `restart_interval` keys the full key is stored
// and its offset recorded in the restart array, which readers binary-search.
// Layout (docs/formats/sstable.md):
//   entry*  | fixed32 restart[num_restarts] | fixed32 num_restarts
//   entry = varint32 shared | varint32 non_shared | varint32 value_size |
//           key bytes[non_shared] | value bytes
// Owned by the TableBuilder that uses it. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/comparator.h"

namespace dkv::storage {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1. comparator (not owned) is used only to
  // assert the key order.
  BlockBuilder(int restart_interval, const Comparator* comparator);
  BlockBuilder(const BlockBuilder&) = delete;
  BlockBuilder& operator=(const BlockBuilder&) = delete;

  // Starts a new, empty block (after Finish).
  void Reset();
  // REQUIRES: not finished; key > every key added since Reset.
  void Add(std::string_view key, std::string_view value);
  // Appends the restart array; the returned view is valid until Reset.
  std::string_view Finish();
  // Size of the block if Finish were called now.
  size_t CurrentSizeEstimate() const;
  bool empty() const { return buffer_.empty(); }

 private:
  const int restart_interval_;
  const Comparator* const comparator_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;  // entries since the last restart
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace dkv::storage
