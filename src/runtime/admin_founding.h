// Founding rules of a cluster node: whether NodeRuntime::Open may found the
// Raft groups of the config's initial placement, or must only recover what
// its data dir holds. A node founds at most once in its data dir's life: after
// founding it writes a marker (FOUNDED) into the data dir, so a restart never
// re-founds a replica that was removed since, and a node whose data dir was
// wiped (which forgot its votes and acknowledged entries) cannot silently
// found again once the cluster is "existing" -- it must be started with
// --join and get its replicas back by remove + add (docs/runtime.md).
// Plain functions on the file system; no state; call before the node runs.
#pragma once

#include <string>

#include "cluster/cluster_config.h"
#include "cluster/node_plan.h"
#include "common/status.h"
#include "node/node.h"

namespace dkv::runtime {

// The marker's file name inside the node's data dir.
inline constexpr const char* kFoundedMarkerName = "FOUNDED";

// How the node starts.
enum class StartMode {
  kFound,    // first start: found the initial placement's groups, then mark
  kRecover,  // founded before: recover the replicas on disk, found nothing
  kJoin,     // --join: found nothing, wait to be added (add-replica)
};

// What decides the start mode, gathered from the disk and the flags.
struct FoundingFacts {
  bool marker_exists = false;     // <data_dir>/FOUNDED
  bool has_raft_state = false;    // <data_dir>/raft exists (the node ran before)
  bool cluster_existing = false;  // config cluster_state = "existing"
  bool join = false;              // --join
};

// The start mode, or InvalidArgument (with the fix in the message) for a
// start that could break Raft's guarantees: a data dir without its marker in
// an existing cluster, started without --join.
Result<StartMode> DecideStartMode(const FoundingFacts& facts, uint64_t node_id,
                                  const std::string& data_dir);

// Reads the facts from `data_dir` and the config.
FoundingFacts GatherFoundingFacts(const cluster::ClusterConfig& config, const std::string& data_dir,
                                  bool join);

// Founds this node's replica of the metadata group (sharding/metadata.h)
// when the cluster is founded: in kFound mode, if the node is one of
// plan.metadata_voters and does not host it yet (a first start cut short
// founds what it had not). The group's first leader then writes the config's
// initial map as version 1. Other modes found nothing: a --join node or a
// node of a cluster founded before the group existed asks members instead.
// REQUIRES: before the marker is written and before the node runs.
Status FoundMetadataGroup(StartMode mode, const cluster::NodePlan& plan, node::Node* node);

// Writes <data_dir>/FOUNDED durably (temp file, fsync, rename, directory
// fsync). IOError on failure.
Status WriteFoundedMarker(const std::string& data_dir, const std::string& cluster_id,
                          uint64_t node_id);

}  // namespace dkv::runtime
