#include "cluster/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cluster/probe.h"

namespace dkv::cluster {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Polling interval while waiting for a node to answer or to exit: short
// enough that `up`/`down` feel immediate, long enough not to spin.
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// Time a single PING during readiness polling may take.
constexpr int kPingTimeoutMs = 500;
// How long to wait for a process to vanish after SIGKILL.
constexpr int kKillWaitMs = 5'000;
// Log lines quoted when a node fails to start.
constexpr size_t kLogTailBytes = 2000;

std::string LogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > kLogTailBytes) s = s.substr(s.size() - kLogTailBytes);
  return s;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True once pid is gone or a zombie (a zombie no longer runs; its parent,
// which may be init in a container that does not reap, owns the entry).
bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::string stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

bool WaitGone(pid_t pid, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!ProcessGone(pid)) {
    // We may be the parent (tests start nodes from the same process): reap.
    ::waitpid(pid, nullptr, WNOHANG);
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

}  // namespace

const char* LaunchModeName(LaunchMode mode) {
  return mode == LaunchMode::kStandalone ? "standalone" : "cluster";
}

std::vector<std::string> ServerArgs(const ClusterConfig& config, const NodeConfig& node,
                                    const LaunchOptions& options) {
  DKV_ASSERT(config.FindNode(node.id) != nullptr);
  std::string host;
  int port = 0;
  Status s = SplitHostPort(node.client_addr, &host, &port);
  DKV_ASSERT(s.ok());  // Validate() checked it
  std::vector<std::string> args = {options.server_bin,
                                   "--bind",
                                   host,
                                   "--port",
                                   std::to_string(port),
                                   "--dir",
                                   config.NodeDir(node.id) + "/data",
                                   "--loglevel",
                                   options.loglevel,
                                   "--appendfsync",
                                   options.appendfsync};
  if (node.admin_port != 0) {
    args.push_back("--admin-port");
    args.push_back(std::to_string(node.admin_port));
  }
  if (options.mode == LaunchMode::kCluster) {
    // The multi-Raft node reads peers, shards and timing from the file.
    args.push_back("--cluster-config");
    args.push_back(options.config_path);
    args.push_back("--node-id");
    args.push_back(std::to_string(node.id));
    if (std::find(options.join_nodes.begin(), options.join_nodes.end(), node.id) !=
        options.join_nodes.end()) {
      args.push_back("--join");
    }
  }
  return args;
}

std::string PidFilePath(const ClusterConfig& config, NodeId id) {
  return config.NodeDir(id) + "/server.pid";
}

std::string LogFilePath(const ClusterConfig& config, NodeId id) {
  return config.NodeDir(id) + "/server.log";
}

std::optional<pid_t> ReadPidFile(const ClusterConfig& config, NodeId id) {
  std::string text = ReadSmallFile(PidFilePath(config, id));
  char* end = nullptr;
  long pid = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || pid <= 0 || end == text.c_str()) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool IsServerProcess(pid_t pid) {
  if (pid <= 0 || ProcessGone(pid)) return false;
  std::string cmdline = ReadSmallFile("/proc/" + std::to_string(pid) + "/cmdline");
  // argv[0] is the first NUL-terminated field.
  std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
  return argv0.find("distkv-server") != std::string::npos;
}

bool IsNodeProcess(pid_t pid, const ClusterConfig& config, NodeId id) {
  if (pid <= 0 || ProcessGone(pid)) return false;
  const std::string cmdline = ReadSmallFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  for (size_t pos = 0; pos < cmdline.size();) {
    const size_t end = std::min(cmdline.find('\0', pos), cmdline.size());
    args.push_back(cmdline.substr(pos, end - pos));
    pos = end + 1;
  }
  const std::string data_dir = config.NodeDir(id) + "/data";
  for (size_t i = 0; i + 1 < args.size(); i++) {
    if (args[i] == "--dir" && args[i + 1] == data_dir) return true;
  }
  return !args.empty() && args[0].find("distkv-server") != std::string::npos;
}

Result<pid_t> StartNode(const ClusterConfig& config, const NodeConfig& node,
                        const LaunchOptions& options) {
  const std::string where = "node " + std::to_string(node.id);
  if (auto old = ReadPidFile(config, node.id); old && IsNodeProcess(*old, config, node.id)) {
    return Status::Busy(where, "already running as pid " + std::to_string(*old));
  }
  std::error_code ec;
  fs::create_directories(config.NodeDir(node.id) + "/data", ec);
  if (ec) return Status::IOError(config.NodeDir(node.id), ec.message());
  if (::access(options.server_bin.c_str(), X_OK) != 0) {
    return Status::NotFound(options.server_bin, "distkv-server not found or not executable");
  }
  const std::vector<std::string> args = ServerArgs(config, node, options);
  const std::string log_path = LogFilePath(config, node.id);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::FromErrno(log_path, errno);

  // Double fork: the middle child starts a new session and forks the server,
  // then exits, so the server is nobody's child here and outlives distkv.
  // The server's pid comes back through a pipe.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return Status::FromErrno("pipe", errno);
  }
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t middle = ::fork();
  if (middle < 0) {
    ::close(log_fd);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return Status::FromErrno("fork", errno);
  }
  if (middle == 0) {
    // Only async-signal-safe calls from here on.
    ::setsid();
    pid_t server = ::fork();
    if (server == 0) {
      int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(argv[0], argv.data());
      const char msg[] = "distkv: exec of distkv-server failed\n";
      ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
      (void)ignored;
      ::_exit(127);
    }
    ssize_t ignored = ::write(pipefd[1], &server, sizeof(server));
    (void)ignored;
    ::_exit(server > 0 ? 0 : 1);
  }
  ::close(log_fd);
  ::close(pipefd[1]);
  pid_t server = -1;
  ssize_t n = ::read(pipefd[0], &server, sizeof(server));
  ::close(pipefd[0]);
  int wstatus = 0;
  ::waitpid(middle, &wstatus, 0);
  if (n != sizeof(server) || server <= 0)
    return Status::IOError(where, "fork of the server failed");

  const std::string pid_path = PidFilePath(config, node.id);
  {
    std::ofstream out(pid_path + ".tmp", std::ios::trunc);
    out << server << "\n";
    if (!out) return Status::IOError(pid_path, "cannot write pid file");
  }
  if (std::rename((pid_path + ".tmp").c_str(), pid_path.c_str()) != 0) {
    return Status::FromErrno(pid_path, errno);
  }
  return server;
}

