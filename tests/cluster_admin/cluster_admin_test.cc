// Black-box tests of the admin commands of a cluster (issue #5): leadership
// transfer, adding a replica on a fourth node and removing one while a client
// keeps writing, replacing a node's wiped disk by the documented procedure
// (start with --join, remove + add: it catches up by snapshot), and the
// errors of bad arguments. Real distkv-server processes on loopback; every
// acknowledged write is read back. Waits are generous upper bounds, never
// assertions of speed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
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

// The fields of `line` ("k=v k=v ...").
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

// Node `via`'s replica of `shard` as DKV.STATUS reports it (empty: none).
Fields ReplicaOn(ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  Client c = cluster.ClientFor(via);
  testing::Reply r = c.Call({"DKV.STATUS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return {};
  for (size_t i = 0; i < r->elements; i++) {
    Fields f = ParseFields(std::string(r->element[i]->str, r->element[i]->len));
    if (f["shard"] == std::to_string(shard)) return f;
  }
  return {};
}

// `shard`'s line of DKV.SHARDS through `via` (empty if missing).
Fields ShardView(ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  Client c = cluster.ClientFor(via);
  testing::Reply r = c.Call({"DKV.SHARDS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return {};
  for (size_t i = 0; i < r->elements; i++) {
    Fields f = ParseFields(std::string(r->element[i]->str, r->element[i]->len));
    if (f["shard"] == std::to_string(shard)) return f;
  }
  return {};
}

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds budget = std::chrono::seconds(15)) {
  const auto deadline = Clock::now() + budget;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// Keys that hash to `shard`.
std::vector<std::string> KeysOfShard(const cluster::ClusterConfig& config, uint64_t shard,
                                     size_t count, const std::string& prefix) {
  auto map = config.InitialShardMap();
  const auto ring = map.value().BuildRing();
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < count && i < 1000000; i++) {
    std::string k = prefix + std::to_string(i);
    if (ring.ShardFor(k).value() == shard) keys.push_back(std::move(k));
  }
  return keys;
}

// The leader of `shard` as DKV.SHARDS through `via` sees it, once there is one.
uint64_t WaitLeader(ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  uint64_t leader = 0;
  WaitFor([&] {
    Fields f = ShardView(cluster, via, shard);
    leader = f.count("leader") ? std::stoull(f["leader"]) : 0;
    return leader != 0;
  });
  return leader;
}

// A client writing key-<shard>-N = vN in a loop through one node; it keeps
// the keys whose SET was acknowledged and counts the errors.
class Writer {
 public:
  Writer(ClusterHarness& cluster, uint64_t via, std::vector<std::string> keys)
      : keys_(std::move(keys)), thread_([this, &cluster, via] {
          Client c = cluster.ClientFor(via);
          for (size_t i = 0; !stop_ && i < keys_.size(); i++) {
            const std::string got = c.Text({"SET", keys_[i], "v" + std::to_string(i)});
            if (got == "OK") {
              acked_.push_back(i);
            } else {
              errors_.push_back(got);
            }
          }
        }) {}
  // Stops and joins; returns the acknowledged key indexes.
  std::vector<size_t> Stop() {
    stop_ = true;
    thread_.join();
    return acked_;
  }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  std::vector<std::string> keys_;
  std::atomic<bool> stop_{false};
  std::vector<size_t> acked_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

// Every acknowledged key of `w` reads back its value through node `via`.
void ExpectAckedReadable(ClusterHarness& cluster, uint64_t via, const Writer& w,
                         const std::vector<size_t>& acked) {
  Client c = cluster.ClientFor(via);
  size_t bad = 0;
  for (size_t i : acked) {
    const std::string got = c.Text({"GET", w.keys()[i]});
    if (got != "v" + std::to_string(i) && bad++ < 5) {
      ADD_FAILURE() << "node " << via << " GET " << w.keys()[i] << " = " << got;
    }
  }
  EXPECT_EQ(bad, 0u);
}

bool HasShardDir(ClusterHarness& cluster, uint64_t node, uint64_t shard) {
  const std::string dir = cluster.config().NodeDir(node) + "/data";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("shard-" + std::to_string(shard) + "-", 0) == 0 ||
        name == "shard-" + std::to_string(shard) + ".CURRENT")
      return true;
  }
  return false;
}

TEST(ClusterAdminTest, TransferLeaderMovesLeadershipAndWritesGoOn) {
  ClusterHarness cluster(3, 2);
  const uint64_t leader = WaitLeader(cluster, 3, 0);
  ASSERT_NE(leader, 0u);
  const uint64_t target = leader == 1 ? 2 : 1;
  const uint64_t via = 6 - leader - target;  // the third node asks
  Client c = cluster.ClientFor(via);
  const auto t0 = Clock::now();
  EXPECT_EQ(c.Text({"DKV.TRANSFERLEADER", "0", std::to_string(target)}), "OK");
  std::printf(
      "DKV.TRANSFERLEADER took %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
  EXPECT_EQ(ReplicaOn(cluster, target, 0)["role"], "leader");
  EXPECT_TRUE(
      WaitFor([&] { return ReplicaOn(cluster, via, 0)["leader"] == std::to_string(target); }));
  // To the leader itself: nothing to do.
  EXPECT_EQ(c.Text({"DKV.TRANSFERLEADER", "0", std::to_string(target)}), "OK");
  const auto keys = KeysOfShard(cluster.config(), 0, 3, "t");
  for (uint64_t id : cluster.ids()) {
    Client w = cluster.ClientFor(id);
    EXPECT_EQ(w.Text({"SET", keys[id - 1], "x"}), "OK");
  }
  for (uint64_t id : cluster.ids()) EXPECT_EQ(cluster.ClientFor(id).Text({"GET", keys[0]}), "x");
}

TEST(ClusterAdminTest, BadArgumentsGetRedisStyleErrors) {
  ClusterHarness cluster(3, 2);
  ASSERT_NE(WaitLeader(cluster, 1, 0), 0u);
  Client c = cluster.ClientFor(1);
  EXPECT_EQ(c.Text({"DKV.ADDREPLICA", "0"}),
            "ERR wrong number of arguments for 'dkv.addreplica' command");
  EXPECT_EQ(c.Text({"DKV.SHARDS", "x"}), "ERR wrong number of arguments for 'dkv.shards' command");
  EXPECT_EQ(c.Text({"DKV.REMOVEREPLICA", "x", "1"}), "ERR invalid shard 'x': expected 0..1");
  EXPECT_EQ(c.Text({"DKV.TRANSFERLEADER", "2", "1"}), "ERR invalid shard '2': expected 0..1");
  EXPECT_EQ(c.Text({"DKV.ADDREPLICA", "0", "9"}),
            "ERR unknown node '9': not a node id of the cluster config");
  EXPECT_EQ(c.Text({"DKV.ADDREPLICA", "0", "-1"}),
            "ERR unknown node '-1': not a node id of the cluster config");
  EXPECT_EQ(c.Text({"DKV.ADDREPLICA", "0", "2"}), "ERR node 2 is already a voter of shard 0");
  // One voter down: removing another would leave 1 live of 2.
  const uint64_t leader = WaitLeader(cluster, 1, 1);
  const uint64_t down = leader == 3 ? 2 : 3;
  const uint64_t other = 6 - leader - down;
  cluster.Signal(down, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // > election timeout
  Client via = cluster.ClientFor(leader);
  const std::string refused = via.Text({"DKV.REMOVEREPLICA", "1", std::to_string(other)});
  EXPECT_NE(refused.find("fewer than a quorum; refusing"), std::string::npos) << refused;
  EXPECT_EQ(ReplicaOn(cluster, other, 1)["voters"], "1,2,3");
  // A shard with a single voter cannot lose it.
  EXPECT_EQ(via.Text({"DKV.REMOVEREPLICA", "1", std::to_string(down)}), "OK");
  EXPECT_EQ(via.Text({"DKV.REMOVEREPLICA", "1", std::to_string(down)}),
            "ERR node " + std::to_string(down) + " is not a replica of shard 1");
  EXPECT_EQ(via.Text({"DKV.REMOVEREPLICA", "1", std::to_string(other)}), "OK");
  EXPECT_EQ(via.Text({"DKV.REMOVEREPLICA", "1", std::to_string(leader)}),
            "ERR node " + std::to_string(leader) +
                " is the last voter of shard 1; refusing to remove it");
  EXPECT_EQ(via.Text({"DKV.TRANSFERLEADER", "1", std::to_string(other)}),
            "ERR node " + std::to_string(other) + " is not a voter of shard 1");
}

TEST(ClusterAdminTest, AddReplicaOnAFourthNodeUnderWritesServesEveryAckedWrite) {
  ClusterHarness cluster(4, 4);
  const auto placement = cluster.config().InitialPlacement();
  uint64_t shard = 0;
  while (std::find(placement[shard].begin(), placement[shard].end(), 4u) != placement[shard].end())
    shard++;
  ASSERT_NE(WaitLeader(cluster, 1, shard), 0u);
  EXPECT_TRUE(ReplicaOn(cluster, 4, shard).empty());
  Writer w(cluster, 1, KeysOfShard(cluster.config(), shard, 100000, "a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Client c = cluster.ClientFor(2);
  const auto t0 = Clock::now();
  EXPECT_EQ(c.Text({"DKV.ADDREPLICA", std::to_string(shard), "4"}), "OK");
  std::printf(
      "DKV.ADDREPLICA under writes took %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto acked = w.Stop();
  EXPECT_TRUE(w.errors().empty()) << w.errors().front();
  ASSERT_GT(acked.size(), 10u);
  std::printf("acknowledged writes during the add: %zu\n", acked.size());
  Fields mine = ReplicaOn(cluster, 4, shard);
  EXPECT_EQ(mine["voters"].size(), std::string("1,2,3,4").size()) << mine["voters"];
  EXPECT_NE(mine["voters"].find('4'), std::string::npos);
  ExpectAckedReadable(cluster, 4, w, acked);
  EXPECT_EQ(ShardView(cluster, 3, shard)["voters"], mine["voters"]);
  // A restart keeps the gained replica (it is on the node's disk).
  cluster.Signal(4, SIGKILL);
  cluster.Start(4);
  cluster.WaitReady(4);
  EXPECT_TRUE(WaitFor([&] { return ReplicaOn(cluster, 4, shard)["voters"] == mine["voters"]; }));
  ExpectAckedReadable(cluster, 4, w, acked);
}

TEST(ClusterAdminTest, RemoveReplicaUnderWritesDropsItsDataAndTheNodeForwards) {
  ClusterHarness cluster(3, 2);
  const uint64_t shard = 1;
  const uint64_t leader = WaitLeader(cluster, 1, shard);
  ASSERT_NE(leader, 0u);
  const uint64_t victim = leader == 3 ? 2 : 3;
  const uint64_t other = 6 - leader - victim;
  ASSERT_TRUE(HasShardDir(cluster, victim, shard));
  Writer w(cluster, victim, KeysOfShard(cluster.config(), shard, 100000, "r"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Client c = cluster.ClientFor(other);
  EXPECT_EQ(c.Text({"DKV.REMOVEREPLICA", std::to_string(shard), std::to_string(victim)}), "OK");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto acked = w.Stop();
  EXPECT_TRUE(w.errors().empty()) << w.errors().front();
  std::printf("acknowledged writes during the remove: %zu\n", acked.size());
  EXPECT_TRUE(ReplicaOn(cluster, victim, shard).empty());
  EXPECT_FALSE(HasShardDir(cluster, victim, shard));
  const std::string voters =
      std::to_string(std::min(leader, other)) + "," + std::to_string(std::max(leader, other));
  EXPECT_EQ(ReplicaOn(cluster, leader, shard)["voters"], voters);
  ExpectAckedReadable(cluster, victim, w, acked);  // forwarded now
  // Removing the leader: it hands leadership over first.
  EXPECT_EQ(c.Text({"DKV.REMOVEREPLICA", std::to_string(shard), std::to_string(leader)}), "OK");
  EXPECT_EQ(ReplicaOn(cluster, other, shard)["voters"], std::to_string(other));
  EXPECT_TRUE(WaitFor([&] { return ReplicaOn(cluster, leader, shard).empty(); }));
  // A restart does not found the removed replicas again from the placement.
  cluster.Signal(victim, SIGKILL);
  cluster.Start(victim);
  cluster.WaitReady(victim);
  EXPECT_TRUE(ReplicaOn(cluster, victim, shard).empty());
  EXPECT_FALSE(ReplicaOn(cluster, victim, 0).empty());
  ExpectAckedReadable(cluster, victim, w, acked);
}

TEST(ClusterAdminTest, AReplicaRemovedWhileItsNodeWasDownIsDroppedWhenItComesBack) {
  ClusterHarness cluster(3, 2);
  const uint64_t shard = 0;
  const uint64_t leader = WaitLeader(cluster, 1, shard);
  ASSERT_NE(leader, 0u);
  const uint64_t victim = leader == 3 ? 2 : 3;
  const auto keys = KeysOfShard(cluster.config(), shard, 20, "d");
  Client c = cluster.ClientFor(leader);
  // Right after the start the shard's leadership may still move (the
  // preferred leader campaigns) and a forwarded SET can come back "outcome
  // unknown" (a CI run under load, 1 in ~24 here): setting the same value
  // again is idempotent, so retry until acknowledged.
  for (size_t i = 0; i < 10; i++) {
    ASSERT_TRUE(WaitFor([&] { return c.Text({"SET", keys[i], "before"}) == "OK"; })) << keys[i];
  }
  cluster.Signal(victim, SIGKILL);
  // Its ADMIN DROP cannot be delivered; the change is committed anyway.
  EXPECT_EQ(c.Text({"DKV.REMOVEREPLICA", std::to_string(shard), std::to_string(victim)}), "OK");
  for (size_t i = 10; i < 20; i++) {
    ASSERT_TRUE(WaitFor([&] { return c.Text({"SET", keys[i], "after"}) == "OK"; })) << keys[i];
  }
  ASSERT_TRUE(HasShardDir(cluster, victim, shard));
  cluster.Start(victim);
  cluster.WaitReady(victim);
  EXPECT_TRUE(WaitFor([&] { return ReplicaOn(cluster, victim, shard).empty(); }))
      << ReplicaOn(cluster, victim, shard)["voters"];
  EXPECT_FALSE(HasShardDir(cluster, victim, shard));
  EXPECT_NE(cluster.Log(victim).find("no longer lists this node"), std::string::npos);
  EXPECT_FALSE(ReplicaOn(cluster, victim, 1).empty());  // its other shard is untouched
  Client r = cluster.ClientFor(victim);
  for (size_t i = 0; i < 20; i++) {
    EXPECT_EQ(r.Text({"GET", keys[i]}), i < 10 ? "before" : "after") << keys[i];
  }
}

TEST(ClusterAdminTest, EmptyDiskNodeIsRefusedThenReplacedAndCatchesUpBySnapshot) {
  ClusterHarness cluster(3, 1);
  const uint64_t shard = 0;
  ASSERT_NE(WaitLeader(cluster, 1, shard), 0u);
  // More writes than a log keeps (10000 entries), so the log is compacted
  // and a replica that joins empty can only catch up by snapshot.
  const auto keys = KeysOfShard(cluster.config(), shard, 12000, "e");
  Client c = cluster.ClientFor(WaitLeader(cluster, 1, shard));
  for (size_t i = 0; i < keys.size(); i += 500) {
    std::vector<std::vector<std::string>> batch;
    for (size_t j = i; j < std::min(keys.size(), i + 500); j++) {
      batch.push_back({"SET", keys[j], "v" + std::to_string(j)});
    }
    const auto replies = c.Pipeline(batch);
    ASSERT_EQ(replies.size(), batch.size());
    for (size_t k = 0; k < batch.size(); k++) {
      if (Client::Render(replies[k].get()) == "OK") continue;
      // A leader change on a loaded machine can answer "outcome unknown"
      // (or no leader) for a pipelined write; setting the same value again
      // is idempotent, so the fill retries it until it is acknowledged.
      EXPECT_TRUE(WaitFor([&] { return c.Text(batch[k]) == "OK"; })) << batch[k][1];
    }
  }
  const uint64_t leader = WaitLeader(cluster, 1, shard);
  const uint64_t victim = leader == 3 ? 2 : 3;
  ASSERT_TRUE(WaitFor([&] { return ReplicaOn(cluster, leader, shard)["first"] != "1"; }))
      << "the leader's log was not compacted";

  cluster::ClusterConfig existing = cluster.config();
  existing.cluster_state = "existing";
  cluster.RewriteConfig(existing);
  cluster.Signal(victim, SIGKILL);
  std::filesystem::remove_all(cluster.config().NodeDir(victim) + "/data");
  // Without --join the node refuses to found the shard again, and says how.
  cluster.Start(victim);
  EXPECT_TRUE(WaitFor([&] { return !cluster.Running(victim); }));
  EXPECT_NE(cluster.Log(victim).find("start it with --join"), std::string::npos)
      << cluster.Log(victim);
  cluster.Start(victim, {"--join"});
  cluster.WaitReady(victim);
  EXPECT_TRUE(ReplicaOn(cluster, victim, shard).empty());
  EXPECT_NE(WaitLeader(cluster, victim, shard), 0u);  // it hears from its peers
  Client admin = cluster.ClientFor(victim);
  const auto t0 = Clock::now();
  EXPECT_EQ(admin.Text({"DKV.REMOVEREPLICA", "0", std::to_string(victim)}), "OK");
  EXPECT_EQ(admin.Text({"DKV.ADDREPLICA", "0", std::to_string(victim)}), "OK");
  std::printf(
      "remove + add of the wiped node (snapshot of %zu keys) took %lld ms\n", keys.size(),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
  Fields mine = ReplicaOn(cluster, victim, shard);
  EXPECT_EQ(mine["voters"], "1,2,3");
  EXPECT_NE(mine["first"], "1") << "caught up by log, not by snapshot";
  std::printf("replacement replica: applied %s, log from %s (leader's log from %s)\n",
              mine["applied"].c_str(), mine["first"].c_str(),
              ReplicaOn(cluster, leader, shard)["first"].c_str());
  Client r = cluster.ClientFor(victim);
  for (size_t i = 0; i < keys.size(); i += 97) {
    EXPECT_EQ(r.Text({"GET", keys[i]}), "v" + std::to_string(i)) << keys[i];
  }
  // Its restart recovers from its disk (marker written at the --join start).
  cluster.Signal(victim, SIGKILL);
  cluster.Start(victim);
  cluster.WaitReady(victim);
  EXPECT_TRUE(WaitFor([&] { return ReplicaOn(cluster, victim, shard)["voters"] == "1,2,3"; }));
  EXPECT_EQ(r.Text({"GET", keys[5]}), "<conn error>");  // the old connection died with it
  EXPECT_EQ(cluster.ClientFor(victim).Text({"GET", keys[5]}), "v5");
}

}  // namespace
}  // namespace dkv::runtime
