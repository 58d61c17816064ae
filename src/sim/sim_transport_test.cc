// SimTransport: node batches over the simulated network (latency, partitions,
// down nodes), through the same node::Transport interface as the TCP runtime.
#include "sim/sim_transport.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/random.h"
#include "sim/event_loop.h"
#include "sim/network.h"

namespace dkv::sim {
namespace {

node::MessageBatch BatchTo(node::NodeId to, uint64_t shard, uint64_t term) {
  node::MessageBatch b;
  b.to = to;
  node::Envelope e;
  e.shard = shard;
  e.msg.type = raft::MessageType::kMsgHeartbeat;
  e.msg.to = to;
  e.msg.term = term;
  b.messages.push_back(e);
  return b;
}

struct Fixture {
  Fixture() : rng(7), net(&loop, &rng, 3, Link()), hub(&net), t1(&hub, 1), t2(&hub, 2) {
    hub.Attach(2, [this](node::MessageBatch b) { got.push_back({loop.now_us(), std::move(b)}); });
  }
  static LinkOptions Link() {
    LinkOptions link;
    link.latency_us_min = 100;
    link.latency_us_max = 300;
    return link;
  }
  void Drain() {
    while (loop.RunOne()) {
    }
  }
  EventLoop loop;
  Rng rng;
  Network net;
  SimTransportHub hub;
  SimTransport t1, t2;
  std::vector<std::pair<int64_t, node::MessageBatch>> got;
};

TEST(SimTransportTest, BatchArrivesWholeAfterTheLinkLatency) {
  Fixture f;
  f.t1.Send(BatchTo(2, 5, 9));
  f.Drain();
  ASSERT_EQ(f.got.size(), 1u);
  EXPECT_GE(f.got[0].first, 100);
  EXPECT_LE(f.got[0].first, 300);
  const node::MessageBatch& b = f.got[0].second;
  EXPECT_EQ(b.from, 1u);  // filled in by the sender's transport
  EXPECT_EQ(b.to, 2u);
  ASSERT_EQ(b.messages.size(), 1u);
  EXPECT_EQ(b.messages[0].shard, 5u);
  EXPECT_EQ(b.messages[0].msg.term, 9u);
  EXPECT_EQ(f.hub.delivered(), 1u);
}

TEST(SimTransportTest, PartitionDropsAndMakesThePeerUnreachable) {
  Fixture f;
  EXPECT_TRUE(f.t1.Reachable(2));
  f.net.Isolate(2);
  EXPECT_FALSE(f.t1.Reachable(2));
  f.t1.Send(BatchTo(2, 1, 1));
  f.Drain();
  EXPECT_TRUE(f.got.empty());
  f.net.Heal();
  f.t1.Send(BatchTo(2, 1, 2));
  f.Drain();
  ASSERT_EQ(f.got.size(), 1u);
  EXPECT_EQ(f.got[0].second.messages[0].msg.term, 2u);
}

TEST(SimTransportTest, DownNodeGetsNothingAndIsUnreachable) {
  Fixture f;
  f.t1.Send(BatchTo(2, 1, 1));
  f.hub.Detach(2);  // crashes while the batch is in flight
  EXPECT_FALSE(f.t1.Reachable(2));
  f.Drain();
  EXPECT_TRUE(f.got.empty());
  EXPECT_EQ(f.hub.dropped_at_down_node(), 1u);
  EXPECT_FALSE(f.t1.Reachable(3));  // never attached
}

}  // namespace
}  // namespace dkv::sim
