// Node: the sans-IO multi-Raft core of one DistKV process. It hosts replicas of
// many shards — a raft::RawNode and a ShardStateMachine each — on one shared
// RaftLogStore, and turns ticks, peers' message batches, proposals and reads
// into durable log writes, batched messages (through a Transport) and
// completions.
//
// One round (ProcessReady) serves every group at once: it installs received
// snapshots, writes all groups' entries and hard states with ONE synced write,
// then sends messages batched per peer, applies committed entries, answers
// proposals and ReadIndex reads, and advances each group. No threads, sockets
// or clocks of its own: time comes in as Tick() and through the Clock given
// for the HLC. A round can also be split (StartRound / FinishRound) so the raft
// log's write and fsync run on a thread of the runtime's while the node keeps
// receiving, proposing, applying and answering. Not thread-safe: the runtime
// (asio loop or simulator) drives it from one thread; only the LogWriteTask a
// round hands out runs elsewhere.
// Owned by the node engineer; see docs/node.md.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "node/limits.h"
#include "node/raft_log_store.h"
#include "node/shard_command.h"
#include "node/shard_state_machine.h"
#include "node/transport.h"
#include "raft/raw_node.h"
#include "storage/env.h"
#include "time/hlc.h"

namespace dkv::node {

struct NodeOptions {
  NodeId id = raft::kNoNode;
  // Holds "raft" (the raft log engine) and one engine per shard replica.
  std::string data_dir;
  storage::Env* env = nullptr;  // nullptr: Env::Posix()
  // Read by the node's HLC (commit timestamps). REQUIRED; must outlive the Node.
  Clock* clock = nullptr;
  // Remote timestamps further ahead of our clock than this are refused.
  int64_t max_clock_offset_us = 500'000;

  // Raft timing in ticks (see raft::Config).
  int election_tick = 10;
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // Snapshot bytes per message, and so per snapshot stream in memory on
  // either side. 1..kMaxSnapshotChunkBytes.
  uint64_t max_snapshot_chunk_bytes = 1 << 20;
  // Lease reads (raft::Config::clock_drift_bound_ticks): a leader whose lease
  // holds answers ReadIndex without a heartbeat round. Unset: always confirm.
  std::optional<int> lease_clock_drift_bound_ticks;

  // A group's log is compacted (up to the applied index, after syncing the
  // shard engine) once it holds this many applied entries. Followers further
  // behind than that catch up by snapshot.
  uint64_t compact_log_entries = 10000;

  // Proposals and reads not answered within this many ticks complete with
  // TimedOut (their outcome is unknown to the caller).
  uint64_t request_timeout_ticks = 100;

  // MVCC GC (docs/node.md "GC"): every gc_interval_ticks a shard's leader
  // proposes a pass collecting versions older than now - gc_ttl_us (never above
  // the timestamp of a read at a timestamp pending on this node), then one step
  // of at most gc_versions_per_step versions per tick until the pass is done.
  // gc_interval_ticks 0: this node never proposes GC. gc_versions_per_step must
  // be the same on every node (replicas apply steps alike).
  int64_t gc_ttl_us = kDefaultGcTtlUs;
  uint64_t gc_interval_ticks = kDefaultGcIntervalTicks;
  size_t gc_versions_per_step = kMaxGcVersionsPerStep;

