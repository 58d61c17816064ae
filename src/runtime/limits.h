// Named limits of the cluster runtime (src/runtime): the raft loop that drives
// a node::Node in a distkv-server process, request routing and forwarding, and
// the cluster-mode client connections. Each number says why it is what it is.
// Constants only; owned by the runtime engineer; safe everywhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace dkv::runtime {

// How long a routed request waits for its shard to have a leader (elections
// after a crash take about one election timeout, 1 s by default) before the
// client gets "-UNAVAILABLE shard N has no leader". Bounded so a shard that
// lost its quorum answers errors instead of hanging clients.
inline constexpr std::chrono::milliseconds kNoLeaderWait{2000};

// A proposal or read the node core has not answered within this time
// completes with TimedOut (outcome unknown for writes). Converted to ticks of
// the cluster's tick interval.
inline constexpr std::chrono::milliseconds kRequestTimeout{3000};

// A forwarded request whose answer has not come back within this time fails
// (outcome unknown for writes). Longer than kRequestTimeout so the remote
// node's own timeout normally answers first, with a precise error.
inline constexpr std::chrono::milliseconds kForwardTimeout{4000};

// Attempts of one routed request (each: a local execution or one forward),
// so "not leader" answers bouncing between two nodes with stale views cannot
// loop for ever; the kNoLeaderWait deadline bounds it in time as well.
inline constexpr int kMaxRouteAttempts = 64;

// Forwarded requests waiting for an answer on one node: beyond it new
// forwards fail at once (ResourceExhausted) instead of growing memory
// behind an unreachable or stalled peer.
inline constexpr size_t kMaxPendingForwards = 100000;

// Writes of one shard proposed together (one Raft append and one MsgApp per
// follower for all of them): group commit within a group. Well below raft's
// kMaxEntriesPerMsg (4096) so one batch never fills a whole message.
inline constexpr size_t kMaxProposalBatchCommands = 256;
// Key and value bytes of one proposal batch: a batch stops growing past it,
// far below Raft's uncommitted-bytes cap, so big values do not ride together.
inline constexpr size_t kMaxProposalBatchBytes = 1u << 20;

// Ticks after the first start during which a node campaigns for the shards
// it is the preferred leader of, as soon as their voters are reachable
// (peers starting a few seconds apart); after that elections run normally.
inline constexpr uint64_t kPreferredCampaignTicks = 1000;

// A node asks its peers for the shards' membership (after a peer answered
// that it hosts no replica of a shard) at most this often, so a burst of
// misrouted requests costs one round of questions, not one per request.
inline constexpr std::chrono::milliseconds kMembershipRefreshInterval{200};

// Admin commands (runtime/admin_commands.h): how long one step waits for
// its shard's leader or its conf change, retried every tick within it --
// longer than kForwardTimeout so a step whose answer was lost (a peer's
// connection just came back) is asked again; and how long a new learner may
// take to catch up (log or snapshot) before it is promoted to voter.
inline constexpr std::chrono::milliseconds kAdminStepWait{10000};
inline constexpr std::chrono::milliseconds kAdminCatchUpWait{30000};
// A learner is caught up when its log reaches the leader's commit index as
// of the first look, or comes within this many entries of the current one
// (under a steady load a pipelining leader is always some batches ahead;
// 1024 entries are a few batches and replay in milliseconds).
inline constexpr uint64_t kAdminCatchUpSlackEntries = 1024;
// How often the admin service looks at this node's replicas (removed ones
// are dropped, serving flags updated) -- in ticks of the raft loop.
inline constexpr uint64_t kAdminHousekeepingTicks = 5;
// A node with a leaderless replica asks its peers for their shards at most
// this often (a replica removed while the node was away learns it so).
inline constexpr std::chrono::milliseconds kLeaderlessRefreshInterval{2000};
// DKV.SHARDS waits at most this long for the peers' answers, then answers
// with what it has (a paused peer must not hold an operator for the forward
// timeout).
inline constexpr std::chrono::milliseconds kShardsGatherWait{1000};

// A node without a replica of the metadata group asks a member for a newer
// shard map this often (and at once when a shard answers "no replica" or "not
// leader" without a hint): a second of staleness costs retries, never a wrong
// answer, and one small request per second per node is nothing.
inline constexpr std::chrono::milliseconds kMapPollInterval{1000};
// A data shard's leader proposes the fix of its map entry (replicas, leader
// hint) at most this often per shard: leadership may flap during elections,
// and a hint may be stale by design.
inline constexpr std::chrono::milliseconds kMapSyncInterval{1000};
// How long a map change waits for the metadata group's leader (elections
// included) before giving up: a DKV.ADDREPLICA/REMOVEREPLICA whose membership
// change is made answers OK after at most this much more, and the shard
// leader's housekeeping makes the change later (docs/sharding.md).
inline constexpr std::chrono::milliseconds kMapUpdateWait{3000};

// Commands of one client connection that may be in flight (parsed, reply not
// yet written) before reading from it pauses: bounds the memory one deeply
// pipelining client can pin in the raft loop.
inline constexpr size_t kMaxInflightCommandsPerConnection = 1024;

// Unwritten reply bytes at which a connection stops reading until the client
// reads most of them (back-pressure, like the standalone server's limit).
inline constexpr size_t kOutputPauseBytes = 4u << 20;

// Connected clients per node; more are accepted and closed at once.
inline constexpr size_t kMaxClients = 10000;

// Bytes read from a client socket per read call.
inline constexpr size_t kReadChunkBytes = 64 * 1024;

}  // namespace dkv::runtime
