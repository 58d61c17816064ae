// Partitions of a real 3-node cluster made with the FaultProxy (issue #5): every
// node reaches every other through a proxied link, so the test can cut one node
// off silently, cut only what one node sends, or slow a node's links down. The
// minority side must answer errors (never a stale or wrong value), the majority
// must keep serving reads and writes, and after healing every replica must hold
// the same data. Waits are generous upper bounds, never assertions of speed.
#include <gtest/gtest.h>

#include "cluster_faults/partition_scenario.h"

namespace dkv::faults {
namespace {

constexpr uint32_t kNodes = 3;
constexpr uint32_t kShards = 6;

// A cluster whose peer traffic all goes through `proxy` (declared first, so the
// nodes are killed before the proxy stops).
struct ProxiedCluster {
  ProxiedCluster() : cluster(kNodes, kShards, ProxiedOptions(&proxy)) {}
  FaultProxy proxy;
  ClusterHarness cluster;
};

TEST(ProxyPartitionTest, IsolatedLeaderAnswersErrorsMajorityServesAndAllConvergeAfterHeal) {
  ProxiedCluster pc;
  const uint64_t victim = IsolatedLeaderScenario(
      pc.cluster, [&](uint64_t id) { pc.proxy.Isolate(id); }, [&] { pc.proxy.HealAll(); });
  ASSERT_NE(victim, 0u);
  const uint64_t other = victim == 1 ? 2 : 1;
  EXPECT_GT(pc.proxy.Stats({victim, other}).bytes_dropped, 0u);
}

TEST(ProxyPartitionTest, LeaderThatCanOnlyReceiveIsReplacedAndNeverServesStaleReads) {
  ProxiedCluster pc;
  ClusterHarness& cluster = pc.cluster;
  const auto ids = cluster.ids();
  ASSERT_TRUE(WaitAllShardsWritable(cluster, ids[0]));
  const uint64_t victim = WaitLeaderOf(cluster, ids[0], 0);
  ASSERT_NE(victim, 0u);
  std::vector<uint64_t> others;
  for (uint64_t id : ids) {
    if (id != victim) others.push_back(id);
  }
  const auto keys = KeysOfShard(cluster, 0, 4, "one-way-");
  Client old_side = cluster.ClientFor(victim);
  for (const auto& k : keys) ASSERT_EQ(old_side.Text({"SET", k, "old"}), "OK");

  // Only what the victim sends is lost: it still hears the others.
  for (uint64_t id : others) pc.proxy.Cut({victim, id});

  Client w = cluster.ClientFor(others[0]);
  std::map<std::string, std::string> want;
  for (const auto& k : keys) {
    ASSERT_EQ(RetryUntil(w, {"SET", k, "new"}, "OK"), "OK") << k;
    want[k] = "new";
  }
  EXPECT_NE(WaitLeaderOf(cluster, others[0], 0), victim);
  std::vector<std::vector<std::string>> reads;
  for (const auto& k : keys) reads.push_back({"GET", k});
  const auto replies = ConcurrentCalls(cluster, victim, reads);
  for (size_t i = 0; i < replies.size(); i++) {
    EXPECT_NE(Client::Render(replies[i].get()), "old")
        << "stale read through the one-way cut node, key " << keys[i];
  }

  pc.proxy.HealAll();
  ExpectConverged(cluster, want);
}

TEST(ProxyPartitionTest, DelayedLinksSlowTheClusterButKeepItCorrect) {
  ProxiedCluster pc;
  ClusterHarness& cluster = pc.cluster;
  const auto ids = cluster.ids();
  ASSERT_TRUE(WaitAllShardsWritable(cluster, ids[0]));
  // 100 ms each way on every link of one node: a quarter of the election
  // timeout, so leadership may move but must stay correct.
  for (uint64_t id : ids) {
    if (id == ids[2]) continue;
    pc.proxy.Delay({ids[2], id}, std::chrono::milliseconds(100));
    pc.proxy.Delay({id, ids[2]}, std::chrono::milliseconds(100));
  }
  const auto keys = KeysOfEveryShard(cluster);
  std::map<std::string, std::string> want;
  for (size_t i = 0; i < keys.size(); i++) {
    Client c = cluster.ClientFor(ids[i % ids.size()]);
    const std::string v = "slow-" + std::to_string(i);
    ASSERT_EQ(RetryUntil(c, {"SET", keys[i], v}, "OK"), "OK") << keys[i];
    want[keys[i]] = v;
  }
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    for (const auto& [k, v] : want) EXPECT_EQ(RetryUntil(c, {"GET", k}, v), v) << "node " << id;
  }
  pc.proxy.HealAll();
  ExpectConverged(cluster, want);
}

}  // namespace
}  // namespace dkv::faults
