// Comparator: the total order of keys in blocks, tables and memtables.
//
// User keys are always ordered bytewise (memcmp, shorter first on a tie); the
// engine orders internal keys (user key, then sequence descending) with
// InternalKeyComparator in dbformat.h. Implementations are stateless and
// thread-safe. Name() is persisted in the manifest and checked on open.
#pragma once

#include <string>
#include <string_view>

namespace dkv::storage {

class Comparator {
 public:
  virtual ~Comparator() = default;
  // <0, 0, >0 as a is before, equal to, after b.
  virtual int Compare(std::string_view a, std::string_view b) const = 0;
  virtual const char* Name() const = 0;
  // Shortens *start to a key k with *start <= k < limit (index block keys).
  virtual void FindShortestSeparator(std::string* start, std::string_view limit) const = 0;
  // Shortens *key to a key k >= *key.
  virtual void FindShortSuccessor(std::string* key) const = 0;
};

// memcmp order. Never deleted.
const Comparator* BytewiseComparator();

}  // namespace dkv::storage
