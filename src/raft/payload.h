// Payload: the bytes of one log entry, immutable and shared by reference count.
//
// An entry's data travels from a proposal to the unstable log, into a MsgApp per
// follower, into a Ready's entries and committed entries, and into the log
// storage. As a std::string each of those hops was an allocation and a copy; a
// Payload is allocated once and every hop copies a pointer. Owned by the raft
// layer (src/raft); a value type. Copies may be handed to and destroyed on other
// threads (the count is atomic); the bytes never change after construction.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

namespace dkv::raft {

class Payload {
 public:
  // The empty payload: no allocation.
  Payload() noexcept = default;
  // Copies the bytes once. Implicit from std::string and C strings so an Entry
  // reads like it holds a string (Entry{term, index, type, "x"}, e.data = s).
  Payload(const std::string& s) : Payload(std::string_view(s)) {}  // NOLINT(runtime/explicit)
  Payload(const char* s) : Payload(std::string_view(s)) {}         // NOLINT(runtime/explicit)
  // Explicit, so `a_string_view == a_payload` has one meaning (string_view's).
  explicit Payload(std::string_view s);

  Payload(const Payload& other) noexcept : rep_(other.rep_) { Ref(); }
  Payload(Payload&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  Payload& operator=(const Payload& other) noexcept {
    Payload copy(other);
    std::swap(rep_, copy.rep_);
    return *this;
  }
  Payload& operator=(Payload&& other) noexcept {
    Payload moved(std::move(other));
    std::swap(rep_, moved.rep_);
    return *this;
  }
  ~Payload() { Unref(); }

  const char* data() const noexcept { return rep_ == nullptr ? "" : rep_->bytes(); }
  size_t size() const noexcept { return rep_ == nullptr ? 0 : rep_->size; }
  bool empty() const noexcept { return size() == 0; }
  const char* begin() const noexcept { return data(); }
  const char* end() const noexcept { return data() + size(); }
  // REQUIRES: i < size().
  char operator[](size_t i) const noexcept { return data()[i]; }

  std::string_view view() const noexcept { return {data(), size()}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT(runtime/explicit)
  std::string ToString() const { return std::string(view()); }

  // Holders of the same bytes (1 for a sole owner, 0 for the empty payload). For tests.
  uint32_t use_count() const noexcept {
    return rep_ == nullptr ? 0 : rep_->refs.load(std::memory_order_relaxed);
  }

  friend bool operator==(const Payload& a, const Payload& b) noexcept {
    return a.rep_ == b.rep_ || a.view() == b.view();
  }

 private:
  // One allocation: this header, then the bytes.
  struct Rep {
    std::atomic<uint32_t> refs;
    uint64_t size;
    const char* bytes() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  };

  void Ref() const noexcept {
    if (rep_ != nullptr) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref() noexcept {
    if (rep_ != nullptr && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) Free(rep_);
  }
  static void Free(Rep* rep) noexcept;

  Rep* rep_ = nullptr;
};

// Prints the bytes (for test failure messages).
std::ostream& operator<<(std::ostream& os, const Payload& p);

}  // namespace dkv::raft
