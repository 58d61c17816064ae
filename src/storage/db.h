// DB: DistKV's storage engine, an ordered byte-string key-value store.
//
// An LSM tree: writes go to a write-ahead log and a memtable; full memtables
// are flushed to sorted tables (SSTables) on disk, which background compaction
// merges level by level. It knows nothing of Raft, MVCC or regions: the shard
// layer above builds those on put, delete, atomic batches, snapshots,
// iterators and checkpoints.
//
// A DB is safe to use from many threads at once without extra locking.
// Errors are Status values: Corruption names the file and offset; a full disk
// fails writes with NoSpace while reads keep working.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/iterator.h"
#include "storage/options.h"
#include "storage/write_batch.h"

namespace dkv::storage {

// A consistent read view; obtained from DB::GetSnapshot, released with
// DB::ReleaseSnapshot. Opaque.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
  virtual uint64_t sequence() const = 0;
};

class DB {
 public:
  // Opens (or, with create_if_missing, creates) the DB in directory `path`,
  // recovering the WAL. Errors say why: Busy if locked by another process,
  // Corruption naming the damaged file, InvalidArgument for a missing DB
  // without create_if_missing.
  static Result<std::unique_ptr<DB>> Open(const Options& options, const std::string& path);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Closes the DB: waits for background work, syncs, releases the lock.
  virtual ~DB() = default;

  virtual Status Put(const WriteOptions& options, std::string_view key,
                     std::string_view value) = 0;
  virtual Status Delete(const WriteOptions& options, std::string_view key) = 0;
  // Applies the batch atomically: after a crash all or none of it is there.
  virtual Status Write(const WriteOptions& options, const WriteBatch& batch) = 0;

  // NotFound if the key has no value at the read point.
  virtual Status Get(const ReadOptions& options, std::string_view key, std::string* value) = 0;

  // An iterator over user keys and values at the read point. Must be
  // destroyed before the DB.
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) = 0;

  virtual const Snapshot* GetSnapshot() = 0;
  virtual void ReleaseSnapshot(const Snapshot* snapshot) = 0;

  // Writes a consistent, openable copy of the DB to directory `dir` (which
  // must not exist), using hard links for SSTables where the file system
  // allows and a fresh manifest. Used for Raft snapshots and backups.
  virtual Status CreateCheckpoint(const std::string& dir) = 0;

  // Flushes the memtable and compacts the key range [begin, end] (nullptr for
  // unbounded) down to the bottom level. Blocks until done.
  virtual Status CompactRange(const std::string_view* begin, const std::string_view* end) = 0;
  // Flushes the memtable to a table and waits for it.
  virtual Status Flush() = 0;
  // Makes every write so far durable (for writes made with sync=false).
  virtual Status SyncWal() = 0;

  // Named properties, for operators and tests:
  //   "dkv.num-files-at-level<N>", "dkv.stats" (text), "dkv.sstables" (text),
  //   "dkv.approximate-memory-usage", "dkv.background-error".
  virtual bool GetProperty(std::string_view name, std::string* value) = 0;
};

// Deletes the DB's files in `path` (and the directory if then empty).
Status DestroyDB(const std::string& path, const Options& options);

}  // namespace dkv::storage
