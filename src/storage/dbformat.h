// Internal keys: how the engine versions user keys with sequence numbers.
//
// Every entry in a memtable or SSTable is keyed by an internal key:
//
//   user_key bytes | fixed64 little-endian ((sequence << 8) | value_type)
//
// ordered by user key ascending, then sequence descending (newest first), so a
// lookup for (key, snapshot sequence) seeks to the first entry at or below the
// snapshot. The 8-byte trailer format and the ValueType values are on disk:
// frozen. See docs/storage.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/coding.h"
#include "storage/comparator.h"

namespace dkv::storage {

using SequenceNumber = uint64_t;

// Sequence numbers use the top 56 bits of the trailer.
constexpr SequenceNumber kMaxSequenceNumber = (uint64_t{1} << 56) - 1;

// Frozen: stored in every internal key and in WAL batches.
enum class ValueType : uint8_t {
  kDeletion = 0x0,
  kValue = 0x1,
};
// The type to seek with: sorts before every real entry of the same sequence,
// since higher (seq, type) trailers sort first.
constexpr ValueType kValueTypeForSeek = ValueType::kValue;

constexpr size_t kInternalKeyTrailerSize = 8;

inline uint64_t PackSequenceAndType(SequenceNumber seq, ValueType t) {
  DKV_DASSERT(seq <= kMaxSequenceNumber);
  return (seq << 8) | static_cast<uint8_t>(t);
}

struct ParsedInternalKey {
  std::string_view user_key;
  SequenceNumber sequence = 0;
  ValueType type = ValueType::kValue;
};

inline void AppendInternalKey(std::string* out, std::string_view user_key, SequenceNumber seq,
                              ValueType t) {
  out->append(user_key.data(), user_key.size());
  PutFixed64(out, PackSequenceAndType(seq, t));
}

// Returns false if ikey is too short or has an unknown type (corruption).
inline bool ParseInternalKey(std::string_view ikey, ParsedInternalKey* out) {
  if (ikey.size() < kInternalKeyTrailerSize) return false;
  uint64_t num = DecodeFixed64(ikey.data() + ikey.size() - kInternalKeyTrailerSize);
  uint8_t t = static_cast<uint8_t>(num & 0xff);
  if (t > static_cast<uint8_t>(ValueType::kValue)) return false;
  out->user_key = ikey.substr(0, ikey.size() - kInternalKeyTrailerSize);
  out->sequence = num >> 8;
  out->type = static_cast<ValueType>(t);
  return true;
}

// REQUIRES: ikey.size() >= 8
inline std::string_view ExtractUserKey(std::string_view ikey) {
  DKV_DASSERT(ikey.size() >= kInternalKeyTrailerSize);
  return ikey.substr(0, ikey.size() - kInternalKeyTrailerSize);
}

// Orders internal keys: user key by the user comparator, then trailer descending.
class InternalKeyComparator final : public Comparator {
 public:
  explicit InternalKeyComparator(const Comparator* user) : user_(user) {}
  int Compare(std::string_view a, std::string_view b) const override;
  const char* Name() const override { return "dkv.InternalKeyComparator"; }
  void FindShortestSeparator(std::string* start, std::string_view limit) const override;
  void FindShortSuccessor(std::string* key) const override;
  const Comparator* user_comparator() const { return user_; }

 private:
  const Comparator* user_;
};

// A key to look up (user_key at snapshot `sequence`) in the formats the
// memtable (length-prefixed internal key) and tables (internal key) need.
class LookupKey {
 public:
  LookupKey(std::string_view user_key, SequenceNumber sequence);
  // varint32(internal key length) | internal key: the memtable's entry prefix.
  std::string_view memtable_key() const { return buf_; }
  std::string_view internal_key() const { return std::string_view(buf_).substr(kstart_); }
  std::string_view user_key() const {
    return std::string_view(buf_).substr(kstart_, buf_.size() - kstart_ - kInternalKeyTrailerSize);
  }

 private:
  std::string buf_;
  size_t kstart_ = 0;
};

}  // namespace dkv::storage
