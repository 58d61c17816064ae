// ValueCache: a bounded in-memory cache of decoded values by key, in front
// of the engine's point reads (like RocksDB's row cache).
//
// The Keyspace fills it on an engine read and keeps it coherent itself: a
// write updates an entry that is present (reusing its buffer) and inserts
// nothing, a delete erases, a flush clears; so a GET-heavy client is served
// from memory while a write-only one pays no cache cost. Entries are found by
// the key's 64-bit hash and checked against the full key. Over its byte
// budget it evicts entries in the hash table's iteration order, which is
// close to random (like Redis's allkeys-random): cheap and good enough for a
// cache whose misses cost one engine read. Owned by the Keyspace; not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/assert.h"
#include "server/stored_value.h"

namespace dkv::server {

class ValueCache {
 public:
  // A cached value, valid until the next call that changes the cache.
  struct View {
    ValueType type;
    int64_t expire_at_ms;
    std::string_view payload;
  };

  explicit ValueCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The cached value of `key` (hash h), if any.
  std::optional<View> Find(uint64_t h, std::string_view key) const {
    auto it = map_.find(h);
    if (it == map_.end() || !KeyIs(it->second, key)) return std::nullopt;
    const Entry& e = it->second;
    return View{e.type, e.expire_at_ms, std::string_view(e.data).substr(e.key_len)};
  }
  // Caches `value` for `key`, replacing any entry with the same hash.
  void Insert(uint64_t h, std::string_view key, const StoredValue& value) {
    if (capacity_bytes_ == 0) return;
    auto [it, inserted] = map_.try_emplace(h);
    Entry& e = it->second;
    if (!inserted) bytes_ -= Charge(e);
    Fill(&e, key, value);
    bytes_ += Charge(e);
    Evict(h);
  }
  // If `key` is cached, its entry becomes `value`; otherwise nothing.
  void UpdateIfPresent(uint64_t h, std::string_view key, const StoredValue& value) {
    auto it = map_.find(h);
    if (it == map_.end()) return;
    Entry& e = it->second;
    bytes_ -= Charge(e);
    if (!KeyIs(e, key)) {
      map_.erase(it);  // another key with the same hash: drop it
      return;
    }
    Fill(&e, key, value);
    bytes_ += Charge(e);
    Evict(h);
  }
  void Erase(uint64_t h, std::string_view key) {
    auto it = map_.find(h);
    if (it == map_.end() || !KeyIs(it->second, key)) return;
    bytes_ -= Charge(it->second);
    map_.erase(it);
  }
  void Clear() {
    map_.clear();
    bytes_ = 0;
  }
  size_t bytes() const { return bytes_; }
  size_t size() const { return map_.size(); }

 private:
  // Key and payload share one buffer (key first), so a hit touches one
  // allocation besides the node.
  struct Entry {
    std::string data;
    size_t key_len = 0;
    int64_t expire_at_ms = 0;
    ValueType type = ValueType::kString;
  };
  // Bytes charged per entry beyond its buffer: the node, its hash bucket and
  // the string header, roughly.
  static constexpr size_t kEntryOverheadBytes = 80;

  static bool KeyIs(const Entry& e, std::string_view key) {
    return std::string_view(e.data).substr(0, e.key_len) == key;
  }
  static void Fill(Entry* e, std::string_view key, const StoredValue& value) {
    e->data.assign(key);
    e->data.append(value.payload);
    e->key_len = key.size();
    e->expire_at_ms = value.expire_at_ms;
    e->type = value.type;
  }
  static size_t Charge(const Entry& e) { return kEntryOverheadBytes + e.data.capacity(); }
  // Evicts until within budget, never the entry just written (h).
  void Evict(uint64_t keep) {
    auto it = map_.begin();
    while (bytes_ > capacity_bytes_ && it != map_.end()) {
      if (it->first == keep) {
        ++it;
        continue;
      }
      bytes_ -= Charge(it->second);
      it = map_.erase(it);
    }
    DKV_DASSERT(bytes_ <= capacity_bytes_ || map_.size() <= 1);
  }

  size_t capacity_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<uint64_t, Entry> map_;
};

}  // namespace dkv::server
