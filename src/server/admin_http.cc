#include "server/admin_http.h"

#include <memory>

namespace dkv::server {

namespace {

// Largest request head we read: /health and /metrics need a few hundred bytes.
constexpr size_t kMaxRequestBytes = 8 * 1024;

struct HttpSession : std::enable_shared_from_this<HttpSession> {
  HttpSession(asio::ip::tcp::socket s, std::function<std::string()>* metrics)
      : socket(std::move(s)), metrics(metrics) {}

  void Start() {
    auto self = shared_from_this();
    asio::async_read_until(socket, asio::dynamic_buffer(request, kMaxRequestBytes), "\r\n\r\n",
                           [self](const asio::error_code& ec, size_t) { self->OnRequest(ec); });
  }

  void OnRequest(const asio::error_code& ec) {
    if (ec) {
      Reply(400, "Bad Request", "text/plain", "bad request\n");
      return;
    }
    size_t eol = request.find("\r\n");
    std::string line = request.substr(0, eol);
    // "GET /path HTTP/1.1"
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
      Reply(400, "Bad Request", "text/plain", "bad request\n");
      return;
    }
    std::string method = line.substr(0, sp1);
    std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method != "GET") {
      Reply(405, "Method Not Allowed", "text/plain", "only GET\n");
    } else if (path == "/health") {
      Reply(200, "OK", "text/plain", "OK\n");
    } else if (path == "/metrics") {
      Reply(200, "OK", "text/plain; version=0.0.4", (*metrics)());
    } else {
      Reply(404, "Not Found", "text/plain", "not found\n");
    }
  }

  void Reply(int code, const char* reason, const char* type, const std::string& body) {
    response = "HTTP/1.0 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body;
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(response), [self](const asio::error_code&, size_t) {
      asio::error_code ignored;
      self->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      self->socket.close(ignored);
    });
  }

  asio::ip::tcp::socket socket;
  std::function<std::string()>* metrics;
  std::string request;
  std::string response;
};

}  // namespace

Status AdminHttp::Start(const std::string& bind, int port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(bind, ec);
  if (ec) return Status::InvalidArgument("admin bind " + bind, ec.message());
  asio::ip::tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("admin listen " + std::to_string(port), ec.message());
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return Status::OK();
}

void AdminHttp::Stop() {
  asio::error_code ec;
  acceptor_.close(ec);
}

void AdminHttp::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
    } else {
      std::make_shared<HttpSession>(std::move(socket), &metrics_)->Start();
    }
    Accept();
  });
}

}  // namespace dkv::server
