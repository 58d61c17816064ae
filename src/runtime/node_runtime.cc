#include "runtime/node_runtime.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/assert.h"
#include "runtime/limits.h"
#include "transport/asio_transport.h"

namespace dkv::runtime {

struct NodeRuntime::Impl {
  struct PendingForward {
    NodeId to = 0;
    ShardId shard = 0;
    ForwardCallback done;
    std::unique_ptr<asio::steady_timer> timer;
    bool to_leader = true;
  };

  // Concurrency hint 1: one thread runs it, so a post from the loop itself
  // (a completion, a delivered batch) skips the lock and the wakeup.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::steady_timer tick_timer{io};
  std::chrono::steady_clock::time_point next_tick;
  std::thread thread;
  std::thread::id loop_id;
  // The sync thread: runs each round's raft-log write (and fsync) while the
  // loop keeps receiving, proposing, applying and answering (Node::StartRound).
  asio::io_context sync_io;
  asio::executor_work_guard<asio::io_context::executor_type> sync_work{sync_io.get_executor()};
  std::thread sync_thread;
  // Numbers the rounds whose write went to the sync thread; the one in flight.
  uint64_t round_seq = 0;
  uint64_t round_in_flight = 0;
  std::unique_ptr<transport::AsioTransport> transport;
  std::unique_ptr<node::Node> node;
  ForwardServer forward_server;
  // Shards founded at this start whose preferred leader (the placement's
  // first replica) is this node: it campaigns for them once their voters are
  // reachable, so leadership starts spread as the placement intends and the
  // first election does not wait out a random timeout.
  std::vector<std::pair<ShardId, std::vector<NodeId>>> preferred;
  uint64_t ticks = 0;
  // Writes submitted since the last pass, per shard: proposed together with
  // ProposeBatch (one append, one MsgApp per follower) at the start of the
  // next pass. Their callbacks wait in `writes` under their tokens.
  std::map<ShardId, std::vector<std::pair<node::ShardCommand, uint64_t>>> queued_writes;
  bool ready_posted = false;
  bool stopped = false;
  // Counters for /metrics (MetricsText), written on the loop, read anywhere.
  std::atomic<uint64_t> writes_submitted{0};
  std::atomic<uint64_t> proposal_batches{0};
  std::atomic<uint64_t> reads_submitted{0};
  std::atomic<uint64_t> ready_rounds{0};
  std::atomic<uint64_t> log_syncs{0};
  std::atomic<uint64_t> log_writes_async{0};
  std::atomic<uint64_t> forwards_sent{0};
  std::atomic<uint64_t> forwards_served{0};
  uint64_t next_token = 1;
  // A pending write's callback: `eval` for kEval commands (it gets the
  // entry's answer), else `write`.
  struct PendingWrite {
    WriteCallback write;
    EvalCallback eval;
    PendingWrite(WriteCallback w) : write(std::move(w)) {}  // NOLINT: implicit on purpose
    PendingWrite(EvalCallback e) : eval(std::move(e)) {}    // NOLINT
    void operator()(const Status& s, std::string result = {}) {
      if (eval) {
        eval(s, std::move(result));
      } else {
        write(s);
      }
    }
  };
  std::unordered_map<uint64_t, PendingWrite> writes;
  std::unordered_map<uint64_t, ReadCallback> reads;
  uint64_t next_forward_id = 1;
  std::unordered_map<uint64_t, PendingForward> forwards;

  // Posts one ProcessReady pass unless one is already posted.
  void ScheduleReady() {
    if (ready_posted) return;
    ready_posted = true;
    asio::post(io, [this] {
      ready_posted = false;
      RunReady();
    });
  }

