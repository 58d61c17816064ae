// Tests of the multi-Raft Node: three (or four) Nodes in one process, each on
// its own FaultInjectionEnv, wired by an in-memory transport the test pumps.
// Elections, writes through the leader, linearizable reads from every node,
// leader hints, crashes with recovery of every group, snapshot catch-up,
// group commit across shards and membership changes.
#include "node/node.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "check/linearizability.h"
#include "common/random.h"
#include "storage/fault_env.h"

namespace dkv::node {
namespace {

class ManualClock : public Clock {
 public:
  int64_t NowMicros() override { return now_us; }
  int64_t MonotonicMicros() override { return now_us; }
  int64_t now_us = 1'700'000'000'000'000;
};

class QueueTransport : public Transport {
 public:
  void Send(MessageBatch batch) override {
    sent_batches++;
    if (on_send) on_send(batch);
    queue.push_back(std::move(batch));
  }
  std::deque<MessageBatch> queue;
  uint64_t sent_batches = 0;
  // Called with each batch as it is sent (tests that check the order of
  // sends and fsyncs).
  std::function<void(const MessageBatch&)> on_send;
};

class Cluster {
 public:
  explicit Cluster(int n, uint64_t compact_log_entries = 10000,
                   std::function<void(NodeOptions&)> tweak = nullptr) {
    compact_log_entries_ = compact_log_entries;
    tweak_ = std::move(tweak);
    for (NodeId id = 1; id <= static_cast<NodeId>(n); id++) AddNode(id);
  }

  void AddNode(NodeId id) {
    envs_[id] = std::make_unique<storage::FaultInjectionEnv>();
    Start(id);
  }

  void Start(NodeId id) {
    NodeOptions o;
    o.id = id;
    o.data_dir = "/node";
    o.env = envs_[id].get();
    o.clock = &clock_;
    o.rng_seed = 42;
    o.compact_log_entries = compact_log_entries_;
    o.request_timeout_ticks = 50;
    o.max_snapshot_chunk_bytes = 4096;
    if (tweak_) tweak_(o);
    auto r = Node::Open(o, &net_);
    ASSERT_TRUE(r.ok()) << "node " << id << ": " << r.status().ToString();
    nodes_[id] = std::move(r).value();
  }

  // A machine crash: everything not synced is lost (a round's write still
  // waiting to run never happens).
  void Crash(NodeId id) {
    envs_[id]->Crash();
    pending_writes_.erase(id);
    nodes_[id].reset();
  }

  Node* node(NodeId id) { return nodes_[id].get(); }
  bool up(NodeId id) { return nodes_[id] != nullptr; }

  void CreateShard(ShardId shard, std::vector<NodeId> peers) {
    for (NodeId id : peers) ASSERT_TRUE(node(id)->CreateReplica(shard, peers).ok());
  }

  void Record(Result<std::vector<Completion>>& done) {
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    for (Completion& c : *done) {
      completed_at_[c.token] = event_++;
      completions_[c.token] = std::move(c);
    }
  }

  // Split rounds (split_ set): starts a round on `id` whose log write waits
  // in pending_writes_ until FinishWrite runs it, as the runtime's sync
  // thread does.
  void StartRoundOn(NodeId id) {
    LogWriteTask write;
    auto done = node(id)->StartRound([&write](LogWriteTask w) { write = std::move(w); });
    Record(done);
    if (write) {
      pending_writes_[id] = std::move(write);
      return;
    }
    auto rest = node(id)->FinishRound();
    Record(rest);
  }
  void FinishWrite(NodeId id) {
    LogWriteTask write = std::move(pending_writes_[id]);
    pending_writes_.erase(id);
    if (write) write();
    auto done = node(id)->FinishRound();
    Record(done);
  }

  // Runs rounds and deliveries until nothing moves. With split_ set, rounds
  // are split and their writes finish at random moments: batches are
  // received, proposals and ticks made while writes run, and Pump may return
  // with writes still running (crashes then lose them).
  void Pump() {
    for (int round = 0; round < 10000; round++) {
      bool moved = false;
      bool in_flight = false;
      for (auto& [id, n] : nodes_) {
        if (!n) continue;
        if (n->RoundInFlight()) {
          if (split_ != nullptr && split_->Uniform(3) != 0) {
            in_flight = true;
            continue;  // its write still runs
          }
          FinishWrite(id);
          moved = true;
        }
        while (!n->RoundInFlight() && n->HasReady()) {
          if (split_ != nullptr) {
            StartRoundOn(id);
          } else {
            auto done = n->ProcessReady();
            Record(done);
          }
          moved = true;
        }
        if (n->RoundInFlight()) in_flight = true;
      }
      while (!net_.queue.empty()) {
        if (lossy_ != nullptr && net_.queue.size() > 1 && lossy_->Uniform(10) == 0) {
          std::swap(net_.queue.front(), net_.queue[1 + lossy_->Uniform(net_.queue.size() - 1)]);
        }
        MessageBatch b = std::move(net_.queue.front());
        net_.queue.pop_front();
        moved = true;
        if (tamper_) tamper_(b);
        if (!up(b.to) || isolated_.count(b.to) || isolated_.count(b.from)) continue;
        if (lossy_ != nullptr) {
          const uint64_t dice = lossy_->Uniform(100);
          if (dice < 5) continue;                 // lost
          if (dice < 10) node(b.to)->Receive(b);  // duplicated
        }
        node(b.to)->Receive(b);
      }
      if (!moved && !in_flight) return;
      if (!moved && split_ != nullptr && split_->Uniform(2) == 0) return;  // writes still run
    }
    FAIL() << "cluster never quiesced";
  }

  void Tick(int n = 1) {
    for (int i = 0; i < n; i++) {
      clock_.now_us += 1000;
      for (auto& [id, node] : nodes_) {
        if (node) node->Tick();
      }
      Pump();
    }
  }

  NodeId Leader(ShardId shard) {
    for (auto& [id, n] : nodes_) {
      if (!n || isolated_.count(id) || !n->HasReplica(shard)) continue;
      auto st = n->GetReplicaStatus(shard);
      if (st.ok() && st->role == raft::Role::kLeader) return id;
    }
    return raft::kNoNode;
  }

  NodeId WaitLeader(ShardId shard) {
    for (int i = 0; i < 500; i++) {
      NodeId l = Leader(shard);
      if (l != raft::kNoNode) return l;
      Tick();
    }
    return raft::kNoNode;
  }

  // Proposes through the shard's leader and waits for the completion.
  Status Write(ShardId shard, ShardCommand cmd) {
    const uint64_t token = next_token_++;
    for (int attempt = 0; attempt < 20; attempt++) {
      NodeId leader = WaitLeader(shard);
      if (leader == raft::kNoNode) return Status::Unavailable("no leader");
      Status st = node(leader)->Propose(shard, cmd, token);
      if (st.ok()) {
        for (int i = 0; i < 200 && !completions_.count(token); i++) Tick();
        if (!completions_.count(token)) return Status::TimedOut("no completion");
        return completions_[token].status;
      }
      if (!st.IsUnavailable()) return st;
      Tick();
    }
    return Status::Unavailable("gave up");
  }
  Status Put(ShardId shard, const std::string& k, const std::string& v) {
    return Write(shard, ShardCommand::Put(k, v));
  }

