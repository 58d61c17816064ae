// MemTable: the sorted in-memory buffer that receives every write before it is
// flushed to an SSTable.
//
// Entries live in an Arena, indexed by a SkipList, each encoded as
//   varint32(internal key length) | internal key | varint32(value length) | value
// where internal key = user key | fixed64((sequence << 8) | type) (dbformat.h).
// A MemTable is reference counted (Ref/Unref; it deletes itself at zero) and is
// shared by the DB, its readers and its flush. Thread-safety: Add needs external
// synchronisation (one writer at a time, the DB's write leader); Get,
// NewIterator and ApproximateMemoryUsage may run concurrently with Add and with
// each other without locks. Ref/Unref need the caller's synchronisation (the DB
// mutex), like LevelDB's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/arena.h"
#include "storage/dbformat.h"
#include "storage/iterator.h"
#include "storage/skiplist.h"

namespace dkv::storage {

class MemTable {
 public:
  // cmp is copied; its user comparator must outlive the memtable.
  explicit MemTable(const InternalKeyComparator& cmp);
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  void Ref() { ++refs_; }
  // Deletes the memtable when the last reference goes.
  void Unref() {
    DKV_ASSERT(refs_ > 0);
    --refs_;
    if (refs_ == 0) delete this;
  }

  // Bytes held by the arena. Thread-safe.
  size_t ApproximateMemoryUsage() const { return arena_.MemoryUsage(); }

  // Iterator over internal keys (user key + 8-byte trailer) and their values.
  // key() and value() point into the arena. The memtable must stay referenced
  // while the iterator lives.
  std::unique_ptr<Iterator> NewIterator();

  // Adds an entry mapping (user_key, seq, type) to value (empty for a deletion).
  // REQUIRES: external synchronisation against other Add calls; (user_key, seq)
  // not already present; seq <= kMaxSequenceNumber.
  void Add(SequenceNumber seq, ValueType type, std::string_view user_key, std::string_view value);

  // Newest entry for key.user_key() with sequence <= the lookup's sequence:
  //   a value: returns true, *s = OK, *value set;
  //   a deletion: returns true, *s = NotFound;
  //   nothing: returns false (s and value untouched).
  bool Get(const LookupKey& key, std::string* value, Status* s);

 private:
  // Orders arena entries (pointers to a varint32-prefixed internal key). User
  // keys are compared with memcmp when the user comparator is bytewise (the
  // one order the engine supports, comparator.h), then the 8-byte trailer as an
  // integer, so the hot path never makes a virtual call.
  struct KeyComparator {
    const InternalKeyComparator* comparator;
    bool bytewise;
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, KeyComparator>;
  friend class MemTableIterator;

  ~MemTable();  // only Unref deletes

  InternalKeyComparator comparator_;
  int refs_ = 0;
  Arena arena_;
  Table table_;
};

}  // namespace dkv::storage
