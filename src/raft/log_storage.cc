#include "raft/log_storage.h"

#include <string>

namespace dkv::raft {

namespace {
Status Compacted(uint64_t i, uint64_t first) {
  return Status::NotFound("raft log", "index " + std::to_string(i) + " compacted (first index " +
                                          std::to_string(first) + ")");
}
}  // namespace

MemoryLogStorage::MemoryLogStorage() { ents_.push_back(Entry{}); }

InitialState MemoryLogStorage::GetInitialState() const { return {hard_state_, conf_state_}; }

uint64_t MemoryLogStorage::FirstIndex() const { return ents_[0].index + 1; }

uint64_t MemoryLogStorage::LastIndex() const { return ents_[0].index + ents_.size() - 1; }

Result<uint64_t> MemoryLogStorage::Term(uint64_t i) const {
  const uint64_t offset = ents_[0].index;
  if (i < offset) return Compacted(i, FirstIndex());
  if (i - offset >= ents_.size()) {
    return Status::Unavailable(
        "raft log", "index " + std::to_string(i) + " beyond last " + std::to_string(LastIndex()));
  }
  return ents_[i - offset].term;
}

Result<std::vector<Entry>> MemoryLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const {
  const uint64_t offset = ents_[0].index;
  if (lo <= offset) return Compacted(lo, FirstIndex());
  if (hi > LastIndex() + 1 || lo > hi) {
    return Status::InvalidArgument("raft log", "entries [" + std::to_string(lo) + ", " +
                                                   std::to_string(hi) + ") out of bounds");
  }
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; i++) {
    const Entry& e = ents_[i - offset];
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<Snapshot> MemoryLogStorage::GetSnapshot() const { return snapshot_; }

Status MemoryLogStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::OK();
  const uint64_t first = FirstIndex();
  const uint64_t last_new = entries.back().index;
  if (last_new < first) return Status::OK();  // all already covered by the snapshot
  if (entries[0].index > LastIndex() + 1) {
    return Status::InvalidArgument("raft log", "append at " + std::to_string(entries[0].index) +
                                                   " leaves a gap after " +
                                                   std::to_string(LastIndex()));
  }
  size_t skip = entries[0].index < first ? first - entries[0].index : 0;
  const uint64_t start = entries[skip].index;
  ents_.resize(start - ents_[0].index);  // drop the conflicting suffix
  for (size_t k = skip; k < entries.size(); k++) {
    DKV_ASSERT(entries[k].index == ents_[0].index + ents_.size());
    ents_.push_back(entries[k]);
  }
  return Status::OK();
}

Status MemoryLogStorage::ApplySnapshot(Snapshot snap) {
  if (snap.metadata.index < snapshot_.metadata.index) {
    return Status::InvalidArgument(
        "raft log", "snapshot at " + std::to_string(snap.metadata.index) + " older than " +
                        std::to_string(snapshot_.metadata.index));
  }
  ents_.clear();
  ents_.push_back(Entry{snap.metadata.term, snap.metadata.index, EntryType::kNormal, {}});
  conf_state_ = snap.metadata.conf_state;
  snapshot_ = std::move(snap);
  return Status::OK();
}

Status MemoryLogStorage::CreateSnapshot(uint64_t index, const ConfState& cs, std::string data) {
  if (index <= snapshot_.metadata.index) {
    return Status::InvalidArgument("raft log", "snapshot at " + std::to_string(index) +
                                                   " not newer than " +
                                                   std::to_string(snapshot_.metadata.index));
  }
  if (index > LastIndex()) {
    return Status::InvalidArgument("raft log", "snapshot at " + std::to_string(index) +
                                                   " beyond last " + std::to_string(LastIndex()));
  }
  snapshot_.metadata.index = index;
  snapshot_.metadata.term = ents_[index - ents_[0].index].term;
  snapshot_.metadata.conf_state = cs;
  snapshot_.data = std::move(data);
  conf_state_ = cs;
  return Status::OK();
}

Status MemoryLogStorage::Compact(uint64_t compact_index) {
  const uint64_t offset = ents_[0].index;
  if (compact_index <= offset) return Status::OK();  // already compacted
  if (compact_index > LastIndex()) {
    return Status::InvalidArgument("raft log", "compact " + std::to_string(compact_index) +
                                                   " beyond last " + std::to_string(LastIndex()));
  }
  if (compact_index > snapshot_.metadata.index) {
    return Status::InvalidArgument("raft log", "compact " + std::to_string(compact_index) +
                                                   " beyond snapshot " +
                                                   std::to_string(snapshot_.metadata.index));
  }
  const size_t k = compact_index - offset;
  Entry dummy{ents_[k].term, ents_[k].index, EntryType::kNormal, {}};
  ents_.erase(ents_.begin(), ents_.begin() + static_cast<std::ptrdiff_t>(k));
  ents_[0] = std::move(dummy);
  return Status::OK();
}

}  // namespace dkv::raft
