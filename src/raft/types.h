// The value types of the Raft core: log entries, hard state, membership, snapshots
// and the messages peers exchange.
//
// Owned by the raft layer (src/raft); the simulator and the real runtime move these
// values between nodes. They are plain values: safe to copy and to hand to another
// thread, not to share mutably. Enum values marked "frozen" will be persisted or put
// on the wire and must never be renumbered.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "raft/payload.h"

namespace dkv::raft {

// A node (replica) id. 0 means "none" (no vote, no known leader).
using NodeId = uint64_t;
constexpr NodeId kNoNode = 0;

// Frozen: stored in the log.
enum class EntryType : uint8_t {
  kNormal = 0,      // application data (empty data: the leader's no-op of its term)
  kConfChange = 1,  // data is an encoded ConfChange (EncodeConfChange)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  // Shared, immutable bytes: copying an Entry copies a pointer (payload.h).
  Payload data;

  // Bytes counted against size limits (data plus a fixed per-entry overhead).
  size_t ByteSize() const { return data.size() + 24; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

// State that must be durable before the node sends any message that depends on it.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;

  bool IsEmpty() const { return term == 0 && vote == kNoNode && commit == 0; }
  friend bool operator==(const HardState&, const HardState&) = default;
};

// The membership: who votes and who only receives the log. Ids are kept sorted
// and a node is in at most one of the two lists.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool IsVoter(NodeId id) const;
  bool IsLearner(NodeId id) const;
  bool Contains(NodeId id) const { return IsVoter(id) || IsLearner(id); }
  bool IsEmpty() const { return voters.empty() && learners.empty(); }
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// Frozen: stored in the log inside kConfChange entries.
enum class ConfChangeType : uint8_t {
  kAddVoter = 0,    // add a new voter, or promote a learner to voter
  kAddLearner = 1,  // add a new learner (a voter cannot be demoted this way)
  kRemoveNode = 2,  // remove a voter or a learner
};

// One single-server membership change (see docs/raft.md for the safety argument).
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node_id = kNoNode;
  std::string context;  // opaque to raft (e.g. the new node's address)

  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

// Encoding of a ConfChange inside an Entry's data: type (1 byte), node id
// (varint64), context (length-prefixed).
std::string EncodeConfChange(const ConfChange& cc);
// Returns Corruption when `data` is not a well-formed encoding.
Result<ConfChange> DecodeConfChange(std::string_view data);

struct SnapshotMetadata {
  uint64_t index = 0;    // last log index the snapshot covers
  uint64_t term = 0;     // term of the entry at `index`
  ConfState conf_state;  // membership as of `index`

  friend bool operator==(const SnapshotMetadata&, const SnapshotMetadata&) = default;
};

// Snapshot bytes the leader reads piece by piece as it sends them (e.g. from
// the application's files on disk), so a snapshot never has to fit in memory.
// Implemented by the application; shared by the snapshot and whoever streams it
// (its lifetime keeps the underlying files); Read may be called from the
// thread that drives the core only.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Total bytes of the snapshot's data.
  virtual uint64_t Size() const = 0;
  // Appends to *out the min(len, Size() - offset) bytes at `offset`, or fails
  // with the error that kept them from being read. REQUIRES: offset <= Size().
  virtual Status Read(uint64_t offset, uint64_t len, std::string* out) const = 0;
};

// Where a follower writes the snapshot chunks it receives (Config::snapshot_sink),
// so a snapshot never has to fit in its memory either. Implemented by the
// application; called from the thread that drives the core, in stream order.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // A new snapshot starts at offset 0: any partial one is dropped.
  virtual Status Begin(const SnapshotMetadata& meta) = 0;
  // The next chunk in order. An error means the bytes are bad (or could not be
  // stored): the core drops the stream and the leader starts over later.
  virtual Status Append(std::string_view chunk) = 0;
  // The last chunk arrived: OK when the whole snapshot checks out and can be
  // installed (Ready::snapshot with `staged`), an error as for Append.
  virtual Status Finish() = 0;
  // Drops whatever was received (a failed stream, or a snapshot not needed).
  virtual void Abort() = 0;
};

