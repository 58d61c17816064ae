// ReplyBuilder: the only code that writes RESP bytes for replies.
//
// Handlers say what they reply (a bulk string, a null, a map, a double...)
// and the builder writes it in the connection's protocol: RESP2 by default,
// RESP3 after `HELLO 3` (maps, nulls, doubles, booleans and verbatim strings
// get their own types; under RESP2 they fall back the way Redis does). It
// appends to a string owned by the caller. Not thread-safe; one per reply
// stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dkv::server {

class ReplyBuilder {
 public:
  explicit ReplyBuilder(std::string* out, int protocol = 2) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }
  std::string* out() { return out_; }

  // "+OK". REQUIRES: s has no CR or LF.
  void Simple(std::string_view s);
  void Ok() { Simple("OK"); }
  // "-ERR ...": `message` is the whole text after '-', e.g.
  // "ERR syntax error" or "WRONGTYPE Operation against ...". CR/LF in it are
  // replaced by spaces, as Redis does.
  void Error(std::string_view message);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  // The null of a missing string: "$-1" (RESP2) or "_" (RESP3).
  void Null();
  // The null of a missing array (EXEC aborted by WATCH): "*-1" or "_".
  void NullArray();
  void ArrayHeader(int64_t n);
  // A map of n pairs: "%n" (RESP3) or an array of 2n (RESP2).
  void MapHeader(int64_t n);
  // A set of n: "~n" (RESP3) or an array (RESP2).
  void SetHeader(int64_t n);
  // ",<double>" (RESP3) or the same text as a bulk string (RESP2).
  void Double(double v);
  // "#t"/"#f" (RESP3) or ":1"/":0" (RESP2).
  void Boolean(bool v);
  // "=len\r\ntxt:..." (RESP3) or a bulk string (RESP2).
  void Verbatim(std::string_view text);

  // Formats a double as Redis does in replies (%.17g, "inf"/"-inf"/"nan").
  static std::string FormatDouble(double v);

 private:
  std::string* out_;
  int protocol_;
};

}  // namespace dkv::server
