// The metadata group's state: the cluster's ShardMap, replicated by one Raft
// group with a reserved id (kMetadataGroupId) whose state machine keeps the
// encoded map under one well-known key (kShardMapKey) of a shard-style kv
// engine. This header holds what every node must agree on about that group --
// its id, its key, who founds it -- and the changes its leader applies to the
// map (MapChange): each change is read-modify-write of the whole map, made by
// the metadata leader one batch at a time (docs/sharding.md, "The metadata
// group"). Plain values and functions; thread-safe as values are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sharding/shard_map.h"

namespace dkv::sharding {

// The Raft group id of the metadata group. Frozen: it names the group's log
// and engine on disk. Far above every data shard id (0..kMaxShards-1).
inline constexpr ShardId kMetadataGroupId = 0xFFFFFFFFu;
static_assert(kMetadataGroupId >= kMaxShards, "the metadata group id is no data shard's");

// The key of the encoded ShardMap in the metadata group's kv engine. Frozen.
inline constexpr std::string_view kShardMapKey = "dkv/shard-map";

// A map founded from a cluster config starts at this version (every later
// change adds one).
inline constexpr uint64_t kFoundingMapVersion = 1;

// The metadata group's founding voters: the first max(3, replication_factor)
// of `node_ids` in ascending order (all of them if fewer). Every founding
// node computes the same list from the same config. REQUIRES: node_ids
// non-empty, replication_factor >= 1.
std::vector<NodeId> MetadataVoters(std::vector<NodeId> node_ids, uint32_t replication_factor);

// The value the metadata group is founded with: `initial` (the config's
// initial placement) at version kFoundingMapVersion.
ShardMap FoundingMap(ShardMap initial);

// One change to the map, as the metadata leader applies it.
struct MapChange {
  enum class Kind {
    // Makes the shard's replicas the set `nodes` (order of the replicas that
    // stay is kept, new ones go last) and, if `leader` != 0, the leader hint.
    // What a data shard's leader proposes from its applied membership.
    kSync,
    kAddReplica,     // nodes = {node}: appended unless present
    kRemoveReplica,  // nodes = {node}: removed if present
    kSetLeaderHint,  // leader (0 clears it)
  };
  Kind kind = Kind::kSync;
  ShardId shard = 0;
  std::vector<NodeId> nodes;
  NodeId leader = kNoNode;

  // Text form for admin requests: "SYNC s 1,2,3 L", "ADD s n", "REMOVE s n",
  // "LEADER s n".
  std::vector<std::string> ToArgs() const;
  // InvalidArgument for anything ToArgs could not have produced.
  static Result<MapChange> FromArgs(const std::vector<std::string>& args);
  friend bool operator==(const MapChange&, const MapChange&) = default;
};

// Applies `change` to `map`. True if the map changed (its version went up),
// false if it already said so (no new version: repeating a change is free).
// NotFound for a shard not in the map; InvalidArgument for a change the map
// cannot hold (no replica left, too many, a leader hint that is not a
// replica); the map is unchanged on error.
Result<bool> ApplyMapChange(ShardMap* map, const MapChange& change);

}  // namespace dkv::sharding
