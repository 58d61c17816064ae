// WriteBatch: a set of puts and deletes applied atomically, in order.
//
// Its serialized form is exactly what the WAL stores for one write:
//
//   fixed64 sequence | fixed32 count | records...
//   record := kValue varstring(key) varstring(value) | kDeletion varstring(key)
//
// (see docs/storage.md; frozen). A batch is a value: not thread-safe, copyable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/dbformat.h"

namespace dkv::storage {

class WriteBatch {
 public:
  WriteBatch();

  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  void Clear();
  // Appends every operation of other after this batch's.
  void Append(const WriteBatch& other);

  uint32_t Count() const;
  // Size of the serialized form (what the WAL writes).
  size_t ApproximateSize() const { return rep_.size(); }

  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(std::string_view key, std::string_view value) = 0;
    virtual void Delete(std::string_view key) = 0;
  };
  // Calls the handler for each record in order. Corruption if the bytes are
  // malformed or the count does not match.
  Status Iterate(Handler* handler) const;

  // Serialized form, for the WAL and for replication.
  std::string_view Contents() const { return rep_; }
  // Replaces this batch with bytes read back from a WAL. InvalidArgument if
  // shorter than the 12-byte header; records are checked by Iterate().
  Status SetContents(std::string_view contents);

  SequenceNumber Sequence() const;
  void SetSequence(SequenceNumber seq);
  void SetCount(uint32_t count);

  static constexpr size_t kHeaderSize = 12;

 private:
  std::string rep_;
};

}  // namespace dkv::storage