  // Seeds each group's election randomness (mixed with the shard id).
  uint64_t rng_seed = 0;
};

// The answer to one Propose, Read or ProposeConfChange, keyed by the caller's token.
//   OK: applied (writes), or the value is current as of a linearizable point (reads).
//   Aborted: certainly NOT applied (another leader's entry took its place).
//   TimedOut / Unavailable: outcome unknown (the caller may retry idempotently).
struct Completion {
  uint64_t token = 0;
  Status status;
  uint64_t index = 0;  // log index of the write, or the read index
  bool found = false;  // reads: a value exists
  std::string value;   // reads; kEval writes: the encoded EvalResult (EncodeEvalResult)
  Timestamp ts;        // reads: the version's commit timestamp
};

// A round's raft-log write (and fsync), to be run exactly once, on any thread;
// FinishRound waits for it. See Node::StartRound.
using LogWriteTask = std::function<void()>;

// What the Node knows of one of its replicas (for status commands and tests).
struct ReplicaStatus {
  ShardId shard = 0;
  raft::Role role = raft::Role::kFollower;
  NodeId leader = raft::kNoNode;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  raft::ConfState conf;  // as of the applied index
  // The applied membership no longer lists this node: the runtime should
  // RemoveReplica it.
  bool removed = false;
  // Leader only (empty on followers): what the leader knows of each member's
  // log and liveness, for admin commands (learner catch-up, quorum checks).
  std::vector<raft::PeerProgress> progress;
  size_t pending_proposals = 0;
  size_t pending_reads = 0;
  // MVCC GC: reads below this are refused; a pass is collecting below it.
  Timestamp gc_safe_point;
  bool gc_running = false;
};

class Node {
 public:
  // Opens (creating if needed) the node's data dir and recovers every replica
  // it hosted: each group's log and hard state from the raft engine, each
  // shard engine from its directory, replaying committed entries from the
  // shard's applied index. `transport` must outlive the Node.
  static Result<std::unique_ptr<Node>> Open(const NodeOptions& options, Transport* transport);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Hosts a replica of `shard`. `peers` non-empty: a founding member of a new
  // group (every founder passes the same list, which must include this node).
  // Empty: a replica joining an existing group (after the leader proposed
  // adding it); it waits for the leader. InvalidArgument if already hosted.
  Status CreateReplica(ShardId shard, std::vector<NodeId> peers);
  // Stops hosting `shard` and deletes its log and engine (after the group
  // removed this node, or to rebuild it empty). Pending requests complete
  // with Unavailable (outcome unknown).
  Status RemoveReplica(ShardId shard);
  std::vector<ShardId> Shards() const;
  bool HasReplica(ShardId shard) const { return replicas_.count(shard) > 0; }

  // Advances every group's logical clock by one tick and times out requests.
  void Tick();
  // Feeds a batch received from a peer. Messages for shards not hosted here
  // are dropped and counted.
  void Receive(const MessageBatch& batch);

  // Proposes a write on `shard` (this node must be its leader); the leader
  // stamps it with an HLC commit timestamp. Errors now: NotFound (no such
  // replica), InvalidArgument (bad command), Unavailable("not leader, leader
  // is N") on a follower (N = 0 when unknown; the server forwards),
  // ResourceExhausted (too many pending). Otherwise a Completion follows.
  Status Propose(ShardId shard, ShardCommand command, uint64_t token);
  // Proposes several commands as one Raft proposal (one append, one MsgApp
  // per follower): all are accepted or none, each completes under its own
  // token. Same errors as Propose; InvalidArgument beyond raft's
  // kMaxEntriesPerMsg commands.
  Status ProposeBatch(ShardId shard, std::vector<std::pair<ShardCommand, uint64_t>> commands);
  // A linearizable read of `key` through ReadIndex; works on followers too
  // (the leader confirms the read index). The reads of one shard made
  // between two rounds share one ReadIndex request. A Completion follows once
  // this replica has applied up to the read index. Unavailable("not leader,
  // leader is 0") now when no leader is known. With `at`, reads the newest
  // version at or below that timestamp instead of the latest
  // (InvalidArgument in the Completion when below the GC safe point).
  Status Read(ShardId shard, std::string key, uint64_t token,
              std::optional<Timestamp> at = std::nullopt);
  // Membership change (admin). The Completion comes when it is applied.
  Status ProposeConfChange(ShardId shard, const raft::ConfChange& change, uint64_t token);
  Status TransferLeadership(ShardId shard, NodeId to);
  // Campaigns now for `shard` (tests, admin).
  Status Campaign(ShardId shard);

  // True when some group has work for ProcessReady, or completions wait.
  bool HasReady() const;
  // One round for all groups (see the header comment). Returns the requests
  // completed since the last call. A storage failure is returned as an error
  // and the Node refuses everything afterwards: the process must restart
  // from disk (the log and state may be ahead in memory of what is durable).
  Result<std::vector<Completion>> ProcessReady();

  // The same round in two halves, so the raft log's write and fsync run
  // beside the caller's thread instead of blocking it (docs/node.md "One
  // round"). StartRound does steps 0-2 up to staging the log write, hands that
  // write to `submit` (which must run it exactly once, on any thread, and
  // tell the caller when it returned), then applies and answers the committed
  // entries already durable here (all but those this round itself appends)
  // and serves reads. Until FinishRound the node takes everything else --
  // Receive, Propose*, Read, Tick -- but sends nothing that claims
  // durability. FinishRound waits for the write (if it has not returned),
  // then sends the messages that needed it (votes, append answers), applies
  // the rest, advances and compacts. `submit` is not called when the round
  // has nothing to write (call FinishRound at once). A failed write is
  // fail-stop, as in ProcessReady. Completions of both halves are returned.
  // REQUIRES: no round in flight (StartRound) / one in flight (FinishRound).
  Result<std::vector<Completion>> StartRound(const std::function<void(LogWriteTask)>& submit);
  Result<std::vector<Completion>> FinishRound();
  bool RoundInFlight() const { return round_ != nullptr; }
  // Completions made between rounds (timeouts in Tick, ...), for a runtime
  // whose round is in flight.
  std::vector<Completion> TakeCompletions();

