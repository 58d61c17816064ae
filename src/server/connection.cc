#include "server/connection.h"

#include <spdlog/spdlog.h>

#include "common/assert.h"
#include "server/server.h"

namespace dkv::server {

Connection::Connection(Server* server, asio::ip::tcp::socket socket, int64_t id,
                       asio::ssl::context* tls)
    : server_(server), socket_(std::move(socket)) {
  if (tls != nullptr) {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(socket_), *tls);
  }
  RespParserLimits limits;
  limits.proto_max_bulk_len = server->config().proto_max_bulk_len;
  parser_.set_limits(limits);
  state_.id = id;
  state_.authenticated = server->NoPasswordConfigured();
  int64_t now = server->keyspace()->NowMs();
  state_.created_ms = now;
  state_.last_interaction_ms = now;
  asio::error_code ec;
  auto remote = sock().remote_endpoint(ec);
  if (!ec) state_.addr = remote.address().to_string() + ":" + std::to_string(remote.port());
  auto local = sock().local_endpoint(ec);
  if (!ec) state_.laddr = local.address().to_string() + ":" + std::to_string(local.port());
  sock().set_option(asio::ip::tcp::no_delay(true), ec);
}

void Connection::Start() {
  if (!tls_) {
    Read();
    return;
  }
  auto self = shared_from_this();
  tls_->async_handshake(asio::ssl::stream_base::server, [self](const asio::error_code& ec) {
    if (ec) {
      spdlog::info("TLS handshake with {} failed: {}", self->state_.addr, ec.message());
      self->Close();
      return;
    }
    self->Read();
  });
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  sock().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  sock().close(ec);
  server_->UnwatchAll(&state_);
  server_->RemoveConnection(state_.id);  // may drop the last owner but one
}

void Connection::Drain() {
  if (closed_) return;
  draining_ = true;
  input_closed_ = true;
  if (output_bytes() == 0) {
    Close();
    return;
  }
  // End the outstanding read (it completes with EOF) but keep writing.
  asio::error_code ec;
  sock().shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
  FlushOutput();
}

void Connection::Read() {
  if (closed_ || reading_ || input_closed_) return;
  reading_ = true;
  auto self = shared_from_this();
  auto on_read = [self](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); };
  if (tls_) {
    tls_->async_read_some(asio::buffer(read_buf_), std::move(on_read));
  } else {
    socket_.async_read_some(asio::buffer(read_buf_), std::move(on_read));
  }
}

void Connection::OnRead(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    // Draining: the write completion closes once the replies are out.
    if (!draining_ || output_bytes() == 0) Close();
    return;
  }
  if (draining_) return;
  parser_.Append(std::string_view(read_buf_.data(), n));
  state_.last_interaction_ms = server_->keyspace()->NowMs();
  if (static_cast<int64_t>(parser_.buffered_bytes()) >
      server_->config().client_query_buffer_limit) {
    spdlog::warn("closing client id={} addr={}: query buffer {} bytes over the limit", state_.id,
                 state_.addr, parser_.buffered_bytes());
    Close();
    return;
  }
  AfterProcess(Process());
}

void Connection::AfterProcess(bool more) {
  if (closed_) return;
  FlushOutput();
  if (closed_) return;
  if (output_bytes() > static_cast<size_t>(server_->config().client_output_buffer_limit)) {
    spdlog::warn("closing client id={} addr={}: output buffer {} bytes over the limit", state_.id,
                 state_.addr, output_bytes());
    Close();
    return;
  }
  if (output_bytes() > kOutputPauseBytes) {
    // Back-pressure: stop reading (and running) this client's commands until
    // it has read most of its replies; the write completion resumes us.
    paused_ = true;
    return;
  }
  if (more) {
    // Let other clients run before the rest of this pipeline.
    auto self = shared_from_this();
    asio::post(sock().get_executor(), [self] { self->AfterProcess(self->Process()); });
    return;
  }
  if (waiting_for_commit()) {
    // A client that waits for these replies sends nothing before it has
    // them, so a read now finds nothing: a wasted recvfrom per command at
    // -P 1. Read once the commit releases them (OnCommitted -> ResumeRead);
    // by then the client's next command is usually there already.
    read_deferred_ = true;
    return;
  }
  Read();
}

