#include "server/db_engine.h"

#include <cstdlib>
#include <functional>

#include "storage/write_batch.h"

namespace dkv::server {

Result<std::unique_ptr<DbEngine>> DbEngine::Open(const std::string& dir) {
  storage::Options options;
  options.create_if_missing = true;
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<storage::DB> db, storage::DB::Open(options, dir));
  return std::make_unique<DbEngine>(std::move(db));
}

Status DbEngine::Get(std::string_view key, std::string* value) {
  return db_->Get(storage::ReadOptions(), key, value);
}

Status DbEngine::Apply(const std::vector<KvWrite>& writes) {
  storage::WriteOptions wo;
  wo.sync = false;  // durability comes from Sync(), batched across clients
  if (writes.size() == 1) {
    const KvWrite& w = writes[0];
    return w.is_delete ? db_->Delete(wo, w.key) : db_->Put(wo, w.key, w.value);
  }
  storage::WriteBatch batch;
  for (const KvWrite& w : writes) {
    if (w.is_delete) {
      batch.Delete(w.key);
    } else {
      batch.Put(w.key, w.value);
    }
  }
  return db_->Write(wo, batch);
}

Status DbEngine::Write(const storage::WriteBatch& batch, bool sync) {
  storage::WriteOptions wo;
  wo.sync = sync;  // the WAL append and its fsync in one engine write
  return db_->Write(wo, batch);
}

Status DbEngine::WriteThenNotify(const storage::WriteBatch& batch, bool sync,
                                 const std::function<void()>& on_logged) {
  storage::WriteOptions wo;
  wo.sync = sync;
  wo.on_logged = std::ref(on_logged);  // no copy of the callable
  return db_->Write(wo, batch);
}

Status DbEngine::Sync() { return db_->SyncWal(); }

Status DbEngine::Scan(std::string_view start, std::string_view limit, size_t max,
                      std::vector<std::pair<std::string, std::string>>* out) {
  storage::ReadOptions ro;
  ro.fill_cache = false;
  ro.iterate_upper_bound = limit;
  std::unique_ptr<storage::Iterator> it = db_->NewIterator(ro);
  for (it->Seek(start); it->Valid() && max > 0; it->Next(), --max) {
    out->emplace_back(std::string(it->key()), std::string(it->value()));
  }
  return it->status();
}

int64_t DbEngine::MemoryUsage() {
  std::string v;
  if (!db_->GetProperty("dkv.approximate-memory-usage", &v)) return 0;
  return std::strtoll(v.c_str(), nullptr, 10);
}

std::string DbEngine::Stats() {
  std::string stats;
  if (!db_->GetProperty("dkv.stats", &stats)) stats.clear();
  return stats;
}

}  // namespace dkv::server
