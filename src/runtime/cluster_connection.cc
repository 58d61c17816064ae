#include "runtime/cluster_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "server/command.h"
#include "server/limits.h"
#include "server/reply.h"

namespace dkv::runtime {

ClusterConnection::ClusterConnection(asio::ip::tcp::socket socket, ClusterCommands* commands,
                                     int64_t id, std::function<void(int64_t)> on_close)
    : socket_(std::move(socket)),
      commands_(commands),
      id_(id),
      on_close_(std::move(on_close)),
      authenticated_(commands->requirepass().empty()) {}

void ClusterConnection::Start() {
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  Read();
}

void ClusterConnection::Close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  slots_.clear();
  if (on_close_) on_close_(id_);
}

void ClusterConnection::Read() {
  if (reading_ || closed_ || input_closed_) return;
  if (slots_.size() >= kMaxInflightCommandsPerConnection) return;  // MaybeResume restarts
  if (out_.size() + writing_.size() >= kOutputPauseBytes) return;
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void ClusterConnection::OnRead(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    Close();
    return;
  }
  parser_.Append(std::string_view(read_buf_.data(), n));
  if (parser_.buffered_bytes() > static_cast<size_t>(server::kDefaultClientQueryBufferLimit)) {
    spdlog::warn("client {}: query buffer over {} bytes, closing", id_,
                 server::kDefaultClientQueryBufferLimit);
    Close();
    return;
  }
  Process();
  Flush();
  Read();
}

void ClusterConnection::Process() {
  std::vector<std::string> argv;
  std::string error;
  while (!input_closed_ && slots_.size() < kMaxInflightCommandsPerConnection) {
    argv.clear();
    const server::RespParser::Result r = parser_.Next(&argv, &error);
    if (r == server::RespParser::Result::kNeedMore) return;
    if (r == server::RespParser::Result::kError) {
      std::string reply;
      server::ReplyBuilder(&reply, protocol_).Error("ERR " + error);
      Fill(AddSlot(), std::move(reply));
      input_closed_ = true;  // replied in order, then closed by Flush
      return;
    }
    RunCommand(std::move(argv));
  }
}

void ClusterConnection::RunCommand(std::vector<std::string> argv) {
  DKV_ASSERT(!argv.empty());
  std::string name = argv[0];
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  const uint64_t seq = AddSlot();
  std::string reply;
  server::ReplyBuilder b(&reply, protocol_);
  const size_t argc = argv.size();
  if (!authenticated_ && name != "AUTH" && name != "HELLO" && name != "QUIT") {
    b.Error("NOAUTH Authentication required.");
    Fill(seq, std::move(reply));
    return;
  }
  if (ClusterCommands::IsShardCommand(name)) {
    commands_->Execute(std::move(name), std::move(argv), protocol_,
                       [self = shared_from_this(), seq](std::string reply) {
                         // On the raft loop: hand the reply back to our thread.
                         asio::post(self->socket_.get_executor(),
                                    [self, seq, reply = std::move(reply)]() mutable {
                                      self->Fill(seq, std::move(reply));
                                      self->Flush();
                                    });
                       });
    return;
  }
  if (name == "PING") {
    if (argc == 1) {
      b.Simple("PONG");
    } else if (argc == 2) {
      b.Bulk(argv[1]);
    } else {
      b.Error("ERR wrong number of arguments for 'ping' command");
    }
  } else if (name == "ECHO") {
    if (argc == 2) {
      b.Bulk(argv[1]);
    } else {
      b.Error("ERR wrong number of arguments for 'echo' command");
    }
  } else if (name == "QUIT") {
    b.Ok();
    input_closed_ = true;
  } else if (name == "HELLO") {
    Hello(argv, b);
  } else if (name == "AUTH") {
    Auth(argv, b);
  } else if (name == "INFO") {
    // Enough for `distkv cluster status` (it reads these fields).
    b.Verbatim("# Server\r\nredis_mode:cluster\r\ncluster_role:replicated\r\n");
  } else {
    b.Error(UnsupportedCommandError(name));
  }
  Fill(seq, std::move(reply));
}

namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// The default user's password check (the only user in cluster mode), in time
// independent of where the strings differ.
bool PasswordMatches(const std::string& want, std::string_view user, std::string_view got) {
  if (user != "default") return false;
  if (want.empty()) return true;
  unsigned diff = want.size() == got.size() ? 0 : 1;
  for (size_t i = 0; i < want.size(); i++) {
    diff |= static_cast<unsigned char>(want[i]) ^
            static_cast<unsigned char>(i < got.size() ? got[i] : 0);
  }
  return diff == 0;
}

}  // namespace

void ClusterConnection::Auth(const std::vector<std::string>& argv, server::ReplyBuilder& b) {
  const size_t argc = argv.size();
  if (argc < 2) return b.Error("ERR wrong number of arguments for 'auth' command");
  if (argc > 3) return b.Error("ERR syntax error");
  const std::string& want = commands_->requirepass();
  if (argc == 2 && want.empty()) {
    return b.Error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
  }
  const std::string user = argc == 3 ? argv[1] : "default";
  if (!PasswordMatches(want, user, argv[argc - 1])) return b.Error(kWrongPass);
  authenticated_ = true;
  b.Ok();
}

void ClusterConnection::Hello(const std::vector<std::string>& argv, server::ReplyBuilder& b) {
  const size_t argc = argv.size();
  int64_t proto = protocol_;
  size_t i = 1;
  if (argc >= 2) {
    if (!server::ParseInt64Strict(argv[1], &proto)) {
      return b.Error("ERR Protocol version is not an integer or out of range");
    }
    if (proto < 2 || proto > 3) return b.Error("NOPROTO unsupported protocol version");
    i = 2;
  }
  for (; i < argc; i++) {
    if (server::EqualsIgnoreCase(argv[i], "auth") && argc - i - 1 >= 2) {
      if (!PasswordMatches(commands_->requirepass(), argv[i + 1], argv[i + 2])) {
        return b.Error(kWrongPass);
      }
      authenticated_ = true;
      i += 2;
    } else if (server::EqualsIgnoreCase(argv[i], "setname")) {
      return b.Error("ERR HELLO SETNAME is not supported in cluster mode yet");
    } else {
      return b.Error("ERR Syntax error in HELLO option '" + argv[i] + "'");
    }
  }
  if (!authenticated_) {
    return b.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
  }
  protocol_ = static_cast<int>(proto);
  b.set_protocol(protocol_);
  b.MapHeader(5);
  b.Bulk("server");
  b.Bulk("distkv");
  b.Bulk("proto");
  b.Integer(protocol_);
  b.Bulk("id");
  b.Integer(id_);
  b.Bulk("mode");
  b.Bulk("cluster");
  b.Bulk("role");
  b.Bulk("master");
}

uint64_t ClusterConnection::AddSlot() {
  slots_.emplace_back();
  return first_seq_ + slots_.size() - 1;
}

void ClusterConnection::Fill(uint64_t seq, std::string reply) {
  if (closed_) return;
  DKV_ASSERT(seq >= first_seq_);
  DKV_ASSERT(seq - first_seq_ < slots_.size());
  Slot& s = slots_[seq - first_seq_];
  DKV_ASSERT(!s.ready);
  s.ready = true;
  s.reply = std::move(reply);
}

void ClusterConnection::Flush() {
  if (closed_) return;
  while (!slots_.empty() && slots_.front().ready) {
    out_ += slots_.front().reply;
    slots_.pop_front();
    first_seq_++;
  }
  Write();
  MaybeResume();
}

void ClusterConnection::Write() {
  if (closed_ || !writing_.empty()) return;
  if (out_.empty()) {
    if (input_closed_ && slots_.empty()) Close();  // QUIT or protocol error: all replied
    return;
  }
  writing_.swap(out_);
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t) {
                      if (self->closed_) return;
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->writing_.clear();
                      self->Write();
                      self->MaybeResume();
                    });
}

void ClusterConnection::MaybeResume() {
  if (closed_ || reading_ || input_closed_) return;
  if (out_.size() + writing_.size() >= kOutputPauseBytes) return;  // the write resumes us
  // Complete commands may already wait in the parser: run them first.
  if (slots_.size() < kMaxInflightCommandsPerConnection && parser_.has_partial()) {
    const size_t before = slots_.size();
    Process();
    if (slots_.size() != before) {
      Flush();
      return;
    }
  }
  Read();
}

}  // namespace dkv::runtime