void Connection::ResumeRead() {
  if (!read_deferred_) return;
  read_deferred_ = false;
  if (!closed_ && !paused_) Read();
}

bool Connection::Process() {
  if (draining_) return false;
  std::vector<std::string>& argv = argv_;
  std::string error;
  // Replies are built in place, in the buffer they would go to if nothing
  // were held (no per-round buffer to grow and copy): behind held replies,
  // held_; otherwise out_, from which they move to held_ if this round's
  // writes turn out to need a commit.
  const bool behind_held = !held_.empty();
  std::string* batch = behind_held ? &held_ : &out_;
  const size_t batch_start = batch->size();
  bool wrote = false;
  // Bound the work of one round so a huge pipeline cannot starve others.
  bool more = false;
  for (int i = 0; !state_.close_after_reply && !state_.killed; i++) {
    if (i == kMaxCommandsPerRound) {
      more = true;
      break;
    }
    parser_.set_unauthenticated(!state_.authenticated);
    RespParser::Result r = parser_.Next(&argv, &error);
    if (r == RespParser::Result::kNeedMore) break;
    ReplyBuilder reply(batch, state_.protocol);
    if (r == RespParser::Result::kError) {
      reply.Error("ERR " + error);
      spdlog::info("protocol error from client id={} addr={}: {}", state_.id, state_.addr, error);
      state_.close_after_reply = true;
      break;
    }
    int64_t dirty_before = server_->keyspace()->dirty();
    server_->dispatcher()->Execute(&state_, argv, &reply);
    if (server_->keyspace()->dirty() != dirty_before) {
      server_->NoteWrite();
      wrote = true;
    }
  }
  if (state_.close_after_reply) input_closed_ = true;
  // One submission per round: the round's writes share one commit.
  uint64_t ticket = wrote ? server_->SubmitWrites() : 0;
  if (batch->size() == batch_start) return more;
  // A round without writes of its own may still have read other clients'
  // writes that are not durable yet: as in Redis (whose replies leave after
  // the fsync), its replies wait for them under appendfsync always.
  if (!wrote) ticket = server_->UncommittedTicket();
  if (behind_held) {
    // Order: anything after a held reply waits with it.
    held_ticket_ = std::max(held_ticket_, ticket);
    server_->WaitForCommit(shared_from_this());
  } else if (ticket > server_->committed_ticket()) {
    held_.append(out_, batch_start, std::string::npos);
    out_.resize(batch_start);
    held_ticket_ = std::max(held_ticket_, ticket);
    server_->WaitForCommit(shared_from_this());
  }
  return more;
}

void Connection::OnCommitted() {
  if (closed_ || held_.empty()) return;
  if (server_->committed_ticket() < held_ticket_) return;
  out_.append(held_);
  held_.clear();
  held_ticket_ = 0;
  FlushOutput();
  if (read_deferred_ && !closed_) server_->ResumeReadAfterCommit(shared_from_this());
}

void Connection::FlushOutput() {
  if (closed_) return;
  if (!writing_.empty()) return;  // the completion handler continues
  if (out_.empty()) {
    if (held_.empty() && (state_.close_after_reply || state_.killed || draining_)) Close();
    return;
  }
  writing_.swap(out_);
  Write();
}

void Connection::Write() {
  auto self = shared_from_this();
  auto on_write = [self](const asio::error_code& ec, size_t) {
    if (self->closed_) return;
    if (ec) {
      self->Close();
      return;
    }
    self->writing_.clear();
    if (self->writing_.capacity() > kMaxPreallocBytes) {
      self->writing_.shrink_to_fit();
    }
    self->FlushOutput();
    if (self->paused_ && !self->closed_ && self->output_bytes() <= kOutputPauseBytes / 2) {
      self->paused_ = false;
      self->AfterProcess(self->Process());
    }
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(writing_), std::move(on_write));
  } else {
    asio::async_write(socket_, asio::buffer(writing_), std::move(on_write));
  }
}

}  // namespace dkv::server
