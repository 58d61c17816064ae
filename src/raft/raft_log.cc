#include "raft/raft_log.h"

#include <algorithm>
#include <string>

namespace dkv::raft {

RaftLog::RaftLog(LogStorage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage), max_committed_bytes_(max_committed_bytes_per_ready) {
  unstable_offset_ = storage_->LastIndex() + 1;
  // Everything up to the snapshot is committed and applied by definition.
  committed_ = storage_->FirstIndex() - 1;
  applied_ = committed_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index;
  return storage_->LastIndex();
}

std::optional<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i >= unstable_offset_ && i - unstable_offset_ < unstable_.size()) {
    return unstable_[i - unstable_offset_].term;
  }
  if (unstable_snapshot_) {
    if (i == unstable_snapshot_->metadata.index) return unstable_snapshot_->metadata.term;
    return std::nullopt;  // everything else below the snapshot is gone
  }
  if (i < storage_->FirstIndex() - 1 || i > LastIndex()) return std::nullopt;
  if (i >= unstable_offset_) return std::nullopt;
  Result<uint64_t> t = storage_->Term(i);
  if (!t.ok()) return std::nullopt;
  return *t;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  const uint64_t our_term = LastTerm();
  return last_term > our_term || (last_term == our_term && last_index >= LastIndex());
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  index = std::min(index, LastIndex());
  // Bounded: each step lowers index, which stops at the first index - 1.
  for (;;) {
    auto t = Term(index);
    if (!t) return {index, 0};
    if (*t <= term || index == 0) return {index, *t};
    index--;
  }
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents, size_t from) {
  DKV_ASSERT(from < ents.size());
  const uint64_t after = ents[from].index;
  DKV_ASSERT(after > committed_);
  DKV_ASSERT(after <= LastIndex() + 1);
  if (after == unstable_offset_ + unstable_.size()) {
    // The common case: a plain append to the tail.
  } else if (after <= unstable_offset_) {
    // Replace the whole unstable tail (and a suffix of the stable log, which the
    // runtime truncates when it persists these entries).
    unstable_.clear();
    unstable_offset_ = after;
  } else {
    unstable_.resize(after - unstable_offset_);
  }
  unstable_.insert(unstable_.end(), ents.begin() + static_cast<std::ptrdiff_t>(from), ents.end());
  for (size_t k = 1; k < unstable_.size(); k++) {
    DKV_DASSERT(unstable_[k].index == unstable_[k - 1].index + 1);
  }
  return LastIndex();
}

Status RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes, std::vector<Entry>* out) const {
  if (lo >= hi) return Status::OK();
  if (lo < FirstIndex()) {
    return Status::NotFound("raft log", "index " + std::to_string(lo) + " compacted");
  }
  DKV_ASSERT(hi <= LastIndex() + 1);
  uint64_t bytes = 0;
  const size_t start_size = out->size();
  if (lo < unstable_offset_) {
    const uint64_t stable_hi = std::min(hi, unstable_offset_);
    DKV_ASSIGN_OR_RETURN(std::vector<Entry> stored, storage_->Entries(lo, stable_hi, max_bytes));
    for (Entry& e : stored) bytes += e.ByteSize();
    const bool truncated = stored.size() < stable_hi - lo;
    out->insert(out->end(), std::make_move_iterator(stored.begin()),
                std::make_move_iterator(stored.end()));
    if (truncated) return Status::OK();
  }
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; i++) {
    const Entry& e = unstable_[i - unstable_offset_];
    bytes += e.ByteSize();
    if (out->size() > start_size && bytes > max_bytes) break;
    out->push_back(e);
  }
  return Status::OK();
}

bool RaftLog::HasNextCommittedEntries() const {
  if (unstable_snapshot_) return false;
  return committed_ > applied_ && std::max(applied_ + 1, FirstIndex()) <= committed_;
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  std::vector<Entry> out;
  if (!HasNextCommittedEntries()) return out;
  const uint64_t lo = std::max(applied_ + 1, FirstIndex());
  Status s = Slice(lo, committed_ + 1, max_committed_bytes_, &out);
  // The applied..committed range is never compacted by a correct runtime.
  DKV_ASSERT(s.ok());
  return out;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && TermOrZero(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t i) {
  if (i <= committed_) return;  // never decreases
  DKV_ASSERT(i <= LastIndex());
  committed_ = i;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  DKV_ASSERT(i <= committed_);
  DKV_ASSERT(i >= applied_);
  applied_ = i;
}

void RaftLog::StableTo(uint64_t i, uint64_t term) {
  if (i < unstable_offset_) return;
  const uint64_t k = i - unstable_offset_;
  if (k >= unstable_.size() || unstable_[k].term != term) return;  // replaced meanwhile
  if (k + 1 == unstable_.size()) {
    unstable_.clear();
  } else {
    unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<std::ptrdiff_t>(k + 1));
  }
  unstable_offset_ = i + 1;
}

void RaftLog::StableSnapTo(uint64_t i) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata.index == i) {
    unstable_snapshot_.reset();
    if (i > applied_) applied_ = i;
  }
}

void RaftLog::Restore(Snapshot snap) {
  DKV_ASSERT(snap.metadata.index > committed_);
  committed_ = snap.metadata.index;
  unstable_.clear();
  unstable_offset_ = snap.metadata.index + 1;
  unstable_snapshot_ = std::move(snap);
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

}  // namespace dkv::raft