Status WaitUntilReady(const ClusterConfig& config, const NodeConfig& node, pid_t pid,
                      int timeout_ms) {
  const std::string where = "node " + std::to_string(node.id) + " (" + node.client_addr + ")";
  std::string host;
  int port = 0;
  DKV_RETURN_IF_ERROR(SplitHostPort(node.client_addr, &host, &port));
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Status last;
  while (true) {
    auto pong = RespCall(host, port, {"PING"}, kPingTimeoutMs);
    if (pong.ok() && *pong == "PONG") return Status::OK();
    last = pong.ok() ? Status::Corruption("PING", "answered " + *pong) : pong.status();
    if (ProcessGone(pid)) {
      return Status::Unavailable(where, "exited during start; log " + LogFilePath(config, node.id) +
                                            " ends:\n" + LogTail(LogFilePath(config, node.id)));
    }
    if (Clock::now() >= deadline) {
      return Status::TimedOut(
          where, "no PONG within " + std::to_string(timeout_ms) + " ms: " + last.ToString());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status StopNode(const ClusterConfig& config, NodeId id, int term_timeout_ms, bool* killed) {
  *killed = false;
  const std::string where = "node " + std::to_string(id);
  std::optional<pid_t> pid = ReadPidFile(config, id);
  if (pid && IsNodeProcess(*pid, config, id)) {
    if (::kill(*pid, SIGTERM) != 0 && errno != ESRCH) return Status::FromErrno(where, errno);
    if (!WaitGone(*pid, term_timeout_ms)) {
      *killed = true;
      ::kill(*pid, SIGKILL);
      if (!WaitGone(*pid, kKillWaitMs)) {
        return Status::Busy(where, "pid " + std::to_string(*pid) + " survived SIGKILL");
      }
    }
  }
  std::error_code ec;
  fs::remove(PidFilePath(config, id), ec);
  if (ec) return Status::IOError(PidFilePath(config, id), ec.message());
  return Status::OK();
}

NodeStatus QueryNode(const ClusterConfig& config, const NodeConfig& node, int timeout_ms) {
  NodeStatus st;
  st.id = node.id;
  st.client_addr = node.client_addr;
  st.pid = ReadPidFile(config, node.id);
  st.process_alive = st.pid && IsNodeProcess(*st.pid, config, node.id);
  std::string host;
  int port = 0;
  if (!SplitHostPort(node.client_addr, &host, &port).ok()) return st;
  auto pong = RespCall(host, port, {"PING"}, timeout_ms);
  st.ping_ok = pong.ok() && *pong == "PONG";
  if (!st.ping_ok) st.ping_error = pong.ok() ? "answered " + *pong : pong.status().ToString();
  if (st.ping_ok) {
    auto info = RespCall(host, port, {"INFO"}, timeout_ms);
    if (info.ok()) {
      auto fields = ParseInfo(*info);
      st.uptime_s = fields["uptime_in_seconds"];
      // "db0:keys=N,expires=M,..."
      const std::string& db0 = fields["db0"];
      if (db0.rfind("keys=", 0) == 0) st.keys = db0.substr(5, db0.find(',') - 5);
      if (st.keys.empty()) st.keys = "0";
      st.role = fields.count("cluster_role") ? fields["cluster_role"] : "standalone";
    }
  }
  if (node.admin_port != 0) {
    std::string body;
    auto code = HttpGet(host, node.admin_port, "/health", timeout_ms, &body);
    if (code.ok()) st.admin_http_code = *code;
  }
  return st;
}

std::string FindServerBinary(const std::string& explicit_path, const std::string& self_exe,
                             const std::string& build_tree_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("DISTKV_SERVER"); env != nullptr && *env != '\0') return env;
  if (!self_exe.empty()) {
    fs::path sibling = fs::path(self_exe).parent_path() / "distkv-server";
    if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
  }
  if (!build_tree_path.empty() && ::access(build_tree_path.c_str(), X_OK) == 0) {
    return build_tree_path;
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      fs::path candidate = fs::path(dir.empty() ? "." : dir) / "distkv-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "distkv-server";
}

}  // namespace dkv::cluster
