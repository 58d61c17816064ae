#include "kvload/protocol.h"

#include <strings.h>
#include <cstdlib>

namespace dkv::kvload {

namespace {

class RespProtocol final : public Protocol {
 public:
  const char* Name() const override { return "resp"; }

  void AppendRequest(Op op, std::string_view key, std::string_view value,
                     std::string* out) const override {
    if (op == Op::kPut) {
      out->append("*3\r\n$3\r\nSET\r\n");
      AppendBulk(key, out);
      AppendBulk(value, out);
    } else {
      out->append("*2\r\n$3\r\nGET\r\n");
      AppendBulk(key, out);
    }
  }

  ParseResult Parse(std::string_view data, size_t* consumed, bool* close_after) const override {
    *close_after = false;
    size_t eol = data.find("\r\n");
    if (eol == std::string_view::npos) return ParseResult::kIncomplete;
    switch (data[0]) {
      case '+':
      case ':':
        *consumed = eol + 2;
        return ParseResult::kOk;
      case '-':
        *consumed = eol + 2;
        return ParseResult::kError;
      case '$': {
        long len = std::strtol(std::string(data.substr(1, eol - 1)).c_str(), nullptr, 10);
        if (len < 0) {
          *consumed = eol + 2;
          return ParseResult::kOk;  // nil: the key is absent
        }
        size_t need = eol + 2 + static_cast<size_t>(len) + 2;
        if (data.size() < need) return ParseResult::kIncomplete;
        *consumed = need;
        return ParseResult::kOk;
      }
      default:
        return ParseResult::kBroken;
    }
  }

 private:
  static void AppendBulk(std::string_view s, std::string* out) {
    out->append("$");
    out->append(std::to_string(s.size()));
    out->append("\r\n");
    out->append(s);
    out->append("\r\n");
  }
};

// Case-insensitive header lookup in the head (status line + headers).
std::string_view Header(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
    pos = end;
  }
  return {};
}

class EtcdHttpProtocol final : public Protocol {
 public:
  explicit EtcdHttpProtocol(std::string host_header) : host_(std::move(host_header)) {}

  const char* Name() const override { return "etcd"; }

  void AppendRequest(Op op, std::string_view key, std::string_view value,
                     std::string* out) const override {
    std::string body = "{\"key\":\"" + Base64(key) + "\"";
    if (op == Op::kPut) body += ",\"value\":\"" + Base64(value) + "\"";
    body += "}";
    out->append(op == Op::kPut ? "POST /v3/kv/put HTTP/1.1\r\nHost: "
                               : "POST /v3/kv/range HTTP/1.1\r\nHost: ");
    out->append(host_);
    out->append("\r\nContent-Type: application/json\r\nContent-Length: ");
    out->append(std::to_string(body.size()));
    out->append("\r\n\r\n");
    out->append(body);
  }

  ParseResult Parse(std::string_view data, size_t* consumed, bool* close_after) const override {
    size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return ParseResult::kIncomplete;
    std::string_view head = data.substr(0, head_end);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return ParseResult::kBroken;
    int code = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::string_view conn = Header(head, "Connection");
    *close_after = conn.size() == 5 && ::strncasecmp(conn.data(), "close", 5) == 0;
    size_t body_start = head_end + 4;
    std::string_view te = Header(head, "Transfer-Encoding");
    if (!te.empty() && ::strncasecmp(te.data(), "chunked", 7) == 0) {
      size_t pos = body_start;
      while (true) {
        size_t eol = data.find("\r\n", pos);
        if (eol == std::string_view::npos) return ParseResult::kIncomplete;
        size_t chunk = std::strtoul(std::string(data.substr(pos, eol - pos)).c_str(), nullptr, 16);
        if (chunk == 0) {
          // Last chunk, no trailers expected: "0\r\n\r\n".
          if (data.size() < eol + 4) return ParseResult::kIncomplete;
          *consumed = eol + 4;
          break;
        }
        pos = eol + 2 + chunk + 2;
        if (data.size() < pos) return ParseResult::kIncomplete;
      }
    } else {
      std::string_view cl = Header(head, "Content-Length");
      if (cl.empty()) return ParseResult::kBroken;  // keep-alive needs a length
      size_t len = std::strtoul(std::string(cl).c_str(), nullptr, 10);
      if (data.size() < body_start + len) return ParseResult::kIncomplete;
      *consumed = body_start + len;
    }
    return code == 200 ? ParseResult::kOk : ParseResult::kError;
  }

 private:
  std::string host_;
};

}  // namespace

std::unique_ptr<Protocol> NewRespProtocol() { return std::make_unique<RespProtocol>(); }

std::unique_ptr<Protocol> NewEtcdHttpProtocol(std::string host_header) {
  return std::make_unique<EtcdHttpProtocol>(std::move(host_header));
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace dkv::kvload
