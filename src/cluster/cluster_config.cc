#include "cluster/cluster_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace dkv::cluster {

namespace {

constexpr std::string_view kWhere = "cluster config";

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(kWhere, std::string(field) + ": " + std::string(what));
}

// Reads an integer key into *out, checking its range. Absent: *out unchanged.
Status ReadUint(const toml::table& t, std::string_view key, std::string_view field, uint64_t max,
                uint32_t* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  auto v = n->value<int64_t>();
  if (!n->is_integer() || !v) return Bad(field, "must be an integer");
  if (*v < 0 || static_cast<uint64_t>(*v) > max) {
    return Bad(field, std::to_string(*v) + " out of range 0.." + std::to_string(max));
  }
  *out = static_cast<uint32_t>(*v);
  return Status::OK();
}

Status ReadString(const toml::table& t, std::string_view key, std::string_view field,
                  std::string* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  if (!n->is_string()) return Bad(field, "must be a string");
  *out = *n->value<std::string>();
  return Status::OK();
}

// InvalidArgument for the first key of t not in `known`.
Status RejectUnknownKeys(const toml::table& t, std::string_view prefix,
                         std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : t) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      return Bad(std::string(prefix) + std::string(key.str()), "unknown key");
    }
  }
  return Status::OK();
}

Status ParseNode(const toml::table& t, size_t index, NodeConfig* node) {
  const std::string f = "nodes[" + std::to_string(index) + "].";
  DKV_RETURN_IF_ERROR(RejectUnknownKeys(t, f, {"id", "client_addr", "peer_addr", "admin_port"}));
  const toml::node* id = t.get("id");
  if (id == nullptr) return Bad(f + "id", "missing");
  auto idv = id->value<int64_t>();
  if (!id->is_integer() || !idv || *idv < 1) return Bad(f + "id", "must be an integer >= 1");
  node->id = static_cast<NodeId>(*idv);
  DKV_RETURN_IF_ERROR(ReadString(t, "client_addr", f + "client_addr", &node->client_addr));
  DKV_RETURN_IF_ERROR(ReadString(t, "peer_addr", f + "peer_addr", &node->peer_addr));
  uint32_t admin = 0;
  DKV_RETURN_IF_ERROR(ReadUint(t, "admin_port", f + "admin_port", 65535, &admin));
  node->admin_port = static_cast<int>(admin);
  return Status::OK();
}

std::string Quote(std::string_view s) {
  std::ostringstream out;
  out << toml::value<std::string>(std::string(s));
  return out.str();
}

}  // namespace

Status SplitHostPort(std::string_view addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument(addr, "expected host:port");
  }
  std::string_view h = addr.substr(0, colon);
  std::string_view p = addr.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return Status::InvalidArgument(addr, "empty host");
  int value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || end != p.data() + p.size() || value < 1 || value > 65535) {
    return Status::InvalidArgument(addr, "port must be 1..65535");
  }
  *host = std::string(h);
  *port = value;
  return Status::OK();
}

