// RespParser: turns the bytes a client sends into commands (argument vectors).
//
// Accepts RESP multibulk requests (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
// commands (`GET k\r\n`, with Redis's quoting rules), exactly as Redis's
// processMultibulkBuffer/processInlineBuffer do, including their limits and
// error texts ("Protocol error: invalid bulk length", ...). Incremental: bytes
// may arrive in any split; completed arguments are moved out of the buffer
// at once, and announced lengths are never preallocated beyond a small cap,
// so memory follows the bytes really received. Owned by one connection; not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/limits.h"

namespace dkv::server {

struct RespParserLimits {
  int64_t proto_max_bulk_len = kDefaultProtoMaxBulkLen;
  size_t inline_max_size = kInlineMaxSize;
  int64_t max_multibulk_len = kMaxMultibulkLen;
  // Before AUTH, Redis (7.0+) accepts only small requests, so an attacker
  // without the password cannot make the server buffer much.
  bool unauthenticated = false;
};

class RespParser {
 public:
  enum class Result {
    kCommand,   // *argv holds one complete command (argc >= 1)
    kNeedMore,  // no complete command in the buffer yet
    kError,     // protocol error: *error holds the text after "ERR "; the
                // connection must reply it and close
  };

  explicit RespParser(RespParserLimits limits = {}) : limits_(limits) {}

  void Append(std::string_view bytes) { buf_.append(bytes); }

  // Extracts the next command. Empty commands (blank inline lines, "*0") are
  // skipped silently, as in Redis. After kError the parser stays in error.
  Result Next(std::vector<std::string>* argv, std::string* error);

  // Bytes held: unparsed input plus arguments of a partial command. The
  // server compares this with client-query-buffer-limit.
  size_t buffered_bytes() const { return buf_.size() - pos_ + partial_bytes_; }
  // True if bytes of an unfinished command are held.
  bool has_partial() const { return buf_.size() > pos_ || multibulk_remaining_ > 0; }

  void set_limits(const RespParserLimits& limits) { limits_ = limits; }
  void set_unauthenticated(bool u) { limits_.unauthenticated = u; }

 private:
  Result ParseInline(std::vector<std::string>* argv, std::string* error);
  Result ParseMultibulk(std::vector<std::string>* argv, std::string* error);
  void Compact();

  RespParserLimits limits_;
  std::string buf_;
  size_t pos_ = 0;  // first unparsed byte of buf_
  bool failed_ = false;
  // Multibulk state, kept across calls.
  int64_t multibulk_remaining_ = 0;  // 0: not inside a multibulk request
  int64_t bulk_len_ = -1;            // -1: the next "$<len>" line is awaited
  // The command being parsed; after a command is handed out it holds the
  // caller's previous argv, whose strings are reused (assign, not allocate)
  // for the next command's arguments. args_used_ counts those filled.
  std::vector<std::string> args_;
  size_t args_used_ = 0;
  size_t partial_bytes_ = 0;
};

// Splits an inline command line into arguments using Redis's rules: spaces
// separate, "double quotes" know \n \r \t \b \a \\ \" \xHH, 'single quotes'
// know \'; a closing quote must be followed by a space or the end. Returns
// false for unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

// Parses a whole decimal int64 the way Redis's string2ll does: optional '-',
// no leading zeros or '+', no spaces. Returns false on anything else.
bool ParseInt64Strict(std::string_view s, int64_t* out);

}  // namespace dkv::server
