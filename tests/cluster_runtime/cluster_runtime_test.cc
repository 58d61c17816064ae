// Black-box tests of distkv-server in cluster mode (issue #5, src/runtime):
// three real processes host replicated shards on loopback; clients talk to
// any node with hiredis. They check that every node gives the same answers,
// that a kill -9 of a shard leader under a write loop loses no acknowledged
// write and a new leader serves, and that the killed node catches up after a
// restart. Timing bounds are generous upper limits, not assertions of speed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "cluster_runtime/cluster_harness.h"

namespace dkv::runtime {
namespace {

using testing::Client;
using testing::ClusterHarness;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kNodes = 3;
constexpr uint32_t kShards = 6;

// Retries `argv` through `c` until the reply is `want` or `budget` passes;
// returns the last reply. For waiting out elections at startup.
std::string RetryUntil(Client& c, const std::vector<std::string>& argv, const std::string& want,
                       std::chrono::milliseconds budget = std::chrono::seconds(20)) {
  const auto deadline = Clock::now() + budget;
  std::string got;
  do {
    got = c.Text(argv);
    if (got == want) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  return got;
}

// Waits until a write to every shard succeeds through node 1 (all elected).
void WaitAllShardsWritable(ClusterHarness& cluster) {
  Client c = cluster.ClientFor(cluster.ids()[0]);
  ASSERT_TRUE(c.ok());
  auto map = cluster.config().InitialShardMap();
  ASSERT_TRUE(map.ok());
  const auto ring = map.value().BuildRing();
  std::map<uint64_t, std::string> key_of_shard;
  for (int i = 0; key_of_shard.size() < kShards && i < 10000; i++) {
    const std::string k = "probe-" + std::to_string(i);
    key_of_shard.emplace(ring.ShardFor(k).value(), k);
  }
  ASSERT_EQ(key_of_shard.size(), kShards);
  for (const auto& [shard, key] : key_of_shard) {
    ASSERT_EQ(RetryUntil(c, {"SET", key, "x"}, "OK"), "OK") << "shard " << shard;
  }
}

// The leader of `shard` as node `via` reports it in DKV.STATUS (0 if none).
uint64_t LeaderOf(ClusterHarness& cluster, uint64_t via, uint64_t shard) {
  Client c = cluster.ClientFor(via);
  testing::Reply r = c.Call({"DKV.STATUS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return 0;
  const std::string prefix = "shard=" + std::to_string(shard) + " ";
  for (size_t i = 0; i < r->elements; i++) {
    std::string line(r->element[i]->str, r->element[i]->len);
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t at = line.find("leader=");
    return std::stoull(line.substr(at + 7));
  }
  return 0;
}

TEST(ClusterRuntimeTest, WritesThroughEveryNodeAreReadAlikeThroughEveryNode) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  std::vector<std::unique_ptr<Client>> clients;
  for (uint64_t id : ids) {
    const auto& n = *cluster.config().FindNode(id);
    std::string host;
    int port = 0;
    ASSERT_TRUE(cluster::SplitHostPort(n.client_addr, &host, &port).ok());
    clients.push_back(std::make_unique<Client>(host, port));
    ASSERT_TRUE(clients.back()->ok());
  }
  constexpr int kKeys = 60;
  for (int i = 0; i < kKeys; i++) {
    Client& c = *clients[i % clients.size()];
    ASSERT_EQ(c.Text({"SET", "key-" + std::to_string(i), "value-" + std::to_string(i)}), "OK");
  }
  for (auto& c : clients) {
    for (int i = 0; i < kKeys; i++) {
      EXPECT_EQ(c->Text({"GET", "key-" + std::to_string(i)}), "value-" + std::to_string(i));
    }
    EXPECT_EQ(c->Text({"GET", "never-written"}), "(nil)");
  }

  // Multi-key commands are split by shard and merged in the client's order.
  Client& a = *clients[0];
  Client& b = *clients[1];
  Client& c = *clients[2];
  EXPECT_EQ(a.Text({"MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4", "m1", "one"}), "OK");
  EXPECT_EQ(b.Text({"MGET", "m1", "nope", "m2", "m3", "m4"}), "[one,(nil),2,3,4]");
  EXPECT_EQ(c.Text({"EXISTS", "m1", "m2", "nope", "m1"}), "3");
  EXPECT_EQ(c.Text({"DEL", "m1", "m2", "nope"}), "2");
  EXPECT_EQ(a.Text({"MGET", "m1", "m2", "m3"}), "[(nil),(nil),3]");
  EXPECT_EQ(b.Text({"EXISTS", "m1", "m2"}), "0");

  // What cluster mode does not do says so.
  EXPECT_EQ(a.Text({"LPUSH", "k", "v"}),
            "ERR command 'lpush' is not supported in cluster mode yet");
  EXPECT_EQ(a.Text({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(a.Text({"PING"}), "PONG");
  EXPECT_EQ(a.Text({"ECHO", "hi"}), "hi");

  // DKV.STATUS lists every shard replica of the node.
  testing::Reply st = a.Call({"DKV.STATUS"});
  ASSERT_TRUE(st);
  ASSERT_EQ(st->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(st->elements, kShards);  // 3 nodes, replication factor 3
}

TEST(ClusterRuntimeTest, NodesWithoutAReplicaForwardReadsAndWrites) {
  // Four nodes, replication factor 3: every node lacks some shards, so its
  // reads of them are forwarded too (not only writes).
  ClusterHarness cluster(4, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  size_t hosted_everywhere = 0;
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    testing::Reply st = c.Call({"DKV.STATUS"});
    ASSERT_TRUE(st);
    ASSERT_EQ(st->type, REDIS_REPLY_ARRAY);
    hosted_everywhere += st->elements == kShards ? 1 : 0;
  }
  EXPECT_LT(hosted_everywhere, ids.size()) << "some node must lack a replica";
  constexpr int kKeys = 40;
  for (int i = 0; i < kKeys; i++) {
    Client c = cluster.ClientFor(ids[i % ids.size()]);
    ASSERT_EQ(c.Text({"SET", "f-" + std::to_string(i), std::to_string(i)}), "OK");
  }
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    for (int i = 0; i < kKeys; i++) {
      EXPECT_EQ(c.Text({"GET", "f-" + std::to_string(i)}), std::to_string(i)) << "node " << id;
    }
    EXPECT_EQ(c.Text({"EXISTS", "f-1", "f-2", "f-3", "nope"}), "3");
  }
}

TEST(ClusterRuntimeTest, PipelinedRepliesKeepOrderAndProtocolErrorClosesOnlyThatConnection) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto& n = *cluster.config().FindNode(cluster.ids()[1]);
  std::string host;
  int port = 0;
  ASSERT_TRUE(cluster::SplitHostPort(n.client_addr, &host, &port).ok());
  auto connect = [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  };
  auto read_n = [](int fd, size_t n) {
    std::string out;
    char buf[4096];
    while (out.size() < n) {
      ssize_t r = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  };
  const int good = connect();
  const int bad = connect();
  // Shard commands answer asynchronously, PING at once: order must hold.
  const std::string batch = "SET p1 a\r\nPING\r\nGET p1\r\nSET p2 b\r\nECHO e\r\nMGET p1 p2\r\n";
  ASSERT_EQ(::send(good, batch.data(), batch.size(), 0), static_cast<ssize_t>(batch.size()));
  const std::string want =
      "+OK\r\n+PONG\r\n$1\r\na\r\n+OK\r\n$1\r\ne\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n";
  EXPECT_EQ(read_n(good, want.size()), want);

  const std::string garbage = "*1\r\n$x\r\n";
  ASSERT_EQ(::send(bad, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
  std::string got;
  char buf[256];
  ssize_t r;
  while ((r = ::recv(bad, buf, sizeof(buf), 0)) > 0) got.append(buf, static_cast<size_t>(r));
  EXPECT_EQ(r, 0) << "the server closes the connection after a protocol error";
  EXPECT_EQ(got.rfind("-ERR Protocol error", 0), 0u) << got;

  const std::string ping = "PING\r\n";
  ASSERT_EQ(::send(good, ping.data(), ping.size(), 0), 6);
  EXPECT_EQ(read_n(good, 7), "+PONG\r\n");
  ::close(good);
  ::close(bad);
}

TEST(ClusterRuntimeTest, KilledLeaderIsReplacedAndNoAcknowledgedWriteIsLost) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  auto map = cluster.config().InitialShardMap();
  ASSERT_TRUE(map.ok());
  const auto ring = map.value().BuildRing();

  // The victim leads shard 0 (as node 1 sees it); the writer talks to another node.
  uint64_t victim = 0;
  for (int i = 0; i < 100 && victim == 0; i++) {
    victim = LeaderOf(cluster, ids[0], 0);
    if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(victim, 0u);
  const uint64_t via = victim == ids[0] ? ids[1] : ids[0];
  Client writer = cluster.ClientFor(via);
  ASSERT_TRUE(writer.ok());

  // Keys of shard 0 only, each written once with a unique value.
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 400 && i < 100000; i++) {
    const std::string k = "w-" + std::to_string(i);
    if (ring.ShardFor(k).value() == 0) keys.push_back(k);
  }
  ASSERT_EQ(keys.size(), 400u);
  std::map<std::string, std::string> acked;
  size_t next = 0;
  auto write_one = [&]() -> bool {
    const std::string& k = keys[next];
    const std::string v = "v-" + k;
    next++;
    const std::string got = writer.Text({"SET", k, v});
    if (got == "OK") acked[k] = v;
    return got == "OK";
  };
  for (int i = 0; i < 100; i++) ASSERT_TRUE(write_one());

  cluster.Signal(victim, SIGKILL);
  // Keep writing: some fail (UNAVAILABLE, outcome unknown) until a new
  // leader serves; bounded by the number of keys and a generous deadline.
  const auto killed_at = Clock::now();
  bool served = false;
  while (next < keys.size() && Clock::now() - killed_at < std::chrono::seconds(20)) {
    if (write_one()) {
      served = true;
      break;
    }
  }
  ASSERT_TRUE(served) << "no write succeeded after the leader was killed";
  const auto failover_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count();
  std::printf("first successful write %lld ms after kill -9 of leader node %llu\n",
              static_cast<long long>(failover_ms), static_cast<unsigned long long>(victim));
  for (int i = 0; i < 100 && next < keys.size(); i++) write_one();
  const uint64_t new_leader = LeaderOf(cluster, via, 0);
  EXPECT_NE(new_leader, victim);

  // Every acknowledged write is readable through every surviving node.
  for (uint64_t id : ids) {
    if (id == victim) continue;
    Client r = cluster.ClientFor(id);
    for (const auto& [k, v] : acked) ASSERT_EQ(r.Text({"GET", k}), v) << "node " << id;
  }

  // The killed node restarts from its disk and catches up: reads through it
  // are linearizable (ReadIndex), so they wait until it applied them.
  cluster.Start(victim);
  cluster.WaitReady(victim);
  Client back = cluster.ClientFor(victim);
  for (const auto& [k, v] : acked) {
    ASSERT_EQ(RetryUntil(back, {"GET", k}, v, std::chrono::seconds(10)), v) << "key " << k;
  }
  // And it takes writes again.
  EXPECT_EQ(RetryUntil(back, {"SET", "after-restart", "yes"}, "OK"), "OK");
  Client other = cluster.ClientFor(via);
  EXPECT_EQ(other.Text({"GET", "after-restart"}), "yes");
}

TEST(ClusterRuntimeTest, ResumedOldLeaderNeverServesAStaleValue) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  uint64_t victim = 0;
  for (int i = 0; i < 100 && victim == 0; i++) {
    victim = LeaderOf(cluster, ids[0], 0);
    if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(victim, 0u);
  const uint64_t via = victim == ids[0] ? ids[1] : ids[0];
  auto map = cluster.config().InitialShardMap();
  ASSERT_TRUE(map.ok());
  const auto ring = map.value().BuildRing();
  std::string key;
  for (int i = 0; key.empty(); i++) {
    if (ring.ShardFor("s-" + std::to_string(i)).value() == 0) key = "s-" + std::to_string(i);
  }
  Client old_side = cluster.ClientFor(victim);
  ASSERT_EQ(old_side.Text({"SET", key, "old"}), "OK");

  // Pause the leader; the others elect a new one and take a newer value.
  cluster.Signal(victim, SIGSTOP);
  Client writer = cluster.ClientFor(via);
  ASSERT_EQ(RetryUntil(writer, {"SET", key, "new"}, "OK"), "OK");

  // Resumed, the old leader may still believe it leads, but a read through it
  // confirms its leadership first (ReadIndex): "old" must never come back.
  cluster.Signal(victim, SIGCONT);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::string got;
  do {
    got = old_side.Text({"GET", key});
    ASSERT_NE(got, "old") << "stale read through the resumed old leader";
  } while (got != "new" && Clock::now() < deadline);
  EXPECT_EQ(got, "new");
}

}  // namespace
}  // namespace dkv::runtime
