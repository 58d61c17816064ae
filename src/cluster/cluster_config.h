// ClusterConfig: the one TOML file that describes a DistKV cluster (DESIGN.md
// §2): its id, where node data lives, every node's addresses, the shard count,
// replication factor, ring vnodes, Raft timing and the HLC's maximum clock
// offset. It also fixes the deterministic initial placement of shards on nodes
// and the initial sharding::ShardMap built from it. The format is documented
// in docs/cluster.md. A plain value: copy freely; not for concurrent mutation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/limits.h"
#include "common/status.h"
#include "sharding/shard_map.h"

namespace dkv::cluster {

using sharding::NodeId;
using sharding::ShardId;

// One distkv-server process of the cluster.
struct NodeConfig {
  NodeId id = 0;            // >= 1, unique in the cluster
  std::string client_addr;  // "host:port" where clients speak RESP
  std::string peer_addr;    // "host:port" for node-to-node Raft traffic
  int admin_port = 0;       // HTTP /health and /metrics on the client host; 0 = off
  friend bool operator==(const NodeConfig&, const NodeConfig&) = default;
};

struct ClusterConfig {
  std::string cluster_id = "distkv";
  // Root of all node data: node N keeps its files in NodeDir(N).
  std::string data_dir = "./distkv-cluster";
  std::vector<NodeConfig> nodes;  // in file order; ids need not be dense
  uint32_t shards = kDefaultShards;
  uint32_t replication_factor = kDefaultReplicationFactor;
  uint32_t vnodes_per_shard = sharding::kDefaultVnodesPerShard;
  // Raft timing. The node core counts ticks; the runtime ticks every
  // tick_interval_ms, so the timeouts become ElectionTicks()/HeartbeatTicks().
  uint32_t tick_interval_ms = kDefaultTickIntervalMs;
  uint32_t election_timeout_ms = kDefaultElectionTimeoutMs;
  uint32_t heartbeat_interval_ms = kDefaultHeartbeatIntervalMs;
  // An HLC timestamp from a peer further ahead of our clock than this is
  // refused with a logged error (issue #5).
  uint32_t max_clock_offset_ms = kDefaultMaxClockOffsetMs;
  // "new": a node whose data dir was never founded founds the groups of the
  // initial placement. "existing": the cluster was founded; a node whose
  // data dir lost its founding marker refuses to start unless it is started
  // with --join (then it founds nothing and gets replicas by add-replica).
  // `distkv cluster up` switches a new cluster to "existing" once every node
  // served (docs/runtime.md, "Replacing a node's disk").
  std::string cluster_state = "new";

  friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;

  // OK, or InvalidArgument naming the first bad field, e.g.
  // "cluster config: nodes[2].id: duplicate id 3".
  Status Validate() const;

  bool IsExisting() const { return cluster_state == "existing"; }
  // nullptr if no node has this id.
  const NodeConfig* FindNode(NodeId id) const;
  // "<data_dir>/node-<id>".
  std::string NodeDir(NodeId id) const;
  uint32_t ElectionTicks() const { return election_timeout_ms / tick_interval_ms; }
  uint32_t HeartbeatTicks() const { return heartbeat_interval_ms / tick_interval_ms; }

  // Node ids in ascending order.
  std::vector<NodeId> SortedNodeIds() const;

  // The initial replicas of each shard 0..shards-1, deterministic from the
  // config: the first replica (the preferred leader) goes round-robin over
  // the nodes in ascending id order, the others to the least loaded nodes,
  // so each node leads shards/N (+-1) shards and holds about as many
  // replicas as any other (checked +-1 in the test for 1-7 nodes).
  // REQUIRES: Validate().ok().
  std::vector<std::vector<NodeId>> InitialPlacement() const;
  // A ShardMap holding every shard with its initial replicas and no leader
  // hint. REQUIRES: Validate().ok().
  Result<sharding::ShardMap> InitialShardMap() const;

  // TOML text that ParseClusterConfig reads back to an equal config.
  std::string ToToml() const;
};

// Parses TOML text (`origin` names it in errors, e.g. the file path) and
// validates it. Unknown keys are InvalidArgument so a misspelt key is not
// silently ignored; missing keys take the defaults above (nodes is required).
Result<ClusterConfig> ParseClusterConfig(std::string_view toml_text,
                                         std::string_view origin = "cluster config");
// Reads and parses a file. IOError if it cannot be read. A relative
// data_dir is resolved against the file's directory.
Result<ClusterConfig> LoadClusterConfig(const std::string& path);
// Writes ToToml() to path (via a temp file and rename, so a reader never sees
// half a file).
Status WriteClusterConfig(const ClusterConfig& config, const std::string& path);

// A local cluster of `nodes` nodes on 127.0.0.1, each with a client, peer and
// admin port that were free when asked (3 * nodes distinct ports), data under
// data_dir. replication_factor is min(3, nodes). InvalidArgument for counts
// out of range; IOError if the kernel hands out no ports.
Result<ClusterConfig> GenerateLocalConfig(uint32_t nodes, uint32_t shards,
                                          const std::string& data_dir);

// Splits "host:port". InvalidArgument if there is no colon, the host is empty
// or the port is not in 1..65535.
Status SplitHostPort(std::string_view addr, std::string* host, int* port);

// `count` distinct TCP ports on 127.0.0.1 that the kernel reported free (all
// held open until every one is picked, then released: a small race with other
// processes, acceptable for local clusters and tests).
Result<std::vector<int>> PickFreeLoopbackPorts(size_t count);

}  // namespace dkv::cluster
