// Transport: how a node's multi-Raft core exchanges Raft messages with its peers.
//
// The node core (src/node) is sans-IO: it hands outgoing messages, batched per
// peer, to a Transport, and the runtime delivers incoming batches back to the core
// on the core's own thread. Two implementations: the real one (src/transport, TCP
// with length-prefixed protobuf frames, one connection per peer pair, reconnect
// with backoff, bounded queues) and the simulator's (src/sim, virtual network).
// Delivery is best-effort: a Transport may drop, delay or (the simulator) duplicate
// and reorder batches; Raft tolerates all of these. Implementations are called from
// the core's thread only; how they hand received batches back is theirs to say.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "raft/types.h"
#include "time/hlc.h"

namespace dkv::node {

using raft::NodeId;
using ShardId = uint64_t;

// One Raft message of one shard's group. `msg.from`/`msg.to` are node ids (a node
// hosts at most one replica of a shard, so the node id names the replica).
struct Envelope {
  ShardId shard = 0;
  raft::Message msg;
};

// Messages from one node to another, sent together (one frame on the wire).
struct MessageBatch {
  NodeId from = raft::kNoNode;
  NodeId to = raft::kNoNode;
  std::vector<Envelope> messages;
  // The sender's HLC reading when it made the batch; the zero Timestamp means
  // none. The receiving core updates its HLC from it (refusing, and counting,
  // a timestamp further ahead of its clock than the configured maximum offset).
  // Added after the first version: a transport that does not carry it yet
  // leaves it zero, which is safe.
  Timestamp hlc;
};

// Called with each batch received from a peer, on the core's thread.
using BatchHandler = std::function<void(MessageBatch batch)>;

class Transport {
 public:
  virtual ~Transport() = default;

  // Queues `batch` for batch.to. Never blocks: when the peer's queue is full (slow
  // or unreachable peer) the batch is dropped and counted, and Raft resends.
  // REQUIRES: batch.to is a known peer and not this node.
  virtual void Send(MessageBatch batch) = 0;

  // A peer's snapshot transfer failed or the peer is unreachable: the core reports
  // it to Raft (RawNode::ReportUnreachable) if it wants. Optional.
  virtual bool Reachable(NodeId peer) const { return peer != raft::kNoNode; }
};

}  // namespace dkv::node
