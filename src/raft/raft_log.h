// RaftLog: the replica's whole log as the core sees it, the stable part in
// LogStorage and the unstable tail (entries and possibly a snapshot not yet handed
// to the runtime for persistence), plus the commit and applied indices.
//
// Owned by one Raft instance; not thread-safe. Invariants (asserted):
// applied <= committed <= LastIndex(), and committed never decreases.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/status.h"
#include "raft/log_storage.h"
#include "raft/types.h"

namespace dkv::raft {

class RaftLog {
 public:
  // Starts from what `storage` holds. REQUIRES: storage outlives the log.
  RaftLog(LogStorage* storage, uint64_t max_committed_bytes_per_ready);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const { return TermOrZero(LastIndex()); }

  // Term of entry i, or nullopt if i is compacted (< FirstIndex()-1) or > LastIndex().
  std::optional<uint64_t> Term(uint64_t i) const;
  uint64_t TermOrZero(uint64_t i) const { return Term(i).value_or(0); }
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // §5.4.1: is a log ending at (last_index, last_term) at least as up to date as ours?
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // The index of the first entry of `ents` that is not in our log (absent or with a
  // different term), or 0 if all are present.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // Walks down from `index` to the last entry whose term is <= `term`; returns that
  // index and its term (term 0 when the log there is compacted or missing).
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Appends ents to the unstable tail, replacing any entries at or after
  // ents[0].index. REQUIRES: ents non-empty, contiguous, ents[0].index > committed,
  // ents[0].index <= LastIndex() + 1. Returns the new last index.
  uint64_t Append(const std::vector<Entry>& ents, size_t from = 0);

  // Entries [lo, hi) up to about max_bytes (at least one if lo < hi), appended to
  // *out. NotFound when lo is compacted.
  Status Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes, std::vector<Entry>* out) const;

  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }

  // Committed entries not yet handed out for applying, bounded by size.
  bool HasNextCommittedEntries() const;
  std::vector<Entry> NextCommittedEntries() const;

  // Advances commit to max_index if the entry there is of `term` (Figure 8: only
  // entries of the leader's term are committed by counting replicas).
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  // REQUIRES: i <= LastIndex(). Never moves commit backwards.
  void CommitTo(uint64_t i);
  // REQUIRES: applied <= i <= committed.
  void AppliedTo(uint64_t i);
  // Entries up to (i, term) are durable: drop them from the unstable tail.
  void StableTo(uint64_t i, uint64_t term);
  // The unstable snapshot at index i is durable and installed.
  void StableSnapTo(uint64_t i);
  // Replaces the log by a snapshot received from the leader.
  void Restore(Snapshot snap);

  // The newest snapshot, unstable or stored.
  Result<Snapshot> GetSnapshot() const;

 private:
  LogStorage* storage_;
  uint64_t max_committed_bytes_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  uint64_t unstable_offset_;  // index of unstable_[0] (or where it would be)
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace dkv::raft
