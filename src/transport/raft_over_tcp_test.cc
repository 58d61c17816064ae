// End to end: three Raft replicas (RawNode over MemoryLogStorage) whose messages
// travel through AsioTransport on loopback elect a leader, replicate and commit.
// It checks that every message type Raft produces in a normal run survives the
// codec and the framing, and that the transport's batches are what a runtime can
// hand straight to RawNode::Step. The three cores share one io_context thread.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/log_storage.h"
#include "raft/raw_node.h"
#include "transport/asio_transport.h"
#include "transport/fault_transport.h"

namespace dkv::transport {
namespace {

using namespace std::chrono_literals;
using node::MessageBatch;
using node::NodeId;

constexpr node::ShardId kShard = 7;

struct Replica {
  NodeId id = 0;
  raft::MemoryLogStorage storage;
  std::unique_ptr<raft::RawNode> raft;
  std::unique_ptr<AsioTransport> transport;
  std::unique_ptr<FaultTransport> fault;  // wraps transport; the core sends through it
  std::vector<std::string> applied;       // data of committed normal entries
};

class RaftOverTcpTest : public ::testing::Test {
 protected:
  RaftOverTcpTest() : work_(asio::make_work_guard(io_)), ticker_(io_) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RaftOverTcpTest() override {
    OnCore([this] {
      ticker_.cancel();
      for (auto& [id, r] : replicas_) {
        r->fault->Attach(nullptr);
        r->transport.reset();
      }
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs `fn` on the core thread and waits for it.
  template <typename F>
  auto OnCore(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  // Does a Ready's work in the order raw_node.h gives (no snapshots in this run).
  void Process(Replica* r) {
    while (r->raft->HasReady()) {
      raft::Ready rd = r->raft->GetReady();
      ASSERT_FALSE(rd.snapshot.has_value());
      if (!rd.entries.empty()) {
        ASSERT_TRUE(r->storage.Append(rd.entries).ok());
      }
      if (rd.hard_state) r->storage.SetHardState(*rd.hard_state);
      std::map<NodeId, MessageBatch> out;
      for (const raft::Message& m : rd.messages) {
        MessageBatch& b = out[m.to];
        b.from = r->id;
        b.to = m.to;
        b.messages.push_back({kShard, m});
      }
      for (auto& [to, batch] : out) r->fault->Send(std::move(batch));
      for (const raft::Entry& e : rd.committed_entries) {
        if (e.type == raft::EntryType::kNormal && !e.data.empty()) {
          r->applied.push_back(e.data.ToString());
        }
      }
      r->raft->Advance(rd);
    }
  }

  void Tick() {
    for (auto& [id, r] : replicas_) {
      r->raft->Tick();
      Process(r.get());
    }
    ticker_.expires_after(5ms);
    ticker_.async_wait([this](const asio::error_code& ec) {
      if (!ec) Tick();
    });
  }

  void StartCluster(const std::vector<NodeId>& ids) {
    std::vector<PeerAddress> peers;
    for (NodeId id : ids) {
      asio::ip::tcp::acceptor a(io_, {asio::ip::address_v4::loopback(), 0});
      peers.push_back({id, "127.0.0.1", a.local_endpoint().port()});
    }
    for (NodeId id : ids) {
      auto r = std::make_unique<Replica>();
      r->id = id;
      raft::Config config;
      config.id = id;
      config.peers = ids;
      config.election_tick = 10;
      config.heartbeat_tick = 2;
      config.rng_seed = 1000 + id;
      auto node = raft::RawNode::Create(config, &r->storage);
      ASSERT_TRUE(node.ok()) << node.status().ToString();
      r->raft = std::move(*node);
      replicas_[id] = std::move(r);
    }
    for (const PeerAddress& self : peers) {
      Replica* r = replicas_.at(self.id).get();
      AsioTransportOptions o;
      o.self = self.id;
      o.cluster_id = "raft-over-tcp";
      o.listen_port = self.port;
      o.peers = peers;
      o.backoff_min = 5ms;
      o.backoff_max = 50ms;
      r->fault = std::make_unique<FaultTransport>(&io_, /*seed=*/self.id);
      auto t = AsioTransport::Start(o, &io_, r->fault->WrapIncoming([this, r](MessageBatch batch) {
        EXPECT_EQ(batch.to, r->id);
        for (const node::Envelope& env : batch.messages) {
          EXPECT_EQ(env.shard, kShard);
          EXPECT_TRUE(r->raft->Step(env.msg).ok());
        }
        Process(r);
      }));
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      r->transport = std::move(*t);
      r->fault->Attach(r->transport.get());
    }
    OnCore([this] { Tick(); });
  }

  // The leader's id once every replica of `among` (all if empty) knows one and
  // they agree, else 0.
  NodeId AgreedLeader(std::set<NodeId> among = {}) {
    return OnCore([this, among] {
      NodeId leader = raft::kNoNode;
      for (auto& [id, r] : replicas_) {
        if (!among.empty() && among.count(id) == 0) continue;
        const NodeId l = r->raft->GetBasicStatus().leader_id;
        if (l == raft::kNoNode || (leader != raft::kNoNode && l != leader)) return raft::kNoNode;
        leader = l;
      }
      return leader;
    });
  }

  bool WaitFor(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer ticker_;
  std::thread thread_;
  std::map<NodeId, std::unique_ptr<Replica>> replicas_;
};

TEST_F(RaftOverTcpTest, ThreeReplicasElectALeaderAndCommitInOrder) {
  StartCluster({1, 2, 3});
  NodeId leader = raft::kNoNode;
  ASSERT_TRUE(WaitFor([&] { return (leader = AgreedLeader()) != raft::kNoNode; }));

  std::vector<std::string> want;
  for (int i = 0; i < 200; i++) want.push_back("entry-" + std::to_string(i));
  // Half straight at the leader, half through a follower (forwarded as kMsgProp).
  const NodeId follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(OnCore([&] {
                Replica* l = replicas_.at(leader).get();
                Status s = l->raft->ProposeBatch({want.begin(), want.begin() + 100});
                Process(l);
                return s;
              }).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return OnCore([&] { return replicas_.at(follower)->applied.size() >= 100; }); }));
  ASSERT_TRUE(OnCore([&] {
                Replica* f = replicas_.at(follower).get();
                Status s = f->raft->ProposeBatch({want.begin() + 100, want.end()});
                Process(f);
                return s;
              }).ok());
  ASSERT_TRUE(WaitFor([&] {
    return OnCore([&] {
      for (auto& [id, r] : replicas_) {
        if (r->applied.size() < want.size()) return false;
      }
      return true;
    });
  }));
  OnCore([&] {
    for (auto& [id, r] : replicas_) EXPECT_EQ(r->applied, want) << "replica " << id;
  });
}

TEST_F(RaftOverTcpTest, PartitionedLeaderIsReplacedAndCatchesUpAfterHealing) {
  StartCluster({1, 2, 3});
  NodeId old_leader = raft::kNoNode;
  ASSERT_TRUE(WaitFor([&] { return (old_leader = AgreedLeader()) != raft::kNoNode; }));
  std::set<NodeId> majority = {1, 2, 3};
  majority.erase(old_leader);

  // Cut the leader off from both others, on every node's fault layer.
  OnCore([&] {
    for (auto& [id, r] : replicas_) {
      FaultConfig faults;
      if (id == old_leader) {
        faults.partitioned = majority;
      } else {
        faults.partitioned = {old_leader};
      }
      EXPECT_TRUE(r->fault->SetFaults(faults).ok());
    }
  });
  NodeId new_leader = raft::kNoNode;
  ASSERT_TRUE(WaitFor([&] {
    new_leader = AgreedLeader(majority);
    return new_leader != raft::kNoNode && new_leader != old_leader;
  }));
  std::vector<std::string> want;
  for (int i = 0; i < 50; i++) want.push_back("during-partition-" + std::to_string(i));
  ASSERT_TRUE(OnCore([&] {
                Replica* l = replicas_.at(new_leader).get();
                Status s = l->raft->ProposeBatch(want);
                Process(l);
                return s;
              }).ok());
  auto applied_at_least = [&](const std::set<NodeId>& ids, size_t n) {
    return OnCore([&] {
      for (NodeId id : ids) {
        if (replicas_.at(id)->applied.size() < n) return false;
      }
      return true;
    });
  };
  ASSERT_TRUE(WaitFor([&] { return applied_at_least(majority, want.size()); }));
  EXPECT_TRUE(OnCore([&] { return replicas_.at(old_leader)->applied.empty(); }));

  OnCore([&] {
    for (auto& [id, r] : replicas_) EXPECT_TRUE(r->fault->SetFaults({}).ok());
  });
  ASSERT_TRUE(WaitFor([&] { return applied_at_least({1, 2, 3}, want.size()); }));
  OnCore([&] {
    for (auto& [id, r] : replicas_) EXPECT_EQ(r->applied, want) << "replica " << id;
    // The cut-off leader's heartbeats went nowhere.
    EXPECT_GT(replicas_.at(old_leader)->fault->Stats().dropped_outgoing, 0u);
  });
}

}  // namespace
}  // namespace dkv::transport
