// ValueCache: a bounded in-memory cache of decoded values by key, in front
// of the engine's point reads (like RocksDB's row cache).
//
// The Keyspace keeps it coherent itself and writes through: a write stores
// its value (reusing the entry's buffer when it fits), an engine read fills
// it, a delete erases, a flush clears; so within the budget every live key
// is served from memory, as in Redis. Layout, for the GET path: a flat
// open-addressing table (linear probing, power-of-two size, backward-shift
// deletion) of {key hash, entry pointer}, and each entry is ONE allocation
// holding its header, key and payload; a hit costs two cache-line misses
// (slot, entry) and no division, where std::unordered_map cost three and a
// modulo. One entry per 64-bit hash: an insert replaces an entry with the
// same hash, and a find checks the full key. Over its byte budget it evicts
// entries in slot order from a rotating cursor, i.e. close to random (like
// Redis's allkeys-random): cheap and good enough for a cache whose misses
// cost one engine read. Owned by the Keyspace; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

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

  explicit ValueCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {
    slots_.resize(kMinSlots);
  }
  ~ValueCache() { Clear(); }
  ValueCache(const ValueCache&) = delete;
  ValueCache& operator=(const ValueCache&) = delete;

  // The cached value of `key` (hash h), if any.
  std::optional<View> Find(uint64_t h, std::string_view key) const {
    const size_t i = FindSlot(h);
    if (i == kNone) return std::nullopt;
    const Entry* e = slots_[i].entry;
    if (!KeyIs(e, key)) return std::nullopt;
    return View{e->type, e->expire_at_ms, std::string_view(e->data() + e->key_len, e->value_len)};
  }
  // Caches `value` for `key`, replacing any entry with the same hash.
  void Insert(uint64_t h, std::string_view key, const StoredValue& value) {
    Insert(h, key, value.type, value.expire_at_ms, value.payload);
  }
  // The same from the parts of a value.
  void Insert(uint64_t h, std::string_view key, ValueType type, int64_t expire_at_ms,
              std::string_view payload) {
    if (capacity_bytes_ == 0) return;
    const size_t need = key.size() + payload.size();
    size_t i = FindSlot(h);
    if (i == kNone) {
      if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) Grow();
      i = EmptySlotFor(h);
      slots_[i].hash = h;
      slots_[i].entry = NewEntry(need);
      size_++;
    } else if (slots_[i].entry->capacity < need) {
      bytes_ -= Charge(slots_[i].entry);
      FreeEntry(slots_[i].entry);
      slots_[i].entry = NewEntry(need);
    } else {
      bytes_ -= Charge(slots_[i].entry);
    }
    Fill(slots_[i].entry, key, type, expire_at_ms, payload);
    bytes_ += Charge(slots_[i].entry);
    Evict(h);
  }
  // If `key` is cached, its entry becomes `value`; otherwise nothing.
  void UpdateIfPresent(uint64_t h, std::string_view key, const StoredValue& value) {
    const size_t i = FindSlot(h);
    if (i == kNone) return;
    if (!KeyIs(slots_[i].entry, key)) {
      EraseSlot(i);  // another key with the same hash: drop it
      return;
    }
    Insert(h, key, value);
  }
  void Erase(uint64_t h, std::string_view key) {
    const size_t i = FindSlot(h);
    if (i == kNone || !KeyIs(slots_[i].entry, key)) return;
    EraseSlot(i);
  }
  void Clear() {
    for (Slot& s : slots_) {
      if (s.entry != nullptr) FreeEntry(s.entry);
    }
    slots_.assign(kMinSlots, Slot{});
    size_ = 0;
    bytes_ = 0;
    evict_cursor_ = 0;
  }
  // Changes the byte budget, evicting down to it now; 0 turns the cache off
  // and empties it.
  void SetCapacity(size_t capacity_bytes) {
    capacity_bytes_ = capacity_bytes;
    if (capacity_bytes_ == 0) {
      Clear();
      return;
    }
    Evict(0);
  }
  size_t capacity() const { return capacity_bytes_; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return size_; }

 private:
  // Header of one allocation; the key then the payload follow it.
  struct Entry {
    int64_t expire_at_ms;
    uint32_t key_len;
    uint32_t value_len;
    uint32_t capacity;  // bytes for key + payload after the header
    ValueType type;
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  };
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;  // nullptr: empty
  };
  static constexpr size_t kNone = ~size_t{0};
  // 16 slots to start; the table doubles past 3/4 full (a probe then stays
  // short) and never shrinks except on Clear.
  static constexpr size_t kMinSlots = 16;
  static constexpr size_t kMaxLoadNum = 3;
  static constexpr size_t kMaxLoadDen = 4;
  // Bytes charged per entry beyond key + payload capacity: its header, its
  // slot at the lowest load, and the allocator's own header, roughly.
  static constexpr size_t kEntryOverheadBytes = 64;

  size_t mask() const { return slots_.size() - 1; }
  static bool KeyIs(const Entry* e, std::string_view key) {
    return e->key_len == key.size() && std::memcmp(e->data(), key.data(), key.size()) == 0;
  }
  static size_t Charge(const Entry* e) { return kEntryOverheadBytes + e->capacity; }
  static Entry* NewEntry(size_t capacity) {
    DKV_ASSERT(capacity <= UINT32_MAX);
    void* p = ::operator new(sizeof(Entry) + capacity);
    Entry* e = new (p) Entry{};
    e->capacity = static_cast<uint32_t>(capacity);
    return e;
  }
  static void FreeEntry(Entry* e) {
    e->~Entry();
    ::operator delete(static_cast<void*>(e));
  }
  // REQUIRES: e->capacity >= key.size() + payload.size().
  static void Fill(Entry* e, std::string_view key, ValueType type, int64_t expire_at_ms,
                   std::string_view payload) {
    DKV_DASSERT(e->capacity >= key.size() + payload.size());
    std::memcpy(e->data(), key.data(), key.size());
    if (!payload.empty()) std::memcpy(e->data() + key.size(), payload.data(), payload.size());
    e->key_len = static_cast<uint32_t>(key.size());
    e->value_len = static_cast<uint32_t>(payload.size());
    e->expire_at_ms = expire_at_ms;
    e->type = type;
  }
  size_t FindSlot(uint64_t h) const {
    for (size_t i = h & mask();; i = (i + 1) & mask()) {
      if (slots_[i].entry == nullptr) return kNone;
      if (slots_[i].hash == h) return i;
    }
  }
  size_t EmptySlotFor(uint64_t h) const {
    size_t i = h & mask();
    while (slots_[i].entry != nullptr) i = (i + 1) & mask();
    return i;
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    for (const Slot& s : old) {
      if (s.entry != nullptr) slots_[EmptySlotFor(s.hash)] = s;
    }
  }
  // Frees slot i's entry and shifts later members of its probe run back, so
  // no tombstones are needed.
  void EraseSlot(size_t i) {
    bytes_ -= Charge(slots_[i].entry);
    FreeEntry(slots_[i].entry);
    slots_[i] = Slot{};
    size_--;
    for (size_t j = (i + 1) & mask(); slots_[j].entry != nullptr; j = (j + 1) & mask()) {
      const size_t home = slots_[j].hash & mask();
      // slots_[j] may move to the hole at i if its home is not in (i, j].
      const bool home_between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (home_between) continue;
      slots_[i] = slots_[j];
      slots_[j] = Slot{};
      i = j;
    }
  }
  // Evicts until within budget, never the entry just written (hash keep).
  void Evict(uint64_t keep) {
    while (bytes_ > capacity_bytes_ && size_ > 1) {
      evict_cursor_ &= mask();
      const Slot& s = slots_[evict_cursor_];
      if (s.entry == nullptr || s.hash == keep) {
        evict_cursor_++;
        continue;
      }
      EraseSlot(evict_cursor_);  // may shift another entry into the cursor's slot
    }
    DKV_DASSERT(bytes_ <= capacity_bytes_ || size_ <= 1);
  }

  size_t capacity_bytes_;
  size_t bytes_ = 0;
  size_t size_ = 0;
  size_t evict_cursor_ = 0;
  std::vector<Slot> slots_;  // size a power of two
};

}  // namespace dkv::server
