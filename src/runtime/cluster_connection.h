// ClusterConnection: one client socket of a distkv-server in cluster mode.
// It parses commands with the server's RespParser, answers the commands that
// need no shard (PING, ECHO, HELLO, QUIT, INFO) itself, hands the others to
// ClusterCommands, and writes the replies back IN REQUEST ORDER even though
// they complete asynchronously (each command owns a slot; the ready prefix is
// written). Pipelining is bounded (kMaxInflightCommandsPerConnection) and so
// is unwritten output (kOutputPauseBytes): beyond either, reading pauses. A
// protocol error is replied and closes only this connection.
//
// Owned through a shared_ptr by the cluster server's connection set; runs on
// the client io_context's thread only (replies from the raft loop are posted
// back to it).
#pragma once

#include <asio.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "runtime/cluster_commands.h"
#include "runtime/limits.h"
#include "server/reply.h"
#include "server/resp_parser.h"

namespace dkv::runtime {

class ClusterConnection : public std::enable_shared_from_this<ClusterConnection> {
 public:
  // `on_close` runs (on the client thread) once the socket is closed.
  ClusterConnection(asio::ip::tcp::socket socket, ClusterCommands* commands, int64_t id,
                    std::function<void(int64_t id)> on_close);

  void Start();
  // Closes the socket now; replies still owed are dropped.
  void Close();

 private:
  struct Slot {
    bool ready = false;
    std::string reply;
  };

  void Read();
  void OnRead(const asio::error_code& ec, size_t n);
  // Runs the complete commands in the parser while the in-flight bound allows.
  void Process();
  void RunCommand(std::vector<std::string> argv);
  // AUTH and HELLO (with its AUTH option): reply into `b`.
  void Auth(const std::vector<std::string>& argv, server::ReplyBuilder& b);
  void Hello(const std::vector<std::string>& argv, server::ReplyBuilder& b);
  // Appends a reply slot; returns its sequence number.
  uint64_t AddSlot();
  void Fill(uint64_t seq, std::string reply);
  // Moves the ready prefix of the slots to the output and writes it.
  void Flush();
  void Write();
  void MaybeResume();

  asio::ip::tcp::socket socket_;
  ClusterCommands* const commands_;
  const int64_t id_;
  std::function<void(int64_t)> on_close_;
  server::RespParser parser_;
  std::array<char, kReadChunkBytes> read_buf_;
  std::deque<Slot> slots_;
  uint64_t first_seq_ = 0;  // sequence number of slots_.front()
  std::string out_;         // replies ready to write
  std::string writing_;     // the buffer of the write in flight
  int protocol_ = 2;
  bool reading_ = false;
  bool closed_ = false;
  bool input_closed_ = false;  // protocol error or QUIT: read and run no more
  // False until AUTH (or HELLO ... AUTH) when the node has a requirepass.
  bool authenticated_ = true;
};

}  // namespace dkv::runtime
