// The receiving side of AsioTransport: accepting, the Hello check as the
// acceptor, decoding and checking batches, and delivery to the core's loop.
#include <utility>

#include "common/assert.h"
#include "transport/asio_transport_internal.h"
#include "transport/codec.h"

namespace dkv::transport {
namespace {

// Bytes a received batch is charged against max_undelivered_bytes: its payloads
// plus a fixed overhead per message (the other fields are a few dozen bytes).
size_t BatchBytes(const node::MessageBatch& batch) {
  size_t bytes = 0;
  for (const node::Envelope& env : batch.messages) {
    bytes += 64 + env.msg.snapshot_chunk.size() + env.msg.context.size();
    for (const raft::Entry& e : env.msg.entries) bytes += e.ByteSize();
  }
  return bytes;
}

std::string EndpointText(const tcp::socket& socket) {
  asio::error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

void AsioTransport::Impl::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, most likely: retrying at once would spin, so wait a little.
      log_->warn("transport {}: accept failed: {}", options_.self, ec.message());
      accept_timer_.expires_after(kAcceptRetryDelay);
      accept_timer_.async_wait([this](const asio::error_code& ec) {
        if (!stopping_ && !ec) Accept();
      });
      return;
    }
    OnAccepted(std::move(socket));
    Accept();
  });
}

void AsioTransport::Impl::OnAccepted(tcp::socket socket) {
  auto c = std::make_shared<InConn>(std::move(socket), next_inbound_id_++);
  c->remote = EndpointText(c->socket);
  if (pending_inbound_ >= kMaxPendingInbound) {
    inbound_rejected_++;
    log_->error("transport {}: refusing connection from {}: {} connections await a Hello",
                options_.self, c->remote, pending_inbound_);
    asio::error_code ignored;
    c->socket.close(ignored);
    return;
  }
  pending_inbound_++;
  inbound_.emplace(c->id, c);
  asio::error_code ignored;
  c->socket.set_option(tcp::no_delay(true), ignored);
  c->timer.expires_after(options_.handshake_timeout);
  c->timer.async_wait([this, c](const asio::error_code& ec) {
    if (stopping_ || ec || c->closed || c->peer != kNoNode) return;
    CloseIn(c, Status::TimedOut("handshake", "no Hello within the handshake timeout"), true);
  });
  ReadIn(c);
}

void AsioTransport::Impl::ReadIn(const std::shared_ptr<InConn>& c) {
  c->socket.async_read_some(
      asio::buffer(c->read_buf), [this, c](const asio::error_code& ec, size_t n) {
        if (stopping_ || c->closed) return;
        if (ec == asio::error::eof) {
          return CloseIn(c, Status::Unavailable("connection", "closed by the peer"), false);
        }
        if (ec) return CloseIn(c, Status::IOError("connection", ec.message()), false);
        Status s;
        Status feed = c->decoder.Feed(std::string_view(c->read_buf.data(), n), [&](rpc::Frame&& f) {
          if (s.ok()) s = OnInFrame(c, std::move(f));
        });
        if (s.ok()) s = feed;
        if (!s.ok()) return CloseIn(c, s, true);
        if (c->peer != kNoNode) {
          MutexLock lock(&mu_);
          peers_.at(c->peer)->stats.bytes_received += n;
        }
        ReadIn(c);
      });
}

