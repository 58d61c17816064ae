// DbEngine: KvEngine over the local storage engine (dkv::storage::DB).
//
// Owns the DB. Write(batch, sync) is one DB::Write (append, and fsync when
// asked, in one pass through the engine's writer queue); WriteThenNotify
// reports durability from inside it, before the memtable insert; Apply builds a
// WriteBatch; Sync() calls DB::SyncWal, which the engine merges with
// concurrent syncs. Thread-safe because DB is.
#pragma once

#include <memory>
#include <string>

#include "server/kv_engine.h"
#include "storage/db.h"

namespace dkv::server {

class DbEngine final : public KvEngine {
 public:
  // Opens (creating if missing) the DB in `dir`.
  static Result<std::unique_ptr<DbEngine>> Open(const std::string& dir);
  explicit DbEngine(std::unique_ptr<storage::DB> db) : db_(std::move(db)) {}

  Status Get(std::string_view key, std::string* value) override;
  Status Apply(const std::vector<KvWrite>& writes) override;
  Status Write(const storage::WriteBatch& batch, bool sync) override;
  Status WriteThenNotify(const storage::WriteBatch& batch, bool sync,
                         const std::function<void()>& on_logged) override;
  Status Sync() override;
  Status Scan(std::string_view start, std::string_view limit, size_t max,
              std::vector<std::pair<std::string, std::string>>* out) override;
  std::string Stats() override;
  int64_t MemoryUsage() override;

 private:
  std::unique_ptr<storage::DB> db_;
};

}  // namespace dkv::server
