// The sending side of AsioTransport: per-peer queues, dialing and the Hello
// exchange as the dialer, gathered writes, failure and backoff.
#include <algorithm>
#include <optional>
#include <utility>

#include "common/assert.h"
#include "transport/asio_transport_internal.h"
#include "transport/codec.h"

namespace dkv::transport {
namespace {

google::protobuf::ArenaOptions SendArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 16u << 10;
  options.max_block_size = 256u << 10;
  return options;
}

}  // namespace

void AsioTransport::Impl::Send(node::MessageBatch batch) {
  DKV_ASSERT(peers_.count(batch.to) == 1);
  DKV_ASSERT(batch.from == options_.self);
  // Built in a per-thread arena reused across calls: encoding a batch then costs
  // no allocation besides the frame's bytes.
  thread_local google::protobuf::Arena arena(SendArenaOptions());
  rpc::Frame* frame = google::protobuf::Arena::CreateMessage<rpc::Frame>(&arena);
  ToProto(batch, frame->mutable_raft_batch());
  Status s = Enqueue(batch.to, *frame);
  arena.Reset();
  if (!s.ok() && !s.IsUnavailable() && !s.IsResourceExhausted()) {
    log_->error("transport {}: dropping a batch to node {}: {}", options_.self, batch.to,
                s.ToString());
  }
}

Status AsioTransport::Impl::SendFrame(NodeId to, const rpc::Frame& frame) {
  if (frame.kind_case() != rpc::Frame::kForwardRequest &&
      frame.kind_case() != rpc::Frame::kForwardResponse) {
    return Status::InvalidArgument("transport send", "only forward frames may be sent this way");
  }
  if (peers_.count(to) == 0) {
    return Status::InvalidArgument("transport send", "unknown node " + std::to_string(to));
  }
  return Enqueue(to, frame);
}

Status AsioTransport::Impl::Enqueue(NodeId to, const rpc::Frame& frame) {
  Peer* p = peers_.at(to).get();
  Result<std::string> bytes = EncodeFrame(frame);
  if (!bytes.ok()) {
    MutexLock lock(&mu_);
    p->stats.batches_dropped++;
    return bytes.status();
  }
  const size_t size = bytes->size();
  bool post = false;
  {
    MutexLock lock(&mu_);
    if (p->state == PeerState::kDown) {
      p->stats.batches_dropped++;
      return Status::Unavailable("transport send", "node " + std::to_string(to) + " is down");
    }
    if (p->queue.size() + p->writing_count >= options_.max_queued_batches ||
        p->queued_bytes + size > options_.max_queued_bytes) {
      p->stats.batches_dropped++;
      return Status::ResourceExhausted("transport send",
                                       "queue to node " + std::to_string(to) + " is full");
    }
    p->queue.push_back(std::move(*bytes));
    p->queued_bytes += size;
    if (p->state == PeerState::kConnected && !p->write_scheduled) {
      p->write_scheduled = true;
      post = true;
    }
  }
  if (post) {
    if (io_.get_executor().running_in_this_thread()) {
      // On the network thread already (run_on_core_io: the core sending): write
      // now, so the frame leaves before whatever the caller does next (a Raft
      // round's fsync). The write completes later; frames queued meanwhile go
      // out together in the next gathered write.
      if (!stopping_) StartWrite(p);
    } else {
      asio::post(io_, [this, p] {
        if (!stopping_) StartWrite(p);
      });
    }
  }
  return Status::OK();
}

void AsioTransport::Impl::Dial(Peer* p) {
  if (stopping_) return;
  auto c = std::make_shared<OutConn>(io_);
  p->conn = c;
  {
    MutexLock lock(&mu_);
    p->state = PeerState::kConnecting;
  }
  c->timer.expires_after(options_.dial_timeout);
  c->timer.async_wait([this, p, c](const asio::error_code& ec) {
    if (stopping_ || ec || c != p->conn || c->established) return;
    FailOut(p, c, Status::TimedOut("dial", "no handshake within the dial timeout"));
  });
  c->resolver.async_resolve(
      p->addr.host, std::to_string(p->addr.port),
      [this, p, c](const asio::error_code& ec, tcp::resolver::results_type results) {
        if (stopping_ || c != p->conn) return;
        if (ec) return FailOut(p, c, Status::IOError("resolve", ec.message()));
        asio::async_connect(
            c->socket, results, [this, p, c](const asio::error_code& ec, const tcp::endpoint&) {
              if (stopping_ || c != p->conn) return;
              if (ec) return FailOut(p, c, Status::IOError("connect", ec.message()));
              asio::error_code ignored;
              c->socket.set_option(tcp::no_delay(true), ignored);
              Result<std::string> hello = EncodeFrame(MakeHello());
              DKV_ASSERT(hello.ok());
              c->hello = std::move(*hello);
              asio::async_write(c->socket, asio::buffer(c->hello),
                                [this, p, c](const asio::error_code& ec, size_t) {
                                  if (stopping_ || c != p->conn) return;
                                  if (ec)
                                    return FailOut(p, c,
                                                   Status::IOError("send hello", ec.message()));
                                });
              ReadOut(p, c);
            });
      });
}

