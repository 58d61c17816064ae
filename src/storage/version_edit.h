// VersionEdit: one record of the MANIFEST, the change from one Version (set of
// live table files per level) to the next.
//
// Encoding (frozen; see docs/storage.md "Manifest"): a sequence of fields,
// each `varint32 tag | payload`, in any order, each optional:
//   1 comparator   varstring(name)
//   2 log number   varint64   (WALs with a smaller number are obsolete)
//   3 next file    varint64   (the next unused file number)
//   4 last seq     varint64   (last sequence number written to a table)
//   5 compact ptr  varint32 level | varstring(internal key)
//   6 deleted file varint32 level | varint64 number
//   7 new file     varint32 level | varint64 number | varint64 size |
//                  varstring(smallest internal key) | varstring(largest)
// DecodeFrom rejects anything malformed with Corruption and never reads past
// its input. Owned by the DB engineer. A value type; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/dbformat.h"

namespace dkv::storage {

// Number of levels in the LSM tree. Seven levels at 10x each give ~10 TiB
// with a 10 MiB level 1, far beyond one shard's needs.
constexpr int kNumLevels = 7;

// One table file as the version set sees it. Shared between Versions via
// refs (guarded by the DB mutex).
struct FileMetaData {
  int refs = 0;
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;  // internal key
  std::string largest;   // internal key
};

class VersionEdit {
 public:
  void Clear() { *this = VersionEdit(); }

  void SetComparatorName(std::string_view name) { comparator_ = std::string(name); }
  void SetLogNumber(uint64_t num) { log_number_ = num; }
  void SetNextFile(uint64_t num) { next_file_number_ = num; }
  void SetLastSequence(SequenceNumber seq) { last_sequence_ = seq; }
  void SetCompactPointer(int level, std::string_view internal_key) {
    compact_pointers_.emplace_back(level, std::string(internal_key));
  }
  // REQUIRES: 0 <= level < kNumLevels; smallest <= largest.
  void AddFile(int level, uint64_t number, uint64_t file_size, std::string_view smallest,
               std::string_view largest);
  void RemoveFile(int level, uint64_t number) { deleted_files_.insert({level, number}); }

  void EncodeTo(std::string* dst) const;
  // Replaces *this with the decoded record. Corruption("manifest record", what)
  // for malformed input; *this is then unspecified.
  Status DecodeFrom(std::string_view src);

  std::string DebugString() const;

  const std::optional<std::string>& comparator() const { return comparator_; }
  const std::optional<uint64_t>& log_number() const { return log_number_; }
  const std::optional<uint64_t>& next_file_number() const { return next_file_number_; }
  const std::optional<SequenceNumber>& last_sequence() const { return last_sequence_; }
  const std::vector<std::pair<int, std::string>>& compact_pointers() const {
    return compact_pointers_;
  }
  const std::set<std::pair<int, uint64_t>>& deleted_files() const { return deleted_files_; }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const { return new_files_; }

 private:
  std::optional<std::string> comparator_;
  std::optional<uint64_t> log_number_;
  std::optional<uint64_t> next_file_number_;
  std::optional<SequenceNumber> last_sequence_;
  std::vector<std::pair<int, std::string>> compact_pointers_;
  std::set<std::pair<int, uint64_t>> deleted_files_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
};

}  // namespace dkv::storage
