// LogStorage: the durable part of the Raft log, as the core sees it.
//
// The core only reads through this interface; the runtime writes to its own
// implementation when it handles a Ready (append entries, save hard state, apply a
// snapshot) and when the application compacts the log. MemoryLogStorage keeps
// everything in memory for tests and the simulator (which models crashes itself).
// Not thread-safe: the core and the runtime must use it from one thread at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace dkv::raft {

struct InitialState {
  HardState hard_state;
  // Membership as of the snapshot index (or the bootstrap one). Conf changes in
  // log entries after the snapshot are re-applied by the core as they are applied.
  ConfState conf_state;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // The hard state and membership saved so far (both empty for a new node).
  virtual InitialState GetInitialState() const = 0;

  // Entries [lo, hi), truncated to about max_bytes (always at least one entry
  // when lo < hi). REQUIRES: FirstIndex() <= lo <= hi <= LastIndex() + 1.
  // NotFound("raft log", "compacted ...") when lo < FirstIndex().
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;

  // Term of entry i. i may be FirstIndex() - 1 (the snapshot's index).
  // NotFound("raft log", "compacted ...") when i < FirstIndex() - 1;
  // Unavailable when i > LastIndex().
  virtual Result<uint64_t> Term(uint64_t i) const = 0;

  // Index of the first entry still held (snapshot index + 1).
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry held (the snapshot index when there are none).
  virtual uint64_t LastIndex() const = 0;

  // The latest snapshot (empty metadata.index == 0 if there is none).
  virtual Result<Snapshot> GetSnapshot() const = 0;
};

// An in-memory LogStorage. The runtime (test or simulator) mutates it while
// handling a Ready: SetHardState, Append, ApplySnapshot; the application calls
// CreateSnapshot + Compact to shrink the log.
class MemoryLogStorage : public LogStorage {
 public:
  MemoryLogStorage();

  InitialState GetInitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<Snapshot> GetSnapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  // Membership to report in GetInitialState (kept in step with snapshots).
  void SetConfState(const ConfState& cs) { conf_state_ = cs; }

  // Appends entries, first discarding any held entries at or after entries[0].index
  // (a leader overwrote a conflicting suffix). Entries at or below the snapshot
  // index are skipped. REQUIRES: entries are contiguous and entries[0].index <=
  // LastIndex() + 1.
  Status Append(const std::vector<Entry>& entries);

  // Replaces the whole log by `snap` (entries after it are dropped, as etcd does).
  // Returns InvalidArgument if snap is older than the current snapshot.
  Status ApplySnapshot(Snapshot snap);

  // Records a snapshot of the state machine at `index` (which the application has
  // applied). REQUIRES: FirstIndex()-1 < index <= LastIndex(). Does not compact.
  Status CreateSnapshot(uint64_t index, const ConfState& cs, std::string data);

  // Discards entries up to and including `compact_index` (kept: its term, as the
  // new FirstIndex() - 1). InvalidArgument when compact_index is beyond
  // LastIndex() or beyond the snapshot index (what is discarded must be covered
  // by a snapshot, or a lagging follower could never catch up).
  Status Compact(uint64_t compact_index);

 private:
  HardState hard_state_;
  ConfState conf_state_;
  Snapshot snapshot_;
  // ents_[0] is a dummy entry holding the snapshot's index and term.
  std::vector<Entry> ents_;
};

}  // namespace dkv::raft
