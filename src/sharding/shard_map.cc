#include "sharding/shard_map.h"

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"

namespace dkv::sharding {

namespace {

constexpr std::string_view kWhere = "shard map";

std::string ShardName(ShardId id) { return "shard " + std::to_string(id); }

// Checks a replica set and leader hint; `where` goes into the message.
Status ValidateReplicas(ShardId id, const std::vector<NodeId>& replicas, NodeId leader_hint,
                        bool decoding) {
  auto fail = [&](const std::string& what) {
    const std::string where = std::string(kWhere) + " " + ShardName(id);
    return decoding ? Status::Corruption(where, what) : Status::InvalidArgument(where, what);
  };
  if (replicas.empty() || replicas.size() > kMaxReplicasPerShard) {
    return fail("has " + std::to_string(replicas.size()) + " replicas, want 1.." +
                std::to_string(kMaxReplicasPerShard));
  }
  for (size_t i = 0; i < replicas.size(); i++) {
    if (replicas[i] == kNoNode) return fail("replica node id 0 is reserved");
    for (size_t j = 0; j < i; j++) {
      if (replicas[j] == replicas[i]) {
        return fail("node " + std::to_string(replicas[i]) + " listed twice");
      }
    }
  }
  if (leader_hint != kNoNode &&
      std::find(replicas.begin(), replicas.end(), leader_hint) == replicas.end()) {
    return fail("leader hint " + std::to_string(leader_hint) + " is not a replica");
  }
  return Status::OK();
}

}  // namespace

ShardMap::ShardMap(uint32_t vnodes_per_shard) : vnodes_per_shard_(vnodes_per_shard) {
  DKV_ASSERT(vnodes_per_shard >= 1);
  DKV_ASSERT(vnodes_per_shard <= kMaxVnodesPerShard);
}

const ShardInfo* ShardMap::Find(ShardId id) const {
  auto it = std::lower_bound(shards_.begin(), shards_.end(), id,
                             [](const ShardInfo& s, ShardId v) { return s.id < v; });
  return it != shards_.end() && it->id == id ? &*it : nullptr;
}

ShardInfo* ShardMap::FindMutable(ShardId id) { return const_cast<ShardInfo*>(Find(id)); }

Status ShardMap::AddShard(ShardId id, std::vector<NodeId> replicas) {
  if (Find(id) != nullptr) {
    return Status::InvalidArgument(kWhere, ShardName(id) + " already present");
  }
  if (shards_.size() >= kMaxShards) {
    return Status::ResourceExhausted(
        kWhere, "already " + std::to_string(kMaxShards) + " shards (kMaxShards)");
  }
  DKV_RETURN_IF_ERROR(ValidateReplicas(id, replicas, kNoNode, /*decoding=*/false));
  auto it = std::lower_bound(shards_.begin(), shards_.end(), id,
                             [](const ShardInfo& s, ShardId v) { return s.id < v; });
  shards_.insert(it, ShardInfo{id, std::move(replicas), kNoNode});
  version_++;
  return Status::OK();
}

Status ShardMap::RemoveShard(ShardId id) {
  const ShardInfo* s = Find(id);
  if (s == nullptr) return Status::NotFound(kWhere, ShardName(id) + " not present");
  shards_.erase(shards_.begin() + (s - shards_.data()));
  version_++;
  return Status::OK();
}

Status ShardMap::SetReplicas(ShardId id, std::vector<NodeId> replicas) {
  ShardInfo* s = FindMutable(id);
  if (s == nullptr) return Status::NotFound(kWhere, ShardName(id) + " not present");
  DKV_RETURN_IF_ERROR(ValidateReplicas(id, replicas, kNoNode, /*decoding=*/false));
  if (std::find(replicas.begin(), replicas.end(), s->leader_hint) == replicas.end()) {
    s->leader_hint = kNoNode;
  }
  s->replicas = std::move(replicas);
  version_++;
  return Status::OK();
}

Status ShardMap::SetLeaderHint(ShardId id, NodeId leader) {
  ShardInfo* s = FindMutable(id);
  if (s == nullptr) return Status::NotFound(kWhere, ShardName(id) + " not present");
  DKV_RETURN_IF_ERROR(ValidateReplicas(id, s->replicas, leader, /*decoding=*/false));
  s->leader_hint = leader;
  version_++;
  return Status::OK();
}

HashRing ShardMap::BuildRing() const {
  HashRing ring(vnodes_per_shard_);
  for (const ShardInfo& s : shards_) {
    Status st = ring.AddShard(s.id);
    DKV_ASSERT(st.ok());  // ids are distinct and at most kMaxShards
  }
  return ring;
}

void ShardMap::EncodeTo(std::string* dst) const {
  std::string body;
  PutVarint64(&body, version_);
  PutVarint32(&body, vnodes_per_shard_);
  PutVarint32(&body, static_cast<uint32_t>(shards_.size()));
  for (const ShardInfo& s : shards_) {
    PutVarint32(&body, s.id);
    PutVarint32(&body, static_cast<uint32_t>(s.replicas.size()));
    for (NodeId n : s.replicas) PutVarint64(&body, n);
    PutVarint64(&body, s.leader_hint);
  }
  DKV_ASSERT(body.size() <= kMaxShardMapBodyBytes);
  const size_t start = dst->size();
  dst->append(kShardMapMagic, sizeof(kShardMapMagic));
  dst->push_back(static_cast<char>(kShardMapFormatVersion));
  PutFixed32(dst, static_cast<uint32_t>(body.size()));
  const std::string_view covered(dst->data() + start, 9);
  PutFixed32(dst, Checksum32(covered, body));
  dst->append(body);
  DKV_ASSERT(dst->size() - start == kShardMapHeaderSize + body.size());
}

std::string ShardMap::Encode() const {
  std::string s;
  EncodeTo(&s);
  return s;
}

Result<ShardMap> ShardMap::Decode(std::string_view input) {
  auto corrupt = [](const std::string& what) { return Status::Corruption(kWhere, what); };
  if (input.size() < kShardMapHeaderSize) {
    return corrupt("truncated header: " + std::to_string(input.size()) + " bytes");
  }
  if (std::memcmp(input.data(), kShardMapMagic, sizeof(kShardMapMagic)) != 0) {
    return corrupt("bad magic");
  }
  const uint8_t format = static_cast<uint8_t>(input[4]);
  if (format != kShardMapFormatVersion) {
    return corrupt("unknown format version " + std::to_string(format));
  }
  const uint32_t body_size = DecodeFixed32(input.data() + 5);
  if (body_size > kMaxShardMapBodyBytes) {
    return corrupt("body length " + std::to_string(body_size) + " exceeds the maximum " +
                   std::to_string(kMaxShardMapBodyBytes));
  }
  if (input.size() - kShardMapHeaderSize != body_size) {
    return corrupt("body length " + std::to_string(body_size) + " but " +
                   std::to_string(input.size() - kShardMapHeaderSize) + " bytes follow the header");
  }
  std::string_view body = input.substr(kShardMapHeaderSize);
  const uint32_t stored = DecodeFixed32(input.data() + 9);
  if (Checksum32(input.substr(0, 9), body) != stored) return corrupt("checksum mismatch");

  // From here on the bytes passed the checksum, so a failure means a bug in
  // some writer; still a Status, never a crash.
  uint64_t version = 0;
  uint32_t vnodes = 0;
  uint32_t count = 0;
  if (!GetVarint64(&body, &version) || !GetVarint32(&body, &vnodes) ||
      !GetVarint32(&body, &count)) {
    return corrupt("truncated map header");
  }
  if (vnodes < 1 || vnodes > kMaxVnodesPerShard) {
    return corrupt("vnodes per shard " + std::to_string(vnodes) + " outside 1.." +
                   std::to_string(kMaxVnodesPerShard));
  }
  if (count > kMaxShards) {
    return corrupt(std::to_string(count) + " shards exceed kMaxShards " +
                   std::to_string(kMaxShards));
  }
  ShardMap map(vnodes);
  map.version_ = version;
  map.shards_.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    ShardInfo s;
    uint32_t replica_count = 0;
    if (!GetVarint32(&body, &s.id) || !GetVarint32(&body, &replica_count)) {
      return corrupt("truncated shard entry " + std::to_string(i));
    }
    if (!map.shards_.empty() && s.id <= map.shards_.back().id) {
      return corrupt(ShardName(s.id) + " out of order after " + ShardName(map.shards_.back().id));
    }
    if (replica_count > kMaxReplicasPerShard) {
      return corrupt(ShardName(s.id) + " has " + std::to_string(replica_count) + " replicas");
    }
    s.replicas.resize(replica_count);
    for (NodeId& n : s.replicas) {
      if (!GetVarint64(&body, &n)) return corrupt("truncated replicas of " + ShardName(s.id));
    }
    if (!GetVarint64(&body, &s.leader_hint)) {
      return corrupt("truncated leader hint of " + ShardName(s.id));
    }
    DKV_RETURN_IF_ERROR(ValidateReplicas(s.id, s.replicas, s.leader_hint, /*decoding=*/true));
    map.shards_.push_back(std::move(s));
  }
  if (!body.empty()) {
    return corrupt(std::to_string(body.size()) + " trailing bytes after the last shard");
  }
  return map;
}

}  // namespace dkv::sharding
