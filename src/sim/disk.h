// Disk: one simulated node's durable store, and what a crash does to it.
//
// The durable image is a raft::MemoryLogStorage (log, hard state, snapshot with
// the state machine image). Writes from a Ready are not durable when issued:
// the node hands them to Sync, and they reach the image only when the fsync
// completes (the cluster schedules that after a random fsync latency). A crash
// in between bumps the generation, and the completion then finds itself stale
// and discards the write -- what was persisted survives, what was not is lost.
// An fsync can also be made to fail; the write is then not applied and the
// caller must treat the node as crashed. Owned by the cluster, one per node;
// survives the node's crashes by design. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "raft/log_storage.h"
#include "raft/types.h"

namespace dkv::sim {

// One Ready's worth of state to make durable, in the order it is applied.
struct DiskWrite {
  std::optional<raft::Snapshot> snapshot;
  std::vector<raft::Entry> entries;
  std::optional<raft::HardState> hard_state;
};

struct DiskStats {
  uint64_t syncs = 0;
  uint64_t failed_syncs = 0;
  uint64_t lost_writes = 0;  // discarded by a crash before their fsync finished
};

class Disk {
 public:
  explicit Disk(std::string name) : name_(std::move(name)) {}

  // The durable image; the node's RawNode reads it as its LogStorage.
  raft::MemoryLogStorage* storage() { return &storage_; }
  const raft::MemoryLogStorage& storage() const { return storage_; }

  // Incremented by every crash. A write started in an older generation is lost.
  uint64_t generation() const { return generation_; }

  // Starts an fsync: returns the generation to hand back to Complete.
  uint64_t BeginSync() {
    ++in_flight_;
    return generation_;
  }

  // The fsync started in `generation` has finished. Applies `write` to the
  // image and returns OK; returns Aborted if a crash intervened (the write is
  // lost) and IOError if `fail` (the disk refused; nothing applied).
  Status CompleteSync(uint64_t generation, const DiskWrite& write, bool fail) {
    if (generation != generation_) {
      ++stats_.lost_writes;
      return Status::Aborted(name_, "write lost in a crash");
    }
    --in_flight_;
    ++stats_.syncs;
    if (fail) {
      ++stats_.failed_syncs;
      return Status::IOError(name_, "fsync failed");
    }
    if (write.snapshot.has_value()) {
      DKV_RETURN_IF_ERROR(storage_.ApplySnapshot(*write.snapshot));
      storage_.SetConfState(write.snapshot->metadata.conf_state);
    }
    if (!write.entries.empty()) DKV_RETURN_IF_ERROR(storage_.Append(write.entries));
    if (write.hard_state.has_value()) storage_.SetHardState(*write.hard_state);
    return Status::OK();
  }

  // The node lost power: every write not yet synced is gone.
  void Crash() {
    ++generation_;
    in_flight_ = 0;
  }

  size_t in_flight() const { return in_flight_; }
  const DiskStats& stats() const { return stats_; }

 private:
  std::string name_;
  raft::MemoryLogStorage storage_;
  uint64_t generation_ = 0;
  size_t in_flight_ = 0;
  DiskStats stats_;
};

}  // namespace dkv::sim
