// FaultTransport: a node::Transport decorator that injects network faults into a
// real node -- partitions, random loss and added latency -- for tests of real
// processes on machines where network namespaces and tc netem are not available.
//
// It wraps the node's transport on the way out (Send) and the batch handler on the
// way in (WrapIncoming), so a partition is silent in both directions even though
// only this node applies it; partition a node from a peer on both nodes for the
// partition to hold for both directions' connections. Faults are drawn from a
// seeded Rng, so a run's choices replay from its seed given the same sends.
// Thread-safety: SetFaults and Stats may be called from any thread; Send and the
// wrapped handler run on the core's thread (the one running `core_io`).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>

#include "node/transport.h"

namespace dkv::transport {

struct FaultConfig {
  // Peers cut off in both directions: batches to them are dropped, batches from
  // them are dropped before the core sees them, and Reachable() is false.
  std::set<node::NodeId> partitioned;
  // Probability that a batch is lost, drawn separately for outgoing and incoming.
  double drop_probability = 0.0;
  // Latency added to every outgoing batch, uniform in [delay_min, delay_max];
  // unequal delays reorder batches, as a real network may.
  std::chrono::milliseconds delay_min{0};
  std::chrono::milliseconds delay_max{0};
};

struct FaultStats {
  uint64_t dropped_outgoing = 0;
  uint64_t dropped_incoming = 0;
  uint64_t delayed = 0;
};

class FaultTransport final : public node::Transport {
 public:
  // Delays run on `core_io`'s timers. REQUIRES: core_io outlives this.
  FaultTransport(asio::io_context* core_io, uint64_t seed);
  ~FaultTransport() override;

  FaultTransport(const FaultTransport&) = delete;
  FaultTransport& operator=(const FaultTransport&) = delete;

  // The transport that really sends. Until attached, Send drops. Batches whose
  // delay ends after detaching (nullptr) or after destruction are dropped.
  // REQUIRES: `inner` outlives this or is detached first.
  void Attach(node::Transport* inner);

  // Returns the handler to give the inner transport: it filters, then calls `handler`.
  node::BatchHandler WrapIncoming(node::BatchHandler handler);

  // Replaces the faults in effect (an empty FaultConfig heals everything).
  // Returns InvalidArgument for a probability outside [0, 1] or delay_min > delay_max.
  Status SetFaults(FaultConfig config);
  FaultStats Stats() const;

  // node::Transport.
  void Send(node::MessageBatch batch) override;
  bool Reachable(node::NodeId peer) const override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace dkv::transport
