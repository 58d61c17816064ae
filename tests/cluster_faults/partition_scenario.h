// The partition scenarios shared by the proxy and network-namespace tests
// (tests/cluster_faults): helpers that read through every node and wait for
// replicas to converge, and the isolated-leader scenario, which takes the way
// to isolate and heal a node as functions. Tests only; gtest assertions.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <set>

#include "cluster_faults/cluster_faults_util.h"

namespace dkv::faults {

inline constexpr size_t kScenarioKeysPerShard = 2;

inline std::vector<std::string> KeysOfEveryShard(const ClusterHarness& cluster) {
  std::vector<std::string> keys;
  for (uint64_t shard = 0; shard < cluster.config().shards; shard++) {
    for (auto& k : KeysOfShard(cluster, shard, kScenarioKeysPerShard, "p-")) keys.push_back(k);
  }
  return keys;
}

// Runs each command through its own connection to `via` at once (the minority
// side's answers take seconds each) and returns the replies in order.
inline std::vector<runtime::testing::Reply> ConcurrentCalls(
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
inline void ExpectConverged(const ClusterHarness& cluster,
                            const std::map<std::string, std::string>& want) {
  for (uint64_t id : cluster.ids()) {
    Client c = cluster.ClientFor(id);
    for (const auto& [k, v] : want) EXPECT_EQ(RetryUntil(c, {"GET", k}, v), v) << "node " << id;
  }
  for (uint64_t shard = 0; shard < cluster.config().shards; shard++) {
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

// The leader of shard 0 is cut off from both other nodes by `isolate(victim)`.
// The majority elects new leaders and takes new values for keys of every
// shard; the isolated node, which still holds the old values, must answer
// every GET and SET with -UNAVAILABLE (or nothing), never the stale value; the
// majority keeps serving; after `heal()` every node reads the newest values and
// every shard's replicas report the same applied index. Returns the victim
// (0 after a fatal failure).
inline uint64_t IsolatedLeaderScenario(ClusterHarness& cluster,
                                       const std::function<void(uint64_t)>& isolate,
                                       const std::function<void()>& heal) {
  uint64_t result = 0;
  [&] {
    const auto ids = cluster.ids();
    ASSERT_TRUE(WaitAllShardsWritable(cluster, ids[0]));
    const uint64_t victim = WaitLeaderOf(cluster, ids[0], 0);
    ASSERT_NE(victim, 0u);
    std::vector<uint64_t> majority;
    for (uint64_t id : ids) {
      if (id != victim) majority.push_back(id);
    }

    const auto keys = KeysOfEveryShard(cluster);
    // Written only through the isolated node, one per shard (see below).
    std::vector<std::string> probes;
    for (uint64_t shard = 0; shard < cluster.config().shards; shard++) {
      for (auto& k : KeysOfShard(cluster, shard, 1, "probe-minority-")) probes.push_back(k);
    }
    std::map<std::string, std::string> want;
    {
      Client c = cluster.ClientFor(victim);
      for (const auto& k : keys) ASSERT_EQ(c.Text({"SET", k, "before"}), "OK");
      for (const auto& k : probes) ASSERT_EQ(c.Text({"SET", k, "before"}), "OK");
    }

    isolate(victim);

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
    for (uint64_t shard = 0; shard < cluster.config().shards; shard++) {
      commands.push_back({"GET", keys[shard * kScenarioKeysPerShard]});
      commands.push_back({"SET", probes[shard], "minority"});
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
    // A SET refused with "has no leader" was never executed (docs/runtime.md)
    // and must never show; any other error or a timeout leaves its outcome
    // unknown: a forward queued in a TCP buffer across a silent partition may
    // still reach the leader after healing, so "minority" may then appear.
    std::map<std::string, bool> probe_may_apply;
    for (size_t i = 1; i < replies.size(); i += 2) {
      const auto& r = replies[i];
      const std::string text = Client::Render(r.get());
      std::printf("  minority %s %s -> %s\n", commands[i][0].c_str(), commands[i][1].c_str(),
                  text.c_str());
      probe_may_apply[commands[i][1]] = text.find("has no leader") == std::string::npos;
    }

    // The majority still serves while the minority is cut off.
    {
      Client c = cluster.ClientFor(majority[1]);
      for (const auto& k : keys) {
        ASSERT_EQ(c.Text({"SET", k, "during-2"}), "OK") << k;
        want[k] = "during-2";
      }
    }

    heal();
    ExpectConverged(cluster, want);
    for (uint64_t id : cluster.ids()) {
      Client c = cluster.ClientFor(id);
      for (const auto& [k, may_apply] : probe_may_apply) {
        const std::string got = RetryUntil(c, {"GET", k}, "before", std::chrono::seconds(5));
        if (got == "before") continue;
        EXPECT_TRUE(may_apply && got == "minority")
            << k << " reads " << got << " through node " << id;
      }
    }
    // The healed node serves writes again.
    Client back = cluster.ClientFor(victim);
    EXPECT_EQ(RetryUntil(back, {"SET", keys[0], "after"}, "OK"), "OK");
    EXPECT_EQ(cluster.ClientFor(majority[0]).Text({"GET", keys[0]}), "after");
    result = victim;
  }();
  return result;
}

}  // namespace dkv::faults
