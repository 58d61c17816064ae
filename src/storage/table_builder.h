// TableBuilder: writes one immutable sorted table (SSTable) to a file.
//
// Keys must be added in strictly increasing order of options.comparator. The
// layout (data blocks, filter block, metaindex, index, footer) is described
// in docs/formats/sstable.md and table_format.h. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "storage/comparator.h"
#include "storage/env.h"
#include "storage/filter_policy.h"
#include "storage/options.h"

namespace dkv::storage {

// What the table layer needs to know (a subset of Options plus the key order).
struct TableOptions {
  const Comparator* comparator = BytewiseComparator();
  // nullptr: no filter block. Not owned; must outlive builders and readers.
  const FilterPolicy* filter_policy = nullptr;
  size_t block_size = 4 << 10;
  int block_restart_interval = 16;
  CompressionType compression = CompressionType::kNone;
  // Readers only: shared block cache (nullptr: no caching).
  std::shared_ptr<Cache> block_cache;
  bool paranoid_checks = true;
};

class TableBuilder {
 public:
  // file is not owned and must stay open until Finish/Abandon.
  TableBuilder(const TableOptions& options, WritableFile* file);
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;
  // REQUIRES: Finish() or Abandon() was called.
  ~TableBuilder();

  // REQUIRES: key > every key added before; not finished.
  void Add(std::string_view key, std::string_view value);
  // Writes out the current data block (e.g. at a boundary the caller wants).
  void Flush();
  // First error seen, if any; once not OK, later calls do nothing.
  Status status() const;
  // Writes filter, index, footer. Does not Sync or Close the file.
  Status Finish();
  void Abandon();

  uint64_t NumEntries() const;
  // File size so far (after Finish: the final size).
  uint64_t FileSize() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace dkv::storage
