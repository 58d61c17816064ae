#include "cluster/cluster_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace dkv::cluster {
namespace {

const char* kThreeNodes = R"(
cluster_id = "test"
data_dir = "/tmp/dkv"
shards = 6
replication_factor = 3
vnodes_per_shard = 64
max_clock_offset_ms = 250

[raft]
tick_interval_ms = 50
election_timeout_ms = 500
heartbeat_interval_ms = 50

[[nodes]]
id = 1
client_addr = "127.0.0.1:7001"
peer_addr = "127.0.0.1:7101"
admin_port = 7201

[[nodes]]
id = 2
client_addr = "127.0.0.1:7002"
peer_addr = "127.0.0.1:7102"
admin_port = 7202

[[nodes]]
id = 3
client_addr = "127.0.0.1:7003"
peer_addr = "127.0.0.1:7103"
)";

ClusterConfig ThreeNodes() {
  auto c = ParseClusterConfig(kThreeNodes);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

// Expects parsing to fail with InvalidArgument mentioning `field`.
void ExpectRejected(const std::string& text, const std::string& field) {
  auto c = ParseClusterConfig(text);
  ASSERT_FALSE(c.ok()) << "accepted:\n" << text;
  EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
  EXPECT_NE(c.status().message().find(field), std::string::npos)
      << "message '" << c.status().message() << "' does not name " << field;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

TEST(ClusterConfigTest, ParsesEveryKey) {
  ClusterConfig c = ThreeNodes();
  EXPECT_EQ(c.cluster_id, "test");
  EXPECT_EQ(c.data_dir, "/tmp/dkv");
  EXPECT_EQ(c.shards, 6u);
  EXPECT_EQ(c.replication_factor, 3u);
  EXPECT_EQ(c.vnodes_per_shard, 64u);
  EXPECT_EQ(c.max_clock_offset_ms, 250u);
  EXPECT_EQ(c.tick_interval_ms, 50u);
  EXPECT_EQ(c.election_timeout_ms, 500u);
  EXPECT_EQ(c.heartbeat_interval_ms, 50u);
  EXPECT_EQ(c.ElectionTicks(), 10u);
  EXPECT_EQ(c.HeartbeatTicks(), 1u);
  ASSERT_EQ(c.nodes.size(), 3u);
  EXPECT_EQ(c.nodes[1].id, 2u);
  EXPECT_EQ(c.nodes[1].client_addr, "127.0.0.1:7002");
  EXPECT_EQ(c.nodes[1].peer_addr, "127.0.0.1:7102");
  EXPECT_EQ(c.nodes[1].admin_port, 7202);
  EXPECT_EQ(c.nodes[2].admin_port, 0);  // absent: admin HTTP off
  EXPECT_EQ(c.NodeDir(2), "/tmp/dkv/node-2");
  ASSERT_NE(c.FindNode(3), nullptr);
  EXPECT_EQ(c.FindNode(4), nullptr);
}

TEST(ClusterConfigTest, MissingKeysTakeDefaults) {
  auto c = ParseClusterConfig(R"(
replication_factor = 1
[[nodes]]
id = 1
client_addr = "127.0.0.1:7001"
peer_addr = "127.0.0.1:7101"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->shards, kDefaultShards);
  EXPECT_EQ(c->vnodes_per_shard, sharding::kDefaultVnodesPerShard);
  EXPECT_EQ(c->election_timeout_ms, kDefaultElectionTimeoutMs);
  EXPECT_EQ(c->tick_interval_ms, kDefaultTickIntervalMs);
  EXPECT_EQ(c->heartbeat_interval_ms, kDefaultHeartbeatIntervalMs);
  EXPECT_EQ(c->max_clock_offset_ms, kDefaultMaxClockOffsetMs);
  EXPECT_EQ(c->cluster_id, "distkv");
  EXPECT_EQ(c->cluster_state, "new");
  EXPECT_FALSE(c->IsExisting());
  // The default replication factor 3 exceeds one node, so a lone node says 1.
  EXPECT_FALSE(
      ParseClusterConfig("[[nodes]]\nid = 1\nclient_addr = \"h:1\"\npeer_addr = \"h:2\"\n").ok());
}

TEST(ClusterConfigTest, ClusterStateIsNewOrExisting) {
  ClusterConfig c = ThreeNodes();
  c.cluster_state = "existing";
  auto back = ParseClusterConfig(c.ToToml());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->IsExisting());
  c.cluster_state = "founded";
  auto bad = ParseClusterConfig(c.ToToml());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("cluster_state"), std::string::npos);
}

