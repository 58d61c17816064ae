// NodePlan: what one node of a cluster needs from the cluster TOML to start —
// its own addresses and data directory, every peer's address (host and port
// split, as the transport dials them), the shards it hosts in the initial
// placement, and Raft timing already converted to ticks. It is the bridge from
// ClusterConfig to node::NodeOptions and transport::AsioTransportOptions,
// kept free of both so the cluster layer stays below them. A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/cluster_config.h"
#include "common/status.h"
#include "sharding/metadata.h"

namespace dkv::cluster {

struct PeerEndpoint {
  NodeId id = 0;
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const PeerEndpoint&, const PeerEndpoint&) = default;
};

struct NodePlan {
  std::string cluster_id;
  NodeId self = 0;
  // Where this node listens.
  std::string client_host;
  uint16_t client_port = 0;
  std::string peer_host;
  uint16_t peer_port = 0;
  int admin_port = 0;
  // The node's engine directory: NodeDir(self) + "/data", the same directory
  // the launcher passes as --dir (ServerArgs).
  std::string data_dir;
  // Every node of the cluster including self (the transport ignores self),
  // in ascending id order.
  std::vector<PeerEndpoint> peers;
  // Shards with a replica on this node in the initial placement, ascending;
  // and, for each, the initial voters (same order as hosted_shards).
  std::vector<ShardId> hosted_shards;
  std::vector<std::vector<NodeId>> hosted_shard_voters;
  // The founding voters of the metadata group (sharding::kMetadataGroupId,
  // the replicated shard map; sharding/metadata.h), the same on every node.
  // A node listed here founds a replica of it with the initial placement.
  std::vector<NodeId> metadata_voters;
  // Raft timing in ticks of tick_interval_ms.
  uint32_t tick_interval_ms = 0;
  int election_tick = 0;
  int heartbeat_tick = 0;
  int64_t max_clock_offset_us = 0;
};

// The plan for node `self`. NotFound if the config has no such node.
// REQUIRES: config.Validate().ok().
Result<NodePlan> PlanForNode(const ClusterConfig& config, NodeId self);

}  // namespace dkv::cluster
