// Iterator: an ordered cursor over keys and values, the one shape shared by
// memtables, blocks, tables, merging iterators and the DB's user iterator.
//
// An iterator is used by one thread at a time. key() and value() stay valid
// until the next move. Errors (a corrupt block, an I/O failure) make Valid()
// false and show in status(); a caller that stops at !Valid() must check it.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "common/status.h"

namespace dkv::storage {

class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator();

  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // Positions at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  // REQUIRES: Valid()
  virtual void Next() = 0;
  // REQUIRES: Valid()
  virtual void Prev() = 0;
  // REQUIRES: Valid()
  virtual std::string_view key() const = 0;
  // REQUIRES: Valid()
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;

  // Runs fn when the iterator is destroyed (e.g. to unpin a block or a version).
  void RegisterCleanup(std::function<void()> fn);

 private:
  struct Cleanup {
    std::function<void()> fn;
    std::unique_ptr<Cleanup> next;
  };
  std::unique_ptr<Cleanup> cleanup_;
};

// An iterator over nothing, carrying a status (OK or the error that stopped it).
std::unique_ptr<Iterator> NewEmptyIterator(Status status = Status::OK());

}  // namespace dkv::storage
