// Sharded LRU cache (see cache.h). Each of kNumShards shards has its own mutex,
// hash table and two circular lists:
//   lru_:    entries in the cache that no client has pinned, oldest first;
//            only these can be evicted.
//   in_use_: entries in the cache that some client has pinned.
// An entry erased or replaced while pinned leaves both lists and is freed by
// its last Release. An entry's refs count its pins plus one for being in the
// cache; it is freed (and its deleter run) when refs reaches 0.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/assert.h"
#include "common/hash.h"
#include "common/thread_annotations.h"
#include "storage/cache.h"

namespace dkv::storage {

struct Cache::Handle {
  void* value;
  Cache::Deleter deleter;
  Handle* next_hash;  // chain in the shard's hash table
  Handle* next;       // lru_ / in_use_ list
  Handle* prev;
  size_t charge;
  uint64_t hash;
  uint32_t refs;
  bool in_cache;
  uint32_t key_length;
  char key_data[1];  // really key_length bytes

  std::string_view key() const { return std::string_view(key_data, key_length); }
};

namespace {

using Handle = Cache::Handle;

// 16 shards: enough that 2-16 reader threads rarely contend on one mutex,
// few enough that a small cache still gives each shard room for many blocks.
constexpr int kNumShardBits = 4;
constexpr int kNumShards = 1 << kNumShardBits;

// Chained hash table keyed by (key, hash); grows to keep chains ~1 long.
class HandleTable {
 public:
  HandleTable() { Resize(); }
  ~HandleTable() { delete[] list_; }

  Handle* Lookup(std::string_view key, uint64_t hash) { return *FindPointer(key, hash); }

  // Returns the entry with the same key that h replaces, or nullptr.
  Handle* Insert(Handle* h) {
    Handle** ptr = FindPointer(h->key(), h->hash);
    Handle* old = *ptr;
    h->next_hash = (old == nullptr ? nullptr : old->next_hash);
    *ptr = h;
    if (old == nullptr && ++elems_ > length_) Resize();
    return old;
  }

  Handle* Remove(std::string_view key, uint64_t hash) {
    Handle** ptr = FindPointer(key, hash);
    Handle* result = *ptr;
    if (result != nullptr) {
      *ptr = result->next_hash;
      --elems_;
    }
    return result;
  }

 private:
  Handle** FindPointer(std::string_view key, uint64_t hash) {
    Handle** ptr = &list_[hash & (length_ - 1)];
    while (*ptr != nullptr && ((*ptr)->hash != hash || (*ptr)->key() != key)) {
      ptr = &(*ptr)->next_hash;
    }
    return ptr;
  }

  void Resize() {
    size_t new_length = 4;
    while (new_length < elems_) new_length *= 2;
    auto** new_list = new Handle*[new_length]();
    size_t count = 0;
    for (size_t i = 0; i < length_; i++) {
      Handle* h = list_[i];
      while (h != nullptr) {
        Handle* next = h->next_hash;
        Handle** slot = &new_list[h->hash & (new_length - 1)];
        h->next_hash = *slot;
        *slot = h;
        h = next;
        count++;
      }
    }
    DKV_ASSERT(count == elems_);
    delete[] list_;
    list_ = new_list;
    length_ = new_length;
  }

  size_t length_ = 0;
  size_t elems_ = 0;
  Handle** list_ = nullptr;
};

class LRUShard {
 public:
  LRUShard() {
    lru_.next = lru_.prev = &lru_;
    in_use_.next = in_use_.prev = &in_use_;
  }
  ~LRUShard() {
    DKV_ASSERT(in_use_.next == &in_use_);  // a handle outlived the cache
    for (Handle* e = lru_.next; e != &lru_;) {
      Handle* next = e->next;
      DKV_ASSERT(e->in_cache);
      DKV_ASSERT(e->refs == 1);
      e->in_cache = false;
      Unref(e);
      e = next;
    }
  }

  void SetCapacity(size_t capacity) { capacity_ = capacity; }

