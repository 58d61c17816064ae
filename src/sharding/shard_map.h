// ShardMap: the versioned description of how the keyspace is split — ring
// parameters, and for each shard its replica nodes and a leader hint. It is
// the value a metadata Raft group will replicate: every change makes a new
// version, and Encode/Decode give a compact checksummed form
// (docs/formats/shard_map.md) that Decode checks fully, rejecting malformed
// bytes with Corruption. A plain value: not thread-safe to mutate; copy it or
// share it as const.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sharding/hash_ring.h"
#include "sharding/limits.h"

namespace dkv::sharding {

using NodeId = uint64_t;
// Node ids start at 1; 0 means "no node" (e.g. no known leader).
inline constexpr NodeId kNoNode = 0;

struct ShardInfo {
  ShardId id = 0;
  std::vector<NodeId> replicas;  // distinct, non-zero, 1..kMaxReplicasPerShard
  NodeId leader_hint = kNoNode;  // kNoNode or one of replicas; may be stale
  friend bool operator==(const ShardInfo&, const ShardInfo&) = default;
};

// Encoding constants. Frozen.
inline constexpr char kShardMapMagic[4] = {'D', 'K', 'S', 'M'};
inline constexpr uint8_t kShardMapFormatVersion = 1;
// magic (4) + format version (1) + body length (fixed32) + checksum (fixed32).
inline constexpr size_t kShardMapHeaderSize = 4 + 1 + 4 + 4;

class ShardMap {
 public:
  // An empty map at version 0. REQUIRES: 1 <= vnodes_per_shard <= kMaxVnodesPerShard.
  explicit ShardMap(uint32_t vnodes_per_shard = kDefaultVnodesPerShard);

  // Counts changes: each successful mutation below adds one.
  uint64_t version() const { return version_; }
  // Sets the version outright: for a founding value (sharding/metadata.h) and
  // tests. Every other change goes through the mutations below.
  void set_version(uint64_t version) { version_ = version; }
  uint32_t vnodes_per_shard() const { return vnodes_per_shard_; }
  // Ascending by id.
  const std::vector<ShardInfo>& shards() const { return shards_; }
  // nullptr if the shard is not in the map.
  const ShardInfo* Find(ShardId id) const;

  // Adds a shard with its replicas and no leader hint. InvalidArgument if the
  // id is taken or the replicas are invalid; ResourceExhausted beyond kMaxShards.
  Status AddShard(ShardId id, std::vector<NodeId> replicas);
  // NotFound if absent.
  Status RemoveShard(ShardId id);
  // Replaces the replica set; a leader hint no longer in it is cleared.
  Status SetReplicas(ShardId id, std::vector<NodeId> replicas);
  // leader must be kNoNode or one of the shard's replicas (else InvalidArgument).
  Status SetLeaderHint(ShardId id, NodeId leader);

  // A ring holding every shard of the map with its vnode count.
  HashRing BuildRing() const;

  // Appends the encoded map to dst.
  void EncodeTo(std::string* dst) const;
  std::string Encode() const;
  // Decodes exactly one encoded map (no trailing bytes). Corruption, saying
  // what is wrong and where, for anything Encode could not have produced.
  static Result<ShardMap> Decode(std::string_view input);

  friend bool operator==(const ShardMap&, const ShardMap&) = default;

 private:
  ShardInfo* FindMutable(ShardId id);

  uint64_t version_ = 0;
  uint32_t vnodes_per_shard_;
  std::vector<ShardInfo> shards_;  // ascending id, each valid
};

}  // namespace dkv::sharding
