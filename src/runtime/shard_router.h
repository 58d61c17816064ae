// ShardRouter: executes one shard's part of a client command in a cluster --
// a put of some keys, a delete of some keys, or a read of some keys -- on the
// right node. Writes go to the shard's leader: proposed here when this node
// leads the shard, else forwarded to the leader this node's replica (or the
// last answer) names, retried a bounded number of times on "not leader".
// Reads use Node::Read (ReadIndex, linearizable on any replica) on a local
// replica, else are forwarded to a replica. A shard with no leader for
// kNoLeaderWait answers "UNAVAILABLE shard N has no leader". It also serves
// the requests peers forward here. Its replies say nothing stale or wrong:
// an error whenever the outcome is not known to be right.
//
// Lives on the raft loop: every function, and every callback it calls, runs
// there (ShardFor is const and thread-safe). Owned by the cluster server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/node_runtime.h"
#include "sharding/hash_ring.h"
#include "sharding/shard_map.h"

namespace dkv::runtime {

// One shard's part of a command.
struct ShardOp {
  // kEval: a read-modify-write of one key (node::EvalOp), evaluated at apply
  // time on every replica; its answer is the reply (OK, integer, a value or
  // nil, or an error text such as "ERR value is not an integer ...").
  // kScan: a page of the shard's live keys after keys[0] ("" = the first),
  // at most `limit`, from a linearizable point (a ReadIndex read first); the
  // reply's values are the next cursor key (nullopt at the shard's end) and
  // then the keys.
  enum class Kind { kPut, kDelete, kGet, kEval, kScan };
  Kind kind = Kind::kGet;
  ShardId shard = 0;
  std::vector<std::string> keys;
  std::vector<std::string> values;  // kPut: one per key
  node::EvalOp eval;                // kEval (keys holds its key)
  size_t limit = 0;                 // kScan: 1..kMaxScanPage

  bool is_read() const { return kind == Kind::kGet || kind == Kind::kScan; }
  // The ForwardRequest args: "PUT k v k v ...", "DEL k ...", "GET k ...",
  // "EVAL <the kEval ShardCommand's encoding, timestamp zero>",
  // "SCAN <limit> <after>".
  std::vector<std::string> ToArgs() const;
  // InvalidArgument unless `args` is one of the forms above.
  static Result<ShardOp> FromArgs(ShardId shard, const std::vector<std::string>& args);
};

// The answer to a ShardOp.
struct ShardReply {
  enum class Kind {
    kOk,         // kPut applied (kEval: OK)
    kInteger,    // kDelete: keys that existed (kEval: its integer answer)
    kValues,     // kGet: one per key, nullopt = missing (kEval: one, a value or nil)
    kNotLeader,  // internal: the node asked is not the leader; `leader` is its hint
    kNoLeader,   // internal: no leader known (or the read could not be served yet)
    kNoReplica,  // internal: the node asked hosts no serving replica (membership moved)
    kError,      // `error` is the whole RESP error text, e.g. "UNAVAILABLE ..."
  };
  Kind kind = Kind::kOk;
  int64_t integer = 0;
  std::vector<std::optional<std::string>> values;
  NodeId leader = 0;
  std::string error;

  static ShardReply Error(std::string text) {
    ShardReply r;
    r.kind = Kind::kError;
    r.error = std::move(text);
    return r;
  }
};

// Keys one kScan page returns at most (SCAN's COUNT is capped to it).
inline constexpr size_t kMaxScanPage = 1000;

// ForwardResponse.reply bytes: a RESP2 reply (+OK, :n (any int64), *n of bulks/nulls,
// -NOTLEADER n, -NOLEADER, -NOREPLICA, -<error>). Decode returns Corruption for anything
// else, so a damaged answer becomes an error reply, never a wrong value.
std::string EncodeShardReply(const ShardReply& reply);
Result<ShardReply> DecodeShardReply(std::string_view bytes);

class ShardRouter {
 public:
  // `map` is the cluster's shard map (ring and placement). `runtime` must
  // outlive the router.
  ShardRouter(NodeRuntime* runtime, const sharding::ShardMap& map);

