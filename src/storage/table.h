// Table: a reader for one SSTable written by TableBuilder.
//
// Open reads and checks the footer, index block and filter block; data blocks
// are read on demand through the block cache, except that when the file's
// reads are stable (RandomAccessFile::StableResults, e.g. mmapped) its
// uncompressed blocks are used in place, uncached. Every block's checksum is
// verified when read (if ReadOptions::verify_checksums), and a mismatch is a
// Corruption naming the file and offset. Immutable after Open; safe for
// concurrent readers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/env.h"
#include "storage/iterator.h"
#include "storage/options.h"
#include "storage/table_builder.h"

namespace dkv::storage {

class Table {
 public:
  // `file` must outlive the Table; `file_size` is its exact size; `file_name`
  // is used in error messages. Corruption if the footer, index or metaindex
  // is damaged; the filter is optional (a damaged filter is ignored, logged
  // in the status of reads never).
  static Result<std::unique_ptr<Table>> Open(const TableOptions& options,
                                             std::unique_ptr<RandomAccessFile> file,
                                             uint64_t file_size, std::string file_name);
  ~Table();

  // Iterator over the table's keys. Keeps the table alive only as long as the
  // caller does: the Table must outlive it.
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) const;

  // Point lookup: seeks to the first entry >= key (after consulting the filter
  // with key) and, if there is one in that block, calls found(k, v) with it.
  // Returns OK if nothing matched (found not called).
  Status InternalGet(const ReadOptions& options, std::string_view key,
                     const std::function<void(std::string_view, std::string_view)>& found) const;
  // The same without std::function (whose construction may allocate when the
  // caller's lambda captures more than two pointers), for hot paths: calls
  // found(arg, k, v). Allocation-free when the block is in the cache.
  using FoundFunction = void (*)(void* arg, std::string_view key, std::string_view value);
  Status InternalGet(const ReadOptions& options, std::string_view key, void* arg,
                     FoundFunction found) const;

  // Approximate offset in the file of the data for key (for size estimates).
  uint64_t ApproximateOffsetOf(std::string_view key) const;

 private:
  struct Rep;
  explicit Table(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace dkv::storage
