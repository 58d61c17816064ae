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
// It also keeps this node's copy of the replicated shard map (the metadata
// group, sharding/metadata.h; admin_metadata.cc): the newest version seen,
// applied from the local metadata replica or fetched from a member, fed to
// the router; on the metadata leader it applies map changes one batch at a
// time; on a data shard's leader it proposes the fix when the map's replicas
// or leader hint differ from the live ones (DKV.SHARDMAP prints the map).
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
#include "runtime/limits.h"
#include "runtime/node_runtime.h"
#include "runtime/shard_router.h"
#include "sharding/metadata.h"
#include "sharding/shard_map.h"

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
  // This node's data shard replicas, one FormatReplicaLine each
  // (DKV.STATUS; the metadata replica is in DKV.SHARDMAP's first line).
  std::vector<std::string> LocalReplicaLines();
  // The newest shard map this node has seen (version 0: none yet).
  const sharding::ShardMap& shard_map() const { return map_; }

 private:
  struct Call;
  using ReplyFn = std::function<void(ShardReply)>;

  // Every local replica's line, with the metadata group's if asked.
  std::vector<std::string> ReplicaLines(bool with_metadata);
  void AddReplica(ShardId shard, NodeId node, std::function<void(std::string)> reply);
  // Polls the leader until the learner `node` caught up (`target`: the
  // commit index to reach, 0 = take the first answer's), then promotes it.
  void WaitCaughtUp(ShardId shard, NodeId node, std::chrono::steady_clock::time_point deadline,
                    uint64_t target, std::function<void(std::string)> reply);
  void RemoveReplica(ShardId shard, NodeId node, std::function<void(std::string)> reply);
  // After a membership change applied: records it in the shard map (when a
  // map is known), then refreshes the routing views and replies OK.
  void UpdateMapAfterConfChange(const sharding::MapChange& change,
                                std::function<void(std::string)> reply);
  void DropOn(NodeId node, ShardId shard, int attempts_left, std::function<void()> done);
  void Shards(std::function<void(std::vector<std::string>)> done);

  // Sends `args` to the shard's leader (retrying "not leader"/"no leader"
  // within `wait`) and calls `done` with its final answer.
  void CallLeader(ShardId shard, std::vector<std::string> args, ReplyFn done,
                  std::chrono::milliseconds wait = kAdminStepWait);
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

  // --- The shard map (admin_metadata.cc; docs/sharding.md). ---
  struct MetaChangeRequest {
    sharding::MapChange change;
    std::function<void(std::string reply)> respond;
  };
  // DKV.SHARDMAP: the version line, then one line per shard.
  std::vector<std::string> ShardMapLines();
  // Takes `map` if it is newer than the one held, and tells the router the
  // members and leader hints of the shards it changed.
  void AdoptMap(const sharding::ShardMap& map, const char* source);
  // Decodes a stored or fetched map and adopts it; a damaged one is logged
  // and ignored (the next refresh brings a good one).
  void AdoptEncodedMap(std::string_view bytes, const char* source);
  // Each housekeeping pass: reads the local metadata replica when it applied
  // something new, starts the founding write on its leader, polls a member
  // when this node has no replica, and proposes the fix of every shard this
  // node leads whose map entry differs from its live membership.
  void MetaHousekeeping();
  // Asks `node` (a metadata member, else any peer) for a map newer than ours.
  void FetchMap(NodeId node);
  // Asks some metadata member, at most once per kMapPollInterval unless `now`.
  void PollMap(bool now);
  // Sends a change to the metadata leader; `done` gets its answer (OK with
  // the new map, which is adopted, or the error).
  void ProposeMapChange(const sharding::MapChange& change, std::function<void(Status)> done);
  // Serves "ADMIN META <change>" (metadata leader only) and "ADMIN MAP v".
  void ServeMeta(std::vector<std::string> args, std::function<void(std::string)> respond);
  // Metadata leader: one read-modify-write of the map for every queued change.
  void RunMetaQueue();
  // Compares this node's view of the peers' map version (an extra line of
  // their ADMIN SHARDS answers) with ours; fetches when theirs is newer.
  void NotePeerMapVersion(NodeId from, std::string_view line);

  sharding::ShardMap map_{};  // version 0 until one is seen
  std::vector<NodeId> meta_voters_;
  std::vector<MetaChangeRequest> meta_queue_;
  bool meta_busy_ = false;          // a read-modify-write of the map is in flight
  uint64_t meta_applied_seen_ = 0;  // the local metadata replica's applied index last read
  std::map<ShardId, std::chrono::steady_clock::time_point> last_map_sync_;
  std::set<ShardId> map_sync_inflight_;  // shards whose map fix is being proposed
  std::chrono::steady_clock::time_point last_map_poll_{};
  int map_poll_attempt_ = 0;

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
