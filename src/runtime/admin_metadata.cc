// AdminService's part that keeps the replicated shard map: adopting newer
// versions, the metadata leader's read-modify-write of the map, and the fix
// a data shard's leader proposes when the map disagrees with its live
// membership. The rules are in docs/sharding.md ("The metadata group").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/assert.h"
#include "raft/types.h"
#include "runtime/admin_commands.h"
#include "runtime/limits.h"

namespace dkv::runtime {

namespace {

using sharding::kMetadataGroupId;
using sharding::kShardMapKey;
using sharding::MapChange;
using sharding::ShardMap;

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

std::string Encode(const ShardReply& r) { return EncodeShardReply(r); }

ShardReply Values(std::vector<std::optional<std::string>> values) {
  ShardReply r;
  r.kind = ShardReply::Kind::kValues;
  r.values = std::move(values);
  return r;
}

ShardReply Retry() {
  ShardReply r;
  r.kind = ShardReply::Kind::kNoLeader;
  return r;
}

std::vector<NodeId> Sorted(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

constexpr std::string_view kMapVersionField = "map_version=";

}  // namespace

std::vector<std::string> AdminService::ShardMapLines() {
  std::vector<std::string> lines;
  // The head line also says who holds the map: the metadata group's voters
  // and leader as this node knows them, and this node's role in it.
  std::string role = "none";
  NodeId meta_leader = router_->LeaderHint(kMetadataGroupId);
  std::vector<NodeId> meta_voters = router_->Members(kMetadataGroupId);
  node::Node& node = runtime_->node();
  if (node.HasReplica(kMetadataGroupId)) {
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(kMetadataGroupId);
    if (st.ok()) {
      role = raft::RoleName(st.value().role);
      meta_leader = st.value().leader;
      meta_voters = st.value().conf.voters;
    }
  }
  lines.push_back("version=" + std::to_string(map_.version()) +
                  " vnodes=" + std::to_string(map_.vnodes_per_shard()) + " shards=" +
                  std::to_string(map_.shards().size()) + " meta_voters=" + JoinIds(meta_voters) +
                  " meta_leader=" + std::to_string(meta_leader) + " meta_role=" + role);
  for (const sharding::ShardInfo& s : map_.shards()) {
    lines.push_back("shard=" + std::to_string(s.id) + " replicas=" + JoinIds(s.replicas) +
                    " leader=" + std::to_string(s.leader_hint));
  }
  return lines;
}

void AdminService::AdoptMap(const ShardMap& map, const char* source) {
  if (map.version() <= map_.version()) return;
  if (map.vnodes_per_shard() != config_.vnodes_per_shard || map.shards().size() != config_.shards) {
    // The ring does not change yet (docs/runtime.md): routing keeps the
    // config's ring, and only members and hints come from the map.
    spdlog::warn("shard map version {} has {} shards x {} vnodes, the config {} x {}",
                 map.version(), map.shards().size(), map.vnodes_per_shard(), config_.shards,
                 config_.vnodes_per_shard);
  }
  // Only the shards whose entry changed: for the others the router may know
  // fresher live views (its own replica, a peer's answer) than the map.
  for (const sharding::ShardInfo& s : map.shards()) {
    const sharding::ShardInfo* old = map_.Find(s.id);
    if (old != nullptr && *old == s) continue;
    router_->SetMembers(s.id, s.replicas, s.leader_hint);
  }
  spdlog::info("shard map version {} (was {}), from {}", map.version(), map_.version(), source);
  map_ = map;
}

void AdminService::AdoptEncodedMap(std::string_view bytes, const char* source) {
  Result<ShardMap> m = ShardMap::Decode(bytes);
  if (!m.ok()) {
    spdlog::error("shard map from {} ignored: {}", source, m.status().ToString());
    return;
  }
  AdoptMap(m.value(), source);
}

void AdminService::MetaHousekeeping() {
  node::Node& node = runtime_->node();
  const NodeId self = runtime_->self();
  if (node.HasReplica(kMetadataGroupId)) {
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(kMetadataGroupId);
    if (st.ok() && st.value().applied != meta_applied_seen_) {
      // Any replica may read its own applied state: the map it holds is a
      // committed version, perhaps not the newest (versions only go up).
      Result<node::ReadResult> r = node.LocalRead(kMetadataGroupId, kShardMapKey);
      if (r.ok()) {
        meta_applied_seen_ = st.value().applied;
        if (r.value().found) AdoptEncodedMap(r.value().value, "the local metadata replica");
      }
    }
    // The founding write: a leader that has seen no map yet reads the
    // group's value and writes the config's initial map if there is none.
    if (st.ok() && st.value().role == raft::Role::kLeader && map_.version() == 0 && !meta_busy_) {
      RunMetaQueue();
    }
  } else {
    PollMap(/*now=*/false);
  }
  if (map_.version() == 0) return;  // never propose changes to a map we have not seen
  // The data groups' live membership is the truth; the map follows it. Each
  // shard's leader proposes the fix of its entry when they differ (e.g. after
  // a crash between a conf change and its map update) and its own hint.
  const auto now = std::chrono::steady_clock::now();
  for (ShardId shard : node.Shards()) {
    if (shard >= config_.shards) continue;
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
    if (!st.ok() || st.value().role != raft::Role::kLeader) continue;
    const sharding::ShardInfo* info = map_.Find(static_cast<sharding::ShardId>(shard));
    if (info == nullptr || st.value().conf.voters.empty()) continue;
    const std::vector<NodeId> voters = Sorted(st.value().conf.voters);
    if (voters == Sorted(info->replicas) && info->leader_hint == self) continue;
    auto& last = last_map_sync_[shard];
    if (now - last < kMapSyncInterval || map_sync_inflight_.count(shard) > 0) continue;
    last = now;
    map_sync_inflight_.insert(shard);
    MapChange c;
    c.kind = MapChange::Kind::kSync;
    c.shard = static_cast<sharding::ShardId>(shard);
    c.nodes = voters;
    c.leader = self;
    // One fix per shard in flight: while the metadata group is down they
    // would otherwise pile up, one more every kMapSyncInterval.
    ProposeMapChange(c, [this, shard](Status s) {
      map_sync_inflight_.erase(shard);
      if (!s.ok()) spdlog::info("shard {}: map entry not updated yet: {}", shard, s.ToString());
    });
  }
}

void AdminService::PollMap(bool now) {
  const auto t = std::chrono::steady_clock::now();
  if (!now && t - last_map_poll_ < kMapPollInterval) return;
  last_map_poll_ = t;
  const NodeId self = runtime_->self();
  for (size_t i = 0; i < meta_voters_.size(); i++) {
    const NodeId n = meta_voters_[(map_poll_attempt_ + i) % meta_voters_.size()];
    if (n == self) continue;
    map_poll_attempt_++;
    return FetchMap(n);
  }
}

void AdminService::FetchMap(NodeId node) {
  CallNode(node, kMetadataGroupId, {"ADMIN", "MAP", std::to_string(map_.version())},
           [this, node](ShardReply r) {
             if (r.kind != ShardReply::Kind::kValues || r.values.size() != 1 || !r.values[0]) {
               return;  // not newer, or the node did not answer: the next poll asks again
             }
             const std::string source = "node " + std::to_string(node);
             AdoptEncodedMap(*r.values[0], source.c_str());
           });
}

void AdminService::NotePeerMapVersion(NodeId from, std::string_view line) {
  uint64_t version = 0;
  if (line.substr(0, kMapVersionField.size()) != kMapVersionField ||
      !ParseU64(line.substr(kMapVersionField.size()), &version)) {
    return;
  }
  if (version > map_.version()) FetchMap(from);
}

void AdminService::ProposeMapChange(const MapChange& change, std::function<void(Status)> done) {
  std::vector<std::string> args = {"ADMIN", "META"};
  for (std::string& a : change.ToArgs()) args.push_back(std::move(a));
  CallLeader(
      kMetadataGroupId, std::move(args),
      [this, done](ShardReply r) {
        if (r.kind == ShardReply::Kind::kError)
          return done(Status::Unavailable("shard map", r.error));
        if (r.kind == ShardReply::Kind::kValues && r.values.size() == 1 && r.values[0]) {
          AdoptEncodedMap(*r.values[0], "the metadata leader");
        }
        done(Status::OK());
      },
      kMapUpdateWait);
}

void AdminService::ServeMeta(std::vector<std::string> args,
                             std::function<void(std::string)> respond) {
  DKV_ASSERT(args.size() >= 2);
  if (args[1] == "MAP") {
    uint64_t have = 0;
    if (args.size() != 3 || !ParseU64(args[2], &have)) {
      return respond(Encode(ShardReply::Error("ERR bad admin request: MAP arguments")));
    }
    if (map_.version() <= have) return respond(Encode(Values({})));
    return respond(Encode(Values({map_.Encode()})));
  }
  DKV_ASSERT(args[1] == "META");
  node::Node& node = runtime_->node();
  if (!node.HasReplica(kMetadataGroupId) || node.LeaderOf(kMetadataGroupId) != runtime_->self()) {
    return respond(Encode(NotLeaderReply(kMetadataGroupId)));
  }
  Result<MapChange> change =
      MapChange::FromArgs(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!change.ok()) {
    return respond(
        Encode(ShardReply::Error("ERR bad admin request: " + change.status().ToString())));
  }
  meta_queue_.push_back(MetaChangeRequest{std::move(change.value()), std::move(respond)});
  RunMetaQueue();
}

void AdminService::RunMetaQueue() {
  if (meta_busy_) return;  // the running one starts the next when it ends
  node::Node& node = runtime_->node();
  if (!node.HasReplica(kMetadataGroupId) || node.LeaderOf(kMetadataGroupId) != runtime_->self()) {
    auto queued = std::move(meta_queue_);
    meta_queue_.clear();
    for (MetaChangeRequest& q : queued) q.respond(Encode(NotLeaderReply(kMetadataGroupId)));
    return;
  }
  // Every change queued so far is applied to ONE linearizable read of the map
  // and written back as one entry. Only one such cycle runs at a time here,
  // and a leader of a later term reads only after its term's first commit,
  // so no change is lost between two leaders' cycles (docs/sharding.md).
  meta_busy_ = true;
  auto batch = std::make_shared<std::vector<MetaChangeRequest>>(std::move(meta_queue_));
  meta_queue_.clear();
  auto fail_all = [batch](const ShardReply& r) {
    const std::string bytes = Encode(r);
    for (MetaChangeRequest& q : *batch) q.respond(bytes);
  };
  runtime_->ReadOnLoop(
      kMetadataGroupId, std::string(kShardMapKey),
      [this, batch, fail_all](Status s, bool found, std::string value) {
        auto end_cycle = [this] {
          meta_busy_ = false;
          if (!meta_queue_.empty()) RunMetaQueue();
        };
        if (!s.ok()) {
          fail_all(s.IsUnavailable() ? NotLeaderReply(kMetadataGroupId)
                                     : ShardReply::Error("UNAVAILABLE shard map: " + s.ToString()));
          return end_cycle();
        }
        ShardMap map;
        if (found) {
          Result<ShardMap> decoded = ShardMap::Decode(value);
          if (!decoded.ok()) {
            spdlog::error("the metadata group's shard map does not decode: {}",
                          decoded.status().ToString());
            fail_all(ShardReply::Error("ERR shard map: " + decoded.status().ToString()));
            return end_cycle();
          }
          map = std::move(decoded.value());
        } else {
          // The group holds no map: it was founded and nothing was written yet.
          Result<ShardMap> initial = config_.InitialShardMap();
          DKV_ASSERT(initial.ok());  // the config was validated at start
          map = sharding::FoundingMap(std::move(initial.value()));
        }
        bool changed = !found;
        std::vector<std::string> errors(batch->size());
        for (size_t i = 0; i < batch->size(); i++) {
          Result<bool> r = sharding::ApplyMapChange(&map, (*batch)[i].change);
          if (!r.ok()) {
            errors[i] = "ERR " + r.status().ToString();
          } else if (r.value()) {
            changed = true;
          }
        }
        auto answer = [batch, errors](const ShardMap& m) {
          const std::string ok = Encode(Values({m.Encode()}));
          for (size_t i = 0; i < batch->size(); i++) {
            (*batch)[i].respond(errors[i].empty() ? ok : Encode(ShardReply::Error(errors[i])));
          }
        };
        if (!changed) {
          AdoptMap(map, "the metadata group");
          answer(map);
          return end_cycle();
        }
        runtime_->SubmitOnLoop(
            kMetadataGroupId, node::ShardCommand::Put(std::string(kShardMapKey), map.Encode()),
            [this, map, answer, fail_all, end_cycle](Status s) {
              if (s.ok()) {
                AdoptMap(map, "this node's metadata write");
                answer(map);
              } else if (s.IsTimedOut()) {
                fail_all(ShardReply::Error(
                    "UNAVAILABLE shard map update timed out, its outcome is unknown (see "
                    "DKV.SHARDMAP)"));
              } else if (s.IsAborted()) {
                fail_all(Retry());  // certainly not applied: the caller asks again
              } else if (s.IsUnavailable()) {
                fail_all(NotLeaderReply(kMetadataGroupId));
              } else {
                fail_all(ShardReply::Error("ERR shard map update: " + s.ToString()));
              }
              end_cycle();
            });
      });
}

}  // namespace dkv::runtime
