// distkv: the operator's tool (DESIGN.md §6). `distkv cluster up|status|down`
// start a local cluster of distkv-server processes described by one TOML
// file (src/cluster/cluster_config.h, docs/cluster.md), report on it (nodes,
// and per shard its members, leader, term and applied indexes) and stop it.
// `distkv shard add-replica|remove-replica|transfer-leader` change a shard's
// membership and leadership through any node (docs/runtime.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cluster/admin_client.h"
#include "cluster/cluster_config.h"
#include "cluster/launcher.h"

#ifndef DISTKV_SERVER_BUILD_PATH
#define DISTKV_SERVER_BUILD_PATH ""
#endif

namespace {

namespace fs = std::filesystem;
using dkv::Result;
using dkv::Status;
using dkv::cluster::ClusterConfig;
using dkv::cluster::LaunchMode;

// Time one node gets to answer PING/INFO/health during `status`.
constexpr int kStatusProbeTimeoutMs = 1000;

// Time DKV.SHARDS gets during `status` (the node asks its peers for at most
// a second itself).
constexpr int kShardsTimeoutMs = 5000;
// Time an admin command gets: adding a replica waits for it to catch up
// (up to 30 s on the node, docs/runtime.md).
constexpr int kDefaultAdminTimeoutMs = 60'000;

// What the nodes are, said plainly.
const char* ModeNote() {
  return "cluster mode: every shard is a Raft group of replication-factor replicas; any node\n"
         "serves any key (see docs/runtime.md for the commands supported).";
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// Where a cluster's config is: --config if given, else <dir>/cluster.toml.
std::string ConfigPath(const std::string& dir, const std::string& config) {
  return config.empty() ? Absolute(dir) + "/cluster.toml" : Absolute(config);
}

Result<ClusterConfig> LoadExisting(const std::string& path) {
  if (!fs::exists(path)) {
    return Status::NotFound(path, "no cluster config (start one with `distkv cluster up`)");
  }
  return dkv::cluster::LoadClusterConfig(path);
}

int Fail(const Status& s) {
  std::cerr << "distkv: " << s.ToString() << "\n";
  return 1;
}

struct UpArgs {
  uint32_t nodes = 3;
  uint32_t shards = dkv::cluster::kDefaultShards;
  std::string dir = "./distkv-cluster";
  std::string config;
  std::string server_bin;
  std::string loglevel = "info";
  std::string appendfsync = "always";
  int ready_timeout_ms = 20'000;
  std::vector<uint64_t> join;
};

int ClusterUp(const UpArgs& a) {
  const std::string config_path = ConfigPath(a.dir, a.config);
  ClusterConfig config;
  if (fs::exists(config_path)) {
    auto loaded = dkv::cluster::LoadClusterConfig(config_path);
    if (!loaded.ok()) return Fail(loaded.status());
    config = std::move(*loaded);
    std::cout << "using " << config_path << "\n";
  } else if (!a.config.empty()) {
    return Fail(Status::NotFound(config_path, "cluster config not found"));
  } else {
    std::error_code ec;
    fs::create_directories(Absolute(a.dir), ec);
    if (ec) return Fail(Status::IOError(a.dir, ec.message()));
    auto generated = dkv::cluster::GenerateLocalConfig(a.nodes, a.shards, Absolute(a.dir));
    if (!generated.ok()) return Fail(generated.status());
    config = std::move(*generated);
    if (Status s = dkv::cluster::WriteClusterConfig(config, config_path); !s.ok()) return Fail(s);
    std::cout << "wrote " << config_path << " (" << config.nodes.size() << " nodes, "
              << config.shards << " shards, replication factor " << config.replication_factor
              << ")\n";
  }

  dkv::cluster::LaunchOptions options;
  options.server_bin =
      dkv::cluster::FindServerBinary(a.server_bin, SelfExe(), DISTKV_SERVER_BUILD_PATH);
  options.config_path = config_path;
  options.loglevel = a.loglevel;
  options.appendfsync = a.appendfsync;
  options.ready_timeout_ms = a.ready_timeout_ms;
  for (uint64_t id : a.join) {
    if (config.FindNode(id) == nullptr) {
      return Fail(Status::InvalidArgument("--join " + std::to_string(id), "no such node"));
    }
    options.join_nodes.push_back(id);
  }

  std::vector<std::pair<const dkv::cluster::NodeConfig*, pid_t>> started;
  Status failure;
  for (const auto& node : config.nodes) {
    auto pid = dkv::cluster::StartNode(config, node, options);
    if (pid.ok()) {
      started.push_back({&node, *pid});
    } else if (pid.status().IsBusy()) {
      std::cout << "node " << node.id << ": " << pid.status().message() << "\n";
    } else {
      failure = pid.status();
      break;
    }
  }
  for (const auto& [node, pid] : started) {
    if (!failure.ok()) break;
    failure = dkv::cluster::WaitUntilReady(config, *node, pid, options.ready_timeout_ms);
  }
  if (!failure.ok()) {
    // Leave nothing half started behind.
    for (const auto& [node, pid] : started) {
      bool killed = false;
      dkv::cluster::StopNode(config, node->id, 5'000, &killed).IgnoreError();
    }
    return Fail(failure);
  }
  if (!config.IsExisting()) {
    // Every node founded its shards: from now on a node whose data dir lost
    // its FOUNDED marker must not found them again (docs/runtime.md,
    // "Operations: replacing a node's disk"). A hand-written file is not
    // rewritten (its comments would go); the operator is told instead.
    auto on_disk = dkv::cluster::LoadClusterConfig(config_path);
    std::string text;
    {
      std::ifstream in(config_path);
      std::stringstream buf;
      buf << in.rdbuf();
      text = buf.str();
    }
    if (on_disk.ok() && text == on_disk->ToToml()) {
      config.cluster_state = "existing";
      if (Status s = dkv::cluster::WriteClusterConfig(config, config_path); !s.ok()) return Fail(s);
      std::cout << "marked " << config_path << " cluster_state = \"existing\"\n";
    } else {
      std::cout << "note: set cluster_state = \"existing\" in " << config_path
                << " now that every node founded its shards (docs/cluster.md)\n";
    }
  }
  std::cout << "\n" << ModeNote() << "\n\n";
  for (const auto& node : config.nodes) {
    std::string host;
    int port = 0;
    dkv::cluster::SplitHostPort(node.client_addr, &host, &port).IgnoreError();
    auto pid = dkv::cluster::ReadPidFile(config, node.id);
    std::cout << "node " << node.id << "  " << node.client_addr << "  pid "
              << (pid ? std::to_string(*pid) : "?") << "  connect: redis-cli -h " << host << " -p "
              << port << "\n";
  }
  std::string dir_flag = a.config.empty() ? "--dir " + Absolute(a.dir) : "--config " + config_path;
  std::cout << "\nstatus: distkv cluster status " << dir_flag << "\nstop:   distkv cluster down "
            << dir_flag << "\n";
  return 0;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int ClusterStatus(const std::string& dir, const std::string& config_flag, bool json) {
  auto config = LoadExisting(ConfigPath(dir, config_flag));
  if (!config.ok()) return Fail(config.status());
  std::vector<dkv::cluster::NodeStatus> nodes;
  int up = 0;
  for (const auto& node : config->nodes) {
    nodes.push_back(dkv::cluster::QueryNode(*config, node, kStatusProbeTimeoutMs));
    if (nodes.back().ping_ok) up++;
  }
  dkv::cluster::NodeId asked = 0;
  auto shards = dkv::cluster::QueryShards(*config, kShardsTimeoutMs, &asked);
  const auto placement = config->InitialPlacement();
  auto ids = [](const std::vector<dkv::cluster::NodeId>& v, const char* empty) {
    std::string out;
    for (auto id : v) out += (out.empty() ? "" : ",") + std::to_string(id);
    return out.empty() ? std::string(empty) : out;
  };
  if (json) {
    std::ostringstream out;
    out << "{\"cluster_id\":" << JsonString(config->cluster_id) << ",\"mode\":\""
        << dkv::cluster::LaunchModeName(dkv::cluster::kCurrentLaunchMode)
        << "\",\"replicated\":true,\"cluster_state\":" << JsonString(config->cluster_state)
        << ",\"nodes_up\":" << up << ",\"nodes\":[";
    for (size_t i = 0; i < nodes.size(); i++) {
      const auto& n = nodes[i];
      out << (i ? "," : "") << "{\"id\":" << n.id << ",\"addr\":" << JsonString(n.client_addr)
          << ",\"pid\":" << (n.pid ? std::to_string(*n.pid) : "null")
          << ",\"process_alive\":" << (n.process_alive ? "true" : "false")
          << ",\"up\":" << (n.ping_ok ? "true" : "false")
          << ",\"keys\":" << (n.keys.empty() ? "null" : n.keys)
          << ",\"health_http\":" << n.admin_http_code << "}";
    }
    out << "],\"map_version\":"
        << (shards.ok() && !shards->empty() ? std::to_string(shards->front().map_version)
                                            : std::string("null"));
    out << ",\"shards\":";
    if (!shards.ok()) {
      out << "null";
    } else {
      out << "[";
      for (size_t i = 0; i < shards->size(); i++) {
        const auto& sh = (*shards)[i];
        out << (i ? "," : "") << "{\"shard\":" << sh.shard << ",\"leader\":" << sh.leader
            << ",\"term\":" << sh.term << ",\"applied\":" << sh.applied << ",\"voters\":["
            << ids(sh.voters, "") << "],\"learners\":[" << ids(sh.learners, "")
            << "],\"replicas\":[";
        for (size_t j = 0; j < sh.replicas.size(); j++) {
          const auto& r = sh.replicas[j];
          out << (j ? "," : "") << "{\"node\":" << r.node << ",\"role\":" << JsonString(r.role)
              << ",\"applied\":" << r.applied << "}";
        }
        out << "]}";
      }
      out << "]";
    }
    out << "}";
    std::cout << out.str() << "\n";
  } else {
    std::cout << "cluster " << config->cluster_id << ": " << up << "/" << nodes.size()
              << " nodes up (cluster_state " << config->cluster_state << ")\n"
              << ModeNote() << "\n\n";
    std::printf("%-6s %-22s %-8s %-6s %-8s %-8s %-7s %s\n", "node", "address", "pid", "state",
                "uptime_s", "keys", "health", "role");
    for (const auto& n : nodes) {
      std::printf("%-6llu %-22s %-8s %-6s %-8s %-8s %-7s %s\n",
                  static_cast<unsigned long long>(n.id), n.client_addr.c_str(),
                  n.pid ? std::to_string(*n.pid).c_str() : "-", n.ping_ok ? "up" : "down",
                  n.uptime_s.empty() ? "-" : n.uptime_s.c_str(),
                  n.keys.empty() ? "-" : n.keys.c_str(),
                  n.admin_http_code ? std::to_string(n.admin_http_code).c_str() : "-",
                  n.ping_ok ? n.role.c_str() : n.ping_error.c_str());
    }
    std::cout << "\nshards: " << config->shards << ", replication factor "
              << config->replication_factor;
    if (shards.ok()) {
      std::cout << " -- live membership as node " << asked
                << " sees it (DKV.SHARDS), shard map version "
                << (shards->empty() ? 0 : shards->front().map_version) << ":\n";
      std::printf("%-6s %-7s %-6s %-9s %-12s %-9s %s\n", "shard", "leader", "term", "applied",
                  "voters", "learners", "replicas (node:role:applied)");
      for (const auto& sh : *shards) {
        std::string reps;
        for (const auto& r : sh.replicas) {
          reps += (reps.empty() ? "" : " ") + std::to_string(r.node) + ":" + r.role + ":" +
                  std::to_string(r.applied);
        }
        std::printf("%-6llu %-7s %-6llu %-9llu %-12s %-9s %s\n",
                    static_cast<unsigned long long>(sh.shard),
                    sh.leader ? std::to_string(sh.leader).c_str() : "none",
                    static_cast<unsigned long long>(sh.term),
                    static_cast<unsigned long long>(sh.applied), ids(sh.voters, "-").c_str(),
                    ids(sh.learners, "-").c_str(), reps.empty() ? "-" : reps.c_str());
      }
    } else {
      std::cout << " -- no node answered DKV.SHARDS (" << shards.status().ToString()
                << "); initial placement:\n";
      for (size_t s = 0; s < placement.size(); s++) {
        std::cout << "  shard " << s << ": nodes";
        for (auto id : placement[s]) std::cout << " " << id;
        std::cout << "\n";
      }
    }
  }
  return up == static_cast<int>(nodes.size()) ? 0 : 1;
}

// The node's error reply, without the probe's "reply: " prefix.
std::string ErrorText(const Status& s) {
  std::string m = s.message();
  return m.rfind("reply: ", 0) == 0 ? m.substr(7) : m;
}

// `distkv shard add-replica|remove-replica|transfer-leader SHARD NODE`: one
// admin command through the first node that answers.
int ShardCommand(const std::string& command, const std::string& dir, const std::string& config_flag,
                 const std::string& shard, const std::string& node, int timeout_ms) {
  auto config = LoadExisting(ConfigPath(dir, config_flag));
  if (!config.ok()) return Fail(config.status());
  std::string name = command == "add-replica"      ? "DKV.ADDREPLICA"
                     : command == "remove-replica" ? "DKV.REMOVEREPLICA"
                                                   : "DKV.TRANSFERLEADER";
  auto r = dkv::cluster::RunAdminCommand(*config, {name, shard, node}, timeout_ms);
  if (!r.ok()) {
    std::cerr << "distkv: shard " << command << " " << shard << " " << node << ": "
              << (r.status().IsAborted() ? ErrorText(r.status()) : r.status().ToString()) << "\n";
    return 1;
  }
  std::cout << "shard " << shard << ": " << command << " " << node << ": " << *r << "\n";
  return 0;
}

// Validates a cluster TOML and prints what it describes: for people editing
// the file by hand, before `up`.
int ClusterCheck(const std::string& dir, const std::string& config_flag) {
  const std::string path = ConfigPath(dir, config_flag);
  auto config = LoadExisting(path);
  if (!config.ok()) return Fail(config.status());
  std::cout << path << ": valid\n"
            << "cluster " << config->cluster_id << ", " << config->nodes.size() << " nodes, "
            << config->shards << " shards x " << config->replication_factor << " replicas, "
            << config->vnodes_per_shard << " vnodes per shard\n"
            << "raft: tick " << config->tick_interval_ms << " ms, election "
            << config->ElectionTicks() << " ticks, heartbeat " << config->HeartbeatTicks()
            << " ticks; max clock offset " << config->max_clock_offset_ms << " ms\n"
            << "data under " << config->data_dir << "\n";
  const auto placement = config->InitialPlacement();
  for (const auto& node : config->nodes) {
    int replicas = 0, preferred = 0;
    for (const auto& r : placement) {
      for (size_t i = 0; i < r.size(); i++) {
        if (r[i] == node.id) {
          replicas++;
          if (i == 0) preferred++;
        }
      }
    }
    std::cout << "node " << node.id << "  client " << node.client_addr << "  peer "
              << node.peer_addr << "  admin " << node.admin_port << "  replicas " << replicas
              << " (preferred leader of " << preferred << ")\n";
  }
  return 0;
}

// Prints the client addresses, comma separated, for scripts (kvload, redis-cli).
int ClusterEndpoints(const std::string& dir, const std::string& config_flag) {
  auto config = LoadExisting(ConfigPath(dir, config_flag));
  if (!config.ok()) return Fail(config.status());
  std::string out;
  for (const auto& node : config->nodes) out += (out.empty() ? "" : ",") + node.client_addr;
  std::cout << out << "\n";
  return 0;
}

int ClusterDown(const std::string& dir, const std::string& config_flag, int timeout_ms) {
  auto config = LoadExisting(ConfigPath(dir, config_flag));
  if (!config.ok()) return Fail(config.status());
  int failures = 0;
  for (const auto& node : config->nodes) {
    bool killed = false;
    auto pid = dkv::cluster::ReadPidFile(*config, node.id);
    Status s = dkv::cluster::StopNode(*config, node.id, timeout_ms, &killed);
    if (!s.ok()) {
      failures++;
      std::cerr << "distkv: " << s.ToString() << "\n";
    } else if (!pid) {
      std::cout << "node " << node.id << ": not running\n";
    } else {
      std::cout << "node " << node.id << ": stopped" << (killed ? " (SIGKILL after timeout)" : "")
                << "\n";
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"distkv: start, inspect and stop a local DistKV cluster"};
  app.require_subcommand(1);
  CLI::App* cluster = app.add_subcommand("cluster", "local cluster of distkv-server processes");
  cluster->require_subcommand(1);

  UpArgs up;
  CLI::App* up_cmd = cluster->add_subcommand("up", "write/read the cluster TOML and start nodes");
  up_cmd->add_option("--nodes", up.nodes, "nodes of a new cluster")->capture_default_str();
  up_cmd->add_option("--shards", up.shards, "shards of a new cluster")->capture_default_str();
  up_cmd->add_option("--dir", up.dir, "cluster directory (cluster.toml, node-N/)")
      ->capture_default_str();
  up_cmd->add_option("--config", up.config, "existing cluster TOML (its data_dir is used)");
  up_cmd->add_option("--server-bin", up.server_bin, "path of distkv-server");
  up_cmd->add_option("--loglevel", up.loglevel, "nodes' log level")->capture_default_str();
  up_cmd->add_option("--appendfsync", up.appendfsync, "always | everysec | no")
      ->capture_default_str();
  up_cmd->add_option("--ready-timeout-ms", up.ready_timeout_ms, "per node wait for PING")
      ->capture_default_str();
  up_cmd->add_option("--join", up.join,
                     "node ids started with --join: found nothing, wait for add-replica "
                     "(empty-disk replacement)");

  std::string dir = "./distkv-cluster", config_flag;
  bool json = false;
  int down_timeout_ms = 10'000;
  CLI::App* status_cmd = cluster->add_subcommand("status", "per node: up/down, address, keys");
  status_cmd->add_option("--dir", dir, "cluster directory")->capture_default_str();
  status_cmd->add_option("--config", config_flag, "cluster TOML");
  status_cmd->add_flag("--json", json, "one JSON object");
  CLI::App* down_cmd = cluster->add_subcommand("down", "SIGTERM every node, SIGKILL on timeout");
  down_cmd->add_option("--dir", dir, "cluster directory")->capture_default_str();
  down_cmd->add_option("--config", config_flag, "cluster TOML");
  down_cmd->add_option("--timeout-ms", down_timeout_ms, "wait after SIGTERM before SIGKILL")
      ->capture_default_str();

  CLI::App* endpoints_cmd =
      cluster->add_subcommand("endpoints", "print client addresses, comma separated");
  endpoints_cmd->add_option("--dir", dir, "cluster directory")->capture_default_str();
  endpoints_cmd->add_option("--config", config_flag, "cluster TOML");

  CLI::App* check_cmd = cluster->add_subcommand("check", "validate the cluster TOML, show it");
  check_cmd->add_option("--dir", dir, "cluster directory")->capture_default_str();
  check_cmd->add_option("--config", config_flag, "cluster TOML");

  CLI::App* shard_cmd = app.add_subcommand("shard", "change a shard's replicas or leader");
  shard_cmd->require_subcommand(1);
  std::string shard_arg, node_arg;
  int admin_timeout_ms = kDefaultAdminTimeoutMs;
  std::vector<std::pair<std::string, CLI::App*>> shard_subs;
  for (const auto& [sub, help] : std::vector<std::pair<std::string, std::string>>{
           {"add-replica", "add a replica of SHARD on NODE (joins empty, catches up, votes)"},
           {"remove-replica", "remove NODE's replica of SHARD (the node drops its data)"},
           {"transfer-leader", "make NODE the leader of SHARD"}}) {
    CLI::App* c = shard_cmd->add_subcommand(sub, help);
    c->add_option("--dir", dir, "cluster directory")->capture_default_str();
    c->add_option("--config", config_flag, "cluster TOML");
    c->add_option("--timeout-ms", admin_timeout_ms, "wait for the answer")->capture_default_str();
    c->add_option("SHARD", shard_arg, "shard id")->required();
    c->add_option("NODE", node_arg, "node id")->required();
    shard_subs.emplace_back(sub, c);
  }

  CLI11_PARSE(app, argc, argv);
  for (const auto& [sub, c] : shard_subs) {
    if (c->parsed()) {
      return ShardCommand(sub, dir, config_flag, shard_arg, node_arg, admin_timeout_ms);
    }
  }
  if (up_cmd->parsed()) return ClusterUp(up);
  if (status_cmd->parsed()) return ClusterStatus(dir, config_flag, json);
  if (check_cmd->parsed()) return ClusterCheck(dir, config_flag);
  if (endpoints_cmd->parsed()) return ClusterEndpoints(dir, config_flag);
  if (down_cmd->parsed()) return ClusterDown(dir, config_flag, down_timeout_ms);
  return 2;
}
