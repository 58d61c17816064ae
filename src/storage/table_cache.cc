#include "storage/table_cache.h"

#include "storage/filename.h"

namespace dkv::storage {

TableCache::TableCache(std::string dbname, Env* env, TableOptions table_options, int capacity)
    : dbname_(std::move(dbname)),
      env_(env),
      table_options_(std::move(table_options)),
      capacity_(capacity < 1 ? 1 : static_cast<size_t>(capacity)) {}

Result<std::shared_ptr<Table>> TableCache::FindTable(uint64_t number, uint64_t file_size) {
  {
    MutexLock l(&mu_);
    auto it = map_.find(number);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
      return it->second.table;
    }
  }
  // Open outside the lock: it reads the footer, index and filter.
  std::string fname = TableFileName(dbname_, number);
  auto file = env_->NewRandomAccessFile(fname);
  if (!file.ok()) return file.status();
  auto table = Table::Open(table_options_, std::move(file).value(), file_size,
                           "table " + TableBaseName(number));
  if (!table.ok()) return table.status();
  std::shared_ptr<Table> shared(std::move(table).value().release());

  MutexLock l(&mu_);
  auto it = map_.find(number);
  if (it != map_.end()) {  // another thread opened it meanwhile
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    return it->second.table;
  }
  lru_.push_front(number);
  map_.emplace(number, Entry{shared, lru_.begin()});
  while (map_.size() > capacity_) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  return shared;
}

std::unique_ptr<Iterator> TableCache::NewIterator(const ReadOptions& options, uint64_t number,
                                                  uint64_t file_size) {
  auto table = FindTable(number, file_size);
  if (!table.ok()) return NewEmptyIterator(table.status());
  std::shared_ptr<Table> t = std::move(table).value();
  std::unique_ptr<Iterator> iter = t->NewIterator(options);
  iter->RegisterCleanup([t]() mutable { t.reset(); });
  return iter;
}

Status TableCache::Get(const ReadOptions& options, uint64_t number, uint64_t file_size,
                       std::string_view internal_key,
                       const std::function<void(std::string_view, std::string_view)>& found) {
  auto table = FindTable(number, file_size);
  if (!table.ok()) return table.status();
  return (*table)->InternalGet(options, internal_key, found);
}

void TableCache::Evict(uint64_t number) {
  MutexLock l(&mu_);
  auto it = map_.find(number);
  if (it == map_.end()) return;
  lru_.erase(it->second.lru_pos);
  map_.erase(it);
}

}  // namespace dkv::storage
