// RaftLogStore: the node's "raft engine" — the Raft logs, hard states and
// snapshot metadata of MANY groups (one per shard replica) in ONE storage::DB.
//
// Each group is a GroupLog, which implements raft::LogStorage for its RawNode
// and keeps the group's terms and a bounded tail of entries in memory so Term()
// and most Entries() calls never touch the engine. Writes (Append, SetHardState,
// ApplySnapshot, Compact, PutReplicaInfo) are staged into one pending
// WriteBatch and take effect in memory at once; Commit() writes the batch as
// ONE Write (synced when asked), so one fsync covers every group's Ready of a
// round (group commit across groups). The write can also leave the owner's
// thread: TakeStaged() hands the batch out as a LogWrite and Write() runs it on
// any thread (a node's sync thread), while the owner keeps reading the groups'
// logs from memory and the engine. Key layout (frozen, docs/node.md):
//
//   0x01 | shard BE64 | index BE64  -> entry:      type(1) | varint term | data
//   0x02 | shard BE64               -> hard state: varint term | vote | commit
//   0x03 | shard BE64               -> snapshot metadata (index, term, conf state)
//   0x04 | shard BE64               -> replica info (opaque bytes of the Node)
//
// Owned by the Node; not thread-safe (one thread, like the RawNodes reading it),
// except Write() and the counters, which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/log_storage.h"
#include "raft/types.h"
#include "storage/db.h"
#include "storage/env.h"
#include "storage/write_batch.h"

namespace dkv::node {

using ShardId = uint64_t;

// Frozen key prefixes of the raft engine.
inline constexpr char kLogEntryPrefix = 0x01;
inline constexpr char kHardStatePrefix = 0x02;
inline constexpr char kSnapshotMetaPrefix = 0x03;
inline constexpr char kReplicaInfoPrefix = 0x04;

// Key and value encodings, public for tests and tools.
std::string LogEntryKey(ShardId shard, uint64_t index);
std::string GroupKey(char prefix, ShardId shard);
std::string EncodeLogEntry(const raft::Entry& e);
// Corruption on malformed bytes. Sets term, type and data (index is the caller's).
Status DecodeLogEntry(std::string_view value, raft::Entry* e);
std::string EncodeHardState(const raft::HardState& hs);
Result<raft::HardState> DecodeHardState(std::string_view value);
std::string EncodeSnapshotMetadata(const raft::SnapshotMetadata& m);
Result<raft::SnapshotMetadata> DecodeSnapshotMetadata(std::string_view value);

class RaftLogStore;

// One group's log as its RawNode reads it. Created and mutated only through
// the RaftLogStore that owns it.
class GroupLog final : public raft::LogStorage {
 public:
  // Produces a snapshot of the state machine (data + the metadata it stands
  // at) when raft wants to send one to a lagging follower.
  using SnapshotProvider = std::function<Result<raft::Snapshot>()>;

  raft::InitialState GetInitialState() const override;
  Result<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                           uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override { return snap_.index + 1; }
  uint64_t LastIndex() const override { return snap_.index + terms_.size(); }
  // The provider's snapshot when one is set, else the stored metadata with no
  // data (all RawNode::Create needs on restart).
  Result<raft::Snapshot> GetSnapshot() const override;

  // Set by the Node after RawNode::Create (raft reads the stored metadata on
  // init; the provider may stand at a later index).
  void SetSnapshotProvider(SnapshotProvider p) { provider_ = std::move(p); }

  ShardId shard() const { return shard_; }
  const raft::HardState& hard_state() const { return hard_state_; }
  const raft::SnapshotMetadata& snapshot_metadata() const { return snap_; }

 private:
  friend class RaftLogStore;
  GroupLog(RaftLogStore* store, ShardId shard) : store_(store), shard_(shard) {}

  // Drops cached entries from the front until the cache fits its byte budget,
  // never one at or above `keep_from` (entries staged by this round, which the
  // engine may not hold yet while their write runs on another thread).
  void TrimCache(uint64_t keep_from);