Status AsioTransport::Impl::OnInFrame(const std::shared_ptr<InConn>& c, rpc::Frame&& frame) {
  if (c->peer == kNoNode) {
    if (!frame.has_hello()) return Status::Corruption("handshake", "first frame is not a Hello");
    DKV_RETURN_IF_ERROR(CheckHello(frame.hello(), kNoNode));
    c->peer = frame.hello().node_id();
    c->timer.cancel();
    DKV_ASSERT(pending_inbound_ > 0);
    pending_inbound_--;
    c->decoder.set_max_frame_bytes(kMaxFrameBytes);
    // Our Hello answers only a Hello we accept: to the dialer it means "accepted",
    // so a refused dialer never believes it is connected.
    Result<std::string> hello = EncodeFrame(MakeHello());
    DKV_ASSERT(hello.ok());
    c->hello = std::move(*hello);
    asio::async_write(c->socket, asio::buffer(c->hello),
                      [this, c](const asio::error_code& ec, size_t) {
                        if (stopping_ || c->closed || !ec) return;
                        CloseIn(c, Status::IOError("send hello", ec.message()), false);
                      });
    Peer* p = peers_.at(c->peer).get();
    // A node has one incoming connection: a newer one means it restarted or
    // redialed, and the old one is dead or about to be.
    if (p->inbound != nullptr && p->inbound != c) {
      CloseIn(p->inbound, Status::Aborted("connection", "replaced by a newer one"), false);
    }
    p->inbound = c;
    log_->info("transport {}: node {} connected from {}", options_.self, c->peer, c->remote);
    return Status::OK();
  }
  const char* where = "rpc batch";
  if ((frame.has_forward_request() || frame.has_forward_response()) && delivery_->frame_handler) {
    DeliverFrame(peers_.at(c->peer).get(), std::move(frame));
    return Status::OK();
  }
  if (!frame.has_raft_batch()) {
    return Status::Corruption(where, "unexpected frame kind " + std::to_string(frame.kind_case()));
  }
  DKV_ASSIGN_OR_RETURN(node::MessageBatch batch, FromProto(frame.raft_batch()));
  // The Hello named the sender; a batch (or a message in it) claiming another
  // sender or receiver is refused rather than handed to Raft.
  if (batch.from != c->peer || batch.to != options_.self) {
    return Status::Corruption(where, "batch from " + std::to_string(batch.from) + " to " +
                                         std::to_string(batch.to) + " on node " +
                                         std::to_string(c->peer) + "'s connection");
  }
  for (const node::Envelope& env : batch.messages) {
    if (env.msg.from != c->peer || env.msg.to != options_.self) {
      return Status::Corruption(where, "message from " + std::to_string(env.msg.from) + " to " +
                                           std::to_string(env.msg.to) + " on node " +
                                           std::to_string(c->peer) + "'s connection");
    }
  }
  Deliver(peers_.at(c->peer).get(), std::move(batch));
  return Status::OK();
}

void AsioTransport::Impl::Deliver(Peer* p, node::MessageBatch batch) {
  const size_t bytes = BatchBytes(batch);
  if (delivery_->undelivered_bytes.load() + bytes > options_.max_undelivered_bytes) {
    MutexLock lock(&mu_);
    p->stats.received_dropped++;
    return;
  }
  delivery_->undelivered_bytes += bytes;
  {
    MutexLock lock(&mu_);
    p->stats.batches_received++;
  }
  asio::post(*core_io_, [d = delivery_, b = std::move(batch), bytes]() mutable {
    d->undelivered_bytes -= bytes;
    if (d->live.load()) d->handler(std::move(b));
  });
}

void AsioTransport::Impl::DeliverFrame(Peer* p, rpc::Frame frame) {
  const size_t bytes = frame.ByteSizeLong();
  if (delivery_->undelivered_bytes.load() + bytes > options_.max_undelivered_bytes) {
    MutexLock lock(&mu_);
    p->stats.received_dropped++;
    return;
  }
  delivery_->undelivered_bytes += bytes;
  {
    MutexLock lock(&mu_);
    p->stats.batches_received++;
  }
  asio::post(*core_io_, [d = delivery_, from = p->addr.id, f = std::move(frame), bytes]() mutable {
    d->undelivered_bytes -= bytes;
    if (d->live.load()) d->frame_handler(from, std::move(f));
  });
}

void AsioTransport::Impl::CloseIn(std::shared_ptr<InConn> c, const Status& why, bool rejected) {
  if (c->closed) return;
  c->closed = true;
  if (c->peer == kNoNode) {
    DKV_ASSERT(pending_inbound_ > 0);
    pending_inbound_--;
  } else if (peers_.at(c->peer)->inbound == c) {
    peers_.at(c->peer)->inbound = nullptr;
  }
  const std::string who =
      c->peer == kNoNode ? c->remote : "node " + std::to_string(c->peer) + " (" + c->remote + ")";
  if (rejected) {
    inbound_rejected_++;
    log_->error("transport {}: closing connection from {}: {}", options_.self, who, why.ToString());
  } else {
    log_->info("transport {}: connection from {} ended: {}", options_.self, who, why.ToString());
  }
  asio::error_code ignored;
  c->timer.cancel();
  c->socket.close(ignored);
  inbound_.erase(c->id);
}

}  // namespace dkv::transport
