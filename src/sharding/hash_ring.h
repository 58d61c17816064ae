// HashRing: maps keys to shards by consistent hashing with virtual nodes
// (DESIGN.md §2). Each shard owns vnodes_per_shard points on a 64-bit ring;
// a key belongs to the shard of the first point at or after the key's hash,
// wrapping around. Adding a shard moves only the keys the new points capture
// (about 1/(N+1)) and only to the new shard; removing a shard moves only its
// keys. Point positions are frozen (see VnodePosition): they decide where data
// lives.
//
// A ring is a value built by one owner (usually from a ShardMap); mutating
// calls are not thread-safe, const calls may run concurrently with each other.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sharding/limits.h"

namespace dkv::sharding {

using ShardId = uint32_t;

class HashRing {
 public:
  // REQUIRES: 1 <= vnodes_per_shard <= kMaxVnodesPerShard.
  explicit HashRing(uint32_t vnodes_per_shard = kDefaultVnodesPerShard);

  // Places the shard's vnodes on the ring. InvalidArgument if the shard is
  // already there; ResourceExhausted beyond kMaxShards.
  Status AddShard(ShardId id);
  // Takes the shard's vnodes off the ring. NotFound if it is not there.
  Status RemoveShard(ShardId id);

  // The shard that owns key. Unavailable if the ring has no shards.
  Result<ShardId> ShardFor(std::string_view key) const;

  // The shards on the ring, ascending.
  const std::vector<ShardId>& Shards() const { return shards_; }
  bool Contains(ShardId id) const;
  uint32_t vnodes_per_shard() const { return vnodes_per_shard_; }

  // Frozen: Hash64("shard-<id>#<vnode>", seed 0) with id and vnode in decimal,
  // e.g. "shard-7#0" .. "shard-7#127". Points at equal positions are ordered by
  // shard id, so a collision resolves the same whatever the insertion order.
  static uint64_t VnodePosition(ShardId id, uint32_t vnode);
  // Frozen: Hash64(key, seed 0).
  static uint64_t KeyPosition(std::string_view key);

 private:
  struct Point {
    uint64_t position;
    ShardId shard;
    uint32_t vnode;
    friend auto operator<=>(const Point&, const Point&) = default;
  };

  // The owner of the first point at or after position, wrapping around.
  // REQUIRES: !points_.empty().
  ShardId OwnerOf(uint64_t position) const;

  uint32_t vnodes_per_shard_;
  std::vector<Point> points_;    // sorted by (position, shard, vnode)
  std::vector<ShardId> shards_;  // sorted, distinct
};

}  // namespace dkv::sharding
