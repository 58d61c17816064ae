// Wire protocols of dkv_kvload, the closed-loop load generator that drives
// DistKV (RESP) and etcd (v3 JSON gateway over HTTP/1.1) with the same
// client code, so a ratio of the two compares the stores, not the clients.
// A Protocol only encodes one request and recognises one complete response
// in a byte buffer; the driver owns the sockets. Protocols are stateless
// after construction and may be shared by threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dkv::kvload {

enum class Op { kPut, kGet };

enum class ParseResult {
  kIncomplete,  // need more bytes
  kOk,          // one successful response of *consumed bytes
  kError,       // one complete response that reports an error
  kBroken,      // bytes that are not this protocol: drop the connection
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual const char* Name() const = 0;
  // Appends the request for op on key (value only for kPut) to *out.
  virtual void AppendRequest(Op op, std::string_view key, std::string_view value,
                             std::string* out) const = 0;
  // Looks for one complete response at the start of data. On kOk/kError sets
  // *consumed to its length and *close_after when the server will close the
  // connection after it.
  virtual ParseResult Parse(std::string_view data, size_t* consumed, bool* close_after) const = 0;
};

// RESP2: SET key value / GET key. +OK, bulk strings and nil are success; an
// error reply (-ERR, -UNAVAILABLE, ...) is kError.
std::unique_ptr<Protocol> NewRespProtocol();

// etcd v3's gRPC-JSON gateway: POST /v3/kv/put and /v3/kv/range with base64
// keys and values, keep-alive HTTP/1.1. Range is linearizable (etcd's
// default, serializable=false). HTTP 200 is success, anything else kError.
// `host_header` is sent as Host.
std::unique_ptr<Protocol> NewEtcdHttpProtocol(std::string host_header);

// Standard base64 with padding (RFC 4648 §4), as etcd's JSON gateway wants
// for bytes fields.
std::string Base64(std::string_view in);

}  // namespace dkv::kvload