  Handle* Insert(std::string_view key, uint64_t hash, void* value, size_t charge,
                 Cache::Deleter deleter) {
    void* mem = ::operator new(offsetof(Handle, key_data) + key.size() + 1);
    auto* e = static_cast<Handle*>(mem);
    e->value = value;
    e->deleter = deleter;
    e->next_hash = e->next = e->prev = nullptr;
    e->charge = charge;
    e->hash = hash;
    e->refs = 1;  // the returned pin
    e->in_cache = false;
    e->key_length = static_cast<uint32_t>(key.size());
    std::memcpy(e->key_data, key.data(), key.size());

    MutexLock lock(&mu_);
    if (capacity_ > 0) {
      e->refs++;  // the cache's reference
      e->in_cache = true;
      Append(&in_use_, e);
      usage_ += charge;
      FinishErase(table_.Insert(e));
    }
    // capacity 0 turns caching off: the caller still gets a usable handle.
    while (usage_ > capacity_ && lru_.next != &lru_) {
      Handle* old = lru_.next;
      DKV_ASSERT(old->refs == 1);
      FinishErase(table_.Remove(old->key(), old->hash));
    }
    return e;
  }

  Handle* Lookup(std::string_view key, uint64_t hash) {
    MutexLock lock(&mu_);
    Handle* e = table_.Lookup(key, hash);
    if (e != nullptr) Ref(e);
    return e;
  }

  void Release(Handle* e) {
    MutexLock lock(&mu_);
    Unref(e);
  }

  void Erase(std::string_view key, uint64_t hash) {
    MutexLock lock(&mu_);
    FinishErase(table_.Remove(key, hash));
  }

  size_t TotalCharge() {
    MutexLock lock(&mu_);
    return usage_;
  }

 private:
  static void Append(Handle* list, Handle* e) {
    e->next = list;
    e->prev = list->prev;
    e->prev->next = e;
    e->next->prev = e;
  }
  static void Unlink(Handle* e) {
    e->next->prev = e->prev;
    e->prev->next = e->next;
  }

  void Ref(Handle* e) REQUIRES(mu_) {
    if (e->refs == 1 && e->in_cache) {  // first pin: move from lru_ to in_use_
      Unlink(e);
      Append(&in_use_, e);
    }
    e->refs++;
  }

  void Unref(Handle* e) REQUIRES(mu_) {
    DKV_ASSERT(e->refs > 0);
    e->refs--;
    if (e->refs == 0) {
      DKV_ASSERT(!e->in_cache);
      e->deleter(e->key(), e->value);
      ::operator delete(e);
    } else if (e->in_cache && e->refs == 1) {  // last pin gone: evictable again
      Unlink(e);
      Append(&lru_, e);
    }
  }

  // Finishes removing e (already out of the hash table) from the cache.
  void FinishErase(Handle* e) REQUIRES(mu_) {
    if (e == nullptr) return;
    DKV_ASSERT(e->in_cache);
    Unlink(e);
    e->in_cache = false;
    usage_ -= e->charge;
    Unref(e);
  }

  Mutex mu_;
  size_t capacity_ = 0;
  size_t usage_ GUARDED_BY(mu_) = 0;
  Handle lru_ GUARDED_BY(mu_);     // dummy head
  Handle in_use_ GUARDED_BY(mu_);  // dummy head
  HandleTable table_ GUARDED_BY(mu_);
};

class ShardedLRUCache final : public Cache {
 public:
  explicit ShardedLRUCache(size_t capacity) {
    const size_t per_shard = (capacity + kNumShards - 1) / kNumShards;
    for (auto& s : shards_) s.SetCapacity(per_shard);
  }

  Handle* Insert(std::string_view key, void* value, size_t charge, Deleter deleter) override {
    const uint64_t hash = Hash64(key);
    return Shard(hash).Insert(key, hash, value, charge, deleter);
  }
  Handle* Lookup(std::string_view key) override {
    const uint64_t hash = Hash64(key);
    return Shard(hash).Lookup(key, hash);
  }
  void Release(Handle* handle) override { Shard(handle->hash).Release(handle); }
  void* Value(Handle* handle) override { return handle->value; }
  void Erase(std::string_view key) override {
    const uint64_t hash = Hash64(key);
    Shard(hash).Erase(key, hash);
  }
  uint64_t NewId() override { return next_id_.fetch_add(1, std::memory_order_relaxed) + 1; }
  size_t TotalCharge() const override {
    size_t total = 0;
    for (auto& s : shards_) total += s.TotalCharge();
    return total;
  }

 private:
  // The top bits pick the shard; the hash table uses the low bits.
  LRUShard& Shard(uint64_t hash) const { return shards_[hash >> (64 - kNumShardBits)]; }

  mutable LRUShard shards_[kNumShards];
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace

std::shared_ptr<Cache> NewLRUCache(size_t capacity_bytes) {
  return std::make_shared<ShardedLRUCache>(capacity_bytes);
}

}  // namespace dkv::storage
