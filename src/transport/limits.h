// Named limits of the node-to-node transport, each with the reason for its value.
//
// Owned by src/transport. AsioTransportOptions may lower the queue bounds and the
// backoff per node; the frame limits are part of the wire contract
// (docs/formats/rpc.md). Constants only; thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "raft/limits.h"

namespace dkv::transport {

// Bumped when a frame or handshake change is not backwards compatible; a peer
// announcing another version is refused during the handshake.
constexpr uint32_t kProtocolVersion = 1;

// Largest frame payload accepted: a batch carries at most one snapshot chunk
// (raft caps chunks at kMaxSnapshotChunkBytes, 16 MiB; the default is 1 MiB) and
// MsgApps of max_size_per_msg (1 MiB by default) per shard, so 64 MiB leaves
// room while bounding what one connection can make the receiver buffer.
constexpr uint32_t kMaxFrameBytes = 64u << 20;
static_assert(kMaxFrameBytes > 2 * raft::kMaxSnapshotChunkBytes);

// Largest frame accepted before the handshake completes: a Hello is a few dozen
// bytes, so an unauthenticated client cannot make us buffer more than this.
constexpr uint32_t kMaxHelloFrameBytes = 4096;

// Longest cluster id a Hello may carry (it is logged and compared, nothing more).
constexpr size_t kMaxClusterIdBytes = 256;

// Default bounds of each peer's send queue. Raft resends what is dropped, so
// the queue only needs to absorb a burst while the socket drains: 4096 batches
// is seconds of heartbeats for thousands of shards, 64 MiB one frame at the limit.
constexpr size_t kDefaultMaxQueuedBatches = 4096;
constexpr size_t kDefaultMaxQueuedBytes = 64u << 20;

// Received bytes waiting for the core to handle them, per transport: a core that
// has stalled (long fsync, GC of a huge batch) sees drops, which Raft repairs,
// instead of the transport buffering without bound.
constexpr size_t kDefaultMaxUndeliveredBytes = 128u << 20;

// Frames gathered into one write: enough to amortise the syscall, few enough that
// the iovec array stays small (IOV_MAX is 1024; each frame takes two buffers).
constexpr size_t kMaxFramesPerWrite = 256;

// Reconnect backoff: first retry after ~50 ms (a restarting peer is back soon),
// doubling to at most 2 s (an election timeout's order, so a healed peer rejoins
// before an election would be needed to notice it). Jitter picks uniformly in
// [backoff/2, backoff] so a cluster's nodes do not redial in lockstep.
constexpr std::chrono::milliseconds kDefaultBackoffMin{50};
constexpr std::chrono::milliseconds kDefaultBackoffMax{2000};

// A dial (TCP connect plus Hello exchange) that has not finished by then is
// abandoned: a silently partitioned peer would otherwise hold it for minutes of
// SYN retries.
constexpr std::chrono::milliseconds kDefaultDialTimeout{2000};

// A write that makes no progress for this long means the peer stopped reading
// or vanished without a FIN (a silent partition): the connection is dropped and
// redialed, so Reachable turns false. At the frame limit this still allows a
// 64 MiB write over a link of ~60 Mbit/s.
constexpr std::chrono::milliseconds kDefaultWriteStallTimeout{10000};

// An accepted connection must complete its Hello within this, and at most this
// many may be waiting to: garbage-speaking or idle clients cannot pile up sockets.
constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{2000};
constexpr size_t kMaxPendingInbound = 64;

// Pause after a failed accept (usually EMFILE) before accepting again, so a node
// out of descriptors does not spin; existing connections keep working meanwhile.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// Bytes asked of the socket per read on an inbound connection.
constexpr size_t kReadChunkBytes = 64u << 10;

}  // namespace dkv::transport