Status ClusterConfig::Validate() const {
  if (cluster_id.empty()) return Bad("cluster_id", "must not be empty");
  if (data_dir.empty()) return Bad("data_dir", "must not be empty");
  if (cluster_state != "new" && cluster_state != "existing") {
    return Bad("cluster_state", "must be \"new\" or \"existing\", not \"" + cluster_state + "\"");
  }
  if (nodes.empty()) return Bad("nodes", "at least one [[nodes]] entry is required");
  if (nodes.size() > kMaxNodes) {
    return Bad("nodes", std::to_string(nodes.size()) + " nodes, more than kMaxNodes " +
                            std::to_string(kMaxNodes));
  }
  std::set<NodeId> ids;
  // Every (host, port) a node listens on, to catch two listeners on one port.
  std::set<std::pair<std::string, int>> endpoints;
  for (size_t i = 0; i < nodes.size(); i++) {
    const NodeConfig& n = nodes[i];
    const std::string f = "nodes[" + std::to_string(i) + "].";
    if (n.id == sharding::kNoNode) return Bad(f + "id", "must be >= 1");
    if (!ids.insert(n.id).second) return Bad(f + "id", "duplicate id " + std::to_string(n.id));
    std::string client_host, peer_host;
    int client_port = 0, peer_port = 0;
    if (n.client_addr.empty()) return Bad(f + "client_addr", "missing");
    if (Status s = SplitHostPort(n.client_addr, &client_host, &client_port); !s.ok()) {
      return Bad(f + "client_addr", s.message());
    }
    if (n.peer_addr.empty()) return Bad(f + "peer_addr", "missing");
    if (Status s = SplitHostPort(n.peer_addr, &peer_host, &peer_port); !s.ok()) {
      return Bad(f + "peer_addr", s.message());
    }
    if (n.admin_port < 0 || n.admin_port > 65535) {
      return Bad(f + "admin_port", "must be 0..65535");
    }
    if (!endpoints.insert({client_host, client_port}).second) {
      return Bad(f + "client_addr", n.client_addr + " is used twice");
    }
    if (!endpoints.insert({peer_host, peer_port}).second) {
      return Bad(f + "peer_addr", n.peer_addr + " is used twice");
    }
    if (n.admin_port != 0 && !endpoints.insert({client_host, n.admin_port}).second) {
      return Bad(f + "admin_port",
                 std::to_string(n.admin_port) + " is used twice on " + client_host);
    }
  }
  if (shards < 1 || shards > sharding::kMaxShards) {
    return Bad("shards", "must be 1.." + std::to_string(sharding::kMaxShards));
  }
  if (replication_factor < 1) return Bad("replication_factor", "must be >= 1");
  if (replication_factor > sharding::kMaxReplicasPerShard) {
    return Bad("replication_factor",
               "must be <= " + std::to_string(sharding::kMaxReplicasPerShard));
  }
  if (replication_factor > nodes.size()) {
    return Bad("replication_factor", std::to_string(replication_factor) + " exceeds the " +
                                         std::to_string(nodes.size()) + " nodes");
  }
  if (vnodes_per_shard < 1 || vnodes_per_shard > sharding::kMaxVnodesPerShard) {
    return Bad("vnodes_per_shard", "must be 1.." + std::to_string(sharding::kMaxVnodesPerShard));
  }
  if (tick_interval_ms < 1) return Bad("raft.tick_interval_ms", "must be >= 1");
  if (election_timeout_ms > kMaxElectionTimeoutMs) {
    return Bad("raft.election_timeout_ms", "must be <= " + std::to_string(kMaxElectionTimeoutMs));
  }
  if (ElectionTicks() < kMinElectionTicks) {
    return Bad("raft.election_timeout_ms", "must be at least " + std::to_string(kMinElectionTicks) +
                                               " ticks of " + std::to_string(tick_interval_ms) +
                                               " ms");
  }
  if (heartbeat_interval_ms < tick_interval_ms) {
    return Bad("raft.heartbeat_interval_ms", "must be >= raft.tick_interval_ms");
  }
  if (heartbeat_interval_ms >= election_timeout_ms) {
    return Bad("raft.heartbeat_interval_ms", "must be < raft.election_timeout_ms");
  }
  if (max_clock_offset_ms < 1 || max_clock_offset_ms > kMaxClockOffsetMs) {
    return Bad("max_clock_offset_ms", "must be 1.." + std::to_string(kMaxClockOffsetMs));
  }
  return Status::OK();
}

