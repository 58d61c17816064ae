#include "raft/progress.h"

#include <algorithm>

namespace dkv::raft {

const char* ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

void Inflights::Add(uint64_t last_index) {
  DKV_ASSERT(!Full());
  if (buffer_.empty()) buffer_.resize(capacity_);
  size_t slot = start_ + count_;
  if (slot >= capacity_) slot -= capacity_;
  buffer_[slot] = last_index;
  count_++;
}

void Inflights::FreeLE(uint64_t index) {
  while (count_ > 0 && buffer_[start_] <= index) {
    start_++;
    if (start_ == capacity_) start_ = 0;
    count_--;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::FreeFirstOne() {
  if (count_ == 0) return;
  FreeLE(buffer_[start_]);
}

void Progress::BecomeProbe() {
  // Leaving snapshot state: the follower will have the snapshot (or will tell us
  // otherwise), so probe just after it.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_offset = 0;
  inflights.Reset();
  CheckInvariants();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_offset = 0;
  inflights.Reset();
  CheckInvariants();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  snapshot_offset = 0;
  probe_sent = false;
  inflights.Reset();
  CheckInvariants();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  CheckInvariants();
  return updated;
}

void Progress::SentEntries(uint64_t last, size_t entry_count) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entry_count > 0) {
        next = last + 1;
        inflights.Add(last);
      }
      break;
    case ProgressState::kProbe:
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      DKV_UNREACHABLE();
  }
  CheckInvariants();
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection at or below match is a reordered, stale answer.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe (or snapshot) state only the answer to the outstanding probe counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  CheckInvariants();
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace dkv::raft
