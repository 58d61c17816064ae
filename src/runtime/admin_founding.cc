#include "runtime/admin_founding.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace dkv::runtime {

namespace {

Status Errno(const std::string& what) { return Status::IOError(what, std::strerror(errno)); }

Status SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Errno("open " + path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync " + path);
  return Status::OK();
}

}  // namespace

Result<StartMode> DecideStartMode(const FoundingFacts& facts, uint64_t node_id,
                                  const std::string& data_dir) {
  if (facts.marker_exists) return StartMode::kRecover;
  if (facts.join) return StartMode::kJoin;
  if (facts.cluster_existing) {
    // The cluster was founded, and this data dir holds no proof that this
    // node founded with it: it was wiped or replaced, and founding again would
    // vote and acknowledge as if nothing had happened before.
    return Status::InvalidArgument(
        "node " + std::to_string(node_id),
        "data dir " + data_dir + " has no " + kFoundedMarkerName +
            " marker but the cluster is already founded (cluster_state = \"existing\"); "
            "founding its shards again could lose acknowledged writes. To replace this node's "
            "disk, start it with --join, then for each shard it hosted run `distkv shard "
            "remove-replica --config F SHARD " +
            std::to_string(node_id) + "` and `distkv shard add-replica --config F SHARD " +
            std::to_string(node_id) + "` (docs/runtime.md, \"Replacing a node's disk\")");
  }
  // A new cluster: first start, or a first start that stopped before the
  // marker was written (it founds the groups it has not founded yet; a
  // group it did found is on disk and is recovered, not founded twice).
  return StartMode::kFound;
}

FoundingFacts GatherFoundingFacts(const cluster::ClusterConfig& config, const std::string& data_dir,
                                  bool join) {
  std::error_code ec;
  FoundingFacts f;
  f.marker_exists = std::filesystem::exists(data_dir + "/" + kFoundedMarkerName, ec);
  f.has_raft_state = std::filesystem::exists(data_dir + "/raft", ec);
  f.cluster_existing = config.IsExisting();
  f.join = join;
  return f;
}

Status FoundMetadataGroup(StartMode mode, const cluster::NodePlan& plan, node::Node* node) {
  if (mode != StartMode::kFound) return Status::OK();
  const auto& voters = plan.metadata_voters;
  if (std::find(voters.begin(), voters.end(), plan.self) == voters.end()) return Status::OK();
  if (node->HasReplica(sharding::kMetadataGroupId)) return Status::OK();
  return node->CreateReplica(sharding::kMetadataGroupId,
                             std::vector<node::NodeId>(voters.begin(), voters.end()));
}

Status WriteFoundedMarker(const std::string& data_dir, const std::string& cluster_id,
                          uint64_t node_id) {
  const std::string path = data_dir + "/" + kFoundedMarkerName;
  const std::string tmp = path + ".tmp";
  const std::string text =
      "cluster_id=" + cluster_id + " node_id=" + std::to_string(node_id) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create " + tmp);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const bool ok = n == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Errno("write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename " + tmp);
  return SyncPath(data_dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace dkv::runtime
