// AsioTransport: node::Transport over TCP, the real runtime's node-to-node link.
//
// Each node listens on its peer address and dials every peer once, so a pair of
// nodes is joined by two connections, one per direction; each carries frames
// (frame.h) one way only, after a Hello exchange: the dialer's Hello, checked for
// cluster id, protocol version and node id, is answered by the acceptor's only if
// accepted (docs/formats/rpc.md says why).
// Outgoing batches wait in a bounded queue per peer and go out in gathered writes;
// a lost connection is redialed with capped, jittered exponential backoff, and
// while a peer is down its batches are dropped and counted, never queued without
// bound. Received batches are posted to the core's io_context. The same
// connections carry the forward frames of request routing (SendFrame, on_frame).
//
// Threads: by default the transport owns one network thread that runs all of its
// sockets and timers. With `run_on_core_io` it has no thread: its sockets and
// timers run on `core_io` itself, so a node whose core loop is busy on 2 vCPUs
// does not pay two thread hand-offs (post + wakeup) per message each way, and a
// frame sent from the core thread is written at once (before, say, the core's
// fsync). Send, Reachable, Stats and listen_port are thread-safe. The batch
// handler runs on whatever thread runs `core_io`. Destroy the transport from the
// core's thread (or after `core_io` has stopped): it closes every connection and
// joins its thread; batches received but not yet handled are then dropped. With
// `run_on_core_io`, destroy it only once `core_io` no longer runs (stopped, or
// never run) and is never run again: its handlers still queued there are dropped
// with `core_io`, never invoked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/transport.h"
#include "proto/distkv.pb.h"
#include "transport/limits.h"

namespace asio {
class io_context;
}  // namespace asio
namespace spdlog {
class logger;
}  // namespace spdlog

namespace dkv::transport {

struct PeerAddress {
  node::NodeId id = raft::kNoNode;
  std::string host;  // IP address or name, resolved on every dial
  uint16_t port = 0;
};

// Called on the core's io_context with each ForwardRequest or ForwardResponse
// frame a peer sends, and the peer's node id (as checked by its Hello).
using FrameHandler = std::function<void(node::NodeId from, rpc::Frame frame)>;

struct AsioTransportOptions {
  node::NodeId self = raft::kNoNode;
  // Connections from a node of another cluster are refused.
  std::string cluster_id;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any free port; read it back with listen_port()
  // Every node of the cluster; an entry for `self` is ignored. Only these node ids
  // are accepted in a Hello, and only they can be sent to.
  std::vector<PeerAddress> peers;

  // Per-peer send queue bounds (batches waiting or being written).
  size_t max_queued_batches = kDefaultMaxQueuedBatches;
  size_t max_queued_bytes = kDefaultMaxQueuedBytes;
  // Received bytes posted to the core but not yet handled; beyond this, received
  // batches are dropped and counted (a stalled core must not make us buffer).
  size_t max_undelivered_bytes = kDefaultMaxUndeliveredBytes;

  std::chrono::milliseconds backoff_min = kDefaultBackoffMin;
  std::chrono::milliseconds backoff_max = kDefaultBackoffMax;
  std::chrono::milliseconds dial_timeout = kDefaultDialTimeout;
  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;
  std::chrono::milliseconds write_stall_timeout = kDefaultWriteStallTimeout;
  // Seeds the backoff jitter; 0 derives a seed from `self`.
  uint64_t jitter_seed = 0;

  // Receives forward frames (see SendFrame). Empty: a peer sending one is
  // disconnected as for any unexpected frame.
  FrameHandler on_frame;

  // No network thread: the sockets and timers run on `core_io` (see "Threads").
  bool run_on_core_io = false;

  // Where connection events and refusals are logged; null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
};

// Counters of one peer, for /metrics. Each frame (a Raft batch, or a forward
// frame from SendFrame) counts as one batch, once.
struct PeerStats {
  node::NodeId peer = raft::kNoNode;
  bool connected = false;         // outgoing connection established
  uint64_t batches_sent = 0;      // written to the socket
  uint64_t bytes_sent = 0;        // frame bytes written, headers included
  uint64_t batches_dropped = 0;   // refused by a full queue or a down peer, or lost
  uint64_t batches_received = 0;  // handed to the core
  uint64_t bytes_received = 0;    // bytes read from its connection after the Hello
  uint64_t received_dropped = 0;  // refused because the core was behind
  uint64_t dials_failed = 0;      // dial, handshake or connection failures
  uint64_t reconnects = 0;        // handshakes completed after the first
  size_t queued_batches = 0;      // now in the send queue
  size_t queued_bytes = 0;
};

class AsioTransport final : public node::Transport {
 public:
  // Binds the listener, then starts the network thread, which dials every peer.
  // `on_batch` is called on `core_io` with each batch a peer sends us (batch.to ==
  // self and batch.from == the peer, as checked against its Hello).
  // Returns InvalidArgument for bad options, IOError when the address cannot be bound.
  // REQUIRES: core_io outlives the transport.
  static Result<std::unique_ptr<AsioTransport>> Start(AsioTransportOptions options,
                                                      asio::io_context* core_io,
                                                      node::BatchHandler on_batch);
  ~AsioTransport() override;

  AsioTransport(const AsioTransport&) = delete;
  AsioTransport& operator=(const AsioTransport&) = delete;

  // node::Transport. Never blocks: encodes the batch and queues it, or drops it
  // (counted) when the peer's queue is full or the peer is known to be down.
  // REQUIRES: batch.to is a peer from the options and not self; batch.from == self.
  void Send(node::MessageBatch batch) override;
  // Queues a ForwardRequest or ForwardResponse frame for `to` on the same
  // connection and queue as Raft batches (so in order with them). Returns OK when
  // queued, Unavailable when the peer is down, ResourceExhausted when its queue is
  // full (dropped and counted either way), InvalidArgument for another frame kind
  // or an unknown peer. Delivery is best-effort: the caller times out requests.
  Status SendFrame(node::NodeId to, const rpc::Frame& frame);
  // False from a failed dial or a lost connection until a handshake succeeds again.
  bool Reachable(node::NodeId peer) const override;

  // The bound port (differs from options.listen_port when that was 0).
  uint16_t listen_port() const;
  // One entry per peer, in id order.
  std::vector<PeerStats> Stats() const;
  // Accepted connections closed before or after their handshake for a protocol
  // error: bad frames, wrong cluster, unknown node, timeout, too many pending.
  uint64_t inbound_rejected() const;

 private:
  class Impl;
  explicit AsioTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkv::transport