TEST(ClusterConfigTest, ToTomlRoundTrips) {
  ClusterConfig c = ThreeNodes();
  c.cluster_id = "quote\"and\\backslash";
  auto back = ParseClusterConfig(c.ToToml());
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << c.ToToml();
  EXPECT_EQ(*back, c);
}

TEST(ClusterConfigTest, WriteAndLoadFile) {
  char tmpl[] = "/tmp/dkv-cluster-config-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ClusterConfig c = ThreeNodes();
  ASSERT_TRUE(WriteClusterConfig(c, dir + "/cluster.toml").ok());
  auto back = LoadClusterConfig(dir + "/cluster.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(std::filesystem::exists(dir + "/cluster.toml.tmp"));
  std::filesystem::remove_all(dir);
}

TEST(ClusterConfigTest, RelativeDataDirIsRelativeToTheFile) {
  char tmpl[] = "/tmp/dkv-cluster-config-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ClusterConfig c = ThreeNodes();
  c.data_dir = "./nodes";
  ASSERT_TRUE(WriteClusterConfig(c, dir + "/cluster.toml").ok());
  auto back = LoadClusterConfig(dir + "/cluster.toml");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->data_dir, dir + "/nodes");
  EXPECT_EQ(back->NodeDir(2), dir + "/nodes/node-2");
  std::filesystem::remove_all(dir);
}