  // A linearizable read through `via`.
  Result<Completion> Read(NodeId via, ShardId shard, const std::string& key) {
    const uint64_t token = next_token_++;
    for (int attempt = 0; attempt < 50; attempt++) {
      Status st = node(via)->Read(shard, key, token);
      if (st.ok()) break;
      if (!st.IsUnavailable()) return st;
      Tick();
    }
    for (int i = 0; i < 200 && !completions_.count(token); i++) {
      Pump();
      if (!completions_.count(token)) Tick();
    }
    if (!completions_.count(token)) return Status::TimedOut("read");
    return completions_[token];
  }

  void Isolate(NodeId id) { isolated_.insert(id); }
  void Heal() { isolated_.clear(); }

  QueueTransport net_;
  ManualClock clock_;
  std::map<NodeId, std::unique_ptr<storage::FaultInjectionEnv>> envs_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::map<uint64_t, Completion> completions_;
  // A logical clock of invocations and completions, for histories.
  std::map<uint64_t, int64_t> completed_at_;
  int64_t event_ = 1;
  std::set<NodeId> isolated_;
  // When set, batches are lost (5%), duplicated (5%) and reordered.
  Rng* lossy_ = nullptr;
  // When set, rounds are split (StartRound / FinishRound) and each write runs
  // at a moment this picks; unset, Pump finishes the writes still pending.
  Rng* split_ = nullptr;
  std::map<NodeId, LogWriteTask> pending_writes_;
  uint64_t next_token_ = 1;
  // When set, sees (and may change) every batch before it is delivered.
  std::function<void(MessageBatch&)> tamper_;
  uint64_t compact_log_entries_;
  std::function<void(NodeOptions&)> tweak_;
};

std::string ValueOf(const Result<Completion>& c) {
  if (!c.ok()) return "<" + c.status().ToString() + ">";
  if (!c->status.ok()) return "<" + c->status.ToString() + ">";
  return c->found ? c->value : "<none>";
}

TEST(NodeTest, ElectsLeaderWritesThroughItAndReadsFromEveryNode) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_NE(c.WaitLeader(1), raft::kNoNode);
  ASSERT_TRUE(c.Put(1, "k", "v1").ok());
  ASSERT_TRUE(c.Put(1, "k", "v2").ok());
  ASSERT_TRUE(
      c.Write(1, ShardCommand::Write({{OpType::kPut, "a", "1"}, {OpType::kDelete, "k", ""}})).ok());
  for (NodeId id = 1; id <= 3; id++) {
    EXPECT_EQ(ValueOf(c.Read(id, 1, "a")), "1") << "via node " << id;
    EXPECT_EQ(ValueOf(c.Read(id, 1, "k")), "<none>") << "via node " << id;
  }
  // Every replica applied the same state.
  for (NodeId id = 1; id <= 3; id++) {
    auto r = c.node(id)->LocalRead(1, "a");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->found);
  }
}

TEST(NodeTest, FollowerProposeReturnsTheLeaderHint) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  const NodeId leader = c.WaitLeader(1);
  ASSERT_NE(leader, raft::kNoNode);
  c.Tick(3);  // followers hear a heartbeat
  const NodeId follower = leader == 1 ? 2 : 1;
  Status st = c.node(follower)->Propose(1, ShardCommand::Put("k", "v"), 99);
  EXPECT_TRUE(st.IsUnavailable());
  EXPECT_EQ(st.message(), "not leader, leader is " + std::to_string(leader));
  EXPECT_EQ(c.node(follower)->LeaderOf(1), leader);
  EXPECT_TRUE(c.node(leader)->Propose(2, ShardCommand::Put("k", "v"), 1).IsNotFound());
  EXPECT_TRUE(c.node(leader)->Propose(1, ShardCommand::Put("", "v"), 1).IsInvalidArgument());
}

TEST(NodeTest, OneSyncedWriteServesAllGroupsOfARound) {
  Cluster c(3);
  for (ShardId s = 1; s <= 4; s++) c.CreateShard(s, {1, 2, 3});
  for (ShardId s = 1; s <= 4; s++) {
    ASSERT_TRUE(c.node(1)->Campaign(s).ok());
    c.Pump();
  }
  c.Tick(2);
  for (ShardId s = 1; s <= 4; s++) ASSERT_EQ(c.Leader(s), 1u) << "shard " << s;
  const uint64_t syncs = c.node(1)->log_syncs();
  const uint64_t batches = c.net_.sent_batches;
  for (ShardId s = 1; s <= 4; s++) {
    ASSERT_TRUE(c.node(1)->Propose(s, ShardCommand::Put("k", std::to_string(s)), 100 + s).ok());
  }
  auto done = c.node(1)->ProcessReady();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(c.node(1)->log_syncs(), syncs + 1);  // four groups, one fsync
  EXPECT_EQ(c.net_.sent_batches, batches + 2);   // four groups, one batch per peer
  c.Pump();
  for (ShardId s = 1; s <= 4; s++) {
    ASSERT_TRUE(c.completions_.count(100 + s));
    EXPECT_TRUE(c.completions_[100 + s].status.ok());
    EXPECT_EQ(ValueOf(c.Read(2, s, "k")), std::to_string(s));
  }
}

// Raft thesis 10.2.1: the leader's appends leave before its own fsync, so the
// two fsyncs of a write (leader's and follower's) overlap; a follower answers
// only after its own fsync, and the write commits only after both.
TEST(NodeTest, LeaderSendsAppendsBeforeItsFsyncFollowerAnswersAfterIts) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.node(1)->Campaign(1).ok());
  c.Pump();
  c.Tick(2);
  ASSERT_EQ(c.Leader(1), 1u);
  struct Sent {
    NodeId from;
    std::vector<raft::MessageType> types;
    uint64_t syncs_at_send;
  };
  std::vector<Sent> sent;
  c.net_.on_send = [&](const MessageBatch& b) {
    Sent s{b.from, {}, c.node(b.from)->log_syncs()};
    for (const Envelope& e : b.messages) s.types.push_back(e.msg.type);
    sent.push_back(std::move(s));
  };
  const uint64_t leader_syncs = c.node(1)->log_syncs();
  ASSERT_TRUE(c.node(1)->Propose(1, ShardCommand::Put("k", "v"), 7).ok());
  ASSERT_TRUE(c.node(1)->ProcessReady().ok());
  EXPECT_EQ(c.node(1)->log_syncs(), leader_syncs + 1);
  ASSERT_EQ(sent.size(), 2u);  // one MsgApp batch per follower
  for (const Sent& s : sent) {
    EXPECT_EQ(s.types, std::vector<raft::MessageType>{raft::MessageType::kMsgApp});
    EXPECT_EQ(s.syncs_at_send, leader_syncs);  // before the leader's fsync
  }
  EXPECT_FALSE(c.completions_.count(7));

  // Follower 2 alone: its answer leaves after its fsync.
  sent.clear();
  const uint64_t follower_syncs = c.node(2)->log_syncs();
  for (MessageBatch& b : c.net_.queue) {
    if (b.to == 2) c.node(2)->Receive(b);
  }
  c.net_.queue.clear();
  ASSERT_TRUE(c.node(2)->ProcessReady().ok());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].types, std::vector<raft::MessageType>{raft::MessageType::kMsgAppResp});
  EXPECT_EQ(sent[0].syncs_at_send, follower_syncs + 1);  // after the follower's fsync
  c.net_.on_send = nullptr;
  c.Pump();
  ASSERT_TRUE(c.completions_.count(7));
  EXPECT_TRUE(c.completions_[7].status.ok());
  EXPECT_EQ(ValueOf(c.Read(3, 1, "k")), "v");
}

