#include "cluster/node_plan.h"

#include <algorithm>

namespace dkv::cluster {

namespace {

Status SplitToEndpoint(const std::string& addr, std::string* host, uint16_t* port) {
  int p = 0;
  DKV_RETURN_IF_ERROR(SplitHostPort(addr, host, &p));
  DKV_ASSERT(p >= 1 && p <= 65535);
  *port = static_cast<uint16_t>(p);
  return Status::OK();
}

}  // namespace

Result<NodePlan> PlanForNode(const ClusterConfig& config, NodeId self) {
  DKV_ASSERT(config.Validate().ok());
  const NodeConfig* me = config.FindNode(self);
  if (me == nullptr) {
    return Status::NotFound("cluster config", "no node with id " + std::to_string(self));
  }
  NodePlan plan;
  plan.cluster_id = config.cluster_id;
  plan.self = self;
  DKV_RETURN_IF_ERROR(SplitToEndpoint(me->client_addr, &plan.client_host, &plan.client_port));
  DKV_RETURN_IF_ERROR(SplitToEndpoint(me->peer_addr, &plan.peer_host, &plan.peer_port));
  plan.admin_port = me->admin_port;
  plan.data_dir = config.NodeDir(self) + "/data";
  for (NodeId id : config.SortedNodeIds()) {
    PeerEndpoint peer;
    peer.id = id;
    DKV_RETURN_IF_ERROR(SplitToEndpoint(config.FindNode(id)->peer_addr, &peer.host, &peer.port));
    plan.peers.push_back(std::move(peer));
  }
  const auto placement = config.InitialPlacement();
  for (ShardId s = 0; s < placement.size(); s++) {
    const auto& voters = placement[s];
    if (std::find(voters.begin(), voters.end(), self) != voters.end()) {
      plan.hosted_shards.push_back(s);
      plan.hosted_shard_voters.push_back(voters);
    }
  }
  plan.metadata_voters =
      sharding::MetadataVoters(config.SortedNodeIds(), config.replication_factor);
  plan.tick_interval_ms = config.tick_interval_ms;
  plan.election_tick = static_cast<int>(config.ElectionTicks());
  plan.heartbeat_tick = static_cast<int>(config.HeartbeatTicks());
  plan.max_clock_offset_us = int64_t{config.max_clock_offset_ms} * 1000;
  DKV_ASSERT(plan.heartbeat_tick >= 1);
  DKV_ASSERT(plan.election_tick > plan.heartbeat_tick);
  return plan;
}

}  // namespace dkv::cluster
