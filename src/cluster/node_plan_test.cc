#include "cluster/node_plan.h"

#include <gtest/gtest.h>

#include <map>

namespace dkv::cluster {
namespace {

ClusterConfig FiveNodes() {
  ClusterConfig c;
  c.cluster_id = "plan";
  c.data_dir = "/srv/dkv";
  c.shards = 10;
  c.replication_factor = 3;
  c.tick_interval_ms = 50;
  c.election_timeout_ms = 600;
  c.heartbeat_interval_ms = 100;
  c.max_clock_offset_ms = 250;
  for (NodeId id : {5, 1, 3, 2, 4}) {
    c.nodes.push_back({id, "10.0.0." + std::to_string(id) + ":7379",
                       "10.0.0." + std::to_string(id) + ":7380", 0});
  }
  EXPECT_TRUE(c.Validate().ok());
  return c;
}

TEST(NodePlanTest, CarriesAddressesTimingAndDataDir) {
  auto plan = PlanForNode(FiveNodes(), 3);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->cluster_id, "plan");
  EXPECT_EQ(plan->self, 3u);
  EXPECT_EQ(plan->client_host, "10.0.0.3");
  EXPECT_EQ(plan->client_port, 7379);
  EXPECT_EQ(plan->peer_port, 7380);
  EXPECT_EQ(plan->data_dir, "/srv/dkv/node-3/data");
  EXPECT_EQ(plan->election_tick, 12);
  EXPECT_EQ(plan->heartbeat_tick, 2);
  EXPECT_EQ(plan->tick_interval_ms, 50u);
  EXPECT_EQ(plan->max_clock_offset_us, 250'000);
  ASSERT_EQ(plan->peers.size(), 5u);
  for (size_t i = 0; i < 5; i++) EXPECT_EQ(plan->peers[i].id, i + 1) << "ascending ids";
  EXPECT_EQ(plan->peers[4].host, "10.0.0.5");
}

TEST(NodePlanTest, HostedShardsMatchThePlacementOnEveryNode) {
  ClusterConfig c = FiveNodes();
  const auto placement = c.InitialPlacement();
  std::map<ShardId, int> replicas;
  for (NodeId id = 1; id <= 5; id++) {
    auto plan = PlanForNode(c, id);
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->hosted_shards.size(), plan->hosted_shard_voters.size());
    for (size_t i = 0; i < plan->hosted_shards.size(); i++) {
      ShardId s = plan->hosted_shards[i];
      EXPECT_EQ(plan->hosted_shard_voters[i], placement[s]);
      replicas[s]++;
    }
  }
  ASSERT_EQ(replicas.size(), 10u);
  for (const auto& [shard, count] : replicas) EXPECT_EQ(count, 3) << "shard " << shard;
}

TEST(NodePlanTest, EveryNodeKnowsTheSameMetadataVoters) {
  ClusterConfig c = FiveNodes();
  for (NodeId id = 1; id <= 5; id++) {
    auto plan = PlanForNode(c, id);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->metadata_voters, (std::vector<NodeId>{1, 2, 3})) << "node " << id;
  }
}

TEST(NodePlanTest, UnknownNodeIsNotFound) {
  auto plan = PlanForNode(FiveNodes(), 9);
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(plan.status().IsNotFound());
}

}  // namespace
}  // namespace dkv::cluster