// Split rounds (the runtime's sync thread): while a round's log write runs,
// the node receives, proposes and answers, but a follower's append answer
// leaves only after its write returned; the leader applies and answers a
// committed entry in its next round while that round's own write still runs.
TEST(NodeTest, SplitRoundAnswersAfterItsWriteAndAppliesDurableEntriesMeanwhile) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.node(1)->Campaign(1).ok());
  c.Pump();
  c.Tick(2);
  ASSERT_EQ(c.Leader(1), 1u);
  std::vector<std::pair<NodeId, std::vector<raft::MessageType>>> sent;
  c.net_.on_send = [&](const MessageBatch& b) {
    std::vector<raft::MessageType> types;
    for (const Envelope& e : b.messages) types.push_back(e.msg.type);
    sent.emplace_back(b.from, std::move(types));
  };
  auto start = [&](NodeId id) {
    LogWriteTask write;
    auto done = c.node(id)->StartRound([&write](LogWriteTask w) { write = std::move(w); });
    EXPECT_TRUE(done.ok());
    for (Completion& comp : *done) c.completions_[comp.token] = std::move(comp);
    return write;
  };
  auto finish = [&](NodeId id) {
    auto done = c.node(id)->FinishRound();
    ASSERT_TRUE(done.ok());
    for (Completion& comp : *done) c.completions_[comp.token] = std::move(comp);
  };
  auto deliver_to = [&](NodeId id) {
    for (MessageBatch& b : c.net_.queue) {
      if (b.to == id) c.node(id)->Receive(b);
    }
    std::erase_if(c.net_.queue, [id](const MessageBatch& b) { return b.to == id; });
  };

  const uint64_t leader_syncs = c.node(1)->log_syncs();
  ASSERT_TRUE(c.node(1)->Propose(1, ShardCommand::Put("k", "v"), 7).ok());
  LogWriteTask leader_write = start(1);
  ASSERT_TRUE(leader_write);
  ASSERT_TRUE(c.node(1)->RoundInFlight());
  ASSERT_EQ(sent.size(), 2u);  // the MsgApps left before the leader's write ran
  EXPECT_EQ(c.node(1)->log_syncs(), leader_syncs);

  // Follower 2 takes the append; its answer waits for its own write.
  sent.clear();
  deliver_to(2);
  const uint64_t follower_syncs = c.node(2)->log_syncs();
  LogWriteTask follower_write = start(2);
  ASSERT_TRUE(follower_write);
  EXPECT_TRUE(sent.empty()) << "an append answer left before the follower's write";
  follower_write();
  EXPECT_EQ(c.node(2)->log_syncs(), follower_syncs + 1);
  finish(2);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second, std::vector<raft::MessageType>{raft::MessageType::kMsgAppResp});

  // The answer reaches the leader while its write still runs; it proposes more.
  deliver_to(1);
  ASSERT_TRUE(c.node(1)->Propose(1, ShardCommand::Put("k", "w"), 8).ok());
  EXPECT_FALSE(c.completions_.count(7));
  leader_write();
  finish(1);
  // The next round commits 7 (durable on both) before its own write (of 8) ran.
  LogWriteTask next_write = start(1);
  ASSERT_TRUE(next_write);
  ASSERT_TRUE(c.completions_.count(7));
  EXPECT_TRUE(c.completions_[7].status.ok());
  EXPECT_FALSE(c.completions_.count(8));
  next_write();
  finish(1);
  c.net_.on_send = nullptr;
  c.Pump();
  ASSERT_TRUE(c.completions_.count(8));
  EXPECT_TRUE(c.completions_[8].status.ok());
  EXPECT_EQ(ValueOf(c.Read(3, 1, "k")), "w");
}

TEST(NodeTest, CrashedFollowerRecoversEveryGroup) {
  Cluster c(3);
  for (ShardId s = 1; s <= 3; s++) c.CreateShard(s, {1, 2, 3});
  for (ShardId s = 1; s <= 3; s++) {
    for (int i = 0; i < 5; i++) {
      ASSERT_TRUE(c.Put(s, "k" + std::to_string(i), "s" + std::to_string(s)).ok());
    }
  }
  NodeId victim = 3;
  c.Crash(victim);
  for (ShardId s = 1; s <= 3; s++) ASSERT_TRUE(c.Put(s, "after", "crash").ok());
  c.Start(victim);
  EXPECT_EQ(c.node(victim)->Shards(), (std::vector<ShardId>{1, 2, 3}));
  c.Tick(20);
  for (ShardId s = 1; s <= 3; s++) {
    EXPECT_EQ(ValueOf(c.Read(victim, s, "k4")), "s" + std::to_string(s));
    EXPECT_EQ(ValueOf(c.Read(victim, s, "after")), "crash");
    auto local = c.node(victim)->LocalRead(s, "after");
    ASSERT_TRUE(local.ok());
    EXPECT_TRUE(local->found);
  }
}

TEST(NodeTest, CrashedLeaderIsReplacedAndAcknowledgedWritesSurvive) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  for (int i = 0; i < 10; i++) ASSERT_TRUE(c.Put(1, "k" + std::to_string(i), "v").ok());
  const NodeId old_leader = c.WaitLeader(1);
  c.Crash(old_leader);
  const NodeId new_leader = c.WaitLeader(1);
  ASSERT_NE(new_leader, raft::kNoNode);
  EXPECT_NE(new_leader, old_leader);
  ASSERT_TRUE(c.Put(1, "k10", "v").ok());
  c.Start(old_leader);
  c.Tick(20);
  for (int i = 0; i <= 10; i++) {
    EXPECT_EQ(ValueOf(c.Read(old_leader, 1, "k" + std::to_string(i))), "v") << i;
  }
}

TEST(NodeTest, WholeClusterRestartKeepsData) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  c.CreateShard(2, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "a", "1").ok());
  ASSERT_TRUE(c.Put(2, "b", "2").ok());
  for (NodeId id = 1; id <= 3; id++) c.Crash(id);
  for (NodeId id = 1; id <= 3; id++) c.Start(id);
  ASSERT_NE(c.WaitLeader(1), raft::kNoNode);
  EXPECT_EQ(ValueOf(c.Read(1, 1, "a")), "1");
  EXPECT_EQ(ValueOf(c.Read(3, 2, "b")), "2");
}

