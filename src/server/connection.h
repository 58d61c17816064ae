// Connection: one client socket of the Server — reads, parses, runs commands
// in order, and writes replies back in batches.
//
// All complete commands in the read buffer run before the replies go out in
// one write (pipelining). Replies of a round that wrote are held until the
// server reports the commit covering its writes done (applied, and synced
// under appendfsync always); replies behind a held one wait too, so order is
// kept. Malformed input gets Redis's protocol error and
// the connection closes after the reply; too much unparsed input or unread
// output closes it at once. Owned by the Server through a shared_ptr;
// event-loop thread only.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "server/command.h"
#include "server/limits.h"
#include "server/resp_parser.h"

namespace dkv::server {

class Server;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // tls: the server's TLS context for a connection on the TLS port, else nullptr.
  Connection(Server* server, asio::ip::tcp::socket socket, int64_t id,
             asio::ssl::context* tls = nullptr);

  void Start();
  // Closes the socket now; pending replies are dropped.
  void Close();
  // Shutdown: reads and runs nothing more, writes the replies it owes, then
  // closes (held replies must have been released first).
  void Drain();
  // Releases held replies the server's commits now cover.
  void OnCommitted();
  // Starts the read deferred while replies were held (see AfterProcess).
  void ResumeRead();

  ClientState* state() { return &state_; }
  bool waiting_for_commit() const { return !held_.empty(); }
  uint64_t held_ticket() const { return held_ticket_; }
  size_t output_bytes() const { return held_.size() + out_.size() + writing_.size(); }
  size_t query_bytes() const { return parser_.buffered_bytes(); }

 private:
  void Read();
  void OnRead(const asio::error_code& ec, size_t n);
  // Runs the complete commands in the buffer (at most a bounded number);
  // true if more complete commands may remain.
  bool Process();
  void AfterProcess(bool more);
  void FlushOutput();
  void Write();
  asio::ip::tcp::socket& sock() { return tls_ ? tls_->next_layer() : socket_; }

  Server* server_;
  asio::ip::tcp::socket socket_;                                   // plain connections
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;  // TLS connections
  RespParser parser_;
  std::vector<std::string> argv_;  // the command being run; its strings are reused
  ClientState state_;
  std::array<char, kReadChunkBytes> read_buf_;
  std::string held_;  // replies waiting for a commit (durability)
  uint64_t held_ticket_ = 0;
  std::string out_;      // replies ready to write
  std::string writing_;  // the buffer of the write in flight
  bool reading_ = false;
  bool paused_ = false;  // output over kOutputPauseBytes: not reading
  bool closed_ = false;
  bool input_closed_ = false;   // protocol error or QUIT: read no more
  bool draining_ = false;       // server shutdown: close once output is written
  bool read_deferred_ = false;  // replies held for a commit: read after it
};

}  // namespace dkv::server