  // Proposes the queued writes, each shard's in batches of bounded size.
  void ProposeQueuedWrites() {
    auto queued = std::move(queued_writes);
    queued_writes.clear();
    for (auto& [shard, cmds] : queued) {
      size_t i = 0;
      while (i < cmds.size()) {
        std::vector<std::pair<node::ShardCommand, uint64_t>> batch;
        std::vector<uint64_t> tokens;
        size_t bytes = 0;
        while (i < cmds.size() && batch.size() < kMaxProposalBatchCommands &&
               (batch.empty() || bytes < kMaxProposalBatchBytes)) {
          for (const node::WriteOp& op : cmds[i].first.ops)
            bytes += op.key.size() + op.value.size();
          tokens.push_back(cmds[i].second);
          batch.push_back(std::move(cmds[i]));
          i++;
        }
        Status s = node->ProposeBatch(shard, std::move(batch));
        if (s.ok()) {
          proposal_batches.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        for (uint64_t token : tokens) {
          auto w = writes.find(token);
          DKV_ASSERT(w != writes.end());
          PendingWrite cb = std::move(w->second);
          writes.erase(w);
          cb(s);
        }
      }
    }
  }

  // One round per loop pass: StartRound hands the raft-log write to the sync
  // thread and returns; what arrives while it runs is received, proposed and
  // answered at once, and joins the next round, which starts as soon as the
  // write returned (OnRoundWritten). Nothing waits for the disk on the loop.
  // Writes queued while a round's write runs are proposed when the next round
  // starts (they could not leave earlier), so each shard's go as ONE
  // ProposeBatch, one entry range and one MsgApp per follower.
  void RunReady() {
    if (node->RoundInFlight()) {
      for (node::Completion& c : node->TakeCompletions()) Dispatch(std::move(c));
      return;
    }
    ProposeQueuedWrites();
    if (!node->HasReady()) return;
    bool submitted = false;
    const uint64_t seq = ++round_seq;
    Result<std::vector<node::Completion>> done =
        node->StartRound([this, seq, &submitted](node::LogWriteTask write) {
          submitted = true;
          round_in_flight = seq;
          log_writes_async.fetch_add(1, std::memory_order_relaxed);
          asio::post(sync_io, [this, seq, write = std::move(write)] {
            write();
            asio::post(io, [this, seq] { OnRoundWritten(seq); });
          });
        });
    ready_rounds.fetch_add(1, std::memory_order_relaxed);
    DispatchRound(std::move(done));
    if (!submitted && node->RoundInFlight()) DispatchRound(node->FinishRound());
    if (!node->RoundInFlight() && node->HasReady()) ScheduleReady();
  }

  // The sync thread finished round `seq`'s write: finish the round and start
  // the next one right away (a round settled meanwhile by a replica change is
  // not finished twice).
  void OnRoundWritten(uint64_t seq) {
    if (stopped) return;
    if (seq != round_in_flight || !node->RoundInFlight()) {
      ScheduleReady();
      return;
    }
    round_in_flight = 0;
    DispatchRound(node->FinishRound());
    log_syncs.store(node->log_syncs(), std::memory_order_relaxed);
    RunReady();
  }

  void DispatchRound(Result<std::vector<node::Completion>> done) {
    if (!done.ok()) {
      // The node refuses everything from now on (its memory may be ahead of
      // its disk); the only recovery is a restart from disk (docs/node.md).
      spdlog::critical("raft loop: storage failure, exiting so the node restarts from disk: {}",
                       done.status().ToString());
      spdlog::default_logger()->flush();
      std::_Exit(3);
    }
    for (node::Completion& c : done.value()) Dispatch(std::move(c));
  }

  void Dispatch(node::Completion c) {
    if (auto w = writes.find(c.token); w != writes.end()) {
      PendingWrite cb = std::move(w->second);
      writes.erase(w);
      cb(c.status, std::move(c.value));
      return;
    }
    if (auto r = reads.find(c.token); r != reads.end()) {
      ReadCallback cb = std::move(r->second);
      reads.erase(r);
      cb(c.status, c.found, std::move(c.value));
      return;
    }
    DKV_ASSERT(false && "completion for an unknown token");
  }

  void Tick() {
    node->Tick();
    ticks++;
    CampaignForPreferredShards();
    ScheduleReady();
    FailForwardsToLostPeers();
  }

  void CampaignForPreferredShards() {
    if (preferred.empty()) return;
    if (ticks > kPreferredCampaignTicks) {
      preferred.clear();  // the elections run their normal course
      return;
    }
    std::vector<std::pair<ShardId, std::vector<NodeId>>> waiting;
    for (auto& [shard, voters] : preferred) {
      if (node->LeaderOf(shard) != raft::kNoNode) continue;  // someone won already
      bool all_reachable = true;
      for (NodeId v : voters) {
        if (v != node->id() && !transport->Reachable(v)) all_reachable = false;
      }
      if (!all_reachable) {
        waiting.emplace_back(shard, std::move(voters));
        continue;
      }
      Status s = node->Campaign(shard);
      if (!s.ok()) spdlog::debug("campaign for shard {}: {}", shard, s.ToString());
    }
    preferred = std::move(waiting);
  }

  // A forward that will get no answer fails now (outcome unknown: it may
  // have run) instead of after kForwardTimeout: its peer's connection was
  // lost (kill -9), or our replica of the shard follows a newer leader than
  // the one asked (the old one was paused or cut off). So a client is not
  // held for seconds after its shard's leader went away.
  void FailForwardsToLostPeers() {
    if (forwards.empty()) return;
    std::vector<std::pair<uint64_t, std::string>> lost;
    for (const auto& [id, f] : forwards) {
      if (!transport->Reachable(f.to)) {
        lost.emplace_back(id, "connection lost before the answer");
        continue;
      }
      if (f.to_leader && node->HasReplica(f.shard)) {
        const NodeId leader = node->LeaderOf(f.shard);
        if (leader != raft::kNoNode && leader != f.to) {
          lost.emplace_back(id, "node " + std::to_string(leader) + " leads the shard now");
        }
      }
    }
    for (auto& [id, why] : lost) {
      auto it = forwards.find(id);
      if (it == forwards.end()) continue;
      PendingForward p = std::move(it->second);
      forwards.erase(it);
      p.timer->cancel();
      p.done(Status::TimedOut("forward to node " + std::to_string(p.to), why));
    }
  }

  void ScheduleTick(std::chrono::milliseconds interval) {
    // From the planned time, not from now, so ticks do not drift late; a loop
    // that fell far behind skips ticks rather than running a burst of them.
    next_tick += interval;
    const auto now = std::chrono::steady_clock::now();
    if (next_tick + 4 * interval < now) next_tick = now;
    tick_timer.expires_at(next_tick);
    tick_timer.async_wait([this, interval](const asio::error_code& ec) {
      if (ec || stopped) return;
      Tick();
      ScheduleTick(interval);
    });
  }

  void OnFrame(NodeId from, rpc::Frame frame) {
    if (frame.has_forward_request()) {
      forwards_served.fetch_add(1, std::memory_order_relaxed);
      const rpc::ForwardRequest& req = frame.forward_request();
      std::vector<std::string> args(req.args().begin(), req.args().end());
      const uint64_t id = req.request_id();
      forward_server(from, req.shard(), std::move(args), [this, from, id](std::string reply) {
        rpc::Frame out;
        out.mutable_forward_response()->set_request_id(id);
        out.mutable_forward_response()->set_reply(std::move(reply));
        Status s = transport->SendFrame(from, out);
        if (!s.ok()) {
          // The sender times the request out (its outcome is unknown to it).
          spdlog::debug("raft loop: forward response to node {} dropped: {}", from, s.ToString());
        }
      });
      return;
    }
    if (frame.has_forward_response()) {
      auto it = forwards.find(frame.forward_response().request_id());
      if (it == forwards.end()) return;  // timed out already
      PendingForward p = std::move(it->second);
      forwards.erase(it);
      p.timer->cancel();
      p.done(std::string(frame.forward_response().reply()));
    }
  }
};

NodeRuntime::NodeRuntime(const cluster::NodePlan& plan)
    : plan_(plan),
      tick_interval_(std::chrono::milliseconds(plan.tick_interval_ms)),
      impl_(std::make_unique<Impl>()) {}

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::Open(NodeRuntimeOptions options) {
  const cluster::NodePlan& plan = options.plan;
  if (plan.self == 0 || plan.tick_interval_ms == 0) {
    return Status::InvalidArgument("node runtime", "plan without a node id or tick interval");
  }
  // The node's dir (under the cluster's data_dir) may not exist on first start.
  std::error_code ec;
  std::filesystem::create_directories(plan.data_dir, ec);
  if (ec) return Status::IOError("create " + plan.data_dir, ec.message());
  std::unique_ptr<NodeRuntime> rt(new NodeRuntime(plan));
  Impl* impl = rt->impl_.get();

  transport::AsioTransportOptions topts;
  topts.self = plan.self;
  topts.cluster_id = plan.cluster_id;
  topts.listen_host = plan.peer_host;
  topts.listen_port = plan.peer_port;
  for (const cluster::PeerEndpoint& p : plan.peers) {
    topts.peers.push_back(transport::PeerAddress{p.id, p.host, p.port});
  }
  // The peer sockets run on the raft loop itself: no network thread, so no
  // post + wakeup per message each way (docs/runtime.md, "Threads").
  topts.run_on_core_io = true;
  topts.on_frame = [impl](NodeId from, rpc::Frame frame) { impl->OnFrame(from, std::move(frame)); };
  DKV_ASSIGN_OR_RETURN(
      impl->transport,
      transport::AsioTransport::Start(std::move(topts), &impl->io, [impl](node::MessageBatch b) {
        impl->node->Receive(b);
        impl->ScheduleReady();
      }));

  node::NodeOptions nopts;
  nopts.id = plan.self;
  nopts.data_dir = plan.data_dir;
  nopts.clock = options.clock != nullptr ? options.clock : SystemClock::Default();
  nopts.max_clock_offset_us = plan.max_clock_offset_us;
  nopts.election_tick = plan.election_tick;
  nopts.heartbeat_tick = plan.heartbeat_tick;
  nopts.request_timeout_ticks =
      std::max<uint64_t>(1, kRequestTimeout.count() / plan.tick_interval_ms);
  nopts.rng_seed = options.rng_seed != 0 ? options.rng_seed : plan.self * 0x9E3779B97F4A7C15ull;
  DKV_ASSIGN_OR_RETURN(impl->node, node::Node::Open(nopts, impl->transport.get()));
  // First start: found the groups of the initial placement. On a restart the
  // node recovered its replicas from disk and nothing is created; a node that
  // founded before (or joins empty) founds nothing at all
  // (found_initial_placement, decided in runtime/admin_founding.h).
  DKV_ASSERT(plan.hosted_shards.size() == plan.hosted_shard_voters.size());
  for (size_t i = 0; options.found_initial_placement && i < plan.hosted_shards.size(); i++) {
    const ShardId shard = plan.hosted_shards[i];
    if (impl->node->HasReplica(shard)) continue;
    std::vector<NodeId> voters(plan.hosted_shard_voters[i].begin(),
                               plan.hosted_shard_voters[i].end());
    DKV_RETURN_IF_ERROR(impl->node->CreateReplica(shard, voters));
    if (voters.size() > 1 && voters.front() == plan.self) {
      impl->preferred.emplace_back(shard, std::move(voters));
    }
  }

  return rt;
}

void NodeRuntime::Run(ForwardServer forward_server) {
  Impl* impl = impl_.get();
  DKV_ASSERT(forward_server != nullptr);
  DKV_ASSERT(!impl->thread.joinable());
  impl->forward_server = std::move(forward_server);
  impl->next_tick = std::chrono::steady_clock::now();
  impl->ScheduleTick(tick_interval_);
  impl->ScheduleReady();
  impl->sync_thread = std::thread([impl] { impl->sync_io.run(); });
  impl->thread = std::thread([impl] { impl->io.run(); });
  impl->loop_id = impl->thread.get_id();
}

NodeRuntime::~NodeRuntime() { Stop(); }

void NodeRuntime::Stop() {
  Impl* impl = impl_.get();
  if (impl->transport == nullptr) return;  // stopped already
  if (!impl->thread.joinable()) {
    impl->transport.reset();
    impl->node.reset();
    return;
  }
  DKV_ASSERT(!OnLoop());
  asio::post(impl->io, [impl] {
    impl->stopped = true;
    impl->tick_timer.cancel();
    for (auto& [id, f] : impl->forwards) f.timer->cancel();
    impl->io.stop();
  });
  impl->thread.join();
  // A round's write may still run: let it end before the node goes.
  impl->sync_work.reset();
  impl->sync_thread.join();
  // The transport joins its network thread; then the node, which uses it, goes.
  impl->transport.reset();
  impl->node.reset();
  impl->writes.clear();
  impl->reads.clear();
  impl->forwards.clear();
}

void NodeRuntime::Post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

void NodeRuntime::Submit(ShardId shard, node::ShardCommand command, WriteCallback done) {
  Post([this, shard, command = std::move(command), done = std::move(done)]() mutable {
    SubmitOnLoop(shard, std::move(command), std::move(done));
  });
}

void NodeRuntime::Read(ShardId shard, std::string key, ReadCallback done) {
  Post([this, shard, key = std::move(key), done = std::move(done)]() mutable {
    ReadOnLoop(shard, std::move(key), std::move(done));
  });
}

void NodeRuntime::Forward(NodeId to, ShardId shard, std::vector<std::string> args,
                          ForwardCallback done) {
  Post([this, to, shard, args = std::move(args), done = std::move(done)]() mutable {
    ForwardOnLoop(to, shard, std::move(args), std::move(done));
  });
}

void NodeRuntime::SubmitOnLoop(ShardId shard, node::ShardCommand command, WriteCallback done) {
  Impl* impl = impl_.get();
  // A bad command fails alone now rather than its whole batch later.
  Status s = command.Validate();
  if (!s.ok()) {
    asio::post(impl->io, [done = std::move(done), s] { done(s); });
    return;
  }
  const uint64_t token = impl->next_token++;
  impl->writes_submitted.fetch_add(1, std::memory_order_relaxed);
  impl->writes.emplace(token, std::move(done));
  impl->queued_writes[shard].emplace_back(std::move(command), token);
  impl->ScheduleReady();
}

void NodeRuntime::SubmitEvalOnLoop(ShardId shard, node::ShardCommand command, EvalCallback done) {
  DKV_ASSERT(command.type == node::CommandType::kEval);
  Impl* impl = impl_.get();
  Status s = command.Validate();
  if (!s.ok()) {
    asio::post(impl->io, [done = std::move(done), s] { done(s, {}); });
    return;
  }
  const uint64_t token = impl->next_token++;
  impl->writes_submitted.fetch_add(1, std::memory_order_relaxed);
  impl->writes.emplace(token, std::move(done));
  impl->queued_writes[shard].emplace_back(std::move(command), token);
  impl->ScheduleReady();
}

void NodeRuntime::ReadOnLoop(ShardId shard, std::string key, ReadCallback done) {
  Impl* impl = impl_.get();
  const uint64_t token = impl->next_token++;
  Status s = impl->node->Read(shard, std::move(key), token);
  if (!s.ok()) {
    asio::post(impl->io, [done = std::move(done), s] { done(s, false, {}); });
    return;
  }
  impl->reads_submitted.fetch_add(1, std::memory_order_relaxed);
  impl->reads.emplace(token, std::move(done));
  impl->ScheduleReady();
}

void NodeRuntime::ForwardOnLoop(NodeId to, ShardId shard, std::vector<std::string> args,
                                ForwardCallback done, bool to_leader) {
  Impl* impl = impl_.get();
  auto fail = [impl, &done](Status s) {
    asio::post(impl->io, [done = std::move(done), s] { done(s); });
  };
  if (impl->forwards.size() >= kMaxPendingForwards) {
    fail(Status::ResourceExhausted("forward", "too many forwarded requests pending"));
    return;
  }
  const uint64_t id = impl->next_forward_id++;
  rpc::Frame frame;
  rpc::ForwardRequest* req = frame.mutable_forward_request();
  req->set_request_id(id);
  req->set_shard(shard);
  for (std::string& a : args) req->add_args(std::move(a));
  Status s = impl->transport->SendFrame(to, frame);
  if (!s.ok()) {
    fail(s);
    return;
  }
  impl->forwards_sent.fetch_add(1, std::memory_order_relaxed);
  auto timer = std::make_unique<asio::steady_timer>(impl->io, kForwardTimeout);
  timer->async_wait([impl, id, to](const asio::error_code& ec) {
    if (ec) return;
    auto it = impl->forwards.find(id);
    if (it == impl->forwards.end()) return;
    ForwardCallback cb = std::move(it->second.done);
    impl->forwards.erase(it);
    cb(Status::TimedOut("forward to node " + std::to_string(to), "no answer"));
  });
  impl->forwards.emplace(
      id, Impl::PendingForward{to, shard, std::move(done), std::move(timer), to_leader});
}

void NodeRuntime::ProposeConfChangeOnLoop(ShardId shard, const raft::ConfChange& change,
                                          WriteCallback done) {
  Impl* impl = impl_.get();
  const uint64_t token = impl->next_token++;
  Status s = impl->node->ProposeConfChange(shard, change, token);
  if (!s.ok()) {
    asio::post(impl->io, [done = std::move(done), s] { done(s); });
    return;
  }
  impl->writes.emplace(token, std::move(done));
  impl->ScheduleReady();
}

void NodeRuntime::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, delay);
  Impl* impl = impl_.get();
  timer->async_wait([timer, impl, fn = std::move(fn)](const asio::error_code& ec) {
    if (ec || impl->stopped) return;
    fn();
  });
}