const NodeConfig* ClusterConfig::FindNode(NodeId id) const {
  for (const NodeConfig& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string ClusterConfig::NodeDir(NodeId id) const {
  return data_dir + "/node-" + std::to_string(id);
}

std::vector<NodeId> ClusterConfig::SortedNodeIds() const {
  std::vector<NodeId> ids;
  for (const NodeConfig& n : nodes) ids.push_back(n.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::vector<NodeId>> ClusterConfig::InitialPlacement() const {
  const std::vector<NodeId> ids = SortedNodeIds();
  const size_t n = ids.size();
  DKV_ASSERT(n >= 1);
  DKV_ASSERT(replication_factor >= 1 && replication_factor <= n);
  // Preferred leaders go round-robin; the other replicas go to the least
  // loaded nodes, ties broken by distance after the leader in id order. Both
  // depend only on the config, so every node computes the same placement.
  std::vector<uint32_t> load(n, 0);
  std::vector<std::vector<NodeId>> placement(shards);
  for (uint32_t s = 0; s < shards; s++) {
    const size_t first = s % n;
    placement[s].push_back(ids[first]);
    load[first]++;
    std::vector<size_t> others;
    for (size_t d = 1; d < n; d++) others.push_back((first + d) % n);
    // stable_sort keeps the distance order among equally loaded nodes.
    std::stable_sort(others.begin(), others.end(),
                     [&](size_t a, size_t b) { return load[a] < load[b]; });
    for (uint32_t r = 1; r < replication_factor; r++) {
      placement[s].push_back(ids[others[r - 1]]);
      load[others[r - 1]]++;
    }
    DKV_ASSERT(placement[s].size() == replication_factor);
  }
  return placement;
}

Result<sharding::ShardMap> ClusterConfig::InitialShardMap() const {
  sharding::ShardMap map(vnodes_per_shard);
  const auto placement = InitialPlacement();
  for (uint32_t s = 0; s < shards; s++) {
    DKV_RETURN_IF_ERROR(map.AddShard(s, placement[s]));
  }
  return map;
}

std::string ClusterConfig::ToToml() const {
  std::ostringstream out;
  out << "# DistKV cluster description (docs/cluster.md).\n";
  out << "cluster_id = " << Quote(cluster_id) << "\n";
  out << "data_dir = " << Quote(data_dir) << "\n";
  out << "cluster_state = " << Quote(cluster_state) << "\n";
  out << "shards = " << shards << "\n";
  out << "replication_factor = " << replication_factor << "\n";
  out << "vnodes_per_shard = " << vnodes_per_shard << "\n";
  out << "max_clock_offset_ms = " << max_clock_offset_ms << "\n";
  out << "\n[raft]\n";
  out << "tick_interval_ms = " << tick_interval_ms << "\n";
  out << "election_timeout_ms = " << election_timeout_ms << "\n";
  out << "heartbeat_interval_ms = " << heartbeat_interval_ms << "\n";
  for (const NodeConfig& n : nodes) {
    out << "\n[[nodes]]\n";
    out << "id = " << n.id << "\n";
    out << "client_addr = " << Quote(n.client_addr) << "\n";
    out << "peer_addr = " << Quote(n.peer_addr) << "\n";
    out << "admin_port = " << n.admin_port << "\n";
  }
  return out.str();
}

Result<ClusterConfig> ParseClusterConfig(std::string_view toml_text, std::string_view origin) {
  toml::table t;
  try {
    t = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e.description() << " at line " << e.source().begin.line << " column "
        << e.source().begin.column;
    return Status::InvalidArgument(origin, msg.str());
  }
  ClusterConfig c;
  Status s = [&]() -> Status {
    DKV_RETURN_IF_ERROR(RejectUnknownKeys(
        t, "",
        {"cluster_id", "data_dir", "cluster_state", "shards", "replication_factor",
         "vnodes_per_shard", "max_clock_offset_ms", "raft", "nodes"}));
    DKV_RETURN_IF_ERROR(ReadString(t, "cluster_id", "cluster_id", &c.cluster_id));
    DKV_RETURN_IF_ERROR(ReadString(t, "data_dir", "data_dir", &c.data_dir));
    DKV_RETURN_IF_ERROR(ReadString(t, "cluster_state", "cluster_state", &c.cluster_state));
    DKV_RETURN_IF_ERROR(ReadUint(t, "shards", "shards", UINT32_MAX, &c.shards));
    DKV_RETURN_IF_ERROR(
        ReadUint(t, "replication_factor", "replication_factor", UINT32_MAX, &c.replication_factor));
    DKV_RETURN_IF_ERROR(
        ReadUint(t, "vnodes_per_shard", "vnodes_per_shard", UINT32_MAX, &c.vnodes_per_shard));
    DKV_RETURN_IF_ERROR(ReadUint(t, "max_clock_offset_ms", "max_clock_offset_ms", UINT32_MAX,
                                 &c.max_clock_offset_ms));
    if (const toml::node* raft = t.get("raft")) {
      const toml::table* rt = raft->as_table();
      if (rt == nullptr) return Bad("raft", "must be a table");
      DKV_RETURN_IF_ERROR(RejectUnknownKeys(
          *rt, "raft.", {"tick_interval_ms", "election_timeout_ms", "heartbeat_interval_ms"}));
      DKV_RETURN_IF_ERROR(ReadUint(*rt, "tick_interval_ms", "raft.tick_interval_ms", UINT32_MAX,
                                   &c.tick_interval_ms));
      DKV_RETURN_IF_ERROR(ReadUint(*rt, "election_timeout_ms", "raft.election_timeout_ms",
                                   UINT32_MAX, &c.election_timeout_ms));
      DKV_RETURN_IF_ERROR(ReadUint(*rt, "heartbeat_interval_ms", "raft.heartbeat_interval_ms",
                                   UINT32_MAX, &c.heartbeat_interval_ms));
    }
    const toml::node* nodes = t.get("nodes");
    if (nodes == nullptr) return Bad("nodes", "at least one [[nodes]] entry is required");
    const toml::array* arr = nodes->as_array();
    if (arr == nullptr) return Bad("nodes", "must be an array of tables ([[nodes]])");
    for (size_t i = 0; i < arr->size(); i++) {
      const toml::table* nt = (*arr)[i].as_table();
      if (nt == nullptr) return Bad("nodes[" + std::to_string(i) + "]", "must be a table");
      NodeConfig n;
      DKV_RETURN_IF_ERROR(ParseNode(*nt, i, &n));
      c.nodes.push_back(std::move(n));
    }
    return c.Validate();
  }();
  if (!s.ok()) return s.WithContext(origin);
  return c;
}

Result<ClusterConfig> LoadClusterConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path, "cannot open cluster config");
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      return Status::InvalidArgument(path, "larger than kMaxConfigFileBytes");
    }
  }
  DKV_ASSIGN_OR_RETURN(ClusterConfig config, ParseClusterConfig(text, path));
  // A relative data_dir is relative to the file, not to wherever the reader
  // happens to run, so every tool finds the same node directories.
  std::filesystem::path data_dir(config.data_dir);
  if (data_dir.is_relative()) {
    config.data_dir =
        (std::filesystem::absolute(path).parent_path() / data_dir).lexically_normal().string();
    if (config.data_dir.size() > 1 && config.data_dir.back() == '/') config.data_dir.pop_back();
  }
  return config;
}

