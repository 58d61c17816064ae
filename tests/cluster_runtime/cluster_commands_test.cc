// Black-box tests of the Redis string and expiry commands in cluster mode
// (issue #5: SET options, SETNX, SETEX, INCR..., APPEND, GETDEL, GETEX,
// EXPIRE..., TTL, PERSIST, STRLEN, GETRANGE, TYPE, UNLINK): three real
// distkv-server processes on loopback, driven with hiredis. Each command runs
// through the leader of its key's shard and through a follower (which
// forwards it) and must answer as Redis does; a TTL really expires on every
// node; INCR from concurrent clients on different nodes hands out each value
// exactly once. Timing bounds are generous upper limits, not speed claims.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
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

// Retries `argv` until the reply is `want` or `budget` passes (elections).
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

uint64_t ShardOf(ClusterHarness& cluster, const std::string& key) {
  auto map = cluster.config().InitialShardMap();
  return map.value().BuildRing().ShardFor(key).value();
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
    return std::stoull(line.substr(line.find("leader=") + 7));
  }
  return 0;
}

// Waits until every shard has a leader that accepts writes.
void WaitAllShardsWritable(ClusterHarness& cluster) {
  Client c = cluster.ClientFor(cluster.ids()[0]);
  ASSERT_TRUE(c.ok());
  std::map<uint64_t, std::string> key_of_shard;
  for (int i = 0; key_of_shard.size() < kShards && i < 10000; i++) {
    const std::string k = "probe-" + std::to_string(i);
    key_of_shard.emplace(ShardOf(cluster, k), k);
  }
  ASSERT_EQ(key_of_shard.size(), kShards);
  for (const auto& [shard, key] : key_of_shard) {
    ASSERT_EQ(RetryUntil(c, {"SET", key, "x"}, "OK"), "OK") << "shard " << shard;
  }
}

int64_t ToInt(const std::string& s) { return std::stoll(s); }

