// Cache: a sharded LRU map from keys to reference-counted values with a byte
// capacity (the block cache). Entries in use are pinned until Release; the
// deleter runs when an entry is both evicted (or erased) and unpinned.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace dkv::storage {

class Cache {
 public:
  struct Handle;  // opaque
  using Deleter = void (*)(std::string_view key, void* value);

  virtual ~Cache() = default;
  // Inserts (replacing any entry with the key) and returns a pinned handle.
  virtual Handle* Insert(std::string_view key, void* value, size_t charge, Deleter deleter) = 0;
  // A pinned handle, or nullptr on a miss.
  virtual Handle* Lookup(std::string_view key) = 0;
  virtual void Release(Handle* handle) = 0;
  // REQUIRES: handle pinned
  virtual void* Value(Handle* handle) = 0;
  virtual void Erase(std::string_view key) = 0;
  // A fresh id to prefix keys with, so several users can share one cache.
  virtual uint64_t NewId() = 0;
  virtual size_t TotalCharge() const = 0;
};

std::shared_ptr<Cache> NewLRUCache(size_t capacity_bytes);

}  // namespace dkv::storage