Status WriteClusterConfig(const ClusterConfig& config, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IOError(tmp, "cannot create");
    out << config.ToToml();
    out.flush();
    if (!out) return Status::IOError(tmp, "write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(path, errno);
  return Status::OK();
}

Result<std::vector<int>> PickFreeLoopbackPorts(size_t count) {
  std::vector<int> fds;
  std::vector<int> ports;
  Status status;
  for (size_t i = 0; i < count; i++) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      status = Status::FromErrno("socket", errno);
      break;
    }
    fds.push_back(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      status = Status::FromErrno("bind 127.0.0.1:0", errno);
      break;
    }
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

Result<ClusterConfig> GenerateLocalConfig(uint32_t nodes, uint32_t shards,
                                          const std::string& data_dir) {
  if (nodes < 1 || nodes > kMaxNodes) {
    return Status::InvalidArgument("--nodes", "must be 1.." + std::to_string(kMaxNodes));
  }
  DKV_ASSIGN_OR_RETURN(std::vector<int> ports, PickFreeLoopbackPorts(size_t{3} * nodes));
  DKV_ASSERT(ports.size() == size_t{3} * nodes);
  ClusterConfig c;
  c.cluster_id = "local";
  c.data_dir = data_dir;
  c.shards = shards;
  c.replication_factor = std::min<uint32_t>(kDefaultReplicationFactor, nodes);
  for (uint32_t i = 0; i < nodes; i++) {
    NodeConfig n;
    n.id = i + 1;
    n.client_addr = "127.0.0.1:" + std::to_string(ports[3 * i]);
    n.peer_addr = "127.0.0.1:" + std::to_string(ports[3 * i + 1]);
    n.admin_port = ports[3 * i + 2];
    c.nodes.push_back(std::move(n));
  }
  DKV_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace dkv::cluster
