// Partitions of a real 3-node cluster made with the FaultProxy (issue #5): every
// node reaches every other through a proxied link, so the test can cut one node
// off silently, cut only what one node sends, or slow a node's links down. The
// minority side must answer errors (never a stale or wrong value), the majority
// must keep serving reads and writes, and after healing every replica must hold
// the same data. Waits are generous upper bounds, never assertions of speed.
#include <gtest/gtest.h>

#include <set>

#include "cluster_faults/cluster_faults_util.h"

namespace dkv::faults {
namespace {

constexpr uint32_t kNodes = 3;
constexpr uint32_t kShards = 6;
constexpr size_t kKeysPerShard = 2;

// A cluster whose peer traffic all goes through `proxy` (declared first, so the
// nodes are killed before the proxy stops).
struct ProxiedCluster {
  ProxiedCluster() : cluster(kNodes, kShards, ProxiedOptions(&proxy)) {}
  FaultProxy proxy;
  ClusterHarness cluster;
};

std::vector<std::string> KeysOfEveryShard(const ClusterHarness& cluster) {
  std::vector<std::string> keys;
  for (uint64_t shard = 0; shard < kShards; shard++) {
    for (auto& k : KeysOfShard(cluster, shard, kKeysPerShard, "p-")) keys.push_back(k);
  }
  return keys;
}

// Runs each command through its own connection to `via` at once (the minority
// side's answers take seconds each) and returns the replies in order.
std::vector<runtime::testing::Reply> ConcurrentCalls(
    const ClusterHarness& cluster, uint64_t via,
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<runtime::testing::Reply> replies(commands.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < commands.size(); i++) {
    threads.emplace_back([&, i] {
      Client c = cluster.ClientFor(via);
      replies[i] = c.Call(commands[i]);
    });
  }
  for (auto& t : threads) t.join();
  return replies;
}

// Every node reads `want` for every key (each read retried up to 20 s while
// healing), and every node reports the same applied index for every shard.
void ExpectConverged(const ClusterHarness& cluster,
                     const std::map<std::string, std::string>& want) {
  for (uint64_t id : cluster.ids()) {
    Client c = cluster.ClientFor(id);
    for (const auto& [k, v] : want) EXPECT_EQ(RetryUntil(c, {"GET", k}, v), v) << "node " << id;
  }
  for (uint64_t shard = 0; shard < kShards; shard++) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(20);
    std::set<uint64_t> applied;
    do {
      applied.clear();
      for (uint64_t id : cluster.ids()) applied.insert(ViewOf(cluster, id, shard).applied);
      if (applied.size() == 1 && *applied.begin() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (SteadyClock::now() < deadline);
    EXPECT_EQ(applied.size(), 1u) << "shard " << shard << ": replicas applied different indexes";
  }
}

TEST(ProxyPartitionTest, IsolatedLeaderAnswersErrorsMajorityServesAndAllConvergeAfterHeal) {
  ProxiedCluster pc;
  ClusterHarness& cluster = pc.cluster;
  const auto ids = cluster.ids();
  ASSERT_TRUE(WaitAllShardsWritable(cluster, ids[0]));
  const uint64_t victim = WaitLeaderOf(cluster, ids[0], 0);
  ASSERT_NE(victim, 0u);
  std::vector<uint64_t> majority;
  for (uint64_t id : ids) {
    if (id != victim) majority.push_back(id);
  }

  const auto keys = KeysOfEveryShard(cluster);
  std::map<std::string, std::string> want;
  {
    Client c = cluster.ClientFor(victim);
    for (const auto& k : keys) ASSERT_EQ(c.Text({"SET", k, "before"}), "OK");
  }

  pc.proxy.Isolate(victim);

  // The majority elects leaders for the victim's shards and takes new values.
  {
    Client w = cluster.ClientFor(majority[0]);
    for (const auto& k : keys) {
      ASSERT_EQ(RetryUntil(w, {"SET", k, "during"}, "OK"), "OK") << k;
      want[k] = "during";
    }
    Client r = cluster.ClientFor(majority[1]);
    for (const auto& k : keys) EXPECT_EQ(r.Text({"GET", k}), "during") << k;
  }

  // The isolated node holds "before" for every key: it must answer errors
  // (or nothing), never that stale value, and take no write.
  std::vector<std::vector<std::string>> commands;
  for (uint64_t shard = 0; shard < kShards; shard++) {
    const std::string& k = keys[shard * kKeysPerShard];
    commands.push_back({"GET", k});
    commands.push_back({"SET", k, "minority"});
  }
  const auto replies = ConcurrentCalls(cluster, victim, commands);
  for (size_t i = 0; i < replies.size(); i++) {
    const auto& r = replies[i];
    if (r == nullptr) continue;  // a timeout: an unknown outcome, allowed
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR)
        << commands[i][0] << " " << commands[i][1] << " through the isolated node answered "
        << Client::Render(r.get());
    if (r->type == REDIS_REPLY_ERROR) {
      const std::string text(r->str, r->len);
      EXPECT_EQ(text.rfind("UNAVAILABLE", 0), 0u) << text;
    }
  }

  // The majority still serves while the minority is cut off.
  {
    Client c = cluster.ClientFor(majority[1]);
    for (const auto& k : keys) {
      ASSERT_EQ(c.Text({"SET", k, "during-2"}), "OK") << k;
      want[k] = "during-2";
    }
  }

  pc.proxy.HealAll();
  ExpectConverged(cluster, want);
  const LinkStats cut = pc.proxy.Stats({victim, majority[0]});
  EXPECT_GT(cut.bytes_dropped, 0u);
  // The healed node serves writes again.
  Client back = cluster.ClientFor(victim);
  EXPECT_EQ(RetryUntil(back, {"SET", keys[0], "after"}, "OK"), "OK");
  EXPECT_EQ(cluster.ClientFor(majority[0]).Text({"GET", keys[0]}), "after");
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