// Reads the peer's Hello, then keeps reading only to notice when the peer closes:
// an outgoing connection carries nothing back after the handshake.
void AsioTransport::Impl::ReadOut(Peer* p, const std::shared_ptr<OutConn>& c) {
  c->socket.async_read_some(
      asio::buffer(c->read_buf), [this, p, c](const asio::error_code& ec, size_t n) {
        if (stopping_ || c != p->conn) return;
        if (ec == asio::error::eof) {
          return FailOut(
              p, c,
              Status::Unavailable("connection", c->established ? "closed by the peer"
                                                               : "closed by the peer before its "
                                                                 "Hello (refused? see its log)"));
        }
        if (ec) return FailOut(p, c, Status::IOError("connection", ec.message()));
        if (c->established) {
          return FailOut(p, c, Status::Corruption("connection", "peer sent data after its Hello"));
        }
        std::optional<rpc::Frame> hello;
        bool extra = false;
        Status s = c->decoder.Feed(std::string_view(c->read_buf.data(), n), [&](rpc::Frame&& f) {
          if (hello.has_value()) {
            extra = true;
          } else {
            hello = std::move(f);
          }
        });
        if (s.ok() && extra) s = Status::Corruption("connection", "peer sent data after its Hello");
        if (s.ok() && hello.has_value() && !hello->has_hello()) {
          s = Status::Corruption("handshake", "first frame is not a Hello");
        }
        if (s.ok() && hello.has_value()) s = CheckHello(hello->hello(), p->addr.id);
        if (!s.ok()) return FailOut(p, c, s);
        if (hello.has_value()) OnEstablished(p, c);
        ReadOut(p, c);
      });
}

void AsioTransport::Impl::OnEstablished(Peer* p, const std::shared_ptr<OutConn>& c) {
  DKV_ASSERT(!c->established);
  DKV_ASSERT(c == p->conn);
  c->established = true;
  c->timer.cancel();
  p->backoff = std::chrono::milliseconds(0);
  p->failure_logged = false;
  log_->info("transport {}: connected to node {} at {}:{}", options_.self, p->addr.id, p->addr.host,
             p->addr.port);
  {
    MutexLock lock(&mu_);
    if (p->ever_connected) p->stats.reconnects++;
    p->ever_connected = true;
    p->state = PeerState::kConnected;
    p->write_scheduled = true;  // StartWrite below clears it when the queue is empty
  }
  StartWrite(p);
}

void AsioTransport::Impl::FailOut(Peer* p, std::shared_ptr<OutConn> c, const Status& why) {
  if (c != p->conn) return;  // already failed or replaced
  p->conn = nullptr;
  asio::error_code ignored;
  c->resolver.cancel();
  c->timer.cancel();
  c->write_timer.cancel();
  c->socket.close(ignored);  // the write in flight, if any, completes aborted; c keeps its buffers
  if (!p->failure_logged) {
    log_->warn("transport {}: node {} at {}:{} unreachable: {}; redialing with backoff",
               options_.self, p->addr.id, p->addr.host, p->addr.port, why.ToString());
  } else {
    log_->debug("transport {}: node {} still unreachable: {}", options_.self, p->addr.id,
                why.ToString());
  }
  p->failure_logged = true;
  {
    MutexLock lock(&mu_);
    // Batches for a peer we cannot reach go stale; Raft resends what matters.
    p->stats.batches_dropped += p->queue.size() + p->writing_count;
    p->stats.dials_failed++;
    p->queue.clear();
    p->writing_count = 0;
    p->queued_bytes = 0;
    p->write_scheduled = false;
    p->state = PeerState::kDown;
  }
  ScheduleRedial(p);
}

void AsioTransport::Impl::ScheduleRedial(Peer* p) {
  p->backoff = p->backoff.count() == 0 ? options_.backoff_min
                                       : std::min(p->backoff * 2, options_.backoff_max);
  DKV_ASSERT(p->backoff.count() > 0);
  const int64_t half = p->backoff.count() / 2;
  const auto delay = std::chrono::milliseconds(half + rng_.Range(0, p->backoff.count() - half));
  p->backoff_timer.expires_after(delay);
  p->backoff_timer.async_wait([this, p](const asio::error_code& ec) {
    if (stopping_ || ec) return;
    Dial(p);
  });
}

void AsioTransport::Impl::StartWrite(Peer* p) {
  std::shared_ptr<OutConn> c = p->conn;
  // A stale post (its connection failed) or a write already in flight: nothing to do.
  if (c == nullptr || !c->established || !c->writing.empty()) return;
  std::vector<asio::const_buffer> buffers;
  {
    MutexLock lock(&mu_);
    while (!p->queue.empty() && c->writing.size() < kMaxFramesPerWrite) {
      c->writing.push_back(std::move(p->queue.front()));
      p->queue.pop_front();
    }
    if (c->writing.empty()) {
      p->write_scheduled = false;
      return;
    }
    p->writing_count = c->writing.size();
  }
  c->writing_bytes = 0;
  buffers.reserve(c->writing.size());
  for (const std::string& frame : c->writing) {
    buffers.push_back(asio::buffer(frame));
    c->writing_bytes += frame.size();
  }
  const uint64_t seq = ++c->write_seq;
  c->write_timer.expires_after(options_.write_stall_timeout);
  c->write_timer.async_wait([this, p, c, seq](const asio::error_code& ec) {
    // A timer that fired as its write completed finds a newer write or none.
    if (stopping_ || ec || c != p->conn || seq != c->write_seq || c->writing.empty()) return;
    FailOut(p, c, Status::TimedOut("write", "no progress within the write stall timeout"));
  });
  asio::async_write(c->socket, buffers, [this, p, c](const asio::error_code& ec, size_t) {
    if (stopping_ || c != p->conn) return;  // FailOut counted the frames as dropped
    c->write_timer.cancel();
    if (ec) return FailOut(p, c, Status::IOError("write", ec.message()));
    {
      MutexLock lock(&mu_);
      p->stats.batches_sent += c->writing.size();
      p->stats.bytes_sent += c->writing_bytes;
      DKV_ASSERT(p->queued_bytes >= c->writing_bytes);
      p->queued_bytes -= c->writing_bytes;
      p->writing_count = 0;
    }
    c->writing.clear();
    StartWrite(p);
  });
}

}  // namespace dkv::transport
