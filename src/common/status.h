// Status and Result<T>: how every layer reports what the world did to it.
//
// A Status is OK or a code plus a message that says where and what, e.g.
// Corruption("wal 000042.log", "checksum mismatch at 98304") prints as
// "Corruption: wal 000042.log: checksum mismatch at 98304". Both types are
// [[nodiscard]]: ignoring one is a compile warning, and deliberately dropping
// one must be spelled out with IgnoreError(). Values; safe to copy between
// threads, not to share mutably.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/assert.h"

namespace dkv {

class [[nodiscard]] Status {
 public:
  // Frozen: codes may be persisted in logs and sent on the wire.
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound = 1,
    kCorruption = 2,
    kNotSupported = 3,
    kInvalidArgument = 4,
    kIOError = 5,
    kNoSpace = 6,         // disk full: writes fail, reads keep working
    kBusy = 7,            // try again later (e.g. a lock held by another process)
    kAborted = 8,         // the operation was cancelled or conflicted
    kUnavailable = 9,     // no leader, node shutting down, ...
    kTimedOut = 10,
    kResourceExhausted = 11,  // a configured limit was reached
  };

  Status() = default;
  static Status OK() { return Status(); }

  static Status NotFound(std::string_view where, std::string_view what = {}) {
    return Status(Code::kNotFound, where, what);
  }
  static Status Corruption(std::string_view where, std::string_view what = {}) {
    return Status(Code::kCorruption, where, what);
  }
  static Status NotSupported(std::string_view where, std::string_view what = {}) {
    return Status(Code::kNotSupported, where, what);
  }
  static Status InvalidArgument(std::string_view where, std::string_view what = {}) {
    return Status(Code::kInvalidArgument, where, what);
  }
  static Status IOError(std::string_view where, std::string_view what = {}) {
    return Status(Code::kIOError, where, what);
  }
  static Status NoSpace(std::string_view where, std::string_view what = {}) {
    return Status(Code::kNoSpace, where, what);
  }
  static Status Busy(std::string_view where, std::string_view what = {}) {
    return Status(Code::kBusy, where, what);
  }
  static Status Aborted(std::string_view where, std::string_view what = {}) {
    return Status(Code::kAborted, where, what);
  }
  static Status Unavailable(std::string_view where, std::string_view what = {}) {
    return Status(Code::kUnavailable, where, what);
  }
  static Status TimedOut(std::string_view where, std::string_view what = {}) {
    return Status(Code::kTimedOut, where, what);
  }
  static Status ResourceExhausted(std::string_view where, std::string_view what = {}) {
    return Status(Code::kResourceExhausted, where, what);
  }
  // Builds an IOError (or NoSpace for ENOSPC/EDQUOT) from an errno value.
  static Status FromErrno(std::string_view where, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsAborted() const { return code_ == Code::kAborted; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsTimedOut() const { return code_ == Code::kTimedOut; }
  bool IsResourceExhausted() const { return code_ == Code::kResourceExhausted; }

  // "where: what" without the code name; empty for OK.
  const std::string& message() const { return message_; }
  // "OK" or "<Code>: <message>".
  std::string ToString() const;
  static const char* CodeName(Code code);

  // Returns a copy whose message is prefixed with more context:
  // Status::IOError("write", "disk").WithContext("db /x") -> "IOError: db /x: write: disk".
  Status WithContext(std::string_view where) const;

  // Explicitly drops a status the caller has decided it cannot act on.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Status(Code code, std::string_view where, std::string_view what);

  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that says why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    DKV_ASSERT(!status_.ok());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & {
    DKV_ASSERT(ok());
    return *value_;
  }
  const T& value() const& {
    DKV_ASSERT(ok());
    return *value_;
  }
  T&& value() && {
    DKV_ASSERT(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace dkv

#define DKV_CONCAT_INNER(a, b) a##b
#define DKV_CONCAT(a, b) DKV_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define DKV_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::dkv::Status dkv_status_ = (expr);            \
    if (!dkv_status_.ok()) return dkv_status_;     \
  } while (0)

// `lhs = value of expr`, or return its Status. lhs may be a declaration.
#define DKV_ASSIGN_OR_RETURN(lhs, expr) \
  DKV_ASSIGN_OR_RETURN_IMPL(DKV_CONCAT(dkv_result_, __LINE__), lhs, expr)
#define DKV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
