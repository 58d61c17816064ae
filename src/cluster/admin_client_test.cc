// Unit tests of the admin client's parsing of DKV.SHARDS lines (what `distkv
// cluster status` shows) -- the calls themselves run in tests/cluster.
#include "cluster/admin_client.h"

#include <gtest/gtest.h>

namespace dkv::cluster {
namespace {

TEST(AdminClientTest, ParsesAShardLineWithItsReplicas) {
  auto st = ParseShardLine(
      "shard=3 leader=2 term=7 applied=120 voters=1,2,4 learners=3 "
      "replicas=1:follower:119,2:leader:120,3:learner:80,4:follower:120");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->shard, 3u);
  EXPECT_EQ(st->leader, 2u);
  EXPECT_EQ(st->term, 7u);
  EXPECT_EQ(st->applied, 120u);
  EXPECT_EQ(st->voters, (std::vector<NodeId>{1, 2, 4}));
  EXPECT_EQ(st->learners, (std::vector<NodeId>{3}));
  ASSERT_EQ(st->replicas.size(), 4u);
  EXPECT_EQ(st->replicas[2].node, 3u);
  EXPECT_EQ(st->replicas[2].role, "learner");
  EXPECT_EQ(st->replicas[2].applied, 80u);
}

TEST(AdminClientTest, ReadsTheShardMapVersionWhenTheLineHasIt) {
  auto st = ParseShardLine(
      "shard=1 leader=2 term=3 applied=9 voters=1,2 learners= replicas=2:leader:9 map_version=14");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->map_version, 14u);
  EXPECT_EQ(ParseShardLine("shard=1 leader=2").value().map_version, 0u);  // older nodes
  EXPECT_FALSE(ParseShardLine("shard=1 map_version=x").ok());
}

TEST(AdminClientTest, AShardNobodyAnsweredForHasNoLeaderAndNoReplicas) {
  auto st = ParseShardLine("shard=0 leader=0 term=0 applied=0 voters=1,2,3 learners= replicas=");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->leader, 0u);
  EXPECT_TRUE(st->learners.empty());
  EXPECT_TRUE(st->replicas.empty());
}

TEST(AdminClientTest, DamagedLinesAreRefused) {
  EXPECT_FALSE(ParseShardLine("leader=1").ok());  // no shard
  EXPECT_FALSE(ParseShardLine("shard=x").ok());
  EXPECT_FALSE(ParseShardLine("shard=1 voters=1,,2").ok());
  EXPECT_FALSE(ParseShardLine("shard=1 replicas=1:leader").ok());
  EXPECT_FALSE(ParseShardLine("shard=1 garbage").ok());
}

}  // namespace
}  // namespace dkv::cluster