  RaftLogStore* store_;
  ShardId shard_;
  raft::HardState hard_state_;
  raft::SnapshotMetadata snap_;    // index = FirstIndex() - 1
  std::deque<uint64_t> terms_;     // terms_[k] = term of entry snap_.index + 1 + k
  std::deque<raft::Entry> cache_;  // a contiguous tail of the log, ending at LastIndex()
  uint64_t cache_bytes_ = 0;
  SnapshotProvider provider_;
};

class RaftLogStore {
 public:
  // Opens (creating if missing) the raft engine in `dir` on `env` and recovers
  // every group found there. Corruption when a stored record does not decode or
  // a group's log has a hole.
  static Result<std::unique_ptr<RaftLogStore>> Open(storage::Env* env, const std::string& dir);
  ~RaftLogStore();
  RaftLogStore(const RaftLogStore&) = delete;
  RaftLogStore& operator=(const RaftLogStore&) = delete;

  // Shards with any stored record, ascending.
  std::vector<ShardId> Groups() const;
  // The group's log, or nullptr. The pointer is stable until DropGroup.
  GroupLog* Find(ShardId shard);
  // The group's log, created empty if absent (nothing is written until a
  // staged write mentions it).
  GroupLog* GetOrCreate(ShardId shard);

  // --- Staged writes: visible in memory now, durable after Commit ---------

  // Appends entries, first dropping the group's entries at or after
  // entries[0].index (a conflicting suffix). Entries at or below the snapshot
  // index are skipped. InvalidArgument when entries leave a hole or are not
  // contiguous.
  Status Append(ShardId shard, const std::vector<raft::Entry>& entries);
  void SetHardState(ShardId shard, const raft::HardState& hs);
  // Replaces the group's whole log by a snapshot's metadata (a follower that
  // installed a snapshot). InvalidArgument when older than the current one.
  Status ApplySnapshot(ShardId shard, const raft::SnapshotMetadata& meta);
  // Deletes entries up to and including `index` (kept: its term, as the new
  // FirstIndex() - 1, and `conf`, the membership as of `index`). REQUIRES the
  // caller to have made the state machine durable through `index`.
  // InvalidArgument when index is beyond LastIndex(); OK and no-op at or below
  // the current snapshot index.
  Status Compact(ShardId shard, uint64_t index, const raft::ConfState& conf);
  // Opaque per-group bytes the Node keeps with the log (how to recreate the replica).
  void PutReplicaInfo(ShardId shard, std::string_view info);
  // The replica info stored for shard, or NotFound.
  Result<std::string> GetReplicaInfo(ShardId shard);
  // Deletes every record of the group and forgets it.
  void DropGroup(ShardId shard);

  // Writes everything staged since the last Commit as one atomic Write, with
  // fsync when `sync`. A failure leaves memory ahead of the disk: the caller
  // must stop using this store (and restart from disk).
  Status Commit(bool sync) { return Write(TakeStaged(sync)); }
  bool HasStaged() const { return staged_.Count() > 0; }

  // Commit in two halves, so the write can run on another thread: the staged
  // batch (emptied here) and whether it must be synced.
  struct LogWrite {
    storage::WriteBatch batch;
    bool sync = false;
  };
  LogWrite TakeStaged(bool sync);
  // Writes `w` (Commit's semantics; an empty batch with sync syncs the WAL, for
  // an earlier unsynced write). Thread-safe: may run on any thread while the
  // owner keeps using the store, as long as writes are run in the order they
  // were taken and the owner stages nothing that must follow this write on
  // disk before it returned (the Node runs one at a time).
  Status Write(LogWrite w);

  // Counters for tests and metrics (any thread).
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t synced_commits() const { return synced_commits_.load(std::memory_order_relaxed); }

  storage::DB* db() { return db_.get(); }

 private:
  friend class GroupLog;
  RaftLogStore() = default;
  Status Recover();

  std::unique_ptr<storage::DB> db_;
  std::map<ShardId, std::unique_ptr<GroupLog>> groups_;
  storage::WriteBatch staged_;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> synced_commits_{0};
};

}  // namespace dkv::node
