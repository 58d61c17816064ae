// ClusterHarness: a local DistKV cluster of real distkv-server processes in
// cluster mode (--cluster-config --node-id) for black-box tests. It generates
// the cluster TOML with the cluster library's local generator (free loopback
// ports, data in a fresh /tmp dir), starts, kills and restarts nodes, and in
// its destructor kills every process it started and removes the dir -- also
// when a test fails (children also get SIGKILL if the test process dies,
// through PR_SET_PDEATHSIG). Client is a small hiredis wrapper.
// HarnessOptions let a test change the generated config (e.g. addresses in
// network namespaces), give each node its own config file (e.g. peer addresses
// that point at a fault proxy) and start a node inside a network namespace.
// Tests only. One thread starts, signals and restarts nodes; the const methods
// (config, ids, ClientFor) may be called from other threads meanwhile.
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.h"

namespace dkv::runtime::testing {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One hiredis connection with a 10 s timeout (a hung server fails the test).
class Client {
 public:
  Client(const std::string& host, int port) {
    timeval tv{10, 0};
    ctx_ = redisConnectWithTimeout(host.c_str(), port, tv);
    if (ctx_ != nullptr && ctx_->err == 0) redisSetTimeout(ctx_, tv);
  }
  ~Client() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  // nullptr when the connection failed (then ok() turns false).
  Reply Call(const std::vector<std::string>& argv) {
    if (!ok()) return nullptr;
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data())));
  }

  // Sends all commands, then reads all replies (pipelining); a reply is
  // nullptr when the connection failed.
  std::vector<Reply> Pipeline(const std::vector<std::vector<std::string>>& commands) {
    std::vector<Reply> out;
    if (!ok()) return out;
    for (const auto& argv : commands) {
      std::vector<const char*> ptrs;
      std::vector<size_t> lens;
      for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    }
    for (size_t i = 0; i < commands.size(); i++) {
      void* r = nullptr;
      if (redisGetReply(ctx_, &r) != REDIS_OK) r = nullptr;
      out.emplace_back(static_cast<redisReply*>(r));
    }
    return out;
  }

  // "+OK"-style rendering for assertions: status/error text, integer, bulk,
  // "(nil)", or "[a,b]" for arrays; "<conn error>" when the connection failed.
  std::string Text(const std::vector<std::string>& argv) { return Render(Call(argv).get()); }

  static std::string Render(const redisReply* r) {
    if (r == nullptr) return "<conn error>";
    switch (r->type) {
      case REDIS_REPLY_STATUS:
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_ERROR:
        return std::string(r->str, r->len);
      case REDIS_REPLY_INTEGER:
        return std::to_string(r->integer);
      case REDIS_REPLY_NIL:
        return "(nil)";
      case REDIS_REPLY_ARRAY: {
        std::string s = "[";
        for (size_t i = 0; i < r->elements; i++) {
          if (i > 0) s += ",";
          s += Render(r->element[i]);
        }
        return s + "]";
      }
      default:
        return "<type " + std::to_string(r->type) + ">";
    }
  }

 private:
  redisContext* ctx_ = nullptr;
};

// Ways to start a cluster other than the default one (all optional).
struct HarnessOptions {
  // Edits the generated config (free loopback ports, fast Raft timing) before
  // anything uses it, e.g. to put each node on its own address. The result is
  // what config() returns and where clients connect.
  std::function<void(cluster::ClusterConfig&)> edit_config;
  // The config node `id` is started with, given config(): e.g. with the other
  // nodes' peer addresses pointing at a fault proxy. Empty: config() itself.
  std::function<cluster::ClusterConfig(uint64_t id, const cluster::ClusterConfig&)> node_config;
  // A network namespace file (e.g. /var/run/netns/NAME) node `id` runs in;
  // "" for the test's own namespace. Empty function: every node in ours.
  std::function<std::string(uint64_t id)> netns_path;
};