TEST(NodeTest, FarBehindFollowerCatchesUpBySnapshot) {
  Cluster c(3, /*compact_log_entries=*/20);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "first", "x").ok());
  c.Crash(3);
  for (int i = 0; i < 100; i++) {
    ASSERT_TRUE(c.Put(1, "k" + std::to_string(i), std::string(200, 'a' + i % 26)).ok());
  }
  const NodeId leader = c.WaitLeader(1);
  auto st = c.node(leader)->GetReplicaStatus(1);
  ASSERT_TRUE(st.ok());
  ASSERT_GT(st->first_index, 20u) << "the leader's log was compacted";
  c.Start(3);
  c.Tick(50);
  auto st3 = c.node(3)->GetReplicaStatus(1);
  ASSERT_TRUE(st3.ok());
  EXPECT_EQ(st3->applied, st->applied);
  for (int i = 0; i < 100; i += 7) {
    auto r = c.node(3)->LocalRead(1, "k" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->found) << i;
  }
  EXPECT_TRUE(c.node(3)->LocalRead(1, "first")->found);
  // And it survives its own crash right after (snapshot durable).
  c.Crash(3);
  c.Start(3);
  EXPECT_TRUE(c.node(3)->LocalRead(1, "k99")->found);
  ASSERT_TRUE(c.Put(1, "later", "y").ok());
  EXPECT_EQ(ValueOf(c.Read(3, 1, "later")), "y");
}

// A snapshot chunk damaged on the way (one flipped byte), or a last chunk cut
// short: the follower's receiver refuses the stream before anything is
// installed, the leader sends a fresh snapshot later, and the follower catches
// up all the same. No chunk is ever larger than max_snapshot_chunk_bytes.
TEST(NodeTest, BadOrTruncatedSnapshotStreamIsRefusedAndSentAgain) {
  for (const bool truncate : {false, true}) {
    SCOPED_TRACE(truncate ? "truncated last chunk" : "flipped byte");
    Cluster c(3, /*compact_log_entries=*/20);
    c.CreateShard(1, {1, 2, 3});
    c.Crash(3);
    for (int i = 0; i < 60; i++) {
      ASSERT_TRUE(c.Put(1, "k" + std::to_string(i), std::string(300, 'a' + i % 26)).ok());
    }
    int chunks = 0;
    int damaged = 0;
    c.tamper_ = [&](MessageBatch& b) {
      for (Envelope& e : b.messages) {
        if (e.msg.type != raft::MessageType::kMsgSnap) continue;
        chunks++;
        EXPECT_LE(e.msg.snapshot_chunk.size(), 4096u);
        if (damaged > 0 || e.msg.snapshot_chunk.empty()) continue;
        if (!truncate && chunks == 2) {
          e.msg.snapshot_chunk[e.msg.snapshot_chunk.size() / 2] ^= 0x40;
          damaged++;
        } else if (truncate && e.msg.snapshot_last_chunk) {
          e.msg.snapshot_chunk.pop_back();
          damaged++;
        }
      }
    };
    c.Start(3);
    c.Tick(80);
    EXPECT_EQ(damaged, 1);
    const NodeId leader = c.WaitLeader(1);
    auto st = c.node(leader)->GetReplicaStatus(1);
    auto st3 = c.node(3)->GetReplicaStatus(1);
    ASSERT_TRUE(st.ok() && st3.ok());
    EXPECT_EQ(st3->applied, st->applied);
    for (int i = 0; i < 60; i += 7) {
      EXPECT_TRUE(c.node(3)->LocalRead(1, "k" + std::to_string(i))->found) << i;
    }
    // Nothing is left behind: at most the one checkpoint raft keeps for
    // further followers, and one engine directory per replica.
    for (NodeId id = 1; id <= 3; id++) {
      auto children = c.envs_[id]->GetChildren("/node");
      ASSERT_TRUE(children.ok());
      int checkpoints = 0;
      int engines = 0;
      for (const std::string& name : *children) {
        checkpoints += name.find("checkpoint") != std::string::npos;
        engines += name.starts_with("shard-1-");
      }
      EXPECT_LE(checkpoints, 1) << id;
      EXPECT_EQ(engines, 1) << id;
    }
  }
}

TEST(NodeTest, IsolatedLeaderCannotAnswerReadsAndItsProposalsDoNotApply) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "k", "old").ok());
  const NodeId old_leader = c.WaitLeader(1);
  c.Isolate(old_leader);
  ASSERT_TRUE(c.node(old_leader)->Propose(1, ShardCommand::Put("k", "lost"), 777).ok());
  const uint64_t read_token = 778;
  ASSERT_TRUE(c.node(old_leader)->Read(1, "k", read_token).ok());
  // The majority elects another leader and writes.
  NodeId new_leader = raft::kNoNode;
  for (int i = 0; i < 200 && new_leader == raft::kNoNode; i++) {
    c.Tick();
    for (NodeId id = 1; id <= 3; id++) {
      if (id == old_leader) continue;
      auto st = c.node(id)->GetReplicaStatus(1);
      if (st.ok() && st->role == raft::Role::kLeader) new_leader = id;
    }
  }
  ASSERT_NE(new_leader, raft::kNoNode);
  ASSERT_TRUE(c.node(new_leader)->Propose(1, ShardCommand::Put("k", "new"), 779).ok());
  c.Tick(5);
  ASSERT_TRUE(c.completions_.count(779));
  EXPECT_TRUE(c.completions_[779].status.ok());
  // The isolated node's read never got a quorum: not answered with stale data.
  if (c.completions_.count(read_token)) {
    EXPECT_FALSE(c.completions_[read_token].status.ok());
  }
  c.Heal();
  c.Tick(60);
  ASSERT_TRUE(c.completions_.count(777));
  EXPECT_FALSE(c.completions_[777].status.ok());
  EXPECT_EQ(ValueOf(c.Read(old_leader, 1, "k")), "new");
}

TEST(NodeTest, AddAndRemoveAReplica) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  for (int i = 0; i < 10; i++) ASSERT_TRUE(c.Put(1, "k" + std::to_string(i), "v").ok());
  c.AddNode(4);
  ASSERT_TRUE(c.node(4)->CreateReplica(1, {}).ok());
  const NodeId leader = c.WaitLeader(1);
  ASSERT_TRUE(
      c.node(leader)->ProposeConfChange(1, {raft::ConfChangeType::kAddVoter, 4, {}}, 500).ok());
  c.Tick(30);
  ASSERT_TRUE(c.completions_.count(500));
  EXPECT_TRUE(c.completions_[500].status.ok());
  EXPECT_EQ(ValueOf(c.Read(4, 1, "k9")), "v");
  auto st = c.node(4)->GetReplicaStatus(1);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->conf.voters, (std::vector<NodeId>{1, 2, 3, 4}));

  const NodeId leader2 = c.WaitLeader(1);
  const NodeId victim = leader2 == 3 ? 2 : 3;
  ASSERT_TRUE(c.node(leader2)
                  ->ProposeConfChange(1, {raft::ConfChangeType::kRemoveNode, victim, {}}, 501)
                  .ok());
  c.Tick(10);
  ASSERT_TRUE(c.completions_.count(501));
  EXPECT_TRUE(c.completions_[501].status.ok());
  ASSERT_TRUE(c.node(victim)->RemoveReplica(1).ok());
  EXPECT_FALSE(c.node(victim)->HasReplica(1));
  ASSERT_TRUE(c.Put(1, "after", "remove").ok());
  EXPECT_EQ(ValueOf(c.Read(4, 1, "after")), "remove");
  // The removed replica stays removed across a restart.
  c.Crash(victim);
  c.Start(victim);
  EXPECT_FALSE(c.node(victim)->HasReplica(1));
}

