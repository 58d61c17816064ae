// Serialized form (frozen, see write_batch.h):
//   fixed64 sequence | fixed32 count | records...
//   record := kValue(1) varstring(key) varstring(value) | kDeletion(0) varstring(key)
#include "storage/write_batch.h"

#include <string>

#include "common/coding.h"

namespace dkv::storage {

namespace {

constexpr size_t kSequenceOffset = 0;
constexpr size_t kCountOffset = 8;
static_assert(WriteBatch::kHeaderSize == kCountOffset + 4);

// Walks the records after the header, calling handler (if not null) for each.
// Corruption on an unknown tag, a truncated or overlong length, or a count that
// does not match the header. Never reads outside rep.
Status ParseRecords(std::string_view rep, WriteBatch::Handler* handler) {
  DKV_ASSERT(rep.size() >= WriteBatch::kHeaderSize);
  const uint32_t expected = DecodeFixed32(rep.data() + kCountOffset);
  std::string_view input = rep.substr(WriteBatch::kHeaderSize);
  uint32_t found = 0;
  std::string_view key;
  std::string_view value;
  while (!input.empty()) {
    // Bound the walk by the header: a count overflow would be a lie anyway.
    if (found == UINT32_MAX) return Status::Corruption("write batch", "too many records");
    const auto tag = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    switch (tag) {
      case static_cast<uint8_t>(ValueType::kValue):
        if (!GetLengthPrefixed(&input, &key) || !GetLengthPrefixed(&input, &value)) {
          return Status::Corruption("write batch", "bad put record #" + std::to_string(found));
        }
        if (handler != nullptr) handler->Put(key, value);
        break;
      case static_cast<uint8_t>(ValueType::kDeletion):
        if (!GetLengthPrefixed(&input, &key)) {
          return Status::Corruption("write batch", "bad delete record #" + std::to_string(found));
        }
        if (handler != nullptr) handler->Delete(key);
        break;
      default:
        return Status::Corruption("write batch", "unknown record tag " + std::to_string(tag) +
                                                     " in record #" + std::to_string(found));
    }
    found++;
  }
  if (found != expected) {
    return Status::Corruption("write batch", "header count " + std::to_string(expected) + " but " +
                                                 std::to_string(found) + " records");
  }
  return Status::OK();
}

}  // namespace

WriteBatch::WriteBatch() { Clear(); }

void WriteBatch::Clear() {
  rep_.clear();
  rep_.resize(kHeaderSize);
}

uint32_t WriteBatch::Count() const { return DecodeFixed32(rep_.data() + kCountOffset); }

void WriteBatch::SetCount(uint32_t count) { EncodeFixed32(rep_.data() + kCountOffset, count); }

SequenceNumber WriteBatch::Sequence() const { return DecodeFixed64(rep_.data() + kSequenceOffset); }

void WriteBatch::SetSequence(SequenceNumber seq) {
  EncodeFixed64(rep_.data() + kSequenceOffset, seq);
}

void WriteBatch::Put(std::string_view key, std::string_view value) {
  // Lengths are varint32 on disk.
  DKV_ASSERT(key.size() <= UINT32_MAX);
  DKV_ASSERT(value.size() <= UINT32_MAX);
  SetCount(Count() + 1);
  rep_.push_back(static_cast<char>(ValueType::kValue));
  PutLengthPrefixed(&rep_, key);
  PutLengthPrefixed(&rep_, value);
}

void WriteBatch::Delete(std::string_view key) {
  DKV_ASSERT(key.size() <= UINT32_MAX);
  SetCount(Count() + 1);
  rep_.push_back(static_cast<char>(ValueType::kDeletion));
  PutLengthPrefixed(&rep_, key);
}

void WriteBatch::Append(const WriteBatch& other) {
  DKV_ASSERT(other.rep_.size() >= kHeaderSize);
  SetCount(Count() + other.Count());
  rep_.append(other.rep_, kHeaderSize, std::string::npos);
}

Status WriteBatch::Iterate(Handler* handler) const {
  DKV_ASSERT(handler != nullptr);
  return ParseRecords(rep_, handler);
}

Status WriteBatch::SetContents(std::string_view contents) {
  if (contents.size() < kHeaderSize) {
    return Status::InvalidArgument(
        "write batch", "shorter than the " + std::to_string(kHeaderSize) +
                           "-byte header: " + std::to_string(contents.size()) + " bytes");
  }
  // Validate every record before taking the bytes, so a batch replayed from a
  // WAL is applied whole or not at all, and this batch is unchanged on error.
  DKV_RETURN_IF_ERROR(ParseRecords(contents, nullptr));
  rep_.assign(contents.data(), contents.size());
  return Status::OK();
}

}  // namespace dkv::storage
