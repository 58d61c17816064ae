// KvEngine: the ordered byte store the Keyspace sits on.
//
// On a single node it is the storage engine (DbEngine, db_engine.h); behind
// Raft later it will be a shard's replicated state machine; in unit tests it
// is MemEngine (a std::map). Writes are applied without syncing; Sync() makes
// everything applied so far durable, which lets the server merge many
// clients' writes into one fsync (group commit). Implementations must be
// safe to call from several threads (Sync runs on the sync thread while the
// event loop applies writes). A batch of writes travels as a
// storage::WriteBatch: the same bytes the WAL (and later a Raft entry) holds,
// so a staged write is encoded once, on the event loop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/write_batch.h"

namespace dkv::server {

struct KvWrite {
  std::string key;
  std::string value;
  bool is_delete = false;
};

class KvEngine {
 public:
  virtual ~KvEngine() = default;
  // NotFound if absent.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  // Applies all writes atomically (all or none after a crash), unsynced.
  virtual Status Apply(const std::vector<KvWrite>& writes) = 0;
  // Apply for a caller that gives its writes up (saves copying them).
  virtual Status ApplyMoved(std::vector<KvWrite>&& writes) { return Apply(writes); }
  // One put or delete, as Apply of one write; an engine that stages writes
  // takes it without a KvWrite (no allocation on the write path).
  virtual Status Put(std::string_view key, std::string_view value) {
    return Apply({KvWrite{std::string(key), std::string(value), false}});
  }
  virtual Status Delete(std::string_view key) {
    return Apply({KvWrite{std::string(key), std::string(), true}});
  }
  // Applies `batch` atomically and then, if `sync`, makes it and every write
  // before it durable (one engine write + fsync for a group commit). The
  // default decodes the batch for Apply and then calls Sync; a failed apply
  // never syncs.
  virtual Status Write(const storage::WriteBatch& batch, bool sync);
  // Write that also calls `on_logged` (on the calling thread or the engine's
  // writer) as soon as the batch can no longer be lost — appended, and synced
  // if `sync` — possibly before it is readable through Get, and never if the
  // write fails. The default calls it after Write returns OK; DbEngine calls
  // it before the memtable insert, so a server can acknowledge earlier.
  virtual Status WriteThenNotify(const storage::WriteBatch& batch, bool sync,
                                 const std::function<void()>& on_logged) {
    Status s = Write(batch, sync);
    if (s.ok()) on_logged();
    return s;
  }
  // Makes every write applied so far durable.
  virtual Status Sync() = 0;
  // Appends to *out up to `max` entries with start <= key < limit (limit
  // empty: no bound), in key order.
  virtual Status Scan(std::string_view start, std::string_view limit, size_t max,
                      std::vector<std::pair<std::string, std::string>>* out) = 0;
  // Free-form statistics for INFO; empty if none.
  virtual std::string Stats() { return {}; }
  // Approximate bytes of memory the engine uses (memtables, caches); 0 if unknown.
  virtual int64_t MemoryUsage() { return 0; }
};

inline Status KvEngine::Write(const storage::WriteBatch& batch, bool sync) {
  struct Collect final : storage::WriteBatch::Handler {
    std::vector<KvWrite> writes;
    void Put(std::string_view key, std::string_view value) override {
      writes.push_back(KvWrite{std::string(key), std::string(value), false});
    }
    void Delete(std::string_view key) override {
      writes.push_back(KvWrite{std::string(key), std::string(), true});
    }
  } collect;
  DKV_RETURN_IF_ERROR(batch.Iterate(&collect));
  if (!collect.writes.empty()) DKV_RETURN_IF_ERROR(ApplyMoved(std::move(collect.writes)));
  return sync ? Sync() : Status::OK();
}

// An in-memory engine for tests: nothing survives the process.
class MemEngine final : public KvEngine {
 public:
  Status Get(std::string_view key, std::string* value) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return Status::NotFound("mem", "key");
    *value = it->second;
    return Status::OK();
  }
  Status Apply(const std::vector<KvWrite>& writes) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const KvWrite& w : writes) {
      if (w.is_delete) {
        map_.erase(w.key);
      } else {
        map_[w.key] = w.value;
      }
    }
    return Status::OK();
  }
  Status Sync() override { return Status::OK(); }
  Status Scan(std::string_view start, std::string_view limit, size_t max,
              std::vector<std::pair<std::string, std::string>>* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = map_.lower_bound(std::string(start)); it != map_.end() && max > 0; ++it, --max) {
      if (!limit.empty() && it->first >= limit) break;
      out->emplace_back(it->first, it->second);
    }
    return Status::OK();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> map_;
};

}  // namespace dkv::server