TEST(ClusterConfigTest, MissingFileIsIOError) {
  auto c = LoadClusterConfig("/nonexistent/dir/cluster.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsIOError());
}

TEST(ClusterConfigTest, SyntaxErrorNamesTheLine) {
  auto c = ParseClusterConfig("shards = 4\nnodes = [ oops\n", "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument());
  EXPECT_NE(c.status().message().find("bad.toml"), std::string::npos);
  EXPECT_NE(c.status().message().find("line 2"), std::string::npos) << c.status().message();
}

TEST(ClusterConfigTest, RejectsBadFields) {
  const std::string base = kThreeNodes;
  ExpectRejected(Replace(base, "id = 2", "id = 1"), "nodes[1].id: duplicate id 1");
  ExpectRejected(Replace(base, "id = 2", "id = 0"), "nodes[1].id");
  ExpectRejected(Replace(base, "id = 2", "id = \"two\""), "nodes[1].id");
  ExpectRejected(Replace(base, "127.0.0.1:7002", "127.0.0.1:7001"), "nodes[1].client_addr");
  ExpectRejected(Replace(base, "127.0.0.1:7102", "127.0.0.1:7001"), "nodes[1].peer_addr");
  ExpectRejected(Replace(base, "admin_port = 7202", "admin_port = 7002"), "nodes[1].admin_port");
  ExpectRejected(Replace(base, "admin_port = 7202", "admin_port = 70000"), "nodes[1].admin_port");
  ExpectRejected(Replace(base, "127.0.0.1:7002", "127.0.0.1"), "nodes[1].client_addr");
  ExpectRejected(Replace(base, "127.0.0.1:7002", "127.0.0.1:0"), "nodes[1].client_addr");
  ExpectRejected(Replace(base, "127.0.0.1:7002", ":7002"), "nodes[1].client_addr");
  ExpectRejected(Replace(base, "peer_addr = \"127.0.0.1:7103\"", ""), "nodes[2].peer_addr");
  ExpectRejected(Replace(base, "replication_factor = 3", "replication_factor = 4"),
                 "replication_factor");
  ExpectRejected(Replace(base, "replication_factor = 3", "replication_factor = 0"),
                 "replication_factor");
  ExpectRejected(Replace(base, "shards = 6", "shards = 0"), "shards");
  ExpectRejected(Replace(base, "shards = 6", "shards = -3"), "shards");
  ExpectRejected(Replace(base, "shards = 6", "shards = 100000"), "shards");
  ExpectRejected(Replace(base, "vnodes_per_shard = 64", "vnodes_per_shard = 0"),
                 "vnodes_per_shard");
  ExpectRejected(Replace(base, "election_timeout_ms = 500", "election_timeout_ms = 100"),
                 "raft.election_timeout_ms");
  ExpectRejected(Replace(base, "heartbeat_interval_ms = 50", "heartbeat_interval_ms = 500"),
                 "raft.heartbeat_interval_ms");
  ExpectRejected(Replace(base, "tick_interval_ms = 50", "tick_interval_ms = 0"),
                 "raft.tick_interval_ms");
  ExpectRejected(Replace(base, "max_clock_offset_ms = 250", "max_clock_offset_ms = 0"),
                 "max_clock_offset_ms");
  ExpectRejected(Replace(base, "cluster_id = \"test\"", "cluster_id = \"\""), "cluster_id");
  ExpectRejected(Replace(base, "cluster_id = \"test\"", "cluster_id = 5"), "cluster_id");
  ExpectRejected(Replace(base, "shards = 6", "shard = 6"), "shard: unknown key");
  ExpectRejected(Replace(base, "admin_port = 7201", "admin = 7201"), "nodes[0].admin: unknown key");
  ExpectRejected(Replace(base, "tick_interval_ms = 50", "tick_ms = 50"), "raft.tick_ms");
  ExpectRejected("shards = 4\n", "nodes");
  ExpectRejected("nodes = 4\n", "nodes");
}

TEST(ClusterConfigTest, PlacementIsEvenAndDeterministic) {
  for (uint32_t node_count : {1u, 2u, 3u, 5u, 7u}) {
    for (uint32_t shards : {1u, 3u, 8u, 64u}) {
      ClusterConfig c;
      for (uint32_t i = 0; i < node_count; i++) {
        // Ids out of order and sparse: placement must sort them.
        NodeId id = 10 * (node_count - i);
        c.nodes.push_back({id, "127.0.0.1:" + std::to_string(1000 + i),
                           "127.0.0.1:" + std::to_string(2000 + i), 0});
      }
      c.shards = shards;
      c.replication_factor = std::min(3u, node_count);
      ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
      auto placement = c.InitialPlacement();
      EXPECT_EQ(placement, c.InitialPlacement());
      ASSERT_EQ(placement.size(), shards);
      std::map<NodeId, int> replicas, firsts;
      for (const auto& r : placement) {
        ASSERT_EQ(r.size(), c.replication_factor);
        EXPECT_EQ(std::set<NodeId>(r.begin(), r.end()).size(), r.size()) << "distinct";
        for (NodeId n : r) replicas[n]++;
        firsts[r[0]]++;
      }
      auto spread = [&](const std::map<NodeId, int>& m, int total) {
        int lo = total, hi = 0;
        for (NodeId id : c.SortedNodeIds()) {
          auto it = m.find(id);
          int v = it == m.end() ? 0 : it->second;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        return hi - lo;
      };
      EXPECT_LE(spread(replicas, shards * c.replication_factor), 1)
          << node_count << " nodes " << shards << " shards";
      EXPECT_LE(spread(firsts, shards), 1);
    }
  }
}

TEST(ClusterConfigTest, InitialShardMapHoldsThePlacement) {
  ClusterConfig c = ThreeNodes();
  auto map = c.InitialShardMap();
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->vnodes_per_shard(), 64u);
  ASSERT_EQ(map->shards().size(), 6u);
  auto placement = c.InitialPlacement();
  for (uint32_t s = 0; s < 6; s++) {
    const sharding::ShardInfo* info = map->Find(s);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->replicas, placement[s]);
    EXPECT_EQ(info->leader_hint, sharding::kNoNode);
  }
  auto ring = map->BuildRing();
  EXPECT_EQ(ring.Shards().size(), 6u);
  EXPECT_TRUE(ring.ShardFor("user:alice").ok());
}

TEST(ClusterConfigTest, GeneratedLocalConfigIsValidWithDistinctPorts) {
  auto c = GenerateLocalConfig(3, 8, "/tmp/somewhere");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Validate().ok());
  EXPECT_EQ(c->nodes.size(), 3u);
  EXPECT_EQ(c->replication_factor, 3u);
  EXPECT_EQ(c->shards, 8u);
  std::set<int> ports;
  for (const auto& n : c->nodes) {
    std::string host;
    int p1 = 0, p2 = 0;
    ASSERT_TRUE(SplitHostPort(n.client_addr, &host, &p1).ok());
    EXPECT_EQ(host, "127.0.0.1");
    ASSERT_TRUE(SplitHostPort(n.peer_addr, &host, &p2).ok());
    ports.insert({p1, p2, n.admin_port});
  }
  EXPECT_EQ(ports.size(), 9u);
  auto one = GenerateLocalConfig(1, 4, "/tmp/x");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->replication_factor, 1u);
  EXPECT_FALSE(GenerateLocalConfig(0, 4, "/tmp/x").ok());
  EXPECT_FALSE(GenerateLocalConfig(3, 0, "/tmp/x").ok());
}

TEST(ClusterConfigTest, SplitHostPortAcceptsBracketedIpv6) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort("[::1]:7379", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 7379);
  EXPECT_FALSE(SplitHostPort("localhost:abc", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("localhost:7379x", &host, &port).ok());
}

}  // namespace
}  // namespace dkv::cluster