std::string NodeRuntime::MetricsText() const {
  const Impl* impl = impl_.get();
  std::string out =
      "# HELP distkv_cluster_node_id this node's id\n# TYPE distkv_cluster_node_id gauge\n"
      "distkv_cluster_node_id " +
      std::to_string(plan_.self) + "\n";
  const std::string node_label = "{node=\"" + std::to_string(plan_.self) + "\"}";
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           node_label + " " + std::to_string(value) + "\n";
  };
  counter("distkv_node_writes_submitted_total", "shard writes proposed on this node (leader)",
          impl->writes_submitted.load(std::memory_order_relaxed));
  counter("distkv_node_proposal_batches_total",
          "ProposeBatch calls (one Raft append per batch of writes of one shard)",
          impl->proposal_batches.load(std::memory_order_relaxed));
  counter("distkv_node_reads_submitted_total", "linearizable reads (ReadIndex) on this node",
          impl->reads_submitted.load(std::memory_order_relaxed));
  counter("distkv_node_ready_rounds_total", "Node::ProcessReady rounds (all groups at once)",
          impl->ready_rounds.load(std::memory_order_relaxed));
  counter("distkv_node_log_fsyncs_total", "synced raft log writes (one per round that needed one)",
          impl->log_syncs.load(std::memory_order_relaxed));
  counter("distkv_node_log_writes_async_total",
          "rounds whose raft log write ran on the sync thread, beside the loop",
          impl->log_writes_async.load(std::memory_order_relaxed));
  counter("distkv_node_forwards_sent_total", "shard requests forwarded to another node",
          impl->forwards_sent.load(std::memory_order_relaxed));
  counter("distkv_node_forwards_served_total", "shard requests other nodes forwarded here",
          impl->forwards_served.load(std::memory_order_relaxed));
  if (impl->transport != nullptr) {
    out +=
        "# HELP distkv_transport_batches_sent_total frames written to a peer\n"
        "# TYPE distkv_transport_batches_sent_total counter\n";
    const std::vector<transport::PeerStats> stats = impl->transport->Stats();
    for (const transport::PeerStats& p : stats) {
      out += "distkv_transport_batches_sent_total{node=\"" + std::to_string(plan_.self) +
             "\",peer=\"" + std::to_string(p.peer) + "\"} " + std::to_string(p.batches_sent) + "\n";
    }
    out +=
        "# HELP distkv_transport_batches_received_total frames received from a peer\n"
        "# TYPE distkv_transport_batches_received_total counter\n";
    for (const transport::PeerStats& p : stats) {
      out += "distkv_transport_batches_received_total{node=\"" + std::to_string(plan_.self) +
             "\",peer=\"" + std::to_string(p.peer) + "\"} " + std::to_string(p.batches_received) +
             "\n";
    }
  }
  return out;
}

node::Node& NodeRuntime::node() {
  DKV_ASSERT(impl_->node != nullptr);
  return *impl_->node;
}

asio::io_context& NodeRuntime::io() { return impl_->io; }

bool NodeRuntime::OnLoop() const { return std::this_thread::get_id() == impl_->loop_id; }

}  // namespace dkv::runtime
