#include "transport/asio_transport.h"

#include <set>
#include <utility>

#include "common/assert.h"
#include "transport/asio_transport_internal.h"

namespace dkv::transport {

AsioTransport::Impl::Impl(AsioTransportOptions options, asio::io_context* core_io,
                          node::BatchHandler on_batch)
    : options_(std::move(options)),
      core_io_(core_io),
      log_(options_.logger ? options_.logger : spdlog::default_logger()),
      delivery_(std::make_shared<Delivery>()),
      io_(options_.run_on_core_io && core_io != nullptr ? *core_io : own_io_),
      acceptor_(io_),
      accept_timer_(io_),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : 0x7472616e73ull ^ options_.self) {
  if (&io_ == &own_io_) work_.emplace(asio::make_work_guard(own_io_));
  delivery_->handler = std::move(on_batch);
  delivery_->frame_handler = options_.on_frame;
  for (const PeerAddress& a : options_.peers) {
    if (a.id == options_.self || peers_.count(a.id) != 0) continue;  // Validate reports dups
    peers_.emplace(a.id, std::make_unique<Peer>(io_, a));
  }
}

AsioTransport::Impl::~Impl() {
  delivery_->live.store(false);
  if (thread_.joinable()) {
    asio::post(io_, [this] { Shutdown(); });
    work_.reset();
    thread_.join();  // run() returns once every aborted operation has completed
  } else if (&io_ != &own_io_) {
    // On the core's io_context, which no longer runs (see the header): close
    // everything here; the aborted operations' handlers stay queued there and
    // are destroyed with it, never invoked.
    Shutdown();
  }
}

Status AsioTransport::Impl::Validate() const {
  const char* where = "transport options";
  if (options_.self == kNoNode) return Status::InvalidArgument(where, "self is 0");
  if (options_.cluster_id.size() > kMaxClusterIdBytes) {
    return Status::InvalidArgument(where, "cluster id too long");
  }
  if (core_io_ == nullptr || !delivery_->handler) {
    return Status::InvalidArgument(where, "no core io_context or batch handler");
  }
  std::set<NodeId> seen;
  for (const PeerAddress& a : options_.peers) {
    if (a.id == kNoNode) return Status::InvalidArgument(where, "peer id 0");
    if (!seen.insert(a.id).second) {
      return Status::InvalidArgument(where, "peer " + std::to_string(a.id) + " listed twice");
    }
    if (a.id != options_.self && (a.port == 0 || a.host.empty())) {
      return Status::InvalidArgument(where, "peer " + std::to_string(a.id) + " has no address");
    }
  }
  if (options_.max_queued_batches == 0 || options_.max_queued_bytes == 0) {
    return Status::InvalidArgument(where, "queue bounds must be positive");
  }
  if (options_.backoff_min.count() <= 0 || options_.backoff_min > options_.backoff_max) {
    return Status::InvalidArgument(where, "need 0 < backoff_min <= backoff_max");
  }
  if (options_.dial_timeout.count() <= 0 || options_.handshake_timeout.count() <= 0 ||
      options_.write_stall_timeout.count() <= 0) {
    return Status::InvalidArgument(where, "timeouts must be positive");
  }
  return Status::OK();
}

Status AsioTransport::Impl::Bind() {
  const std::string where =
      "transport listen " + options_.listen_host + ":" + std::to_string(options_.listen_port);
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(options_.listen_host, ec);
  if (ec) return Status::InvalidArgument(where, "not an IP address");
  tcp::endpoint ep(addr, options_.listen_port);
  acceptor_.open(ep.protocol(), ec);
  // reuse_address: a restarted node rebinds its port while old sockets sit in TIME_WAIT.
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError(where, ec.message());
  port_.store(acceptor_.local_endpoint(ec).port());
  return Status::OK();
}

void AsioTransport::Impl::Run() {
  asio::post(io_, [this] {
    Accept();
    for (auto& [id, p] : peers_) Dial(p.get());
  });
  if (&io_ == &own_io_) thread_ = std::thread([this] { io_.run(); });
}