// Runs the whole command script on keys tagged `p` through `c`.
void RunScript(Client& c, const std::string& p) {
  const std::string k = p + "k";
  SCOPED_TRACE("keys " + p);
  // SET options.
  EXPECT_EQ(c.Text({"SET", k, "v1", "EX", "100"}), "OK");
  EXPECT_EQ(c.Text({"GET", k}), "v1");
  int64_t ttl = ToInt(c.Text({"TTL", k}));
  EXPECT_GE(ttl, 98);
  EXPECT_LE(ttl, 100);
  int64_t pttl = ToInt(c.Text({"PTTL", k}));
  EXPECT_GT(pttl, 90000);
  EXPECT_LE(pttl, 100000);
  EXPECT_EQ(c.Text({"SET", k, "v2", "KEEPTTL"}), "OK");
  EXPECT_GT(ToInt(c.Text({"TTL", k})), 90);
  EXPECT_EQ(c.Text({"SET", k, "v3"}), "OK");  // a plain SET drops the TTL
  EXPECT_EQ(c.Text({"TTL", k}), "-1");
  EXPECT_EQ(c.Text({"SET", k, "x", "NX"}), "(nil)");
  EXPECT_EQ(c.Text({"SET", p + "new", "x", "nx"}), "OK");
  EXPECT_EQ(c.Text({"SET", p + "none", "y", "XX"}), "(nil)");
  EXPECT_EQ(c.Text({"GET", p + "none"}), "(nil)");
  EXPECT_EQ(c.Text({"SET", k, "v4", "GET"}), "v3");
  EXPECT_EQ(c.Text({"SET", p + "none", "v", "GET"}), "(nil)");
  EXPECT_EQ(c.Text({"GETSET", k, "v5"}), "v4");
  EXPECT_EQ(c.Text({"GET", k}), "v5");
  EXPECT_EQ(c.Text({"SET", p + "px", "v", "PX", "100000", "XX", "GET"}), "(nil)");
  EXPECT_EQ(c.Text({"SET", p + "none", "v", "PXAT", "1"}), "OK");  // in the past: gone
  EXPECT_EQ(c.Text({"EXISTS", p + "none"}), "0");
  // SET errors, as Redis words them.
  EXPECT_EQ(c.Text({"SET", k, "v", "EX", "abc"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(c.Text({"SET", k, "v", "EX", "0"}), "ERR invalid expire time in 'set' command");
  EXPECT_EQ(c.Text({"SET", k, "v", "NX", "XX"}), "ERR syntax error");
  EXPECT_EQ(c.Text({"SET", k, "v", "EX", "10", "KEEPTTL"}), "ERR syntax error");
  EXPECT_EQ(c.Text({"SET", k, "v", "EX"}), "ERR syntax error");
  // SETNX, SETEX, PSETEX.
  EXPECT_EQ(c.Text({"SETNX", k, "z"}), "0");
  EXPECT_EQ(c.Text({"SETNX", p + "n2", "z"}), "1");
  EXPECT_EQ(c.Text({"SETEX", p + "e", "100", "v"}), "OK");
  EXPECT_GE(ToInt(c.Text({"TTL", p + "e"})), 98);
  EXPECT_EQ(c.Text({"PSETEX", p + "e2", "100000", "v"}), "OK");
  EXPECT_GT(ToInt(c.Text({"PTTL", p + "e2"})), 90000);
  EXPECT_EQ(c.Text({"SETEX", p + "e", "0", "v"}), "ERR invalid expire time in 'setex' command");
  EXPECT_EQ(c.Text({"SETEX", p + "e", "v"}), "ERR wrong number of arguments for 'setex' command");
  // Counters.
  const std::string n = p + "n";
  EXPECT_EQ(c.Text({"INCR", n}), "1");
  EXPECT_EQ(c.Text({"INCRBY", n, "10"}), "11");
  EXPECT_EQ(c.Text({"DECR", n}), "10");
  EXPECT_EQ(c.Text({"DECRBY", n, "3"}), "7");
  EXPECT_EQ(c.Text({"INCRBY", n, "-10"}), "-3");
  EXPECT_EQ(c.Text({"INCRBYFLOAT", n, "3.5"}), "0.5");
  EXPECT_EQ(c.Text({"INCR", n}), "ERR value is not an integer or out of range");
  EXPECT_EQ(c.Text({"INCRBYFLOAT", n, "abc"}), "ERR value is not a valid float");
  EXPECT_EQ(c.Text({"INCRBY", n, "x"}), "ERR value is not an integer or out of range");
  EXPECT_EQ(c.Text({"SET", n, "9223372036854775807"}), "OK");
  EXPECT_EQ(c.Text({"INCR", n}), "ERR increment or decrement would overflow");
  EXPECT_EQ(c.Text({"GET", n}), "9223372036854775807");
  EXPECT_EQ(c.Text({"SET", n, "10", "EX", "100"}), "OK");
  EXPECT_EQ(c.Text({"INCR", n}), "11");
  EXPECT_GT(ToInt(c.Text({"TTL", n})), 90);  // INCR keeps the TTL
  // APPEND and the reads of a value.
  const std::string a = p + "a";
  EXPECT_EQ(c.Text({"APPEND", a, "hello"}), "5");
  EXPECT_EQ(c.Text({"APPEND", a, " world"}), "11");
  EXPECT_EQ(c.Text({"STRLEN", a}), "11");
  EXPECT_EQ(c.Text({"GETRANGE", a, "0", "4"}), "hello");
  EXPECT_EQ(c.Text({"GETRANGE", a, "-5", "-1"}), "world");
  EXPECT_EQ(c.Text({"GETRANGE", a, "20", "30"}), "");
  EXPECT_EQ(c.Text({"TYPE", a}), "string");
  EXPECT_EQ(c.Text({"TYPE", p + "nope"}), "none");
  EXPECT_EQ(c.Text({"STRLEN", p + "nope"}), "0");
  EXPECT_EQ(c.Text({"GETDEL", a}), "hello world");
  EXPECT_EQ(c.Text({"GET", a}), "(nil)");
  EXPECT_EQ(c.Text({"GETDEL", a}), "(nil)");
  // GETEX.
  EXPECT_EQ(c.Text({"GETEX", k, "EX", "50"}), "v5");
  EXPECT_GE(ToInt(c.Text({"TTL", k})), 48);
  EXPECT_EQ(c.Text({"GETEX", k}), "v5");
  EXPECT_EQ(c.Text({"GETEX", k, "PERSIST"}), "v5");
  EXPECT_EQ(c.Text({"TTL", k}), "-1");
  EXPECT_EQ(c.Text({"GETEX", k, "PERSIST", "EX", "5"}), "ERR syntax error");
  EXPECT_EQ(c.Text({"GETEX", p + "nope", "EX", "5"}), "(nil)");
  // The EXPIRE family.
  EXPECT_EQ(c.Text({"EXPIRE", k, "100"}), "1");
  EXPECT_EQ(c.Text({"EXPIRE", k, "200", "NX"}), "0");
  EXPECT_EQ(c.Text({"EXPIRE", k, "50", "GT"}), "0");
  EXPECT_EQ(c.Text({"EXPIRE", k, "200", "GT"}), "1");
  EXPECT_GT(ToInt(c.Text({"TTL", k})), 190);
  EXPECT_EQ(c.Text({"PEXPIRE", k, "150000", "LT"}), "1");
  EXPECT_LE(ToInt(c.Text({"TTL", k})), 150);
  EXPECT_EQ(c.Text({"EXPIRE", k, "10", "NX", "XX"}),
            "ERR NX and XX, GT or LT options at the same time are not compatible");
  EXPECT_EQ(c.Text({"EXPIRE", k, "10", "FOO"}), "ERR Unsupported option FOO");
  EXPECT_EQ(c.Text({"PERSIST", k}), "1");
  EXPECT_EQ(c.Text({"PERSIST", k}), "0");
  EXPECT_EQ(c.Text({"TTL", k}), "-1");
  EXPECT_EQ(c.Text({"EXPIRE", p + "nope", "10"}), "0");
  EXPECT_EQ(c.Text({"TTL", p + "nope"}), "-2");
  EXPECT_EQ(c.Text({"PTTL", p + "nope"}), "-2");
  EXPECT_EQ(c.Text({"EXPIREAT", p + "e", "4102444800"}), "1");  // 2100-01-01
  EXPECT_GT(ToInt(c.Text({"TTL", p + "e"})), 1000000);
  EXPECT_EQ(c.Text({"PEXPIREAT", p + "e", "1000"}), "1");  // in the past: deleted
  EXPECT_EQ(c.Text({"GET", p + "e"}), "(nil)");
  EXPECT_EQ(c.Text({"EXPIRE", k, "-1"}), "1");
  EXPECT_EQ(c.Text({"GET", k}), "(nil)");
  EXPECT_EQ(c.Text({"EXISTS", k}), "0");
  // UNLINK is DEL.
  EXPECT_EQ(c.Text({"UNLINK", p + "new", p + "n2", p + "nope"}), "2");
  EXPECT_EQ(c.Text({"EXISTS", p + "new", p + "n2"}), "0");
}

TEST(ClusterCommandsTest, StringAndExpiryCommandsAnswerLikeRedisThroughLeaderAndFollower) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  // Key tags whose keys all live in one shard would need hash tags; instead
  // each tag's first key "k" decides the node: through its shard's leader,
  // then through a follower of it. Other keys of the tag land where they
  // land (leader or follower, forwarded or not): both paths are covered.
  for (int round = 0; round < 2; round++) {
    const std::string p = "t" + std::to_string(round) + ":";
    const uint64_t shard = ShardOf(cluster, p + "k");
    const uint64_t leader = LeaderOf(cluster, ids[0], shard);
    ASSERT_NE(leader, 0u);
    uint64_t via = leader;
    if (round == 1) via = leader == ids[0] ? ids[1] : ids[0];
    Client c = cluster.ClientFor(via);
    ASSERT_TRUE(c.ok());
    RunScript(c, p);
  }
  // Every node reads what the others wrote.
  Client c1 = cluster.ClientFor(ids[0]);
  ASSERT_EQ(c1.Text({"SET", "shared", "5", "EX", "1000"}), "OK");
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    EXPECT_EQ(c.Text({"INCR", "shared"}), std::to_string(5 + id)) << "node " << id;
  }
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    EXPECT_EQ(c.Text({"GET", "shared"}), "8") << "node " << id;
    EXPECT_GT(ToInt(c.Text({"TTL", "shared"})), 900) << "node " << id;
  }
}

