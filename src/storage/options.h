// Options that shape a DB, a read and a write. Plain structs; copy freely.
// Defaults are safe for production: writes sync, checksums are verified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace dkv::storage {

class Cache;
class Env;
class Snapshot;

// Frozen: stored in each block's trailer.
enum class CompressionType : uint8_t {
  kNone = 0x0,
  kZstd = 0x1,
  kLz4 = 0x2,
};

enum class CompactionStyle : uint8_t {
  // Levels L1..Ln each ~10x the last, non-overlapping files; low read and
  // space amplification (the default).
  kLeveled = 0,
  // Size-tiered ("universal"): merge runs of similar size; low write
  // amplification, more space and read amplification.
  kUniversal = 1,
};

struct Options {
  // File system and clock. nullptr means Env::Posix().
  Env* env = nullptr;

  bool create_if_missing = false;
  bool error_if_exists = false;
  // Check every block read by compaction and the manifest strictly; a
  // mismatch makes the DB read-only with a Corruption error.
  bool paranoid_checks = true;

  // Bytes a memtable holds before it is frozen and flushed to level 0.
  size_t write_buffer_size = 4 << 20;
  // Uncompressed bytes per data block.
  size_t block_size = 4 << 10;
  // Keys between restart points in a block (prefix compression resets there).
  int block_restart_interval = 16;
  // Bloom filter bits per key; 0 disables filters. ~10 gives ~1% false positives.
  int bloom_bits_per_key = 10;
  CompressionType compression = CompressionType::kNone;
  // Shared block cache; nullptr means a private 8 MiB LRU cache.
  std::shared_ptr<Cache> block_cache;
  // Target size of an SSTable written by compaction.
  size_t target_file_size = 2 << 20;
  // How many table files may be open (index and filter blocks in memory).
  int max_open_files = 1000;

  CompactionStyle compaction_style = CompactionStyle::kLeveled;
  // Level 0 files that start a compaction.
  int level0_compaction_trigger = 4;
  // Level 0 files at which each write is delayed a little (gradual flow control).
  int level0_slowdown_writes_trigger = 8;
  // Level 0 files at which writes wait for compaction.
  int level0_stop_writes_trigger = 12;
  // Size of level 1; each deeper level is level_size_multiplier times larger.
  uint64_t max_bytes_for_level_base = 10 << 20;
  int level_size_multiplier = 10;

  // Group commit: when the last synced groups showed several concurrent synced
  // writers, a new group's leader waits up to this long (and at most half the
  // recent fsync time) for them to queue up before it syncs, so one fsync covers
  // all of them instead of groups alternating between one writer and the rest.
  // A lone writer never waits. 0 turns the wait off (LevelDB's behaviour).
  int64_t max_group_commit_wait_micros = 200;
};

struct ReadOptions {
  bool verify_checksums = true;
  // Put blocks read for this operation into the block cache (off for scans).
  bool fill_cache = true;
  // Read as of this snapshot; nullptr means the latest state.
  const Snapshot* snapshot = nullptr;
  // Iterators only: stop before this user key (exclusive). Empty: no bound.
  // Copied by NewIterator, so it need not outlive the call.
  std::string_view iterate_upper_bound;
};

struct WriteOptions {
  // fsync the WAL before acknowledging. With sync=false a process crash loses
  // nothing but a machine crash may lose recent writes.
  bool sync = true;
  // If set, called once the write is in the WAL — and synced, when its group
  // syncs (always for sync = true) — and before reads of the DB see it
  // (an unsynced group is inserted into the memtable after the callback; a
  // synced one while its WAL bytes go to disk, but it stays invisible until
  // after the callback), i.e. once a crash can no longer lose it. Runs on the thread writing the
  // group (maybe not the caller's), with no DB lock held; it must not call into the DB. Not called
  // if the append or the sync fails. Lets a server acknowledge a durable write without waiting for
  // the memtable insert (it must keep the value readable elsewhere until Write returns).
  std::function<void()> on_logged;
};

}  // namespace dkv::storage
