// Progress: what a leader knows about one follower's log, and how it may send to it.
//
// Owned by the leader's Raft instance (one per member, rebuilt on each leadership).
// A follower is in one of three states: probe (one MsgApp at a time until the
// match point is found), replicate (pipelined MsgApps, bounded by an in-flight
// window) or snapshot (a snapshot is streaming in chunks; no MsgApp). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/assert.h"

namespace dkv::raft {

enum class ProgressState : uint8_t { kProbe = 0, kReplicate = 1, kSnapshot = 2 };

const char* ProgressStateName(ProgressState state);

// A ring buffer of the last index carried by each MsgApp in flight. The buffer is
// allocated once, on first use, at its full capacity: no allocation per message.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) { DKV_ASSERT(capacity > 0); }

  // REQUIRES: !Full() and last_index >= every index already added.
  void Add(uint64_t last_index);
  // Frees every slot whose index is <= index (those MsgApps were acknowledged).
  void FreeLE(uint64_t index);
  // Frees the oldest slot (a heartbeat answered: keep the pipe from stalling when a
  // MsgApp was lost).
  void FreeFirstOne();
  bool Full() const { return count_ == capacity_; }
  size_t Count() const { return count_; }
  void Reset() {
    start_ = 0;
    count_ = 0;
  }

 private:
  size_t capacity_;
  size_t start_ = 0;
  size_t count_ = 0;
  std::vector<uint64_t> buffer_;
};

class Progress {
 public:
  Progress(uint64_t next, size_t max_inflight, bool is_learner)
      : next(next), is_learner(is_learner), inflights(max_inflight) {
    DKV_ASSERT(next >= 1);
  }

  // Invariant: match < next, next >= 1 (entries up to match are known to be on the
  // follower; next is the first index to send).
  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  // kProbe: a probe is outstanding; send nothing until it is answered or a
  // heartbeat response arrives.
  bool probe_sent = false;
  // kSnapshot: index of the snapshot being streamed and the next byte offset to send.
  uint64_t pending_snapshot = 0;
  uint64_t snapshot_offset = 0;
  // snapshot_offset when the last heartbeat answer came: no progress since then means
  // the chunk in flight was lost and is sent again.
  uint64_t snapshot_offset_at_heartbeat = UINT64_MAX;
  // Heard from within the current check-quorum period.
  bool recent_active = false;
  bool is_learner = false;
  // Lease: 1 + the leader tick carried by the newest heartbeat this follower
  // acknowledged (0 = none yet this term).
  uint64_t lease_ack = 0;
  // ReadIndex: the newest read sequence number this follower acknowledged.
  uint64_t read_ack = 0;
  Inflights inflights;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // The follower acknowledged entries up to n. Returns true if match advanced.
  bool MaybeUpdate(uint64_t n);
  // Optimistically advances next after sending entries up to last (replicate state).
  void SentEntries(uint64_t last, size_t entry_count);
  // A MsgApp at `rejected` was refused; the follower's log matches at most up to
  // match_hint. Returns false when the rejection is stale (ignored).
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // True when no MsgApp may be sent now.
  bool IsPaused() const;

  void CheckInvariants() const {
    DKV_ASSERT(match < next);
    DKV_ASSERT(next >= 1);
  }
};

}  // namespace dkv::raft
