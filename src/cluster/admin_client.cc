#include "cluster/admin_client.h"

#include <charconv>
#include <cstdint>

#include "cluster/probe.h"

namespace dkv::cluster {

namespace {

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits on `sep`; an empty input is an empty list.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

bool ParseIds(std::string_view s, std::vector<NodeId>* out) {
  for (std::string_view part : Split(s, ',')) {
    uint64_t id = 0;
    if (!ParseU64(part, &id)) return false;
    out->push_back(id);
  }
  return true;
}

}  // namespace

Result<ShardState> ParseShardLine(std::string_view line) {
  const Status bad = Status::InvalidArgument("DKV.SHARDS line", std::string(line));
  ShardState st;
  bool has_shard = false;
  for (std::string_view field : Split(line, ' ')) {
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return bad;
    const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    bool ok = true;
    if (key == "shard") {
      uint64_t shard = 0;
      ok = ParseU64(value, &shard) && shard <= UINT32_MAX;
      st.shard = static_cast<ShardId>(shard);
      has_shard = ok;
    } else if (key == "leader") {
      ok = ParseU64(value, &st.leader);
    } else if (key == "term") {
      ok = ParseU64(value, &st.term);
    } else if (key == "applied") {
      ok = ParseU64(value, &st.applied);
    } else if (key == "voters") {
      ok = ParseIds(value, &st.voters);
    } else if (key == "learners") {
      ok = ParseIds(value, &st.learners);
    } else if (key == "map_version") {
      ok = ParseU64(value, &st.map_version);
    } else if (key == "replicas") {
      for (std::string_view r : Split(value, ',')) {
        std::vector<std::string_view> parts = Split(r, ':');
        ReplicaState rs;
        if (parts.size() != 3 || !ParseU64(parts[0], &rs.node) ||
            !ParseU64(parts[2], &rs.applied)) {
          return bad;
        }
        rs.role = std::string(parts[1]);
        st.replicas.push_back(std::move(rs));
      }
    }
    if (!ok) return bad;
  }
  if (!has_shard) return bad;
  return st;
}

Result<std::vector<ShardState>> QueryShards(const ClusterConfig& config, int timeout_ms,
                                            NodeId* asked) {
  Status last = Status::Unavailable("cluster " + config.cluster_id, "no node answered");
  for (const NodeConfig& n : config.nodes) {
    std::string host;
    int port = 0;
    DKV_RETURN_IF_ERROR(SplitHostPort(n.client_addr, &host, &port));
    Result<std::vector<std::string>> lines = RespCallLines(host, port, {"DKV.SHARDS"}, timeout_ms);
    if (!lines.ok()) {
      last = lines.status();
      continue;
    }
    std::vector<ShardState> out;
    for (const std::string& l : lines.value()) {
      DKV_ASSIGN_OR_RETURN(ShardState st, ParseShardLine(l));
      out.push_back(std::move(st));
    }
    if (asked != nullptr) *asked = n.id;
    return out;
  }
  return last;
}

Result<std::string> RunAdminCommand(const ClusterConfig& config,
                                    const std::vector<std::string>& argv, int timeout_ms) {
  Status last = Status::Unavailable("cluster " + config.cluster_id, "no node answered");
  for (const NodeConfig& n : config.nodes) {
    std::string host;
    int port = 0;
    DKV_RETURN_IF_ERROR(SplitHostPort(n.client_addr, &host, &port));
    Result<std::string> r = RespCall(host, port, argv, timeout_ms);
    // Only a node that could not be reached is skipped: once a node took the
    // command, its answer (even a timeout) is the command's.
    if (!r.ok() && r.status().IsUnavailable() &&
        r.status().ToString().find("closed before replying") == std::string::npos) {
      last = r.status();
      continue;
    }
    return r;
  }
  return last;
}

}  // namespace dkv::cluster
