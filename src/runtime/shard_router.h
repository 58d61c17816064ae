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
  enum class Kind { kPut, kDelete, kGet };
  Kind kind = Kind::kGet;
  ShardId shard = 0;
  std::vector<std::string> keys;
  std::vector<std::string> values;  // kPut: one per key

  bool is_read() const { return kind == Kind::kGet; }
  // The ForwardRequest args: "PUT k v k v ...", "DEL k ...", "GET k ...".
  std::vector<std::string> ToArgs() const;
  // InvalidArgument unless `args` is one of the forms above.
  static Result<ShardOp> FromArgs(ShardId shard, const std::vector<std::string>& args);
};

// The answer to a ShardOp.
struct ShardReply {
  enum class Kind {
    kOk,         // kPut applied
    kInteger,    // kDelete: keys that existed
    kValues,     // kGet: one per key, nullopt = missing
    kNotLeader,  // internal: the node asked is not the leader; `leader` is its hint
    kNoLeader,   // internal: no leader known (or the read could not be served yet)
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

// ForwardResponse.reply bytes: a RESP2 reply (+OK, :n, *n of bulks/nulls,
// -NOTLEADER n, -NOLEADER, -<error>). Decode returns Corruption for anything
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
  // answers (kNotLeader/kNoLeader when this node cannot).
  void ServeForward(NodeId from, ShardId shard, std::vector<std::string> args,
                    std::function<void(std::string reply)> respond);

 private:
  struct RouteState;
  void Attempt(std::shared_ptr<RouteState> st);
  void RetryLater(std::shared_ptr<RouteState> st);
  // Runs `op` on this node's replica (leader for writes).
  void ExecuteLocal(const ShardOp& op, std::function<void(ShardReply)> done);
  void ExecuteDelete(const ShardOp& op, std::function<void(ShardReply)> done);
  // The reply for a failed write or read on this node's replica.
  ShardReply FromLocalError(ShardId shard, const Status& status);
  // Where to send `shard`'s request when this node has no (leading) replica.
  NodeId PickTarget(ShardId shard, int attempt) const;

  NodeRuntime* const runtime_;
  const sharding::HashRing ring_;
  std::map<ShardId, std::vector<NodeId>> replicas_;
  std::map<ShardId, NodeId> leader_hints_;  // learned from "not leader" answers
};

}  // namespace dkv::runtime
