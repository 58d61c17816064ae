// Helpers shared by the fault tests of real clusters (tests/cluster_faults):
// waiting for every shard to take writes, reading a shard's leader and applied
// index from DKV.STATUS, finding keys of a given shard, and starting a cluster
// whose peer links all go through a FaultProxy. Free functions over a
// ClusterHarness; tests only, one thread unless a function says otherwise.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cluster_faults/fault_proxy.h"
#include "cluster_runtime/cluster_harness.h"

namespace dkv::faults {

using runtime::testing::Client;
using runtime::testing::ClusterHarness;
using runtime::testing::HarnessOptions;
using SteadyClock = std::chrono::steady_clock;

// Retries `argv` through `c` until the reply is `want` or `budget` passes;
// returns the last reply.
inline std::string RetryUntil(Client& c, const std::vector<std::string>& argv,
                              const std::string& want,
                              std::chrono::milliseconds budget = std::chrono::seconds(20)) {
  const auto deadline = SteadyClock::now() + budget;
  std::string got;
  do {
    got = c.Text(argv);
    if (got == want) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (SteadyClock::now() < deadline);
  return got;
}

// A heap-allocated client of node `id` (Client cannot be moved).
inline std::unique_ptr<Client> NewClient(const ClusterHarness& cluster, uint64_t id) {
  std::string host;
  int port = 0;
  Status s = cluster::SplitHostPort(cluster.config().FindNode(id)->client_addr, &host, &port);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  return std::make_unique<Client>(host, port);
}

// `count` keys with prefix `prefix` that the config's ring puts on `shard`.
inline std::vector<std::string> KeysOfShard(const ClusterHarness& cluster, uint64_t shard,
                                            size_t count, const std::string& prefix) {
  auto map = cluster.config().InitialShardMap();
  if (!map.ok()) return {};
  const auto ring = map.value().BuildRing();
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < count && i < 1'000'000; i++) {
    const std::string k = prefix + std::to_string(i);
    if (ring.ShardFor(k).value() == shard) keys.push_back(k);
  }
  return keys;
}

// One line of node `via`'s DKV.STATUS for a shard: leader and applied index.
struct ShardView {
  bool found = false;
  uint64_t leader = 0;
  uint64_t applied = 0;
};

inline uint64_t FieldOf(const std::string& line, const std::string& name) {
  const size_t at = line.find(" " + name + "=");
  if (at == std::string::npos) return 0;
  return std::stoull(line.substr(at + name.size() + 2));
}

inline ShardView ViewOf(const ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  Client c = cluster.ClientFor(via);
  runtime::testing::Reply r = c.Call({"DKV.STATUS"});
  ShardView view;
  if (!r || r->type != REDIS_REPLY_ARRAY) return view;
  const std::string prefix = "shard=" + std::to_string(shard) + " ";
  for (size_t i = 0; i < r->elements; i++) {
    const std::string line(r->element[i]->str, r->element[i]->len);
    if (line.rfind(prefix, 0) != 0) continue;
    view.found = true;
    view.leader = FieldOf(line, "leader");
    view.applied = FieldOf(line, "applied");
  }
  return view;
}

// The leader of `shard` as `via` sees it, waiting up to 10 s for one; 0 if none.
inline uint64_t WaitLeaderOf(const ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  for (int i = 0; i < 200; i++) {
    const uint64_t leader = ViewOf(cluster, via, shard).leader;
    if (leader != 0) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

// True once a write to every shard succeeded through `via` (20 s per shard).
inline bool WaitAllShardsWritable(const ClusterHarness& cluster, uint64_t via) {
  Client c = cluster.ClientFor(via);
  if (!c.ok()) return false;
  for (uint64_t shard = 0; shard < cluster.config().shards; shard++) {
    const auto keys = KeysOfShard(cluster, shard, 1, "probe-");
    if (keys.empty() || RetryUntil(c, {"SET", keys[0], "x"}, "OK") != "OK") return false;
  }
  return true;
}

inline constexpr const char* kProxyHost = "127.0.0.2";

// Harness options under which node i reaches node j through the proxy's link
// (i, j) (node i's config file lists the link's port as j's peer address).
// REQUIRES: proxy outlives the harness.
inline HarnessOptions ProxiedOptions(FaultProxy* proxy) {
  HarnessOptions o;
  o.node_config = [proxy](uint64_t self, const cluster::ClusterConfig& base) {
    cluster::ClusterConfig c = base;
    for (auto& n : c.nodes) {
      if (n.id == self) continue;
      std::string host;
      int port = 0;
      Status s = cluster::SplitHostPort(n.peer_addr, &host, &port);
      if (!s.ok()) throw std::runtime_error(s.ToString());
      // On 127.0.0.2 (loopback too), so a port the kernel gives the proxy can
      // never be one the config reserved for a node on 127.0.0.1 (they are
      // released until the node binds them).
      auto proxied = proxy->AddLink({self, n.id}, kProxyHost, host, static_cast<uint16_t>(port));
      if (!proxied.ok()) throw std::runtime_error(proxied.status().ToString());
      n.peer_addr = std::string(kProxyHost) + ":" + std::to_string(proxied.value());
    }
    return c;
  };
  return o;
}

}  // namespace dkv::faults
