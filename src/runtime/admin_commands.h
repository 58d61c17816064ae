// AdminService: the membership and leadership commands of a cluster node
// (DKV.ADDREPLICA, DKV.REMOVEREPLICA, DKV.TRANSFERLEADER, DKV.SHARDS) and the
// node-to-node "ADMIN ..." requests they are made of, plus the housekeeping
// that keeps routing on the live membership: it drops replicas whose removal
// applied, tells the ShardRouter which local replicas serve (voters only, not
// joining replicas or learners), and asks the peers for the shards'
// membership when the router finds its view stale.
//
// Any node accepts a command; each step runs where it must (the shard's
// leader for conf changes and transfers, the target node for creating or
// dropping its replica), reached by forwarding with bounded retries. The
// protocol of the steps is in docs/runtime.md ("Membership and leadership").
//
// Lives on the raft loop: every function and callback runs there. Owned by
// the cluster server; must outlive nothing but its own pending timers, which
// the runtime drops when it stops.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_config.h"
#include "runtime/node_runtime.h"
#include "runtime/shard_router.h"

namespace dkv::runtime {

// One replica's state as a node reports it (a DKV.STATUS line).
struct ReplicaView {
  NodeId node = 0;
  ShardId shard = 0;
  std::string role;  // raft::RoleName
  NodeId leader = 0;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t first_index = 0;  // the log's first index (> 1 once compacted or snapshotted)
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
};

// "shard=S role=R leader=L term=T commit=C applied=A first=F voters=1,2,3 learners=4".
std::string FormatReplicaLine(const ReplicaView& v);
// The inverse (node is not in the line; the caller sets it). InvalidArgument
// on a malformed line.
Result<ReplicaView> ParseReplicaLine(std::string_view line);

class AdminService {
 public:
  // REQUIRES: runtime and router outlive this object; `config` is the
  // cluster's (node ids, shard count).
  AdminService(NodeRuntime* runtime, ShardRouter* router, const cluster::ClusterConfig& config);

  // True for the client commands Execute handles (upper-case name).
  static bool IsAdminCommand(const std::string& upper_name);
  // Loop only. Runs a client admin command; `done` gets the whole reply.
  void Execute(const std::string& upper_name, const std::vector<std::string>& argv, int protocol,
               std::function<void(std::string reply)> done);
  // Loop only. Serves a forwarded "ADMIN <verb> ..." request on `shard`.
  void Serve(NodeId from, ShardId shard, std::vector<std::string> args,
             std::function<void(std::string reply)> respond);
  // Loop only. Starts the housekeeping timer and a first membership refresh.
  void Start();
  // Loop only. Asks every peer for its replicas and updates the router.
  void RefreshMembership();
  // This node's replicas, one FormatReplicaLine each (DKV.STATUS).
  std::vector<std::string> LocalReplicaLines();

 private:
  struct Call;
  using ReplyFn = std::function<void(ShardReply)>;

  void AddReplica(ShardId shard, NodeId node, std::function<void(std::string)> reply);
  // Polls the leader until the learner `node` caught up (`target`: the
  // commit index to reach, 0 = take the first answer's), then promotes it.
  void WaitCaughtUp(ShardId shard, NodeId node, std::chrono::steady_clock::time_point deadline,
                    uint64_t target, std::function<void(std::string)> reply);
  void RemoveReplica(ShardId shard, NodeId node, std::function<void(std::string)> reply);
  void DropOn(NodeId node, ShardId shard, int attempts_left, std::function<void()> done);
  void Shards(std::function<void(std::vector<std::string>)> done);

  // Sends `args` to the shard's leader (retrying "not leader"/"no leader"
  // within kAdminStepWait) and calls `done` with its final answer.
  void CallLeader(ShardId shard, std::vector<std::string> args, ReplyFn done);
  void CallLeaderAttempt(std::shared_ptr<Call> call);
  // How a request to a node ended.
  enum class Delivery {
    kAnswered,  // the node's answer (or our own)
    kNotSent,   // never left (peer unreachable, queue full): not executed
    kUnknown,   // sent, no answer (connection lost, timeout): may have run
  };
  // Sends `args` to `node` (or serves it here) once.
  void CallNode(NodeId node, ShardId shard, std::vector<std::string> args, ReplyFn done);
  void CallNodeRaw(NodeId node, ShardId shard, std::vector<std::string> args,
                   std::function<void(ShardReply, Delivery)> done);
  // Sends an idempotent request to `node` again every tick while it is not
  // answered, until `deadline`; then the last error.
  void CallNodeIdempotent(NodeId node, ShardId shard, std::vector<std::string> args,
                          std::chrono::steady_clock::time_point deadline, ReplyFn done);

  // `liveness_rechecks`: ticks to look again before refusing a removal for
  // lack of live voters.
  void ServeConfChange(ShardId shard, const std::string& kind, NodeId node,
                       std::function<void(std::string)> respond, int liveness_rechecks);
  void ServeTransfer(ShardId shard, NodeId node, std::function<void(std::string)> respond);
  void WaitTransfer(ShardId shard, NodeId node, int ticks_left,
                    std::function<void(std::string)> respond);
  // Replies for "this node cannot serve a leader-only request for `shard`".
  ShardReply NotLeaderReply(ShardId shard);
  void Housekeeping();
  // Records a peer's view of a shard's membership for routing.
  void LearnView(const ReplicaView& v);
  // Drops this node's replica of the view's shard if the view is a leader's
  // that removed this node after everything the replica applied.
  void MaybeDropStale(const ReplicaView& leader_view);

  NodeRuntime* const runtime_;
  ShardRouter* const router_;
  const cluster::ClusterConfig config_;
  // Local replicas seen listing this node in their applied membership. Only
  // those are dropped when it stops listing it: a replica that joins empty
  // applies the group's older memberships (without itself) on its way up.
  std::set<ShardId> was_member_;
  std::chrono::steady_clock::time_point last_leaderless_refresh_{};
};

}  // namespace dkv::runtime