TEST(ClusterCommandsTest, KeysWithATtlExpireOnEveryNode) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  Client w = cluster.ClientFor(ids[1]);
  ASSERT_EQ(w.Text({"SET", "brief", "v", "PX", "400"}), "OK");
  ASSERT_EQ(w.Text({"SET", "counter", "41", "PX", "400"}), "OK");
  ASSERT_EQ(w.Text({"SET", "forever", "v"}), "OK");
  ASSERT_EQ(w.Text({"PEXPIRE", "forever", "100000"}), "1");
  // Alive right after (generous: the TTL is 400 ms; a slow machine may miss it).
  const auto set_at = Clock::now();
  std::string early = w.Text({"GET", "brief"});
  if (Clock::now() - set_at < std::chrono::milliseconds(300)) {
    EXPECT_EQ(early, "v");
  }
  // Gone on every node within a few seconds, and stays gone.
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    EXPECT_EQ(RetryUntil(c, {"GET", "brief"}, "(nil)", std::chrono::seconds(10)), "(nil)")
        << "node " << id;
    EXPECT_EQ(c.Text({"EXISTS", "brief"}), "0");
    EXPECT_EQ(c.Text({"TTL", "brief"}), "-2");
    EXPECT_EQ(c.Text({"STRLEN", "brief"}), "0");
    EXPECT_EQ(c.Text({"GET", "forever"}), "v");
  }
  // A counter that expired starts again from 0, with no TTL.
  Client c = cluster.ClientFor(ids[2]);
  EXPECT_EQ(c.Text({"INCR", "counter"}), "1");
  EXPECT_EQ(c.Text({"TTL", "counter"}), "-1");
  EXPECT_EQ(c.Text({"SET", "brief", "new", "NX"}), "OK");  // NX sees an expired key as absent
}