rpc::Frame AsioTransport::Impl::MakeHello() const {
  rpc::Frame f;
  rpc::Hello* h = f.mutable_hello();
  h->set_node_id(options_.self);
  h->set_cluster_id(options_.cluster_id);
  h->set_protocol_version(kProtocolVersion);
  return f;
}

Status AsioTransport::Impl::CheckHello(const rpc::Hello& hello, NodeId expected) const {
  const char* where = "hello";
  if (hello.protocol_version() != kProtocolVersion) {
    return Status::NotSupported(where,
                                "protocol version " + std::to_string(hello.protocol_version()) +
                                    ", this node speaks " + std::to_string(kProtocolVersion));
  }
  if (hello.cluster_id() != options_.cluster_id) {
    return Status::InvalidArgument(where, "wrong cluster id '" + hello.cluster_id().substr(0, 64) +
                                              "' (this node is in '" + options_.cluster_id + "')");
  }
  const NodeId id = hello.node_id();
  if (id == options_.self) {
    return Status::InvalidArgument(where, "node id " + std::to_string(id) + " is this node's");
  }
  if (peers_.count(id) == 0) {
    return Status::InvalidArgument(where,
                                   "unknown node id " + std::to_string(id) + " (not a peer)");
  }
  if (expected != kNoNode && id != expected) {
    return Status::InvalidArgument(where, "dialed node " + std::to_string(expected) + " but node " +
                                              std::to_string(id) + " answered");
  }
  return Status::OK();
}

bool AsioTransport::Impl::Reachable(NodeId peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return false;
  MutexLock lock(&mu_);
  return it->second->state != PeerState::kDown;
}

std::vector<PeerStats> AsioTransport::Impl::Stats() const {
  std::vector<PeerStats> out;
  MutexLock lock(&mu_);
  for (const auto& [id, p] : peers_) {
    PeerStats s = p->stats;
    s.peer = id;
    s.connected = p->state == PeerState::kConnected;
    s.queued_batches = p->queue.size() + p->writing_count;
    s.queued_bytes = p->queued_bytes;
    out.push_back(s);
  }
  return out;
}

void AsioTransport::Impl::Shutdown() {
  stopping_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  accept_timer_.cancel();
  for (auto& [id, p] : peers_) {
    p->backoff_timer.cancel();
    if (p->conn) {
      p->conn->resolver.cancel();
      p->conn->timer.cancel();
      p->conn->write_timer.cancel();
      p->conn->socket.close(ignored);
    }
  }
  for (auto& [id, c] : inbound_) {
    c->timer.cancel();
    c->socket.close(ignored);
  }
  inbound_.clear();
}

Result<std::unique_ptr<AsioTransport>> AsioTransport::Start(AsioTransportOptions options,
                                                            asio::io_context* core_io,
                                                            node::BatchHandler on_batch) {
  auto impl = std::make_unique<Impl>(std::move(options), core_io, std::move(on_batch));
  DKV_RETURN_IF_ERROR(impl->Validate());
  DKV_RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<AsioTransport>(new AsioTransport(std::move(impl)));
}

AsioTransport::AsioTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AsioTransport::~AsioTransport() = default;

void AsioTransport::Send(node::MessageBatch batch) { impl_->Send(std::move(batch)); }
Status AsioTransport::SendFrame(node::NodeId to, const rpc::Frame& frame) {
  return impl_->SendFrame(to, frame);
}
bool AsioTransport::Reachable(node::NodeId peer) const { return impl_->Reachable(peer); }
uint16_t AsioTransport::listen_port() const { return impl_->listen_port(); }
std::vector<PeerStats> AsioTransport::Stats() const { return impl_->Stats(); }
uint64_t AsioTransport::inbound_rejected() const { return impl_->inbound_rejected(); }

}  // namespace dkv::transport