TEST(NodeTest, ProposeBatchCompletesEachCommandAndReadsAtATimestamp) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  const NodeId leader = c.WaitLeader(1);
  std::vector<std::pair<ShardCommand, uint64_t>> batch;
  for (uint64_t t = 1001; t <= 1005; t++) {
    batch.emplace_back(ShardCommand::Put("k", "v" + std::to_string(t - 1000)), t);
  }
  const uint64_t syncs = c.node(leader)->log_syncs();
  ASSERT_TRUE(c.node(leader)->ProposeBatch(1, batch).ok());
  c.Pump();
  EXPECT_LE(c.node(leader)->log_syncs(), syncs + 2);
  uint64_t last_index = 0;
  for (uint64_t t = 1001; t <= 1005; t++) {
    ASSERT_TRUE(c.completions_.count(t)) << t;
    EXPECT_TRUE(c.completions_[t].status.ok());
    EXPECT_GT(c.completions_[t].index, last_index);
    last_index = c.completions_[t].index;
  }
  // The version just before the latest, read at the latest's timestamp - 1.
  const NodeId follower = leader == 1 ? 2 : 1;
  auto latest = c.Read(follower, 1, "k");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->value, "v5");
  const Timestamp v5 = latest->ts;
  ASSERT_GT(v5.logical, 0u);  // the manual clock stands still: same wall time
  ASSERT_TRUE(
      c.node(follower)->Read(1, "k", 2000, Timestamp{v5.wall_time_us, v5.logical - 1}).ok());
  c.Tick(3);
  ASSERT_TRUE(c.completions_.count(2000));
  EXPECT_EQ(c.completions_[2000].value, "v4");
  // A follower refuses a batch with the leader hint; a bad command refuses it all.
  Status st = c.node(follower)->ProposeBatch(1, batch);
  EXPECT_TRUE(st.IsUnavailable());
  batch.emplace_back(ShardCommand::Put("", "bad"), 1009);
  EXPECT_TRUE(c.node(leader)->ProposeBatch(1, batch).IsInvalidArgument());
}

TEST(NodeTest, LeaseReadsAnswerFromTheLeaderAndFollowers) {
  Cluster c(3, 10000, [](NodeOptions& o) { o.lease_clock_drift_bound_ticks = 2; });
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "k", "v").ok());
  for (NodeId id = 1; id <= 3; id++) EXPECT_EQ(ValueOf(c.Read(id, 1, "k")), "v") << id;
}

// The same catch-up by snapshot on the real file system (hard-linked
// checkpoints, directory syncs, CURRENT renames), with clean stops.
TEST(NodeTest, SnapshotCatchUpOnARealDisk) {
  char tmpl[] = "/tmp/dkv-node-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  {
    Cluster c(3, /*compact_log_entries=*/20, [&root](NodeOptions& o) {
      o.env = storage::Env::Posix();
      o.data_dir = root + "/n" + std::to_string(o.id);
    });
    c.CreateShard(1, {1, 2, 3});
    c.CreateShard(2, {1, 2, 3});
    ASSERT_TRUE(c.Put(1, "first", "x").ok());
    c.nodes_[3].reset();  // a clean stop
    for (int i = 0; i < 60; i++) ASSERT_TRUE(c.Put(1 + i % 2, "k" + std::to_string(i), "v").ok());
    for (ShardId s = 1; s <= 2; s++) {
      EXPECT_GT(c.node(c.WaitLeader(s))->GetReplicaStatus(s)->first_index, 10u) << "compacted";
    }
    c.Start(3);
    c.Tick(50);
    for (int i = 0; i < 60; i++) {
      auto r = c.node(3)->LocalRead(1 + i % 2, "k" + std::to_string(i));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE(r->found) << i;
    }
    EXPECT_EQ(ValueOf(c.Read(3, 1, "first")), "x");
    c.nodes_[3].reset();
    c.Start(3);
    EXPECT_TRUE(c.node(3)->LocalRead(2, "k59")->found);
  }
  std::filesystem::remove_all(root);
}

TEST(NodeTest, ReadsOfARoundShareOneReadIndex) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "k", "v").ok());
  const NodeId leader = c.WaitLeader(1);
  // More reads than raft holds pending ReadIndex requests (4096): they fit
  // because the round asks once for all of them.
  const uint64_t batches = c.net_.sent_batches;
  for (uint64_t t = 10000; t < 15000; t++) ASSERT_TRUE(c.node(leader)->Read(1, "k", t).ok());
  ASSERT_TRUE(c.node(leader)->ProcessReady().ok());
  EXPECT_EQ(c.net_.sent_batches, batches + 2);  // one heartbeat round: a batch per peer
  size_t heartbeats = 0;
  for (const MessageBatch& b : c.net_.queue) heartbeats += b.messages.size();
  EXPECT_EQ(heartbeats, 2u);
  c.Pump();
  for (uint64_t t = 10000; t < 15000; t++) {
    ASSERT_TRUE(c.completions_.count(t)) << t;
    EXPECT_TRUE(c.completions_[t].status.ok());
    EXPECT_EQ(c.completions_[t].value, "v");
  }
}

TEST(NodeTest, TransferLeadershipPassesThrough) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  const NodeId leader = c.WaitLeader(1);
  const NodeId target = leader == 1 ? 2 : 1;
  ASSERT_TRUE(c.Put(1, "k", "v").ok());
  ASSERT_TRUE(c.node(leader)->TransferLeadership(1, target).ok());
  c.Tick(10);
  EXPECT_EQ(c.Leader(1), target);
}

// A single-node group driven by hand, for recovery cases.
class SoloNode {
 public:
  SoloNode() { Open(); }
  void Open() {
    node.reset();
    NodeOptions o;
    o.id = 1;
    o.data_dir = "/node";
    o.env = &env;
    o.clock = &clock;
    auto r = Node::Open(o, &net);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    node = std::move(r).value();
  }
  void Drain() {
    while (node->HasReady()) {
      auto done = node->ProcessReady();
      ASSERT_TRUE(done.ok()) << done.status().ToString();
      for (Completion& c : *done) completions[c.token] = std::move(c);
    }
  }
  void Lead(ShardId shard) {
    ASSERT_TRUE(node->Campaign(shard).ok());
    Drain();
    ASSERT_EQ(node->LeaderOf(shard), 1u);
  }

  storage::FaultInjectionEnv env;
  ManualClock clock;
  QueueTransport net;
  std::unique_ptr<Node> node;
  std::map<uint64_t, Completion> completions;
};

// A group of one voter commits its entries as it appends them: those are
// applied only once the round's write returned, never before.
TEST(NodeTest, SplitRoundOfOneVoterAppliesItsOwnAppendsAfterTheWrite) {
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("a", "1"), 1).ok());
  LogWriteTask write;
  auto started = solo.node->StartRound([&write](LogWriteTask w) { write = std::move(w); });
  ASSERT_TRUE(started.ok());
  EXPECT_TRUE(started->empty());
  ASSERT_TRUE(write);
  const uint64_t applied = solo.node->GetReplicaStatus(1)->applied;
  write();
  auto done = solo.node->FinishRound();
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_TRUE((*done)[0].status.ok());
  EXPECT_GT(solo.node->GetReplicaStatus(1)->applied, applied);
}

