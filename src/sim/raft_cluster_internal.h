// The private pieces of RaftCluster shared by its three source files:
// raft_cluster.cc (nodes: Ready handling, invariants), raft_cluster_clients.cc
// (clients and the history) and raft_cluster_driver.cc (faults, healing and
// the final checks). Include only from those files. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/raft_cluster.h"

namespace dkv::sim {

// A client request as it travels to a node and waits there for its answer.
struct RaftCluster::Request {
  uint64_t client = 0;
  uint64_t request = 0;
  KvCommand command;
  bool read_index = false;  // a get served by ReadIndex rather than through the log
};

struct RaftCluster::Node {
  NodeId id = raft::kNoNode;
  bool original = false;  // one of the bootstrap voters
  std::unique_ptr<Disk> disk;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<raft::RawNode> raw;  // null while down
  bool up = false;
  bool removed = false;      // taken out of the group: stopped for good
  uint64_t incarnation = 0;  // bumped by every crash; stale callbacks check it
  bool ready_in_flight = false;

  // Volatile state, rebuilt from the disk on restart.
  KvStateMachine sm;
  uint64_t applied = 0;
  uint64_t last_commit = 0;
  uint64_t last_snapshot_index = 0;
  uint64_t completeness_term = 0;  // a leader-completeness check is due for this term
  std::map<std::string, std::shared_ptr<Request>> reads_by_context;
  std::vector<std::pair<uint64_t, std::shared_ptr<Request>>> reads_waiting;  // (read index, req)
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<Request>> writes;  // (client, request)
};

struct RaftCluster::Client {
  uint64_t id = 0;
  uint64_t next_request = 1;
  uint64_t outstanding = 0;  // request id in flight, 0 = none
  size_t op_index = 0;       // its Operation in history_
  EventLoop::EventId timeout = 0;
  NodeId leader_hint = raft::kNoNode;
  std::map<std::string, std::optional<std::string>> last_seen;  // for CAS expectations
};

}  // namespace dkv::sim
