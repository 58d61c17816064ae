// Black-box tests of `distkv cluster up|status|down` (issue #5): they run the
// real distkv tool, which starts real distkv-server processes on free
// loopback ports in a temp dir, and check that nothing is left running.
// The nodes run in cluster mode (replicated shards), and the tool says so.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.h"
#include "cluster/launcher.h"
#include "cluster/probe.h"

namespace dkv::cluster {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

RunResult Distkv(const std::string& args) {
  RunResult r;
  std::string cmd = std::string(DISTKV_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ClusterProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dkv-cluster-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  // Whatever happened, no server outlives the test.
  void TearDown() override {
    auto config = LoadClusterConfig(dir_ + "/cluster.toml");
    if (config.ok()) {
      for (const auto& n : config->nodes) {
        auto pid = ReadPidFile(*config, n.id);
        if (pid && IsNodeProcess(*pid, *config, n.id)) ::kill(*pid, SIGKILL);
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string UpArgs(int nodes) {
    return "cluster up --nodes " + std::to_string(nodes) + " --shards 8 --dir " + dir_ +
           " --server-bin " + DISTKV_SERVER_PATH + " --loglevel warn";
  }

  std::string dir_;
};

TEST_F(ClusterProcessTest, UpStatusDownLeavesNoProcess) {
  RunResult up = Distkv(UpArgs(3));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_TRUE(Contains(up.output, "cluster mode: every shard is a Raft group")) << up.output;
  EXPECT_TRUE(Contains(up.output, "redis-cli -h 127.0.0.1 -p ")) << up.output;

  auto config = LoadClusterConfig(dir_ + "/cluster.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->nodes.size(), 3u);
  EXPECT_EQ(config->shards, 8u);
  EXPECT_EQ(config->replication_factor, 3u);
  std::vector<pid_t> pids;
  for (const auto& n : config->nodes) {
    auto pid = ReadPidFile(*config, n.id);
    ASSERT_TRUE(pid.has_value()) << "node " << n.id;
    EXPECT_TRUE(IsServerProcess(*pid)) << "node " << n.id;
    pids.push_back(*pid);
    EXPECT_TRUE(fs::exists(LogFilePath(*config, n.id)));
    EXPECT_TRUE(fs::is_directory(config->NodeDir(n.id) + "/data"));

    std::string host;
    int port = 0;
    ASSERT_TRUE(SplitHostPort(n.client_addr, &host, &port).ok());
    auto pong = RespCall(host, port, {"PING"}, 5000);
    ASSERT_TRUE(pong.ok()) << pong.status().ToString();
    EXPECT_EQ(*pong, "PONG");
    // Replicated: a write through a node reads back through it.
    auto set = RespCall(host, port, {"SET", "k", "node-" + std::to_string(n.id)}, 5000);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    auto get = RespCall(host, port, {"GET", "k"}, 5000);
    ASSERT_TRUE(get.ok());
    EXPECT_EQ(*get, "node-" + std::to_string(n.id));
  }

  RunResult status = Distkv("cluster status --dir " + dir_);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_TRUE(Contains(status.output, "3/3 nodes up")) << status.output;
  EXPECT_TRUE(Contains(status.output, "cluster mode: every shard is a Raft group"))
      << status.output;
  for (const auto& n : config->nodes) EXPECT_TRUE(Contains(status.output, n.client_addr));

  RunResult check = Distkv("cluster check --dir " + dir_);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_TRUE(Contains(check.output, "valid")) << check.output;
  EXPECT_TRUE(Contains(check.output, "replicas 8 (preferred leader of 3)")) << check.output;

  RunResult endpoints = Distkv("cluster endpoints --dir " + dir_);
  EXPECT_EQ(endpoints.exit_code, 0);
  EXPECT_EQ(endpoints.output, config->nodes[0].client_addr + "," + config->nodes[1].client_addr +
                                  "," + config->nodes[2].client_addr + "\n");

  RunResult json = Distkv("cluster status --json --dir " + dir_);
  EXPECT_EQ(json.exit_code, 0) << json.output;
  EXPECT_TRUE(Contains(json.output, "\"nodes_up\":3")) << json.output;
  EXPECT_TRUE(Contains(json.output, "\"replicated\":true")) << json.output;
  EXPECT_TRUE(Contains(json.output, "\"health_http\":200")) << json.output;

  // A second `up` finds the nodes running and starts nothing new.
  RunResult again = Distkv(UpArgs(3));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "already running")) << again.output;
  for (const auto& n : config->nodes) {
    auto pid = ReadPidFile(*config, n.id);
    ASSERT_TRUE(pid.has_value());
    EXPECT_EQ(*pid, pids[n.id - 1]);
  }

  RunResult down = Distkv("cluster down --dir " + dir_);
  EXPECT_EQ(down.exit_code, 0) << down.output;
  for (size_t i = 0; i < pids.size(); i++) {
    EXPECT_FALSE(IsServerProcess(pids[i])) << "pid " << pids[i] << " still running";
    EXPECT_FALSE(fs::exists(PidFilePath(*config, config->nodes[i].id)));
  }

  RunResult after = Distkv("cluster status --dir " + dir_);
  EXPECT_EQ(after.exit_code, 1) << after.output;
  EXPECT_TRUE(Contains(after.output, "0/3 nodes up")) << after.output;
  // Down twice is harmless.
  RunResult down_again = Distkv("cluster down --dir " + dir_);
  EXPECT_EQ(down_again.exit_code, 0) << down_again.output;
  EXPECT_TRUE(Contains(down_again.output, "not running")) << down_again.output;
}

// `--server-bin` may name a copy of the server under another name (an A/B of
// two builds): `cluster down` must still stop it, not drop its pid file and
// leave it running.
TEST_F(ClusterProcessTest, DownStopsAServerBinaryOfAnotherName) {
  const std::string other = dir_ + "/other-build";
  fs::create_symlink(DISTKV_SERVER_PATH, other);
  RunResult up = Distkv("cluster up --nodes 1 --shards 2 --dir " + dir_ + " --server-bin " + other +
                        " --loglevel warn");
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto config = LoadClusterConfig(dir_ + "/cluster.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto pid = ReadPidFile(*config, config->nodes[0].id);
  ASSERT_TRUE(pid.has_value());
  EXPECT_FALSE(IsServerProcess(*pid));  // argv[0] is not called distkv-server
  EXPECT_TRUE(IsNodeProcess(*pid, *config, config->nodes[0].id));
  RunResult status = Distkv("cluster status --dir " + dir_);
  EXPECT_TRUE(Contains(status.output, "1/1 nodes up")) << status.output;
  RunResult down = Distkv("cluster down --dir " + dir_);
  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_FALSE(IsNodeProcess(*pid, *config, config->nodes[0].id))
      << "the server outlived cluster down";
}

TEST_F(ClusterProcessTest, ShardCommandsChangeMembershipAndLeadershipAndStatusShowsThem) {
  RunResult up = Distkv("cluster up --nodes 3 --shards 2 --dir " + dir_ + " --server-bin " +
                        DISTKV_SERVER_PATH + " --loglevel warn");
  ASSERT_EQ(up.exit_code, 0) << up.output;
  // Every node founded its shards: the config now says the cluster exists.
  auto config = LoadClusterConfig(dir_ + "/cluster.toml");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->IsExisting());

  RunResult status = Distkv("cluster status --dir " + dir_);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_TRUE(Contains(status.output, "live membership as node 1 sees it")) << status.output;
  EXPECT_FALSE(Contains(status.output, "standalone")) << status.output;

  for (const char* to : {"2", "3"}) {
    RunResult t = Distkv("shard transfer-leader --dir " + dir_ + " 0 " + to);
    EXPECT_EQ(t.exit_code, 0) << t.output;
    EXPECT_TRUE(Contains(t.output, "shard 0: transfer-leader " + std::string(to) + ": OK"))
        << t.output;
  }
  RunResult json = Distkv("cluster status --json --dir " + dir_);
  EXPECT_TRUE(Contains(json.output, "{\"shard\":0,\"leader\":3,")) << json.output;

  RunResult rm = Distkv("shard remove-replica --config " + dir_ + "/cluster.toml 1 3");
  EXPECT_EQ(rm.exit_code, 0) << rm.output;
  json = Distkv("cluster status --json --dir " + dir_);
  EXPECT_TRUE(Contains(json.output, "\"voters\":[1,2],")) << json.output;
  RunResult add = Distkv("shard add-replica --dir " + dir_ + " 1 3");
  EXPECT_EQ(add.exit_code, 0) << add.output;
  json = Distkv("cluster status --json --dir " + dir_);
  EXPECT_FALSE(Contains(json.output, "\"voters\":[1,2],")) << json.output;

  RunResult bad = Distkv("shard add-replica --dir " + dir_ + " 9 1");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(Contains(bad.output, "ERR invalid shard '9': expected 0..1")) << bad.output;
  RunResult again = Distkv("shard add-replica --dir " + dir_ + " 1 3");
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_TRUE(Contains(again.output, "ERR node 3 is already a voter of shard 1")) << again.output;

  // Node 3 loses its disk: a plain start is refused, the documented
  // procedure (--join, then remove + add per shard) brings it back.
  auto pid3 = ReadPidFile(*config, 3);
  ASSERT_TRUE(pid3.has_value());
  ::kill(*pid3, SIGKILL);
  for (int i = 0; i < 100 && IsServerProcess(*pid3); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fs::remove_all(config->NodeDir(3) + "/data");
  RunResult refused = Distkv("cluster up --dir " + dir_ + " --server-bin " + DISTKV_SERVER_PATH);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(Contains(refused.output, "start it with --join")) << refused.output;
  RunResult joined =
      Distkv("cluster up --dir " + dir_ + " --server-bin " + DISTKV_SERVER_PATH + " --join 3");
  EXPECT_EQ(joined.exit_code, 0) << joined.output;
  for (const char* shard : {"0", "1"}) {
    RunResult r = Distkv("shard remove-replica --dir " + dir_ + " " + shard + " 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    RunResult a = Distkv("shard add-replica --dir " + dir_ + " " + shard + " 3");
    EXPECT_EQ(a.exit_code, 0) << a.output;
  }
  json = Distkv("cluster status --json --dir " + dir_);
  EXPECT_TRUE(Contains(json.output, "\"nodes_up\":3")) << json.output;
  EXPECT_FALSE(Contains(json.output, "\"voters\":[1,2],")) << json.output;
  EXPECT_TRUE(Contains(json.output, "{\"node\":3,\"role\":\"follower\"")) << json.output;

  RunResult down = Distkv("cluster down --dir " + dir_);
  EXPECT_EQ(down.exit_code, 0) << down.output;
}

TEST_F(ClusterProcessTest, KilledNodeShowsDownAndRestartsWithItsData) {
  ASSERT_EQ(Distkv(UpArgs(3)).exit_code, 0);
  auto config = LoadClusterConfig(dir_ + "/cluster.toml");
  ASSERT_TRUE(config.ok());
  const NodeConfig& node2 = config->nodes[1];
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort(node2.client_addr, &host, &port).ok());
  ASSERT_TRUE(RespCall(host, port, {"SET", "durable", "yes"}, 5000).ok());
  auto pid = ReadPidFile(*config, node2.id);
  ASSERT_TRUE(pid.has_value());
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  for (int i = 0; i < 250 && IsServerProcess(*pid); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  RunResult status = Distkv("cluster status --dir " + dir_);
  EXPECT_EQ(status.exit_code, 1) << status.output;
  EXPECT_TRUE(Contains(status.output, "2/3 nodes up")) << status.output;

  // `up` again restarts only the dead node, on the same config and data.
  RunResult up = Distkv(UpArgs(3));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto get = RespCall(host, port, {"GET", "durable"}, 5000);
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(*get, "yes");
  EXPECT_EQ(Distkv("cluster down --dir " + dir_).exit_code, 0);
}

TEST_F(ClusterProcessTest, FailedStartStopsTheNodesAlreadyStarted) {
  // Node 3's client port is held by us, so its server cannot bind.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto config = GenerateLocalConfig(3, 4, dir_);
  ASSERT_TRUE(config.ok());
  config->nodes[2].client_addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  ASSERT_TRUE(WriteClusterConfig(*config, dir_ + "/cluster.toml").ok());

  RunResult up = Distkv("cluster up --config " + dir_ + "/cluster.toml --server-bin " +
                        DISTKV_SERVER_PATH + " --ready-timeout-ms 10000");
  ::close(fd);
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_TRUE(Contains(up.output, "node 3")) << up.output;
  for (const auto& n : config->nodes) {
    EXPECT_FALSE(fs::exists(PidFilePath(*config, n.id))) << "node " << n.id;
  }
}

TEST_F(ClusterProcessTest, BadConfigIsRejectedNamingTheField) {
  std::ofstream(dir_ + "/cluster.toml") << "shards = 4\nreplication_factor = 5\n"
                                           "[[nodes]]\nid = 1\nclient_addr = \"127.0.0.1:1\"\n"
                                           "peer_addr = \"127.0.0.1:2\"\n";
  RunResult up = Distkv("cluster up --dir " + dir_ + " --server-bin " + DISTKV_SERVER_PATH);
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_TRUE(Contains(up.output, "replication_factor")) << up.output;
  RunResult check = Distkv("cluster check --dir " + dir_);
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_TRUE(Contains(check.output, "replication_factor")) << check.output;
  RunResult status = Distkv("cluster status --dir " + dir_ + "/missing");
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_TRUE(Contains(status.output, "no cluster config")) << status.output;
}

TEST(LauncherTest, ServerArgsComeFromTheModeAndTheNode) {
  auto config = GenerateLocalConfig(2, 2, "/tmp/x");
  ASSERT_TRUE(config.ok());
  LaunchOptions o;
  o.server_bin = "/bin/distkv-server";
  o.config_path = "/tmp/x/cluster.toml";
  o.mode = LaunchMode::kStandalone;
  const NodeConfig& n = config->nodes[1];
  auto args = ServerArgs(*config, n, o);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "/bin/distkv-server");
  auto has = [&](const std::vector<std::string>& v, const std::string& flag,
                 const std::string& value) {
    for (size_t i = 0; i + 1 < v.size(); i++) {
      if (v[i] == flag && v[i + 1] == value) return true;
    }
    return false;
  };
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort(n.client_addr, &host, &port).ok());
  EXPECT_TRUE(has(args, "--port", std::to_string(port)));
  EXPECT_TRUE(has(args, "--dir", "/tmp/x/node-2/data"));
  EXPECT_TRUE(has(args, "--admin-port", std::to_string(n.admin_port)));
  EXPECT_FALSE(has(args, "--node-id", "2"));
  o.mode = LaunchMode::kCluster;
  args = ServerArgs(*config, n, o);
  EXPECT_TRUE(has(args, "--node-id", "2"));
  EXPECT_TRUE(has(args, "--cluster-config", "/tmp/x/cluster.toml"));
  EXPECT_EQ(std::count(args.begin(), args.end(), "--join"), 0);
  o.join_nodes = {2};
  args = ServerArgs(*config, n, o);
  EXPECT_EQ(std::count(args.begin(), args.end(), "--join"), 1);
  const auto first = ServerArgs(*config, config->nodes[0], o);  // not in join_nodes
  EXPECT_EQ(std::count(first.begin(), first.end(), "--join"), 0);
}

TEST(LauncherTest, ParseInfoReadsFieldsAndSkipsSections) {
  auto m = ParseInfo(
      "# Server\r\nprocess_id:42\r\nuptime_in_seconds:7\r\n\r\n# Keyspace\r\n"
      "db0:keys=3,expires=0\r\n");
  EXPECT_EQ(m["process_id"], "42");
  EXPECT_EQ(m["uptime_in_seconds"], "7");
  EXPECT_EQ(m["db0"], "keys=3,expires=0");
  EXPECT_EQ(m.count("# Server"), 0u);
}

}  // namespace
}  // namespace dkv::cluster
