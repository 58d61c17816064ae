// Black-box tests of the replicated shard map (the metadata Raft group,
// docs/sharding.md): it is founded with the config's placement, every node
// learns each new version (members by applying it, the others by asking),
// DKV.ADDREPLICA and DKV.REMOVEREPLICA make new versions that routing
// follows, a node restarted alone recovers the map from its own disk, and a
// membership change made while the metadata group had no quorum reaches the
// map once it is back (the shard leader's housekeeping proposes the fix).
// Real distkv-server processes on loopback; waits are generous upper
// bounds, never assertions of speed.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cluster_runtime/cluster_harness.h"

namespace dkv::runtime {
namespace {

using testing::Client;
using testing::ClusterHarness;
using Clock = std::chrono::steady_clock;
using Fields = std::map<std::string, std::string>;

Fields ParseFields(const std::string& line) {
  Fields f;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    const std::string field = line.substr(pos, end - pos);
    const size_t eq = field.find('=');
    if (eq != std::string::npos) f[field.substr(0, eq)] = field.substr(eq + 1);
    pos = end + 1;
  }
  return f;
}

// DKV.SHARDMAP through `via`: the version (0 if none or no answer) and each
// shard's fields.
struct MapView {
  uint64_t version = 0;
  std::map<std::string, Fields> shards;  // by shard id
};

MapView MapOn(ClusterHarness& cluster, uint64_t via) {
  MapView v;
  Client c = cluster.ClientFor(via);
  testing::Reply r = c.Call({"DKV.SHARDMAP"});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return v;
  Fields head = ParseFields(std::string(r->element[0]->str, r->element[0]->len));
  v.version = head.count("version") ? std::stoull(head["version"]) : 0;
  for (size_t i = 1; i < r->elements; i++) {
    Fields f = ParseFields(std::string(r->element[i]->str, r->element[i]->len));
    v.shards[f["shard"]] = f;
  }
  return v;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds budget = std::chrono::seconds(20)) {
  const auto deadline = Clock::now() + budget;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// Waits until every node in `ids` holds the same map version, every shard
// with a leader hint, and returns that version (0 if it never settled).
uint64_t WaitSettled(ClusterHarness& cluster, const std::vector<uint64_t>& ids) {
  uint64_t version = 0;
  WaitFor([&] {
    MapView first = MapOn(cluster, ids.front());
    if (first.version == 0 || first.shards.size() != cluster.config().shards) return false;
    for (auto& [s, f] : first.shards) {
      if (f["leader"] == "0") return false;
    }
    for (uint64_t id : ids) {
      if (MapOn(cluster, id).version != first.version) return false;
    }
    version = first.version;
    return true;
  });
  return version;
}

std::vector<std::string> KeysOfShard(const cluster::ClusterConfig& config, uint64_t shard,
                                     size_t count, const std::string& prefix) {
  const auto ring = config.InitialShardMap().value().BuildRing();
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < count && i < 1000000; i++) {
    std::string k = prefix + std::to_string(i);
    if (ring.ShardFor(k).value() == shard) keys.push_back(std::move(k));
  }
  return keys;
}

bool Lists(const std::string& ids, uint64_t node) {
  const std::string n = std::to_string(node);
  size_t pos = 0;
  while (pos <= ids.size()) {
    size_t end = ids.find(',', pos);
    if (end == std::string::npos) end = ids.size();
    if (ids.substr(pos, end - pos) == n) return true;
    pos = end + 1;
  }
  return false;
}

TEST(ShardMapTest, FoundedMapFollowsAddAndRemoveOnEveryNodeAndSurvivesARestart) {
  ClusterHarness cluster(4, 4);  // metadata voters: nodes 1, 2, 3; node 4 asks them
  const auto placement = cluster.config().InitialPlacement();
  const uint64_t v0 = WaitSettled(cluster, cluster.ids());
  ASSERT_GE(v0, 1u) << "the map was founded and every node learned it";
  MapView m = MapOn(cluster, 4);
  for (uint64_t s = 0; s < placement.size(); s++) {
    std::string want;
    for (auto id : placement[s]) want += (want.empty() ? "" : ",") + std::to_string(id);
    EXPECT_EQ(m.shards[std::to_string(s)]["replicas"], want) << "shard " << s;
  }
  Client c1 = cluster.ClientFor(1);
  testing::Reply shards = c1.Call({"DKV.SHARDS"});
  ASSERT_TRUE(shards && shards->type == REDIS_REPLY_ARRAY && shards->elements > 0);
  EXPECT_GE(std::stoull(ParseFields(
                std::string(shards->element[0]->str, shards->element[0]->len))["map_version"]),
            v0);

  // Add a replica on node 4 (a node outside the metadata group).
  uint64_t shard = 0;
  while (std::find(placement[shard].begin(), placement[shard].end(), 4u) != placement[shard].end())
    shard++;
  const std::string sid = std::to_string(shard);
  ASSERT_EQ(cluster.ClientFor(2).Text({"DKV.ADDREPLICA", sid, "4"}), "OK");
  const auto added = Clock::now();
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(WaitFor([&] {
      MapView v = MapOn(cluster, id);
      return v.version > v0 && Lists(v.shards[sid]["replicas"], 4);
    })) << "node "
        << id << " has map version " << MapOn(cluster, id).version;
  }
  std::printf(
      "every node held the new map version %lld ms after DKV.ADDREPLICA answered\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - added).count()));
  // Routing follows: a write through node 1 reads back through node 4, which
  // serves it from its own replica now.
  const auto keys = KeysOfShard(cluster.config(), shard, 5, "m");
  for (const auto& k : keys) ASSERT_EQ(c1.Text({"SET", k, "x" + k}), "OK");
  for (const auto& k : keys) EXPECT_EQ(cluster.ClientFor(4).Text({"GET", k}), "x" + k);

  // Remove a founding replica of the same shard: a new version without it.
  const uint64_t gone = placement[shard].back();
  const uint64_t v1 = MapOn(cluster, 1).version;
  ASSERT_EQ(cluster.ClientFor(4).Text({"DKV.REMOVEREPLICA", sid, std::to_string(gone)}), "OK");
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(WaitFor([&] {
      MapView v = MapOn(cluster, id);
      return v.version > v1 && !Lists(v.shards[sid]["replicas"], gone) &&
             Lists(v.shards[sid]["replicas"], 4);
    })) << "node "
        << id;
  }
  for (const auto& k : keys) EXPECT_EQ(cluster.ClientFor(gone).Text({"GET", k}), "x" + k);