// A replica change while a round's write is pending waits for it (the change
// must not overlap the round's write nor free a replica the round holds).
TEST(NodeTest, ReplicaChangeSettlesTheRoundInFlight) {
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("a", "1"), 1).ok());
  LogWriteTask write;
  ASSERT_TRUE(solo.node->StartRound([&write](LogWriteTask w) { write = std::move(w); }).ok());
  ASSERT_TRUE(write);
  std::thread sync_thread([&write] { write(); });  // as the runtime's sync thread
  ASSERT_TRUE(solo.node->RemoveReplica(1).ok());
  sync_thread.join();
  EXPECT_FALSE(solo.node->RoundInFlight());
  std::vector<Completion> done = solo.node->TakeCompletions();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].status.ok());
  EXPECT_FALSE(solo.node->HasReplica(1));
}

// Counts the MVCC versions in the engine of `shard` under env (its node must be down).
size_t VersionsOnDisk(storage::Env* env, ShardId shard) {
  auto sm = ShardStateMachine::Open(env, "/node", shard);
  EXPECT_TRUE(sm.ok()) << sm.status().ToString();
  if (!sm.ok()) return 0;
  size_t n = 0;
  std::unique_ptr<storage::Iterator> it = (*sm)->db()->NewIterator(storage::ReadOptions());
  for (it->Seek(std::string(1, '\x02')); it->Valid(); it->Next()) n++;
  return n;
}

TEST(NodeGcTest, LeaderCollectsOldVersionsOnEveryReplicaThroughTheLog) {
  // 1 ms per tick: a 50-tick TTL, a pass every 20 ticks, 3 versions per step.
  Cluster c(3, 10000, [](NodeOptions& o) {
    o.gc_ttl_us = 50'000;
    o.gc_interval_ticks = 20;
    o.gc_versions_per_step = 3;
  });
  c.CreateShard(1, {1, 2, 3});
  for (int v = 0; v < 6; v++) {
    for (int k = 0; k < 5; k++) {
      ASSERT_TRUE(c.Put(1, "key" + std::to_string(k), "v" + std::to_string(v)).ok());
    }
  }
  ASSERT_TRUE(c.Write(1, ShardCommand::Delete("key4")).ok());
  auto latest = c.Read(1, 1, "key0");
  ASSERT_TRUE(latest.ok());
  const Timestamp last_write = latest->ts;
  // Nothing is collected while the versions are younger than the TTL.
  c.Tick(30);
  EXPECT_TRUE(c.node(1)->LocalRead(1, "key0", last_write).ok());
  c.Tick(150);
  const NodeId leader = c.Leader(1);
  ASSERT_NE(leader, raft::kNoNode);
  EXPECT_GT(c.node(leader)->gc_proposals(), 1u);
  for (NodeId id = 1; id <= 3; id++) {
    auto st = c.node(id)->GetReplicaStatus(1);
    ASSERT_TRUE(st.ok());
    EXPECT_GT(st->gc_safe_point, last_write) << id;
    EXPECT_LE(st->gc_safe_point.wall_time_us, c.clock_.now_us - 50'000) << id;
    // The latest versions are untouched; the history below the point is refused.
    for (int k = 0; k < 4; k++) EXPECT_EQ(ValueOf(c.Read(id, 1, "key" + std::to_string(k))), "v5");
    EXPECT_EQ(ValueOf(c.Read(id, 1, "key4")), "<none>");
    EXPECT_TRUE(c.node(id)->LocalRead(1, "key0", last_write).status().IsInvalidArgument());
  }
  // One version per live key on every replica: the 4 latest puts.
  for (NodeId id = 1; id <= 3; id++) c.nodes_[id].reset();
  for (NodeId id = 1; id <= 3; id++) EXPECT_EQ(VersionsOnDisk(c.envs_[id].get(), 1), 4u) << id;
}

TEST(NodeGcTest, APendingReadAtATimestampHoldsTheSafePointBelowIt) {
  Cluster c(3, 10000, [](NodeOptions& o) {
    o.gc_ttl_us = 1'000'000;
    o.gc_interval_ticks = 1;
  });
  c.CreateShard(1, {1, 2, 3});
  ASSERT_TRUE(c.Put(1, "k", "old").ok());
  auto old = c.Read(1, 1, "k");
  ASSERT_TRUE(old.ok());
  c.Tick(5);
  ASSERT_TRUE(c.Put(1, "k", "new").ok());
  c.clock_.now_us += 2'000'000;  // "old" is now older than the TTL
  const NodeId leader = c.Leader(1);
  ASSERT_NE(leader, raft::kNoNode);
  // A read at old's timestamp is pending when the leader's next pass starts.
  const uint64_t proposals = c.node(leader)->gc_proposals();
  ASSERT_TRUE(c.node(leader)->Read(1, "k", 7000, old->ts).ok());
  c.node(leader)->Tick();
  EXPECT_EQ(c.node(leader)->gc_proposals(), proposals + 1);
  c.Pump();
  ASSERT_TRUE(c.completions_.count(7000));
  ASSERT_TRUE(c.completions_[7000].status.ok()) << c.completions_[7000].status.ToString();
  EXPECT_EQ(c.completions_[7000].value, "old");
  auto st = c.node(leader)->GetReplicaStatus(1);
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->gc_safe_point, old->ts);
  // Once the read is done, the next pass moves on and "old" is collected.
  c.Tick(3);
  EXPECT_TRUE(c.node(leader)->LocalRead(1, "k", old->ts).status().IsInvalidArgument());
  EXPECT_EQ(ValueOf(c.Read(leader, 1, "k")), "new");
}

TEST(NodeRecoveryTest, ShardEngineAheadOfRaftEngineFinishesTheSnapshotInstall) {
  // A follower restores a snapshot into its shard engine (durable) and
  // crashes before the raft engine records it. On restart the node completes
  // the install from the shard engine's applied state.
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("a", "1"), 1).ok());
  solo.Drain();
  ASSERT_TRUE(solo.completions[1].status.ok());
  const uint64_t applied = solo.node->GetReplicaStatus(1)->applied;
  solo.node.reset();
  {
    auto sm = ShardStateMachine::Open(&solo.env, "/node", 1);
    ASSERT_TRUE(sm.ok());
    const uint64_t term = (*sm)->applied().term;
    std::vector<raft::Entry> ents;
    for (uint64_t i = 1; i <= 3; i++) {
      ents.push_back({term, applied + i, raft::EntryType::kNormal,
                      EncodeShardCommand(ShardCommand::Put("b" + std::to_string(i), "x"))});
    }
    ASSERT_TRUE((*sm)->Apply(ents).ok());
    ASSERT_TRUE((*sm)->Sync().ok());
  }
  solo.Open();
  auto st = solo.node->GetReplicaStatus(1);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->applied, applied + 3);
  EXPECT_EQ(st->first_index, applied + 4);
  EXPECT_EQ(st->commit, applied + 3);
  EXPECT_TRUE(solo.node->LocalRead(1, "b3")->found);
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("c", "1"), 2).ok());
  solo.Drain();
  ASSERT_TRUE(solo.completions.count(2));
  EXPECT_TRUE(solo.completions[2].status.ok());
  EXPECT_EQ(solo.completions[2].index, applied + 5);  // + the new leader's no-op
}