  // Thread-safe. The shard owning `key`.
  ShardId ShardFor(std::string_view key) const;

  // Loop only. Executes `op` wherever it must run; `done` gets a reply of
  // kind kOk/kInteger/kValues/kError (never the internal kinds).
  void Route(ShardOp op, std::function<void(ShardReply)> done);

  // Loop only. Serves a request a peer forwarded: executes it here and
  // answers (kNotLeader/kNoLeader/kNoReplica when this node cannot).
  // Requests whose first arg is "ADMIN" go to the admin server.
  void ServeForward(NodeId from, ShardId shard, std::vector<std::string> args,
                    std::function<void(std::string reply)> respond);

  // --- Live membership (loop only; see docs/runtime.md "Routing"). ---
  // Who handles forwarded "ADMIN ..." requests (runtime/admin_commands.h).
  using AdminServer = std::function<void(NodeId from, ShardId shard, std::vector<std::string> args,
                                         std::function<void(std::string reply)> respond)>;
  void SetAdminServer(AdminServer server) { admin_server_ = std::move(server); }
  // Called (at most once per kMembershipRefreshInterval) when a peer answered
  // that it hosts no replica of a shard: the membership this node believes
  // in is stale, so someone should ask the peers again.
  void SetRefresher(std::function<void()> refresher) { refresher_ = std::move(refresher); }
  // Whether this node's replica of `shard` serves requests here: false while
  // it is joining (not yet in its own applied membership), a learner, or
  // removed. Kept up to date by the admin service every tick.
  void SetLocalServing(ShardId shard, bool serving);
  bool LocalServing(ShardId shard);
  // The members (voters) and leader of `shard` as the freshest view this
  // node has from a peer or its own replica says; hints only, a wrong one
  // costs a retry.
  void SetMembers(ShardId shard, std::vector<NodeId> voters, NodeId leader);
  const std::vector<NodeId>& Members(ShardId shard) const;
  NodeId LeaderHint(ShardId shard) const;
  void NoteLeader(ShardId shard, NodeId leader);
  // Where to send `shard`'s request when this node's replica does not lead
  // it: the leader hint, else the members in turn (never this node; 0 if
  // nothing is known).
  NodeId PickTarget(ShardId shard, int attempt) const;
  // The views also hold the metadata group (sharding::kMetadataGroupId, so
  // map changes reach its leader like any leader step); it is no data shard,
  // so these two leave it out.
  uint32_t shard_count() const { return static_cast<uint32_t>(Shards().size()); }
  // Every data shard of the cluster, ascending (the order SCAN walks them in).
  std::vector<ShardId> Shards() const {
    std::vector<ShardId> out;
    for (const auto& [shard, voters] : members_) {
      if (shard < sharding::kMaxShards) out.push_back(shard);
    }
    return out;
  }

 private:
  struct RouteState;
  void Attempt(std::shared_ptr<RouteState> st);
  void RetryLater(std::shared_ptr<RouteState> st);
  // Runs `op` on this node's replica (leader for writes).
  void ExecuteLocal(const ShardOp& op, std::function<void(ShardReply)> done);
  void ExecuteDelete(const ShardOp& op, std::function<void(ShardReply)> done);
  void ExecuteEval(const ShardOp& op, std::function<void(ShardReply)> done);
  void ExecuteScan(const ShardOp& op, std::function<void(ShardReply)> done);
  // The reply for a failed linearizable read on this node's replica.
  ShardReply FromReadError(ShardId shard, const Status& status);
  // The reply for a failed write or read on this node's replica.
  ShardReply FromLocalError(ShardId shard, const Status& status);
  void MaybeRefresh();

  NodeRuntime* const runtime_;
  const sharding::HashRing ring_;
  // Voters of each shard as last learned (initially the config's placement).
  std::map<ShardId, std::vector<NodeId>> members_;
  std::map<ShardId, NodeId> leader_hints_;  // learned from "not leader" answers
  std::map<ShardId, bool> local_serving_;   // absent: serving if hosted
  AdminServer admin_server_;
  std::function<void()> refresher_;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace dkv::runtime
