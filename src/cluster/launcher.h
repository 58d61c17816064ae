// Launcher: starts, inspects and stops the distkv-server processes of a
// cluster described by a ClusterConfig, on this machine — what `distkv
// cluster up|status|down` do. Each node runs detached (its own session, so it
// outlives the distkv command), logs to <node dir>/server.log and is found
// again through <node dir>/server.pid. The flags a node is started with come
// from ServerArgs() alone, so switching from standalone servers to real
// cluster nodes is one change there. Stateless functions; each call touches
// only the files and processes of the nodes it is given. Not for concurrent
// use on the same cluster directory.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_config.h"
#include "common/status.h"

namespace dkv::cluster {

// How nodes are started. kStandalone: each node is an independent
// single-node distkv-server (no replication). kCluster: the node joins the
// cluster described by the config file (src/runtime, docs/runtime.md). The
// launcher uses kCurrentLaunchMode.
enum class LaunchMode { kStandalone, kCluster };
inline constexpr LaunchMode kCurrentLaunchMode = LaunchMode::kCluster;
const char* LaunchModeName(LaunchMode mode);

struct LaunchOptions {
  std::string server_bin;   // path of distkv-server
  std::string config_path;  // the cluster TOML the nodes are described by
  LaunchMode mode = kCurrentLaunchMode;
  std::string loglevel = "info";
  std::string appendfsync = "always";
  // Per node: how long `up` waits for PING before it gives up.
  int ready_timeout_ms = 20'000;
  // Nodes started with --join (cluster mode): they found nothing and wait to
  // be given replicas (an empty-disk replacement, docs/cluster.md).
  std::vector<NodeId> join_nodes;
};

// THE place that decides a node's command line (argv[0] = server_bin).
// REQUIRES: node is one of config.nodes.
std::vector<std::string> ServerArgs(const ClusterConfig& config, const NodeConfig& node,
                                    const LaunchOptions& options);

std::string PidFilePath(const ClusterConfig& config, NodeId id);
std::string LogFilePath(const ClusterConfig& config, NodeId id);

// The pid recorded for the node, if its pid file exists and parses.
std::optional<pid_t> ReadPidFile(const ClusterConfig& config, NodeId id);
// True if pid names a live (not zombie) process whose command line is a
// distkv-server — so a stale pid file never makes us signal a stranger.
bool IsServerProcess(pid_t pid);
// True if pid names a live (not zombie) process that is this node's server:
// started with this node's data dir (`--dir <node dir>/data`), whatever the
// binary is called (--server-bin may name a copy), or else a distkv-server.
bool IsNodeProcess(pid_t pid, const ClusterConfig& config, NodeId id);

// Starts the node detached and records its pid. Busy if its pid file names
// a live server already; NotFound if server_bin is not executable. Does not
// wait for the node to serve.
Result<pid_t> StartNode(const ClusterConfig& config, const NodeConfig& node,
                        const LaunchOptions& options);
// Waits until the node answers PING (OK) or the process died / the timeout
// passed (Unavailable/TimedOut, with the tail of its log).
Status WaitUntilReady(const ClusterConfig& config, const NodeConfig& node, pid_t pid,
                      int timeout_ms);

// Sends SIGTERM, waits up to term_timeout_ms, then SIGKILL; removes the pid
// file. OK if the node was not running. Sets *killed when SIGKILL was needed.
Status StopNode(const ClusterConfig& config, NodeId id, int term_timeout_ms, bool* killed);

// What `distkv cluster status` reports for one node.
struct NodeStatus {
  NodeId id = 0;
  std::string client_addr;
  std::optional<pid_t> pid;  // from the pid file
  bool process_alive = false;
  bool ping_ok = false;
  std::string ping_error;   // why PING failed, if it did
  std::string uptime_s;     // from INFO server
  std::string keys;         // from INFO keyspace
  std::string role;         // "standalone" until the cluster node reports its own
  int admin_http_code = 0;  // /health answer; 0 = no admin port or no answer
};
NodeStatus QueryNode(const ClusterConfig& config, const NodeConfig& node, int timeout_ms);

// Where to find distkv-server: `explicit_path` if given, else
// $DISTKV_SERVER, else next to the running executable, else the build
// tree's path compiled in (if any), else distkv-server found on $PATH, else
// "distkv-server" (StartNode then reports NotFound).
std::string FindServerBinary(const std::string& explicit_path, const std::string& self_exe,
                             const std::string& build_tree_path);

}  // namespace dkv::cluster
