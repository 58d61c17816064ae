// RawNode: the public, sans-IO API of one Raft replica.
//
// The runtime (asio server or the simulator) feeds it ticks, messages from peers
// and proposals, then takes a Ready (what to persist, send and apply), does that
// work in the order the Ready's field comments give, and calls Advance. RawNode
// never blocks, reads a clock, touches a file or a socket; all randomness comes
// from an Rng seeded by Config::rng_seed, so a run replays exactly. One RawNode per
// replica, owned by the runtime; not thread-safe. See docs/raft.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/log_storage.h"
#include "raft/progress.h"
#include "raft/types.h"

namespace dkv::raft {

class Raft;

struct Config {
  NodeId id = kNoNode;

  // Bootstrap membership, used only when the storage holds nothing (new cluster):
  // the core then writes one committed kConfChange entry per member (voters first,
  // sorted) at term 1, so every original member has the same log prefix. Leave both
  // empty for a node that will be added to an existing group (it learns the
  // membership from the leader's log or snapshot).
  std::vector<NodeId> peers;     // voters
  std::vector<NodeId> learners;  // learners

  // Ticks without hearing from a leader before a follower campaigns. The actual
  // timeout is randomized in [election_tick, 2 * election_tick).
  int election_tick = 10;
  // Ticks between the leader's heartbeats. REQUIRES: 0 < heartbeat_tick < election_tick.
  int heartbeat_tick = 1;

  // The last index the application has applied (restart). 0 = the index of the
  // storage's snapshot (GetSnapshot), where a state machine restored from it stands.
  uint64_t applied = 0;

  // Max bytes of entries in one kMsgApp (at least one entry is always sent).
  uint64_t max_size_per_msg = 1 << 20;
  // Max bytes of committed entries handed out in one Ready.
  uint64_t max_committed_size_per_ready = 8 << 20;
  // Max kMsgApp in flight to one follower in the replicate state (pipelining window).
  size_t max_inflight_msgs = 256;
  // Max bytes of uncommitted entries the leader accepts before proposals fail with
  // ResourceExhausted (0 = use kMaxUncommittedBytes).
  uint64_t max_uncommitted_entries_size = 0;
  // Max bytes of snapshot data in one kMsgSnap chunk.
  uint64_t max_snapshot_chunk_bytes = 1 << 20;
  // Follower: when set, received snapshot chunks go here as they arrive instead
  // of being assembled in memory, and Ready::snapshot comes with `staged` set
  // and no data. Must outlive the RawNode. nullptr: assembled in memory.
  SnapshotSink* snapshot_sink = nullptr;

  // Pre-vote (thesis §9.6): a node first asks whether it could win before bumping its
  // term, so a node rejoining after a partition cannot depose a healthy leader.
  bool pre_vote = true;
  // Check-quorum: a leader steps down when it has not heard from a quorum within an
  // election timeout, and followers that heard from a leader within an election
  // timeout ignore vote requests (leader stickiness).
  bool check_quorum = true;

  // Followers forward proposals (kMsgProp) and transfer requests to the leader.
  // When false, Propose on a follower fails with Unavailable("not leader, leader is N").
  bool forward_proposals = true;

  // Lease reads: when set, ReadIndex on a leader whose lease is valid is answered
  // without a heartbeat round. The lease lasts election_tick - clock_drift_bound_ticks
  // ticks from the leader tick at which a quorum's acknowledged heartbeats were sent.
  // REQUIRES when set: 0 <= value < election_tick and check_quorum.
  std::optional<int> clock_drift_bound_ticks;

  uint64_t rng_seed = 0;