class ClusterHarness {
 public:
  // Fast Raft timing for tests: 20 ms ticks, 400 ms election timeout.
  ClusterHarness(uint32_t nodes, uint32_t shards) : ClusterHarness(nodes, shards, nullptr) {}
  // `edit` (may be null) changes the generated config before it is written.
  ClusterHarness(uint32_t nodes, uint32_t shards,
                 const std::function<void(cluster::ClusterConfig&)>& edit)
      : ClusterHarness(nodes, shards, EditOnly(edit)) {}
  ClusterHarness(uint32_t nodes, uint32_t shards, HarnessOptions options)
      : options_(std::move(options)) {
    char tmpl[] = "/tmp/dkv-cluster-runtime-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    try {
      auto cfg = cluster::GenerateLocalConfig(nodes, shards, dir_ + "/data");
      if (!cfg.ok()) throw std::runtime_error(cfg.status().ToString());
      config_ = cfg.value();
      config_.tick_interval_ms = 20;
      config_.election_timeout_ms = 400;
      config_.heartbeat_interval_ms = 40;
      if (options_.edit_config) options_.edit_config(config_);
      config_path_ = dir_ + "/cluster.toml";
      Status s = cluster::WriteClusterConfig(config_, config_path_);
      if (!s.ok()) throw std::runtime_error(s.ToString());
      if (options_.node_config) {
        for (const auto& n : config_.nodes) {
          const std::string path = NodeConfigPath(n.id);
          s = cluster::WriteClusterConfig(options_.node_config(n.id, config_), path);
          if (!s.ok()) throw std::runtime_error(s.ToString());
        }
      }
      for (const auto& n : config_.nodes) Start(n.id);
      for (const auto& n : config_.nodes) WaitReady(n.id);
    } catch (...) {
      Cleanup();
      throw;
    }
  }
  ~ClusterHarness() { Cleanup(); }
  ClusterHarness(const ClusterHarness&) = delete;
  ClusterHarness& operator=(const ClusterHarness&) = delete;

  const cluster::ClusterConfig& config() const { return config_; }
  std::vector<uint64_t> ids() const { return config_.SortedNodeIds(); }

  const std::string& config_path() const { return config_path_; }
  // Rewrites the config file the nodes read at their next start.
  // REQUIRES: no HarnessOptions::node_config (per-node files are not rewritten).
  void RewriteConfig(const cluster::ClusterConfig& config) {
    if (options_.node_config) throw std::runtime_error("RewriteConfig with per-node configs");
    config_ = config;
    Status s = cluster::WriteClusterConfig(config_, config_path_);
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  // Whether the node's process is still running (reaps it if it exited).
  bool Running(uint64_t id) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return false;
    int status = 0;
    if (::waitpid(it->second, &status, WNOHANG) == it->second) {
      pids_.erase(it);
      return false;
    }
    return true;
  }

  void Start(uint64_t id, const std::vector<std::string>& extra_args = {}) {
    const std::string log = dir_ + "/node-" + std::to_string(id) + ".log";
    const std::string config = options_.node_config ? NodeConfigPath(id) : config_path_;
    std::vector<std::string> args = {DISTKV_SERVER_PATH, "--cluster-config", config, "--node-id",
                                     std::to_string(id), "--loglevel",       "warn"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    // The namespace is opened before fork: the child only makes syscalls.
    int netns_fd = -1;
    const std::string netns = options_.netns_path ? options_.netns_path(id) : "";
    if (!netns.empty()) {
      netns_fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (netns_fd < 0) throw std::runtime_error("cannot open " + netns);
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      if (netns_fd >= 0) ::close(netns_fd);
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      // Nothing else of the test process may live on in the node: a socket of
      // a fault proxy or of another thread's client, inherited here, would stay
      // open after the test closed it, so its peer would never see the close.
      ::close_range(3, ~0U, 0);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    if (netns_fd >= 0) ::close(netns_fd);
    pids_[id] = pid;
  }

  // Waits (bounded, 20 s) until the node answers PING.
  void WaitReady(uint64_t id) {
    for (int i = 0; i < 400; i++) {
      int status = 0;
      if (::waitpid(pids_.at(id), &status, WNOHANG) == pids_.at(id)) {
        pids_.erase(id);
        throw std::runtime_error("node " + std::to_string(id) + " exited: " + Log(id));
      }
      Client c = ClientFor(id);
      if (c.ok() && c.Text({"PING"}) == "PONG") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("node " + std::to_string(id) + " never answered PING");
  }

  // Sends `sig` (SIGKILL: and reaps it).
  void Signal(uint64_t id, int sig) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return;
    ::kill(it->second, sig);
    if (sig == SIGKILL) {
      ::waitpid(it->second, nullptr, 0);
      pids_.erase(it);
    }
  }

  Client ClientFor(uint64_t id) const {
    const cluster::NodeConfig* n = config_.FindNode(id);
    std::string host;
    int port = 0;
    Status s = cluster::SplitHostPort(n->client_addr, &host, &port);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    return Client(host, port);
  }

  std::string Log(uint64_t id) const {
    std::string path = dir_ + "/node-" + std::to_string(id) + ".log";
    FILE* f = ::fopen(path.c_str(), "r");
    if (f == nullptr) return "";
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = ::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    ::fclose(f);
    if (out.size() > 4000) out = out.substr(out.size() - 4000);
    return out;
  }

 private:
  static HarnessOptions EditOnly(const std::function<void(cluster::ClusterConfig&)>& edit) {
    HarnessOptions o;
    o.edit_config = edit;
    return o;
  }

  std::string NodeConfigPath(uint64_t id) const {
    return dir_ + "/cluster-node-" + std::to_string(id) + ".toml";
  }

  void Cleanup() {
    for (auto& [id, pid] : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    pids_.clear();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  HarnessOptions options_;
  std::string dir_;
  std::string config_path_;
  cluster::ClusterConfig config_;
  std::map<uint64_t, pid_t> pids_;
};

}  // namespace dkv::runtime::testing