struct Snapshot {
  SnapshotMetadata metadata;
  std::string data;  // the application's state-machine image, opaque to raft
  // Leader side, instead of `data`: the bytes are read from here as they are sent.
  std::shared_ptr<const SnapshotSource> source;
  // Follower side: the data went to Config::snapshot_sink as it arrived (and
  // checked out); `data` is empty and the application installs from the sink.
  bool staged = false;

  bool IsEmpty() const { return metadata.index == 0; }
  uint64_t DataSize() const { return source ? source->Size() : data.size(); }
};

// kMsgSnapResp.reject_hint when the follower's snapshot sink refused the data.
// Frozen: on the wire.
inline constexpr uint64_t kSnapRejectBadData = 1;

// Frozen: message types go on the wire. Values are never reused.
enum class MessageType : uint8_t {
  kMsgApp = 1,              // leader -> follower: append entries after (index, log_term)
  kMsgAppResp = 2,          // follower -> leader: accept (index = last match) or reject with hint
  kMsgVote = 3,             // candidate -> all: request vote for `term`
  kMsgVoteResp = 4,         // vote granted unless `reject`
  kMsgPreVote = 5,          // pre-candidate -> all: "would you vote for me at `term`?"
  kMsgPreVoteResp = 6,      //
  kMsgHeartbeat = 7,        // leader -> follower: keep-alive carrying commit and leader_tick
  kMsgHeartbeatResp = 8,    // echoes leader_tick and context
  kMsgSnap = 9,             // leader -> follower: one chunk of a snapshot (offset, last chunk)
  kMsgSnapResp = 10,        // follower -> leader: chunk accepted (index = next offset) or reject
  kMsgTimeoutNow = 11,      // leader -> transfer target: campaign now, skipping pre-vote
  kMsgReadIndex = 12,       // follower -> leader: request a read index for `context`
  kMsgReadIndexResp = 13,   // leader -> follower: `index` is safe to read at for `context`
  kMsgProp = 14,            // follower -> leader: forwarded proposal (entries)
  kMsgTransferLeader = 15,  // follower -> leader: please transfer leadership to `from`
};

const char* MessageTypeName(MessageType type);

// One message between two peers. Which fields mean something depends on `type`
// (see the comments on each field); the others stay zero/empty.
struct Message {
  MessageType type = MessageType::kMsgApp;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;  // sender's term (0 only for kMsgProp, kMsgReadIndex, kMsgTransferLeader)

  // kMsgApp: index/log_term of the entry preceding `entries`.
  // kMsgAppResp: accepted -> index = last index now matching; rejected -> index = the
  //   rejected kMsgApp's index, reject_hint = follower's guess of the last possibly
  //   matching index, log_term = term of the follower's entry at reject_hint.
  // kMsgVote/kMsgPreVote: index/log_term of the candidate's last entry.
  // kMsgReadIndexResp: index = read index.
  // kMsgSnapResp: index = next chunk offset expected (reject: restart at 0;
  // reject with reject_hint = kSnapRejectBadData: the follower's sink refused
  // the bytes, send a fresh snapshot later).
  uint64_t index = 0;
  uint64_t log_term = 0;
  std::vector<Entry> entries;  // kMsgApp, kMsgProp
  uint64_t commit = 0;         // kMsgApp, kMsgHeartbeat: leader's commit index (capped)
  bool reject = false;         // responses
  uint64_t reject_hint = 0;    // kMsgAppResp when rejected

  // kMsgSnap: metadata of the snapshot being sent, byte offset of this chunk in the
  // snapshot data, the chunk bytes in `snapshot_chunk`, and whether it is the last.
  SnapshotMetadata snapshot;
  uint64_t snapshot_offset = 0;
  bool snapshot_last_chunk = false;
  std::string snapshot_chunk;

  // kMsgHeartbeat: the leader's tick counter when sent; echoed in kMsgHeartbeatResp
  // so the leader can time its lease from acknowledged heartbeats.
  uint64_t leader_tick = 0;

  // kMsgReadIndex/kMsgReadIndexResp/kMsgHeartbeat(Resp): the read request's context.
  // kMsgVote: "transfer" when the campaign was started by kMsgTimeoutNow.
  std::string context;
};

// Leader, follower, candidate or pre-candidate.
enum class Role : uint8_t {
  kFollower = 0,
  kCandidate = 1,
  kLeader = 2,
  kPreCandidate = 3,
};

const char* RoleName(Role role);

}  // namespace dkv::raft