TEST(ClusterCommandsTest, ConcurrentIncrThroughEveryNodeHandsOutEachValueOnce) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  constexpr int kClients = 6;
  constexpr int kIncrs = 40;
  std::vector<std::vector<int64_t>> got(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; t++) {
    threads.emplace_back([&, t] {
      Client c = cluster.ClientFor(ids[static_cast<size_t>(t) % ids.size()]);
      for (int i = 0; i < kIncrs; i++) {
        const std::string r = c.Text({"INCR", "ticket"});
        if (r.empty() || !(std::isdigit(static_cast<unsigned char>(r[0])))) {
          errors[t] = r;
          return;
        }
        got[t].push_back(std::stoll(r));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  for (int t = 0; t < kClients; t++) {
    EXPECT_EQ(errors[t], "") << "client " << t;
    // Each client's own values increase (its INCRs are sequential).
    EXPECT_TRUE(std::is_sorted(got[t].begin(), got[t].end())) << "client " << t;
    all.insert(all.end(), got[t].begin(), got[t].end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kClients * kIncrs));
  for (size_t i = 0; i < all.size(); i++) ASSERT_EQ(all[i], static_cast<int64_t>(i + 1));
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    EXPECT_EQ(c.Text({"GET", "ticket"}), std::to_string(kClients * kIncrs));
  }
}

TEST(ClusterCommandsTest, IncrAcrossAKilledLeaderNeverHandsOutAValueTwice) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  const std::string key = "failover-counter";
  const uint64_t shard = ShardOf(cluster, key);
  uint64_t victim = 0;
  for (int i = 0; i < 100 && victim == 0; i++) {
    victim = LeaderOf(cluster, ids[0], shard);
    if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(victim, 0u);
  std::vector<uint64_t> survivors;
  for (uint64_t id : ids) {
    if (id != victim) survivors.push_back(id);
  }
  // Two clients per survivor INCRement through it (forwarded to whoever
  // leads) while the leader is killed -9 and restarted.
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::vector<std::vector<int64_t>> acked(kClients);
  std::vector<int> unknown(kClients, 0);
  // Count of acknowledged INCRs, read by the main thread while the clients
  // run (acked itself is read only after they are joined).
  std::atomic<size_t> acked_so_far{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; t++) {
    threads.emplace_back([&, t] {
      Client c = cluster.ClientFor(survivors[static_cast<size_t>(t) % survivors.size()]);
      while (!stop.load()) {
        const std::string r = c.Text({"INCR", key});
        if (!r.empty() && std::isdigit(static_cast<unsigned char>(r[0]))) {
          acked[t].push_back(std::stoll(r));
          acked_so_far.fetch_add(1);
        } else {
          unknown[t]++;  // UNAVAILABLE (no leader yet, or the outcome is unknown)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  auto acked_count = [&] {
    size_t n = 0;
    for (const auto& a : acked) n += a.size();
    return n;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster.Signal(victim, SIGKILL);
  const auto killed_at = Clock::now();
  const size_t before_kill = acked_so_far.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  cluster.Start(victim);
  cluster.WaitReady(victim);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& th : threads) th.join();
  std::printf(
      "%zu INCRs acknowledged (%zu before the kill at +%lld ms)\n", acked_count(), before_kill,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count()));
  EXPECT_GT(acked_count(), before_kill) << "no INCR succeeded after the kill";
  // Every acknowledged value is unique and each client's increase; the final
  // value counts every acknowledged INCR and at most the unknown ones more.
  std::vector<int64_t> all;
  int unknowns = 0;
  for (int t = 0; t < kClients; t++) {
    EXPECT_TRUE(std::is_sorted(acked[t].begin(), acked[t].end())) << "client " << t;
    all.insert(all.end(), acked[t].begin(), acked[t].end());
    unknowns += unknown[t];
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a value handed out twice";
  Client r = cluster.ClientFor(victim);
  const std::string final_text = RetryUntil(
      r, {"GET", key}, std::to_string(all.empty() ? 0 : all.back()), std::chrono::seconds(5));
  const int64_t final_value = ToInt(final_text);
  ASSERT_FALSE(all.empty());
  EXPECT_GE(final_value, all.back());
  EXPECT_GE(final_value, static_cast<int64_t>(all.size()));
  EXPECT_LE(final_value, static_cast<int64_t>(all.size()) + unknowns);
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    EXPECT_EQ(RetryUntil(c, {"GET", key}, final_text, std::chrono::seconds(10)), final_text)
        << "node " << id;
  }
}

TEST(ClusterCommandsTest, RequirePassMakesClientsAuthFirst) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  const uint64_t guarded = ids[2];
  {
    Client open = cluster.ClientFor(ids[0]);  // no password on this node
    EXPECT_EQ(open.Text({"AUTH", "x"}),
              "ERR AUTH <password> called without any password configured for the default "
              "user. Are you sure your configuration is correct?");
    EXPECT_EQ(open.Text({"AUTH", "default", "anything"}), "OK");
    EXPECT_EQ(open.Text({"SET", "auth-key", "v"}), "OK");
  }
  cluster.Signal(guarded, SIGKILL);
  cluster.Start(guarded, {"--requirepass", "s3cret"});
  bool up = false;
  for (int i = 0; i < 400 && !up; i++) {
    Client probe = cluster.ClientFor(guarded);
    up = probe.ok() && probe.Text({"PING"}) == "NOAUTH Authentication required.";
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up) << cluster.Log(guarded);
  Client c = cluster.ClientFor(guarded);
  EXPECT_EQ(c.Text({"GET", "auth-key"}), "NOAUTH Authentication required.");
  EXPECT_EQ(c.Text({"HELLO", "3"}).rfind("NOAUTH HELLO must be called", 0), 0u);
  EXPECT_EQ(c.Text({"AUTH", "wrong"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(c.Text({"AUTH", "bob", "s3cret"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(c.Text({"AUTH", "s3cret"}), "OK");
  EXPECT_EQ(RetryUntil(c, {"GET", "auth-key"}, "v"), "v");
  EXPECT_EQ(c.Text({"INCR", "auth-counter"}), "1");
  // HELLO's AUTH option authenticates a fresh connection.
  Client h = cluster.ClientFor(guarded);
  testing::Reply hello = h.Call({"HELLO", "2", "AUTH", "default", "s3cret"});
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->type, REDIS_REPLY_ARRAY);  // the RESP2 rendering of HELLO's map
  EXPECT_EQ(h.Text({"GET", "auth-key"}), "v");
  Client bad = cluster.ClientFor(guarded);
  EXPECT_EQ(bad.Text({"HELLO", "2", "AUTH", "default", "nope"}),
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(bad.Text({"GET", "auth-key"}), "NOAUTH Authentication required.");
}

TEST(ClusterCommandsTest, MultiKeyCommandsRunInOneShardAndRefuseToSpanShards) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  // Three keys of one shard, and one of another.
  const uint64_t shard = ShardOf(cluster, "m:0");
  std::vector<std::string> same = {"m:0"};
  std::string other;
  for (int i = 1; (same.size() < 3 || other.empty()) && i < 10000; i++) {
    const std::string k = "m:" + std::to_string(i);
    if (ShardOf(cluster, k) == shard) {
      if (same.size() < 3) same.push_back(k);
    } else if (other.empty()) {
      other = k;
    }
  }
  ASSERT_EQ(same.size(), 3u);
  for (uint64_t id : {ids[0], ids[2]}) {  // whoever leads, one of them forwards
    Client c = cluster.ClientFor(id);
    SCOPED_TRACE("node " + std::to_string(id));
    ASSERT_EQ(c.Text({"DEL", same[0], same[1], same[2]}).empty(), false);
    EXPECT_EQ(c.Text({"MSETNX", same[0], "a", same[1], "b"}), "1");
    EXPECT_EQ(c.Text({"MSETNX", same[1], "x", same[2], "y"}), "0");  // same[1] exists
    EXPECT_EQ(c.Text({"EXISTS", same[2]}), "0");
    EXPECT_EQ(c.Text({"MGET", same[0], same[1]}), "[a,b]");
    ASSERT_EQ(c.Text({"EXPIRE", same[0], "100"}), "1");
    EXPECT_EQ(c.Text({"RENAME", same[0], same[2]}), "OK");
    EXPECT_EQ(c.Text({"GET", same[0]}), "(nil)");
    EXPECT_EQ(c.Text({"GET", same[2]}), "a");
    EXPECT_GT(ToInt(c.Text({"TTL", same[2]})), 90);  // the TTL moved along
    EXPECT_EQ(c.Text({"RENAMENX", same[2], same[1]}), "0");
    EXPECT_EQ(c.Text({"RENAMENX", same[2], same[0]}), "1");
    EXPECT_EQ(c.Text({"RENAME", same[2], same[1]}), "ERR no such key");
    EXPECT_EQ(c.Text({"MSETNX", same[0], "a", other, "b"}),
              "CROSSSHARD msetnx: the keys live in different shards; cluster mode runs it only "
              "when all its keys share one shard");
    EXPECT_EQ(c.Text({"RENAME", same[0], other}).rfind("CROSSSHARD rename:", 0), 0u);
    EXPECT_EQ(c.Text({"EXISTS", other}), "0");
    EXPECT_EQ(c.Text({"MSETNX", same[0]}), "ERR wrong number of arguments for 'msetnx' command");
  }
}

TEST(ClusterCommandsTest, ScanKeysAndDbsizeSeeEveryShardsLiveKeys) {
  ClusterHarness cluster(kNodes, kShards);
  WaitAllShardsWritable(cluster);
  const auto ids = cluster.ids();
  Client w = cluster.ClientFor(ids[0]);
  // The probes of WaitAllShardsWritable exist too: start from a clean slate.
  std::vector<std::string> probes = {"DEL"};
  for (int i = 0; i < 1000; i++) probes.push_back("probe-" + std::to_string(i));
  ASSERT_EQ(w.Text(probes), std::to_string(kShards));
  constexpr int kKeys = 150;
  std::set<std::string> want;
  for (int i = 0; i < kKeys; i++) {
    const std::string k = "s:" + std::to_string(i);
    ASSERT_EQ(w.Text({"SET", k, "v"}), "OK");
    want.insert(k);
  }
  ASSERT_EQ(w.Text({"SET", "other", "v"}), "OK");
  ASSERT_EQ(w.Text({"SET", "gone", "v"}), "OK");
  ASSERT_EQ(w.Text({"DEL", "gone"}), "1");
  ASSERT_EQ(w.Text({"SET", "expired", "v", "PX", "1"}), "OK");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (uint64_t id : ids) {
    Client c = cluster.ClientFor(id);
    SCOPED_TRACE("node " + std::to_string(id));
    EXPECT_EQ(c.Text({"DBSIZE"}), std::to_string(kKeys + 1));
    testing::Reply keys = c.Call({"KEYS", "s:*"});
    ASSERT_TRUE(keys);
    ASSERT_EQ(keys->type, REDIS_REPLY_ARRAY);
    std::set<std::string> got;
    for (size_t i = 0; i < keys->elements; i++) got.insert(keys->element[i]->str);
    EXPECT_EQ(got, want);
    EXPECT_EQ(c.Text({"KEYS", "oth?r"}), "[other]");
    // SCAN with a small COUNT walks every shard; each key comes exactly once
    // (none changes meanwhile), and the cursor ends at 0.
    std::multiset<std::string> scanned;
    std::string cursor = "0";
    int calls = 0;
    do {
      testing::Reply r = c.Call({"SCAN", cursor, "MATCH", "s:*", "COUNT", "7"});
      ASSERT_TRUE(r);
      ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
      ASSERT_EQ(r->elements, 2u);
      cursor = r->element[0]->str;
      for (size_t i = 0; i < r->element[1]->elements; i++) {
        scanned.insert(r->element[1]->element[i]->str);
      }
      calls++;
    } while (cursor != "0" && calls < 1000);
    EXPECT_EQ(cursor, "0");
    EXPECT_EQ(scanned.size(), want.size());
    EXPECT_EQ(std::set<std::string>(scanned.begin(), scanned.end()), want);
    testing::Reply typed = c.Call({"SCAN", "0", "TYPE", "hash", "COUNT", "1000"});
    ASSERT_TRUE(typed);
    ASSERT_EQ(typed->elements, 2u);
    EXPECT_EQ(typed->element[1]->elements, 0u);  // only strings here
  }
  Client c = cluster.ClientFor(ids[1]);
  // RANDOMKEY answers live keys only, and (over many tries) more than one.
  std::set<std::string> randoms;
  for (int i = 0; i < 40; i++) {
    const std::string k = c.Text({"RANDOMKEY"});
    EXPECT_TRUE(want.count(k) == 1 || k == "other") << k;
    randoms.insert(k);
  }
  EXPECT_GT(randoms.size(), 1u);
  EXPECT_EQ(c.Text({"SCAN", "12345678"}), "ERR invalid cursor");
  EXPECT_EQ(c.Text({"SCAN", "x"}), "ERR invalid cursor");
  EXPECT_EQ(c.Text({"SCAN", "0", "COUNT", "0"}), "ERR syntax error");
  EXPECT_EQ(c.Text({"SCAN", "0", "MATCH"}), "ERR syntax error");
  EXPECT_EQ(c.Text({"DBSIZE", "x"}), "ERR wrong number of arguments for 'dbsize' command");
  // An empty keyspace: RANDOMKEY is nil, DBSIZE 0, KEYS empty.
  std::vector<std::string> del = {"DEL", "other"};
  del.insert(del.end(), want.begin(), want.end());
  EXPECT_EQ(c.Text(del), std::to_string(kKeys + 1));
  EXPECT_EQ(c.Text({"RANDOMKEY"}), "(nil)");
  EXPECT_EQ(c.Text({"DBSIZE"}), "0");
  EXPECT_EQ(c.Text({"KEYS", "*"}), "[]");
}

}  // namespace
}  // namespace dkv::runtime