  // Reads this replica's current state without any Raft round: NOT
  // linearizable (tests, debugging, stale reads).
  Result<ReadResult> LocalRead(ShardId shard, std::string_view key,
                               std::optional<Timestamp> at = std::nullopt);
  // ShardStateMachine::ScanKeys on this replica as it stands, expiry judged
  // at this node's clock. Not linearizable by itself: the runtime calls it
  // right after a Read of the shard completed (the replica has applied at
  // least that read's index).
  Status LocalScanKeys(ShardId shard, std::string_view after, size_t limit,
                       std::vector<std::string>* keys, std::string* next);
  Result<ReplicaStatus> GetReplicaStatus(ShardId shard) const;
  // The leader this replica believes in (kNoNode when unknown or no replica).
  NodeId LeaderOf(ShardId shard) const;

  NodeId id() const { return options_.id; }
  Hlc& hlc() { return *hlc_; }
  uint64_t dropped_messages() const { return dropped_messages_; }
  // Peers' HLC timestamps refused for being too far ahead of our clock, and
  // the last such error (for the runtime to log and export).
  uint64_t refused_clock_updates() const { return refused_clock_updates_; }
  const std::string& last_clock_error() const { return last_clock_error_; }
  // kGc commands this node proposed as a leader (passes started and steps).
  uint64_t gc_proposals() const { return gc_proposals_; }
  // Synced writes of the raft engine so far (one per round that needed one).
  uint64_t log_syncs() const { return store_->synced_commits(); }

 private:
  struct Replica;
  struct Round;
  struct PendingProposal {
    uint64_t token = 0;
    uint64_t term = 0;
    uint64_t deadline_tick = 0;
  };
  struct PendingRead {
    uint64_t token = 0;
    std::string key;
    uint64_t index = 0;  // 0 until the read index is known
    uint64_t deadline_tick = 0;
    std::optional<Timestamp> at;
  };

  Node(const NodeOptions& options, Transport* transport);
  Status OpenReplica(ShardId shard, const std::vector<NodeId>& peers);
  Result<Replica*> Get(ShardId shard) const;
  Status NotLeader(const Replica& r) const;
  // Records proposals just appended by this leader, the last at its last index.
  void TrackProposals(Replica& r, const std::vector<uint64_t>& tokens);
  void ApplyCompleted(Replica& r, const std::vector<raft::Entry>& entries);
  // Sends the readies' messages, one batch per peer, and removes them from
  // the readies. `leader_appends_only`: only a leader's MsgApp and heartbeats
  // of its current term (safe before its own fsync); the rest stay.
  void SendMessages(std::vector<std::pair<Replica*, raft::Ready>>& readies,
                    bool leader_appends_only);
  void ServeReads(Replica& r);
  // Completes every read in `reads` with `status` and empties it.
  void FailReads(std::vector<PendingRead>& reads, const Status& status);
  // Completes (with `status`) and removes the reads whose deadline passed.
  void ExpireReads(std::vector<PendingRead>& reads, const Status& status);
  Status MaybeCompact(Replica& r);
  // Finishes the round in flight, if any, keeping its completions for the next
  // call that returns them (before changes that must not overlap its write).
  Status SettleRound();
  // Leader only: proposes the next GC step or a new pass when due (node_gc.cc).
  void MaybeProposeGc(Replica& r);
  // The GC safe point a new pass may use now, nullopt when none (node_gc.cc).
  std::optional<Timestamp> GcSafePoint(const Replica& r);
  void Complete(uint64_t token, Status status, uint64_t index = 0, std::string value = {});

  const NodeOptions options_;
  Transport* const transport_;
  storage::Env* env_;
  std::unique_ptr<Hlc> hlc_;
  std::unique_ptr<RaftLogStore> store_;
  std::map<ShardId, std::unique_ptr<Replica>> replicas_;
  std::vector<Completion> completions_;
  std::unique_ptr<Round> round_;  // the round whose log write is in flight
  Status failed_;                 // set when a round's storage write failed
  uint64_t tick_ = 0;
  uint64_t next_read_seq_ = 1;
  size_t pending_requests_ = 0;  // proposals and reads not yet completed
  uint64_t dropped_messages_ = 0;
  uint64_t refused_clock_updates_ = 0;
  uint64_t gc_proposals_ = 0;
  std::string last_clock_error_;
};

}  // namespace dkv::node
