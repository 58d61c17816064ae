// NodeRuntime: runs one node::Node (the sans-IO multi-Raft core) inside a
// distkv-server process. It owns the "raft loop" -- one thread running one
// asio io_context -- which ticks the node every tick interval, feeds it the
// batches the AsioTransport receives, runs the node's rounds (Node::StartRound
// / FinishRound: each round's raft log write and fsync run on the runtime's
// sync thread while the loop goes on), and hands each completion to the
// callback of the request it answers. It also carries
// forwarded client requests between nodes (ForwardRequest/ForwardResponse
// frames on the transport's connections).
//
// Threads: Open/Run/Stop from one owner thread; Run starts the loop and the
// sync thread, Stop joins both. Post, Submit, Read and Forward
// are thread-safe (they post to the loop). Every callback runs ON THE RAFT
// LOOP: it must not block, and may call the *OnLoop functions directly. The
// *OnLoop functions and node() are for code already on the loop only.
// See docs/runtime.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/node_plan.h"
#include "common/clock.h"
#include "common/status.h"
#include "node/node.h"
#include "node/shard_command.h"

namespace asio {
class io_context;
}  // namespace asio

namespace dkv::transport {
class AsioTransport;
}  // namespace dkv::transport

namespace dkv::runtime {

using node::NodeId;
using node::ShardId;

// Called with the outcome of a write: OK = applied; Aborted = certainly not
// applied; Unavailable("not leader, leader is N") when this node is not the
// leader (N = 0: none known); TimedOut = outcome unknown; other errors as
// Node::Propose returns them.
using WriteCallback = std::function<void(Status status)>;
// A write whose entry answers something (a node::CommandType::kEval): as
// WriteCallback, and when OK `result` is the encoded node::EvalResult.
using EvalCallback = std::function<void(Status status, std::string result)>;
// Called with the outcome of a linearizable read (found/value valid when OK).
using ReadCallback = std::function<void(Status status, bool found, std::string value)>;
// Called with the reply bytes a peer sent for a forwarded request, or
// Unavailable/ResourceExhausted when it could not be sent (certainly not
// executed), or TimedOut when no answer came within kForwardTimeout.
using ForwardCallback = std::function<void(Result<std::string> reply)>;
// Executes a request a peer forwarded to us; must call `respond` exactly once,
// on the loop, with the reply bytes.
using ForwardServer = std::function<void(NodeId from, ShardId shard, std::vector<std::string> args,
                                         std::function<void(std::string reply)> respond)>;

struct NodeRuntimeOptions {
  cluster::NodePlan plan;
  // Read by the node's HLC; nullptr: the system clock. Must outlive the runtime.
  Clock* clock = nullptr;
  // Seeds the Raft groups' election randomness; 0: derived from the node id.
  uint64_t rng_seed = 0;
  // False: found no group of the initial placement at Open, only recover
  // what the data dir holds (a node that was founded before, or one joining
  // with an empty disk; see runtime/admin_founding.h).
  bool found_initial_placement = true;
};

class NodeRuntime {
 public:
  // Opens the node's data dir (recovering every replica it hosted), creates
  // the replicas of the initial placement that it does not host yet (first
  // start) and binds the peer port. Nothing runs until Run(). Errors: those
  // of Node::Open, CreateReplica and the transport.
  static Result<std::unique_ptr<NodeRuntime>> Open(NodeRuntimeOptions options);
  // Starts the raft loop thread. `forward_server` handles the requests peers
  // forward to this node. REQUIRES: called once, after Open.
  void Run(ForwardServer forward_server);
  // Stop()s.
  ~NodeRuntime();
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  // Stops the loop (if running) and joins it; callbacks of requests still pending are
  // dropped without being called. Idempotent. REQUIRES: not on the loop.
  void Stop();

  NodeId self() const { return plan_.self; }
  const cluster::NodePlan& plan() const { return plan_; }
  std::chrono::milliseconds tick_interval() const { return tick_interval_; }

  // Thread-safe: runs `fn` on the loop.
  void Post(std::function<void()> fn);
  // Thread-safe wrappers of the *OnLoop functions below.
  void Submit(ShardId shard, node::ShardCommand command, WriteCallback done);
  void Read(ShardId shard, std::string key, ReadCallback done);
  void Forward(NodeId to, ShardId shard, std::vector<std::string> args, ForwardCallback done);

  // --- Loop only. Each calls `done` exactly once, never before returning. ---
  // Proposes on this node's replica (which must be the leader; no waiting).
  // Writes submitted in one loop pass go out together (ProposeBatch per
  // shard) when the pass runs.
  void SubmitOnLoop(ShardId shard, node::ShardCommand command, WriteCallback done);
  // SubmitOnLoop for a kEval command: `done` also gets the entry's answer.
  void SubmitEvalOnLoop(ShardId shard, node::ShardCommand command, EvalCallback done);
  // Reads through ReadIndex on this node's replica (leader or follower).
  void ReadOnLoop(ShardId shard, std::string key, ReadCallback done);
  // Sends a ForwardRequest to `to` and waits at most kForwardTimeout.
  // `to_leader`: `to` was picked as the shard's leader, so the forward fails
  // early once this node's replica follows another leader; false for
  // requests addressed to a node for itself (admin steps).
  void ForwardOnLoop(NodeId to, ShardId shard, std::vector<std::string> args, ForwardCallback done,
                     bool to_leader = true);
  // Proposes a membership change on this node's replica (which must be the
  // leader); `done` gets OK once the change is applied here, or the error
  // (Unavailable "not leader", Busy while another change is pending, ...).
  void ProposeConfChangeOnLoop(ShardId shard, const raft::ConfChange& change, WriteCallback done);
  // Runs `fn` on the loop after `delay`.
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  node::Node& node();
  bool OnLoop() const;
  // The raft loop's io_context: the client listener runs its sockets on it
  // too (one thread per node; docs/runtime.md, "Threads").
  asio::io_context& io();
  // Thread-safe (counters only; the transport's are locked): Prometheus text
  // of this node's counters -- writes, proposal batches, reads, ProcessReady
  // rounds, raft log fsyncs, forwards sent and served, frames per peer --
  // for the admin port's /metrics. REQUIRES: not racing Stop().
  std::string MetricsText() const;

 private:
  struct Impl;
  explicit NodeRuntime(const cluster::NodePlan& plan);

  const cluster::NodePlan plan_;
  const std::chrono::milliseconds tick_interval_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkv::runtime
