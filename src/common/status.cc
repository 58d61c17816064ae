#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace dkv {

Status::Status(Code code, std::string_view where, std::string_view what) : code_(code) {
  message_.reserve(where.size() + what.size() + 2);
  message_.append(where);
  if (!what.empty()) {
    if (!message_.empty()) message_.append(": ");
    message_.append(what);
  }
}

Status Status::FromErrno(std::string_view where, int err) {
  const char* text = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return NoSpace(where, text);
  if (err == ENOENT) return NotFound(where, text);
  return IOError(where, text);
}

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kCorruption: return "Corruption";
    case Code::kNotSupported: return "NotSupported";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kIOError: return "IOError";
    case Code::kNoSpace: return "NoSpace";
    case Code::kBusy: return "Busy";
    case Code::kAborted: return "Aborted";
    case Code::kUnavailable: return "Unavailable";
    case Code::kTimedOut: return "TimedOut";
    case Code::kResourceExhausted: return "ResourceExhausted";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  if (!message_.empty()) {
    out.append(": ");
    out.append(message_);
  }
  return out;
}

Status Status::WithContext(std::string_view where) const {
  if (ok()) return *this;
  Status s;
  s.code_ = code_;
  s.message_.assign(where);
  if (!message_.empty()) {
    s.message_.append(": ");
    s.message_.append(message_);
  }
  return s;
}

}  // namespace dkv