  // InvalidArgument naming the bad field, or OK.
  Status Validate() const;
};

// Changes only when the leader or the role changes; not persisted.
struct SoftState {
  NodeId leader_id = kNoNode;
  Role role = Role::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// The answer to a ReadIndex request: once the application has applied `index`,
// a read for `context` sees every write committed before the request was made.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

// The work the runtime must do, in this order:
//   1. install `snapshot` (storage and state machine), if present;
//   2. durably append `entries` and save `hard_state` (one fsync when must_sync);
//   3. only then send `messages` (votes and acks promise what step 2 persisted);
//   4. apply `committed_entries` to the state machine in order;
//   5. serve `read_states` once the applied index reaches each index;
//   6. call Advance(ready).
struct Ready {
  // Leader or role changed. Informational; not persisted.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed: persist (step 2) before sending messages.
  std::optional<HardState> hard_state;
  // Entries to append to stable storage (step 2). They may start below the storage's
  // last index: the storage must drop its conflicting suffix first.
  std::vector<Entry> entries;
  // A snapshot received from the leader, to install before anything else (step 1).
  std::optional<Snapshot> snapshot;
  // Committed entries to apply (step 4). Only entries already in `entries` of this or
  // an earlier Ready. kConfChange entries already took effect inside the core when
  // they were appended (docs/raft.md); they are here so the runtime can react (e.g.
  // connect to a new member, or shut down a replica that was removed).
  std::vector<Entry> committed_entries;
  // Messages to send (step 3), after entries, hard state and snapshot are durable.
  std::vector<Message> messages;
  // Completed ReadIndex requests (step 5).
  std::vector<ReadState> read_states;
  // True when step 2 must fsync (new entries, or a changed term or vote).
  bool must_sync = false;
};

// What a leader knows of one member's log (NodeStatus::progress).
struct PeerProgress {
  NodeId id = kNoNode;
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  bool recent_active = false;
  bool is_learner = false;
  size_t inflight = 0;
  uint64_t pending_snapshot = 0;
  uint64_t snapshot_offset = 0;
};

// A snapshot of the node's state, for tests, metrics and debugging.
struct NodeStatus {
  NodeId id = kNoNode;
  Role role = Role::kFollower;
  NodeId leader_id = kNoNode;
  HardState hard_state;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  ConfState conf_state;
  NodeId lead_transferee = kNoNode;
  std::vector<PeerProgress> progress;  // leader only, sorted by id
};

class RawNode {
 public:
  // Builds a node over `storage`, which must outlive it. Fails with
  // InvalidArgument on a bad config, or with the storage's error.
  static Result<std::unique_ptr<RawNode>> Create(const Config& config, LogStorage* storage);
  ~RawNode();
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  // Advances logical time by one tick (election and heartbeat timers, lease).
  void Tick();

  // Campaigns now (respecting pre-vote), as if the election timeout had elapsed.
  // Fails with Unavailable if this node is not a voter.
  Status Campaign();

  // Feeds a message received from a peer. Messages of an older term are ignored
  // (OK). Fails with InvalidArgument for a message not addressed to this node.
  Status Step(const Message& msg);

  // Proposes data to be appended. Unavailable("not leader, leader is N") on a
  // follower when forwarding is off or no leader is known; Unavailable during a
  // leadership transfer; ResourceExhausted when too much is uncommitted.
  Status Propose(std::string data);

  // Proposes several entries at once, in order: all are accepted or none (the
  // same errors as Propose). A leader appends them as one proposal and sends them
  // in one MsgApp per follower; a follower forwards them as one kMsgProp. An
  // empty batch does nothing. InvalidArgument for more than kMaxEntriesPerMsg.
  Status ProposeBatch(std::vector<std::string> data);

  // Proposes a membership change. Besides Propose's errors: Busy while another
  // change is pending (proposed but not yet applied), InvalidArgument when the
  // change makes no sense (e.g. remove the last voter, demote a voter).
  Status ProposeConfChange(const ConfChange& cc);

  // Asks the leader to hand leadership to `to` (a voter). On a follower, forwards.
  Status TransferLeadership(NodeId to);

  // Requests a linearizable read point for `context`; the answer appears in a later
  // Ready's read_states. Unavailable when no leader is known.
  Status ReadIndex(std::string context);

  // Tells the core that messages to `id` are not getting through (the leader then
  // stops pipelining to it and probes).
  void ReportUnreachable(NodeId id);

  bool HasReady() const;
  // Collects the pending work. Call Advance with it before the next GetReady.
  Ready GetReady();
  // Acknowledges that everything in `ready` was done (steps 1-5).
  void Advance(const Ready& ready);

  NodeStatus GetStatus() const;
  // GetStatus without `conf_state` and `progress` (left empty): no allocation,
  // cheap enough to call after every step (metrics, the simulator's invariants).
  NodeStatus GetBasicStatus() const;
  NodeId id() const;

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
  bool ready_outstanding_ = false;
};

}  // namespace dkv::raft