TEST(NodeRecoveryTest, LostCommitIndexIsRaisedToTheAppliedIndexKeepingTheLog) {
  // Commit-only hard state changes are written without fsync; the kv engine
  // may still have made its applied index durable. The log must be kept.
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  for (uint64_t t = 1; t <= 3; t++) {
    ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("k" + std::to_string(t), "v"), t).ok());
    solo.Drain();
  }
  const ReplicaStatus before = *solo.node->GetReplicaStatus(1);
  solo.node.reset();
  {
    auto store = RaftLogStore::Open(&solo.env, "/node/raft");
    ASSERT_TRUE(store.ok());
    raft::HardState hs = (*store)->Find(1)->hard_state();
    hs.commit = 2;
    (*store)->SetHardState(1, hs);
    ASSERT_TRUE((*store)->Commit(true).ok());
  }
  solo.Open();
  const ReplicaStatus after = *solo.node->GetReplicaStatus(1);
  EXPECT_EQ(after.applied, before.applied);
  EXPECT_EQ(after.commit, before.applied);
  EXPECT_EQ(after.first_index, before.first_index);
  EXPECT_EQ(after.last_index, before.last_index);
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("k4", "v"), 4).ok());
  solo.Drain();
  EXPECT_TRUE(solo.completions[4].status.ok());
  EXPECT_TRUE(solo.node->LocalRead(1, "k1")->found);
}

TEST(NodeRecoveryTest, AFailedDiskWriteStopsTheNodeUntilItRestarts) {
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("a", "1"), 1).ok());
  solo.Drain();
  solo.env.SetWriteErrors(true);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("b", "2"), 2).ok());
  auto round = solo.node->ProcessReady();
  EXPECT_FALSE(round.ok());
  // Fail-stop: everything is refused afterwards, nothing is acknowledged.
  EXPECT_FALSE(solo.node->Propose(1, ShardCommand::Put("c", "3"), 3).ok());
  EXPECT_FALSE(solo.node->ProcessReady().ok());
  EXPECT_FALSE(solo.completions.count(2));
  solo.env.SetWriteErrors(false);
  solo.env.Crash();
  solo.Open();
  solo.Drain();  // the unsynced apply was lost: the log replays it
  EXPECT_TRUE(solo.node->LocalRead(1, "a")->found);
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("d", "4"), 4).ok());
  solo.Drain();
  EXPECT_TRUE(solo.completions[4].status.ok());
}

TEST(NodeRecoveryTest, CommitTimestampsComeFromTheHlcAndPeersAdvanceIt) {
  SoloNode solo;
  ASSERT_TRUE(solo.node->CreateReplica(1, {1}).ok());
  solo.Lead(1);
  ASSERT_TRUE(solo.node->Propose(1, ShardCommand::Put("k", "v"), 1).ok());
  ASSERT_TRUE(solo.node->Read(1, "k", 2).ok());
  solo.Drain();
  ASSERT_TRUE(solo.completions.count(2));
  const Timestamp written = solo.completions[2].ts;
  EXPECT_GE(written.wall_time_us, solo.clock.now_us);

  // A peer slightly ahead moves our clock; one beyond the max offset is refused.
  MessageBatch ahead;
  ahead.from = 2;
  ahead.to = 1;
  ahead.hlc = Timestamp{solo.clock.now_us + 1000, 5};
  solo.node->Receive(ahead);
  EXPECT_GE(solo.node->hlc().Last(), ahead.hlc);
  MessageBatch broken = ahead;
  broken.hlc = Timestamp{solo.clock.now_us + 3'600'000'000LL, 0};
  solo.node->Receive(broken);
  EXPECT_EQ(solo.node->refused_clock_updates(), 1u);
  EXPECT_LT(solo.node->hlc().Last(), broken.hlc);
  EXPECT_NE(solo.node->last_clock_error().find("node 2"), std::string::npos);
  // Messages for shards not hosted here are dropped and counted.
  MessageBatch stray = ahead;
  stray.messages.push_back(Envelope{9, raft::Message{}});
  solo.node->Receive(stray);
  EXPECT_EQ(solo.node->dropped_messages(), 1u);
}

TEST(NodeRecoveryTest, UnansweredProposalsTimeOut) {
  Cluster c(3);
  c.CreateShard(1, {1, 2, 3});
  const NodeId leader = c.WaitLeader(1);
  c.Isolate(leader);
  ASSERT_TRUE(c.node(leader)->Propose(1, ShardCommand::Put("k", "v"), 42).ok());
  c.Tick(60);  // request_timeout_ticks = 50
  ASSERT_TRUE(c.completions_.count(42));
  EXPECT_TRUE(c.completions_[42].status.IsTimedOut());
  auto st = c.node(leader)->GetReplicaStatus(1);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending_proposals, 0u);
}

// Random writes on three shards over a lossy network (batches lost,
// duplicated, reordered) while nodes crash (losing unsynced writes,
// sometimes with a torn last write), restart and get isolated; log compaction
// is aggressive so restarted nodes catch up by snapshot. At the end every
// acknowledged write must be readable through every node, and every replica
// must hold it. Replay a failure with the seed printed in the trace.
#ifndef DKV_NODE_CHAOS_SEEDS
#define DKV_NODE_CHAOS_SEEDS 4
#define DKV_NODE_CHAOS_STEPS 400
#endif
constexpr uint64_t kChaosSeeds = DKV_NODE_CHAOS_SEEDS;
constexpr int kChaosSteps = DKV_NODE_CHAOS_STEPS;

// The environment overrides the compiled defaults, so a soak
// (scripts/node-chaos-soak.sh) runs many seeds without a rebuild:
// DKV_NODE_CHAOS_FIRST_SEED (default 1), DKV_NODE_CHAOS_SEEDS (how many),
// DKV_NODE_CHAOS_STEPS (steps per seed).
uint64_t ChaosEnv(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}
uint64_t ChaosFirstSeed() { return ChaosEnv("DKV_NODE_CHAOS_FIRST_SEED", 1); }
uint64_t ChaosEndSeed() { return ChaosFirstSeed() + ChaosEnv("DKV_NODE_CHAOS_SEEDS", kChaosSeeds); }
int ChaosSteps() { return static_cast<int>(ChaosEnv("DKV_NODE_CHAOS_STEPS", kChaosSteps)); }
// The one-line command that replays `seed` of `test`.
std::string ChaosReplay(uint64_t seed, const char* test) {
  return "seed " + std::to_string(seed) +
         "; replay: DKV_NODE_CHAOS_FIRST_SEED=" + std::to_string(seed) +
         " DKV_NODE_CHAOS_SEEDS=1 DKV_NODE_CHAOS_STEPS=" + std::to_string(ChaosSteps()) +
         " <build>/src/node/node_test --gtest_filter=NodeChaosTest." + test;
}

// Chaos runs collect old versions all along (a pass every 30 ticks below a
// 20-tick TTL, 8 versions per step), so GC steps interleave with crashes,
// snapshots and lost messages; every check reads the latest versions.
void ChaosGc(NodeOptions& o) {
  o.gc_ttl_us = 20'000;
  o.gc_interval_ticks = 30;
  o.gc_versions_per_step = 8;
}

