#include "sharding/metadata.h"

#include <algorithm>
#include <charconv>

#include "common/assert.h"

namespace dkv::sharding {

namespace {

constexpr std::string_view kWhere = "shard map change";

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string JoinIds(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

bool ParseIds(std::string_view s, std::vector<NodeId>* out) {
  out->clear();
  while (true) {
    const size_t comma = s.find(',');
    uint64_t id = 0;
    if (!ParseU64(s.substr(0, comma), &id)) return false;
    out->push_back(id);
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

std::vector<NodeId> MetadataVoters(std::vector<NodeId> node_ids, uint32_t replication_factor) {
  DKV_ASSERT(!node_ids.empty());
  DKV_ASSERT(replication_factor >= 1);
  std::sort(node_ids.begin(), node_ids.end());
  const size_t want = std::min<size_t>(std::max<uint32_t>(3, replication_factor),
                                       std::min<size_t>(node_ids.size(), kMaxReplicasPerShard));
  node_ids.resize(want);
  return node_ids;
}

ShardMap FoundingMap(ShardMap initial) {
  initial.set_version(kFoundingMapVersion);
  return initial;
}

std::vector<std::string> MapChange::ToArgs() const {
  const std::string s = std::to_string(shard);
  switch (kind) {
    case Kind::kSync:
      return {"SYNC", s, JoinIds(nodes), std::to_string(leader)};
    case Kind::kAddReplica:
      DKV_ASSERT(nodes.size() == 1);
      return {"ADD", s, std::to_string(nodes[0])};
    case Kind::kRemoveReplica:
      DKV_ASSERT(nodes.size() == 1);
      return {"REMOVE", s, std::to_string(nodes[0])};
    case Kind::kSetLeaderHint:
      return {"LEADER", s, std::to_string(leader)};
  }
  DKV_ASSERT(false && "unknown map change kind");
  return {};
}

Result<MapChange> MapChange::FromArgs(const std::vector<std::string>& args) {
  const auto bad = [&args](const std::string& why) {
    std::string text;
    for (const std::string& a : args) text += (text.empty() ? "" : " ") + a;
    return Status::InvalidArgument(kWhere, why + ": '" + text + "'");
  };
  if (args.size() < 3) return bad("too few arguments");
  MapChange c;
  uint64_t shard = 0;
  if (!ParseU64(args[1], &shard) || shard >= kMaxShards) return bad("bad shard id");
  c.shard = static_cast<ShardId>(shard);
  const std::string& verb = args[0];
  uint64_t id = 0;
  if (verb == "SYNC") {
    if (args.size() != 4) return bad("SYNC takes a shard, replicas and a leader");
    if (!ParseIds(args[2], &c.nodes) || !ParseU64(args[3], &c.leader)) return bad("bad node ids");
    c.kind = Kind::kSync;
  } else if (verb == "ADD" || verb == "REMOVE" || verb == "LEADER") {
    if (args.size() != 3 || !ParseU64(args[2], &id)) return bad(verb + " takes a shard and a node");
    if (verb == "LEADER") {
      c.kind = Kind::kSetLeaderHint;
      c.leader = id;
    } else {
      c.kind = verb == "ADD" ? Kind::kAddReplica : Kind::kRemoveReplica;
      if (id == kNoNode) return bad("node id 0 is reserved");
      c.nodes = {id};
    }
  } else {
    return bad("unknown change");
  }
  if (c.nodes.size() > kMaxReplicasPerShard) return bad("too many replicas");
  return c;
}

Result<bool> ApplyMapChange(ShardMap* map, const MapChange& change) {
  const ShardInfo* s = map->Find(change.shard);
  if (s == nullptr) {
    return Status::NotFound(kWhere, "shard " + std::to_string(change.shard) + " not in the map");
  }
  const uint64_t version_before = map->version();
  std::vector<NodeId> replicas = s->replicas;
  NodeId leader = s->leader_hint;
  switch (change.kind) {
    case MapChange::Kind::kSync: {
      std::vector<NodeId> next;
      for (NodeId n : replicas) {
        if (Contains(change.nodes, n)) next.push_back(n);
      }
      for (NodeId n : change.nodes) {
        if (!Contains(next, n)) next.push_back(n);
      }
      replicas = std::move(next);
      if (change.leader != kNoNode) leader = change.leader;
      break;
    }
    case MapChange::Kind::kAddReplica:
      DKV_ASSERT(change.nodes.size() == 1);
      if (!Contains(replicas, change.nodes[0])) replicas.push_back(change.nodes[0]);
      break;
    case MapChange::Kind::kRemoveReplica:
      DKV_ASSERT(change.nodes.size() == 1);
      replicas.erase(std::remove(replicas.begin(), replicas.end(), change.nodes[0]),
                     replicas.end());
      break;
    case MapChange::Kind::kSetLeaderHint:
      leader = change.leader;
      break;
  }
  // A hint that names no replica is dropped, except when it is the change
  // itself: then SetLeaderHint refuses it below.
  if (change.kind != MapChange::Kind::kSetLeaderHint && !Contains(replicas, leader)) {
    leader = kNoNode;
  }
  // Check both parts before touching the map, so an error changes nothing.
  ShardMap next = *map;
  if (replicas != s->replicas) DKV_RETURN_IF_ERROR(next.SetReplicas(change.shard, replicas));
  if (leader != next.Find(change.shard)->leader_hint) {
    DKV_RETURN_IF_ERROR(next.SetLeaderHint(change.shard, leader));
  }
  *map = std::move(next);
  DKV_ASSERT(map->version() >= version_before);
  return map->version() != version_before;
}

}  // namespace dkv::sharding
