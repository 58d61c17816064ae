#include "node/raft_log_store.h"

#include <algorithm>

#include "common/assert.h"
#include "common/coding.h"
#include "node/limits.h"
#include "storage/options.h"

namespace dkv::node {

namespace {

constexpr size_t kGroupKeySize = 1 + 8;
constexpr size_t kEntryKeySize = 1 + 8 + 8;

void PutBigEndian64(std::string* dst, uint64_t v) {
  for (int i = 7; i >= 0; i--) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutIds(std::string* dst, const std::vector<raft::NodeId>& ids) {
  PutVarint64(dst, ids.size());
  for (raft::NodeId id : ids) PutVarint64(dst, id);
}

bool GetIds(std::string_view* in, std::vector<raft::NodeId>* ids) {
  uint64_t n;
  if (!GetVarint64(in, &n) || n > in->size()) return false;  // each id takes >= 1 byte
  ids->clear();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t id;
    if (!GetVarint64(in, &id)) return false;
    ids->push_back(id);
  }
  return true;
}

}  // namespace

std::string LogEntryKey(ShardId shard, uint64_t index) {
  std::string k;
  k.reserve(kEntryKeySize);
  k.push_back(kLogEntryPrefix);
  PutBigEndian64(&k, shard);
  PutBigEndian64(&k, index);
  return k;
}

std::string GroupKey(char prefix, ShardId shard) {
  std::string k;
  k.reserve(kGroupKeySize);
  k.push_back(prefix);
  PutBigEndian64(&k, shard);
  return k;
}

std::string EncodeLogEntry(const raft::Entry& e) {
  std::string v;
  v.reserve(1 + kMaxVarint64Bytes + e.data.size());
  v.push_back(static_cast<char>(e.type));
  PutVarint64(&v, e.term);
  v.append(e.data.view());
  return v;
}

Status DecodeLogEntry(std::string_view value, raft::Entry* e) {
  if (value.empty()) return Status::Corruption("raft engine", "empty log entry");
  const uint8_t type = static_cast<uint8_t>(value[0]);
  if (type > static_cast<uint8_t>(raft::EntryType::kConfChange)) {
    return Status::Corruption("raft engine", "unknown entry type " + std::to_string(type));
  }
  value.remove_prefix(1);
  uint64_t term;
  if (!GetVarint64(&value, &term)) return Status::Corruption("raft engine", "bad entry term");
  e->type = static_cast<raft::EntryType>(type);
  e->term = term;
  e->data = raft::Payload(value);
  return Status::OK();
}

std::string EncodeHardState(const raft::HardState& hs) {
  std::string v;
  PutVarint64(&v, hs.term);
  PutVarint64(&v, hs.vote);
  PutVarint64(&v, hs.commit);
  return v;
}

Result<raft::HardState> DecodeHardState(std::string_view v) {
  raft::HardState hs;
  if (!GetVarint64(&v, &hs.term) || !GetVarint64(&v, &hs.vote) || !GetVarint64(&v, &hs.commit) ||
      !v.empty()) {
    return Status::Corruption("raft engine", "bad hard state");
  }
  return hs;
}

std::string EncodeSnapshotMetadata(const raft::SnapshotMetadata& m) {
  std::string v;
  PutVarint64(&v, m.index);
  PutVarint64(&v, m.term);
  PutIds(&v, m.conf_state.voters);
  PutIds(&v, m.conf_state.learners);
  return v;
}

Result<raft::SnapshotMetadata> DecodeSnapshotMetadata(std::string_view v) {
  raft::SnapshotMetadata m;
  if (!GetVarint64(&v, &m.index) || !GetVarint64(&v, &m.term) ||
      !GetIds(&v, &m.conf_state.voters) || !GetIds(&v, &m.conf_state.learners) || !v.empty()) {
    return Status::Corruption("raft engine", "bad snapshot metadata");
  }
  return m;
}

// ---------------------------------------------------------------------------
// GroupLog

raft::InitialState GroupLog::GetInitialState() const {
  return raft::InitialState{hard_state_, snap_.conf_state};
}

Result<uint64_t> GroupLog::Term(uint64_t i) const {
  if (i == snap_.index) return snap_.term;
  if (i < snap_.index) {
    return Status::NotFound("raft log", "compacted " + std::to_string(i) + " (first index " +
                                            std::to_string(FirstIndex()) + ")");
  }
  if (i > LastIndex()) {
    return Status::Unavailable(
        "raft log", "index " + std::to_string(i) + " beyond last " + std::to_string(LastIndex()));
  }
  return terms_[i - FirstIndex()];
}

Result<std::vector<raft::Entry>> GroupLog::Entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const {
  if (lo < FirstIndex()) {
    return Status::NotFound("raft log", "compacted " + std::to_string(lo) + " (first index " +
                                            std::to_string(FirstIndex()) + ")");
  }
  DKV_ASSERT(lo <= hi);
  DKV_ASSERT(hi <= LastIndex() + 1);
  std::vector<raft::Entry> out;
  uint64_t bytes = 0;
  const uint64_t cache_first = cache_.empty() ? LastIndex() + 1 : cache_.front().index;
  // The part below the cache comes from the engine.
  if (lo < cache_first) {
    const uint64_t db_hi = std::min(hi, cache_first);
    storage::ReadOptions ro;
    ro.fill_cache = false;
    const std::string upper = LogEntryKey(shard_, db_hi);
    ro.iterate_upper_bound = upper;
    std::unique_ptr<storage::Iterator> it = store_->db_->NewIterator(ro);
    uint64_t want = lo;
    for (it->Seek(LogEntryKey(shard_, lo)); it->Valid() && want < db_hi; it->Next(), want++) {
      std::string_view k = it->key();
      if (k.size() != kEntryKeySize || GetBigEndian64(k.data() + 9) != want ||
          GetBigEndian64(k.data() + 1) != shard_) {
        return Status::Corruption(
            "raft engine",
            "hole in the log of shard " + std::to_string(shard_) + " at " + std::to_string(want));
      }
      raft::Entry e;
      e.index = want;
      DKV_RETURN_IF_ERROR(DecodeLogEntry(it->value(), &e));
      bytes += e.ByteSize();
      if (!out.empty() && (bytes > max_bytes || out.size() >= kMaxEntriesPerRead)) return out;
      out.push_back(std::move(e));
    }
    DKV_RETURN_IF_ERROR(it->status());
    if (want < db_hi) {
      return Status::Corruption("raft engine", "log of shard " + std::to_string(shard_) +
                                                   " ends early at " + std::to_string(want));
    }
  }
  for (uint64_t i = std::max(lo, cache_first); i < hi; i++) {
    const raft::Entry& e = cache_[i - cache_first];
    DKV_ASSERT(e.index == i);
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<raft::Snapshot> GroupLog::GetSnapshot() const {
  if (provider_) return provider_();
  raft::Snapshot s;
  s.metadata = snap_;
  return s;
}

void GroupLog::TrimCache(uint64_t keep_from) {
  while (!cache_.empty() && cache_bytes_ > kMaxCachedLogBytesPerGroup &&
         cache_.front().index < keep_from) {
    cache_bytes_ -= cache_.front().ByteSize();
    cache_.pop_front();
  }
}

// ---------------------------------------------------------------------------
// RaftLogStore

Result<std::unique_ptr<RaftLogStore>> RaftLogStore::Open(storage::Env* env,
                                                         const std::string& dir) {
  storage::Options options;
  options.env = env;
  options.create_if_missing = true;
  std::unique_ptr<RaftLogStore> store(new RaftLogStore());
  DKV_ASSIGN_OR_RETURN(store->db_, storage::DB::Open(options, dir));
  DKV_RETURN_IF_ERROR(store->Recover());
  return store;
}

RaftLogStore::~RaftLogStore() = default;

Status RaftLogStore::Recover() {
  // One pass over the whole engine. Keys sort entries (0x01) before hard
  // states (0x02) and snapshot metadata (0x03), so the entries of each group
  // are gathered first and checked against its snapshot index at the end.
  std::map<ShardId, std::vector<std::pair<uint64_t, uint64_t>>> entries;  // (index, term)
  storage::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<storage::Iterator> it = db_->NewIterator(ro);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = it->key();
    if (k.empty()) return Status::Corruption("raft engine", "empty key");
    const char prefix = k[0];
    if (prefix == kLogEntryPrefix) {
      if (k.size() != kEntryKeySize) return Status::Corruption("raft engine", "bad entry key");
      raft::Entry e;
      DKV_RETURN_IF_ERROR(DecodeLogEntry(it->value(), &e));
      entries[GetBigEndian64(k.data() + 1)].emplace_back(GetBigEndian64(k.data() + 9), e.term);
      continue;
    }
    if (k.size() != kGroupKeySize) return Status::Corruption("raft engine", "bad group key");
    GroupLog* g = GetOrCreate(GetBigEndian64(k.data() + 1));
    if (prefix == kHardStatePrefix) {
      DKV_ASSIGN_OR_RETURN(g->hard_state_, DecodeHardState(it->value()));
    } else if (prefix == kSnapshotMetaPrefix) {
      DKV_ASSIGN_OR_RETURN(g->snap_, DecodeSnapshotMetadata(it->value()));
    } else if (prefix != kReplicaInfoPrefix) {
      return Status::Corruption(
          "raft engine", "unknown key prefix " + std::to_string(static_cast<uint8_t>(prefix)));
    }
  }
  DKV_RETURN_IF_ERROR(it->status());
  for (auto& [shard, list] : entries) {
    GroupLog* g = GetOrCreate(shard);
    for (const auto& [index, term] : list) {
      if (index <= g->snap_.index) continue;  // covered by the snapshot (not expected)
      if (index != g->LastIndex() + 1) {
        return Status::Corruption("raft engine", "hole in the log of shard " +
                                                     std::to_string(shard) + " before " +
                                                     std::to_string(index));
      }
      g->terms_.push_back(term);
    }
  }
  return Status::OK();
}

std::vector<ShardId> RaftLogStore::Groups() const {
  std::vector<ShardId> out;
  for (const auto& [shard, g] : groups_) out.push_back(shard);
  return out;
}

GroupLog* RaftLogStore::Find(ShardId shard) {
  auto it = groups_.find(shard);
  return it == groups_.end() ? nullptr : it->second.get();
}

GroupLog* RaftLogStore::GetOrCreate(ShardId shard) {
  auto& slot = groups_[shard];
  if (!slot) slot.reset(new GroupLog(this, shard));
  return slot.get();
}

Status RaftLogStore::Append(ShardId shard, const std::vector<raft::Entry>& entries) {
  GroupLog* g = GetOrCreate(shard);
  size_t skip = 0;
  while (skip < entries.size() && entries[skip].index <= g->snap_.index) skip++;
  if (skip == entries.size()) return Status::OK();
  const uint64_t first = entries[skip].index;
  const uint64_t old_last = g->LastIndex();
  if (first > old_last + 1) {
    return Status::InvalidArgument(
        "raft log",
        "append at " + std::to_string(first) + " leaves a hole after " + std::to_string(old_last));
  }
  for (size_t i = skip + 1; i < entries.size(); i++) {
    if (entries[i].index != entries[i - 1].index + 1) {
      return Status::InvalidArgument("raft log", "entries not contiguous");
    }
  }
  const uint64_t new_last = entries.back().index;
  // Drop the conflicting suffix: overwritten keys are simply put again below;
  // keys beyond the new last index must go.
  for (uint64_t i = new_last + 1; i <= old_last; i++) staged_.Delete(LogEntryKey(shard, i));
  g->terms_.resize(first - g->FirstIndex());
  while (!g->cache_.empty() && g->cache_.back().index >= first) {
    g->cache_bytes_ -= g->cache_.back().ByteSize();
    g->cache_.pop_back();
  }
  if (!g->cache_.empty() && g->cache_.back().index + 1 != first) {
    g->cache_.clear();
    g->cache_bytes_ = 0;
  }
  for (size_t i = skip; i < entries.size(); i++) {
    const raft::Entry& e = entries[i];
    staged_.Put(LogEntryKey(shard, e.index), EncodeLogEntry(e));
    g->terms_.push_back(e.term);
    g->cache_.push_back(e);
    g->cache_bytes_ += e.ByteSize();
  }
  g->TrimCache(first);
  DKV_ASSERT(g->LastIndex() == new_last);
  DKV_ASSERT(g->cache_.empty() || g->cache_.back().index == g->LastIndex());
  return Status::OK();
}

void RaftLogStore::SetHardState(ShardId shard, const raft::HardState& hs) {
  GroupLog* g = GetOrCreate(shard);
  g->hard_state_ = hs;
  staged_.Put(GroupKey(kHardStatePrefix, shard), EncodeHardState(hs));
}

Status RaftLogStore::ApplySnapshot(ShardId shard, const raft::SnapshotMetadata& meta) {
  GroupLog* g = GetOrCreate(shard);
  if (meta.index < g->snap_.index) {
    return Status::InvalidArgument("raft log", "snapshot at " + std::to_string(meta.index) +
                                                   " older than " + std::to_string(g->snap_.index));
  }
  for (uint64_t i = g->FirstIndex(); i <= g->LastIndex(); i++) {
    staged_.Delete(LogEntryKey(shard, i));
  }
  g->terms_.clear();
  g->cache_.clear();
  g->cache_bytes_ = 0;
  g->snap_ = meta;
  staged_.Put(GroupKey(kSnapshotMetaPrefix, shard), EncodeSnapshotMetadata(meta));
  return Status::OK();
}

Status RaftLogStore::Compact(ShardId shard, uint64_t index, const raft::ConfState& conf) {
  GroupLog* g = GetOrCreate(shard);
  if (index <= g->snap_.index) return Status::OK();
  if (index > g->LastIndex()) {
    return Status::InvalidArgument(
        "raft log",
        "compact " + std::to_string(index) + " beyond last " + std::to_string(g->LastIndex()));
  }
  DKV_ASSIGN_OR_RETURN(uint64_t term, g->Term(index));
  for (uint64_t i = g->FirstIndex(); i <= index; i++) staged_.Delete(LogEntryKey(shard, i));
  const uint64_t drop = index - g->snap_.index;
  g->terms_.erase(g->terms_.begin(), g->terms_.begin() + static_cast<std::ptrdiff_t>(drop));
  while (!g->cache_.empty() && g->cache_.front().index <= index) {
    g->cache_bytes_ -= g->cache_.front().ByteSize();
    g->cache_.pop_front();
  }
  g->snap_ = raft::SnapshotMetadata{index, term, conf};
  DKV_ASSERT(g->FirstIndex() == index + 1);
  staged_.Put(GroupKey(kSnapshotMetaPrefix, shard), EncodeSnapshotMetadata(g->snap_));
  return Status::OK();
}

void RaftLogStore::PutReplicaInfo(ShardId shard, std::string_view info) {
  GetOrCreate(shard);
  staged_.Put(GroupKey(kReplicaInfoPrefix, shard), info);
}

Result<std::string> RaftLogStore::GetReplicaInfo(ShardId shard) {
  std::string v;
  DKV_RETURN_IF_ERROR(db_->Get(storage::ReadOptions(), GroupKey(kReplicaInfoPrefix, shard), &v));
  return v;
}

void RaftLogStore::DropGroup(ShardId shard) {
  GroupLog* g = Find(shard);
  if (g == nullptr) return;
  for (uint64_t i = g->FirstIndex(); i <= g->LastIndex(); i++) {
    staged_.Delete(LogEntryKey(shard, i));
  }
  for (char p : {kHardStatePrefix, kSnapshotMetaPrefix, kReplicaInfoPrefix}) {
    staged_.Delete(GroupKey(p, shard));
  }
  groups_.erase(shard);
}

RaftLogStore::LogWrite RaftLogStore::TakeStaged(bool sync) {
  LogWrite w;
  w.sync = sync;
  if (staged_.Count() > 0) {
    w.batch = std::move(staged_);
    staged_.Clear();
  }
  return w;
}

Status RaftLogStore::Write(LogWrite w) {
  if (w.batch.Count() == 0) {
    if (!w.sync) return Status::OK();
    // Nothing new, but an earlier unsynced commit (compaction) may be pending.
    return db_->SyncWal();
  }
  storage::WriteOptions wo;
  wo.sync = w.sync;
  Status st = db_->Write(wo, w.batch);
  commits_.fetch_add(1, std::memory_order_relaxed);
  if (w.sync) synced_commits_.fetch_add(1, std::memory_order_relaxed);
  return st;
}

}  // namespace dkv::node
