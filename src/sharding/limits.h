// Named limits of the sharding layer (hash ring and shard map), each with the
// reason for its value. Constants only; included by the ring, the shard map and
// their tests. Values that shape persisted data (the default vnode count) are
// recorded inside each shard map, so changing a default never moves data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::sharding {

// Virtual nodes per shard unless configured otherwise: with 128 the largest
// shard holds 1.05x-1.7x the keys of the smallest for 2-64 shards (measured
// in hash_ring_test, which bounds it at 2x), at 2 KiB of ring per shard.
inline constexpr uint32_t kDefaultVnodesPerShard = 128;

// Beyond 1024 vnodes the balance gain is below a few percent while the ring
// (16 bytes per vnode, held by every router) keeps growing.
inline constexpr uint32_t kMaxVnodesPerShard = 1024;

// A shard is a Raft group on R nodes; 4096 groups is far past what one
// cluster's metadata group should describe in one map, and keeps the largest
// ring at 4096 * 1024 * 16 bytes = 64 MiB.
inline constexpr uint32_t kMaxShards = 4096;

// Raft groups larger than 7 replicas only add commit latency; 7 tolerates 3
// failures.
inline constexpr uint32_t kMaxReplicasPerShard = 7;

// The largest encoded shard map: header plus, per shard, its id (varint32),
// replica count (varint32), replicas and leader hint (varint64 each), plus the
// map's version and vnode count. Decode rejects a length field beyond this
// before reading anything else.
inline constexpr size_t kMaxShardMapBodyBytes =
    10 + 5 + 5 + size_t{kMaxShards} * (5 + 5 + (size_t{kMaxReplicasPerShard} + 1) * 10);
static_assert(kMaxShardMapBodyBytes < (size_t{1} << 20), "a shard map fits one Raft entry");
static_assert(kDefaultVnodesPerShard <= kMaxVnodesPerShard);

}  // namespace dkv::sharding