  // Every node down; node 1 restarted alone recovers a map from its own
  // metadata replica (no quorum to ask anyone): the newest version its disk
  // knows to be committed, which may be older than the last one (a lone node
  // cannot learn of later commits). Once a quorum is back it has the newest,
  // and node 4 gets it from the members.
  const uint64_t v2 = WaitSettled(cluster, cluster.ids());
  ASSERT_GT(v2, v1);
  for (uint64_t id : cluster.ids()) cluster.Signal(id, SIGKILL);
  cluster.Start(1);
  cluster.WaitReady(1);
  EXPECT_TRUE(WaitFor([&] { return MapOn(cluster, 1).version >= 1; }))
      << "node 1 alone after its restart has no map";
  std::printf("node 1 restarted alone: map version %llu (newest %llu)\n",
              static_cast<unsigned long long>(MapOn(cluster, 1).version),
              static_cast<unsigned long long>(v2));
  for (uint64_t id : {2, 3, 4}) cluster.Start(id);
  for (uint64_t id : {2, 3, 4}) cluster.WaitReady(id);
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(WaitFor([&] {
      MapView v = MapOn(cluster, id);
      return v.version >= v2 && !Lists(v.shards[sid]["replicas"], gone);
    })) << "node "
        << id << ": version " << MapOn(cluster, id).version;
  }
  for (const auto& k : keys) {
    EXPECT_TRUE(WaitFor([&] { return cluster.ClientFor(3).Text({"GET", k}) == "x" + k; })) << k;
  }
}

TEST(ShardMapTest, AChangeMadeWhileTheMetadataGroupWasDownReachesTheMapLater) {
  // Five nodes: the metadata group is nodes 1-3; a shard placed on nodes 4,
  // 5 and one of 1-3 keeps its quorum while nodes 2 and 3 are down.
  ClusterHarness cluster(5, 5);
  const auto placement = cluster.config().InitialPlacement();
  uint64_t shard = placement.size();
  for (uint64_t s = 0; s < placement.size(); s++) {
    const auto& p = placement[s];
    if (std::find(p.begin(), p.end(), 4u) != p.end() &&
        std::find(p.begin(), p.end(), 5u) != p.end()) {
      shard = s;
      break;
    }
  }
  ASSERT_LT(shard, placement.size()) << "no shard on nodes 4 and 5";
  uint64_t third = 0;
  for (auto id : placement[shard]) {
    if (id != 4 && id != 5) third = id;
  }
  const uint64_t v0 = WaitSettled(cluster, cluster.ids());
  ASSERT_GE(v0, 1u);
  std::vector<uint64_t> down;
  for (uint64_t id : {1, 2, 3}) {
    if (id != third && down.size() < 2) down.push_back(id);
  }
  for (uint64_t id : down) cluster.Signal(id, SIGKILL);
  // The membership change succeeds; its map update cannot (no metadata
  // quorum), so the command still answers OK and the map stays behind.
  const std::string sid = std::to_string(shard);
  ASSERT_EQ(cluster.ClientFor(4).Text({"DKV.REMOVEREPLICA", sid, std::to_string(third)}), "OK");
  EXPECT_TRUE(Lists(MapOn(cluster, 4).shards[sid]["replicas"], third));
  for (uint64_t id : down) cluster.Start(id);
  for (uint64_t id : down) cluster.WaitReady(id);
  // The shard's leader sees the map differ from its membership and fixes it.
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(WaitFor([&] {
      MapView v = MapOn(cluster, id);
      return v.version > v0 && !Lists(v.shards[sid]["replicas"], third) &&
             Lists(v.shards[sid]["replicas"], 4) && Lists(v.shards[sid]["replicas"], 5);
    })) << "node "
        << id << ": " << MapOn(cluster, id).shards[sid]["replicas"];
  }
}

}  // namespace
}  // namespace dkv::runtime
