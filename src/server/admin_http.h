// AdminHttp: the node's small HTTP/1.0 admin port — GET /health answers
// "OK", GET /metrics the Prometheus text exposition of the server's counters.
//
// One request per connection; requests over 8 KiB or not GET are refused.
// Runs on the server's event loop (not thread-safe); the metrics text comes
// from a callback the Server provides.
#pragma once

#include <asio.hpp>

#include <functional>
#include <string>

#include "common/status.h"

namespace dkv::server {

class AdminHttp {
 public:
  AdminHttp(asio::io_context& io, std::function<std::string()> metrics)
      : acceptor_(io), metrics_(std::move(metrics)) {}

  // Binds and starts accepting. Port 0 picks a free port (see port()).
  Status Start(const std::string& bind, int port);
  void Stop();
  int port() const { return port_; }

 private:
  void Accept();

  asio::ip::tcp::acceptor acceptor_;
  std::function<std::string()> metrics_;
  int port_ = 0;
};

}  // namespace dkv::server
