#include "server/resp_parser.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "common/assert.h"

namespace dkv::server {

bool ParseInt64Strict(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  size_t p = 0;
  const size_t n = line.size();
  while (true) {
    while (p < n && IsSpace(line[p])) p++;
    if (p >= n) return true;
    std::string current;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (p >= n) return false;  // unterminated quotes
        if (line[p] == '\\' && p + 3 < n && line[p + 1] == 'x' && HexValue(line[p + 2]) >= 0 &&
            HexValue(line[p + 3]) >= 0) {
          current.push_back(static_cast<char>(HexValue(line[p + 2]) * 16 + HexValue(line[p + 3])));
          p += 3;
        } else if (line[p] == '\\' && p + 1 < n) {
          p++;
          char c;
          switch (line[p]) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              c = line[p];
              break;
          }
          current.push_back(c);
        } else if (line[p] == '"') {
          // The closing quote must be followed by a space or the end.
          if (p + 1 < n && !IsSpace(line[p + 1])) return false;
          done = true;
        } else {
          current.push_back(line[p]);
        }
      } else if (in_single) {
        if (p >= n) return false;
        if (line[p] == '\\' && p + 1 < n && line[p + 1] == '\'') {
          p++;
          current.push_back('\'');
        } else if (line[p] == '\'') {
          if (p + 1 < n && !IsSpace(line[p + 1])) return false;
          done = true;
        } else {
          current.push_back(line[p]);
        }
      } else {
        if (p >= n) {
          done = true;
          break;
        }
        switch (line[p]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(line[p]);
            break;
        }
      }
      if (p < n) p++;
    }
    out->push_back(std::move(current));
  }
}

void RespParser::Compact() {
  // Drop consumed bytes once they dominate, so the buffer does not grow with
  // the total bytes ever received (amortized O(1) per byte).
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
    if (buf_.capacity() > kMaxPreallocBytes) buf_.shrink_to_fit();
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

RespParser::Result RespParser::Next(std::vector<std::string>* argv, std::string* error) {
  if (failed_) {
    *error = "Protocol error: parser already failed";
    return Result::kError;
  }
  while (true) {
    Result r;
    if (multibulk_remaining_ == 0) {
      if (pos_ >= buf_.size()) {
        Compact();
        return Result::kNeedMore;
      }
      r = (buf_[pos_] == '*') ? ParseMultibulk(argv, error) : ParseInline(argv, error);
    } else {
      r = ParseMultibulk(argv, error);
    }
    if (r == Result::kError) failed_ = true;
    if (r == Result::kCommand && argv->empty()) continue;  // empty command: skip
    if (r != Result::kError) Compact();
    return r;
  }
}

RespParser::Result RespParser::ParseInline(std::vector<std::string>* argv, std::string* error) {
  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) {
    if (rest.size() > limits_.inline_max_size) {
      *error = "Protocol error: too big inline request";
      return Result::kError;
    }
    return Result::kNeedMore;
  }
  std::string_view line = rest.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  argv->clear();
  if (!SplitInlineArgs(line, argv)) {
    *error = "Protocol error: unbalanced quotes in request";
    return Result::kError;
  }
  pos_ += nl + 1;
  return Result::kCommand;  // may be empty: Next() skips it
}

RespParser::Result RespParser::ParseMultibulk(std::vector<std::string>* argv, std::string* error) {
  if (multibulk_remaining_ == 0) {
    DKV_ASSERT(buf_[pos_] == '*');
    std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    size_t cr = rest.find('\r');
    if (cr == std::string_view::npos) {
      if (rest.size() > limits_.inline_max_size) {
        *error = "Protocol error: too big mbulk count string";
        return Result::kError;
      }
      return Result::kNeedMore;
    }
    if (cr + 1 >= rest.size()) return Result::kNeedMore;  // wait for the '\n'
    int64_t count = 0;
    bool ok = ParseInt64Strict(rest.substr(1, cr - 1), &count);
    if (!ok || count > limits_.max_multibulk_len) {
      *error = "Protocol error: invalid multibulk length";
      return Result::kError;
    }
    if (limits_.unauthenticated && count > kUnauthenticatedMaxArgs) {
      *error = "Protocol error: unauthenticated multibulk length";
      return Result::kError;
    }
    pos_ += cr + 2;
    if (count <= 0) {
      argv->clear();
      return Result::kCommand;  // empty: skipped
    }
    multibulk_remaining_ = count;
    bulk_len_ = -1;
    args_used_ = 0;
    args_.reserve(static_cast<size_t>(std::min<int64_t>(count, kMaxPreallocArgs)));
    partial_bytes_ = 0;
  }
  while (multibulk_remaining_ > 0) {
    std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    if (bulk_len_ == -1) {
      size_t cr = rest.find('\r');
      if (cr == std::string_view::npos) {
        if (rest.size() > limits_.inline_max_size) {
          *error = "Protocol error: too big bulk count string";
          return Result::kError;
        }
        return Result::kNeedMore;
      }
      if (cr + 1 >= rest.size()) return Result::kNeedMore;
      if (rest[0] != '$') {
        *error = std::string("Protocol error: expected '$', got '") + rest[0] + "'";
        return Result::kError;
      }
      int64_t len = 0;
      bool ok = ParseInt64Strict(rest.substr(1, cr - 1), &len);
      if (!ok || len < 0 || len > limits_.proto_max_bulk_len) {
        *error = "Protocol error: invalid bulk length";
        return Result::kError;
      }
      if (limits_.unauthenticated && len > kUnauthenticatedMaxBulkLen) {
        *error = "Protocol error: unauthenticated bulk length";
        return Result::kError;
      }
      pos_ += cr + 2;
      bulk_len_ = len;
      // Reserve what will surely be needed soon, never the announced size
      // in full: a liar announcing 512 MiB costs nothing until it sends it.
      size_t want = static_cast<size_t>(len) + 2;
      if (buf_.size() - pos_ < want && want <= kMaxPreallocBytes) buf_.reserve(pos_ + want);
      continue;
    }
    size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (rest.size() < need) return Result::kNeedMore;
    // Redis does not check the trailing CRLF bytes; neither do we.
    if (args_used_ < args_.size()) {
      args_[args_used_].assign(rest.data(), static_cast<size_t>(bulk_len_));
    } else {
      args_.emplace_back(rest.data(), static_cast<size_t>(bulk_len_));
    }
    args_used_++;
    partial_bytes_ += static_cast<size_t>(bulk_len_);
    pos_ += need;
    bulk_len_ = -1;
    multibulk_remaining_--;
    if (pos_ > (1u << 20)) Compact();  // big pipelines: free consumed bytes early
  }
  args_.resize(args_used_);
  argv->swap(args_);
  // args_ now holds the caller's previous arguments, kept for reuse unless
  // large: a one-off huge value must not stay allocated per connection.
  if (args_.size() > kMaxPreallocArgs) args_.clear();
  for (std::string& a : args_) {
    if (a.capacity() > kMaxPreallocBytes) std::string().swap(a);
  }
  args_used_ = 0;
  partial_bytes_ = 0;
  return Result::kCommand;
}

}  // namespace dkv::server
