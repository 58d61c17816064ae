// Network: the simulated links between nodes.
//
// A message is a callback to run at the receiver; Send decides, from the
// link's LinkOptions and the seeded Rng, whether it is lost, when it arrives,
// and whether it arrives twice. Partitions are a matrix of blocked directed
// links, checked both when a message is sent and when it would arrive (a
// message in flight when a partition starts is lost, as in a real network).
// Node ids are 1..max_nodes. Owned by the cluster; the loop and Rng must
// outlive it. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/random.h"
#include "sim/event_loop.h"
#include "sim/fault_options.h"

namespace dkv::sim {

using NodeIndex = uint64_t;  // 1-based, same numbering as raft::NodeId

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t lost = 0;         // dropped by loss_probability
  uint64_t partitioned = 0;  // dropped by a blocked link
  uint64_t duplicated = 0;
};

class Network {
 public:
  // Nodes 1..max_nodes, every link behaving as `defaults`.
  Network(EventLoop* loop, Rng* rng, NodeIndex max_nodes, LinkOptions defaults);

  // Overrides one directed link's behaviour.
  void SetLink(NodeIndex from, NodeIndex to, LinkOptions options);
  const LinkOptions& Link(NodeIndex from, NodeIndex to) const;

  // Sends a message; `deliver` runs at `to` unless the message is lost or
  // blocked (maybe twice, if duplicated). REQUIRES: 1 <= from, to <= max_nodes.
  void Send(NodeIndex from, NodeIndex to, std::function<void()> deliver);

  // Partitions. Each replaces any partition in force; Heal() removes it.
  // Symmetric: nodes in `a` and nodes in `b` cannot reach each other.
  void PartitionSymmetric(const std::vector<NodeIndex>& a, const std::vector<NodeIndex>& b);
  // Asymmetric: messages from `from` to `to` (and only that way) are dropped.
  void BlockOneWay(NodeIndex from, NodeIndex to);
  // `node` can neither send to nor hear from anyone.
  void Isolate(NodeIndex node);
  // `a` and `b` cannot reach each other, but both reach `bridge` (which is in
  // neither). The classic setup for a leader elected by half a cluster.
  void Bridge(const std::vector<NodeIndex>& a, NodeIndex bridge, const std::vector<NodeIndex>& b);
  void Heal();

  bool Blocked(NodeIndex from, NodeIndex to) const { return blocked_[Slot(from, to)]; }
  bool partitioned() const { return partition_active_; }
  // A one-line description of the partition in force, e.g. "isolate 3".
  const std::string& partition_description() const { return partition_description_; }
  const NetworkStats& stats() const { return stats_; }

 private:
  size_t Slot(NodeIndex from, NodeIndex to) const {
    DKV_ASSERT(from >= 1 && from <= max_nodes_);
    DKV_ASSERT(to >= 1 && to <= max_nodes_);
    return static_cast<size_t>((from - 1) * max_nodes_ + (to - 1));
  }
  int64_t DrawLatency(const LinkOptions& link);
  void Block(NodeIndex from, NodeIndex to) { blocked_[Slot(from, to)] = true; }

  EventLoop* loop_;
  Rng* rng_;
  NodeIndex max_nodes_;
  std::vector<LinkOptions> links_;
  std::vector<bool> blocked_;
  bool partition_active_ = false;
  std::string partition_description_;
  NetworkStats stats_;
};

}  // namespace dkv::sim
