// Admin client: what the `distkv` tool asks a running cluster -- the shards'
// live membership, leaders, terms and applied indexes (DKV.SHARDS), and the
// membership and leadership commands (DKV.ADDREPLICA, DKV.REMOVEREPLICA,
// DKV.TRANSFERLEADER). Each call asks the config's nodes in order until one
// answers (any node coordinates a command, docs/runtime.md). Blocking,
// stateless functions built on the probes; safe on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_config.h"
#include "common/status.h"

namespace dkv::cluster {

// One replica of a shard as DKV.SHARDS lists it ("node:role:applied").
struct ReplicaState {
  NodeId node = 0;
  std::string role;
  uint64_t applied = 0;
};

// One line of DKV.SHARDS.
struct ShardState {
  ShardId shard = 0;
  NodeId leader = 0;  // 0: none known
  uint64_t term = 0;
  uint64_t applied = 0;
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  std::vector<ReplicaState> replicas;
  // The shard map version the answering node routes by (0: no map, or a
  // node older than the metadata group).
  uint64_t map_version = 0;
};

// Parses a DKV.SHARDS line; InvalidArgument if it is not one.
Result<ShardState> ParseShardLine(std::string_view line);

// DKV.SHARDS of the first node that answers; *asked (if not null) gets its id.
// Unavailable when no node answers.
Result<std::vector<ShardState>> QueryShards(const ClusterConfig& config, int timeout_ms,
                                            NodeId* asked);

// Sends argv (an admin command) to the first node that accepts a connection
// and returns its answer ("OK"); a RESP error is Aborted with its text, which
// is not retried on another node (the command was taken).
Result<std::string> RunAdminCommand(const ClusterConfig& config,
                                    const std::vector<std::string>& argv, int timeout_ms);

}  // namespace dkv::cluster