TEST(NodeChaosTest, AcknowledgedWritesSurviveCrashesAndPartitions) {
  const int chaos_steps = ChaosSteps();
  for (uint64_t seed = ChaosFirstSeed(); seed < ChaosEndSeed(); seed++) {
    SCOPED_TRACE(ChaosReplay(seed, "AcknowledgedWritesSurviveCrashesAndPartitions"));
    Rng rng(seed);
    Cluster c(3, /*compact_log_entries=*/25, ChaosGc);
    Rng net_rng(seed + 100);
    c.lossy_ = &net_rng;
    Rng split_rng(seed + 300);
    if (seed % 2 == 0) c.split_ = &split_rng;  // the runtime's split rounds
    for (ShardId s = 1; s <= 3; s++) c.CreateShard(s, {1, 2, 3});
    std::map<uint64_t, ShardId> proposed;  // token -> shard
    uint64_t token = 1000;
    NodeId down = raft::kNoNode;
    for (int step = 0; step < chaos_steps; step++) {
      const uint64_t dice = rng.Uniform(100);
      if (dice < 60) {
        const ShardId shard = 1 + rng.Uniform(3);
        for (NodeId id = 1; id <= 3; id++) {
          if (!c.up(id)) continue;
          auto st = c.node(id)->GetReplicaStatus(shard);
          if (!st.ok() || st->role != raft::Role::kLeader) continue;
          const uint64_t t = token++;
          if (c.node(id)
                  ->Propose(shard, ShardCommand::Put("k" + std::to_string(t), std::to_string(t)), t)
                  .ok()) {
            proposed[t] = shard;
          }
          break;
        }
      } else if (dice < 64 && down == raft::kNoNode) {
        down = 1 + rng.Uniform(3);
        c.envs_[down]->SetTornWrites(rng.Uniform(2) == 0, seed * 1000 + step);
        c.Crash(down);
      } else if (dice < 70 && down != raft::kNoNode) {
        c.envs_[down]->SetTornWrites(false, 0);
        c.Start(down);
        down = raft::kNoNode;
      } else if (dice < 72 && c.isolated_.empty()) {
        c.Isolate(1 + rng.Uniform(3));
      } else if (dice < 76) {
        c.Heal();
      }
      c.Tick();
    }
    c.Heal();
    c.lossy_ = nullptr;
    c.split_ = nullptr;
    if (down != raft::kNoNode) c.Start(down);
    c.Tick(100);
    size_t acked = 0;
    for (const auto& [t, shard] : proposed) {
      auto it = c.completions_.find(t);
      if (it == c.completions_.end() || !it->second.status.ok()) continue;
      acked++;
      const std::string key = "k" + std::to_string(t);
      EXPECT_EQ(ValueOf(c.Read(1 + t % 3, shard, key)), std::to_string(t)) << key;
      for (NodeId id = 1; id <= 3; id++) {
        auto r = c.node(id)->LocalRead(shard, key);
        ASSERT_TRUE(r.ok());
        EXPECT_TRUE(r->found) << key << " missing on node " << id;
      }
    }
    EXPECT_GT(acked, 50u);
    for (ShardId s = 1; s <= 3; s++) {
      const uint64_t applied = c.node(1)->GetReplicaStatus(s)->applied;
      for (NodeId id = 2; id <= 3; id++) {
        EXPECT_EQ(c.node(id)->GetReplicaStatus(s)->applied, applied) << "shard " << s;
      }
      // GC passes ran through all of it.
      EXPECT_GT(c.node(1)->GetReplicaStatus(s)->gc_safe_point, Timestamp{}) << "shard " << s;
    }
  }
}

// Concurrent puts and reads of a few keys per shard, through random nodes,
// over a lossy network while nodes crash, restart and get isolated; the history (an operation
// without an answer may have happened at any later time, or never) must be
// linearizable per key (src/check).
TEST(NodeChaosTest, HistoryOfPutsAndReadsIsLinearizable) {
  const int chaos_steps = ChaosSteps();
  for (uint64_t seed = ChaosFirstSeed(); seed < ChaosEndSeed(); seed++) {
    SCOPED_TRACE(ChaosReplay(seed, "HistoryOfPutsAndReadsIsLinearizable"));
    Rng rng(seed * 7919);
    Cluster c(3, /*compact_log_entries=*/25, ChaosGc);
    Rng net_rng(seed + 200);
    c.lossy_ = &net_rng;
    Rng split_rng(seed + 400);
    if (seed % 2 == 0) c.split_ = &split_rng;  // the runtime's split rounds
    for (ShardId s = 1; s <= 2; s++) c.CreateShard(s, {1, 2, 3});
    struct Pending {
      check::Operation op;
      bool is_put;
    };
    std::map<uint64_t, Pending> ops;  // by token
    uint64_t token = 1;
    NodeId down = raft::kNoNode;
    for (int step = 0; step < chaos_steps; step++) {
      // A few client requests per tick, so they overlap.
      for (int k = 0, n = static_cast<int>(rng.Uniform(4)); k < n; k++) {
        const ShardId shard = 1 + rng.Uniform(2);
        const std::string key =
            "s" + std::to_string(shard) + "/" + std::string(1, 'a' + rng.Uniform(3));
        const NodeId via = 1 + rng.Uniform(3);
        if (!c.up(via)) continue;
        const uint64_t t = token++;
        const int64_t invoked = c.event_++;
        if (rng.Uniform(2) == 0) {
          const std::string value = "v" + std::to_string(t);
          if (c.node(via)->Propose(shard, ShardCommand::Put(key, value), t).ok()) {
            ops[t] = {check::Operation::Put(via, key, value, invoked, check::kUnknownCompletion),
                      true};
          }
        } else if (c.node(via)->Read(shard, key, t).ok()) {
          ops[t] = {
              check::Operation::Get(via, key, std::nullopt, invoked, check::kUnknownCompletion),
              false};
        }
      }
      const uint64_t dice = rng.Uniform(100);
      if (dice < 3 && down == raft::kNoNode) {
        down = 1 + rng.Uniform(3);
        c.Crash(down);
      } else if (dice < 8 && down != raft::kNoNode) {
        c.Start(down);
        down = raft::kNoNode;
      } else if (dice < 10 && c.isolated_.empty()) {
        c.Isolate(1 + rng.Uniform(3));
      } else if (dice < 14) {
        c.Heal();
      }
      c.Tick();
    }
    c.Heal();
    c.lossy_ = nullptr;
    c.split_ = nullptr;
    if (down != raft::kNoNode) c.Start(down);
    c.Tick(100);
    check::History history;
    size_t answered = 0;
    for (auto& [t, p] : ops) {
      auto it = c.completions_.find(t);
      if (it != c.completions_.end()) {
        const Completion& done = it->second;
        if (done.status.IsAborted()) continue;         // certainly never applied
        if (!p.is_put && !done.status.ok()) continue;  // a failed read has no effect
        if (done.status.ok()) {
          p.op.complete_us = c.completed_at_[t];
          if (!p.is_put && done.found) p.op.output = done.value;
          answered++;
        }
      }
      if (!p.is_put && p.op.unknown()) continue;  // an unanswered read says nothing
      history.push_back(p.op);
    }
    EXPECT_GT(answered, 100u);
    check::CheckResult result = check::CheckLinearizable(history);
    EXPECT_EQ(result.verdict, check::Verdict::kOk) << result.explanation;
  }
}

}  // namespace
}  // namespace dkv::node
