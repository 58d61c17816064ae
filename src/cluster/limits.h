// Named limits and defaults of the cluster layer (the cluster config, the
// distkv launcher), each with the reason for its value. Constants only.
#pragma once

#include <cstdint>

#include "raft/limits.h"
#include "sharding/limits.h"

namespace dkv::cluster {

// Eight shards spread three replicas evenly over 1-8 nodes and give each node
// several groups to batch, without many idle Raft groups on a laptop.
inline constexpr uint32_t kDefaultShards = 8;
// Three replicas survive one node's loss, the usual production minimum.
inline constexpr uint32_t kDefaultReplicationFactor = 3;

// The Raft defaults of every DistKV runtime (raft::kDefaultTickMicros, 25 ms;
// heartbeat every tick, election after 10-20 ticks): a crashed leader is
// replaced well under a second, and pre-vote plus check-quorum keep a node that
// misses a few heartbeats from disrupting the group. docs/raft.md §6 says why;
// etcd's 100 ms / 1 s can be configured for a like-for-like comparison.
inline constexpr uint32_t kDefaultTickIntervalMs = 25;
inline constexpr uint32_t kDefaultElectionTimeoutMs = 250;
inline constexpr uint32_t kDefaultHeartbeatIntervalMs = 25;
// CockroachDB's default; generous for NTP-synced machines in one region.
inline constexpr uint32_t kDefaultMaxClockOffsetMs = 500;

// A cluster config describes at most this many nodes: far beyond a local
// cluster and what one metadata group should track, and it bounds the port
// search of the local generator.
inline constexpr uint32_t kMaxNodes = 256;
// Election timeouts beyond a minute only hide failures.
inline constexpr uint32_t kMaxElectionTimeoutMs = 60'000;
// The tick must divide time finely enough that an election timeout is at
// least this many ticks (randomised election needs room to spread).
inline constexpr uint32_t kMinElectionTicks = 3;
// Clock offsets beyond a minute mean a broken clock, not skew.
inline constexpr uint32_t kMaxClockOffsetMs = 60'000;
// A config file larger than this is not a cluster description.
inline constexpr uint64_t kMaxConfigFileBytes = 1 << 20;

static_assert(kDefaultShards <= sharding::kMaxShards);
static_assert(kDefaultReplicationFactor <= sharding::kMaxReplicasPerShard);
static_assert(kDefaultElectionTimeoutMs / kDefaultTickIntervalMs >= kMinElectionTicks);
static_assert(kDefaultHeartbeatIntervalMs < kDefaultElectionTimeoutMs);
static_assert(int64_t{kDefaultTickIntervalMs} * 1000 == raft::kDefaultTickMicros);

}  // namespace dkv::cluster
