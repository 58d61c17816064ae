// SimTransport: the node core's Transport (node/transport.h) over the simulated
// Network, so a whole DistKV node runs in the simulator through the same
// interface the real runtime implements over TCP (src/transport).
//
// A SimTransportHub knows, per node id, the handler of the node that is up (set
// when a node starts, cleared when it crashes). Each node sends through its own
// SimTransport; a batch travels as one simulated message, so it is lost,
// delayed, duplicated, reordered or blocked by a partition exactly as the
// Network's link options and partitions say, and is handed to the receiver's
// handler on arrival if that node is up then. Owned by the simulated cluster;
// the Network must outlive it. Not thread-safe (the simulator is one thread).
#pragma once

#include <map>
#include <memory>
#include <utility>

#include "common/assert.h"
#include "node/transport.h"
#include "sim/network.h"

namespace dkv::sim {

class SimTransportHub {
 public:
  explicit SimTransportHub(Network* net) : net_(net) {}

  // Node `id` is up and receives batches through `handler` (replaces any).
  void Attach(node::NodeId id, node::BatchHandler handler) { handlers_[id] = std::move(handler); }
  // Node `id` is down: batches arriving for it are dropped.
  void Detach(node::NodeId id) { handlers_.erase(id); }
  bool attached(node::NodeId id) const { return handlers_.count(id) > 0; }

  Network* network() const { return net_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped_at_down_node() const { return dropped_; }

  // Sends one batch from batch.from to batch.to over the simulated network.
  void Send(node::MessageBatch batch) {
    const node::NodeId from = batch.from;
    const node::NodeId to = batch.to;
    // Shared: a duplicated message delivers the same batch twice.
    auto shared = std::make_shared<const node::MessageBatch>(std::move(batch));
    net_->Send(from, to, [this, shared] { Deliver(*shared); });
  }

 private:
  void Deliver(const node::MessageBatch& batch) {
    auto it = handlers_.find(batch.to);
    if (it == handlers_.end()) {
      ++dropped_;
      return;
    }
    ++delivered_;
    it->second(batch);  // the handler takes its own copy
  }

  Network* net_;
  std::map<node::NodeId, node::BatchHandler> handlers_;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
};

// One node's view: what its core calls Send on.
class SimTransport final : public node::Transport {
 public:
  SimTransport(SimTransportHub* hub, node::NodeId self) : hub_(hub), self_(self) {}

  // REQUIRES: batch.to != self and batch.from == self (set here if left empty).
  void Send(node::MessageBatch batch) override {
    if (batch.from == raft::kNoNode) batch.from = self_;
    DKV_ASSERT(batch.from == self_ && batch.to != self_);
    hub_->Send(std::move(batch));
  }
  // Unreachable while a partition blocks the link or the peer is down.
  bool Reachable(node::NodeId peer) const override {
    return peer != raft::kNoNode && hub_->attached(peer) && !hub_->network()->Blocked(self_, peer);
  }

 private:
  SimTransportHub* hub_;
  node::NodeId self_;
};

}  // namespace dkv::sim
