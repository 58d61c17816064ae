// TableCache: the open Table readers of one DB, bounded by max_open_files and
// evicted least-recently-used first.
//
// A Table holds its file descriptor plus its index and filter blocks, so
// opening one costs a few reads; the cache keeps the hot ones open. Entries
// are shared_ptrs: an evicted table stays alive until the last reader (an
// iterator or a Get in flight) lets go. Owned by the DBImpl; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/env.h"
#include "storage/iterator.h"
#include "storage/options.h"
#include "storage/table.h"

namespace dkv::storage {

class TableCache {
 public:
  // table_options.comparator must be the internal key comparator. capacity:
  // tables kept open (>= 1).
  TableCache(std::string dbname, Env* env, TableOptions table_options, int capacity);

  // The reader for file `number` of `file_size` bytes, opening it if needed.
  // Corruption/IOError naming the file if it cannot be opened.
  Result<std::shared_ptr<Table>> FindTable(uint64_t number, uint64_t file_size);

  // An iterator over the table's internal keys that keeps the table open while
  // it lives. On error an empty iterator carrying the status.
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options, uint64_t number,
                                        uint64_t file_size);

  // Table::InternalGet on file `number`.
  Status Get(const ReadOptions& options, uint64_t number, uint64_t file_size,
             std::string_view internal_key,
             const std::function<void(std::string_view, std::string_view)>& found);

  const TableOptions& table_options() const { return table_options_; }

  // Forgets file `number` (it was deleted).
  void Evict(uint64_t number);

 private:
  struct Entry {
    std::shared_ptr<Table> table;
    std::list<uint64_t>::iterator lru_pos;
  };

  const std::string dbname_;
  Env* const env_;
  const TableOptions table_options_;
  const size_t capacity_;
  Mutex mu_;
  std::unordered_map<uint64_t, Entry> map_ GUARDED_BY(mu_);
  std::list<uint64_t> lru_ GUARDED_BY(mu_);  // front = most recently used
};

}  // namespace dkv::storage
