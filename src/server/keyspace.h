// Keyspace: Redis's database 0 — typed values with optional expiry — stored
// in a KvEngine, so one code path serves a single node today and a Raft
// shard later (DESIGN.md §1).
//
// Each key is stored under the engine key 'k' + user key, its value encoded
// as type byte + fixed64 expiry (ms since the epoch, 0 = none) + payload
// (docs/formats/keyspace.md; frozen), so expiry survives a restart. Expired
// keys vanish lazily when touched and actively in bounded cycles, driven by
// an in-memory index of keys with a TTL (rebuilt from the engine at Open).
// A value cache (ValueCache, written through by every write) serves reads
// from memory within its budget. A set of key hashes (KeyHashSet) counts keys without reading the
// engine on each write and answers lookups of absent keys without an engine read. Used by the
// event-loop thread only; not thread-safe (the engine below is).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/key_hash_set.h"
#include "server/kv_engine.h"
#include "server/limits.h"
#include "server/stored_value.h"
#include "server/value_cache.h"

namespace dkv::server {

class Keyspace {
 public:
  // value_cache_bytes: budget of the cache of decoded values (0: off).
  Keyspace(KvEngine* engine, Clock* clock, size_t value_cache_bytes = kValueCacheBytes)
      : engine_(engine), clock_(clock), cache_(value_cache_bytes) {}

  // Reads the engine once to rebuild the expiry index and the key count.
  Status Load();

  int64_t NowMs() const { return clock_->NowMicros() / 1000; }
  int64_t NowMicros() const { return clock_->NowMicros(); }

  // The live value of `key`, or nullopt if absent or expired (an expired
  // key is deleted on the way, as Redis's lazy expiry does).
  Result<std::optional<StoredValue>> Lookup(std::string_view key);
  // The same without copying the payload (GET's path): the view is valid
  // until the next call on this Keyspace.
  struct ValueView {
    ValueType type;
    int64_t expire_at_ms;
    std::string_view payload;
  };
  Result<std::optional<ValueView>> LookupView(std::string_view key);
  // Stores the value (replacing any old one; its expiry is the new one's).
  Status Set(std::string_view key, const StoredValue& value);
  // The same for a string value, without building a StoredValue (SET's path).
  Status SetString(std::string_view key, std::string_view payload, int64_t expire_at_ms);
  // Deletes the key if live; *existed says whether it was.
  Status Delete(std::string_view key, bool* existed);
  // Sets several keys in one atomic engine write (MSET).
  Status SetMany(const std::vector<std::pair<std::string, StoredValue>>& kvs);
  // Deletes every key. Returns how many were deleted via *count.
  Status Clear(int64_t* count);

  // Batches: between BeginBatch and CommitBatch every write is held and then
  // applied as one atomic engine write (EXEC, RENAME), while reads in between
  // see the held writes. Nestable; the outermost CommitBatch applies. NB: a
  // scan (ScanKeys, Clear) inside a batch first applies what is held, so a
  // transaction that scans is atomic only from that point on.
  void BeginBatch();
  Status CommitBatch();

  // Up to `count` live keys >= start in key order; *next is the key to resume
  // from, empty when the scan is complete.
  Status ScanKeys(std::string_view start, size_t count, std::vector<std::string>* keys,
                  std::string* next);
  // Number of keys (counting keys expired but not yet reclaimed, as Redis's
  // DBSIZE does).
  int64_t Size() const { return static_cast<int64_t>(key_hashes_.size()); }
  int64_t ExpiresCount() const { return static_cast<int64_t>(expires_.size()); }

  // True if `key` has a TTL that has passed (it may not be deleted yet).
  // Reads only the expiry index.
  bool IsExpired(std::string_view key) const;

  // Deletes at most `max_keys` keys whose time has passed; returns how many.
  Result<int> ActiveExpireCycle(int max_keys);

  // Called with each key a write changed (WATCH, cache invalidation later).
  void set_on_change(std::function<void(std::string_view)> fn) { on_change_ = std::move(fn); }

  // Counters for INFO.
  int64_t dirty() const { return dirty_; }
  int64_t expired_keys() const { return expired_keys_; }
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }
  size_t cached_values() const { return cache_.size(); }
  // The value cache: its budget (CONFIG SET value-cache-size), the bytes it
  // charges now, and how point reads outside a batch fared in it.
  void SetValueCacheBytes(size_t bytes) { cache_.SetCapacity(bytes); }
  size_t value_cache_capacity() const { return cache_.capacity(); }
  size_t value_cache_bytes() const { return cache_.bytes(); }
  int64_t value_cache_hits() const { return cache_hits_; }
  int64_t value_cache_misses() const { return cache_misses_; }
  KvEngine* engine() { return engine_; }

  // SCAN cursors: Redis's cursors are integers, ours are resume keys, so a
  // bounded table maps one to the other. A cursor older than the last
  // kMaxScanCursors is forgotten (SCAN then answers "invalid cursor").
  uint64_t SaveScanCursor(std::string resume_key);
  bool FindScanCursor(uint64_t cursor, std::string* resume_key) const;

 private:
  static std::string EngineKey(std::string_view key);
  void IndexExpiry(std::string_view key, int64_t expire_at_ms);
  void Changed(std::string_view key);
  Status DeleteExpired(const std::string& key);
  Status EngineGet(const std::string& engine_key, std::string* value);
  Status EngineApply(std::vector<KvWrite>&& writes);
  // One put/delete; outside a batch straight to the engine (no KvWrite).
  Status EnginePut(std::string_view engine_key, std::string_view value);
  Status EngineDelete(std::string_view engine_key);
  // EngineKey(key) in a reused buffer, valid until the next call.
  const std::string& ScratchEngineKey(std::string_view key);
  Status FlushBatch();
  Status SetParts(std::string_view key, ValueType type, int64_t expire_at_ms,
                  std::string_view payload);

  KvEngine* engine_;
  Clock* clock_;
  std::unordered_map<std::string, int64_t> expires_;   // key -> expire_at_ms
  std::set<std::pair<int64_t, std::string>> by_time_;  // (expire_at_ms, key)
  ValueCache cache_;           // decoded values by user key; coherent with the engine
  StoredValue scratch_;        // LookupView's value when it is not cached
  std::string key_scratch_;    // ScratchEngineKey's buffer
  std::string value_scratch_;  // SetParts' encoded value, reused
  KeyHashSet key_hashes_;      // Hash64 of every stored user key
  int64_t dirty_ = 0;
  int64_t expired_keys_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  int64_t cache_hits_ = 0;
  int64_t cache_misses_ = 0;
  std::function<void(std::string_view)> on_change_;
  std::map<uint64_t, std::string> scan_cursors_;
  int batch_depth_ = 0;
  std::vector<KvWrite> pending_;
  std::map<std::string, std::optional<std::string>> overlay_;  // engine key -> value or deleted
  uint64_t next_scan_cursor_ = 1;
};

}  // namespace dkv::server
