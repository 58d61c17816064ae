// ClusterServer: distkv-server in cluster mode (--cluster-config F --node-id
// N). It loads the cluster TOML, plans this node (cluster::PlanForNode),
// opens and runs the NodeRuntime (the raft loop thread), and serves RESP
// clients on the node's client address with ClusterConnection /
// ClusterCommands on the calling thread until SIGTERM or SIGINT.
//
// Threads: the caller's thread runs the client io_context (accept, parse,
// write); the runtime's thread runs Raft, routing and forwarding. Used by
// main() only; one per process.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace dkv::runtime {

// Runs the node until a signal asks it to stop; returns OK then, or the error
// that kept it from starting (bad config, unknown node id, data dir, ports,
// or a data dir that lost its founding marker in an existing cluster --
// see runtime/admin_founding.h). `join`: the node founds nothing and waits
// to be given replicas with DKV.ADDREPLICA (an empty-disk replacement).
// `requirepass`: clients must AUTH with it first (empty: no password).
Status RunClusterNode(const std::string& config_path, uint64_t node_id, bool join = false,
                      const std::string& requirepass = {});

}  // namespace dkv::runtime
