#include "transport/asio_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "common/assert.h"
#include "common/random.h"
#include "common/thread_annotations.h"
#include "transport/codec.h"
#include "transport/frame.h"

namespace dkv::transport {
namespace {

using asio::ip::tcp;
using node::NodeId;
using raft::kNoNode;

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

google::protobuf::ArenaOptions SendArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 16u << 10;
  options.max_block_size = 256u << 10;
  return options;
}

std::string EndpointText(const tcp::socket& socket) {
  asio::error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

// State shared with the handlers posted to the core's loop, so that a handler
// that runs after the transport is gone finds `live` false instead of a dangling
// pointer.
struct Delivery {
  node::BatchHandler handler;
  FrameHandler frame_handler;  // may be empty
  std::atomic<bool> live{true};
  std::atomic<size_t> undelivered_bytes{0};
};

// One dial and, once both Hellos are through, the outgoing connection it made.
// Handlers hold a shared_ptr to it; Peer::conn names the current one, so a
// completion for a replaced connection sees conn != peer->conn and stops.
struct OutConn {
  explicit OutConn(asio::io_context& io) : socket(io), resolver(io), timer(io), write_timer(io) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;        // dial timeout
  asio::steady_timer write_timer;  // write stall timeout
  FrameDecoder decoder{kMaxHelloFrameBytes};
  std::vector<char> read_buf = std::vector<char>(4096);
  std::string hello;                 // our encoded Hello, kept until written
  bool established = false;          // the peer's Hello was good
  std::vector<std::string> writing;  // frames of the write in flight
  size_t writing_bytes = 0;
  uint64_t write_seq = 0;  // numbers writes, so a stale stall timer is recognised
};

// An accepted connection: Hello, then RaftBatch frames from one peer.
struct InConn {
  InConn(tcp::socket s, uint64_t id_in)
      : socket(std::move(s)), timer(socket.get_executor()), id(id_in) {}
  tcp::socket socket;
  asio::steady_timer timer;  // handshake timeout
  const uint64_t id;         // key in Impl::inbound_
  std::string remote;        // "ip:port", for logs
  FrameDecoder decoder{kMaxHelloFrameBytes};
  std::vector<char> read_buf = std::vector<char>(kReadChunkBytes);
  std::string hello;
  NodeId peer = kNoNode;  // set once its Hello was good
  bool closed = false;
};

enum class PeerState : uint8_t {
  kConnecting,  // dialing: Send queues
  kConnected,   // handshake done: Send queues and the queue drains
  kDown,        // the last dial failed, waiting for the backoff: Send drops
};

struct Peer {
  Peer(asio::io_context& io, PeerAddress a) : addr(std::move(a)), backoff_timer(io) {}
  const PeerAddress addr;

  // Network thread only.
  std::shared_ptr<OutConn> conn;
  std::shared_ptr<InConn> inbound;  // its current handshaken incoming connection
  asio::steady_timer backoff_timer;
  std::chrono::milliseconds backoff{0};
  bool ever_connected = false;
  bool failure_logged = false;  // only the first failure of a run is a warning

  // Guarded by Impl::mu_ (a member of a plain struct cannot name it for the analysis).
  PeerState state = PeerState::kConnecting;
  std::deque<std::string> queue;  // encoded frames not yet handed to the socket
  size_t writing_count = 0;       // frames in the write in flight
  size_t queued_bytes = 0;        // bytes of queue plus the write in flight
  bool write_scheduled = false;   // a StartWrite is posted or a write is in flight
  PeerStats stats;
};

class AsioTransport::Impl {
 public:
  Impl(AsioTransportOptions options, asio::io_context* core_io, node::BatchHandler on_batch);
  ~Impl();

  Status Validate() const;
  Status Bind();
  void Run();

  void Send(node::MessageBatch batch);
  Status SendFrame(NodeId to, const rpc::Frame& frame);
  bool Reachable(NodeId peer) const;
  std::vector<PeerStats> Stats() const;
  uint16_t listen_port() const { return port_.load(); }
  uint64_t inbound_rejected() const { return inbound_rejected_.load(); }

 private:
  rpc::Frame MakeHello() const;
  // Why a peer's Hello is refused; `expected` is the node dialed (kNoNode: any peer).
  Status CheckHello(const rpc::Hello& hello, NodeId expected) const;
  // Encodes `frame` and queues it for `to`, or drops it (counted): Unavailable
  // when the peer is down, ResourceExhausted when its queue is full.
  Status Enqueue(NodeId to, const rpc::Frame& frame);

  // Everything below runs on the network thread.
  void Shutdown();
  void Dial(Peer* p);
  void ReadOut(Peer* p, const std::shared_ptr<OutConn>& c);
  void OnEstablished(Peer* p, const std::shared_ptr<OutConn>& c);
  // `c` by value: callers may pass p->conn, which this resets.
  void FailOut(Peer* p, std::shared_ptr<OutConn> c, const Status& why);
  void ScheduleRedial(Peer* p);
  void StartWrite(Peer* p);
  void Accept();
  void OnAccepted(tcp::socket socket);
  void ReadIn(const std::shared_ptr<InConn>& c);
  Status OnInFrame(const std::shared_ptr<InConn>& c, rpc::Frame&& frame);
  void Deliver(Peer* p, node::MessageBatch batch);
  void DeliverFrame(Peer* p, rpc::Frame frame);
  // `rejected`: closed for a protocol error (logged as an error and counted).
  // `c` by value: callers may pass a Peer's own pointer, which this resets.
  void CloseIn(std::shared_ptr<InConn> c, const Status& why, bool rejected);

  const AsioTransportOptions options_;
  asio::io_context* const core_io_;
  std::shared_ptr<spdlog::logger> log_;
  const std::shared_ptr<Delivery> delivery_;

  // Declared before every asio object so it is destroyed after them.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;  // retry after a failed accept
  // Built in the constructor, never changed: read from any thread without a lock.
  std::map<NodeId, std::unique_ptr<Peer>> peers_;

  // Network thread only.
  std::map<uint64_t, std::shared_ptr<InConn>> inbound_;
  uint64_t next_inbound_id_ = 1;
  size_t pending_inbound_ = 0;  // accepted, Hello not yet received
  Rng rng_;                     // backoff jitter
  bool stopping_ = false;

  mutable Mutex mu_;  // guards the queue and stats fields of every Peer
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> inbound_rejected_{0};
  std::thread thread_;
};

AsioTransport::Impl::Impl(AsioTransportOptions options, asio::io_context* core_io,
                          node::BatchHandler on_batch)
    : options_(std::move(options)),
      core_io_(core_io),
      log_(options_.logger ? options_.logger : spdlog::default_logger()),
      delivery_(std::make_shared<Delivery>()),
      work_(asio::make_work_guard(io_)),
      acceptor_(io_),
      accept_timer_(io_),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : 0x7472616e73ull ^ options_.self) {
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
  thread_ = std::thread([this] { io_.run(); });
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

// ---------------------------------------------------------------- sending side

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
    asio::post(io_, [this, p] {
      if (!stopping_) StartWrite(p);
    });
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

// ---------------------------------------------------------------- receiving side

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

// ---------------------------------------------------------------- public wrapper

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
