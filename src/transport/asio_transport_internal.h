// Internals of AsioTransport shared by its three source files: the per-peer and
// per-connection state and the Impl class. asio_transport.cc holds setup,
// shutdown and stats; asio_transport_send.cc the outgoing side (queues, dialing,
// writing); asio_transport_receive.cc the incoming side (accepting, handshake,
// delivery). Not part of the API: include only from those files. Thread-safety
// is as in asio_transport.h: everything runs on the network thread (io_'s,
// which is the core's thread with run_on_core_io) except the fields guarded by
// Impl::mu_.
#pragma once

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "common/thread_annotations.h"
#include "transport/asio_transport.h"
#include "transport/frame.h"

namespace dkv::transport {

using asio::ip::tcp;
using node::NodeId;
using raft::kNoNode;

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

  // Declared before every asio object so it is destroyed after them. io_ is
  // own_io_ (run by thread_), or *core_io_ with options_.run_on_core_io.
  asio::io_context own_io_{1};
  asio::io_context& io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
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

}  // namespace dkv::transport
