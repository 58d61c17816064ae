// Named maxima of the Raft core, each with the reason for its value.
//
// Owned by src/raft. Config fields may lower these per group; the core asserts or
// returns ResourceExhausted when a bound is reached. Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::raft {

// Uncommitted bytes a leader accepts before refusing proposals: bounds the memory a
// leader that has lost its quorum can accumulate (etcd uses a similar cap).
constexpr uint64_t kMaxUncommittedBytes = 64ull << 20;

// Pending ReadIndex requests a leader holds before answering ResourceExhausted: each
// costs a heartbeat round; more than this means the group is overloaded or partitioned.
constexpr size_t kMaxPendingReadIndex = 4096;

// Proposals one Propose call may carry and entries one MsgApp may hold, whatever the
// byte limit says: keeps a single message's decode cost bounded.
constexpr size_t kMaxEntriesPerMsg = 4096;

// The in-flight window can never exceed this, whatever Config says: each slot is a
// ring-buffer entry kept per follower.
constexpr size_t kMaxInflightMsgsLimit = 4096;

// Largest election timeout accepted in ticks; larger values are almost surely a unit
// mistake (milliseconds passed as ticks).
constexpr int kMaxElectionTick = 100000;

// Snapshot chunks are at most this large, so one message stays well under any
// transport frame limit.
constexpr uint64_t kMaxSnapshotChunkBytes = 16ull << 20;

// The runtime's default tick interval (the real server and the simulator). With
// Config's defaults (heartbeat_tick 1, election_tick 10) a leader heartbeats every
// 25 ms and a follower that hears nothing campaigns after 250-500 ms, so failover
// stays well under a second (docs/raft.md §6), while the timeout is still
// thousands of loopback round trips (52 us) and fsyncs (0.1-0.2 ms): timeouts
// measure failures, not load. Cross-region groups need a longer tick.
constexpr int64_t kDefaultTickMicros = 25'000;

static_assert(kMaxEntriesPerMsg > 0);
static_assert(kMaxInflightMsgsLimit >= 1);

}  // namespace dkv::raft
